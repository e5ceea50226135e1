// Sync observability in headless Chromium against a real @y/websocket-server, through the
// loopback fault proxy (its byte counters, stalls and cuts): provider.stats() agrees with the bytes the proxy saw, the lag and
// reconnect counters move, persistence.stats() counts writes, the periodic `stats` event
// fires, and the debug log never shows contents, tokens or URL queries.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startYServer, startStatic, launchBrowser, yjsPeer, until, repoRoot, openInteropPage } from './lib.mjs'
import { faultProxy } from './fault-proxy.mjs'

let web, browser, server, proxy
before(async () => {
  web = await startStatic(repoRoot)
  browser = await launchBrowser()
  server = await startYServer()
  proxy = await faultProxy(server.url)
})
after(async () => {
  await proxy?.stop()
  await server?.stop()
  await browser?.close()
  await web?.stop()
})

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const newRoom = (p) => p + '-' + Math.random().toString(36).slice(2)

const openPage = () => openInteropPage(browser, web.url)

/** Waits until the proxy's counters stop moving and returns a copy. */
async function quiet () {
  let last = ''
  for (;;) {
    await sleep(300)
    const now = JSON.stringify(proxy.counts)
    if (now === last) return JSON.parse(now)
    last = now
  }
}

test('stats: bytes and frames equal what the proxy saw; lag, reconnects, storage and the stats event move', async () => {
  const room = newRoom('stats')
  const { page, context, log } = await openPage()
  const peer = yjsPeer(server.url, room)
  await peer.synced
  const base = { ...proxy.counts }
  try {
    await page.evaluate(async ({ url, room, db }) => {
      const { Doc, WebsocketProvider, IndexeddbPersistence } = window.ysync
      window.doc = new Doc()
      window.persistence = new IndexeddbPersistence(db, window.doc, { statsInterval: 100 })
      window.provider = new WebsocketProvider(url, room, window.doc, { disableBc: true, statsInterval: 100 })
      window.statsEvents = []
      window.storageEvents = []
      window.provider.on('stats', (s) => window.statsEvents.push(s))
      window.persistence.on('stats', (s) => window.storageEvents.push(s))
      await window.persistence.whenSynced()
      await window.provider.whenSynced()
      const t = window.doc.getText('note')
      for (let i = 0; i < 5; i++) t.insert(i, String(i))
      window.provider.awareness.setLocalState({ user: { name: 'stats' } })
      await window.provider.whenAcknowledged()
      await window.persistence.whenPersisted()
    }, { url: proxy.url, room, db: room })
    peer.doc.getText('note').insert(0, 'peer ')
    await until(() => page.evaluate(() => window.doc.getText('note').toString().startsWith('peer ')), 5000, 'the peer edit')
    const seen = await quiet()
    const s = await page.evaluate(() => window.provider.stats())
    // The proxy counted every frame of this page's one connection (nothing else uses it).
    assert.equal(s.sent.bytes, seen.up - base.up, 'bytes sent = bytes the proxy received')
    assert.equal(s.sent.frames, seen.upFrames - base.upFrames)
    assert.equal(s.received.bytes, seen.down - base.down, 'bytes received = bytes the proxy sent')
    assert.equal(s.received.frames, seen.downFrames - base.downFrames)
    const byType = (d) => Object.values(d.byType).reduce((a, t) => a + t.bytes, 0)
    assert.equal(byType(s.sent), s.sent.bytes)
    assert.equal(byType(s.received), s.received.bytes)
    assert.equal(s.sent.byType.update.messages, 5)
    assert.ok(s.sent.byType.awareness.messages >= 1)
    assert.ok(s.received.byType.syncStep2.messages >= 1)
    assert.equal(s.updatesApplied.local, 5)
    assert.ok(s.updatesApplied.remote >= 1)
    assert.equal(s.connects, 1)
    assert.equal(s.reconnects, 0)
    assert.equal(s.status, 'connected')
    assert.deepEqual(s.unacknowledged, { count: 0, bytes: 0, oldestAgeMs: null })
    assert.equal(typeof s.lastProbeRttMs, 'number')
    assert.ok(s.connectedMs > 0)
    assert.deepEqual(s.errors, {})

    // Lag: the server gets nothing while the proxy holds frames; the oldest change ages.
    proxy.set({ stall: true })
    await page.evaluate(() => window.doc.getText('note').insert(0, '!'))
    await sleep(400)
    const lagging = await page.evaluate(() => window.provider.stats())
    assert.equal(lagging.unacknowledged.count, 1)
    assert.ok(lagging.unacknowledged.bytes > 0)
    assert.ok(lagging.unacknowledged.oldestAgeMs >= 350, String(lagging.unacknowledged.oldestAgeMs))
    proxy.set({})
    await until(async () => (await page.evaluate(() => window.provider.stats())).unacknowledged.oldestAgeMs === null, 5000, 'lag back to none')

    // A cut connection: counted with its close code, then a reconnect.
    proxy.cut()
    await until(() => page.evaluate(() => window.provider.stats().reconnects === 1 && window.provider.status === 'connected'), 10_000, 'reconnected')
    const after = await page.evaluate(() => window.provider.stats())
    assert.equal(after.closes['1006'], 1)
    assert.equal(after.connects, 2)
    assert.ok('backoffMs' in after)

    // Storage.
    const p = await page.evaluate(() => window.persistence.stats())
    assert.ok(p.writes >= 1 && p.rows >= 1 && p.bytes > 0, JSON.stringify(p))
    assert.equal(p.pendingUpdates, 0)
    assert.equal(p.writeFailures, 0)
    assert.equal(typeof p.lastWriteMs, 'number')
    assert.equal(typeof p.loadMs, 'number')

    // The periodic events.
    const ev = await page.evaluate(() => [window.statsEvents.length, window.storageEvents.length, window.statsEvents.at(-1).connectedMs >= window.statsEvents[0].connectedMs])
    assert.ok(ev[0] >= 3 && ev[1] >= 3 && ev[2], JSON.stringify(ev))
    assert.deepEqual(log.filter((l) => l.startsWith('pageerror')), [])
  } finally {
    peer.destroy()
    await context.close()
  }
})

test('the debug log shows what happens, never contents, tokens or URL queries', async () => {
  const room = newRoom('log')
  const { page, context, log } = await openPage()
  try {
    await page.evaluate(async ({ url, room }) => {
      const { Doc, WebsocketProvider, IndexeddbPersistence } = window.ysync
      window.doc = new Doc()
      window.persistence = new IndexeddbPersistence('log-' + room, window.doc, { logLevel: 'trace' })
      window.provider = new WebsocketProvider(url, room, window.doc, {
        disableBc: true,
        params: { key: 'param-SECRET' },
        token: async () => 'token-SECRET'
      })
      await window.provider.whenSynced()
      window.doc.getText('note').insert(0, 'content-SECRET')
      window.provider.awareness.setLocalState({ user: { name: 'name-SECRET' } })
      await window.provider.whenAcknowledged()
      await window.persistence.whenPersisted()
    }, { url: proxy.url, room })
    proxy.cut()
    await until(() => page.evaluate(() => window.provider.stats().reconnects === 1 && window.provider.status === 'connected'), 10_000, 'reconnected')
    await page.evaluate(() => window.ysync.setLogLevel('off'))
    const ours = log.filter((l) => l.startsWith('[ysync]'))
    for (const want of ['connecting to ws://127.0.0.1', 'connected', 'closed: code 1006', 'reconnecting in', 'frame out:', 'frame in:', 'loaded', 'append done']) {
      assert.ok(ours.some((l) => l.includes(want)), `a log line with "${want}"`)
    }
    assert.deepEqual(log.filter((l) => l.includes('SECRET')), [], 'no secret in any console line')
    // Off again: nothing more.
    const n = log.length
    await page.evaluate(() => window.doc.getText('note').insert(0, 'more'))
    await sleep(300)
    assert.equal(log.slice(n).filter((l) => l.startsWith('[ysync]')).length, 0)
    await page.evaluate(() => window.ysync.setLogLevel('loud')).then(() => assert.fail('accepted a bad level'), (e) => assert.match(String(e), /logLevel/))
  } finally {
    await context.close()
  }
})
