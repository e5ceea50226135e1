// ysync/yjs: a Yjs app's own Y.Doc synced and stored by ysync. One app (e2e/yjs-app/app.js),
// built with Vite twice: on ysync/yjs, and with its two import lines switched back to
// y-websocket + y-indexeddb. The same steps run on both against a real y-websocket server and
// a node Yjs peer, and give the same results; ysync's own promises are checked on the first.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { repoRoot, yjsPeer, until } from './lib.mjs'
import { buildPages, builtAppsSuite, differingLines, page as html, switchImports } from './yjs-build.mjs'

const source = readFileSync(join(repoRoot, 'e2e/yjs-app/app.js'), 'utf8')
const switched = switchImports(source)
const variants = { ysync: source, yjs: switched }
const awSource = readFileSync(join(repoRoot, 'e2e/yjs-app/awareness.js'), 'utf8')
const awVariants = { ysync: awSource, yjs: switchImports(awSource) }
const out = join(repoRoot, 'e2e/artifacts/yjs-app')

const suite = builtAppsSuite(out, async () => {
  for (const [name, code] of Object.entries(variants)) {
    const files = {
      'app.js': code,
      'index.html': html('yjs app', 'app.js'),
      'awareness.js': awVariants[name],
      'aw.html': html('awareness', 'awareness.js')
    }
    if (name === 'ysync') {
      // Hocuspocus's class on the entry: a Y.Doc, with and without presence (no server).
      files['hp.js'] = `import * as Y from 'yjs'
import { HocuspocusProvider, HocuspocusProviderWebsocket } from 'ysync/yjs'
const ydoc = new Y.Doc()
const bare = new HocuspocusProvider({ url: 'ws://127.0.0.1:9', name: 'bare', document: ydoc, awareness: null, connect: false })
const withPresence = new HocuspocusProvider({ url: 'ws://127.0.0.1:9', name: 'full', document: new Y.Doc(), connect: false })
// Hocuspocus's shared socket, from the same entry.
const socket = new HocuspocusProviderWebsocket({ url: 'ws://127.0.0.1:9', autoConnect: false })
const onSocket = new HocuspocusProvider({ websocketProvider: socket, name: 'mux', document: new Y.Doc() })
window.result = { bare: bare.awareness, document: bare.document === ydoc, presenceDoc: withPresence.awareness.doc === withPresence.document, socket: [socket.status, onSocket.document instanceof Y.Doc].join() }
`
      files['hp.html'] = html('hp', 'hp.js')
    }
    await buildPages(files, join(out, 'src-' + name), join(out, name))
  }
})

test('the switch is the two import lines, nothing else', () => {
  assert.deepEqual(differingLines(source, switched), ["import { WebsocketProvider } from 'ysync/yjs'", "import { IndexeddbPersistence } from 'ysync/yjs'"])
})

async function open (context, variant, room, { offline = false } = {}) {
  const page = await context.newPage()
  const problems = []
  page.on('pageerror', (e) => problems.push(String(e)))
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()) })
  const q = new URLSearchParams({ room, server: suite.server.url, offline: offline ? '1' : '0' })
  await page.goto(`${suite.web.url}/${variant}/index.html?${q}`)
  await page.waitForFunction(() => window.appReady !== undefined, null, { timeout: 20_000 })
  assert.equal(await page.evaluate(() => window.appReady), true, 'whenSynced resolves with the persistence')
  return { page, problems }
}

const pageText = (page) => page.evaluate(() => window.app.text.toString())

/** The same steps on either build; returns what they observed. */
async function scenario (variant) {
  const room = `yjs-${variant}-${Date.now()}`
  const context = await suite.browser.newContext()
  const peer = yjsPeer(suite.server.url, room)
  await peer.synced
  const { page, problems } = await open(context, variant, room)
  await page.waitForFunction(() => window.app.provider.synced === true, null, { timeout: 10_000 })
  const r = {}
  // Typing and deletes both ways.
  await page.evaluate(() => { const t = window.app.text; t.insert(0, 'hello world'); t.delete(5, 6); t.insert(5, '!') })
  await until(() => peer.doc.getText('note').toString() === 'hello!', 5000, 'the peer to get the page\'s edits')
  peer.doc.getText('note').insert(0, '>> ')
  peer.doc.getText('note').delete(5, 1)
  await until(async () => (await pageText(page)) === peer.doc.getText('note').toString(), 5000, 'the page to get the peer\'s edits')
  r.text = await pageText(page)
  r.origins = await page.evaluate(() => [...new Set(window.app.updates)].sort())
  // Concurrent typing converges.
  await page.evaluate(() => { for (let i = 0; i < 300; i++) window.app.text.insert(i % 7, 'a') })
  for (let i = 0; i < 300; i++) peer.doc.getText('note').insert(i % 5, 'b')
  await until(async () => (await pageText(page)) === peer.doc.getText('note').toString(), 10_000, 'convergence')
  r.converged = (await pageText(page)).length
  r.clientIDs = await page.evaluate(() => window.app.provider.awareness.clientID === window.app.ydoc.clientID)
  // y-indexeddb writes after the fact and has no promise for it: a page closed at once loses
  // its last edits there (ysync's are written before \`whenPersisted\` resolves).
  await new Promise((res) => setTimeout(res, 800))
  await page.close()
  // An offline edit survives a reload from IndexedDB, then reaches the peer.
  const off = await open(context, variant, room, { offline: true })
  const stored = await pageText(off.page)
  r.restored = stored === peer.doc.getText('note').toString()
  r.restoreUpdates = await off.page.evaluate(() => window.app.updates.filter((o) => o === 'persistence').length)
  await off.page.evaluate(() => { for (let i = 0; i < 20; i++) window.app.text.insert(0, 'o') })
  // y-indexeddb has no promise for "stored"; both write within a few hundred ms.
  await new Promise((res) => setTimeout(res, 800))
  await off.page.close()
  const back = await open(context, variant, room)
  r.offlineEditReloaded = (await pageText(back.page)).startsWith('o'.repeat(20))
  await until(() => peer.doc.getText('note').toString().startsWith('o'.repeat(20)), 10_000, 'the offline edit to reach the peer (' + variant + ')')
  r.problems = [...problems, ...off.problems, ...back.problems]
  await back.page.close()
  await context.close()
  peer.destroy()
  return r
}

test('a Yjs app on ysync/yjs and on y-websocket + y-indexeddb gives the same results', async () => {
  const onYsync = await scenario('ysync')
  const onYjs = await scenario('yjs')
  assert.deepEqual(onYsync, onYjs)
  assert.equal(onYsync.text, '>> helo!')
  assert.deepEqual(onYsync.origins, ['local', 'persistence', 'provider'].filter((o) => onYsync.origins.includes(o)))
  assert.ok(onYsync.origins.includes('provider'), 'remote edits arrive with origin === provider')
  assert.equal(onYsync.converged, onYsync.text.length + 300 + 300)
  assert.equal(onYsync.clientIDs, true)
  assert.equal(onYsync.restored, true)
  assert.equal(onYsync.restoreUpdates, 1, 'the stored document arrives in one update')
  assert.equal(onYsync.offlineEditReloaded, true)
  assert.deepEqual(onYsync.problems, [])
})

test('ysync/yjs: one replica under the Y.Doc\'s client ID, no echo, acknowledgement of Y.Doc edits', async () => {
  const room = `yjs-ack-${Date.now()}`
  const context = await suite.browser.newContext()
  const peer = yjsPeer(suite.server.url, room)
  await peer.synced
  const { page, problems } = await open(context, 'ysync', room)
  await page.waitForFunction(() => window.app.provider.synced === true, null, { timeout: 10_000 })
  const r = await page.evaluate(async () => {
    const { ydoc, text, provider } = window.app
    text.insert(0, 'acked?')
    const unsyncedAfterEdit = provider.hasUnsyncedChanges
    await provider.whenAcknowledged()
    return {
      unsyncedAfterEdit,
      unsyncedAfterAck: provider.hasUnsyncedChanges,
      local: provider.stats().updatesApplied.local,
      awarenessDoc: provider.awareness.doc === ydoc,
      doc: provider.doc === ydoc,
      url: provider.url.endsWith('/' + provider.roomname),
      wsconnected: provider.wsconnected
    }
  })
  assert.deepEqual({ ...r, local: undefined }, { unsyncedAfterEdit: true, unsyncedAfterAck: false, local: undefined, awarenessDoc: true, doc: true, url: true, wsconnected: true })
  // Acknowledged means the server has it: a fresh peer gets it from the server alone.
  const late = yjsPeer(suite.server.url, room)
  await late.synced
  assert.equal(late.doc.getText('note').toString(), 'acked?')
  // A remote edit reaches the Y.Doc once, with origin === provider, and is not taken for a
  // local edit (no echo back to the server).
  peer.doc.getText('note').insert(0, '!')
  await until(async () => (await pageText(page)) === '!acked?', 5000, 'the remote edit')
  await new Promise((res) => setTimeout(res, 300))
  const after = await page.evaluate(() => ({ local: window.app.provider.stats().updatesApplied.local, last: window.app.updates.at(-1), unsynced: window.app.provider.hasUnsyncedChanges }))
  assert.deepEqual(after, { local: r.local, last: 'provider', unsynced: false })
  // Presence under the Y.Doc's client ID, seen by the Yjs peer.
  const id = await page.evaluate(() => { window.app.provider.awareness.setLocalStateField('user', { name: 'Ada' }); return window.app.ydoc.clientID })
  await until(() => peer.provider.awareness.getStates().get(id)?.user?.name === 'Ada', 5000, 'the page\'s presence at the peer')
  assert.deepEqual(problems, [])
  await context.close()
  peer.destroy()
  late.destroy()
})

test('ysync/yjs HocuspocusProvider takes a Y.Doc as its document, with presence or with awareness: null, alone or on the entry\'s HocuspocusProviderWebsocket', async () => {
  const page = await suite.browser.newPage()
  const problems = []
  page.on('pageerror', (e) => problems.push(String(e)))
  await page.goto(`${suite.web.url}/ysync/hp.html`)
  await page.waitForFunction(() => window.result !== undefined, null, { timeout: 20_000 })
  assert.deepEqual(await page.evaluate(() => window.result), { bare: null, document: true, presenceDoc: true, socket: 'disconnected,true' })
  assert.deepEqual(problems, [])
  await page.close()
})

/** The steps of the awareness app on either build; returns what they observed. */
async function awarenessScenario (variant) {
  const room = `yjs-aw-${variant}-${Date.now()}`
  const peer = yjsPeer(suite.server.url, room)
  await peer.synced
  const page = await suite.browser.newPage()
  const problems = []
  page.on('pageerror', (e) => problems.push(String(e)))
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()) })
  await page.goto(`${suite.web.url}/${variant}/aw.html?` + new URLSearchParams({ room, server: suite.server.url }))
  await page.waitForFunction(() => window.app?.provider.synced === true, null, { timeout: 20_000 })
  const r = {}
  r.same = await page.evaluate(() => window.app.provider.awareness === window.app.awareness)
  // The app's local state reaches the peer under the Y.Doc's client ID.
  const id = await page.evaluate(() => { window.app.awareness.setLocalStateField('user', { name: 'Ada' }); return window.app.ydoc.clientID })
  await until(() => peer.provider.awareness.getStates().get(id)?.user?.name === 'Ada', 5000, 'the page\'s state at the peer')
  // The peer's states reach the app's Awareness with the provider as the origin.
  const peerId = peer.doc.clientID
  const seen = (want) => page.evaluate(({ peerId, want }) => JSON.stringify(window.app.awareness.getStates().get(peerId) ?? null) === JSON.stringify(want), { peerId, want })
  peer.provider.awareness.setLocalState({ user: { name: 'Peer' } })
  await until(() => seen({ user: { name: 'Peer' } }), 5000, 'the peer in the app\'s Awareness')
  peer.provider.awareness.setLocalStateField('cursor', 7)
  await until(() => seen({ user: { name: 'Peer' }, cursor: 7 }), 5000, 'the peer\'s change')
  peer.provider.awareness.setLocalState(null)
  await until(() => seen(null), 5000, 'the peer gone')
  r.meta = await page.evaluate((peerId) => typeof window.app.awareness.meta.get(peerId)?.clock, peerId)
  peer.provider.awareness.setLocalState({ user: { name: 'Back' } })
  await until(() => seen({ user: { name: 'Back' } }), 5000, 'the peer back')
  // The provider goes: the other clients' states go with it, the app's own stays.
  await page.evaluate(() => window.app.provider.destroy())
  await until(() => seen(null), 5000, 'remote states removed when the provider goes')
  r.local = await page.evaluate(() => window.app.awareness.getLocalState())
  r.events = await page.evaluate((peerId) => window.app.events
    .filter((e) => [...e.added, ...e.updated, ...e.removed].includes(peerId))
    .map((e) => ({ added: e.added, updated: e.updated, removed: e.removed, origin: e.origin })), peerId)
  r.events = JSON.parse(JSON.stringify(r.events).replaceAll(String(peerId), '"peer"'))
  r.problems = problems
  await page.close()
  peer.destroy()
  return r
}

test('an app\'s own y-protocols Awareness passed to the provider is used as it is, the same on ysync/yjs and on y-websocket', async () => {
  const onYsync = await awarenessScenario('ysync')
  const onYjs = await awarenessScenario('yjs')
  assert.deepEqual(onYsync, onYjs)
  assert.equal(onYsync.same, true)
  assert.deepEqual(onYsync.local, { user: { name: 'Ada' } })
  assert.deepEqual(onYsync.events, [
    { added: ['peer'], updated: [], removed: [], origin: 'provider' },
    { added: [], updated: ['peer'], removed: [], origin: 'provider' },
    { added: [], updated: [], removed: ['peer'], origin: 'provider' },
    // y-protocols: a client it knows (by its clock) that comes back is updated, not added.
    { added: [], updated: ['peer'], removed: [], origin: 'provider' },
    { added: [], updated: [], removed: ['peer'], origin: 'provider' }
  ])
  assert.deepEqual(onYsync.problems, [])
})
