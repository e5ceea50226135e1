// Persistence benchmark, side by side with y-indexeddb (yjs 13.6 ES module build), measured in
// the same run in headless Chromium. Prints a Markdown table.
//   node bench/persistence.mjs            full sizes (10,000 edits, 10 MB doc, 10,000 rows)
//   node bench/persistence.mjs --quick    tiny sizes, for CI (checks the harness runs)
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startStatic, repoRoot } from '../e2e/lib.mjs'
import { launchPage } from './browser.mjs'
import { writePeersPage } from '../e2e/browser-peers.mjs'

const quick = process.argv.includes('--quick')
const EDITS = quick ? 200 : 10_000
const BIG_BYTES = quick ? 100_000 : 10_000_000
const ROWS = quick ? 200 : 10_000
const RUNS = quick ? 1 : 3

const pagePath = writePeersPage()
const web = await startStatic(repoRoot)
const profile = mkdtempSync(join(tmpdir(), 'ysync-bench-'))

const launch = () => launchPage(web.url + pagePath, profile)

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const results = []
const breakdown = []

// 1. N single-character edits (one transaction each) until all are durable.
{
  const b = await launch()
  const ys = []
  const yj = []
  for (let run = 0; run < RUNS; run++) {
    ys.push(await b.page.evaluate(async ({ n, run }) => {
      const doc = new window.ysync.Doc()
      const p = new window.ysync.IndexeddbPersistence('edits-ysync-' + run, doc, {})
      await p.whenSynced()
      const t = doc.getText('t')
      const t0 = performance.now()
      for (let i = 0; i < n; i++) t.insert(i, 'x')
      await p.whenPersisted()
      return performance.now() - t0
    }, { n: EDITS, run }))
    yj.push(await b.page.evaluate(async ({ n, run }) => {
      const doc = new window.Y.Doc()
      const p = new window.YIndexeddbPersistence('edits-yidb-' + run, doc)
      await p.whenSynced
      const t = doc.getText('t')
      const t0 = performance.now()
      for (let i = 0; i < n; i++) t.insert(i, 'x')
      // A readwrite transaction completes after every earlier one on the same store.
      await new Promise((resolve) => { const tx = p.db.transaction('updates', 'readwrite'); tx.oncomplete = resolve })
      return performance.now() - t0
    }, { n: EDITS, run }))
  }
  results.push([`${EDITS.toLocaleString('en')} single-char edits, until durable`, median(ys), median(yj)])
  await b.close()
}

// 2. Cold load in a new browser process: a large document, and a store of many rows.
{
  const b = await launch()
  await b.page.evaluate(async ({ bytes, rows }) => {
    const Y = window.Y
    // The same content for both libraries: a large document as one row...
    const big = new Y.Doc()
    const chunk = 'lorem ipsum dolor sit amet '.repeat(40)
    for (let i = 0; big.getText('t').length < bytes; i++) {
      big.getText('t').insert(big.getText('t').length, chunk)
      if (i % 50 === 0) big.getMap('m').set('k' + i, { i, s: chunk.slice(0, 20) })
    }
    const bigUpdate = Y.encodeStateAsUpdate(big)
    // ...and many small updates, one row each.
    const small = new Y.Doc()
    const smallUpdates = []
    small.on('update', (u) => smallUpdates.push(u))
    for (let i = 0; i < rows; i++) small.getText('t').insert(i, 'x')
    const fill = (name, values) => new Promise((resolve, reject) => {
      const r = indexedDB.open(name)
      r.onupgradeneeded = () => { r.result.createObjectStore('updates', { autoIncrement: true }); r.result.createObjectStore('custom') }
      r.onsuccess = () => {
        const tx = r.result.transaction('updates', 'readwrite')
        for (const v of values) tx.objectStore('updates').add(v)
        tx.oncomplete = () => { r.result.close(); resolve() }
        tx.onerror = () => reject(tx.error)
      }
    })
    for (const lib of ['ysync', 'yidb', 'read']) {
      await fill('big-' + lib, [bigUpdate])
      await fill('rows-' + lib, smallUpdates)
    }
    window.bigSize = bigUpdate.length
  }, { bytes: BIG_BYTES, rows: ROWS })
  const bigSize = await b.page.evaluate(() => window.bigSize)
  await b.close()
  for (const [label, db] of [[`cold load, ${(bigSize / 1e6).toFixed(1)} MB document`, 'big'], [`cold load, ${ROWS.toLocaleString('en')}-row store`, 'rows']]) {
    const ys = []
    const yj = []
    const parts = { read: [], ysync: [], yjs: [] }
    for (let run = 0; run < RUNS; run++) {
      for (const lib of ['ysync', 'yidb', 'read']) {
        const c = await launch()
        const ms = await c.page.evaluate(async ({ lib, name, first }) => {
          const t0 = performance.now()
          if (lib === 'read') {
            // Where the time goes: the IndexedDB read alone (open + getAll), then each
            // library's decode + integrate of the rows already in memory (alternating which
            // goes first, as the first one pays for warming up the process).
            const rows = await window.rawRows(name)
            const read = performance.now() - t0
            const apply = {
              ysync: () => { const d = new window.ysync.Doc(); for (const r of rows) d.applyUpdate(r) },
              yjs: () => { const d = new window.Y.Doc(); window.Y.transact(d, () => { for (const r of rows) window.Y.applyUpdate(d, r) }) }
            }
            const out = { read }
            for (const k of first === 'ysync' ? ['ysync', 'yjs'] : ['yjs', 'ysync']) {
              const t = performance.now()
              apply[k]()
              out[k] = performance.now() - t
            }
            return out
          } else if (lib === 'ysync') {
            const doc = new window.ysync.Doc()
            const p = new window.ysync.IndexeddbPersistence(name, doc, { compactRows: 1e9 })
            await p.whenSynced()
            doc.getText('t').length // touch the content
          } else {
            const doc = new window.Y.Doc()
            const p = new window.YIndexeddbPersistence(name, doc)
            await p.whenSynced
            doc.getText('t').length
          }
          return performance.now() - t0
        }, { lib, name: db + '-' + lib, first: run % 2 ? 'yjs' : 'ysync' })
        if (lib === 'read') for (const k of Object.keys(parts)) parts[k].push(ms[k])
        else (lib === 'ysync' ? ys : yj).push(ms)
        await c.close()
      }
    }
    results.push([label, median(ys), median(yj)])
    breakdown.push([label.replace('cold load, ', ''), median(parts.read), median(parts.ysync), median(parts.yjs)])
  }
}

await web.stop()
try { rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 }) } catch {}

const fmt = (ms) => ms >= 1000 ? (ms / 1000).toFixed(2) + ' s' : ms.toFixed(1) + ' ms'
console.log(`\n| scenario (median of ${RUNS}) | ysync | y-indexeddb 9 + yjs 13.6 | y-indexeddb / ysync |`)
console.log('|---|---:|---:|---:|')
for (const [name, a, b] of results) console.log(`| ${name} | ${fmt(a)} | ${fmt(b)} | ${(b / a).toFixed(1)}x |`)
console.log(`\nCold load breakdown (median of ${RUNS}, each in a new browser process):\n`)
console.log('| stored | IndexedDB open + getAll alone | ysync decode + integrate (Doc.applyUpdate per row) | Yjs decode + integrate (one transaction) |')
console.log('|---|---:|---:|---:|')
for (const [name, read, ys, yj] of breakdown) console.log(`| ${name} | ${fmt(read)} | ${fmt(ys)} | ${fmt(yj)} |`)
