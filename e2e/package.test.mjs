// The npm package as published: `npm pack` of pkg/, unpacked into a fresh app's node_modules;
// its TypeScript typings compiled with `tsc --strict`; a Vite 7 app and a plain
// <script type="module"> page importing it, both run in headless Chromium.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'vite'
import { repoRoot, startStatic, launchBrowser } from './lib.mjs'

const here = join(repoRoot, 'e2e')
let app
let browser
const cleanups = []

before(async () => {
  app = mkdtempSync(join(tmpdir(), 'ysync-app-'))
  const tgz = execFileSync('npm', ['pack', join(repoRoot, 'pkg'), '--pack-destination', app, '--silent'], { encoding: 'utf8' }).trim().split('\n').pop()
  const dest = join(app, 'node_modules', 'ysync')
  mkdirSync(dest, { recursive: true })
  execFileSync('tar', ['-xzf', join(app, tgz), '-C', dest, '--strip-components=1'])
  cpSync(join(here, 'package'), app, { recursive: true })
  // The app's own yjs, for the ysync/yjs entry (a peer dependency).
  symlinkSync(join(repoRoot, 'node_modules', 'yjs'), join(app, 'node_modules', 'yjs'))
  browser = await launchBrowser()
})

after(async () => {
  for (const c of cleanups) await c()
  await browser?.close()
  if (app) rmSync(app, { recursive: true, force: true })
})

test('the packed package: ESM, exports, types, side effects only in the yjs entry, README, and the files it needs', () => {
  const dir = join(app, 'node_modules', 'ysync')
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  assert.equal(pkg.name, 'ysync')
  assert.equal(pkg.type, 'module')
  assert.deepEqual(pkg.sideEffects, ['./yjs.js'], 'only the yjs entry runs code on import')
  assert.deepEqual(pkg.exports['./yjs'], { types: './yjs.d.ts', default: './yjs.js' })
  assert.equal(pkg.peerDependencies.yjs, '^13.6.0')
  assert.equal(pkg.peerDependenciesMeta.yjs.optional, true)
  assert.equal(pkg.types, './ysync.d.ts')
  assert.deepEqual(pkg.exports['.'], { types: './ysync.d.ts', default: './ysync.js' })
  const files = readdirSync(dir)
  for (const f of ['ysync.js', 'ysync.d.ts', 'yjs.js', 'yjs.d.ts', 'ysync_bg.wasm', 'README.md', 'snippets', 'package.json']) assert.ok(files.includes(f), f)
  assert.match(readFileSync(join(dir, 'README.md'), 'utf8'), /await init\(\)/)
})

const tsc = (project) => spawnSync(process.execPath, [join(here, '../node_modules/typescript/bin/tsc'), ...project], { cwd: app, encoding: 'utf8' })
const tsFlags = ['--strict', '--noEmit', '--target', 'es2022', '--module', 'esnext', '--moduleResolution', 'bundler', '--lib', 'es2022,dom']

test('the ysync/yjs typings take the app\'s Y.Doc (tsc --strict)', () => {
  const ok = tsc([...tsFlags, 'consumer-yjs.ts'])
  assert.equal(ok.status, 0, ok.stdout + ok.stderr)
})

test('a TypeScript consumer compiles with tsc --strict; misuse does not', () => {
  const ok = tsc([...tsFlags, 'consumer.ts'])
  assert.equal(ok.status, 0, ok.stdout + ok.stderr)
  // The typings are precise enough to catch wrong types, not `any` everywhere.
  const bad = tsc([...tsFlags, 'bad.ts'])
  assert.notEqual(bad.status, 0)
  const errors = bad.stdout.split('\n').filter((l) => l.includes('error TS'))
  assert.equal(errors.length, 3, bad.stdout)
  assert.match(errors[0], /bad\.ts\(3,.*'string' is not assignable to type 'number'/, 'clientID is a number')
  assert.match(errors[1], /bad\.ts\(4,.*'string' is not assignable to parameter of type 'number'/, 'an index is a number')
  assert.match(errors[2], /bad\.ts\(5,/, 'a change record is not a number')
})

async function runPage (url) {
  const page = await browser.newPage()
  const problems = []
  page.on('pageerror', (e) => problems.push(String(e)))
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()) })
  await page.goto(url)
  await page.waitForFunction(() => window.result !== undefined, null, { timeout: 20_000 })
  const result = await page.evaluate(() => window.result)
  await page.close()
  return { result, problems }
}

const expected = {
  text: 'hello',
  // Typing after bold text continues it (as in Yjs).
  deltas: [[{ insert: 'hello', attributes: { bold: true } }], [{ retain: 5 }, { insert: ' world', attributes: { bold: true } }], [{ retain: 5 }, { delete: 6 }]],
  memory: true,
  update: true
}

test('a Vite 7 app that imports the package builds and runs in Chromium', async () => {
  writeFileSync(join(app, 'index.html'), '<!doctype html><title>vite app</title><link rel="icon" href="data:,"><script type="module" src="./page.js"></script>\n')
  await build({ root: app, logLevel: 'warn', build: { outDir: join(app, 'dist'), emptyOutDir: true, target: 'es2022' } })
  const assets = readdirSync(join(app, 'dist', 'assets'))
  assert.ok(assets.some((f) => f.endsWith('.wasm')), 'Vite emitted the wasm file: ' + assets)
  const server = await startStatic(join(app, 'dist'))
  cleanups.push(() => server.stop())
  const { result, problems } = await runPage(server.url + '/index.html')
  assert.deepEqual(result, expected, JSON.stringify(result))
  assert.deepEqual(problems, [])
})

test('a plain <script type="module"> page (import map, no bundler) runs in Chromium', async () => {
  writeFileSync(join(app, 'plain.html'), `<!doctype html><title>plain page</title><link rel="icon" href="data:,">
<script type="importmap">{ "imports": { "ysync": "./node_modules/ysync/ysync.js" } }</script>
<script type="module" src="./page.js"></script>
`)
  const server = await startStatic(app)
  cleanups.push(() => server.stop())
  const { result, problems } = await runPage(server.url + '/plain.html')
  assert.deepEqual(result, expected, JSON.stringify(result))
  assert.deepEqual(problems, [])
})
