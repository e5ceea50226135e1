// ysync side by side with the JS Yjs stack (yjs 13.6 ES module build, y-websocket 3,
// y-indexeddb 9), measured in the same run on the same machine in headless Chromium. Prints one
// Markdown table (ysync, Yjs, ysync / Yjs, the goal where it sets one), writes the
// results as JSON and a chart of the ratios (SVG) to target/bench/.
//   node bench/run.mjs                  every scenario, medians of 3 (15-20 minutes)
//   node bench/run.mjs --quick          small sizes, 1 run: checks the harness works (CI)
//   node bench/run.mjs --only b4,codec  some scenarios: b4 codec persistence network memory bundle editor tabs
//   node bench/run.mjs --chart FILE     also write the chart to FILE (docs/benchmarks-ratios.svg)
//   node bench/run.mjs --rebuild        build the package first even if it looks fresh
// Timings are printed, never asserted; a scenario fails only if a result is wrong (a replay
// that does not end with the trace's text, a client that missed an edit...).
import { cpus, totalmem } from 'node:os'
import { writeFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { startStatic } from '../e2e/lib.mjs'
import { writePeersPage } from '../e2e/browser-peers.mjs'
import { outDir, repoRoot } from './lib.mjs'
import { chart } from './chart.mjs'

const SCENARIOS = ['b4', 'codec', 'persistence', 'network', 'memory', 'bundle', 'editor', 'tabs']
const arg = (name) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined }
const quick = process.argv.includes('--quick')
const only = arg('--only')?.split(',') ?? SCENARIOS
for (const s of only) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s} (one of ${SCENARIOS.join(', ')})`)

const ctx = {
  quick,
  runs: quick ? 1 : 3,
  web: await startStatic(repoRoot),
  /** A page with ysync (`pkg`, or the bench build) and the whole JS Yjs stack loaded. */
  peersPage: (pkg = '/pkg/ysync.js', file = 'bench-pkg-peers.html') => writePeersPage({ pkg, file })
}

const started = Date.now()
const results = []
const notes = []
try {
  for (const s of only) {
    const t0 = Date.now()
    const { run } = await import(`./${s}.mjs`)
    for (const r of await run(ctx)) (r.note ? notes : results).push(r)
    console.error(`bench: ${s} took ${((Date.now() - t0) / 1000).toFixed(0)} s`)
  }
} finally {
  await ctx.web.stop()
}
const seconds = (Date.now() - started) / 1000

const chromium = execFileSync('/usr/bin/chromium', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()
const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, ${chromium}`
const fmt = (v, unit) => {
  if (v === null) return '—'
  if (unit === 'count') return v >= 100 ? Math.round(v).toLocaleString('en') : String(Number(v.toFixed(2)))
  if (unit === 'bytes') return v >= 1e6 ? (v / 1e6).toFixed(2) + ' MB' : v >= 1e4 ? (v / 1024).toFixed(1) + ' KB' : Math.round(v).toLocaleString('en') + ' B'
  return v >= 1000 ? (v / 1000).toFixed(2) + ' s' : v >= 10 ? v.toFixed(1) + ' ms' : v.toFixed(3) + ' ms'
}
const lines = [
  `${quick ? 'Quick run (small sizes, 1 run; timings not meaningful)' : 'Medians of 3 unless a row says otherwise'}: ${new Date().toISOString().slice(0, 10)}, ${machine}; ${seconds.toFixed(0)} s in all.`,
  '',
  '| group | scenario | ysync | Yjs stack | ysync / Yjs | goal |',
  '|---|---|---:|---:|---:|---|'
]
for (const r of results) {
  const ratio = r.yjs ? (r.ysync / r.yjs).toFixed(2) + 'x' : '—'
  const goal = r.goal ? `${r.goal.met ? 'met' : '**not met**'}: ${r.goal.text}` : ''
  lines.push(`| ${r.group} | ${r.scenario} | ${fmt(r.ysync, r.unit)} | ${fmt(r.yjs, r.unit)} | ${ratio} | ${goal} |`)
}
lines.push('', 'ysync / Yjs below 1 means ysync is faster or smaller.', '', ...notes.map((n) => '- ' + n.note))
console.log(lines.join('\n'))

const json = { date: new Date().toISOString(), quick, machine, seconds, results, notes: notes.map((n) => n.note) }
writeFileSync(join(outDir, 'results.json'), JSON.stringify(json, null, 2))
const svg = chart(json)
writeFileSync(join(outDir, 'ratios.svg'), svg)
const chartFile = arg('--chart')
if (chartFile) writeFileSync(chartFile, svg)
