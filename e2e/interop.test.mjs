// A ysync client in headless Chromium and a node Yjs peer (y-websocket) in the same room of a
// real @y/websocket-server converge, both ways.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startYServer, startStatic, launchBrowser, yjsPeer, until, repoRoot, Y } from './lib.mjs'

let server, web, browser
const cleanups = []

before(async () => {
  server = await startYServer()
  web = await startStatic(repoRoot)
  browser = await launchBrowser()
})

after(async () => {
  for (const c of cleanups) c()
  await browser?.close()
  await web?.stop()
  await server?.stop()
})

async function openClient (room) {
  const page = await browser.newPage()
  const errors = []
  page.on('pageerror', (e) => errors.push(String(e)))
  await page.goto(`${web.url}/e2e/pages/interop.html`)
  await page.waitForFunction(() => window.ysyncReady === true, null, { timeout: 10_000 })
  await page.evaluate(async ({ url, room }) => {
    const doc = new window.ysync.Doc()
    const provider = new window.ysync.WebsocketProvider(url, room, doc, {})
    window.doc = doc
    window.provider = provider
    await provider.whenSynced()
  }, { url: server.url, room })
  return { page, errors }
}

test('ysync in Chromium and a Yjs peer converge on text, map and array, both ways', async () => {
  const room = 'interop-' + Math.random().toString(36).slice(2)
  const peer = yjsPeer(server.url, room)
  cleanups.push(() => peer.destroy())
  await peer.synced
  const { page, errors } = await openClient(room)

  // ysync -> Yjs
  await page.evaluate(() => {
    window.doc.getText('note').insert(0, 'hello from ysync 🦀')
    window.doc.getMap('m').set('fromYsync', { n: 1, list: [true, null, 'x'] })
    window.doc.getArray('list').push(['a', 2])
  })
  await until(() => peer.doc.getText('note').toString() === 'hello from ysync 🦀', 5000, 'text at the Yjs peer')
  await until(() => peer.doc.getArray('list').length === 2, 5000, 'array at the Yjs peer')
  assert.deepEqual(peer.doc.getMap('m').get('fromYsync'), { n: 1, list: [true, null, 'x'] })

  // Yjs -> ysync (a UTF-16 position after the emoji, as Yjs counts)
  peer.doc.transact(() => {
    peer.doc.getText('note').insert(peer.doc.getText('note').length, ' and Yjs')
    peer.doc.getMap('m').set('fromYjs', 'ok')
    peer.doc.getArray('list').insert(0, [3.5])
  })
  await until(() => page.evaluate(() => window.doc.getText('note').toString() === 'hello from ysync 🦀 and Yjs'), 5000, 'text in the browser')
  await until(() => page.evaluate(() => window.doc.getMap('m').get('fromYjs') === 'ok'), 5000, 'map in the browser')

  // Acknowledged means the server holds it: a fresh Yjs peer must see the edit.
  await page.evaluate(async () => {
    window.doc.getText('note').insert(0, '> ')
    await window.provider.whenAcknowledged()
  })
  assert.equal(await page.evaluate(() => window.provider.hasUnsyncedChanges), false)
  const fresh = yjsPeer(server.url, room)
  cleanups.push(() => fresh.destroy())
  await fresh.synced
  assert.equal(fresh.doc.getText('note').toString(), '> hello from ysync 🦀 and Yjs')

  const json = await page.evaluate(() => ({ m: window.doc.getMap('m').toJSON(), list: window.doc.getArray('list').toJSON() }))
  assert.deepEqual(json.m, peer.doc.getMap('m').toJSON())
  assert.deepEqual(json.list, peer.doc.getArray('list').toJSON())
  // Same state, byte-level: the Yjs peer has nothing the browser lacks and vice versa.
  const sv = await page.evaluate(() => Array.from(window.doc.encodeStateVector()))
  assert.equal(Y.encodeStateAsUpdate(peer.doc, Uint8Array.from(sv)).length <= 4, true)
  assert.deepEqual(errors, [])
  await page.close()
})
