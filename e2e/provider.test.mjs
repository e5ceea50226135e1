// WebsocketProvider behaviour in headless Chromium against a real @y/websocket-server and node
// Yjs peers: convergence, server restarts with offline edits, cross-tab sync with the server
// down, permission denied, awareness, and hostile frames.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isDeepStrictEqual } from 'node:util'
import { WebSocketServer, WebSocket } from 'ws'
import { browserSuite, startYServer, yjsPeer, until, freePort } from './lib.mjs'
import * as Y from 'yjs'
import * as awarenessProtocol from 'y-protocols/awareness'

const suite = browserSuite()
const { cleanups, openPage } = suite

const newRoom = (p) => p + '-' + Math.random().toString(36).slice(2)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** A page with the package loaded; `context` shares BroadcastChannel between its pages. */

/** Creates doc + provider in the page; options are plain JSON plus `tokenValue`. */
async function join (page, url, room, options = {}) {
  await page.evaluate(({ url, room, options }) => {
    const { Doc, WebsocketProvider } = window.ysync
    const opts = { ...options }
    if (opts.tokenValue) {
      const v = opts.tokenValue
      delete opts.tokenValue
      opts.token = async () => v
    }
    window.doc = new Doc()
    window.provider = new WebsocketProvider(url, room, window.doc, opts)
    window.events = []
    // Who applied each update, as the `update` listener sees the origin.
    window.origins = []
    window.doc.on('update', (u, origin) => window.origins.push(origin === window.provider.origin ? 'provider' : origin === null ? 'local' : 'other'))
    for (const name of ['status', 'sync', 'permission-denied', 'error', 'connection-close']) {
      window.provider.on(name, (e) => window.events.push({ name, code: e?.code, status: e?.status, reason: e?.reason, value: typeof e === 'boolean' ? e : undefined }))
    }
  }, { url, room, options })
}

const state = (page) => page.evaluate(() => ({
  note: window.doc.getText('note').toString(),
  m: window.doc.getMap('m').toJSON(),
  list: window.doc.getArray('list').toJSON()
}))
const peerState = (peer) => ({
  note: peer.doc.getText('note').toString(),
  m: peer.doc.getMap('m').toJSON(),
  list: peer.doc.getArray('list').toJSON()
})
const same = (a, b) => isDeepStrictEqual(a, b)

async function server (port) {
  const s = await startYServer(port)
  cleanups.push(() => s.stop())
  return s
}
function peer (url, room) {
  const p = yjsPeer(url, room)
  cleanups.push(() => p.destroy())
  return p
}

/** Two ysync pages (separate browser contexts) and a Yjs peer, all synced in `room`. */
async function threeParties (url, room) {
  const a = await openPage()
  const b = await openPage()
  const js = peer(url, room)
  await join(a.page, url, room)
  await join(b.page, url, room)
  await js.synced
  await a.page.evaluate(() => window.provider.whenSynced())
  await b.page.evaluate(() => window.provider.whenSynced())
  return { a, b, js }
}

test('two ysync clients and a Yjs peer converge on concurrent text, map and array edits', async () => {
  const srv = await server()
  const room = newRoom('three')
  const { a, b, js } = await threeParties(srv.url, room)
  for (let i = 0; i < 20; i++) {
    await a.page.evaluate((i) => { window.doc.getText('note').insert(0, 'a' + i + ' '); window.doc.getMap('m').set('a', i) }, i)
    await b.page.evaluate((i) => { window.doc.getArray('list').push(['b' + i]); window.doc.getMap('m').set('b' + (i % 3), { i }) }, i)
    js.doc.transact(() => { js.doc.getText('note').insert(js.doc.getText('note').length, ' y' + i); js.doc.getArray('list').insert(0, [i]) })
  }
  await until(async () => {
    const [sa, sb] = [await state(a.page), await state(b.page)]
    return same(sa, sb) && same(sa, peerState(js))
  }, 10_000, 'convergence')
  const s = await state(a.page)
  // Updates from the server carry `provider.origin`; the page's own edits have none.
  const origins = new Set(await a.page.evaluate(() => window.origins))
  assert.deepEqual([...origins].sort(), ['local', 'provider'])
  assert.ok(await a.page.evaluate(() => window.provider.awareness === window.provider.awareness), 'one awareness object')
  assert.equal(s.list.length, 40)
  assert.equal(s.m.a, 19)
  assert.match(s.note, /a19 .* y19$/)
})

test('server killed and restarted while both sides edit offline: nothing is lost, acknowledgement waits for the server', async () => {
  const port = await freePort()
  let srv = await startYServer(port)
  const room = newRoom('restart')
  const { a, b, js } = await threeParties(srv.url, room)
  await a.page.evaluate(() => window.doc.getText('note').insert(0, 'online. '))
  await until(() => js.doc.getText('note').toString() === 'online. ', 5000, 'first edit')

  await srv.stop() // SIGKILL: no close handshake, the room's state is gone with the process
  await until(() => a.page.evaluate(() => window.provider.status !== 'connected'), 5000, 'a notices')
  await a.page.evaluate(() => {
    window.doc.getText('note').insert(8, 'offline-a. ')
    window.doc.getMap('m').set('a', 'offline')
    window.ackDone = false
    window.provider.whenAcknowledged().then(() => { window.ackDone = true })
  })
  await b.page.evaluate(() => window.doc.getArray('list').push(['offline-b']))
  js.doc.getText('note').insert(0, 'offline-yjs. ')
  assert.equal(await a.page.evaluate(() => window.provider.hasUnsyncedChanges), true)
  await sleep(500)
  assert.equal(await a.page.evaluate(() => window.ackDone), false, 'no acknowledgement while the server is down')

  srv = await startYServer(port)
  cleanups.push(() => srv.stop())
  await until(async () => {
    const [sa, sb] = [await state(a.page), await state(b.page)]
    return same(sa, sb) && same(sa, peerState(js))
  }, 20_000, 'convergence after the restart')
  await until(() => a.page.evaluate(() => window.ackDone), 10_000, 'whenAcknowledged')
  await until(async () => !(await a.page.evaluate(() => window.provider.hasUnsyncedChanges)) &&
    !(await b.page.evaluate(() => window.provider.hasUnsyncedChanges)), 10_000, 'hasUnsyncedChanges back to false')
  // The restarted server really holds everything: ask it with a fresh Yjs peer.
  const fresh = peer(srv.url, room)
  await fresh.synced
  const f = peerState(fresh)
  for (const piece of ['online. ', 'offline-a. ', 'offline-yjs. ']) assert.ok(f.note.includes(piece), piece)
  assert.equal(f.m.a, 'offline')
  assert.deepEqual(f.list, ['offline-b'])
})

test('tabs of one browser stay in sync over BroadcastChannel while the server is down', async () => {
  const srv = await server()
  const room = newRoom('tabs')
  const a = await openPage()
  const b = await openPage(a.context)
  await join(a.page, srv.url, room)
  await join(b.page, srv.url, room)
  await a.page.evaluate(() => window.provider.whenSynced())
  await b.page.evaluate(() => window.provider.whenSynced())
  await srv.stop()
  await until(() => b.page.evaluate(() => window.provider.status !== 'connected'), 5000, 'disconnect')
  await a.page.evaluate(() => {
    window.doc.getText('note').insert(0, 'tab A, server down')
    window.provider.awareness.setLocalState({ user: { name: 'Tab A' } })
  })
  await until(() => b.page.evaluate(() => window.doc.getText('note').toString() === 'tab A, server down'), 5000, 'tab B to see tab A')
  const presence = () => b.page.evaluate(() => [...window.provider.awareness.getStates().values()].map((s) => s.user?.name).filter(Boolean))
  const names = await until(() => presence().then((n) => n.length > 0 && n), 5000, 'presence across tabs')
  assert.deepEqual(names, ['Tab A'])
  // Tab B keeps trying the server; its failed attempts must not wipe the presence tab A gave it.
  const attempts = await b.page.evaluate(() => window.provider.stats().connects)
  await until(() => b.page.evaluate((n) => window.provider.stats().connects >= n + 2, attempts), 15000, 'two more attempts')
  assert.deepEqual(await presence(), ['Tab A'])
})

test('permission denied: one attempt, an event with the reason, and the token never in the console', async () => {
  const port = await freePort()
  const urls = []
  const wss = new WebSocketServer({ host: '127.0.0.1', port })
  cleanups.push(() => new Promise((r) => { for (const c of wss.clients) c.terminate(); wss.close(r) }))
  const reason = 'room is private'
  wss.on('connection', (ws, req) => {
    urls.push(req.url)
    const r = Buffer.from(reason)
    ws.send(Buffer.concat([Buffer.from([2, 0, r.length]), r]))
  })
  const a = await openPage()
  await join(a.page, `ws://127.0.0.1:${port}`, 'secret-room', { tokenValue: 'tok-5ecr3t-xyz', params: { v: '1' } })
  await until(() => a.page.evaluate(() => window.events.some((e) => e.name === 'permission-denied')), 5000, 'permission-denied')
  await sleep(3000)
  const events = await a.page.evaluate(() => window.events)
  assert.equal(urls.length, 1, 'a bounded number of attempts: exactly one')
  assert.equal(urls[0], '/secret-room?v=1&token=tok-5ecr3t-xyz', 'the token travels as a query parameter')
  assert.equal(events.find((e) => e.name === 'permission-denied').reason, reason)
  assert.equal(await a.page.evaluate(() => window.provider.status), 'disconnected')
  assert.ok(!a.log.some((l) => l.includes('tok-5ecr3t-xyz')), 'token absent from console output')
})

test("tokenIn: 'protocol' carries the token in Sec-WebSocket-Protocol, never in the URL or the console", async () => {
  const { setupWSConnection, docs } = await import('@y/websocket-server/utils')
  const { createServer } = await import('node:http')
  const port = await freePort()
  const seen = []
  const wss = new WebSocketServer({ noServer: true })
  const http = createServer()
  http.on('upgrade', (req, socket, head) => {
    const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim())
    seen.push({ url: req.url, offered })
    // The auth check a server makes: refuse unless the token is offered.
    if (!offered.includes('tok-5ecr3t.xyz')) {
      socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n')
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => setupWSConnection(ws, req))
  })
  await new Promise((r) => http.listen(port, '127.0.0.1', r))
  // The in-process server's documents keep awareness timers alive until destroyed.
  const stop = () => new Promise((r) => {
    for (const c of wss.clients) c.terminate()
    for (const d of docs.values()) d.destroy()
    docs.clear()
    http.close(() => r())
  })
  cleanups.push(stop)
  const room = newRoom('proto-token')
  const a = await openPage()
  await join(a.page, `ws://127.0.0.1:${port}`, room, { tokenValue: 'tok-5ecr3t.xyz', tokenIn: 'protocol', protocols: ['yjs'], params: { v: '1' } })
  await a.page.evaluate(async () => {
    await window.provider.whenSynced()
    window.doc.getText('t').insert(0, 'authorized')
    await window.provider.whenAcknowledged()
  })
  assert.equal(seen[0].url, `/${room}?v=1`, 'no token in the URL')
  assert.deepEqual(seen[0].offered, ['yjs', 'tok-5ecr3t.xyz'])
  assert.equal(docs.get(room)?.getText('t').toString(), 'authorized', 'the server has the edit')
  // Failed attempts (server gone) print their URL in Chromium's console: still no token.
  await stop()
  await until(() => a.page.evaluate(() => window.events.filter((e) => e.name === 'status' && e.status === 'disconnected').length >= 1), 5000, 'disconnected')
  await sleep(1500)
  assert.ok(a.log.some((l) => l.includes(`127.0.0.1:${port}`)), 'the browser logged the failed connection')
  assert.ok(!a.log.some((l) => l.includes('5ecr3t')), 'token absent from console output')
  // A token that cannot be a subprotocol is refused without being echoed.
  await a.page.evaluate(() => window.provider.destroy())
  const msg = await a.page.evaluate(({ url, room }) => new Promise((resolve) => {
    const { Doc, WebsocketProvider } = window.ysync
    const p = new WebsocketProvider(url, room, new Doc(), { token: async () => 'has space 5ecr3t', tokenIn: 'protocol' })
    p.on('connection-error', (e) => { resolve(`${e?.name} ${e?.code}: ${e?.message}`); p.destroy() })
    setTimeout(() => { resolve(null); p.destroy() }, 5000)
  }), { url: `ws://127.0.0.1:${port}`, room })
  assert.match(String(msg), /not a valid WebSocket subprotocol/)
  assert.ok(!msg.includes('5ecr3t'), msg)
  assert.ok(!a.log.some((l) => l.includes('5ecr3t')), 'token absent from console output')
})

test('awareness starts as y-protocols\' does ({} at clock 0: setLocalStateField works first, peers see no presence until a state is set) and has its doc, states, meta and destroy; root types are one object each', async () => {
  const srv = await server()
  const room = newRoom('aw0')
  const a = await openPage()
  const js = peer(srv.url, room)
  await js.synced
  // What y-protocols' own Awareness holds before anything is set, for comparison.
  const ref = new awarenessProtocol.Awareness(new Y.Doc())
  const start = await a.page.evaluate(async ({ url, room }) => {
    const { Doc, WebsocketProvider } = window.ysync
    window.doc = new Doc()
    window.provider = new WebsocketProvider(url, room, window.doc, { disableBc: true })
    await window.provider.whenSynced()
    const aw = window.provider.awareness
    return { local: aw.getLocalState(), states: [...aw.getStates()], me: aw.clientID }
  }, { url: srv.url, room })
  assert.deepEqual(start.local, ref.getLocalState())
  assert.deepEqual(start.states, [[start.me, {}]], 'getStates() has our own {} as in y-protocols')
  ref.destroy()
  // Our clock-0 {} went out on connect; the Yjs peer, like y-protocols, does not count it.
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.ok(!js.provider.awareness.getStates().has(start.me), 'no presence before a state is set')
  // The first call an editor binding makes (y-prosemirror, y-codemirror): one field.
  await a.page.evaluate(() => window.provider.awareness.setLocalStateField('user', { name: 'first' }))
  await until(() => js.provider.awareness.getStates().get(start.me)?.user?.name === 'first', 5000, 'the field at the Yjs peer')
  assert.deepEqual(await a.page.evaluate(() => window.provider.awareness.getLocalState()), { user: { name: 'first' } })
  // What editor bindings read besides: doc, states, meta, one Map across calls (refilled when
  // presence moves), a destroy event; and one wrapper per root type.
  js.provider.awareness.setLocalState({ user: { name: 'peer' } })
  await until(() => a.page.evaluate((id) => window.provider.awareness.getStates().has(id), js.doc.clientID), 5000, 'the peer in the page')
  const shape = await a.page.evaluate(() => {
    const aw = window.provider.awareness
    const m1 = aw.getStates()
    const same = m1 === aw.getStates() && m1 === aw.states
    const meta = aw.meta.get(aw.clientID)
    window.destroyed = []
    aw.on('destroy', (x) => window.destroyed.push(x === aw))
    aw.setLocalStateField('user', { name: 'second' })
    return {
      same,
      refilled: m1 === aw.getStates() && m1.get(aw.clientID).user.name === 'second',
      docId: aw.doc.clientID === window.doc.clientID,
      sameDoc: aw.doc === aw.doc,
      clock: meta.clock,
      lastUpdatedAgoMs: Date.now() - meta.lastUpdated,
      roots: window.doc.getText('t') === window.doc.getText('t') && window.doc.getMap('m') === window.doc.getMap('m') &&
        window.doc.getArray('a') === window.doc.getArray('a') && window.doc.getXmlFragment('x') === window.doc.getXmlFragment('x')
    }
  })
  assert.deepEqual({ ...shape, lastUpdatedAgoMs: undefined }, { same: true, refilled: true, docId: true, sameDoc: true, clock: 1, lastUpdatedAgoMs: undefined, roots: true })
  assert.ok(shape.lastUpdatedAgoMs >= 0 && shape.lastUpdatedAgoMs < 5000, `meta.lastUpdated is Date.now() time (${shape.lastUpdatedAgoMs} ms ago)`)
  await a.page.evaluate(() => window.provider.destroy())
  assert.deepEqual(await a.page.evaluate(() => window.destroyed), [true], 'awareness destroy event, with the awareness')
  await until(() => !js.provider.awareness.getStates().has(start.me), 5000, 'gone on destroy')
})

test('awareness appears, changes, disappears on leave, and expires when not renewed', async () => {
  const srv = await server()
  const room = newRoom('aw')
  const a = await openPage()
  const js = peer(srv.url, room)
  await js.synced
  await join(a.page, srv.url, room, { awarenessTimeout: 2000 })
  await a.page.evaluate(() => window.provider.whenSynced())
  const me = await a.page.evaluate(() => {
    window.changes = []
    window.provider.awareness.on('change', (c, origin) => window.changes.push({ ...c, origin }))
    window.provider.awareness.setLocalState({ user: { name: 'Ada 🦀', color: '#30bced' } })
    return window.provider.awareness.clientID
  })
  await until(() => js.provider.awareness.getStates().get(me)?.user?.name === 'Ada 🦀', 5000, 'state at the Yjs peer')
  await a.page.evaluate(() => window.provider.awareness.setLocalStateField('user', { name: 'Ada L.' }))
  await until(() => js.provider.awareness.getStates().get(me)?.user?.name === 'Ada L.', 5000, 'changed state at the Yjs peer')
  js.provider.awareness.setLocalState({ user: { name: 'Yjs peer' } })
  const peerId = js.doc.clientID
  await until(() => a.page.evaluate((id) => window.provider.awareness.getStates().get(id)?.user?.name === 'Yjs peer', peerId), 5000, 'peer state in the page')
  // y-websocket's origins: the provider for what its connection brings ('local' for ours).
  assert.ok(await a.page.evaluate((id) => window.changes.some((c) => c.added.includes(id) && c.origin === window.provider.origin), peerId))
  assert.ok(await a.page.evaluate((me) => window.changes.some((c) => c.updated.includes(me) && c.origin === 'local'), me))

  // A client that says hello once and then stays silent expires after the timeout.
  const ghost = new WebSocket(`${srv.url}/${room}`)
  cleanups.push(() => ghost.terminate())
  await new Promise((r) => ghost.on('open', r))
  const json = Buffer.from('{"user":{"name":"ghost"}}')
  ghost.send(Buffer.concat([Buffer.from([1, json.length + 5, 1, 0xc2, 0x21, 1, json.length]), json]))
  await until(() => a.page.evaluate(() => window.provider.awareness.getStates().has(4290)), 5000, 'ghost appears')
  await until(() => a.page.evaluate(() => !window.provider.awareness.getStates().has(4290)), 6000, 'ghost expires')
  assert.ok(await a.page.evaluate(() => window.changes.some((c) => c.removed.includes(4290) && c.origin === 'timeout')), "an expiry's origin is 'timeout', as y-protocols'")
  // The Yjs peer renews every 15 s, so with a 2 s timeout it comes and goes; our own renewals
  // (every 1 s) keep us visible at the peer.
  assert.equal(js.provider.awareness.getStates().get(me)?.user?.name, 'Ada L.')

  await a.page.evaluate(() => window.provider.destroy())
  await until(() => !js.provider.awareness.getStates().has(me), 5000, 'state removed on leave')

  // pagehide sends the leave message while the socket is still open.
  const b = await openPage()
  await join(b.page, srv.url, room)
  await b.page.evaluate(() => window.provider.whenSynced())
  const bId = await b.page.evaluate(() => { window.provider.awareness.setLocalState({ user: { name: 'B' } }); return window.provider.awareness.clientID })
  await until(() => js.provider.awareness.getStates().get(bId)?.user?.name === 'B', 5000, 'B present')
  await b.page.evaluate(() => window.dispatchEvent(new Event('pagehide')))
  await until(() => !js.provider.awareness.getStates().has(bId), 5000, 'B gone after pagehide')
  assert.equal(await b.page.evaluate(() => window.provider.status), 'connected')
})

test('oversized and malformed frames: typed error events, document untouched, the provider reconnects and keeps working', async () => {
  const srv = await server()
  const room = newRoom('hostile')
  const port = await freePort()
  // Connection 1 gets a frame that traps yrs on wasm32, connection 2 an oversized frame; later
  // connections are piped to the real server.
  let n = 0
  const wss = new WebSocketServer({ host: '127.0.0.1', port })
  cleanups.push(() => new Promise((r) => { for (const c of wss.clients) c.terminate(); wss.close(r) }))
  wss.on('connection', (ws, req) => {
    n++
    if (n === 1) { ws.send(Buffer.from([0, 2, 14, 1, 1, 1, 0, 4, 1, 1, 116, 0xff, 0xff, 0xff, 0xff, 0x0f, 0])); return }
    if (n === 2) { ws.send(Buffer.alloc(5000, 3)); return }
    const up = new WebSocket(srv.url + req.url)
    const queue = []
    up.on('open', () => { for (const m of queue) up.send(m); queue.length = 0 })
    up.on('message', (m) => ws.readyState === 1 && ws.send(m))
    ws.on('message', (m) => up.readyState === 1 ? up.send(m) : queue.push(m))
    ws.on('close', () => up.close())
    up.on('close', () => ws.close())
  })
  const a = await openPage()
  await join(a.page, `ws://127.0.0.1:${port}`, room, { maxMessageSize: 4096 })
  await a.page.evaluate(() => window.doc.getText('note').insert(0, 'kept'))
  await a.page.evaluate(() => window.provider.whenSynced())
  const codes = (await a.page.evaluate(() => window.events)).filter((e) => e.name === 'error').map((e) => e.code)
  assert.deepEqual(codes.slice(0, 2), ['MALFORMED_FRAME', 'FRAME_TOO_LARGE'])
  assert.equal(await a.page.evaluate(() => window.doc.getText('note').toString()), 'kept')
  const js = peer(srv.url, room)
  await js.synced
  await until(() => js.doc.getText('note').toString() === 'kept', 5000, 'edits flow after the hostile frames')
  assert.equal(n, 3)
  assert.ok(!a.log.some((l) => l.startsWith('pageerror')), a.log.join('\n'))
})

test('no attempts while the browser is offline; the online event reconnects at once', async () => {
  const port = await freePort() // nothing listens here until the server starts below
  const room = newRoom('online')
  const a = await openPage()
  await join(a.page, `ws://127.0.0.1:${port}`, room, { maxBackoffTime: 30000 })
  const closes = () => a.page.evaluate(() => window.events.filter((e) => e.name === 'connection-close').length)
  await until(async () => (await closes()) >= 6, 15_000, 'a few failed attempts')
  await a.context.setOffline(true)
  await sleep(300)
  const offlineCount = await closes()
  await sleep(3000)
  assert.equal(await closes(), offlineCount, 'no attempts while navigator.onLine is false')
  const srv = await startYServer(port)
  cleanups.push(() => srv.stop())
  const t0 = Date.now()
  await a.context.setOffline(false)
  await a.page.evaluate(() => window.provider.whenSynced())
  assert.ok(Date.now() - t0 < 2000, 'reconnected at once, not after the backoff delay')
})

test('a silent server is detected by the heartbeat probe and the provider reconnects', async () => {
  const port = await freePort()
  let connections = 0
  const wss = new WebSocketServer({ host: '127.0.0.1', port })
  cleanups.push(() => new Promise((r) => { for (const c of wss.clients) c.terminate(); wss.close(r) }))
  // Accepts and never answers: a dead server behind an open socket (no close ever arrives).
  wss.on('connection', () => { connections++ })
  const a = await openPage()
  await join(a.page, `ws://127.0.0.1:${port}`, newRoom('dead'), { heartbeatInterval: 300, heartbeatTimeout: 700 })
  await until(() => connections >= 2, 10_000, 'a reconnect after the probe timed out')
  const codes = (await a.page.evaluate(() => window.events)).filter((e) => e.name === 'error').map((e) => e.code)
  assert.ok(codes.includes('TIMEOUT'), codes.join())
})

test('a long-hidden page that becomes visible reconnects at once', async () => {
  const port = await freePort()
  const a = await openPage()
  await join(a.page, `ws://127.0.0.1:${port}`, newRoom('hidden'), { maxBackoffTime: 60000 })
  await a.page.evaluate(() => {
    window.hidden = false
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => window.hidden })
    window.hidden = true
    document.dispatchEvent(new Event('visibilitychange'))
  })
  // Hidden for more than 10 s while every attempt fails and the backoff grows.
  await sleep(10_500)
  const srv = await startYServer(port)
  cleanups.push(() => srv.stop())
  const t0 = Date.now()
  await a.page.evaluate(() => { window.hidden = false; document.dispatchEvent(new Event('visibilitychange')) })
  await a.page.evaluate(() => window.provider.whenSynced())
  assert.ok(Date.now() - t0 < 2000, 'reconnected at once')
})

test('a provider and a persistence the app keeps no reference to keep working after garbage collection, until destroy()', async () => {
  const server = await startYServer()
  cleanups.push(() => server.stop())
  const room = newRoom('unreferenced')
  const peer = yjsPeer(server.url, room)
  cleanups.push(() => peer.destroy())
  await peer.synced
  const { page, context } = await openPage()
  const cdp = await context.newCDPSession(page)
  // As Yjs apps often write it: `new WebsocketProvider(...)` and `new IndexeddbPersistence(...)`
  // with the results thrown away; only the document is kept.
  await page.evaluate(({ url, room }) => {
    const { Doc, WebsocketProvider, IndexeddbPersistence } = window.ysync
    window.doc = new Doc()
    new WebsocketProvider(url, room, window.doc, {}) // eslint-disable-line no-new
    new IndexeddbPersistence(room, window.doc) // eslint-disable-line no-new
    window.doc.getText('note').insert(0, 'before')
  }, { url: server.url, room })
  await until(() => peer.doc.getText('note').toString() === 'before', 10_000, 'the first edit')
  await page.evaluate(() => window.doc.getText('note').delete(0, 6))
  for (let i = 0; i < 3; i++) {
    await cdp.send('HeapProfiler.collectGarbage')
    await sleep(200) // finalizers run in a later task
  }
  await page.evaluate(() => window.doc.getText('note').insert(0, 'after gc'))
  await until(() => peer.doc.getText('note').toString() === 'after gc', 10_000, 'the edit to reach the server after GC')
  peer.doc.getText('note').insert(8, '!')
  await until(() => page.evaluate(() => window.doc.getText('note').toString() === 'after gc!'), 10_000, 'a remote edit to arrive after GC')
  // The persistence kept writing: a fresh document in a new page of the same context loads it.
  await sleep(500)
  const second = await context.newPage()
  await second.goto(`${suite.web.url}/e2e/pages/interop.html`)
  await second.waitForFunction(() => window.ysyncReady === true)
  const stored = await second.evaluate(async (room) => {
    const doc = new window.ysync.Doc()
    const p = new window.ysync.IndexeddbPersistence(room, doc)
    await p.whenSynced()
    const s = doc.getText('note').toString()
    await p.destroy()
    return s
  }, room)
  assert.equal(stored, 'after gc!')
  await context.close()
})

test('ackInterval: a burst of edits shares acknowledgement probes; the last ones are acknowledged when the window ends', async () => {
  const server = await startYServer()
  cleanups.push(() => server.stop())
  const { page, context } = await openPage()
  await join(page, server.url, newRoom('ack-interval'), { ackInterval: 2000 })
  await page.waitForFunction(() => window.provider.synced)
  const r = await page.evaluate(async () => {
    const probes = () => window.provider.stats().sent.byType.syncStep1.messages
    const p0 = probes()
    const text = window.doc.getText('note')
    text.insert(0, 'a') // after a quiet spell: probed at once
    await window.provider.whenAcknowledged()
    const p1 = probes()
    for (let i = 0; i < 10; i++) { text.insert(1 + i, 'x'); await new Promise((resolve) => setTimeout(resolve, 20)) }
    await new Promise((resolve) => setTimeout(resolve, 300))
    const waiting = window.provider.unsyncedChanges
    const t0 = performance.now()
    await window.provider.whenAcknowledged()
    return { first: p1 - p0, burst: probes() - p1, waiting, waitedMs: performance.now() - t0 }
  })
  assert.equal(r.first, 1, 'the first edit is probed at once')
  assert.ok(r.waiting > 0, 'edits of the burst wait for the window')
  assert.equal(r.burst, 1, 'one probe for the whole burst')
  assert.ok(r.waitedMs > 500 && r.waitedMs < 3000, `acknowledged when the window ended (${r.waitedMs} ms)`)

  await context.close()
})
