// Builds size/floor (the document surface with yrs alone, ysync's release profile) and runs
// wasm-bindgen on it as pkg/ is built: target/size-floor/pkg/ysync_size_floor{_bg.wasm,.js}.
// Used by scripts/size.mjs --floor (its size) and bench/tiering.mjs (its decode).
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { optimize } from '../npm/optimize.mjs'

const root = fileURLToPath(new URL('../', import.meta.url))

/** Builds the floor; returns the paths of its wasm and JS glue. */
export function buildFloor () {
  const target = join(root, 'target/size-floor')
  const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, CARGO_TARGET_DIR: target } })
  run('cargo', ['build', '--quiet', '--release', '--target', 'wasm32-unknown-unknown', '--manifest-path', 'size/floor/Cargo.toml'])
  const out = join(target, 'pkg')
  run('wasm-bindgen', ['--target', 'web', '--out-dir', out, join(target, 'wasm32-unknown-unknown/release/ysync_size_floor.wasm')])
  // Optimized as pkg/ is (npm/optimize.mjs), so the two compare.
  optimize(join(out, 'ysync_size_floor_bg.wasm'))
  return { wasm: join(out, 'ysync_size_floor_bg.wasm'), js: join(out, 'ysync_size_floor.js') }
}
