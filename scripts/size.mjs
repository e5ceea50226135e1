// Prints the size of what an app ships: the wasm module and the JS glue of pkg/, raw, gzip -9
// and brotli (quality 11), plus the wasm's largest sections. Run after scripts/build.sh:
//   node scripts/size.mjs            a table
//   node scripts/size.mjs --json     the same as JSON
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { gzipSync, brotliCompressSync, constants } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

const pkg = fileURLToPath(new URL('../pkg/', import.meta.url))
const gz = (b) => gzipSync(b, { level: 9 }).length
const br = (b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length

/** Section sizes of a wasm module (custom sections by name). */
function sections (b) {
  const names = ['custom', 'type', 'import', 'function', 'table', 'memory', 'global', 'export', 'start', 'element', 'code', 'data', 'data count']
  let p = 8
  const out = {}
  const leb = () => { let r = 0; let s = 0; let x; do { x = b[p++]; r |= (x & 0x7f) << s; s += 7 } while (x & 0x80); return r >>> 0 }
  while (p < b.length) {
    const id = b[p++]
    const len = leb()
    const start = p
    let name = names[id] ?? 'id' + id
    if (id === 0) { const n = leb(); name = 'custom:' + b.subarray(p, p + n).toString() }
    out[name] = (out[name] ?? 0) + len
    p = start + len
  }
  return out
}

const glue = ['ysync.js', ...readdirSync(join(pkg, 'snippets'), { recursive: true })
  .map((f) => join('snippets', String(f)))
  .filter((f) => f.endsWith('.js') && statSync(join(pkg, f)).isFile())]
const wasm = readFileSync(join(pkg, 'ysync_bg.wasm'))
const js = Buffer.concat(glue.map((f) => readFileSync(join(pkg, f))))
const rows = [['wasm (ysync_bg.wasm)', wasm], [`JS glue (${glue.length} files)`, js], ['total', Buffer.concat([wasm, js])]]
  .map(([what, b]) => ({ what, raw: b.length, gzip: gz(b), brotli: br(b) }))

if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ rows, sections: sections(wasm) }, null, 2))
} else {
  const kb = (n) => (n / 1024).toFixed(1) + ' KB'
  console.log('| | raw | gzip -9 | brotli 11 |\n|---|---:|---:|---:|')
  for (const r of rows) console.log(`| ${r.what} | ${kb(r.raw)} | ${kb(r.gzip)} | ${kb(r.brotli)} |`)
  console.log('\nwasm sections: ' + Object.entries(sections(wasm)).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k} ${kb(v)}`).join(', '))
}
