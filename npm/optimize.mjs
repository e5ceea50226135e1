// wasm-opt over a built module, from the npm `binaryen` package pinned in package.json (never
// Debian's binaryen 108: Chromium rejects its output). Used by npm/package.mjs for pkg/ and by
// scripts/floor.mjs for the floor, so both are measured the same way.
//
// The setting is the one that made the gzip and brotli sizes smallest, not the raw size:
// binaryen's inlining grows what compresses (docs/size.md has each setting measured), so it
// runs its size optimizations with inlining off.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const bin = root + 'node_modules/binaryen/bin/wasm-opt'

/** The flags: size optimizations without inlining, for the features rustc's wasm32 target emits. */
export const FLAGS = [
  '-Os',
  '--flexible-inline-max-function-size', '0',
  '--always-inline-max-function-size', '0',
  '--one-caller-inline-max-function-size', '0',
  '--enable-bulk-memory', '--enable-multivalue', '--enable-mutable-globals',
  '--enable-nontrapping-float-to-int', '--enable-reference-types', '--enable-sign-ext'
]

/** Rewrites the wasm module at `file` optimized; `extra` flags are added (`-g` keeps the names). */
export function optimize (file, extra = []) {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run scripts/setup.sh (npm install)`)
  execFileSync(process.execPath, [bin, file, ...FLAGS, ...extra, '-o', file], { stdio: ['ignore', 'inherit', 'inherit'] })
}
