// Hostile input and heavy load (issue #19), against the built package in headless Chromium
// and a real @y/websocket-server: a presence flood relayed by the server, the v2-encoder trap,
// mutated updates through every operation, and a trap on purpose (test hooks build) that must
// poison the instance instead of wedging it. Figures are printed; limits are the goals.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket, { WebSocketServer } from 'ws'
import * as encoding from 'lib0/encoding'
import { startYServer, startStatic, launchBrowser, until, repoRoot, openInteropPage, Y } from './lib.mjs'
import { ensureBuilt } from '../bench/lib.mjs'

let web, browser, server
before(async () => {
  ensureBuilt('bench') // target/bench-pkg: the package with the test hooks
  web = await startStatic(repoRoot)
  browser = await launchBrowser()
  server = await startYServer()
})
after(async () => {
  await server?.stop()
  await browser?.close()
  await web?.stop()
})

let rooms = 0
const room = () => `hostile-${process.pid}-${rooms++}`
const hex = (s) => Uint8Array.from(s.match(/../g).map((b) => parseInt(b, 16)))

/** A raw y-websocket client in `name` that only sends what it is told. */
async function rawClient (name) {
  const ws = new WebSocket(`${server.url}/${name}`)
  ws.binaryType = 'arraybuffer'
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  return ws
}

/**
 * A hostile server on 127.0.0.1 that does what `onConnection(ws, req)` tells it; `stop()`
 * ends its connections and closes it.
 */
async function hostileServer (onConnection) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise((resolve) => wss.once('listening', resolve))
  const conns = []
  wss.on('connection', (ws, req) => { conns.push(ws); onConnection(ws, req) })
  const stop = async () => {
    for (const c of conns) c.terminate()
    await new Promise((resolve) => wss.close(resolve))
  }
  return { url: `ws://127.0.0.1:${wss.address().port}`, conns, stop }
}

/** One awareness frame with clients first..first+n-1 at `clock`, each with `state`. */
function awarenessFrame (first, n, clock, state = '{}') {
  const inner = encoding.createEncoder()
  encoding.writeVarUint(inner, n)
  for (let c = first; c < first + n; c++) {
    encoding.writeVarUint(inner, c)
    encoding.writeVarUint(inner, clock)
    encoding.writeVarString(inner, state)
  }
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 1)
  encoding.writeVarUint8Array(e, encoding.toUint8Array(inner))
  return encoding.toUint8Array(e)
}

/** Starts a main-thread stall monitor in the page (a 5 ms interval and long tasks). */
const watchStalls = (page) => page.evaluate(() => {
  window.stall = { gap: 0, longtask: 0 }
  let last = performance.now()
  clearInterval(window.stallTimer)
  window.stallTimer = setInterval(() => {
    const now = performance.now()
    window.stall.gap = Math.max(window.stall.gap, now - last - 5)
    last = now
  }, 5)
  window.longtasks?.disconnect()
  window.longtasks = new PerformanceObserver((l) => {
    for (const e of l.getEntries()) window.stall.longtask = Math.max(window.stall.longtask, e.duration)
  })
  window.longtasks.observe({ type: 'longtask' })
})
const stalls = (page) => page.evaluate(() => ({ ...window.stall, wasmMiB: window.wasmExports.memory.buffer.byteLength / 2 ** 20, heapMiB: performance.memory ? performance.memory.usedJSHeapSize / 2 ** 20 : null }))

test('a relayed presence flood of 20,000 entries: apply, renew, expire without a stall over 200 ms', async () => {
  const name = room()
  const { page, context, log } = await openInteropPage(browser, web.url)
  await page.evaluate(async ({ url, name }) => {
    const { Doc, WebsocketProvider } = window.ysync
    window.doc = new Doc()
    window.provider = new WebsocketProvider(url, name, window.doc, { disableBc: true, awarenessTimeout: 4000 })
    const aw = window.provider.awareness
    window.seen = 0
    window.renewed = 0
    // What an app does: redraw the people list from getStates() on every change.
    aw.on('change', () => { window.seen = aw.getStates().size })
    aw.on('update', ({ updated }) => { window.renewed += updated.length })
    await window.provider.whenSynced()
  }, { url: server.url, name })
  const attacker = await rawClient(name)
  const n = 20_000
  const rows = []
  const phase = async (what, send, done) => {
    await watchStalls(page)
    const t0 = Date.now()
    send()
    await until(() => page.evaluate(done), 20_000, what)
    await new Promise((r) => setTimeout(r, 100))
    const s = await stalls(page)
    rows.push({ phase: what, ms: Date.now() - t0, stallMs: Math.round(s.gap), longtaskMs: Math.round(s.longtask), wasmMiB: s.wasmMiB, heapMiB: s.heapMiB && +s.heapMiB.toFixed(1) })
    return s
  }
  const first = await phase('20,000 new states', () => attacker.send(awarenessFrame(1000, n, 1)), `window.seen >= ${n}`)
  const renew = await phase('their renewal', () => attacker.send(awarenessFrame(1000, n, 2)), `window.renewed >= ${n}`)
  const expire = await phase('their expiry (awarenessTimeout 4 s)', () => {}, 'window.seen <= 1')
  console.table(rows)
  for (const s of [first, renew, expire]) assert.ok(s.gap < 200, `main thread stalled ${s.gap.toFixed(0)} ms`)
  assert.equal(log.filter((l) => l.startsWith('pageerror')).length, 0, log.join('\n'))
  attacker.close()
  await page.evaluate(() => window.provider.destroy())
  await context.close()
})

test('presence past maxAwarenessClients is refused with AWARENESS_LIMIT; known clients still update', async () => {
  const name = room()
  const { page, context } = await openInteropPage(browser, web.url)
  await page.evaluate(async ({ url, name }) => {
    const { Doc, WebsocketProvider } = window.ysync
    window.doc = new Doc()
    window.provider = new WebsocketProvider(url, name, window.doc, { disableBc: true, maxAwarenessClients: 1000 })
    window.errors = []
    window.provider.on('error', (e) => window.errors.push({ name: e.name, code: e.code, message: e.message }))
    await window.provider.whenSynced()
  }, { url: server.url, name })
  const attacker = await rawClient(name)
  attacker.send(awarenessFrame(1, 1500, 1))
  await until(() => page.evaluate(() => window.errors.length > 0), 5000, 'AWARENESS_LIMIT')
  const got = await page.evaluate(() => ({ size: window.provider.awareness.getStates().size, errors: window.errors }))
  assert.equal(got.size, 1001, '1,000 remote clients, and ours (as in y-protocols)')
  assert.equal(got.errors[0].code, 'AWARENESS_LIMIT')
  assert.equal(got.errors[0].name, 'SyncError')
  // A known client's new state still gets through.
  const known = await page.evaluate(() => [...window.provider.awareness.getStates().keys()].find((c) => c !== window.provider.awareness.clientID))
  attacker.send(awarenessFrame(known, 1, 2, '{"n":2}'))
  await until(() => page.evaluate((k) => window.provider.awareness.getStates().get(k)?.n === 2, known), 5000, 'update of a known client')
  attacker.close()
  await page.evaluate(() => window.provider.destroy())
  await context.close()
})

/**
 * A v1 update of `blocks` strings of `len` characters for `client`, the first at `clock`:
 * written by hand because no Yjs document would make one past a gap.
 */
function gappedUpdate (client, clock, blocks, len) {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 1) // one client section
  encoding.writeVarUint(e, blocks)
  encoding.writeVarUint(e, client)
  encoding.writeVarUint(e, clock)
  const text = 'x'.repeat(len)
  for (let i = 0; i < blocks; i++) {
    encoding.writeUint8(e, 4) // a string item with no origins: its parent follows
    encoding.writeVarUint(e, 1) // the parent is a root type, by name
    encoding.writeVarString(e, 'gap')
    encoding.writeVarString(e, text)
  }
  encoding.writeVarUint(e, 0) // no deletions
  return encoding.toUint8Array(e)
}

/** A sync message frame of y-websocket: 0 (sync), `type` (1 step 2, 2 update), the update. */
function syncFrame (type, update) {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0)
  encoding.writeVarUint(e, type)
  encoding.writeVarUint8Array(e, update)
  return encoding.toUint8Array(e)
}

/**
 * A page whose provider is synced with a hostile server that sends step 2 of an empty document,
 * then what the test says (`conns[0].send`); the provider's error codes collect in
 * `window.errors`.
 */
async function pageOnHostileServer (name) {
  const server = await hostileServer((ws) => ws.send(syncFrame(1, Uint8Array.of(0, 0))))
  const { page, context, log } = await openInteropPage(browser, web.url)
  await page.evaluate(async ({ url, name }) => {
    const { Doc, WebsocketProvider } = window.ysync
    window.doc = new Doc()
    window.provider = new WebsocketProvider(url, name, window.doc, { disableBc: true })
    window.errors = []
    window.provider.on('error', (e) => window.errors.push(e.code))
    await window.provider.whenSynced()
  }, { url: server.url, name })
  return { server, conns: server.conns, page, context, log }
}

test('updates past a gap: 10,000 from a server and 4,000 through applyUpdate cost flat work, a good update still applies at once, a huge gapped frame is refused with HELD_LIMIT', async () => {
  const { server, conns, page, context, log } = await pageOnHostileServer('gap')
  const rows = []
  const measure = async (what, run, done) => {
    await watchStalls(page)
    const t0 = Date.now()
    await run()
    await until(() => page.evaluate(done), 60_000, what)
    await new Promise((r) => setTimeout(r, 100))
    const s = await stalls(page)
    rows.push({ phase: what, ms: Date.now() - t0, stallMs: Math.round(s.gap), longtaskMs: Math.round(s.longtask), wasmMiB: s.wasmMiB })
    return s
  }
  // 10,000 updates of 1 KB from the server, each past the gap the first leaves, then a good one.
  const good = new Y.Doc()
  good.clientID = 7
  good.getText('t').insert(0, 'ok')
  const fromServer = await measure('10,000 gapped updates from the server, then a good one', () => {
    for (let i = 0; i < 10_000; i++) conns[0].send(syncFrame(2, gappedUpdate(424242, 1_000_000 + i * 1000, 1, 1000)))
    conns[0].send(syncFrame(2, Y.encodeStateAsUpdate(good)))
  }, "window.doc.getText('t').toString() === 'ok'")
  // Through applyUpdate: batches of 1,000, 2,000 and 4,000; the slowest single call is kept.
  const batches = await page.evaluate(() => {
    const { applyUpdate } = window.ysync
    const frame = (client, clock) => {
      // The same bytes as gappedUpdate() in the test, for one 1,000-character block.
      const out = [1, 1]
      const varUint = (n) => { while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) } out.push(n) }
      varUint(client)
      varUint(clock)
      out.push(4, 1, 3, 0x67, 0x61, 0x70)
      varUint(1000)
      for (let i = 0; i < 1000; i++) out.push(0x78)
      out.push(0)
      return Uint8Array.from(out)
    }
    const result = []
    let client = 500_000
    for (const n of [1000, 2000, 4000]) {
      client++
      const ups = Array.from({ length: n }, (_, i) => frame(client, 1_000_000 + i * 1000))
      let slowest = 0
      const t0 = performance.now()
      for (const u of ups) {
        const t = performance.now()
        applyUpdate(window.doc, u)
        slowest = Math.max(slowest, performance.now() - t)
      }
      result.push({ updates: n, ms: Math.round(performance.now() - t0), slowestCallMs: +slowest.toFixed(1) })
    }
    return result
  })
  console.table(batches)
  // One frame of 150,000 blocks past a gap: over the cap of 100,000 held blocks.
  const before = await page.evaluate(() => window.wasmExports.memory.buffer.byteLength)
  const huge = await measure('one frame of 150,000 gapped blocks', () => {
    conns[0].send(syncFrame(2, gappedUpdate(777777, 5_000_000, 150_000, 1)))
  }, "window.errors.includes('HELD_LIMIT')")
  const grownMiB = (await page.evaluate(() => window.wasmExports.memory.buffer.byteLength) - before) / 2 ** 20
  console.table(rows)
  console.log(`wasm memory grown by the refused frame: ${grownMiB.toFixed(1)} MiB`)
  const after = await page.evaluate(() => {
    window.doc.getText('t').insert(2, '!')
    return { text: window.doc.getText('t').toString(), status: window.provider.status, errors: window.errors }
  })
  assert.equal(after.text, 'ok!', 'the document works')
  assert.equal(after.status, 'connected', 'refusing held blocks does not drop the connection')
  assert.deepEqual(after.errors, ['HELD_LIMIT'])
  for (const s of [fromServer, huge]) assert.ok(s.gap < 200, `main thread stalled ${s.gap.toFixed(0)} ms`)
  for (const b of batches) assert.ok(b.slowestCallMs < 200, `one applyUpdate took ${b.slowestCallMs} ms`)
  assert.ok(grownMiB < 64, `the refused frame grew wasm memory by ${grownMiB.toFixed(1)} MiB`)
  assert.equal(log.filter((l) => l.startsWith('pageerror')).length, 0, log.join('\n'))
  await page.evaluate(() => window.provider.destroy())
  await context.close()
  await server.stop()
})

/** A v1 update of deletions only: `clients` clients from `first`, each `ranges` one-clock ranges. */
function deleteSet (first, clients, ranges) {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 0) // no blocks
  encoding.writeVarUint(e, clients)
  for (let c = first; c < first + clients; c++) {
    encoding.writeVarUint(e, c)
    encoding.writeVarUint(e, ranges)
    for (let r = 0; r < ranges; r++) {
      encoding.writeVarUint(e, 2 * r)
      encoding.writeVarUint(e, 1)
    }
  }
  return encoding.toUint8Array(e)
}

test('delete sets for clocks never received: kept and sent again like Yjs up to the cap, a 12 MB one cut with HELD_LIMIT, later updates unaffected', async () => {
  const { server, conns, page, context, log } = await pageOnHostileServer('deletes')
  const wasm = () => page.evaluate(() => window.wasmExports.memory.buffer.byteLength / 2 ** 20)
  const encoded = () => page.evaluate(() => window.ysync.encodeStateAsUpdate(window.doc).length)
  const rows = []
  const phase = async (what, send, done) => {
    const mib = await wasm()
    await watchStalls(page)
    const t0 = Date.now()
    send()
    await until(() => page.evaluate(done), 60_000, what)
    await new Promise((r) => setTimeout(r, 100))
    const s = await stalls(page)
    rows.push({ phase: what, ms: Date.now() - t0, stallMs: Math.round(s.gap), longestTaskMs: Math.round(s.longtask), wasmGrownMiB: +(s.wasmMiB - mib).toFixed(1), encodedBytes: await encoded() })
    return s
  }
  // 4,000 clients nobody sent, 1,000 ranges each: 4 M ranges, past the cap of 10,000.
  const huge = deleteSet(1_000_000, 4000, 1000)
  await phase(`a ${(huge.length / 2 ** 20).toFixed(1)} MB delete set for clients never seen`, () => conns[0].send(syncFrame(2, huge)),
    "window.errors.includes('HELD_LIMIT')")
  // Under the cap it is kept, as Yjs keeps its pending delete set, and written out again.
  const kept = deleteSet(2_000_000, 99, 100)
  await phase('9,900 ranges for clients never seen (under the cap)', () => conns[0].send(syncFrame(2, kept)),
    `window.ysync.encodeStateAsUpdate(window.doc).length > ${kept.length - 16}`)
  // Every later update makes yrs retry its pending deletes: 1,000 of them, one frame each.
  const typist = new Y.Doc()
  typist.clientID = 7
  const typed = []
  typist.on('update', (u) => typed.push(u))
  for (let i = 0; i < 1000; i++) typist.getText('t').insert(i, 'x')
  const typing = await phase('1,000 one-character updates after them', () => { for (const u of typed) conns[0].send(syncFrame(2, u)) },
    "window.doc.getText('t').length === 1000")
  // Yjs (in node) on the same delete set keeps every range, writes them all out again and
  // retries them on every later update: 10 updates are enough to show the cost of each.
  const peer = new Y.Doc()
  let t0 = performance.now()
  Y.applyUpdate(peer, huge)
  rows.push({ phase: 'Yjs (node): the same delete set', ms: Math.round(performance.now() - t0), encodedBytes: Y.encodeStateAsUpdate(peer).length })
  t0 = performance.now()
  for (const u of typed.slice(0, 10)) Y.applyUpdate(peer, u)
  rows.push({ phase: 'Yjs (node): 10 of the updates after it', ms: Math.round(performance.now() - t0) })
  console.table(rows)
  const yjs = new Y.Doc()
  Y.applyUpdate(yjs, Uint8Array.from(await page.evaluate(() => Array.from(window.ysync.encodeStateAsUpdate(window.doc)))))
  const after = await page.evaluate(() => {
    window.doc.getText('t').insert(0, '!')
    return { length: window.doc.getText('t').length, status: window.provider.status, errors: window.errors }
  })
  assert.equal(after.length, 1001, 'the document works')
  assert.equal(after.status, 'connected', 'cutting deletes does not drop the connection')
  assert.deepEqual(after.errors, ['HELD_LIMIT'], 'one typed error, for the delete set past the cap')
  assert.ok(rows[0].wasmGrownMiB < 64, `the cut delete set grew wasm memory by ${rows[0].wasmGrownMiB} MiB`)
  assert.ok(rows[0].encodedBytes < 4096, `the cut delete set is not written out again (${rows[0].encodedBytes} bytes)`)
  assert.ok(rows[1].encodedBytes >= kept.length - 16, 'the kept one is, as by Yjs')
  assert.equal(yjs.getText('t').length, 1000, 'Yjs reads the encoding with the pending deletes')
  // The page's own work: no task over 200 ms. (The 5 ms timer's longest gap is printed, not
  // checked: Chromium runs a burst of socket messages ahead of timers, so it varies with the
  // machine's load from run to run, 124 to 220 ms here, whatever the page does; see the burst
  // test below, where a bare WebSocket does the same.)
  assert.ok(typing.longtask < 200, `a task of ${typing.longtask.toFixed(0)} ms`)
  assert.equal(log.filter((l) => l.startsWith('pageerror')).length, 0, log.join('\n'))
  await page.evaluate(() => window.provider.destroy())
  await context.close()
  await server.stop()
})

test('100,000 garbage rows in IndexedDB: one error event, quarantined by one compaction, later writes are appends again', async () => {
  const { page, context, log } = await openInteropPage(browser, web.url)
  const out = await page.evaluate(async () => {
    const name = 'garbage-' + Math.random()
    // One good row (what a tab stored), then 100,000 rows no update decodes from.
    const good = new window.ysync.Doc()
    good.getText('note').insert(0, 'kept')
    const { storeRows } = await import('/e2e/pages/rows.js')
    await storeRows(name, [good.encodeStateAsUpdate(), ...Array.from({ length: 100_000 }, () => new Uint8Array([1, 2, 3]))])
    const { Doc, IndexeddbPersistence } = window.ysync
    const doc = new Doc()
    const errors = []
    let t0 = performance.now()
    const p = new IndexeddbPersistence(name, doc, {})
    p.on('error', (e) => errors.push(e.code + ': ' + e.message))
    await p.whenSynced()
    const loadMs = performance.now() - t0
    t0 = performance.now()
    while (p.stats().quarantined < 100_000) await new Promise((resolve) => setTimeout(resolve, 20))
    const quarantineMs = performance.now() - t0
    const compactions = p.stats().compactions
    let slowest = 0
    for (let i = 0; i < 20; i++) {
      const t = performance.now()
      doc.getText('note').insert(0, '.')
      await p.whenPersisted()
      slowest = Math.max(slowest, performance.now() - t)
    }
    const stats = p.stats()
    await p.destroy()
    // A reload reads no bad row again.
    const again = new IndexeddbPersistence(name, new Doc(), {})
    const errorsAgain = []
    again.on('error', (e) => errorsAgain.push(e.code + (e.domName ? ' ' + e.domName + ': ' + e.message : '')))
    t0 = performance.now()
    await again.whenSynced()
    const reloadMs = performance.now() - t0
    await again.clearData()
    return { errors, errorsAgain, loadMs, quarantineMs, reloadMs, slowestPersistMs: slowest, compactionsDuring: stats.compactions - compactions, rows: stats.rows, text: doc.getText('note').toString() }
  })
  console.table([{ loadMs: Math.round(out.loadMs), quarantineMs: Math.round(out.quarantineMs), slowestWhenPersistedMs: Math.round(out.slowestPersistMs), reloadMs: Math.round(out.reloadMs), rowsAfter: out.rows }])
  assert.equal(out.errors.length, 1, out.errors.join('\n'))
  assert.match(out.errors[0], /^INVALID_UPDATE: 100000 stored rows are not valid updates/)
  assert.equal(out.text, '.'.repeat(20) + 'kept')
  assert.equal(out.compactionsDuring, 0, 'after the quarantine, 20 writes are appends, not compactions')
  assert.ok(out.rows <= 21, `rows left: ${out.rows}`)
  assert.deepEqual(out.errorsAgain, [])
  assert.equal(log.filter((l) => l.startsWith('pageerror')).length, 0, log.join('\n'))
  await context.close()
})

test('a burst of 100,000 small valid update frames is handled in time slices: no task over 200 ms (timer gap printed beside a bare socket\'s)', async () => {
  const server = await hostileServer((ws, req) => { if (!req.url.endsWith('/bare')) ws.send(syncFrame(1, Uint8Array.of(0, 0))) })
  const { conns } = server
  const { page, context, log } = await openInteropPage(browser, web.url)
  await page.evaluate(async ({ url }) => {
    const { Doc, WebsocketProvider } = window.ysync
    window.doc = new Doc()
    window.provider = new WebsocketProvider(url, 'burst', window.doc, { disableBc: true })
    window.updates = 0
    window.doc.on('update', () => { window.updates++ })
    await window.provider.whenSynced()
  }, { url: server.url })
  // One Yjs peer's 100,000 edits, each its own update (as a server relays a busy room).
  const src = new Y.Doc()
  src.clientID = 31
  const frames = []
  src.on('update', (u) => frames.push(syncFrame(2, u)))
  const m = src.getMap('m')
  for (let i = 0; i < 100_000; i++) m.set('k' + (i % 100), i)
  await watchStalls(page)
  const t0 = Date.now()
  for (const f of frames) conns[0].send(f)
  await until(() => page.evaluate(() => window.doc.getMap('m').get('k99') === 99_999), 120_000, 'the last edit')
  await new Promise((r) => setTimeout(r, 100))
  const s = await stalls(page)
  const rows = [{ client: 'ysync', frames: frames.length, ms: Date.now() - t0, timerGapMs: Math.round(s.gap), longestTaskMs: Math.round(s.longtask) }]
  // The floor: the same frames to a bare WebSocket whose onmessage only counts. Chromium runs
  // socket messages ahead of timers, so even this delays a 5 ms interval (measured here).
  await page.evaluate((url) => new Promise((resolve) => {
    window.bare = 0
    const ws = new WebSocket(url)
    ws.binaryType = 'arraybuffer'
    ws.onmessage = () => { window.bare++ }
    ws.onopen = resolve
  }), `${server.url}/bare`)
  await watchStalls(page)
  const t1 = Date.now()
  for (const f of frames) conns[1].send(f)
  await until(() => page.evaluate((n) => window.bare >= n, frames.length), 120_000, 'the bare socket')
  const bare = await stalls(page)
  rows.push({ client: 'bare WebSocket, empty onmessage', frames: frames.length, ms: Date.now() - t1, timerGapMs: Math.round(bare.gap), longestTaskMs: Math.round(bare.longtask) })
  console.table(rows)
  // Frames are handled in 8 ms slices: no task holds the main thread; the timer gap that is
  // left is the browser's own (see the bare socket's).
  assert.ok(s.longtask < 200, `a task held the main thread ${s.longtask.toFixed(0)} ms`)
  assert.equal(await page.evaluate(() => window.updates), frames.length)
  assert.equal(log.filter((l) => l.startsWith('pageerror')).length, 0, log.join('\n'))
  await page.evaluate(() => window.provider.destroy())
  await context.close()
  await server.stop()
})

test('legal updates past the memory budget are refused with MEMORY_BUDGET and the instance stays alive', async () => {
  const server = await hostileServer((ws) => ws.send(syncFrame(1, Uint8Array.of(0, 0))))
  const { conns } = server
  const { page, context, log } = await openInteropPage(browser, web.url)
  await page.evaluate(async ({ url }) => {
    const { Doc, WebsocketProvider } = window.ysync
    window.doc = new Doc() // the default budget: 1 GiB
    window.provider = new WebsocketProvider(url, 'big', window.doc, { disableBc: true })
    window.errors = []
    window.provider.on('error', (e) => window.errors.push(e.code))
    await window.provider.whenSynced()
  }, { url: server.url })
  // Step 2 frames of 500,000 small map keys each, from four clients: each is legal and under
  // maxMessageSize; together they would take the document past its budget.
  const rows = []
  for (let c = 1; c <= 4; c++) {
    const y = new Y.Doc()
    y.clientID = 1000 + c
    const m = y.getMap('m' + c)
    y.transact(() => { for (let i = 0; i < 500_000; i++) m.set('k' + i, i) })
    const u = Y.encodeStateAsUpdate(y)
    conns[0].send(syncFrame(2, u))
    const got = await until(() => page.evaluate((c) => window.doc.getMap('m' + c).size === 500_000 ? 'applied' : window.errors.includes('MEMORY_BUDGET') && window.errors.length >= 1 && 'refused', c), 60_000, `frame ${c}`)
    const wasmMiB = await page.evaluate(() => window.wasmExports.memory.buffer.byteLength / 2 ** 20)
    rows.push({ frame: c, updateMB: +(u.length / 1e6).toFixed(1), outcome: got, wasmMiB })
    if (got === 'refused') break
  }
  console.table(rows)
  const after = await page.evaluate(() => {
    const { Doc } = window.ysync
    const d = new Doc()
    d.getText('t').insert(0, 'alive')
    return { fresh: d.getText('t').toString(), status: window.provider.status, errors: window.errors }
  })
  assert.deepEqual(rows.map((r) => r.outcome), ['applied', 'applied', 'applied', 'refused'])
  assert.equal(after.fresh, 'alive', 'new Doc() works after the refusal')
  assert.equal(after.status, 'connected')
  assert.deepEqual(after.errors, ['MEMORY_BUDGET'])
  assert.ok(rows[3].wasmMiB - rows[2].wasmMiB < 64, 'the refused frame did not grow wasm memory')
  // A smaller budget of one's own: { maxMemory }.
  const own = await page.evaluate(() => {
    const d = new window.ysync.Doc({ maxMemory: 1 << 20 })
    const src = new window.ysync.Doc()
    const m = src.getMap('m')
    src.transact(() => { for (let i = 0; i < 5000; i++) m.set('k' + i, i) })
    try { d.applyUpdate(src.encodeStateAsUpdate()); return 'applied' } catch (e) { return e.name + ' ' + e.code }
  })
  assert.equal(own, 'UpdateError INVALID_UPDATE')
  assert.equal(log.filter((l) => l.startsWith('pageerror')).length, 0, log.join('\n'))
  await page.evaluate(() => window.provider.destroy())
  await context.close()
  await server.stop()
})

test('close codes: 1008 and 4403 (and 4401 without a token function) stop reconnecting with permission-denied; 1000 and 4401 with a token retry', async () => {
  const attempts = {}
  const server = await hostileServer((ws, req) => {
    const code = Number(new URL(req.url, 'http://x').pathname.split('/').pop())
    attempts[code] = (attempts[code] ?? 0) + 1
    ws.close(code, 'test')
  })
  const { page, context } = await openInteropPage(browser, web.url)
  const results = await page.evaluate(async ({ url }) => {
    const { Doc, WebsocketProvider } = window.ysync
    const out = {}
    for (const [code, token] of [[1000, false], [1008, false], [4403, false], [4401, false], [4401, true]]) {
      const p = new WebsocketProvider(url, String(code), new Doc(), { disableBc: true, maxBackoffTime: 100, ...(token ? { token: () => 't' } : {}) })
      const denied = []
      p.on('permission-denied', (e) => denied.push(e.reason))
      await new Promise((resolve) => setTimeout(resolve, 1500))
      out[code + (token ? '+token' : '')] = { denied: denied.length, status: p.status }
      p.destroy()
    }
    return out
  }, { url: server.url })
  console.table(Object.entries(results).map(([k, v]) => ({ close: k, ...v })))
  for (const k of ['1008', '4403', '4401']) assert.equal(results[k].denied, 1, `${k}: one permission-denied`)
  assert.equal(attempts[1008], 1)
  assert.equal(attempts[4403], 1)
  assert.equal(results['1000'].denied, 0)
  assert.equal(results['4401+token'].denied, 0)
  assert.ok(attempts[1000] >= 3, `1000 is retried: ${attempts[1000]} attempts`)
  assert.ok(attempts[4401] >= 1 + 3, `4401 with a token is retried: ${attempts[4401]} attempts in all`)
  await context.close()
  await server.stop()
})

const U1 = '010101002301016d0362696e0301020300' // client 1 sets m.bin = Uint8Array [1, 2, 3]
const U2 = '01010300840204012100' // client 3 inserts after an item nobody sent (pending)

test('encodeStateAsUpdateV2 with a binary value and pending blocks: Yjs reads it, the document keeps working', async () => {
  const { page, context } = await openInteropPage(browser, web.url)
  const out = await page.evaluate(({ U1, U2 }) => {
    const h = (s) => Uint8Array.from(s.match(/../g).map((b) => parseInt(b, 16)))
    const { Doc } = window.ysync
    const doc = new Doc()
    doc.applyUpdate(h(U1))
    doc.applyUpdate(h(U2))
    const v2 = [...doc.encodeStateAsUpdateV2()]
    const v2sv = [...doc.encodeStateAsUpdateV2(doc.encodeStateVector())]
    doc.getText('t').insert(0, 'still usable')
    return { v2, v2sv, text: doc.getText('t').toString(), json: JSON.stringify(doc.toJSON()) }
  }, { U1, U2 })
  assert.equal(out.text, 'still usable')
  const y = new Y.Doc()
  Y.applyUpdateV2(y, Uint8Array.from(out.v2))
  assert.deepEqual([...y.getMap('m').get('bin')], [1, 2, 3])
  // The pending block came along, as in Yjs's own encoding of the same state.
  const ref = new Y.Doc()
  Y.applyUpdate(ref, hex(U1))
  Y.applyUpdate(ref, hex(U2))
  assert.deepEqual(Y.encodeStateVector(y), Y.encodeStateVector(ref))
  assert.deepEqual(Y.encodeStateAsUpdate(y), Y.encodeStateAsUpdate(ref))
  Y.applyUpdateV2(new Y.Doc(), Uint8Array.from(out.v2sv))
  await context.close()
})

test('mutated v1 and v2 updates, accepted or refused, leave every operation working (no trap)', async () => {
  const rich = JSON.parse((await import('node:fs')).readFileSync(repoRoot + '/tests/fixtures/golden.json', 'utf8')).vectors.rich_updates
  const { page, context, log } = await openInteropPage(browser, web.url)
  const result = await page.evaluate(({ seeds, rounds }) => {
    const h = (s) => Uint8Array.from(s.match(/../g).map((b) => parseInt(b, 16)))
    const { Doc, mergeUpdates, diffUpdate, UndoManager } = window.ysync
    let x = 19
    const rand = (n) => { x = (x * 1103515245 + 12345) % 2147483648; return x % n }
    const mutate = (b, donor) => {
      b = [...b]
      for (let k = 1 + rand(3); k > 0 && b.length; k--) {
        const i = rand(b.length)
        const m = rand(6)
        if (m === 0) b[i] = rand(256)
        else if (m === 1) b[i] = (b[i] + 1) & 255
        else if (m === 2) b[i] = (b[i] + 255) & 255
        else if (m === 3) b.splice(i, 0, rand(256))
        else if (m === 4) b.splice(i, 1 + rand(3))
        else { const j = rand(donor.length); b.splice(i, 0, ...donor.slice(j, j + 1 + rand(15))) }
      }
      return Uint8Array.from(b)
    }
    const all = seeds.map(([s, v2]) => [h(s), v2])
    let accepted = 0
    const unexpected = []
    for (let r = 0; r < rounds; r++) {
      const doc = new Doc()
      doc.applyUpdate(all[2 + rand(2)][0]) // U1 or U2 first
      const [victim, v2] = all[rand(all.length)]
      const input = mutate(victim, all[rand(all.length)][0])
      try {
        if (v2) doc.applyUpdateV2(input); else doc.applyUpdate(input)
        accepted++
      } catch (e) {
        if (e.name !== 'UpdateError') unexpected.push(e.name + ': ' + e.message)
      }
      // Every operation, whatever happened above.
      const sv = doc.encodeStateVector()
      const state = doc.encodeStateAsUpdate()
      doc.encodeStateAsUpdate(sv)
      doc.encodeStateAsUpdateV2()
      doc.encodeStateAsUpdateV2(sv)
      mergeUpdates([state, all[0][0]])
      diffUpdate(state, sv)
      JSON.stringify(doc.toJSON())
      const t = doc.getText('rich')
      const un = t.observeDeep(() => {})
      const um = new UndoManager(t)
      const pos = t.relativePosition(Math.floor(t.length / 2))
      t.insert(Math.floor(t.length / 2), 'x')
      t.toDelta()
      t.resolveRelativePosition(pos)
      doc.getArray('nested').length
      um.undo(); um.redo()
      um.destroy(); un()
      doc.destroy()
    }
    return { accepted, unexpected }
  }, { seeds: [[rich.v1, false], [rich.v2, true], [U1, false], [U2, false]], rounds: 400 })
  console.log(`mutated updates: ${result.accepted} of 400 accepted, all operations ran on each`)
  assert.deepEqual(result.unexpected, [])
  assert.ok(result.accepted > 20)
  assert.equal(log.filter((l) => l.startsWith('pageerror')).length, 0, log.join('\n'))
  await context.close()
})

test('a trap poisons the instance: one INSTANCE_POISONED event, every later call refused with it, stored edits survive', async () => {
  const context = await browser.newContext()
  const { page } = await openInteropPage(browser, web.url, context, { pkg: '/target/bench-pkg/ysync.js' })
  const name = room()
  const out = await page.evaluate(async (name) => {
    const { Doc, IndexeddbPersistence, onPoisoned, poisonedError, __trapInTransaction } = window.ysync
    const doc = new Doc()
    const p = new IndexeddbPersistence(name, doc)
    await p.whenSynced()
    doc.getText('t').insert(0, 'kept')
    await p.whenPersisted()
    const events = []
    onPoisoned((e) => events.push({ name: e.name, code: e.code, cause: e.cause?.constructor?.name }))
    const code = (f) => { try { f(); return 'no error' } catch (e) { return `${e.name}/${e.code}` } }
    const trap = code(() => __trapInTransaction(doc))
    const read = code(() => doc.getText('t').toString())
    const edit = code(() => doc.getText('t').insert(0, 'x'))
    const fresh = code(() => new Doc())
    let late = 0
    onPoisoned(() => late++)
    return { trap, read, edit, fresh, events, late, poisoned: poisonedError()?.code }
  }, name)
  assert.equal(out.trap, 'YsyncError/INSTANCE_POISONED')
  assert.deepEqual(out.events, [{ name: 'YsyncError', code: 'INSTANCE_POISONED', cause: 'RuntimeError' }])
  // Not DOC_BUSY (the lock left taken) and not 'memory access out of bounds'.
  assert.equal(out.read, 'YsyncError/INSTANCE_POISONED')
  assert.equal(out.edit, 'YsyncError/INSTANCE_POISONED')
  assert.equal(out.fresh, 'YsyncError/INSTANCE_POISONED')
  assert.equal(out.late, 1, 'a listener added after the trap is called at once')
  assert.equal(out.poisoned, 'INSTANCE_POISONED')
  // Reloading gives a fresh instance with the stored edit.
  await page.reload()
  await page.waitForFunction(() => window.ysyncReady === true)
  const text = await page.evaluate(async (name) => {
    const { Doc, IndexeddbPersistence } = window.ysync
    const doc = new Doc()
    await new IndexeddbPersistence(name, doc).whenSynced()
    return doc.getText('t').toString()
  }, name)
  assert.equal(text, 'kept')
  await context.close()
})
