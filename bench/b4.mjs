// B4: the automerge-paper editing trace (259,778 single-character edits, bench/data), replayed
// in headless Chromium one transaction per edit with an update listener, three ways in the same
// browser: ysync's JS API, the same trace inside wasm through yrs's Rust API (no JS in the
// loop), and Yjs 13.6 (ES module build). Each must end with the trace's final text. Prints a
// Markdown table; the medians of RUNS runs.
//   node bench/b4.mjs           the whole trace, 3 runs
//   node bench/b4.mjs --quick   the first 5,000 edits, 1 run (CI: checks the harness runs)
// Needs the bench build of the package (target/bench-pkg, made here if missing or stale).
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startStatic, repoRoot } from '../e2e/lib.mjs'
import { writePeersPage } from '../e2e/browser-peers.mjs'
import { launchPage } from './browser.mjs'

const quick = process.argv.includes('--quick')
const RUNS = quick ? 1 : 3

// The bench build: the package plus `benchReplayTrace` (cargo feature `bench`).
const benchPkg = join(repoRoot, 'target/bench-pkg/ysync_bg.wasm')
const newest = (dir) => Math.max(...readdirSync(dir, { recursive: true }).map((f) => statSync(join(dir, String(f))).mtimeMs))
const sources = Math.max(newest(join(repoRoot, 'src')), statSync(join(repoRoot, 'Cargo.toml')).mtimeMs)
if (!existsSync(benchPkg) || statSync(benchPkg).mtimeMs < sources) {
  execFileSync('wasm-pack', ['build', '--target', 'web', '--release', '--mode', 'no-install', '--out-dir', 'target/bench-pkg', '--out-name', 'ysync', '--', '--features', 'bench'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] })
}

const trace = JSON.parse(gunzipSync(readFileSync(join(repoRoot, 'bench/data/automerge-paper.json.gz'))))
let patches = trace.txns.map((t) => t.patches[0])
let endContent = trace.endContent
if (quick) {
  patches = patches.slice(0, 5000)
  let s = trace.startContent
  for (const [pos, del, ins] of patches) s = s.slice(0, pos) + ins + s.slice(pos + del)
  endContent = s
}

const pagePath = writePeersPage({ pkg: '/target/bench-pkg/ysync.js', file: 'bench-peers.html' })
const web = await startStatic(repoRoot)
const profile = mkdtempSync(join(tmpdir(), 'ysync-b4-'))
const b = await launchPage(web.url + pagePath, profile)

await b.page.evaluate(({ patches }) => { window.trace = patches }, { patches })

/** The trace through a JS API: ysync's or Yjs's (the same calls on both). */
const replayJs = (lib) => b.page.evaluate((lib) => {
  const doc = lib === 'ysync' ? new window.ysync.Doc() : new window.Y.Doc()
  const t = doc.getText('t')
  let bytes = 0
  doc.on('update', (u) => { bytes += u.length })
  const t0 = performance.now()
  for (const [pos, del, ins] of window.trace) {
    if (del > 0) t.delete(pos, del)
    if (ins.length > 0) t.insert(pos, ins)
  }
  const ms = performance.now() - t0
  return { ms, text: t.toString(), bytes }
}, lib)

const runs = { api: [], rust: [], yjs: [] }
for (let run = 0; run < RUNS; run++) {
  runs.api.push(await replayJs('ysync'))
  runs.rust.push(await b.page.evaluate(() => {
    const n = window.trace.length
    const pos = new Uint32Array(n)
    const del = new Uint32Array(n)
    const insLen = new Uint32Array(n)
    let ins = ''
    window.trace.forEach(([p, d, s], i) => { pos[i] = p; del[i] = d; insLen[i] = s.length; ins += s })
    const t0 = performance.now()
    const [text, bytes] = window.ysync.benchReplayTrace(pos, del, ins, insLen)
    const ms = performance.now() - t0
    return { ms, text, bytes }
  }))
  runs.yjs.push(await replayJs('yjs'))
}
await b.close()
await web.stop()
rmSync(profile, { recursive: true, force: true })

for (const [k, rs] of Object.entries(runs)) {
  for (const r of rs) {
    if (r.text !== endContent) throw new Error(`${k}: the replay did not produce the trace's final text`)
    if (!(r.bytes > 0)) throw new Error(`${k}: no update was observed`)
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const ms = (k) => median(runs[k].map((r) => r.ms))
const f = (x) => x >= 100 ? Math.round(x).toLocaleString('en') + ' ms' : x.toFixed(1) + ' ms'
const edits = patches.length.toLocaleString('en')
console.log(`B4: automerge-paper trace, ${edits} edits, one transaction per edit, update listener; median of ${RUNS} in one Chromium (${quick ? 'quick mode' : 'full trace'})\n`)
console.log('| path | time | vs Yjs (time / Yjs time) |\n|---|---:|---:|')
console.log(`| ysync JS API (\`text.insert/delete\`, \`doc.on('update')\`) | ${f(ms('api'))} | ${(ms('api') / ms('yjs')).toFixed(2)}x |`)
console.log(`| same build, trace replayed inside wasm (yrs Rust API + update observer) | ${f(ms('rust'))} | ${(ms('rust') / ms('yjs')).toFixed(2)}x |`)
console.log(`| Yjs 13.6.33 (ES module) | ${f(ms('yjs'))} | 1.00x |`)
console.log(`\nJS API overhead over Rust-in-wasm: ${((ms('api') / ms('rust') - 1) * 100).toFixed(1)}% (goal: at most 10%). Update bytes observed: ysync ${median(runs.api.map((r) => r.bytes)).toLocaleString('en')}, Yjs ${median(runs.yjs.map((r) => r.bytes)).toLocaleString('en')}.`)
