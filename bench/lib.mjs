// Plumbing shared by the benchmark scenarios: builds that must be fresh, the trace, a page with
// both ysync and the JS Yjs stack loaded, new browser processes, and statistics.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { gunzipSync } from 'node:zlib'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { chromiumArgs, freePort, repoRoot, until } from '../e2e/lib.mjs'
import { guardGlue } from '../npm/guard.mjs'

export { repoRoot }

/** Where generated inputs (cached documents) and results go. */
export const outDir = join(repoRoot, 'target/bench')
mkdirSync(outDir, { recursive: true })

const newest = (dir) => Math.max(...readdirSync(dir, { recursive: true }).map((f) => statSync(join(dir, String(f))).mtimeMs))
const sourcesTime = () => Math.max(newest(join(repoRoot, 'src')), statSync(join(repoRoot, 'Cargo.toml')).mtimeMs)

/**
 * Builds what a scenario loads if it is missing, older than the sources, or once per run with
 * `--rebuild`: `pkg` (the published package, scripts/build.sh) or `bench` (the same crate with
 * the `bench` and `test-hooks` features, for B4's Rust-in-wasm path and the trap test, into target/bench-pkg; the published
 * package has no bench code).
 */
const built = new Set()
export function ensureBuilt (kind) {
  const dir = kind === 'pkg' ? 'pkg' : 'target/bench-pkg'
  const wasm = join(repoRoot, dir, 'ysync_bg.wasm')
  // --rebuild: build once in this run whatever the timestamps say (e.g. to compare release
  // profiles: CARGO_PROFILE_RELEASE_OPT_LEVEL=s node bench/run.mjs --rebuild builds ysync at "s"
  // as its dependencies are).
  const rebuild = process.argv.includes('--rebuild') && !built.has(kind)
  built.add(kind)
  if (!rebuild && existsSync(wasm) && statSync(wasm).mtimeMs >= sourcesTime()) return
  if (kind === 'pkg') {
    execFileSync(join(repoRoot, 'scripts/build.sh'), { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] })
  } else {
    execFileSync('wasm-pack', ['build', '--target', 'web', '--release', '--mode', 'no-install', '--out-dir', dir, '--out-name', 'ysync', '--', '--features', 'bench,test-hooks'], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] })
    guardGlue(join(repoRoot, dir))
  }
}

/** The automerge-paper trace (bench/data): `[pos, deleted, inserted]` per edit, and its end. */
export function loadTrace (limit) {
  const trace = JSON.parse(gunzipSync(readFileSync(join(repoRoot, 'bench/data/automerge-paper.json.gz'))))
  let patches = trace.txns.map((t) => t.patches[0])
  let endContent = trace.endContent
  if (limit && limit < patches.length) {
    patches = patches.slice(0, limit)
    let s = trace.startContent
    for (const [pos, del, ins] of patches) s = s.slice(0, pos) + ins + s.slice(pos + del)
    endContent = s
  }
  return { patches, endContent }
}

/**
 * A new Chromium process with one page on `url`, waiting for the page's `window.ysyncReady`.
 * Its profile is `profile` (kept, for cold loads of what an earlier process stored) or, by
 * default, a new temporary one removed on `close()`; `ready` says when the page is (by default
 * `window.ysyncReady`). `cdp` is a DevTools session on the page
 * (heap measurements, garbage collection).
 * `jsFlags`: more V8 flags (bench/tiering.mjs compares its wasm tiers).
 */
export async function launchPage (url, profile, ready = () => window.ysyncReady === true, { jsFlags = [] } = {}) {
  const temporary = profile === undefined
  if (temporary) profile = mkdtempSync(join(tmpdir(), 'ysync-bench-'))
  const port = await freePort()
  const proc = spawn('/usr/bin/chromium', [...chromiumArgs, `--js-flags=${['--expose-gc', ...jsFlags].join(' ')}`, `--user-data-dir=${profile}`, `--remote-debugging-port=${port}`, 'about:blank'], { stdio: 'ignore', detached: true })
  const browser = await until(() => chromium.connectOverCDP(`http://127.0.0.1:${port}`).catch(() => null), 15_000, 'chromium')
  const page = await browser.contexts()[0].newPage()
  const errors = []
  page.on('pageerror', (e) => errors.push(String(e)))
  await page.goto(url)
  await page.waitForFunction(ready, null, { timeout: 20_000 })
  const cdp = await page.context().newCDPSession(page)
  return {
    page,
    cdp,
    errors,
    /** Another page in the same browser process. */
    async newPage (pageUrl) {
      const p = await browser.contexts()[0].newPage()
      await p.goto(pageUrl)
      await p.waitForFunction(() => window.ysyncReady === true, null, { timeout: 20_000 })
      return p
    },
    async close () {
      const gone = proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : new Promise((resolve) => proc.on('exit', resolve))
      // Closed as a user closes it, so that what its pages stored is written out before the
      // next process opens the same profile (cold loads); killed if it has not exited in 10 s.
      try { await (await browser.newBrowserCDPSession()).send('Browser.close') } catch {}
      await browser.close().catch(() => {})
      const slow = setTimeout(() => { try { process.kill(-proc.pid, 'SIGKILL') } catch {} }, 10_000)
      await gone
      clearTimeout(slow)
      try { process.kill(-proc.pid, 'SIGKILL') } catch {} // what is left of the process group
      if (temporary) rmSync(profile, { recursive: true, force: true })
    }
  }
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** The nearest-rank percentile `p` (0-100) of `xs`. */
export function percentile (xs, p) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]
}

/**
 * One row of the results table. `unit` is 'ms', 'bytes' or 'count'; lower is better for all. `goal`,
 * when the issue sets one, is `{ text, met }`.
 */
export function row (group, scenario, ysync, yjs, unit = 'ms', goal) {
  if (!(Number.isFinite(ysync) && ysync >= 0)) throw new Error(`${scenario}: no ysync measurement (${ysync})`)
  if (yjs !== null && !(Number.isFinite(yjs) && yjs >= 0)) throw new Error(`${scenario}: no Yjs measurement (${yjs})`)
  return { group, scenario, ysync, yjs, unit, goal }
}
