// Memory per loaded B4 document: K documents parsed from the same Yjs-made update and kept
// alive, in a new browser process per library; after a forced garbage collection, the growth
// of the JS heap (DevTools Runtime.getHeapUsage) plus, for ysync, of the wasm linear memory,
// divided by K. Then what fills ysync's part, in the `bench` build (its allocator counts the
// bytes live and the peak: src/js/bench_heap.rs): per document, the live heap of a ysync
// document, of a bare yrs document loaded from the same update, and of an empty ysync
// document; the peak while loading; and the wasm memory reserved.
import { b4Doc } from './corpus.mjs'
import { ensureBuilt, launchPage, median, row } from './lib.mjs'

export async function run ({ quick, runs, web, peersPage }) {
  ensureBuilt('pkg')
  ensureBuilt('bench')
  const K = quick ? 2 : 10
  const doc = b4Doc({ quick })
  const res = { ysync: [], yjs: [] }
  for (let r = 0; r < runs; r++) {
    for (const lib of r % 2 ? ['yjs', 'ysync'] : ['ysync', 'yjs']) {
      const b = await launchPage(web.url + peersPage())
      try {
        await b.page.evaluate(async (path) => { window.update = new Uint8Array(await (await fetch(path)).arrayBuffer()) }, doc.path)
        const measure = async () => {
          await b.cdp.send('HeapProfiler.collectGarbage')
          const { usedSize } = await b.cdp.send('Runtime.getHeapUsage')
          const wasm = await b.page.evaluate(() => window.wasm.memory.buffer.byteLength)
          return { heap: usedSize, wasm }
        }
        const before = await measure()
        const length = await b.page.evaluate(({ lib, k }) => {
          window.keep = []
          for (let i = 0; i < k; i++) {
            if (lib === 'ysync') {
              const d = new window.ysync.Doc()
              d.applyUpdate(window.update)
              window.keep.push([d, d.getText('t')])
            } else {
              const d = new window.Y.Doc()
              window.Y.applyUpdate(d, window.update)
              window.keep.push([d, d.getText('t')])
            }
          }
          return window.keep.map(([, t]) => t.length).reduce((a, b) => a + b, 0)
        }, { lib, k: K })
        if (!(length > 0)) throw new Error('nothing loaded')
        const after = await measure()
        res[lib].push({ heap: (after.heap - before.heap) / K, wasm: (after.wasm - before.wasm) / K })
      } finally {
        await b.close()
      }
    }
  }
  const m = (lib, k) => median(res[lib].map((x) => x[k]))
  const fill = []
  for (let r = 0; r < runs; r++) fill.push(await breakdown({ web, peersPage, doc, K }))
  const f = (k) => median(fill.map((x) => x[k]))
  const mb = (n) => (n / 1e6).toFixed(2) + ' MB'
  return [
    row('Memory', `per loaded B4 document (${K} kept): wasm memory + JS heap`, m('ysync', 'wasm') + m('ysync', 'heap'), m('yjs', 'heap'), 'bytes',
      { text: `≤ 1.25x Yjs (issue #20): ${((m('ysync', 'wasm') + m('ysync', 'heap')) / m('yjs', 'heap')).toFixed(2)}x`, met: m('ysync', 'wasm') + m('ysync', 'heap') <= 1.25 * m('yjs', 'heap') }),
    { note: `Memory per B4 document, ysync: ${(m('ysync', 'wasm') / 1e6).toFixed(2)} MB of wasm memory (grows in 64 KiB pages, never shrinks) + ${(m('ysync', 'heap') / 1e6).toFixed(3)} MB of JS heap.` },
    { note: `What fills it (the bench build, counting its allocator; medians of ${runs}): per document ${mb(f('live'))} live in the wasm heap, of which a bare yrs document loaded from the same update holds ${mb(f('bare'))} and an empty ysync Doc ${(f('empty') / 1e3).toFixed(1)} KB; loading them peaked ${mb(f('peak'))} above what was live before, per document; wasm memory grew ${mb(f('wasm'))} per document.` }
  ]
}

/** Live heap bytes per document in the bench build (see the top of this file). */
async function breakdown ({ web, peersPage, doc, K }) {
  const b = await launchPage(web.url + peersPage('/target/bench-pkg/ysync.js', 'bench-peers.html'))
  try {
    await b.page.evaluate(async (path) => { window.update = new Uint8Array(await (await fetch(path)).arrayBuffer()) }, doc.path)
    return await b.page.evaluate((k) => {
      const y = window.ysync
      const heap = () => { const [live, peak] = y.benchHeap(); return { live, peak } }
      const perDoc = (make) => {
        const m0 = window.wasm.memory.buffer.byteLength
        const h0 = heap()
        const keep = []
        for (let i = 0; i < k; i++) keep.push(make())
        const h1 = heap()
        return { live: (h1.live - h0.live) / k, peak: (h1.peak - h0.live) / k, wasm: (window.wasm.memory.buffer.byteLength - m0) / k, keep }
      }
      const loaded = perDoc(() => { const d = new y.Doc(); d.applyUpdate(window.update); return d })
      if (!(loaded.keep[0].getText('t').length > 0)) throw new Error('nothing loaded')
      const empty = perDoc(() => new y.Doc())
      const h0 = heap()
      for (let i = 0; i < k; i++) y.benchLoadYrs(window.update)
      const bare = (heap().live - h0.live) / k
      y.benchDropYrs()
      for (const d of [...loaded.keep, ...empty.keep]) d.destroy()
      return { live: loaded.live, peak: loaded.peak, wasm: loaded.wasm, empty: empty.live, bare }
    }, K)
  } finally {
    await b.close()
  }
}
