// One conformance suite, every server: the same scenarios run against each server with that
// server's own JS client as the peer, ysync in headless Chromium.
//
//   text, map and array converge both ways
//   whenAcknowledged: a fresh peer, which never saw the edit travel, finds it on the server
//   edits made while the server is down reach it after a restart
//   permission denied: a bounded number of attempts, the event, no token in ysync's output
//   presence appears at the peer and leaves
//
// Servers: @y/websocket-server 0.1.1; Hocuspocus 4.7 with one socket per document and with
// several documents multiplexed on one socket; two Hocuspocus instances sharing Redis (ysync
// on A, the peer on B); y-sweet 0.9.1 with auth. Server-specific behaviour (scopes, stateless,
// read-only tokens, failover, detaching) lives in each server's own test file.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isDeepStrictEqual } from 'node:util'
import { createServer } from 'node:http'
import WebSocket, { WebSocketServer } from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider as YWebsocketProvider } from 'y-websocket'
import { HocuspocusProvider as JsHocuspocusProvider } from '@hocuspocus/provider'
import { ySweetPeer as ySweetSdkPeer, ySweetToken } from './ysweet-peer.mjs'
import { browserSuite, docState, freePort, pageDocState, startHocuspocus, startRedis, startYServer, startYSweet, until } from './lib.mjs'

const { cleanups, openPage } = browserSuite()

const newName = (p) => p + '-' + Math.random().toString(36).slice(2)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const SECRET = 'tok-5ecr3t-conformance'

/** Starts something stoppable and stops it after the file's tests. */
async function started (p) {
  const s = await p
  cleanups.push(() => s.stop())
  return s
}

// In the page: a ysync Doc and provider for `args` (made by a target's `pageArgs`), events in
// `window.events`, token fetches counted in `window.tokenCalls`.
function pageJoin (args) {
  const ys = window.ysync
  window.doc = new ys.Doc()
  window.events = []
  window.tokenCalls = 0
  const opts = { ...args.options }
  if (args.tokenFn !== undefined) opts.token = async () => { window.tokenCalls++; return args.tokenFn }
  if (args.kind === 'y-websocket') {
    window.provider = new ys.WebsocketProvider(args.url, args.room, window.doc, { disableBc: true, maxBackoffTime: 300, ...opts })
  } else {
    const base = { name: args.room, document: window.doc, maxDelay: 300, ...opts }
    if (args.multiplexed) {
      // A second document on the same socket, edited too, so frames of both travel together.
      window.ws = new ys.HocuspocusProviderWebsocket({ url: args.url })
      window.companionDoc = new ys.Doc()
      window.companion = new ys.HocuspocusProvider({ websocketProvider: window.ws, name: args.room + '-companion', document: window.companionDoc, token: 'rw' })
      window.companionDoc.getText('note').insert(0, 'companion')
      window.provider = new ys.HocuspocusProvider({ websocketProvider: window.ws, ...base })
    } else {
      window.provider = new ys.HocuspocusProvider({ url: args.url, ...base })
    }
  }
  for (const name of ['status', 'sync', 'synced', 'permission-denied', 'authenticationFailed', 'connection-error']) {
    window.provider.on(name, (e) => window.events.push({ name, status: e?.status, reason: e?.reason ?? (typeof e === 'string' ? e : undefined) }))
  }
}

/** A y-websocket peer (node). */
async function yWebsocketPeer (url, room) {
  const doc = new Y.Doc()
  const provider = new YWebsocketProvider(url, room, doc, { WebSocketPolyfill: WebSocket, disableBc: true })
  cleanups.push(() => { provider.destroy(); doc.destroy() })
  await new Promise((resolve) => provider.once('sync', resolve))
  return { doc, awareness: provider.awareness, leave: () => { provider.awareness.setLocalState(null); provider.destroy() } }
}

/** A @hocuspocus/provider peer (node). */
async function hocuspocusPeer (url, name) {
  const doc = new Y.Doc()
  const provider = new JsHocuspocusProvider({ url, name, document: doc, token: 'rw', WebSocketPolyfill: WebSocket })
  cleanups.push(() => { provider.destroy(); doc.destroy() })
  await new Promise((resolve) => provider.on('synced', resolve))
  return { doc, awareness: provider.awareness, leave: () => { provider.awareness.setLocalState(null); provider.destroy() } }
}

/** A @y-sweet/client peer (node). */
async function ySweetPeer (ys, docId) {
  const { doc, provider, stop } = await ySweetSdkPeer(ys, docId, cleanups)
  await sleep(100)
  return { doc, awareness: provider.awareness, leave: () => { provider.awareness.setLocalState(null); setTimeout(stop, 200) } }
}

/**
 * @y/websocket-server 0.1.1's own connection handler behind the upgrade check its README
 * points to: a request without `?token=rw` is refused with HTTP 401.
 */
async function yWebsocketWithAuth () {
  const { setupWSConnection } = await import('@y/websocket-server/utils')
  const port = await freePort()
  const wss = new WebSocketServer({ noServer: true })
  wss.on('connection', setupWSConnection)
  const urls = []
  const http = createServer((_, res) => res.end('okay'))
  http.on('upgrade', (req, socket, head) => {
    urls.push(req.url)
    if (new URL(req.url, 'http://x').searchParams.get('token') !== 'rw') {
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n')
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req))
  })
  await new Promise((resolve) => http.listen(port, '127.0.0.1', resolve))
  return {
    url: `ws://127.0.0.1:${port}`,
    urls,
    stop: () => new Promise((resolve) => { for (const c of wss.clients) c.terminate(); http.closeAllConnections?.(); http.close(resolve) })
  }
}

/**
 * Each target: `start()` its servers; `pageArgs(ctx, room, token)` for pageJoin; `peer(ctx,
 * room)` with the server's own client; `down(ctx)` and `up(ctx)` stop and restart its servers on
 * the same ports; `denied(room)` the
 * server and page arguments for a refused token, and the refusal's kind: `protocol` (the
 * server says so in the protocol: one attempt, an event) or `upgrade` (the HTTP upgrade is
 * refused: the browser reports it as a failed connection, like an outage, so the provider
 * keeps trying at its backoff's pace).
 */
const hocuspocus = (multiplexed) => ({
  async start () { return { hp: await started(startHocuspocus()) } },
  pageArgs: (ctx, room, token = 'rw') => ({ kind: 'hocuspocus', multiplexed, url: ctx.hp.url, room, tokenFn: token }),
  peer: (ctx, room) => hocuspocusPeer(ctx.hp.url, room),
  down: (ctx) => ctx.hp.stop(),
  async up (ctx) { ctx.hp = await started(startHocuspocus(ctx.hp.port)) },
  async denied (ctx, room) { return { kind: 'protocol', args: this.pageArgs(ctx, room, SECRET) } }
})

const targets = [
  {
    name: '@y/websocket-server 0.1.1',
    async start () { return { ys: await started(startYServer()) } },
    pageArgs: (ctx, room) => ({ kind: 'y-websocket', url: ctx.ys.url, room }),
    peer: (ctx, room) => yWebsocketPeer(ctx.ys.url, room),
    down: (ctx) => ctx.ys.stop(),
    async up (ctx) { ctx.ys = await started(startYServer(ctx.ys.port)) },
    async denied (ctx, room) {
      const auth = await started(yWebsocketWithAuth())
      return { kind: 'upgrade', attempts: () => auth.urls.length, args: { kind: 'y-websocket', url: auth.url, room, tokenFn: SECRET } }
    }
  },
  { name: 'Hocuspocus 4.7', ...hocuspocus(false) },
  { name: 'Hocuspocus 4.7, documents multiplexed on one socket', ...hocuspocus(true) },
  {
    name: 'Hocuspocus 4.7 x2 + Redis (ysync on A, the peer on B)',
    // A peer's leave does not cross instances: the clients on A see it only when the state
    // expires (30 s), @hocuspocus/provider's own clients as well (docs/servers.md).
    leaveMs: 40_000,
    async start () {
      const redis = await started(startRedis())
      const env = (id) => ({ REDIS_PORT: String(redis.port), INSTANCE: id })
      return { env, a: await started(startHocuspocus(undefined, env('A'))), b: await started(startHocuspocus(undefined, env('B'))) }
    },
    pageArgs: (ctx, room, token = 'rw') => ({ kind: 'hocuspocus', url: ctx.a.url, room, tokenFn: token }),
    peer: (ctx, room) => hocuspocusPeer(ctx.b.url, room),
    async down (ctx) { await ctx.a.stop(); await ctx.b.stop() },
    async up (ctx) {
      ctx.a = await started(startHocuspocus(ctx.a.port, ctx.env('A')))
      ctx.b = await started(startHocuspocus(ctx.b.port, ctx.env('B')))
    },
    async denied (ctx, room) { return { kind: 'protocol', args: this.pageArgs(ctx, room, SECRET) } }
  },
  {
    name: 'y-sweet 0.9.1',
    async start () { return { ys: await started(startYSweet()) } },
    async pageArgs (ctx, room) {
      const t = await ySweetToken(ctx.ys, room)
      return { kind: 'y-websocket', url: t.url, room: t.docId, options: { params: { token: t.token } } }
    },
    peer: (ctx, room) => ySweetPeer(ctx.ys, room),
    down: (ctx) => ctx.ys.stop(),
    // Same port, key and store: documents and tokens survive.
    async up (ctx) { ctx.ys = await started(startYSweet({ port: ctx.ys.port, key: ctx.ys.key, store: ctx.ys.store })) },
    async denied (ctx, room) {
      const t = await ySweetToken(ctx.ys, room)
      return { kind: 'upgrade', args: { kind: 'y-websocket', url: t.url, room: t.docId, tokenFn: SECRET } }
    }
  }
]

async function join (target, ctx, room) {
  const { page, log } = await openPage()
  await page.evaluate(pageJoin, await target.pageArgs(ctx, room))
  await page.evaluate(() => window.provider.whenSynced())
  return { page, log }
}

const converged = (page, peer) => async () => isDeepStrictEqual(await pageDocState(page), docState(peer.doc))

for (const target of targets) {
  test(`${target.name}: text, map and array converge both ways`, async () => {
    const ctx = await target.start()
    const room = newName('converge')
    const { page } = await join(target, ctx, room)
    const peer = await target.peer(ctx, room)
    await page.evaluate(() => {
      window.doc.getText('note').insert(0, 'ysync.')
      window.doc.getMap('m').set('by', 'ysync')
      window.doc.getArray('list').push([1, 'two'])
    })
    // All three first: concurrent appends to the list would be ordered by client ID.
    await until(() => isDeepStrictEqual(docState(peer.doc), { note: 'ysync.', m: { by: 'ysync' }, list: [1, 'two'] }), 10_000, 'the peer sees the edits')
    peer.doc.getText('note').insert(0, 'js.')
    peer.doc.getMap('m').set('js', true)
    peer.doc.getArray('list').push([3])
    await until(converged(page, peer), 10_000, 'convergence')
    const s = await pageDocState(page)
    assert.equal(s.note, 'js.ysync.', 'each edit exactly once')
    assert.deepEqual(s.m, { by: 'ysync', js: true })
    assert.deepEqual(s.list, [1, 'two', 3])
    if (await page.evaluate(() => window.companion !== undefined)) {
      // The other document on the socket is its own.
      await page.evaluate(() => window.companion.whenAcknowledged())
      assert.equal(await page.evaluate(() => window.companionDoc.getText('note').toString()), 'companion')
    }
    await page.close()
  })

  test(`${target.name}: whenAcknowledged means a fresh peer finds the edit on the server`, async () => {
    const ctx = await target.start()
    const room = newName('acked')
    const { page } = await join(target, ctx, room)
    await page.evaluate(() => {
      window.doc.getText('note').insert(0, 'acked.')
      window.doc.getArray('list').push(['x'])
    })
    await page.evaluate(() => window.provider.whenAcknowledged())
    assert.equal(await page.evaluate(() => window.provider.unsyncedChanges), 0)
    // The fresh peer never saw the edit travel: the server had it when it joined.
    const fresh = await target.peer(ctx, room)
    await until(() => fresh.doc.getText('note').toString() === 'acked.', 5000, 'the fresh peer has the edit')
    assert.deepEqual(fresh.doc.getArray('list').toJSON(), ['x'])
    await page.close()
  })

  test(`${target.name}: edits made while the server is down reach it after a restart`, async () => {
    const ctx = await target.start()
    const room = newName('restart')
    const { page } = await join(target, ctx, room)
    await page.evaluate(() => window.doc.getText('note').insert(0, 'before.'))
    await page.evaluate(() => window.provider.whenAcknowledged())
    await target.down(ctx)
    await until(() => page.evaluate(() => window.provider.status !== 'connected'), 10_000, 'the page sees the server go')
    const pending = await page.evaluate(() => {
      window.doc.getText('note').insert(7, 'offline.')
      window.doc.getMap('m').set('k', 'v')
      return window.provider.unsyncedChanges
    })
    assert.ok(pending >= 1, `${pending} unacknowledged while the server is down`)
    await target.up(ctx)
    // The provider reconnects by itself. A server that lost everything (no persistence) gets
    // all of it back from the page's sync step 2.
    await page.evaluate(() => window.provider.whenAcknowledged())
    const peer = await target.peer(ctx, room)
    await until(() => peer.doc.getText('note').toString() === 'before.offline.', 10_000, 'the offline edit on the restarted server')
    assert.deepEqual(peer.doc.getMap('m').toJSON(), { k: 'v' })
    await page.close()
  })

  test(`${target.name}: permission denied is bounded, reported, and keeps the token out of ysync's output`, async () => {
    const ctx = await target.start()
    const room = newName('denied')
    const denied = await target.denied(ctx, room)
    const { page, log } = await openPage()
    await page.evaluate(() => window.ysync.setLogLevel('trace'))
    // The default backoff cap (y-websocket's 2.5 s, Hocuspocus's 30 s), not the fast one.
    await page.evaluate(pageJoin, { ...denied.args, options: { ...denied.args.options, maxBackoffTime: 2500, maxDelay: 30000 } })
    const window_ = 4000
    await sleep(window_)
    const events = await page.evaluate(() => window.events)
    const calls = await page.evaluate(() => window.tokenCalls)
    assert.equal(await page.evaluate(() => window.provider.synced ?? window.provider.isSynced), false)
    if (denied.kind === 'protocol') {
      // The server said no in the protocol: one attempt, the event, no reconnect.
      const refusals = events.filter((e) => e.name === 'authenticationFailed' || e.name === 'permission-denied')
      assert.equal(refusals.length, 1, JSON.stringify(events))
      assert.equal(calls, 1, 'one attempt')
      assert.equal(await page.evaluate(() => window.provider.status), 'disconnected')
      assert.ok(!log.some((l) => l.includes(SECRET)), log.join('\n'))
    } else {
      // A refused upgrade reaches the page as a failed connection, as an outage does: the
      // provider keeps trying at its backoff's pace (100 ms doubling, capped), each attempt
      // reported.
      assert.ok(!events.some((e) => e.status === 'connected'), 'never connected')
      assert.ok(calls >= 2 && calls <= 12, `${calls} attempts in ${window_} ms`)
      // Each token fetch is one attempt at the server. Read apart, the two counts can straddle
      // an attempt in flight (its token fetched, its upgrade not yet at the server; a loaded
      // run caught it), so they are compared again until they meet between two attempts.
      if (denied.attempts) {
        let seen
        await until(async () => { seen = [denied.attempts(), await page.evaluate(() => window.tokenCalls)]; return seen[0] === seen[1] }, 3000, 'each token fetch is one attempt at the server').catch((e) => { throw new Error(`${e.message}: ${JSON.stringify(seen)}`) })
      }
      assert.ok(events.filter((e) => e.name === 'connection-error').length >= 2, JSON.stringify(events))
      // ysync never prints the token; the browser's own "WebSocket connection to '...' failed"
      // line quotes the URL, which holds the token when the server reads it from the query.
      const ours = log.filter((l) => l.includes(SECRET) && !l.startsWith('WebSocket connection to'))
      assert.deepEqual(ours, [], log.join('\n'))
    }
    await page.close()
  })

  test(`${target.name}: presence appears at the peer and leaves`, async () => {
    const ctx = await target.start()
    const room = newName('presence')
    const { page } = await join(target, ctx, room)
    const peer = await target.peer(ctx, room)
    const id = await page.evaluate(() => {
      window.provider.awareness.setLocalState({ user: { name: 'ysync' } })
      return window.doc.clientID
    })
    await until(() => peer.awareness.getStates().get(id)?.user?.name === 'ysync', 10_000, 'ysync\'s presence at the peer')
    peer.awareness.setLocalStateField('user', { name: 'js' })
    const jsId = peer.doc.clientID
    await until(() => page.evaluate((jsId) => window.provider.awareness.getStates().get(jsId)?.user?.name === 'js', jsId), 10_000, 'the peer\'s presence at ysync')
    // The peer leaves as its app does on unload: its state cleared, then its provider gone.
    peer.leave()
    await until(() => page.evaluate((jsId) => !window.provider.awareness.getStates().has(jsId), jsId), target.leaveMs ?? 10_000, 'the peer\'s presence gone')
    // A second peer sees ysync's presence, then sees it leave when ysync's provider goes.
    const other = await target.peer(ctx, room)
    await until(() => other.awareness.getStates().get(id)?.user?.name === 'ysync', 10_000, 'ysync\'s presence at a new peer')
    await page.evaluate(() => window.provider.destroy())
    await until(() => !other.awareness.getStates().has(id), target.leaveMs ?? 10_000, 'ysync\'s presence gone after destroy')
    await page.close()
  })
}
