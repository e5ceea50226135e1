import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from '../../e2e/node_modules/playwright-core/index.mjs'
import { startStatic, repoRoot, chromiumArgs, freePort, until } from '../../e2e/lib.mjs'
import { writePeersPage } from '../../e2e/browser-peers.mjs'
const pagePath = writePeersPage()
const web = await startStatic(repoRoot)
const profile = mkdtempSync(join(tmpdir(), 'ysync-prof-'))
async function launch () {
  const port = await freePort()
  const proc = spawn('/usr/bin/chromium', [...chromiumArgs, `--user-data-dir=${profile}`, `--remote-debugging-port=${port}`, 'about:blank'], { stdio: 'ignore' })
  const browser = await until(() => chromium.connectOverCDP(`http://127.0.0.1:${port}`).catch(() => null), 15_000, 'chromium')
  const page = await browser.contexts()[0].newPage()
  page.on('console', (m) => console.log('  page:', m.text()))
  await page.goto(web.url + pagePath)
  await page.waitForFunction(() => window.ysyncReady === true, null, { timeout: 20_000 })
  return { page, async close () { const gone = new Promise((r) => proc.on('exit', r)); await browser.close().catch(() => {}); proc.kill('SIGKILL'); await gone } }
}
{
  const b = await launch()
  await b.page.evaluate(async () => {
    const Y = window.Y
    const big = new Y.Doc()
    const chunk = 'lorem ipsum dolor sit amet '.repeat(40)
    for (let i = 0; big.getText('t').length < 10_000_000; i++) {
      big.getText('t').insert(big.getText('t').length, chunk)
      if (i % 50 === 0) big.getMap('m').set('k' + i, { i, s: chunk.slice(0, 20) })
    }
    const bigUpdate = Y.encodeStateAsUpdate(big)
    const small = new Y.Doc(); const smallUpdates = []
    small.on('update', (u) => smallUpdates.push(u))
    for (let i = 0; i < 10000; i++) small.getText('t').insert(i, 'x')
    const fill = (name, values) => new Promise((resolve, reject) => {
      const r = indexedDB.open(name)
      r.onupgradeneeded = () => { r.result.createObjectStore('updates', { autoIncrement: true }); r.result.createObjectStore('custom') }
      r.onsuccess = () => { const tx = r.result.transaction('updates', 'readwrite'); for (const v of values) tx.objectStore('updates').add(v); tx.oncomplete = () => { r.result.close(); resolve() } }
    })
    for (const lib of ['ysync', 'yidb', 'raw']) { await fill('big-' + lib, [bigUpdate]); await fill('rows-' + lib, smallUpdates) }
  })
  await b.close()
}
for (const db of ['big', 'rows']) for (let run = 0; run < 3; run++) for (const lib of ['raw', 'ysync', 'yidb']) {
  const c = await launch()
  const r = await c.page.evaluate(async ({ lib, name }) => {
    const t0 = performance.now()
    let extra = {}
    if (lib === 'raw') {
      const rows = await window.rawRows(name)
      const t1 = performance.now()
      const d = new window.ysync.Doc(); for (const r of rows) d.applyUpdate(r)
      const t2 = performance.now()
      const y = new window.Y.Doc(); for (const r of rows) window.Y.applyUpdate(y, r)
      const t3 = performance.now()
      const d2 = new window.ysync.Doc(); for (const r of rows) d2.applyUpdate(r)
      const t4 = performance.now()
      extra = { idb: t1 - t0, ysApply: t2 - t1, yjsApply: t3 - t2, ysApply2: t4 - t3 }
    } else if (lib === 'ysync') {
      const doc = new window.ysync.Doc()
      const p = new window.ysync.IndexeddbPersistence(name, doc, { compactRows: 1e9 })
      await p.whenSynced(); doc.getText('t').length
    } else {
      const doc = new window.Y.Doc(); const p = new window.YIndexeddbPersistence(name, doc); await p.whenSynced; doc.getText('t').length
    }
    return { total: performance.now() - t0, ...extra }
  }, { lib, name: db + '-' + lib })
  console.log(db, lib, JSON.stringify(r, (k, v) => typeof v === 'number' ? Math.round(v * 10) / 10 : v))
  await c.close()
}
await web.stop()
