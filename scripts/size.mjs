// Prints the size of what an app ships: the wasm module and the JS glue of pkg/, raw, gzip -9
// and brotli (quality 11), plus the wasm's largest sections. Run after scripts/build.sh:
//   node scripts/size.mjs            a table
//   node scripts/size.mjs --json     the same as JSON
//   node scripts/size.mjs --floor    also builds size/floor (the document surface with yrs alone,
//                                    same profile; about a minute) and prints it as the floor
//   node scripts/size.mjs --check    fails if the whole SDK is more than 2% over size/budget.json
//                                    (gzip or brotli): sizes are deterministic for a toolchain,
//                                    so this is a check, not a timing. Lower the budget when a
//                                    change makes the SDK smaller.
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { gzipSync, brotliCompressSync, constants } from 'node:zlib'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { sections as wasmSections, withoutCustom } from '../npm/wasm.mjs'
import { buildFloor } from './floor.mjs'

const root = fileURLToPath(new URL('../', import.meta.url))
const pkg = join(root, 'pkg')
const gz = (b) => gzipSync(b, { level: 9 }).length
const br = (b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length

/** Section sizes of a wasm module (custom sections by name). */
function sections (b) {
  const out = {}
  for (const { name, size } of wasmSections(b)) out[name] = (out[name] ?? 0) + size
  return out
}

const glue = ['ysync.js', ...readdirSync(join(pkg, 'snippets'), { recursive: true })
  .map((f) => join('snippets', String(f)))
  .filter((f) => f.endsWith('.js') && statSync(join(pkg, f)).isFile())]
const wasm = readFileSync(join(pkg, 'ysync_bg.wasm'))
const js = Buffer.concat(glue.map((f) => readFileSync(join(pkg, f))))
const parts = [['wasm (ysync_bg.wasm)', wasm], [`JS glue (${glue.length} files)`, js], ['total', Buffer.concat([wasm, js])]]

/** size/floor's wasm + glue, bindgen'd as pkg/ is. */
function floor () {
  const { wasm, js } = buildFloor()
  // Without wasm-bindgen's name and producers sections, as npm/package.mjs ships pkg/.
  return Buffer.concat([withoutCustom(readFileSync(wasm), ['name', 'producers']), readFileSync(js)])
}

if (process.argv.includes('--floor')) parts.push(['floor: the document surface with yrs alone (size/floor), wasm + glue', floor()])
const rows = parts.map(([what, b]) => ({ what, raw: b.length, gzip: gz(b), brotli: br(b) }))

if (process.argv.includes('--check')) {
  const budget = JSON.parse(readFileSync(join(root, 'size/budget.json'), 'utf8'))
  const total = rows[2]
  let over = false
  for (const k of ['gzip', 'brotli']) {
    const limit = Math.floor(budget[k] * 1.02)
    const ok = total[k] <= limit
    over ||= !ok
    console.log(`size ${k}: ${total[k]} B, budget ${budget[k]} B (+2%: ${limit} B): ${ok ? 'ok' : 'OVER'}`)
  }
  if (over) {
    console.error('The SDK grew more than 2% past size/budget.json: make it smaller, or raise the budget in the same commit and say why.')
    process.exit(1)
  }
}

if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ rows, sections: sections(wasm) }, null, 2))
} else {
  const kb = (n) => (n / 1024).toFixed(1) + ' KB'
  console.log('| | raw | gzip -9 | brotli 11 |\n|---|---:|---:|---:|')
  for (const r of rows) console.log(`| ${r.what} | ${kb(r.raw)} | ${kb(r.gzip)} | ${kb(r.brotli)} |`)
  if (rows.length > 3) {
    const [total, fl] = [rows[2], rows[3]]
    console.log(`\nysync's own part (total minus the floor): ${kb(total.gzip - fl.gzip)} gzip, ${kb(total.brotli - fl.brotli)} brotli.`)
  }
  console.log('\nwasm sections: ' + Object.entries(sections(wasm)).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k} ${kb(v)}`).join(', '))
}
