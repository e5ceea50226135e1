// Turns wasm-pack's pkg/package.json into the published package's: ESM with an `exports` map,
// types, no side effects, and the package README. Run by scripts/build.sh after wasm-pack.
import { readFileSync, writeFileSync, copyFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { withoutCustom } from './wasm.mjs'
import { guardGlue } from './guard.mjs'
import { optimize } from './optimize.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const file = root + 'pkg/package.json'
const generated = JSON.parse(readFileSync(file, 'utf8'))
const pkg = {
  name: 'ysync',
  version: generated.version,
  description: generated.description,
  license: generated.license,
  repository: generated.repository,
  type: 'module',
  // One ES module for bundlers (Vite, webpack 5, Rollup: they follow its
  // `new URL('ysync_bg.wasm', import.meta.url)`) and for plain <script type="module"> pages.
  main: './ysync.js',
  module: './ysync.js',
  types: './ysync.d.ts',
  exports: {
    '.': { types: './ysync.d.ts', default: './ysync.js' },
    // y-websocket's / y-indexeddb's classes over the app's own Y.Doc (npm/yjs.js).
    './yjs': { types: './yjs.d.ts', default: './yjs.js' },
    './ysync_bg.wasm': './ysync_bg.wasm',
    './package.json': './package.json'
  },
  files: ['ysync_bg.wasm', 'ysync_bg.wasm.d.ts', 'ysync.js', 'ysync.d.ts', 'yjs.js', 'yjs.d.ts', 'awareness.js', 'snippets', 'README.md'],
  // Importing the main entry only defines classes and functions; nothing runs until init().
  // The yjs entry loads the wasm module when imported (its users never call init()).
  sideEffects: ['./yjs.js'],
  // The app's own Yjs, for the yjs entry only: never bundled.
  peerDependencies: { yjs: '^13.6.0' },
  peerDependenciesMeta: { yjs: { optional: true } },
  keywords: ['yjs', 'crdt', 'collaboration', 'websocket', 'indexeddb', 'wasm', 'offline']
}
writeFileSync(file, JSON.stringify(pkg, null, 2) + '\n')

// wasm-bindgen declares `[Symbol.dispose]()` on every class, which only compiles with
// TypeScript's esnext lib; without the declaration apps on es2022 compile too (the method is
// still there at run time for `using`).
const dts = root + 'pkg/ysync.d.ts'
writeFileSync(dts, readFileSync(dts, 'utf8').replace(/^ *\[Symbol\.dispose\]\(\): void;\n/gm, ''))
copyFileSync(root + 'npm/README.md', root + 'pkg/README.md')
copyFileSync(root + 'npm/yjs.js', root + 'pkg/yjs.js')
copyFileSync(root + 'npm/yjs.d.ts', root + 'pkg/yjs.d.ts')
copyFileSync(root + 'npm/awareness.js', root + 'pkg/awareness.js')

// Cargo's `strip` removes rustc's symbol names, but wasm-bindgen writes a `name` section for its
// own shims and a `producers` section; the browser needs neither (issue #5; their size is in
// docs/size.md).
const wasm = root + 'pkg/ysync_bg.wasm'
writeFileSync(wasm, withoutCustom(readFileSync(wasm), ['name', 'producers']))
// Smaller to download once compressed (npm/optimize.mjs).
optimize(wasm)

// Every wasm export behind the trap guard (npm/guard.mjs).
guardGlue(root + 'pkg')
