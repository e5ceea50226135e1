// Where the bytes of the wasm are, by crate and by ysync module: a release build of the crate
// with its function names kept (target/twiggy; the shipped build strips them), through
// wasm-bindgen and wasm-opt as pkg/ is, measured by
// twiggy (built with cargo if missing), each function counted under the crate its name
// starts with (a generic instantiation counts under the crate that defines it: a `slice::sort`
// of ysync's own type is `core`'s). Prints Markdown tables for docs/size.md.
//   node scripts/twiggy.mjs            by crate, and ysync's modules
//   node scripts/twiggy.mjs --top 30   also the 30 largest functions
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { optimize } from '../npm/optimize.mjs'

const root = fileURLToPath(new URL('../', import.meta.url))
const target = join(root, 'target/twiggy')
const run = (cmd, args, env = {}) => execFileSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } })

try {
  run('twiggy', ['--version'])
} catch {
  console.error('twiggy: installing with cargo (crates.io)')
  run('cargo', ['install', 'twiggy', '--version', '0.8.0'])
}
run('cargo', ['build', '--quiet', '--release', '--target', 'wasm32-unknown-unknown', '--lib'], {
  CARGO_TARGET_DIR: target,
  CARGO_PROFILE_RELEASE_STRIP: 'false',
  CARGO_PROFILE_RELEASE_DEBUG: '0'
})
// Through wasm-bindgen, as pkg/ is built (it drops its descriptor functions and adds the
// shims), keeping the names.
run('wasm-bindgen', ['--target', 'web', '--out-dir', join(target, 'pkg'), join(target, 'wasm32-unknown-unknown/release/ysync.wasm')])
const wasm = join(target, 'pkg/ysync_bg.wasm')
// Optimized as pkg/ is (npm/optimize.mjs), names kept.
optimize(wasm, ['-g'])
const items = JSON.parse(run('twiggy', ['top', '-n', '1000000', '--format', 'json', wasm]))

/** The crate (and for ysync, the module) a function's name belongs to. */
function owner (name) {
  let n = name.replace(/^<+/, '').replace(/\[[0-9a-f]+\]/g, '')
  if (n.startsWith('&')) n = n.slice(1)
  const parts = n.split('::')
  const crate = parts[0].split(/[<>\s]/)[0]
  if (crate === 'ysync') return { crate, module: parts.slice(1, 3).join('::').split(/[<>\s]/)[0] }
  if (crate === 'core' || crate === 'alloc') {
    const sub = parts.slice(1, 3).join('::').split(/[<>\s]/)[0]
    return { crate, module: sub }
  }
  return { crate: /^[a-z_][a-z0-9_]*$/.test(crate) ? crate : '(other)', module: '' }
}

const byCrate = new Map()
const byModule = new Map()
const fns = []
let code = 0
let data = 0
for (const it of items) {
  const name = it.name
  const size = it.shallow_size
  if (name.startsWith('custom section') || name.includes('subsection') || name.startsWith('Σ')) continue
  if (name.startsWith('data segment')) { data += size; continue }
  if (/^(type|import|export|elem|table|memory|global)\[/.test(name) || name.startsWith('...')) continue
  code += size
  const { crate, module } = owner(name)
  byCrate.set(crate, (byCrate.get(crate) ?? 0) + size)
  if (module) byModule.set(`${crate}::${module}`, (byModule.get(`${crate}::${module}`) ?? 0) + size)
  fns.push([name, size])
}
const kb = (n) => (n / 1024).toFixed(1) + ' KB'
const pct = (n) => ((100 * n) / code).toFixed(1) + '%'
console.log(`Functions: ${kb(code)} of code, plus ${kb(data)} of data (release build with names, after wasm-bindgen and wasm-opt; raw bytes, before compression).\n`)
console.log('| crate | code | share |\n|---|---:|---:|')
for (const [c, n] of [...byCrate].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`| ${c} | ${kb(n)} | ${pct(n)} |`)
console.log('\n| module | code |\n|---|---:|')
for (const [m, n] of [...byModule].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(`| ${m} | ${kb(n)} |`)
const i = process.argv.indexOf('--top')
if (i > 0) {
  console.log('\n| function | bytes |\n|---|---:|')
  for (const [f, n] of fns.sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[i + 1]))) console.log(`| \`${f.replace(/::h[0-9a-f]{16}$/, '').slice(0, 110)}\` | ${n} |`)
}
