// Through a real @y/websocket-server on 127.0.0.1, ysync's WebsocketProvider against
// y-websocket 3's (Yjs 13.6 ES module build) in the same headless Chromium page, no
// BroadcastChannel (every byte goes through the server):
//   first sync   a fresh client of a room whose document (B4, ~10 MB) the server holds: from
//                `new Doc()` + provider to synced, the content checked
//   latency      an edit on one client until another client's update event, one at a time
//   fan-out      one writer, many readers: an edit until the last reader has it; and the time
//                for all readers to connect and sync
import { startYServer, yjsPeer, until } from '../e2e/lib.mjs'
import { b4Doc, bigDoc, Y } from './corpus.mjs'
import { ensureBuilt, launchPage, median, percentile, row } from './lib.mjs'

/** In the page: a client of `lib` in `room`, resolved once synced. */
const CLIENT = `
window.benchClient = async (lib, url, room) => {
  if (lib === 'ysync') {
    const doc = new window.ysync.Doc()
    const provider = new window.ysync.WebsocketProvider(url, room, doc, { disableBc: true })
    await provider.whenSynced()
    return { doc, text: doc.getText('t'), destroy () { provider.destroy(); doc.destroy(); doc.free() } }
  }
  const doc = new window.Y.Doc()
  const provider = new window.YWebsocketProvider(url, room, doc, { disableBc: true })
  await new Promise((resolve) => provider.once('sync', resolve))
  return { doc, text: doc.getText('t'), destroy () { provider.destroy(); doc.destroy() } }
}`

export async function run ({ quick, runs, web, peersPage }) {
  ensureBuilt('pkg')
  const server = await startYServer()
  const b = await launchPage(web.url + peersPage())
  const seeds = []
  const out = []
  try {
    await b.page.evaluate(CLIENT)
    const libs = (r) => r % 2 ? ['yjs', 'ysync'] : ['ysync', 'yjs']

    // First sync: a node Yjs peer keeps each document on the server (which drops a room's
    // document when its last connection closes).
    for (const [label, doc] of [['B4 document', b4Doc({ quick })], [`${(bigDoc({ quick }).bytes.length / 1e6).toFixed(1)} MB document`, bigDoc({ quick })]]) {
      const room = 'first-sync-' + doc.name
      const seed = yjsPeer(server.url, room)
      seeds.push(seed)
      await seed.synced
      Y.applyUpdate(seed.doc, doc.bytes)
      const length = seed.doc.getText('t').length
      const check = yjsPeer(server.url, room) // the server holds all of it once a new peer gets it
      await check.synced
      await until(() => check.doc.getText('t').length === length, 30_000, 'the server to hold ' + label)
      check.destroy()
      const ms = { ysync: [], yjs: [] }
      for (let r = 0; r < runs; r++) {
        for (const lib of libs(r)) {
          ms[lib].push(await b.page.evaluate(async ({ lib, url, room, length }) => {
            const t0 = performance.now()
            const c = await window.benchClient(lib, url, room)
            const t = performance.now() - t0
            if (c.text.length !== length) throw new Error(lib + ': first sync got a different text')
            c.destroy()
            return t
          }, { lib, url: server.url, room, length }))
        }
      }
      out.push(row('Network (local y-websocket server)', `first sync of a fresh client: ${label}`, median(ms.ysync), median(ms.yjs)))
    }
    for (const s of seeds.splice(0)) s.destroy()

    // Edit -> observed on another client, one edit at a time.
    const EDITS = quick ? 200 : 5000
    const lat = {}
    for (const lib of ['ysync', 'yjs']) {
      lat[lib] = await b.page.evaluate(async ({ lib, url, room, n }) => {
        const a = await window.benchClient(lib, url, room)
        const c = await window.benchClient(lib, url, room)
        let done = null
        const onUpdate = () => { if (done) { const d = done; done = null; d(performance.now()) } }
        c.doc.on('update', onUpdate)
        const times = []
        for (let i = 0; i < n; i++) {
          const seen = new Promise((resolve) => { done = resolve })
          const t0 = performance.now()
          a.text.insert(i, 'x')
          times.push((await seen) - t0)
        }
        if (c.text.length !== n) throw new Error(lib + ': the reader missed edits')
        a.destroy()
        c.destroy()
        return times
      }, { lib, url: server.url, room: 'latency-' + lib, n: EDITS })
    }
    const p = (lib, q) => percentile(lat[lib], q)
    const p50 = p('ysync', 50) / p('yjs', 50)
    out.push(
      row('Network (local y-websocket server)', `edit -> other client, p50 (${EDITS.toLocaleString('en')} edits)`, p('ysync', 50), p('yjs', 50), 'ms',
        { text: `p50 ≤ 1.2x Yjs: ${p50.toFixed(2)}x`, met: p50 <= 1.2 }),
      row('Network (local y-websocket server)', 'edit -> other client, p90', p('ysync', 90), p('yjs', 90)),
      row('Network (local y-websocket server)', 'edit -> other client, p99', p('ysync', 99), p('yjs', 99), 'ms',
        { text: `p99 < 2 ms: ${p('ysync', 99).toFixed(2)} ms`, met: p('ysync', 99) < 2 })
    )

    // Fan-out: one writer, many readers.
    const READERS = quick ? 5 : 100
    const FAN_EDITS = quick ? 10 : 300
    const fan = {}
    for (const lib of ['ysync', 'yjs']) {
      fan[lib] = await b.page.evaluate(async ({ lib, url, room, readers, n }) => {
        const writer = await window.benchClient(lib, url, room)
        const t0 = performance.now()
        const rs = await Promise.all(Array.from({ length: readers }, () => window.benchClient(lib, url, room)))
        const connect = performance.now() - t0
        let left = 0
        let done = null
        for (const r of rs) r.doc.on('update', () => { if (--left === 0 && done) done(performance.now()) })
        const times = []
        for (let i = 0; i < n; i++) {
          left = readers
          const seen = new Promise((resolve) => { done = resolve })
          const t = performance.now()
          writer.text.insert(i, 'x')
          times.push((await seen) - t)
        }
        for (const r of rs) if (r.text.length !== n) throw new Error(lib + ': a reader missed edits')
        for (const c of [writer, ...rs]) c.destroy()
        return { connect, times }
      }, { lib, url: server.url, room: 'fanout-' + lib, readers: READERS, n: FAN_EDITS })
    }
    out.push(
      row('Network (local y-websocket server)', `fan-out: ${READERS} readers connect and sync`, fan.ysync.connect, fan.yjs.connect),
      row('Network (local y-websocket server)', `fan-out: edit -> last of ${READERS} readers, p50 (${FAN_EDITS} edits)`, percentile(fan.ysync.times, 50), percentile(fan.yjs.times, 50)),
      row('Network (local y-websocket server)', `fan-out: edit -> last of ${READERS} readers, p99`, percentile(fan.ysync.times, 99), percentile(fan.yjs.times, 99))
    )
    if (b.errors.length) throw new Error('page errors: ' + b.errors.join('; '))
  } finally {
    for (const s of seeds) s.destroy()
    await b.close()
    await server.stop()
  }
  return out
}
