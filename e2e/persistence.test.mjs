// IndexeddbPersistence in headless Chromium: reload, no growth without edits, compaction with
// two tabs, y-indexeddb interop both ways, corrupt rows, quota errors, and a SIGKILLed browser.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { startStatic, launchBrowser, repoRoot, until, chromiumArgs, freePort, startYServer, yjsPeer } from './lib.mjs'
import { writePeersPage } from './browser-peers.mjs'

let web, browser, pagePath
before(async () => {
  pagePath = writePeersPage()
  web = await startStatic(repoRoot)
  browser = await launchBrowser()
})
after(async () => {
  await browser?.close()
  await web?.stop()
})

const dbName = (p) => p + '-' + Math.random().toString(36).slice(2)

async function open (context) {
  const page = await context.newPage()
  const log = []
  page.on('pageerror', (e) => log.push('pageerror: ' + e))
  await page.goto(web.url + pagePath)
  await page.waitForFunction(() => window.ysyncReady === true, null, { timeout: 10_000 })
  return { page, log }
}

/** Opens doc + persistence in the page; resolves when loaded. */
const attach = (page, name, options = {}) => page.evaluate(async ({ name, options }) => {
  window.doc = new window.ysync.Doc()
  window.errors = []
  window.persistence = new window.ysync.IndexeddbPersistence(name, window.doc, options)
  window.persistence.on('error', (e) => window.errors.push({ name: e.name, code: e.code, domName: e.domName, message: e.message }))
  await window.persistence.whenSynced()
}, { name, options })

const text = (page) => page.evaluate(() => window.doc.getText('note').toString())
const rows = (page, name) => page.evaluate((n) => window.rawRows(n).then((r) => r.length), name)

test('a reload restores the document; reopening without edits writes nothing', async () => {
  const ctx = await browser.newContext()
  const { page } = await open(ctx)
  const name = dbName('reload')
  await attach(page, name)
  await page.evaluate(async () => {
    const t = window.doc.getText('note')
    for (let i = 0; i < 100; i++) t.insert(t.length, 'x')
    window.doc.getMap('m').set('k', { deep: [1, 'two'] })
    await window.persistence.whenPersisted()
  })
  assert.equal(await rows(page, name), 1, 'a burst of edits is one transaction, one row')
  for (let i = 0; i < 20; i++) {
    await page.reload()
    await page.waitForFunction(() => window.ysyncReady === true)
    await attach(page, name)
    assert.equal((await text(page)).length, 100)
  }
  assert.deepEqual(await page.evaluate(() => window.doc.getMap('m').toJSON()), { k: { deep: [1, 'two'] } })
  assert.equal(await rows(page, name), 1, 'no growth over 20 reloads without edits')
  await ctx.close()
})

test('y-indexeddb reads what ysync wrote, and ysync reads what y-indexeddb wrote', async () => {
  const ctx = await browser.newContext()
  const { page } = await open(ctx)
  const a = dbName('to-yjs')
  await attach(page, a)
  await page.evaluate(async () => {
    window.doc.getText('note').insert(0, 'written by ysync 🦀')
    window.doc.getArray('list').push([1, 'b', null])
    await window.persistence.whenPersisted()
    await window.persistence.destroy()
  })
  const fromYsync = await page.evaluate(async (name) => {
    const doc = new window.Y.Doc()
    const p = new window.YIndexeddbPersistence(name, doc)
    await p.whenSynced
    const out = { note: doc.getText('note').toString(), list: doc.getArray('list').toJSON() }
    await p.destroy()
    return out
  }, a)
  assert.deepEqual(fromYsync, { note: 'written by ysync 🦀', list: [1, 'b', null] })

  const b = dbName('from-yjs')
  await page.evaluate(async (name) => {
    const doc = new window.Y.Doc()
    const p = new window.YIndexeddbPersistence(name, doc)
    await p.whenSynced
    doc.getText('note').insert(0, 'written by y-indexeddb')
    doc.getMap('m').set('n', 42)
    await new Promise((r) => setTimeout(r, 200))
    await p.destroy()
  }, b)
  await attach(page, b)
  assert.equal(await text(page), 'written by y-indexeddb')
  assert.equal(await page.evaluate(() => window.doc.getMap('m').get('n')), 42)
  assert.deepEqual(await page.evaluate(() => window.errors), [])
  await ctx.close()
})

test('a corrupt row is skipped with an error event; the rest loads', async () => {
  const ctx = await browser.newContext()
  const { page } = await open(ctx)
  const name = dbName('corrupt')
  await attach(page, name)
  await page.evaluate(async () => {
    window.doc.getText('note').insert(0, 'good')
    await window.persistence.whenPersisted()
    await window.persistence.destroy()
  })
  // Truncated garbage, the update that traps yrs on wasm32, and a value of the wrong type.
  await page.evaluate((name) => window.storeRows(name, [
    new Uint8Array([1, 2, 3]),
    new Uint8Array([1, 1, 1, 0, 4, 1, 1, 116, 0xff, 0xff, 0xff, 0xff, 0x0f, 0]),
    'not bytes'
  ]), name)
  await attach(page, name)
  assert.equal(await text(page), 'good')
  const errors = await page.evaluate(() => window.errors)
  // One event for the three rows (#19: 100,000 bad rows used to mean 100,000 events).
  assert.equal(errors.length, 1)
  assert.equal(errors[0].code, 'INVALID_UPDATE')
  assert.match(errors[0].message, /^3 stored rows are not valid updates/)
  // The instance keeps working, and a compaction quarantined the rows.
  await page.evaluate(async () => { window.doc.getText('note').insert(4, '!'); await window.persistence.whenPersisted() })
  assert.equal(await page.evaluate(() => window.persistence.stats().quarantined), 3)
  const kept = await page.evaluate((name) => new Promise((resolve, reject) => {
    const r = indexedDB.open(name)
    r.onsuccess = () => {
      const tx = r.result.transaction(['updates', 'custom'], 'readonly')
      const rows = tx.objectStore('updates').count()
      const q = tx.objectStore('custom').getAllKeys()
      tx.oncomplete = () => { r.result.close(); resolve({ rows: rows.result, quarantine: q.result.filter((k) => String(k).startsWith('ysync:quarantine:')).length }) }
      tx.onerror = () => reject(tx.error)
    }
  }), name)
  assert.equal(kept.quarantine, 1, 'the bad rows are kept aside, as one value')
  assert.ok(kept.rows <= 2, `only good rows are left: ${kept.rows}`)
  await attach(page, name)
  assert.equal(await text(page), 'good!')
  assert.deepEqual(await page.evaluate(() => window.errors), [], 'a reload reads no bad row again')
  await ctx.close()
})

test('a store of 2,000 one-edit rows, some before what they build on, loads whole', async () => {
  const ctx = await browser.newContext()
  const { page } = await open(ctx)
  const name = dbName('many-rows')
  const out = await page.evaluate(async (name) => {
    // One row per edit, as y-indexeddb writes them; the rows of each run of 100 are stored
    // last first, so most of them arrive before the row they build on, in other transactions.
    const rows = []
    const y = new window.Y.Doc()
    y.on('update', (u) => rows.push(u))
    for (let i = 0; i < 2000; i++) {
      if (i % 7 === 0) y.getMap('m').set('k' + i, i)
      else y.getText('note').insert(i % 3 ? y.getText('note').length : 0, String.fromCharCode(97 + (i % 26)))
    }
    const stored = []
    for (let r = 0; r < rows.length; r += 100) stored.push(...rows.slice(r, r + 100).reverse())
    await window.storeRows(name, stored)
    const doc = new window.ysync.Doc()
    // What the document's update events carry rebuilds the same document in Yjs.
    const mirror = new window.Y.Doc()
    doc.on('update', (u) => window.Y.applyUpdate(mirror, u))
    const errors = []
    const p = new window.ysync.IndexeddbPersistence(name, doc, { compactRows: 1e9 })
    p.on('error', (e) => errors.push(e.code))
    await p.whenSynced()
    return {
      note: doc.getText('note').toString(),
      m: doc.getMap('m').toJSON(),
      want: { note: y.getText('note').toString(), m: y.getMap('m').toJSON() },
      mirror: { note: mirror.getText('note').toString(), m: mirror.getMap('m').toJSON() },
      rows: p.stats().rows,
      errors
    }
  }, name)
  assert.equal(out.note.length, 2000 - Math.ceil(2000 / 7))
  assert.deepEqual({ note: out.note, m: out.m }, out.want)
  assert.deepEqual(out.mirror, out.want)
  assert.equal(out.rows, 2000)
  assert.deepEqual(out.errors, [])
  await ctx.close()
})

test('two tabs editing and compacting: nothing lost, rows stay bounded', async () => {
  const ctx = await browser.newContext()
  const name = dbName('tabs')
  const a = await open(ctx)
  const b = await open(ctx)
  await attach(a.page, name, { compactRows: 5 })
  await attach(b.page, name, { compactRows: 5 })
  for (let i = 0; i < 30; i++) {
    for (const [tab, p] of [['a', a.page], ['b', b.page]]) {
      await p.evaluate(async ({ tab, i }) => {
        window.doc.getArray('list').push([tab + i])
        await window.persistence.whenPersisted()
      }, { tab, i })
    }
  }
  assert.ok(await rows(a.page, name) <= 7, 'compaction keeps the row count bounded')
  const c = await open(ctx)
  await attach(c.page, name)
  const list = await c.page.evaluate(() => window.doc.getArray('list').toJSON())
  assert.equal(list.length, 60)
  for (let i = 0; i < 30; i++) assert.ok(list.includes('a' + i) && list.includes('b' + i), String(i))
  await ctx.close()
})

test('one tab compacts at a time: while another holds the compaction lock, writes are appended; then compaction resumes', async () => {
  const ctx = await browser.newContext()
  const name = dbName('compact-lock')
  const a = await open(ctx)
  const other = await open(ctx)
  await attach(a.page, name, { compactRows: 3 })
  // Another tab of the same origin is compacting this document (it holds the lock).
  await other.page.evaluate((name) => new Promise((resolve) => {
    window.releaseLock = null
    navigator.locks.request('ysync-compact:' + name, () => {
      resolve()
      return new Promise((release) => { window.releaseLock = release })
    })
  }), name)
  const write = (s) => a.page.evaluate(async (s) => {
    window.doc.getText('t').insert(0, s)
    await window.persistence.whenPersisted()
    return window.persistence.stats()
  }, s)
  let stats
  for (let i = 0; i < 8; i++) stats = await write('x')
  assert.equal(stats.compactions, 0, 'no compaction while the other tab compacts')
  assert.ok(stats.rows >= 8, `appended instead (${stats.rows} rows)`)
  await other.page.evaluate(() => window.releaseLock())
  for (let i = 0; i < 2; i++) stats = await write('y')
  assert.ok(stats.compactions >= 1, 'compacts once the lock is free')
  assert.ok(stats.rows <= 3, `rows back under compactRows (${stats.rows})`)
  const c = await open(ctx)
  await attach(c.page, name)
  assert.equal(await c.page.evaluate(() => window.doc.getText('t').toString()), 'yy' + 'x'.repeat(8))
  await ctx.close()
})

test('quota exceeded: an error event, no false persisted, retried once space is back', async () => {
  const ctx = await browser.newContext()
  const { page } = await open(ctx)
  const name = dbName('quota')
  await attach(page, name)
  const cdp = await ctx.newCDPSession(page)
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: web.url, quotaSize: 1 })
  await page.evaluate(() => {
    window.persistedDone = false
    window.doc.getText('note').insert(0, 'x'.repeat(100_000))
    window.persistence.whenPersisted().then(() => { window.persistedDone = true })
  })
  await until(() => page.evaluate(() => window.errors.some((e) => e.domName === 'QuotaExceededError' && e.code === 'BROWSER_ERROR')), 5000, 'QuotaExceededError event')
  await new Promise((r) => setTimeout(r, 1000))
  assert.equal(await page.evaluate(() => window.persistedDone), false, 'never persisted while writes fail')
  const failing = await page.evaluate(() => window.persistence.stats())
  assert.ok(failing.writeFailures >= 1 && failing.errors.QuotaExceededError >= 1, JSON.stringify(failing))
  assert.ok(failing.pendingUpdates >= 1 && failing.pendingBytes >= 100_000, 'the edit waits in memory')
  // A provider on the same document counts the storage failures among its errors.
  const providerErrors = await page.evaluate(() => new window.ysync.WebsocketProvider('ws://127.0.0.1:9', 'quota', window.doc, { connect: false }).stats().errors)
  assert.ok(providerErrors.STORAGE_FAILURE >= 1, JSON.stringify(providerErrors))
  await cdp.send('Storage.overrideQuotaForOrigin', { origin: web.url })
  await until(() => page.evaluate(() => window.persistedDone), 40_000, 'persisted after the quota is lifted')
  assert.equal((await page.evaluate(() => window.persistence.stats())).pendingUpdates, 0)
  await ctx.close()
})

test('a browser killed with SIGKILL right after whenPersisted loses nothing', async () => {
  const profile = mkdtempSync(join(tmpdir(), 'ysync-profile-'))
  const name = dbName('kill')
  const launch = async () => {
    const port = await freePort()
    // Its own process group, so SIGKILL reaches every Chromium process (as a crash would).
    const proc = spawn('/usr/bin/chromium', [...chromiumArgs, `--user-data-dir=${profile}`, `--remote-debugging-port=${port}`, 'about:blank'], { stdio: 'ignore', detached: true })
    const b = await until(() => chromium.connectOverCDP(`http://127.0.0.1:${port}`).catch(() => null), 15_000, 'chromium')
    return { proc, b }
  }
  const kill = async (proc) => {
    const exited = new Promise((r) => proc.on('exit', r))
    try { process.kill(-proc.pid, 'SIGKILL') } catch {}
    await exited
  }
  try {
    let { proc, b } = await launch()
    let { page } = await open(b.contexts()[0])
    await attach(page, name)
    await page.evaluate(async () => {
      const t = window.doc.getText('note')
      for (let i = 0; i < 500; i++) t.insert(t.length, String(i % 10))
      await window.persistence.whenPersisted()
    })
    await kill(proc);
    ({ proc, b } = await launch());
    ({ page } = await open(b.contexts()[0]))
    await attach(page, name)
    assert.equal((await text(page)).length, 500)
    await kill(proc)
  } finally {
    try {
      rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 })
    } catch (e) {
      console.error('could not remove the temporary profile:', e.message)
    }
  }
})

test('sync metadata survives a reload: hasUnsyncedChanges is right before the socket connects', async () => {
  const port = await freePort()
  let srv = await startYServer(port)
  const ctx = await browser.newContext()
  const { page } = await open(ctx)
  const name = dbName('meta')
  const room = 'meta-' + name
  const start = (connect) => page.evaluate(async ({ name, url, room, connect }) => {
    window.doc = new window.ysync.Doc()
    window.persistence = new window.ysync.IndexeddbPersistence(name, window.doc, {})
    window.provider = new window.ysync.WebsocketProvider(url, room, window.doc, { connect, disableBc: true })
    await window.persistence.whenSynced()
  }, { name, url: srv.url, room, connect })
  const unsynced = () => page.evaluate(() => window.provider.hasUnsyncedChanges)

  await start(true)
  await page.evaluate(async () => {
    await window.provider.whenSynced()
    window.doc.getText('note').insert(0, 'acknowledged ')
    await window.provider.whenAcknowledged()
    await window.persistence.whenPersisted()
  })
  await new Promise((r) => setTimeout(r, 300)) // the acknowledged state vector is stored asynchronously

  // Reload, not connecting: everything was acknowledged, so nothing is unsynced.
  await page.reload()
  await page.waitForFunction(() => window.ysyncReady === true)
  await start(false)
  await new Promise((r) => setTimeout(r, 500))
  assert.equal(await unsynced(), false)
  assert.equal(await page.evaluate(() => window.doc.getText('note').toString()), 'acknowledged ')

  // Offline edit, reload while the server is down: known unsynced before any socket opens.
  await srv.stop()
  await page.evaluate(async () => {
    window.doc.getText('note').insert(13, 'offline')
    await window.persistence.whenPersisted()
  })
  await page.reload()
  await page.waitForFunction(() => window.ysyncReady === true)
  await start(false)
  await until(unsynced, 3000, 'hasUnsyncedChanges after the reload')
  assert.equal(await page.evaluate(() => window.provider.status), 'disconnected')

  srv = await startYServer(port)
  try {
    await page.evaluate(() => window.provider.connect())
    await until(async () => !(await unsynced()), 10_000, 'acknowledged after reconnecting')
    const fresh = yjsPeer(srv.url, room)
    await fresh.synced
    assert.equal(fresh.doc.getText('note').toString(), 'acknowledged offline')
    fresh.destroy()
  } finally {
    await ctx.close()
    await srv.stop()
  }
})

test('another tab upgrading the database: the connection is dropped, reopened, and writes go on', async () => {
  const ctx = await browser.newContext()
  const name = dbName('upgrade')
  const a = await open(ctx)
  const b = await open(ctx)
  await attach(a.page, name)
  await a.page.evaluate(async () => { window.doc.getText('note').insert(0, 'v1 '); await window.persistence.whenPersisted() })
  // A newer app version in tab B bumps the schema version; tab A must not block it.
  await b.page.evaluate((name) => new Promise((resolve, reject) => {
    const r = indexedDB.open(name, 2)
    r.onupgradeneeded = () => r.result.createObjectStore('extra')
    r.onsuccess = () => { r.result.close(); resolve() }
    r.onerror = () => reject(r.error)
    r.onblocked = () => reject(new Error('blocked by tab A'))
  }), name)
  await a.page.evaluate(async () => { window.doc.getText('note').insert(3, 'after upgrade'); await window.persistence.whenPersisted() })
  await attach(b.page, name)
  assert.equal(await text(b.page), 'v1 after upgrade')
  await ctx.close()
})

test('IndexedDB unavailable: an error event, and the document keeps working in memory', async () => {
  const ctx = await browser.newContext()
  const { page } = await open(ctx)
  await page.evaluate(() => Object.defineProperty(window, 'indexedDB', { value: undefined, configurable: true }))
  await attach(page, dbName('none'))
  await page.evaluate(() => window.doc.getText('note').insert(0, 'still works'))
  assert.equal(await text(page), 'still works')
  const errors = await page.evaluate(() => window.errors)
  assert.ok(errors.some((e) => e.message.includes('NotSupportedError')), JSON.stringify(errors))
  await ctx.close()
})

test('clearData blocked by another connection: a BlockedError event, then deleted once it closes', async () => {
  const ctx = await browser.newContext()
  const name = dbName('blocked')
  const a = await open(ctx)
  const b = await open(ctx)
  await attach(a.page, name)
  await a.page.evaluate(async () => { window.doc.getText('note').insert(0, 'to delete'); await window.persistence.whenPersisted() })
  // Tab B holds a connection that ignores versionchange (as y-indexeddb does).
  await b.page.evaluate((name) => new Promise((resolve) => {
    const r = indexedDB.open(name)
    r.onsuccess = () => { window.held = r.result; resolve() }
  }), name)
  await a.page.evaluate(() => { window.cleared = false; window.persistence.clearData().then(() => { window.cleared = true }) })
  await until(() => a.page.evaluate(() => window.errors.some((e) => e.domName === 'BlockedError')), 5000, 'BlockedError event')
  assert.equal(await a.page.evaluate(() => window.cleared), false, 'not cleared while blocked')
  await b.page.evaluate(() => window.held.close())
  await until(() => a.page.evaluate(() => window.cleared), 5000, 'cleared once the other connection closed')
  const names = await a.page.evaluate(() => indexedDB.databases().then((d) => d.map((x) => x.name)))
  assert.ok(!names.includes(name), 'the database is gone')
  await ctx.close()
})

test("compaction picks up another tab's stored edit and sends it to the server", async () => {
  const port = await freePort()
  const srv = await startYServer(port)
  const ctx = await browser.newContext()
  const name = dbName('forward')
  const room = 'forward-' + name
  const a = await open(ctx)
  const b = await open(ctx)
  try {
    await a.page.evaluate(async ({ name, url, room }) => {
      window.doc = new window.ysync.Doc()
      window.persistence = new window.ysync.IndexeddbPersistence(name, window.doc, { compactRows: 3 })
      window.provider = new window.ysync.WebsocketProvider(url, room, window.doc, { disableBc: true })
      await window.persistence.whenSynced()
      await window.provider.whenSynced()
    }, { name, url: srv.url, room })
    // Tab B has no provider (say it closed before it could send): its edit is only on disk.
    await attach(b.page, name)
    await b.page.evaluate(async () => { window.doc.getArray('list').push(['from b']); await window.persistence.whenPersisted() })
    // Tab A's next writes pass compactRows; compacting reads B's row into A's document.
    await a.page.evaluate(async () => {
      for (let i = 0; i < 4; i++) { window.doc.getArray('list').push(['a' + i]); await window.persistence.whenPersisted() }
    })
    await until(() => a.page.evaluate(() => window.doc.getArray('list').toJSON().includes('from b')), 5000, 'A picked up B')
    await a.page.evaluate(() => window.provider.whenAcknowledged())
    const peer = yjsPeer(srv.url, room)
    await peer.synced
    assert.ok(peer.doc.getArray('list').toJSON().includes('from b'), 'the server has B\'s edit')
    assert.equal(peer.doc.getArray('list').length, 5)
    peer.destroy()
  } finally {
    await ctx.close()
    await srv.stop()
  }
})

test('persist: true asks the browser for persistent storage', async () => {
  const ctx = await browser.newContext()
  const { page } = await open(ctx)
  // Whether the browser grants it is its own decision (headless contexts never do): check that
  // the request is made once with the option and not without it.
  await page.evaluate(() => {
    window.persistCalls = 0
    const real = navigator.storage.persist.bind(navigator.storage)
    navigator.storage.persist = () => { window.persistCalls++; return real() }
  })
  await attach(page, dbName('nopersist'))
  assert.equal(await page.evaluate(() => window.persistCalls), 0)
  await attach(page, dbName('persist'), { persist: true })
  assert.equal(await page.evaluate(() => window.persistCalls), 1)
  assert.deepEqual(await page.evaluate(() => window.errors), [])
  await ctx.close()
})
