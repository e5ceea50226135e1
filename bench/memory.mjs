// Memory per loaded B4 document: K documents parsed from the same Yjs-made update and kept
// alive, in a new browser process per library; after a forced garbage collection, the growth
// of the JS heap (DevTools Runtime.getHeapUsage) plus, for ysync, of the wasm linear memory,
// divided by K.
import { b4Doc } from './corpus.mjs'
import { ensureBuilt, launchPage, median, row } from './lib.mjs'

export async function run ({ quick, runs, web, peersPage }) {
  ensureBuilt('pkg')
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
  return [
    row('Memory', `per loaded B4 document (${K} kept): wasm memory + JS heap`, m('ysync', 'wasm') + m('ysync', 'heap'), m('yjs', 'heap'), 'bytes'),
    { note: `Memory per B4 document, ysync: ${(m('ysync', 'wasm') / 1e6).toFixed(2)} MB of wasm memory (grows in 64 KiB pages, never shrinks) + ${(m('ysync', 'heap') / 1e6).toFixed(3)} MB of JS heap.` }
  ]
}
