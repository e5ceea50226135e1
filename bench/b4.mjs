// B4: the automerge-paper editing trace (259,778 single-character edits, bench/data), replayed
// one transaction per edit with an update listener, three ways in one browser page: ysync's JS
// API, the same trace inside wasm through yrs's Rust API (no JS in the loop; the `bench`
// build), and Yjs 13.6 (ES module build). Each must end with the trace's final text.
import { ensureBuilt, launchPage, loadTrace, median, row } from './lib.mjs'

export async function run ({ quick, runs, web, peersPage }) {
  ensureBuilt('bench')
  const { patches, endContent } = loadTrace(quick ? 5000 : 0)
  const b = await launchPage(web.url + peersPage('/target/bench-pkg/ysync.js', 'bench-peers.html'))
  await b.page.evaluate(({ patches }) => { window.trace = patches }, { patches })

  /** The trace through a JS API: ysync's or Yjs's (the same calls on both). */
  const replayJs = (lib) => b.page.evaluate((lib) => {
    const doc = lib === 'ysync' ? new window.ysync.Doc() : new window.Y.Doc()
    const t = doc.getText('t')
    let bytes = 0
    doc.on('update', (u) => { bytes += u.length })
    const t0 = performance.now()
    window.replayTrace(t, window.trace)
    const ms = performance.now() - t0
    return { ms, text: t.toString(), bytes }
  }, lib)

  const res = { api: [], rust: [], yjs: [] }
  try {
    for (let r = 0; r < runs; r++) {
      res.api.push(await replayJs('ysync'))
      res.rust.push(await b.page.evaluate(() => {
        const n = window.trace.length
        const pos = new Uint32Array(n)
        const del = new Uint32Array(n)
        const insLen = new Uint32Array(n)
        let ins = ''
        window.trace.forEach(([p, d, s], i) => { pos[i] = p; del[i] = d; insLen[i] = s.length; ins += s })
        const t0 = performance.now()
        const [text, bytes] = window.ysync.benchReplayTrace(pos, del, ins, insLen)
        return { ms: performance.now() - t0, text, bytes }
      }))
      res.yjs.push(await replayJs('yjs'))
    }
  } finally {
    await b.close()
  }
  for (const [k, rs] of Object.entries(res)) {
    for (const r of rs) {
      if (r.text !== endContent) throw new Error(`B4 ${k}: the replay did not produce the trace's final text`)
      if (!(r.bytes > 0)) throw new Error(`B4 ${k}: no update was observed`)
    }
  }
  const ms = (k) => median(res[k].map((r) => r.ms))
  const overhead = ms('api') / ms('rust')
  const edits = patches.length.toLocaleString('en')
  return [
    row('B4 trace', `${edits} edits, one transaction each: JS API`, ms('api'), ms('yjs'), 'ms',
      { text: `JS API ≤ 1.10x Rust-in-wasm: ${overhead.toFixed(3)}x`, met: overhead <= 1.1 }),
    row('B4 trace', `${edits} edits: Rust API inside wasm (no JS per edit)`, ms('rust'), ms('yjs')),
    row('B4 trace', 'update bytes observed', median(res.api.map((r) => r.bytes)), median(res.yjs.map((r) => r.bytes)), 'bytes')
  ]
}
