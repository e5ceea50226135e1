// What an app ships and how long it takes to start: each side bundled and minified by esbuild
// as an app's bundler would (ysync: the package's glue plus its wasm; the JS Yjs stack: yjs +
// y-websocket + y-indexeddb with lib0 and y-protocols), raw / gzip -9 / brotli 11; then the
// time from a new page's `import()` of the bundle until it can be used (ysync: `await init()`,
// which fetches, compiles and instantiates the wasm), responses served uncacheable.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync, brotliCompressSync, constants } from 'node:zlib'
import { build } from 'esbuild'
import { ensureBuilt, launchPage, median, outDir, repoRoot, row } from './lib.mjs'

const gz = (b) => gzipSync(b, { level: 9 }).length
const br = (b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length

async function bundle (entry, file) {
  const res = await build({
    stdin: { contents: entry, resolveDir: join(repoRoot, 'e2e'), loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    logLevel: 'error'
  })
  const code = Buffer.from(res.outputFiles[0].contents)
  writeFileSync(file, code)
  return code
}

export async function run ({ runs, web }) {
  ensureBuilt('pkg')
  const dir = join(outDir, 'bundle')
  mkdirSync(dir, { recursive: true })
  const glue = await bundle(`export * from '../pkg/ysync.js'; export { default } from '../pkg/ysync.js'`, join(dir, 'ysync.min.js'))
  copyFileSync(join(repoRoot, 'pkg/ysync_bg.wasm'), join(dir, 'ysync_bg.wasm'))
  const wasm = readFileSync(join(dir, 'ysync_bg.wasm'))
  const yjs = await bundle(`export * as Y from 'yjs'; export { WebsocketProvider } from 'y-websocket'; export { IndexeddbPersistence } from 'y-indexeddb'`, join(dir, 'yjs-stack.min.js'))
  const ours = Buffer.concat([wasm, glue])

  writeFileSync(join(dir, 'start.html'), `<!doctype html>
<meta charset="utf-8">
<script type="module">
const lib = new URLSearchParams(location.search).get('lib')
const t0 = performance.now()
const m = await import(lib === 'ysync' ? './ysync.min.js' : './yjs-stack.min.js')
if (lib === 'ysync') await m.default()
const ready = performance.now() - t0
// Used once, so nothing is left to lazy initialization.
const doc = lib === 'ysync' ? new m.Doc() : new m.Y.Doc()
doc.getText('t').insert(0, 'x')
window.startMs = ready
window.ysyncReady = true
</script>
`)
  // Where ysync's start goes, in steps one after the other: any module's first import (an empty
  // one), the glue's import, fetching the wasm, compiling it (streaming), instantiating it.
  writeFileSync(join(dir, 'empty.js'), 'export const empty = true\n')
  writeFileSync(join(dir, 'parts.html'), `<!doctype html>
<meta charset="utf-8">
<script type="module">
const t = [performance.now()]
await import('./empty.js')
t.push(performance.now())
const m = await import('./ysync.min.js')
t.push(performance.now())
const bytes = await (await fetch('./ysync_bg.wasm')).arrayBuffer()
t.push(performance.now())
const module = await WebAssembly.compile(bytes)
t.push(performance.now())
await m.default({ module_or_path: module })
t.push(performance.now())
window.parts = t.slice(1).map((x, i) => x - t[i])
window.ysyncReady = true
</script>
`)
  const start = { ysync: [], yjs: [] }
  const parts = []
  const page = (lib) => `${web.url}/target/bench/bundle/start.html?lib=${lib}`
  const b = await launchPage(page('ysync'))
  try {
    for (let r = 0; r < Math.max(5, runs); r++) {
      for (const lib of r % 2 ? ['yjs', 'ysync'] : ['ysync', 'yjs']) {
        const p = await b.newPage(page(lib))
        start[lib].push(await p.evaluate(() => window.startMs))
        await p.close()
      }
      const p = await b.newPage(`${web.url}/target/bench/bundle/parts.html`)
      parts.push(await p.evaluate(() => window.parts))
      await p.close()
    }
  } finally {
    await b.close()
  }
  const g = 'Bundle (esbuild --minify)'
  return [
    row(g, 'whole SDK, raw (ysync: wasm + glue)', ours.length, yjs.length, 'bytes'),
    row(g, 'whole SDK, gzip -9', gz(ours), gz(yjs), 'bytes', { text: `≤ 220 KB gzip (issue #20): ${(gz(ours) / 1024).toFixed(1)} KB`, met: gz(ours) <= 220 * 1024 }),
    row(g, 'whole SDK, brotli 11', br(ours), br(yjs), 'bytes', { text: `≤ 170 KB brotli (issue #20): ${(br(ours) / 1024).toFixed(1)} KB`, met: br(ours) <= 170 * 1024 }),
    row(g, `start: import() until usable, new page (median of ${start.ysync.length})`, median(start.ysync), median(start.yjs), 'ms',
      { text: `≤ Yjs's (issue #20): ${(median(start.ysync) / median(start.yjs)).toFixed(2)}x`, met: median(start.ysync) <= median(start.yjs) }),
    { note: `ysync's start in steps, one after the other (medians of ${parts.length} new pages): the first import of any module (an empty one) ${['empty', 'glue', 'fetch', 'compile', 'instantiate'].map((k, i) => `${k === 'empty' ? '' : k + ' '}${median(parts.map((x) => x[i])).toFixed(1)} ms`).join(', ')}.` },
    { note: `ysync's part: wasm ${(wasm.length / 1024).toFixed(1)} KB raw / ${(gz(wasm) / 1024).toFixed(1)} KB gzip, glue ${(glue.length / 1024).toFixed(1)} KB raw / ${(gz(glue) / 1024).toFixed(1)} KB gzip.` }
  ]
}
