// Builds a page that loads both ysync and the real Yjs stack (yjs + y-indexeddb + y-websocket) as browser ES
// modules, through an import map made from lib0's package exports (browser conditions).
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))
const pick = (v) => typeof v === 'string' ? v : pick(v.browser ?? v.module ?? v.import ?? v.default)

/** Writes the page; `pkg` is the ysync module it loads (the benchmarks use a bench build). */
export function writePeersPage ({ pkg = '/pkg/ysync.js', file = 'peers.html' } = {}) {
  const lib0 = JSON.parse(readFileSync(here + '../node_modules/lib0/package.json', 'utf8'))
  const imports = {
    yjs: '/node_modules/yjs/dist/yjs.mjs',
    'y-indexeddb': '/node_modules/y-indexeddb/src/y-indexeddb.js',
    'y-websocket': '/node_modules/y-websocket/src/y-websocket.js'
  }
  for (const m of ['sync', 'awareness', 'auth']) imports['y-protocols/' + m] = `/node_modules/y-protocols/${m}.js`
  for (const [k, v] of Object.entries(lib0.exports)) {
    if (k === '.' || k.includes('*') || k.endsWith('.json')) continue
    try { imports['lib0' + k.slice(1)] = '/node_modules/lib0/' + pick(v).replace(/^\.\//, '') } catch {}
  }
  mkdirSync(here + 'artifacts', { recursive: true })
  writeFileSync(here + 'artifacts/' + file, `<!doctype html>
<meta charset="utf-8">
<script type="importmap">${JSON.stringify({ imports })}</script>
<script type="module">
import init, * as ysync from '${pkg}'
import * as Y from 'yjs'
import { IndexeddbPersistence } from 'y-indexeddb'
import { WebsocketProvider } from 'y-websocket'
import { applyRowsAsLoaded, oneEditRows, rawRows, storeRows } from '/e2e/pages/rows.js'
import { replayTrace } from '/e2e/pages/trace.js'
window.wasm = await init()
window.ysync = ysync
window.Y = Y
window.YIndexeddbPersistence = IndexeddbPersistence
window.YWebsocketProvider = WebsocketProvider
window.rawRows = rawRows
window.storeRows = storeRows
window.applyRowsAsLoaded = applyRowsAsLoaded
window.oneEditRows = oneEditRows
window.replayTrace = replayTrace
window.ysyncReady = true
</script>
`)
  return '/e2e/artifacts/' + file
}
