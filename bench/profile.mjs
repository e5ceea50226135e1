// Where the time goes: a CPU profile (Chromium's sampling profiler) of one workload on an
// unstripped build of ysync (target/prof-pkg, with function names), printed as the functions
// with the most self time. A tool for finding what to speed up; it asserts nothing.
//   node bench/profile.mjs b4      the B4 trace through the JS API, then through Rust-in-wasm
//   node bench/profile.mjs big     applyUpdate of the 10 MB document, 5 times
//   node bench/profile.mjs rows    10,000 one-edit rows through applyUpdate (in transactions of
//                                  256, as the persistence loads them), 5 times
//   --top N                        how many functions to print (default 25)
//   --cold                         big or rows: instead, the first call in each of 3 new
//                                  browser processes (the release build in pkg/), traced: V8's
//                                  compile work for it, on the page's thread and on the others
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { startStatic } from '../e2e/lib.mjs'
import { writePeersPage } from '../e2e/browser-peers.mjs'
import { bigDoc } from './corpus.mjs'
import { ensureBuilt, launchPage, loadTrace, median, repoRoot } from './lib.mjs'

const what = process.argv[2]
const WORKLOADS = ['b4', 'big', 'rows']
if (!WORKLOADS.includes(what)) throw new Error(`usage: node bench/profile.mjs ${WORKLOADS.join('|')} [--top N] [--cold]`)
const i = process.argv.indexOf('--top')
const top = i > 0 ? Number(process.argv[i + 1]) : 25
if (process.argv.includes('--cold')) {
  if (what === 'b4') throw new Error('--cold is for big or rows')
  await cold()
  process.exit(0)
}

// The bench build (for B4's Rust path) without `strip`, so the profile names wasm functions.
execFileSync('wasm-pack', ['build', '--target', 'web', '--release', '--mode', 'no-install', '--out-dir', 'target/prof-pkg', '--out-name', 'ysync', '--', '--features', 'bench'],
  { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, CARGO_PROFILE_RELEASE_STRIP: 'false' } })

const web = await startStatic(repoRoot)
const b = await launchPage(web.url + writePeersPage({ pkg: '/target/prof-pkg/ysync.js', file: 'prof-peers.html' }))

/** Runs `run` once to warm up, then profiled; prints its times and the top functions. */
async function profile (label, run) {
  await run()
  await b.cdp.send('Profiler.enable')
  await b.cdp.send('Profiler.setSamplingInterval', { interval: 100 })
  await b.cdp.send('Profiler.start')
  const ms = await run()
  const { profile: p } = await b.cdp.send('Profiler.stop')
  const nodes = new Map(p.nodes.map((n) => [n.id, n]))
  const self = new Map()
  p.samples.forEach((id, k) => {
    const name = (nodes.get(id).callFrame.functionName || '(anonymous)').replace(/::h[0-9a-f]{16}$/, '')
    self.set(name, (self.get(name) ?? 0) + p.timeDeltas[k] / 1000)
  })
  const total = [...self.values()].reduce((a, x) => a + x, 0)
  console.log(`\n## ${label}: ${[ms].flat().map((x) => x.toFixed(1)).join(', ')} ms (profiled)\n`)
  console.log('| self ms | % | function |\n|---:|---:|---|')
  for (const [name, t] of [...self].sort((x, y) => y[1] - x[1]).slice(0, top)) {
    console.log(`| ${t.toFixed(1)} | ${(100 * t / total).toFixed(1)} | ${name.slice(0, 120).replace(/\|/g, '\\|')} |`)
  }
}

try {
  if (what === 'b4') {
    await b.page.evaluate((patches) => { window.trace = patches }, loadTrace(0).patches)
    await profile('B4, JS API', () => b.page.evaluate(() => {
      const doc = new window.ysync.Doc()
      const t = doc.getText('t')
      doc.on('update', () => {})
      const t0 = performance.now()
      window.replayTrace(t, window.trace)
      return performance.now() - t0
    }))
    await profile('B4, Rust API inside wasm', () => b.page.evaluate(() => {
      const n = window.trace.length
      const [pos, del, insLen] = [new Uint32Array(n), new Uint32Array(n), new Uint32Array(n)]
      let ins = ''
      window.trace.forEach(([p, d, s], k) => { pos[k] = p; del[k] = d; insLen[k] = s.length; ins += s })
      const t0 = performance.now()
      window.ysync.benchReplayTrace(pos, del, ins, insLen)
      return performance.now() - t0
    }))
  } else {
    await loadRows(b.page)
    await profile(what === 'big' ? '10 MB document, applyUpdate x 5' : '10,000 rows, applyUpdate each in transactions of 256, x 5', () => b.page.evaluate(() => {
      const out = []
      for (let k = 0; k < 5; k++) {
        const t0 = performance.now()
        window.applyRowsAsLoaded(new window.ysync.Doc(), window.rows)
        out.push(performance.now() - t0)
      }
      return out
    }))
  }
} finally {
  await b.close()
  await web.stop?.()
}

/** Loads the workload's rows into a new page's `window.rows` (no ysync call made). */
async function loadRows (page) {
  if (what === 'big') {
    const path = bigDoc({ quick: false }).path
    await page.evaluate(async (path) => { window.rows = [new Uint8Array(await (await fetch(path)).arrayBuffer())] }, path)
  } else {
    await page.evaluate(() => { window.rows = window.oneEditRows(window.Y, 10_000) })
  }
}

/**
 * The first call in new processes, traced: what V8 compiles for it and where. A function's
 * first call compiles it (Liftoff, on the calling thread); hot functions are compiled again
 * by TurboFan on worker threads, which share the machine's cores with the page.
 */
async function cold () {
  ensureBuilt('pkg')
  const web = await startStatic(repoRoot)
  const url = web.url + writePeersPage({ file: 'cold-peers.html' })
  const runs = []
  try {
    for (let r = 0; r < 3; r++) {
      const b = await launchPage(url)
      try {
        await loadRows(b.page)
        const browser = b.page.context().browser()
        const path = join(mkdtempSync(join(tmpdir(), 'ysync-trace-')), 'trace.json')
        await browser.startTracing(b.page, { path, categories: ['v8.wasm', 'disabled-by-default-v8.compile', 'v8.execute'] })
        const ms = await b.page.evaluate(() => {
          const t0 = performance.now()
          window.applyRowsAsLoaded(new window.ysync.Doc(), window.rows)
          return performance.now() - t0
        })
        await browser.stopTracing()
        const events = JSON.parse(readFileSync(path, 'utf8')).traceEvents
        rmSync(dirname(path), { recursive: true, force: true })
        const threads = new Map(events.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => [`${e.pid}:${e.tid}`, e.args.name]))
        const sums = new Map()
        for (const e of events) {
          if (e.ph !== 'X' || !e.dur) continue
          const where = threads.get(`${e.pid}:${e.tid}`) === 'CrRendererMain' ? 'page thread' : 'other threads'
          const k = `${where}: ${e.name}`
          const a = sums.get(k) ?? { ms: 0, n: 0 }
          a.ms += e.dur / 1000
          a.n++
          sums.set(k, a)
        }
        runs.push({ ms, sums })
      } finally {
        await b.close()
      }
    }
  } finally {
    await web.stop()
  }
  const label = what === 'big' ? '10 MB document, applyUpdate' : '10,000 rows, applyUpdate each in transactions of 256'
  console.log(`\n## ${label}: first call in a new process, ${runs.map((x) => x.ms.toFixed(1)).join(', ')} ms\n`)
  console.log('| where: V8 trace event | ms (median of 3) | events |\n|---|---:|---:|')
  const keys = [...new Set(runs.flatMap((x) => [...x.sums.keys()]))]
  const med = (k, f) => median(runs.map((x) => f(x.sums.get(k) ?? { ms: 0, n: 0 })))
  for (const k of keys.sort((a, b) => med(b, (x) => x.ms) - med(a, (x) => x.ms)).slice(0, top)) {
    console.log(`| ${k} | ${med(k, (x) => x.ms).toFixed(1)} | ${med(k, (x) => x.n)} |`)
  }
}
