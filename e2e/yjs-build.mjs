// Yjs apps as users write them, built with Vite on `ysync/yjs` and on y-websocket +
// y-indexeddb: the same source with only its import lines switched (e2e/yjs.test.mjs,
// e2e/editors.test.mjs, bench/editor.mjs, scripts/build-www.mjs). `ysync/yjs` resolves to the
// built package in pkg/.
import { before, after } from 'node:test'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'vite'
import { repoRoot, startStatic, launchBrowser, startYServer } from './lib.mjs'

const SWITCH = [
  ["import { WebsocketProvider } from 'ysync/yjs'", "import { WebsocketProvider } from 'y-websocket'"],
  ["import { IndexeddbPersistence } from 'ysync/yjs'", "import { IndexeddbPersistence } from 'y-indexeddb'"]
]

/** `source` with its ysync/yjs imports switched back to y-websocket and y-indexeddb. */
export function switchImports (source) {
  return SWITCH.reduce((s, [from, to]) => s.replace(from, to), source)
}

/** The lines of `a` that differ from `b` (they must have as many lines). */
export function differingLines (a, b) {
  const x = a.split('\n')
  const y = b.split('\n')
  if (x.length !== y.length) throw new Error('the sources have different line counts')
  return x.filter((l, i) => l !== y[i])
}

/** A page that loads `script`, with a `#editor` element for editor apps. */
export const page = (title, script) => `<!doctype html><meta charset="utf-8"><title>${title}</title><link rel="icon" href="data:,"><div id="editor"></div><script type="module" src="./${script}"></script>\n`

/** Vite's resolution of the package: `ysync` and `ysync/yjs` from pkg/, one copy of yjs,
 * and `@e2e/` for the tests' own page modules. */
export const resolve = {
  alias: [
    { find: /^ysync\/yjs$/, replacement: join(repoRoot, 'pkg/yjs.js') },
    { find: /^ysync$/, replacement: join(repoRoot, 'pkg/ysync.js') },
    { find: /^@e2e\//, replacement: join(repoRoot, 'e2e') + '/' }
  ],
  dedupe: ['yjs']
}

/**
 * Builds the pages `files` (name -> content; `.html` files are the entries) from a source
 * directory `src` into `out`.
 */
export async function buildPages (files, src, out) {
  mkdirSync(src, { recursive: true })
  for (const [name, content] of Object.entries(files)) writeFileSync(join(src, name), content)
  const input = Object.keys(files).filter((f) => f.endsWith('.html')).map((f) => join(src, f))
  await build({
    root: src,
    base: './',
    logLevel: 'warn',
    resolve,
    build: { outDir: out, emptyOutDir: true, target: 'es2022', rollupOptions: { input } }
  })
}

/**
 * Builds the demo's rich-text page (www/rich.html, on ysync/yjs and TipTap) into www/dist/,
 * where the demo server serves it next to the plain page.
 */
export async function buildWww () {
  const root = join(repoRoot, 'www')
  await build({
    root,
    base: './',
    logLevel: 'warn',
    resolve,
    // One bundle of TipTap + Yjs (about 600 KB before gzip), not split: no size warning.
    build: { outDir: join(root, 'dist'), emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 2000, rollupOptions: { input: [join(root, 'rich.html')] } }
  })
}

/**
 * The hooks of a test file whose apps are built both ways: before its tests, `buildApps()`
 * writes them under `out` (emptied first), then a static server on `out`, a
 * @y/websocket-server and one headless Chromium start; after them, all three stop. The
 * returned object holds `web`, `server` and `browser` once they run.
 */
export function builtAppsSuite (out, buildApps) {
  const suite = { web: null, server: null, browser: null }
  before(async () => {
    rmSync(out, { recursive: true, force: true })
    await buildApps()
    suite.web = await startStatic(out)
    suite.server = await startYServer()
    suite.browser = await launchBrowser()
  })
  after(async () => {
    await suite.browser?.close()
    await suite.server?.stop()
    await suite.web?.stop()
  })
  return suite
}
