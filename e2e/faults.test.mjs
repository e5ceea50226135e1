// ysync pages in headless Chromium sync through the seeded fault proxy (e2e/fault-proxy.mjs)
// with a node Yjs peer on the server directly: delays, jitter, duplicates, connections cut
// mid-stream, zombie frames replayed on the next connection, corrupted frames and stalls. Once
// the faults stop, every replica converges and the pages acknowledge every edit.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startYServer, startStatic, launchBrowser, yjsPeer, until, repoRoot, openInteropPage } from './lib.mjs'
import { faultProxy, rng } from './fault-proxy.mjs'

const SEED = Number(process.env.YSYNC_FAULT_SEED ?? 20261122)
let web, browser, server, proxy
before(async () => {
  web = await startStatic(repoRoot)
  browser = await launchBrowser()
  server = await startYServer()
  proxy = await faultProxy(server.url, { seed: SEED })
})
after(async () => {
  await proxy?.stop()
  await server?.stop()
  await browser?.close()
  await web?.stop()
})

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function page (room) {
  const { page: p, context, log } = await openInteropPage(browser, web.url)
  await p.evaluate(({ url, room }) => {
    const { Doc, WebsocketProvider } = window.ysync
    window.doc = new Doc()
    window.errors = []
    window.provider = new WebsocketProvider(url, room, window.doc, { disableBc: true, maxBackoffTime: 300, heartbeatInterval: 1000, heartbeatTimeout: 1000 })
    window.provider.on('error', (e) => window.errors.push(e.code))
  }, { url: proxy.url, room })
  // Page errors only: Chromium itself logs every connection the proxy cuts.
  return { page: p, context, problems: () => log.filter((l) => l.startsWith('pageerror')) }
}

/** A random edit of the shared text/array/map from replica `who`. */
function edit (random, who) {
  const pick = random()
  const n = Math.floor(random() * 1000)
  if (pick < 0.5) return { kind: 'text', at: random(), s: `${who}${n} ` }
  if (pick < 0.8) return { kind: 'push', v: `${who}-${n}` }
  return { kind: 'set', k: `k${n % 7}`, v: `${who}${n}` }
}
const applyInPage = (p, e) => p.evaluate((e) => {
  const d = window.doc
  if (e.kind === 'text') { const t = d.getText('t'); t.insert(Math.floor(e.at * t.length), e.s) }
  if (e.kind === 'push') d.getArray('a').push([e.v])
  if (e.kind === 'set') d.getMap('m').set(e.k, e.v)
}, e)
function applyInPeer (doc, e) {
  if (e.kind === 'text') { const t = doc.getText('t'); t.insert(Math.floor(e.at * t.length), e.s) }
  if (e.kind === 'push') doc.getArray('a').push([e.v])
  if (e.kind === 'set') doc.getMap('m').set(e.k, e.v)
}
// Map keys in sorted order: the iteration order of a map is not part of its state.
const canonical = ({ t, a, m }) => JSON.stringify({ t, a, m: Object.fromEntries(Object.entries(m).sort(([x], [y]) => x < y ? -1 : 1)) })
const stateOf = async (p) => canonical(await p.evaluate(() => ({ t: window.doc.getText('t').toString(), a: window.doc.getArray('a').toJSON(), m: window.doc.getMap('m').toJSON() })))
const peerState = (doc) => canonical({ t: doc.getText('t').toString(), a: doc.getArray('a').toJSON(), m: doc.getMap('m').toJSON() })

async function converge (pages, peer, what) {
  try {
    await until(async () => {
      const states = [...await Promise.all(pages.map((p) => stateOf(p.page))), peerState(peer.doc)]
      return states.every((s) => s === states[0])
    }, 30_000, what)
  } catch (e) {
    // Say where each replica stands, so a failing seed can be understood.
    for (const p of pages) console.log('# page', await p.page.evaluate(() => JSON.stringify({ status: window.provider.status, synced: window.provider.synced, errors: window.errors, stats: window.provider.stats() })), await stateOf(p.page))
    console.log('# peer', peerState(peer.doc), 'proxy', JSON.stringify(proxy.stats))
    throw e
  }
  // And the server confirms every edit of each page.
  for (const p of pages) await p.page.evaluate(() => window.provider.whenAcknowledged())
}

test(`seed ${SEED}: delays, jitter, duplicates, cut connections and zombie frames; then convergence`, async () => {
  const room = `faults-${SEED}`
  const random = rng(SEED)
  const pages = [await page(room), await page(room)]
  const peer = yjsPeer(server.url, room)
  await peer.synced
  try {
    await Promise.all(pages.map((p) => p.page.evaluate(() => window.provider.whenSynced())))
    const rounds = [
      { delayMs: 5, jitterMs: 40, duplicate: 0.2 },
      { jitterMs: 20, cutAfterBytes: 600, replayOnReconnect: true },
      { delayMs: 10, duplicate: 0.3, cutAfterBytes: 1500, replayOnReconnect: true },
      { jitterMs: 60 }
    ]
    let edits = 0
    for (const faults of rounds) {
      proxy.set(faults)
      for (let i = 0; i < 25; i++) {
        const who = Math.floor(random() * 3)
        const e = edit(random, 'abc'[who])
        if (who < 2) await applyInPage(pages[who].page, e); else applyInPeer(peer.doc, e)
        edits++
        await sleep(random() * 30)
      }
    }
    proxy.set({})
    await converge(pages, peer, 'convergence after the faults')
    assert.ok(proxy.stats.duplicated > 0, 'frames were duplicated')
    assert.ok(proxy.stats.cut > 0, 'connections were cut')
    const arr = JSON.parse(await stateOf(pages[0].page)).a
    assert.equal(new Set(arr).size, arr.length, 'no array item applied twice')
    console.log(`# seed ${SEED}: ${edits} edits; proxy ${JSON.stringify(proxy.stats)}`)
    for (const p of pages) assert.deepEqual(p.problems(), [])
  } finally {
    peer.destroy()
    for (const p of pages) await p.context.close()
  }
})

test(`seed ${SEED}: corrupted frames are refused with typed errors; the instances keep working`, async () => {
  // A flipped byte that still makes a valid update cannot be told from a real one (TCP and TLS
  // are what guarantee integrity), so replicas may diverge here: what is checked is that bad
  // bytes are refused with typed errors and reconnects, never a trap, and the SDK goes on.
  const room = `corrupt-${SEED}`
  const random = rng(SEED + 1)
  const pages = [await page(room), await page(room)]
  const peer = yjsPeer(server.url, room)
  await peer.synced
  try {
    await Promise.all(pages.map((p) => p.page.evaluate(() => window.provider.whenSynced())))
    proxy.set({ corruptToClient: 0.5 })
    for (let i = 0; i < 40; i++) {
      const who = Math.floor(random() * 3)
      const e = edit(random, 'xyz'[who])
      if (who < 2) await applyInPage(pages[who].page, e); else applyInPeer(peer.doc, e)
      await sleep(20)
    }
    await until(async () => (await Promise.all(pages.map((p) => p.page.evaluate(() => window.errors.length)))).every((n) => n > 0), 10_000, 'error events on both pages')
    proxy.set({})
    for (const p of pages) {
      const s = await p.page.evaluate(() => window.provider.stats())
      for (const code of Object.keys(s.errors)) assert.ok(['MALFORMED_FRAME', 'UNKNOWN_MESSAGE_TYPE', 'TIMEOUT', 'FRAME_TOO_LARGE', 'NOT_APPLIED'].includes(code), code)
      assert.ok(s.closes.protocol >= 1, 'a malformed frame closes the connection')
      assert.deepEqual(p.problems(), [], 'no trap, no page error')
      // Still working: it reconnects...
      await until(() => p.page.evaluate(() => window.provider.synced), 10_000, 'synced again')
    }
    // ...and the same instance syncs a new document with the peer. (Not this room's document:
    // an undetectable corruption may have put phantom items in it that later edits depend on,
    // which the server then keeps pending — seen in about one run in eight.)
    const fresh = yjsPeer(server.url, room + '-after')
    try {
      await fresh.synced
      for (const [i, p] of pages.entries()) {
        await p.page.evaluate(async ({ url, room, i }) => {
          const doc = new window.ysync.Doc()
          const provider = new window.ysync.WebsocketProvider(url, room, doc, { disableBc: true })
          await provider.whenSynced()
          doc.getMap('m').set('alive' + i, true)
          await provider.whenAcknowledged()
          provider.destroy()
        }, { url: proxy.url, room: room + '-after', i })
      }
      await until(() => fresh.doc.getMap('m').get('alive0') === true && fresh.doc.getMap('m').get('alive1') === true, 10_000, 'new edits reach the peer')
    } finally {
      fresh.destroy()
    }
    assert.ok(proxy.stats.corrupted > 0)
  } finally {
    peer.destroy()
    for (const p of pages) await p.context.close()
  }
})

test(`seed ${SEED}: a stalled link (open but silent): edits wait, the heartbeat reconnects, nothing is lost`, async () => {
  const room = `stall-${SEED}`
  const pages = [await page(room), await page(room)]
  const peer = yjsPeer(server.url, room)
  await peer.synced
  try {
    await Promise.all(pages.map((p) => p.page.evaluate(() => window.provider.whenSynced())))
    proxy.set({ stall: true })
    await applyInPage(pages[0].page, { kind: 'push', v: 'during-stall-0' })
    await applyInPage(pages[1].page, { kind: 'text', at: 0, s: 'stalled ' })
    peer.doc.getMap('m').set('peer', 'while stalled')
    await until(() => pages[0].page.evaluate(() => window.provider.stats().closes.timeout >= 1), 10_000, 'the heartbeat to give up')
    assert.equal(await pages[0].page.evaluate(() => window.provider.hasUnsyncedChanges), true)
    proxy.set({})
    await converge(pages, peer, 'convergence after the stall')
    assert.deepEqual(peer.doc.getArray('a').toJSON(), ['during-stall-0'])
    for (const p of pages) assert.deepEqual(p.problems(), [])
  } finally {
    peer.destroy()
    for (const p of pages) await p.context.close()
  }
})
