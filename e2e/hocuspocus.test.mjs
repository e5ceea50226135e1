// What is Hocuspocus's own, in headless Chromium against a real @hocuspocus/server 4.7 with
// @hocuspocus/provider 4.8 in node as the peer: the scope and the sync-status acknowledgements,
// a read-only scope, application (stateless) messages, failover between two instances sharing
// Redis behind a load balancer, and several documents on one socket. The scenarios every
// server shares (convergence, restart, refusal, presence) are in conformance.test.mjs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isDeepStrictEqual } from 'node:util'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { HocuspocusProvider as JsProvider } from '@hocuspocus/provider'
import { browserSuite, docState, pageDocState, startHocuspocus, startRedis, until } from './lib.mjs'
import { balancer } from './balancer.mjs'

const { cleanups, openPage } = browserSuite()

const newName = (p) => p + '-' + Math.random().toString(36).slice(2)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function server (port, env) {
  const s = await startHocuspocus(port, env)
  cleanups.push(() => s.stop())
  return s
}

/** A node peer on @hocuspocus/provider, synced. */
async function jsPeer (url, name, token = 'rw') {
  const doc = new Y.Doc()
  const provider = new JsProvider({ url, name, document: doc, token, WebSocketPolyfill: WebSocket })
  cleanups.push(() => { provider.destroy(); doc.destroy() })
  await new Promise((resolve) => provider.on('synced', resolve))
  return { doc, provider }
}

/** A page with a ysync Doc and a HocuspocusProvider; its events are recorded in `window.events`. */
async function join (url, name, options = {}, page) {
  page = page ?? (await openPage()).page
  await page.evaluate(({ url, name, options }) => {
    const { Doc, HocuspocusProvider } = window.ysync
    window.doc = new Doc()
    const opts = { ...options }
    // A function token (options cross into the page as JSON).
    if (opts.tokenFn) {
      const v = opts.tokenFn
      delete opts.tokenFn
      opts.token = async () => v
    }
    // Listeners first, then connect: the first `status` is emitted while connecting.
    window.provider = new HocuspocusProvider({ url, name, document: window.doc, maxDelay: 300, ...opts, connect: false })
    window.events = []
    for (const event of ['status', 'synced', 'authenticated', 'authenticationFailed', 'unsyncedChanges', 'stateless', 'close', 'disconnect', 'error', 'awarenessChange', 'destroy']) {
      window.provider.on(event, (e) => window.events.push({ ...(e ?? {}), name: event, error: e instanceof Error ? { name: e.name, code: e.code } : undefined, states: e?.states?.map((s) => s.clientId) }))
    }
    if (options.connect !== false) window.provider.connect()
  }, { url, name, options })
  return page
}

const events = (page, name) => page.evaluate((name) => window.events.filter((e) => e.name === name), name)

test('authenticated with its scope; the sync status is the acknowledgement behind unsyncedChanges, whenAcknowledged and the stats', async () => {
  const hp = await server()
  const name = newName('converge')
  const page = await join(hp.url, name, { token: 'rw' })
  const peer = await jsPeer(hp.url, name)
  await page.evaluate(() => window.provider.whenSynced())
  assert.deepEqual((await events(page, 'authenticated')).map((e) => e.scope), ['read-write'])
  assert.equal(await page.evaluate(() => window.provider.authorizedScope), 'read-write')
  assert.equal(await page.evaluate(() => window.provider.isAuthenticated), true)

  await page.evaluate(() => {
    window.doc.getText('note').insert(0, 'from ysync ')
    window.doc.getMap('m').set('by', 'ysync')
    window.doc.getArray('list').push([1, 'two'])
  })
  peer.doc.getText('note').insert(0, 'from js ')
  peer.doc.getMap('m').set('js', true)
  peer.doc.getArray('list').push([3])
  await until(async () => isDeepStrictEqual(await pageDocState(page), docState(peer.doc)), 10_000, 'convergence')
  const s = await pageDocState(page)
  assert.match(s.note, /from ysync/)
  assert.match(s.note, /from js/)
  assert.deepEqual(s.m, { by: 'ysync', js: true })

  // The sync status is the acknowledgement: once whenAcknowledged resolves, a peer that joins
  // now (and never saw the update travel) finds it on the server.
  const pending = await page.evaluate(() => {
    window.doc.getText('note').insert(0, 'acked ')
    return window.provider.unsyncedChanges
  })
  assert.ok(pending >= 1, `${pending} unsynced right after the edit`)
  await page.evaluate(() => window.provider.whenAcknowledged())
  assert.equal(await page.evaluate(() => window.provider.unsyncedChanges), 0)
  const fresh = await jsPeer(hp.url, name)
  assert.match(fresh.doc.getText('note').toString(), /^acked /)
  const counts = (await events(page, 'unsyncedChanges')).map((e) => e.number)
  assert.equal(counts.at(-1), 0)
  // No probe per edit on this dialect: the stats count sync statuses received.
  const stats = await page.evaluate(() => window.provider.stats())
  assert.ok(stats.received.byType.syncStatus.messages >= 2, JSON.stringify(stats.received.byType))
  await page.evaluate(() => window.provider.destroy())
  assert.equal((await events(page, 'destroy')).length, 1)
  await page.close()
})

test('a read-only scope: edits are reported NOT_APPLIED, never acknowledged, and stay off the server', async () => {
  const hp = await server()
  const name = newName('readonly')
  const writer = await jsPeer(hp.url, name)
  writer.doc.getText('note').insert(0, 'server text')
  await until(() => writer.provider.unsyncedChanges === 0, 5000, 'writer acknowledged')
  const page = await join(hp.url, name, { token: 'ro' })
  await page.evaluate(() => window.provider.whenSynced())
  assert.equal(await page.evaluate(() => window.provider.authorizedScope), 'readonly')
  assert.equal((await pageDocState(page)).note, 'server text')
  const acked = await page.evaluate(async () => {
    window.doc.getText('note').insert(0, 'mine ')
    const acked = window.provider.whenAcknowledged().then(() => true)
    return Promise.race([acked, new Promise((r) => setTimeout(() => r(false), 1500))])
  })
  assert.equal(acked, false, 'never acknowledged')
  const errors = await events(page, 'error')
  assert.ok(errors.some((e) => e.error?.code === 'NOT_APPLIED'), JSON.stringify(errors))
  assert.ok(await page.evaluate(() => window.provider.unsyncedChanges) >= 1)
  const fresh = await jsPeer(hp.url, name)
  assert.equal(fresh.doc.getText('note').toString(), 'server text')
  await page.close()
})

test('stateless messages reach the server and its answers reach the page', async () => {
  const hp = await server()
  const name = newName('stateless')
  const page = await join(hp.url, name, { token: 'rw' })
  await page.evaluate(() => window.provider.whenSynced())
  await page.evaluate(() => window.provider.sendStateless('hello'))
  await until(async () => (await events(page, 'stateless')).length > 0, 5000, 'stateless answer')
  assert.deepEqual((await events(page, 'stateless')).map((e) => e.payload), ['echo:hello'])
  await page.close()
})

test('scale-out: two instances share Redis; A dies with edits unacknowledged, the client moves to B through the balancer and every edit reaches B\'s peer', async () => {
  const redis = await startRedis()
  cleanups.push(() => redis.stop())
  const a = await server(undefined, { REDIS_PORT: String(redis.port), INSTANCE: 'A' })
  const b = await server(undefined, { REDIS_PORT: String(redis.port), INSTANCE: 'B' })
  const lb = await balancer([a.port, b.port])
  cleanups.push(() => lb.stop())
  const name = newName('scaleout')
  const page = await join(lb.url, name, { token: 'rw' })
  await page.evaluate(() => window.provider.whenSynced())
  assert.deepEqual([...lb.routed], [[a.port, 1]], 'the page is on A')
  const peer = await jsPeer(b.url, name)

  // Both ways across the instances, through Redis.
  await page.evaluate(() => window.doc.getText('note').insert(0, 'on A '))
  peer.doc.getArray('list').push(['on B'])
  await until(async () => isDeepStrictEqual(await pageDocState(page), docState(peer.doc)), 10_000, 'convergence across A and B')
  await page.evaluate(() => window.provider.whenAcknowledged())

  // A stops answering (frozen, its socket open), the page edits, then A dies: those edits
  // were never acknowledged and A never applied them.
  process.kill(a.pid, 'SIGSTOP')
  const pending = await page.evaluate(() => {
    window.doc.getText('note').insert(0, 'unacked ')
    window.doc.getMap('m').set('k', 'v')
    window.acked = false
    window.provider.whenAcknowledged().then(() => { window.acked = true })
    return window.provider.unsyncedChanges
  })
  assert.ok(pending >= 1, `${pending} unsynced while A is frozen`)
  await sleep(500)
  assert.equal(await page.evaluate(() => window.acked), false, 'not acknowledged by a frozen A')
  await a.stop()

  await until(() => page.evaluate(() => window.acked), 15_000, 'acknowledged after moving to B')
  assert.ok((lb.routed.get(b.port) ?? 0) >= 1, `the page reconnected to B: ${JSON.stringify([...lb.routed])}`)
  // Acknowledged means B holds it: a fresh peer on B finds it at once.
  const fresh = await jsPeer(b.url, name)
  assert.match(fresh.doc.getText('note').toString(), /^unacked on A /)
  assert.deepEqual(fresh.doc.getMap('m').toJSON(), { k: 'v' })
  await until(async () => isDeepStrictEqual(await pageDocState(page), docState(peer.doc)), 10_000, 'B\'s peer has every edit')
  assert.equal(await page.evaluate(() => window.provider.unsyncedChanges), 0)
  await page.close()
})

test('multiplexing: documents share one socket, each with its own token; detach closes one document and keeps the socket; after a restart one new socket carries them all', async () => {
  const hp = await server()
  const lb = await balancer([hp.port])
  cleanups.push(() => lb.stop())
  const [a, b, x] = [newName('mux-a'), newName('mux-b'), newName('mux-x')]
  const { page } = await openPage()
  await page.evaluate(({ url, a, b, x }) => {
    const { Doc, HocuspocusProvider, HocuspocusProviderWebsocket } = window.ysync
    window.ws = new HocuspocusProviderWebsocket({ url })
    window.wsEvents = []
    for (const e of ['status', 'close', 'destroy']) window.ws.on(e, (v) => window.wsEvents.push({ name: e, ...(v ?? {}) }))
    window.docs = {}
    window.providers = {}
    window.failed = {}
    for (const [key, name, token] of [['a', a, 'rw'], ['b', b, 'rw'], ['x', x, 'wrong']]) {
      window.docs[key] = new Doc()
      window.providers[key] = new HocuspocusProvider({ websocketProvider: window.ws, name, document: window.docs[key], token, maxDelay: 300 })
      window.providers[key].on('authenticationFailed', (e) => { window.failed[key] = e.reason })
    }
  }, { url: lb.url, a, b, x })
  await page.evaluate(() => Promise.all([window.providers.a.whenSynced(), window.providers.b.whenSynced()]))
  await until(() => page.evaluate(() => window.failed.x), 5000, 'the wrong token refused')
  assert.equal(await page.evaluate(() => window.providers.x.isSynced), false)
  assert.equal(await page.evaluate(() => window.ws.status), 'connected')

  const peerA = await jsPeer(hp.url, a)
  const peerB = await jsPeer(hp.url, b)
  const text = (key) => page.evaluate((key) => window.docs[key].getText('note').toString(), key)
  await page.evaluate(() => {
    window.docs.a.getText('note').insert(0, 'page a')
    window.docs.b.getText('note').insert(0, 'page b')
  })
  peerA.doc.getText('note').insert(0, 'js a ')
  peerB.doc.getText('note').insert(0, 'js b ')
  await until(async () => (await text('a')) === peerA.doc.getText('note').toString() && (await text('b')) === peerB.doc.getText('note').toString(), 10_000, 'both documents converge')
  assert.match(await text('a'), /js a/)
  assert.doesNotMatch(await text('a'), /b/, 'frames routed to their own document')
  assert.equal(lb.routed.get(hp.port), 1, 'one socket for the three documents')

  // Detach b: the server ends b's session (its presence leaves at the peer), a and the socket stay.
  await page.evaluate(() => window.providers.b.setAwarenessField('user', 'page'))
  const pageB = await page.evaluate(() => window.docs.b.clientID)
  await until(() => peerB.provider.awareness.getStates().has(pageB), 5000, 'b presence at the peer')
  await page.evaluate(() => window.providers.b.detach())
  await until(() => !peerB.provider.awareness.getStates().has(pageB), 5000, 'b closed on the server')
  peerB.doc.getText('note').insert(0, 'unseen ')
  peerA.doc.getText('note').insert(0, 'still ')
  await until(async () => (await text('a')).startsWith('still '), 5000, 'a still syncing')
  await sleep(300)
  assert.doesNotMatch(await text('b'), /unseen/)
  assert.equal(await page.evaluate(() => window.ws.status), 'connected')
  assert.equal(lb.routed.get(hp.port), 1)

  // The server goes: edits while it is down; it comes back; b attaches again; one new socket.
  await hp.stop()
  await until(() => page.evaluate(() => window.ws.status !== 'connected'), 5000, 'socket closed')
  await page.evaluate(() => {
    window.docs.a.getText('note').insert(0, 'offline ')
    window.providers.b.attach()
  })
  const again = await server(hp.port)
  await page.evaluate(() => Promise.all([window.providers.a.whenAcknowledged(), window.providers.b.whenSynced()]))
  await until(() => page.evaluate(() => window.providers.b.unsyncedChanges === 0), 5000, 'b acknowledged')
  const a2 = await jsPeer(again.url, a)
  const b2 = await jsPeer(again.url, b)
  assert.equal(a2.doc.getText('note').toString(), await text('a'))
  assert.match(a2.doc.getText('note').toString(), /^offline still /)
  assert.equal(b2.doc.getText('note').toString(), await text('b'))
  assert.equal(lb.routed.get(hp.port), 2, 'one new socket after the restart')

  // Destroying a provider leaves the socket to the others; destroying the socket ends it.
  await page.evaluate(() => window.providers.a.destroy())
  assert.equal(await page.evaluate(() => window.ws.status), 'connected')
  await page.evaluate(() => window.ws.destroy())
  const ev = await page.evaluate(() => window.wsEvents.map((e) => e.name))
  assert.ok(ev.includes('destroy') && ev.includes('close'), JSON.stringify(ev))
  await until(() => page.evaluate(() => window.providers.b.status !== 'connected'), 5000, 'b disconnected with the socket')
  await page.close()
})

test('tabs and storage: two tabs sync over BroadcastChannel while the server is down; an unacknowledged edit survives a reload from IndexedDB and is delivered after the restart', async () => {
  const hp = await server()
  const name = newName('tabs')
  const a = await openPage()
  const b = await openPage(a.context)
  const open = (page) => page.evaluate(async ({ url, name }) => {
    const { Doc, HocuspocusProvider, IndexeddbPersistence } = window.ysync
    window.doc = new Doc()
    window.persistence = new IndexeddbPersistence(name, window.doc)
    await window.persistence.whenSynced()
    window.provider = new HocuspocusProvider({ url, name, document: window.doc, token: 'rw', maxDelay: 300 })
  }, { url: hp.url, name })
  await open(a.page)
  await open(b.page)
  await a.page.evaluate(() => window.provider.whenSynced())
  await b.page.evaluate(() => window.provider.whenSynced())
  await a.page.evaluate(() => window.doc.getText('note').insert(0, 'online.'))
  await a.page.evaluate(() => window.provider.whenAcknowledged())

  await hp.stop()
  await until(() => a.page.evaluate(() => window.provider.status !== 'connected'), 5000, 'a sees the server go')
  await a.page.evaluate(() => window.doc.getText('note').insert(7, 'tab a offline.'))
  await until(() => b.page.evaluate(() => window.doc.getText('note').toString() === 'online.tab a offline.'), 5000, 'tab b sees tab a')
  await a.page.evaluate(() => window.persistence.whenPersisted())

  // Reload tab a: the stored document comes back, and so does the knowledge that the server
  // never acknowledged the offline edit.
  await b.page.close()
  await a.page.reload()
  await a.page.waitForFunction(() => window.ysyncReady === true, null, { timeout: 10_000 })
  await open(a.page)
  assert.equal(await a.page.evaluate(() => window.doc.getText('note').toString()), 'online.tab a offline.')
  await until(() => a.page.evaluate(() => window.provider.unsyncedChanges >= 1), 5000, 'the offline edit counted as unacknowledged after the reload')

  const again = await server(hp.port)
  await a.page.evaluate(() => window.provider.whenAcknowledged())
  const fresh = await jsPeer(again.url, name)
  assert.equal(fresh.doc.getText('note').toString(), 'online.tab a offline.')
  await a.page.close()
})
