// Encode (v1, v2) and cold parse of the B4 document and of B4 x 100, in one browser page. Both
// libraries load the same Yjs-made update first; encode times each library's own encoder on
// its loaded document; parse loads the bytes Yjs wrote (what an app has stored or is served)
// into a new document, the cold path of opening a document. Sizes are each library's output.
// Then, in another page, mergeUpdates of 10,000 one-edit updates.
import { b4Doc } from './corpus.mjs'
import { ensureBuilt, launchPage, median, row } from './lib.mjs'

export async function run ({ quick, runs, web, peersPage }) {
  ensureBuilt('pkg')
  const docs = [['B4', b4Doc({ quick })], [quick ? 'B4 x 3' : 'B4 x 100', b4Doc({ quick, times: 100 })]]
  const rows = []
  for (const [label, doc] of docs) {
    // A new browser per document: B4 x 100 leaves hundreds of MB of wasm memory behind.
    const b = await launchPage(web.url + peersPage())
    let r
    try {
      r = await b.page.evaluate(async ({ path, runs }) => {
        const { ysync, Y } = window
        const update = new Uint8Array(await (await fetch(path)).arrayBuffer())
        const ys = new ysync.Doc()
        ys.applyUpdate(update)
        const yj = new Y.Doc()
        Y.applyUpdate(yj, update)
        if (ys.getText('t').toString() !== yj.getText('t').toString()) throw new Error('the documents differ')
        const yjsV2 = Y.encodeStateAsUpdateV2(yj)
        const time = (f) => { const t0 = performance.now(); const out = f(); return [performance.now() - t0, out] }
        const out = { encV1: { ysync: [], yjs: [] }, encV2: { ysync: [], yjs: [] }, parseV1: { ysync: [], yjs: [] }, parseV2: { ysync: [], yjs: [] }, size: {} }
        for (let i = 0; i < runs; i++) {
          let t, bytes
          ;[t, bytes] = time(() => ys.encodeStateAsUpdate()); out.encV1.ysync.push(t); out.size.ysyncV1 = bytes.length
          ;[t, bytes] = time(() => Y.encodeStateAsUpdate(yj)); out.encV1.yjs.push(t); out.size.yjsV1 = bytes.length
          ;[t, bytes] = time(() => ys.encodeStateAsUpdateV2()); out.encV2.ysync.push(t); out.size.ysyncV2 = bytes.length
          ;[t, bytes] = time(() => Y.encodeStateAsUpdateV2(yj)); out.encV2.yjs.push(t); out.size.yjsV2 = bytes.length
          // Parse into a new document (its root read, as an app opening it would), then free it.
          const length = yj.getText('t').length
          const parse = (lib, v2) => {
            const bytes = v2 ? yjsV2 : update
            const [ms, d] = time(() => {
              if (lib === 'ysync') {
                const d = new ysync.Doc()
                if (v2) d.applyUpdateV2(bytes); else d.applyUpdate(bytes)
                if (d.getText('t').length !== length) throw new Error('ysync parsed a different text')
                return d
              }
              const d = new Y.Doc()
              if (v2) Y.applyUpdateV2(d, bytes); else Y.applyUpdate(d, bytes)
              if (d.getText('t').length !== length) throw new Error('Yjs parsed a different text')
              return d
            })
            if (lib === 'ysync') d.free(); else d.destroy()
            return ms
          }
          // Alternate which library goes first: the first pays for the page's warm-up.
          for (const lib of i % 2 ? ['yjs', 'ysync'] : ['ysync', 'yjs']) {
            out.parseV1[lib].push(parse(lib, false))
            out.parseV2[lib].push(parse(lib, true))
          }
        }
        return out
      }, { path: doc.path, runs })
    } finally {
      await b.close()
    }
    const m = (k, lib) => median(r[k][lib])
    rows.push(
      row('Encode / parse', `${label}: encode v1`, m('encV1', 'ysync'), m('encV1', 'yjs')),
      row('Encode / parse', `${label}: encode v2`, m('encV2', 'ysync'), m('encV2', 'yjs')),
      row('Encode / parse', `${label}: cold parse of Yjs's v1 (new doc + applyUpdate)`, m('parseV1', 'ysync'), m('parseV1', 'yjs')),
      row('Encode / parse', `${label}: cold parse of Yjs's v2 (applyUpdateV2)`, m('parseV2', 'ysync'), m('parseV2', 'yjs')),
      row('Encode / parse', `${label}: size of the v1 encoding`, r.size.ysyncV1, r.size.yjsV1, 'bytes'),
      row('Encode / parse', `${label}: size of the v2 encoding`, r.size.ysyncV2, r.size.yjsV2, 'bytes')
    )
  }
  // mergeUpdates of many one-edit updates (a store's rows, keystrokes made offline): both
  // libraries get the same Yjs-made updates and must produce an update that loads the same text.
  const n = quick ? 500 : 10_000
  const b = await launchPage(web.url + peersPage())
  try {
    const r = await b.page.evaluate(({ n, runs }) => {
      const { ysync, Y } = window
      const updates = window.oneEditRows(Y, n)
      const merge = { ysync: (us) => ysync.mergeUpdates(us), yjs: (us) => Y.mergeUpdates(us) }
      const out = { ysync: [], yjs: [] }
      for (let i = 0; i < runs; i++) {
        for (const lib of i % 2 ? ['yjs', 'ysync'] : ['ysync', 'yjs']) {
          const t0 = performance.now()
          const merged = merge[lib](updates)
          out[lib].push(performance.now() - t0)
          const check = new Y.Doc()
          Y.applyUpdate(check, merged)
          if (check.getText('t').length !== n) throw new Error(`${lib}'s merged update holds ${check.getText('t').length} characters`)
        }
      }
      return out
    }, { n, runs })
    rows.push(row('Encode / parse', `mergeUpdates of ${n.toLocaleString('en')} one-edit updates`, median(r.ysync), median(r.yjs)))
  } finally {
    await b.close()
  }
  return rows
}
