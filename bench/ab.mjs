// Two builds of the wasm, same JS glue, in one page: which decodes faster. For a change that
// trades size for speed (docs/size.md, wasm-opt): separate browser processes at different
// times differ more than two builds do, so both run in the same page, alternating, in each
// of 3 new browser processes.
//   node bench/ab.mjs A.wasm B.wasm [C.wasm ...]
// Each build gets pkg/'s glue (build it first: scripts/build.sh); the exports must match.
// Prints, per build, the median warm time of 10,000 one-edit rows applied to a new Doc (one
// applyUpdate each, and as stored rows load: e2e/pages/rows.js applyRowsAsLoaded), of
// the 10 MB document's update (bench/corpus.mjs) and of the first 50,000 edits of the B4 trace
// through the JS API (bench/b4.mjs: ysync's own per-call code), and the first call of the rows
// and the document in each process.
import { cpSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import * as Y from 'yjs'
import { startStatic } from '../e2e/lib.mjs'
import { oneEditRows } from '../e2e/pages/rows.js'
import { bigDoc } from './corpus.mjs'
import { launchPage, loadTrace, median, repoRoot } from './lib.mjs'

const files = process.argv.slice(2)
if (files.length < 2) throw new Error('usage: node bench/ab.mjs A.wasm B.wasm [...]')
const dir = join(repoRoot, 'target/ab')
rmSync(dir, { recursive: true, force: true })
const names = files.map((f, i) => `${i}-${basename(f, '.wasm')}`)
files.forEach((f, i) => {
  const out = join(dir, names[i])
  mkdirSync(out, { recursive: true })
  copyFileSync(join(repoRoot, 'pkg/ysync.js'), join(out, 'ysync.js'))
  cpSync(join(repoRoot, 'pkg/snippets'), join(out, 'snippets'), { recursive: true })
  copyFileSync(f, join(out, 'ysync_bg.wasm'))
})
writeFileSync(join(dir, 'rows.json'), JSON.stringify(oneEditRows(Y, 10_000).map((u) => Array.from(u))))
writeFileSync(join(dir, 'page.html'), '<!doctype html><script>window.ysyncReady = true</script>')
const big = bigDoc({ quick: false })
const b4 = loadTrace(50000)
const bigYjs = new Y.Doc()
Y.applyUpdate(bigYjs, big.bytes)
const bigText = { name: 't', length: bigYjs.getText('t').length }

const web = await startStatic(repoRoot)
const res = Object.fromEntries(names.map((n) => [n, { rows: [], loaded: [], big: [], b4: [], first: [] }]))
try {
  for (let p = 0; p < 3; p++) {
    const b = await launchPage(web.url + '/target/ab/page.html')
    try {
      const r = await b.page.evaluate(async ({ names, bigPath, bigText, patches, endContent }) => {
        const { replayTrace } = await import('/e2e/pages/trace.js')
        const { applyRowsAsLoaded } = await import('/e2e/pages/rows.js')
        const mods = []
        for (const n of names) {
          const m = await import(`/target/ab/${n}/ysync.js`)
          await m.default(`/target/ab/${n}/ysync_bg.wasm`)
          mods.push([n, m])
        }
        const rows = (await (await fetch('/target/ab/rows.json')).json()).map((r) => new Uint8Array(r))
        const big = new Uint8Array(await (await fetch(bigPath)).arrayBuffer())
        const out = {}
        for (let round = 0; round < 8; round++) {
          for (const [n, m] of (round % 2 ? [...mods].reverse() : mods)) {
            let t0 = performance.now()
            const d = new m.Doc()
            for (const u of rows) d.applyUpdate(u)
            const rowsMs = performance.now() - t0
            if (d.getText('t').length !== rows.length) throw new Error(`${n}: rows not applied`)
            d.free()
            t0 = performance.now()
            const l = new m.Doc()
            applyRowsAsLoaded(l, rows)
            const loadedMs = performance.now() - t0
            if (l.getText('t').length !== rows.length) throw new Error(`${n}: rows not applied as loaded`)
            l.free()
            t0 = performance.now()
            const e = new m.Doc()
            e.applyUpdate(big)
            const bigMs = performance.now() - t0
            if (e.getText(bigText.name).length !== bigText.length) throw new Error(`${n}: the document was not applied`)
            e.free()
            const f = new m.Doc()
            const t = f.getText('t')
            let bytes = 0
            f.on('update', (u) => { bytes += u.length })
            t0 = performance.now()
            replayTrace(t, patches)
            const b4Ms = performance.now() - t0
            if (t.toString() !== endContent || bytes === 0) throw new Error(`${n}: the trace did not produce its final text`)
            f.free()
            ;(out[n] ??= []).push([rowsMs, bigMs, b4Ms, loadedMs])
          }
        }
        return out
      }, { names, bigPath: big.path, bigText, patches: b4.patches, endContent: b4.endContent })
      for (const n of names) {
        res[n].first.push(r[n][0])
        // The first two rounds warm the tiers up; the rest are warm.
        for (const [rowsMs, bigMs, b4Ms, loadedMs] of r[n].slice(2)) { res[n].rows.push(rowsMs); res[n].loaded.push(loadedMs); res[n].big.push(bigMs); res[n].b4.push(b4Ms) }
      }
    } finally {
      await b.close()
    }
  }
} finally {
  await web.stop()
}
console.log('| build | 10,000 rows, warm | the rows as stored rows load, warm | 10 MB document, warm | B4 50,000 edits, JS API, warm | first calls (rows, document) per process |\n|---|---:|---:|---:|---:|---|')
for (const n of names) {
  const { rows, loaded, big, b4, first } = res[n]
  console.log(`| ${n} | ${median(rows).toFixed(1)} ms | ${median(loaded).toFixed(1)} ms | ${median(big).toFixed(1)} ms | ${median(b4).toFixed(1)} ms | ${first.map(([a, b]) => `${a.toFixed(0)}, ${b.toFixed(0)}`).join('; ')} ms |`)
}
