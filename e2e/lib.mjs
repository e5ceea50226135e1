// Test plumbing: a real @y/websocket-server child process, a static file server, headless
// Chromium through playwright-core, and a node Yjs peer. Everything on 127.0.0.1.
import { spawn } from 'node:child_process'
import { before, after } from 'node:test'
import { createServer } from 'node:http'
import { createServer as createNetServer } from 'node:net'
import { readFile, stat } from 'node:fs/promises'
import { extname, join, normalize, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

export const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)))
const here = fileURLToPath(new URL('.', import.meta.url))

export const freePort = () => new Promise((resolvePort, reject) => {
  const s = createNetServer()
  s.on('error', reject)
  s.listen(0, '127.0.0.1', () => {
    const { port } = s.address()
    s.close(() => resolvePort(port))
  })
})

/** Starts @y/websocket-server with node directly (so its PID is the server's). */
export async function startYServer (port) {
  port = port ?? await freePort()
  const child = spawn(process.execPath, [join(here, '../node_modules/@y/websocket-server/src/server.js')], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  await new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error('y-websocket server did not start')), 10_000)
    child.stdout.on('data', (d) => {
      if (String(d).includes('running at')) { clearTimeout(timer); resolveReady() }
    })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error('server exited ' + code)) })
  })
  const exited = new Promise((r) => child.on('exit', r))
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    pid: child.pid,
    async stop () { child.kill('SIGKILL'); await exited }
  }
}

const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png'
}

/** Serves `root` read-only on 127.0.0.1; `headers` are added to every response. */
export async function startStatic (root, { port, headers = {} } = {}) {
  port = port ?? await freePort()
  const server = createServer(async (req, res) => {
    try {
      const path = decodeURIComponent(new URL(req.url, 'http://x').pathname)
      let file = normalize(join(root, path))
      if (!file.startsWith(root)) { res.writeHead(403).end(); return }
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html')
      const body = await readFile(file)
      res.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-store', ...headers })
      res.end(body)
    } catch {
      res.writeHead(404).end('not found')
    }
  })
  await new Promise((r) => server.listen(port, '127.0.0.1', r))
  return { port, url: `http://127.0.0.1:${port}`, stop: () => new Promise((r) => server.close(r)) }
}

export const chromiumArgs = [
  '--no-sandbox', '--headless', '--disable-gpu', '--disable-dev-shm-usage',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'
]

export async function launchBrowser () {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: chromiumArgs
  })
}

/** A node Yjs peer (yjs + y-websocket) in `room`. */
export function yjsPeer (serverUrl, room) {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(serverUrl, room, doc, { WebSocketPolyfill: WebSocket, disableBc: true })
  const synced = new Promise((r) => provider.once('sync', r))
  return { doc, provider, synced, destroy () { provider.destroy(); doc.destroy() } }
}

/**
 * A page with ysync loaded (e2e/pages/interop.html), in `context` or a new one (contexts share
 * BroadcastChannel and IndexedDB between their pages); `pkg` names another build of the package
 * to load (e.g. '/target/bench-pkg/ysync.js', with the test hooks). `log` collects its console lines and
 * page errors (prefixed `pageerror: `).
 */
export async function openInteropPage (browser, webUrl, context, { pkg } = {}) {
  context = context ?? await browser.newContext()
  const page = await context.newPage()
  const log = []
  page.on('console', (m) => log.push(m.text()))
  page.on('pageerror', (e) => log.push('pageerror: ' + e))
  await page.goto(`${webUrl}/e2e/pages/interop.html` + (pkg ? `?pkg=${encodeURIComponent(pkg)}` : ''))
  await page.waitForFunction(() => window.ysyncReady === true, null, { timeout: 10_000 })
  return { page, context, log }
}

/**
 * The hooks most e2e files share: before their tests, a static server on the repository and
 * one headless Chromium; after them, `cleanups` run newest first, then both stop.
 * `openPage(context, opts)` is `openInteropPage` in that browser.
 */
export function browserSuite () {
  const suite = {
    web: null,
    browser: null,
    cleanups: [],
    openPage: (context, opts) => openInteropPage(suite.browser, suite.web.url, context, opts)
  }
  before(async () => {
    suite.web = await startStatic(repoRoot)
    suite.browser = await launchBrowser()
  })
  after(async () => {
    for (const c of suite.cleanups.reverse()) await c()
    await suite.browser?.close()
    await suite.web?.stop()
  })
  return suite
}

/**
 * What the server conformance tests compare: the text `note`, the map `m` and the array `list`
 * of a document (a ysync Doc or a Yjs Y.Doc: same methods). `pageDocState(page)` reads it from
 * the page's `window.doc`.
 */
export const docState = (doc) => ({
  note: doc.getText('note').toString(),
  m: doc.getMap('m').toJSON(),
  list: doc.getArray('list').toJSON()
})
export const pageDocState = (page) => page.evaluate(`(${docState})(window.doc)`)

/**
 * Polls `cond` every 20 ms until it is truthy or `ms` passed. `what` names the wait in the
 * error; a function is called then, so that the error can say what was there instead.
 */
export async function until (cond, ms = 5000, what = 'condition') {
  const end = Date.now() + ms
  for (;;) {
    const v = await cond()
    if (v) return v
    if (Date.now() > end) throw new Error('timed out waiting for ' + (typeof what === 'function' ? await what() : what))
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** The demo's two servers: y-websocket on `wsPort` and www/ (with pkg/) behind a strict CSP. */
export async function startDemo ({ wsPort, httpPort } = {}) {
  // The rich-text page is bundled (TipTap); the plain page loads pkg/ as it is.
  const { buildWww } = await import('./yjs-build.mjs')
  await buildWww()
  const ws = await startYServer(wsPort)
  const csp = [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    `connect-src 'self' ws://127.0.0.1:${ws.port}`,
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'"
  ].join('; ')
  const web = await startStatic(repoRoot, { port: httpPort, headers: { 'Content-Security-Policy': csp } })
  const url = `${web.url}/www/?server=${encodeURIComponent(ws.url)}`
  return { ws, web, url, async stop () { await web.stop(); await ws.stop() } }
}

export { Y }

/** Starts e2e/hocuspocus-server.mjs (a real @hocuspocus/server) on `port`; `env` adds to its environment. */
export async function startHocuspocus (port, env = {}) {
  port = port ?? await freePort()
  const child = spawn(process.execPath, [join(here, 'hocuspocus-server.mjs')], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let log = ''
  child.stderr.on('data', (d) => { log += d })
  await new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error('hocuspocus did not start: ' + log)), 10_000)
    child.stdout.on('data', (d) => {
      if (String(d).includes('running at')) { clearTimeout(timer); resolveReady() }
    })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error('hocuspocus exited ' + code + ': ' + log)) })
  })
  const exited = new Promise((r) => child.on('exit', r))
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    pid: child.pid,
    log: () => log,
    async stop () { child.kill('SIGKILL'); await exited }
  }
}

/**
 * A y-sweet 0.9.1 server (`y-sweet serve`, built by scripts/setup.sh) on 127.0.0.1 with a fresh
 * key and store directory; `connectionString` is what @y-sweet/sdk takes. Restarting on the same
 * `port`, `key` and `store` keeps the documents (it checkpoints them to the store).
 */
export async function startYSweet ({ port, key, store } = {}) {
  const { mkdtemp } = await import('node:fs/promises')
  const { tmpdir } = await import('node:os')
  const { execFileSync } = await import('node:child_process')
  port = port ?? await freePort()
  key = key ?? JSON.parse(execFileSync('y-sweet', ['gen-auth', '--json'], { encoding: 'utf8' }))
  store = store ?? await mkdtemp(join(tmpdir(), 'ysync-ysweet-'))
  // `--auth=KEY`: keys can start with '-', which a separate argument would read as a flag.
  const child = spawn('y-sweet', ['serve', '--host', '127.0.0.1', '--port', String(port), `--auth=${key.private_key}`, '--checkpoint-freq-seconds', '1', store], {
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let log = ''
  child.stdout.on('data', (d) => { log += d })
  child.stderr.on('data', (d) => { log += d })
  const exited = new Promise((r) => child.on('exit', r))
  let dead = false
  exited.then(() => { dead = true })
  await until(async () => {
    if (dead) throw new Error('y-sweet exited: ' + log)
    try { return (await fetch(`http://127.0.0.1:${port}/ready`)).ok } catch { return false }
  }, 10_000, 'y-sweet to start')
  return {
    port,
    key,
    store,
    connectionString: `ys://${key.server_token}@127.0.0.1:${port}`,
    pid: child.pid,
    log: () => log,
    async stop () { if (!dead) child.kill('SIGKILL'); await exited }
  }
}

/** A redis-server (Debian's, installed by scripts/setup.sh) on 127.0.0.1, in memory only. */
export async function startRedis (port) {
  port = port ?? await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let log = ''
  await new Promise((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error('redis did not start: ' + log)), 10_000)
    child.stdout.on('data', (d) => {
      log += d
      if (log.includes('Ready to accept connections')) { clearTimeout(timer); resolveReady() }
    })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error('redis exited ' + code + ': ' + log)) })
  })
  const exited = new Promise((r) => child.on('exit', r))
  return { port, pid: child.pid, async stop () { child.kill('SIGKILL'); await exited } }
}
