// A Yjs app's editor on ysync/yjs, side by side with the same app on y-websocket + y-indexeddb
// (its import lines switched back), each in a new browser process, against one local
// @y/websocket-server:
//   - keystrokes through CodeMirror 6 + y-codemirror.next (e2e/editors/codemirror.js): each
//     one an editor transaction in its own task, as typing is; the time of each (editor,
//     binding, Y.Doc, provider and storage work it does at once), mean and p50; then the whole
//     run until every keystroke is stored;
//   - cold loads of a stored document into the app's Y.Doc (bench/apps/load.js), in a new
//     browser process on the stored profile: the B4 document in one row, and a 10,000-row store;
//   - memory of what holds the loaded B4 document: the Y.Doc, plus for ysync/yjs its replica
//     (wasm memory), after a forced garbage collection.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startStatic, startYServer } from '../e2e/lib.mjs'
import { buildPages, page as html, switchImports } from '../e2e/yjs-build.mjs'
import { b4Doc } from './corpus.mjs'
import { ensureBuilt, launchPage, median, outDir, percentile, repoRoot, row } from './lib.mjs'

const VARIANTS = ['ysync', 'yjs']

async function buildApps () {
  const out = join(outDir, 'editor-apps')
  const cm = readFileSync(join(repoRoot, 'e2e/editors/codemirror.js'), 'utf8')
  const load = readFileSync(join(repoRoot, 'bench/apps/load.js'), 'utf8')
  for (const v of VARIANTS) {
    const sw = v === 'ysync' ? (s) => s : switchImports
    await buildPages({
      'codemirror.js': sw(cm),
      'codemirror.html': html('codemirror', 'codemirror.js'),
      'load.js': sw(load),
      'load.html': html('load', 'load.js')
    }, join(out, 'src-' + v), join(out, v))
  }
  return out
}

export async function run ({ quick, runs }) {
  ensureBuilt('pkg')
  const KEYS = quick ? 300 : 5000
  const ROWS = quick ? 200 : 10_000
  const apps = await buildApps()
  const web = await startStatic(apps)
  const server = await startYServer()
  const out = []
  try {
    // 1. Keystrokes through CodeMirror.
    const keys = { ysync: [], yjs: [] }
    for (let r = 0; r < runs; r++) {
      for (const v of r % 2 ? [...VARIANTS].reverse() : VARIANTS) {
        const q = new URLSearchParams({ room: `bench-keys-${v}-${r}-${Date.now()}`, server: server.url, name: 'bench' })
        const b = await launchPage(`${web.url}/${v}/codemirror.html?${q}`, undefined,
          () => window.app?.provider.synced === true)
        try {
          keys[v].push(await b.page.evaluate(async ({ n, v }) => {
            const { app } = window
            await window.appReady
            app.focusEnd()
            // One keystroke per task: the event loop runs (socket, storage) between them.
            const channel = new MessageChannel()
            const nextTask = () => new Promise((resolve) => { channel.port1.onmessage = resolve; channel.port2.postMessage(0) })
            const times = []
            const t0 = performance.now()
            for (let i = 0; i < n; i++) {
              const t = performance.now()
              app.type(i % 60 === 59 ? '\n' : 'abcdefghijklmnopqrstuvwxyz'[i % 26])
              times.push(performance.now() - t)
              await nextTask()
            }
            // Until every keystroke is durable in IndexedDB.
            if (v === 'ysync') {
              await app.persistence.whenPersisted()
            } else {
              // A readwrite transaction completes after every earlier one on the same store.
              await new Promise((resolve) => { const tx = app.persistence.db.transaction('updates', 'readwrite'); tx.oncomplete = resolve })
            }
            const total = performance.now() - t0
            if (app.text().length !== n) throw new Error(`typed ${n}, the editor has ${app.text().length}`)
            return { times, total }
          }, { n: KEYS, v }))
        } finally {
          await b.close()
        }
      }
    }
    const all = (v) => keys[v].flatMap((k) => k.times)
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length
    const keyMean = { ysync: mean(all('ysync')), yjs: mean(all('yjs')) }
    const ratio = keyMean.ysync / keyMean.yjs
    const label = `${KEYS.toLocaleString('en')} keystrokes through CodeMirror`
    out.push(row('Editor (ysync/yjs vs y-websocket + y-indexeddb)', `${label}: one keystroke, mean`, keyMean.ysync, keyMean.yjs, 'ms',
      { text: `≤ 1.3x y-websocket: ${ratio.toFixed(2)}x`, met: ratio <= 1.3 }))
    out.push(row('Editor (ysync/yjs vs y-websocket + y-indexeddb)', `${label}: one keystroke, p50`, percentile(all('ysync'), 50), percentile(all('yjs'), 50)))
    out.push(row('Editor (ysync/yjs vs y-websocket + y-indexeddb)', `${label}: one keystroke, p99`, percentile(all('ysync'), 99), percentile(all('yjs'), 99)))
    out.push(row('Editor (ysync/yjs vs y-websocket + y-indexeddb)', `${label}, one per task, until stored`,
      median(keys.ysync.map((k) => k.total)), median(keys.yjs.map((k) => k.total))))

    // 2. Cold loads into the Y.Doc, and 3. memory of what holds the loaded B4 document.
    const b4 = b4Doc({ quick })
    writeFileSync(join(apps, 'yjs', 'b4.update'), b4.bytes)
    const profile = mkdtempSync(join(tmpdir(), 'ysync-bench-editor-'))
    try {
      const s = await launchPage(`${web.url}/yjs/load.html`, profile)
      await s.page.evaluate(async ({ b4Path, rows }) => {
        const b4 = new Uint8Array(await (await fetch(b4Path)).arrayBuffer())
        const stored = window.oneEditRows(window.Y, rows)
        for (const v of ['ysync', 'yjs']) {
          await window.storeRows(`b4-${v}`, [b4])
          await window.storeRows(`rows-${v}`, stored)
        }
      }, { b4Path: './b4.update', rows: ROWS })
      await s.close()
    } catch (e) {
      rmSync(profile, { recursive: true, force: true })
      throw e
    }
    try {
      const stores = [[`B4 document (${(b4.bytes.length / 1e3).toFixed(0)} KB, one row)`, 'b4'], [`${ROWS.toLocaleString('en')}-row store`, 'rows']]
      for (const [what, db] of stores) {
        const load = { ysync: [], yjs: [] }
        const memory = { ysync: [], yjs: [] }
        for (let r = 0; r < runs; r++) {
          for (const v of r % 2 ? [...VARIANTS].reverse() : VARIANTS) {
            const c = await launchPage(`${web.url}/${v}/load.html`, profile)
            try {
              const measure = async () => {
                await c.cdp.send('HeapProfiler.collectGarbage')
                const { usedSize } = await c.cdp.send('Runtime.getHeapUsage')
                const wasm = v === 'ysync' ? await c.page.evaluate(() => window.wasmBytes()) : 0
                return { heap: usedSize, wasm }
              }
              const before = await measure()
              const res = await c.page.evaluate((name) => window.load(name), `${db}-${v}`)
              if (!(res.length > 0)) throw new Error(`${v}: nothing loaded from ${db}`)
              load[v].push(res.ms)
              const after = await measure()
              memory[v].push({ heap: after.heap - before.heap, wasm: after.wasm - before.wasm })
            } finally {
              await c.close()
            }
          }
        }
        const ratio = median(load.ysync) / median(load.yjs)
        out.push(row('Editor (ysync/yjs vs y-websocket + y-indexeddb)', `cold load into the app's Y.Doc: ${what}, new browser process`, median(load.ysync), median(load.yjs), 'ms',
          { text: `≤ y-indexeddb: ${ratio.toFixed(2)}x`, met: ratio <= 1 }))
        if (db === 'b4') {
          const m = (v, k) => median(memory[v].map((x) => x[k]))
          out.push(row('Editor (ysync/yjs vs y-websocket + y-indexeddb)', `memory holding the loaded ${what}: Y.Doc (+ replica)`, m('ysync', 'heap') + m('ysync', 'wasm'), m('yjs', 'heap'), 'bytes'))
          out.push({ note: `Memory holding the B4 document loaded into an app's Y.Doc, ysync/yjs: ${(m('ysync', 'heap') / 1e6).toFixed(2)} MB of JS heap (the Y.Doc, and the storage's JS side) + ${(m('ysync', 'wasm') / 1e6).toFixed(2)} MB of wasm memory (the replica that syncs and stores); y-indexeddb: ${(m('yjs', 'heap') / 1e6).toFixed(2)} MB of JS heap.` })
        }
      }
    } finally {
      try { rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 }) } catch {}
    }
  } finally {
    await server.stop()
    await web.stop()
  }
  return out
}
