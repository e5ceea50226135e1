// ysync's WebsocketProvider in headless Chromium against a real y-sweet 0.9.1 server (the
// `y-sweet` crate's `serve`, with auth), with @y-sweet/client's provider in node as the peer. The
// client token comes from @y-sweet/sdk's getClientToken; the socket URL is the token's `url` +
// '/' + docId + '?token='. What is y-sweet's own: no echoed edits (its yrs reads client IDs as
// 32-bit), a read-only token. The scenarios every server shares are in conformance.test.mjs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isDeepStrictEqual } from 'node:util'
import { browserSuite, docState, pageDocState, startYSweet, until } from './lib.mjs'
import { ySweetPeer, ySweetToken } from './ysweet-peer.mjs'

const { cleanups, openPage } = browserSuite()

const newName = (p) => p + '-' + Math.random().toString(36).slice(2)

async function server (opts) {
  const s = await startYSweet(opts)
  cleanups.push(() => s.stop())
  return s
}

const clientToken = ySweetToken
const jsPeer = (ys, docId) => ySweetPeer(ys, docId, cleanups)

/** A page with a ysync Doc and a WebsocketProvider on the token's socket URL. */
async function join (token, options = {}) {
  const { page } = await openPage()
  await page.evaluate(({ token, options }) => {
    const { Doc, WebsocketProvider } = window.ysync
    window.doc = new Doc()
    window.events = []
    window.provider = new WebsocketProvider(token.url, token.docId, window.doc, { params: { token: token.token }, disableBc: true, maxBackoffTime: 300, ...options })
    for (const event of ['status', 'sync', 'error', 'unsyncedChanges']) {
      window.provider.on(event, (e) => window.events.push({ name: event, code: e?.code, status: e?.status }))
    }
  }, { token, options })
  return page
}


test('Yjs-sized client IDs: y-sweet echoes none of ysync\'s edits back and reports no error', async () => {
  const ys = await server()
  const docId = newName('converge')
  const page = await join(await clientToken(ys, docId))
  const peer = await jsPeer(ys, docId)
  await page.evaluate(() => window.provider.whenSynced())
  // The default client ID is Yjs-sized: y-sweet's yrs truncates wider ones and would send our
  // own edits back to us as someone else's.
  assert.ok(await page.evaluate(() => window.doc.clientID) < 2 ** 32)

  await page.evaluate(() => {
    window.doc.getText('note').insert(0, 'ysync.')
    window.doc.getMap('m').set('by', 'ysync')
    window.doc.getArray('list').push([1, 'two'])
  })
  await until(() => peer.doc.getText('note').toString().includes('ysync.'), 10_000, 'the peer sees the ysync edit')
  peer.doc.getText('note').insert(0, 'js.')
  peer.doc.getMap('m').set('js', true)
  peer.doc.getArray('list').push([3])
  await until(async () => isDeepStrictEqual(await pageDocState(page), docState(peer.doc)), 10_000, 'convergence')
  const s = await pageDocState(page)
  assert.equal(s.note, 'js.ysync.', 'each edit exactly once')
  assert.deepEqual(s.m, { by: 'ysync', js: true })
  assert.equal(s.list.length, 3)
  const errors = await page.evaluate(() => window.events.filter((e) => e.name === 'error'))
  assert.deepEqual(errors, [], 'no NOT_APPLIED or other error')

  await page.evaluate(() => window.doc.getText('note').insert(0, 'acked.'))
  await page.evaluate(() => window.provider.whenAcknowledged())
  const fresh = await jsPeer(ys, docId)
  await until(() => fresh.doc.getText('note').toString().startsWith('acked.'), 5000, 'a fresh peer sees the acknowledged edit')
  await page.close()
})

test('a read-only token: the document syncs down, local edits are reported NOT_APPLIED and never acknowledged', async () => {
  const ys = await server()
  const docId = newName('readonly')
  const writer = await jsPeer(ys, docId)
  writer.doc.getText('note').insert(0, 'server text')
  const page = await join(await clientToken(ys, docId, 'read-only'))
  await page.evaluate(() => window.provider.whenSynced())
  await until(async () => (await pageDocState(page)).note === 'server text', 10_000, 'the read-only page syncs down')
  const acked = await page.evaluate(async () => {
    window.doc.getText('note').insert(0, 'mine ')
    const acked = window.provider.whenAcknowledged().then(() => true)
    return Promise.race([acked, new Promise((r) => setTimeout(() => r(false), 4000))])
  })
  assert.equal(acked, false, 'never acknowledged')
  await until(async () => (await page.evaluate(() => window.events)).some((e) => e.name === 'error' && e.code === 'NOT_APPLIED'), 10_000, 'NOT_APPLIED')
  const fresh = await jsPeer(ys, docId)
  assert.equal(fresh.doc.getText('note').toString(), 'server text')
  await page.close()
})

