// One socket per browser: the tabs of one room (pages of one browser context: one origin, one
// set of Web Locks and BroadcastChannels) elect a leader, and only it connects. Against a real
// @y/websocket-server behind the loopback proxy (no faults: it counts the connections, and can
// hold the leader's frames), with a node Yjs peer connected to the server directly.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { HocuspocusProvider as JsHocuspocusProvider } from '@hocuspocus/provider'
import { browserSuite, startHocuspocus, startYServer, yjsPeer, until } from './lib.mjs'
import { faultProxy } from './fault-proxy.mjs'

const suite = browserSuite()
const { cleanups, openPage } = suite
const newRoom = () => 'tabs-' + Math.random().toString(36).slice(2)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function world () {
  const server = await startYServer()
  cleanups.push(() => server.stop())
  const proxy = await faultProxy(server.url)
  cleanups.push(() => proxy.stop())
  return { server, proxy }
}

/** A tab of `context` with a ysync Doc and provider in `room` (through the proxy). */
async function tab (context, url, room, options = {}) {
  const { page, log } = await openPage(context)
  await page.evaluate(({ url, room, options }) => {
    const { Doc, WebsocketProvider } = window.ysync
    window.doc = new Doc()
    window.provider = new WebsocketProvider(url, room, window.doc, options)
    window.text = window.doc.getText('t')
  }, { url, room, options })
  return { page, log }
}

const roleOf = (t) => t.page.evaluate(() => window.provider.role)
const textOf = (t) => t.page.evaluate(() => window.text.toString())
const insert = (t, s) => t.page.evaluate((s) => window.text.insert(0, s), s)
const count = (text, part) => text.split(part).length - 1

/** The index of the leading tab among `tabs` (those still open), once exactly one leads and
 * is connected. */
async function leaderOf (tabs, ms = 5000) {
  let found = -1
  await until(async () => {
    const states = await Promise.all(tabs.map(async (t) => t.closed ? null : t.page.evaluate(() => [window.provider.role, window.provider.status])))
    const leaders = states.map((s, i) => [s, i]).filter(([s]) => s?.[0] === 'leader' && s?.[1] === 'connected')
    found = leaders.length === 1 ? leaders[0][1] : -1
    return found >= 0
  }, ms, 'one connected leader')
  return found
}

test('8 tabs of a room: the server sees one connection, and every tab and a Yjs peer converge', async () => {
  const { server, proxy } = await world()
  const room = newRoom()
  const context = await suite.browser.newContext()
  cleanups.push(() => context.close())
  const tabs = []
  for (let i = 0; i < 8; i++) tabs.push(await tab(context, proxy.url, room))
  await Promise.all(tabs.map((t) => t.page.evaluate(() => window.provider.whenSynced())))
  const roles = (await Promise.all(tabs.map(roleOf))).sort()
  assert.deepEqual(roles, ['follower', 'follower', 'follower', 'follower', 'follower', 'follower', 'follower', 'leader'])
  assert.equal(proxy.open(), 1, 'one connection at the server')
  assert.equal(proxy.stats.connections, 1, 'and only ever one')
  for (const t of tabs) assert.equal(await t.page.evaluate(() => window.provider.status), 'connected')

  const peer = yjsPeer(server.url, room)
  cleanups.push(() => peer.destroy())
  await peer.synced
  // Everyone types at once.
  await Promise.all([
    ...tabs.map((t, i) => t.page.evaluate(async (i) => {
      for (let k = 0; k < 5; k++) {
        window.text.insert(0, `[t${i}.${k}]`)
        await new Promise((r) => setTimeout(r, 5))
      }
    }, i)),
    (async () => { for (let k = 0; k < 5; k++) { peer.doc.getText('t').insert(0, `[p.${k}]`); await sleep(5) } })()
  ])
  await until(async () => {
    const want = peer.doc.getText('t').toString()
    if (want.length !== 9 * 5 * '[t0.0]'.length - 5) return false
    for (const t of tabs) if ((await textOf(t)) !== want) return false
    return true
  }, 10_000, 'every tab and the peer to converge')
  const final = peer.doc.getText('t').toString()
  for (let i = 0; i < 8; i++) for (let k = 0; k < 5; k++) assert.equal(count(final, `[t${i}.${k}]`), 1)
  // Acknowledged in every tab: the same count everywhere, and the server has it all.
  const acked = await Promise.all(tabs.map((t) => t.page.evaluate(async () => {
    await window.provider.whenAcknowledged()
    const s = window.provider.stats()
    return { unsynced: window.provider.hasUnsyncedChanges, role: s.role, connects: s.connects, status: s.status }
  })))
  for (const a of acked) assert.deepEqual({ ...a, role: undefined }, { unsynced: false, role: undefined, connects: 1, status: 'connected' })
  assert.equal(proxy.stats.connections, 1)
  for (const t of tabs) assert.deepEqual(t.log.filter((l) => l.startsWith('pageerror')), [])
})

test('the leader closes, then the next one crashes: a follower takes over within 2 s each time and no edit is lost or doubled', async () => {
  const { server, proxy } = await world()
  const room = newRoom()
  const context = await suite.browser.newContext()
  cleanups.push(() => context.close())
  const tabs = []
  for (let i = 0; i < 4; i++) tabs.push(await tab(context, proxy.url, room))
  await Promise.all(tabs.map((t) => t.page.evaluate(() => window.provider.whenSynced())))
  const peer = yjsPeer(server.url, room)
  cleanups.push(() => peer.destroy())
  await peer.synced
  const parts = []
  const edit = async (t, s) => { parts.push(s); await insert(t, s) }
  for (const [i, t] of tabs.entries()) await edit(t, `[a${i}]`)
  const takeovers = []

  for (const how of ['close', 'crash']) {
    const l = await leaderOf(tabs)
    const leader = tabs[l]
    // The leader's frames are held at the proxy: what every tab types next is not on the
    // server when the leader goes.
    proxy.set({ stall: true })
    for (const [i, t] of tabs.entries()) if (!t.closed) await edit(t, `[${how}-before${i}]`)
    await sleep(200)
    const started = Date.now()
    if (how === 'close') {
      await leader.page.close()
    } else {
      const cdp = await leader.page.context().newCDPSession(leader.page)
      cdp.send('Page.crash').catch(() => {})
    }
    leader.closed = true
    proxy.set({})
    // Edits made during the hand-over.
    for (const [i, t] of tabs.entries()) if (!t.closed) await edit(t, `[${how}-during${i}]`)
    const next = await leaderOf(tabs, 10_000)
    takeovers.push({ how, ms: Date.now() - started })
    assert.notEqual(next, l)
    for (const [i, t] of tabs.entries()) if (!t.closed) await edit(t, `[${how}-after${i}]`)
  }
  console.log('# takeovers: ' + JSON.stringify(takeovers))
  for (const t of takeovers) assert.ok(t.ms < 2000, `${t.how}: a follower took over in ${t.ms} ms`)
  // Every edit of every tab reaches the peer, once.
  await until(() => parts.every((p) => peer.doc.getText('t').toString().includes(p)), 10_000, 'every edit at the peer')
  const final = peer.doc.getText('t').toString()
  for (const p of parts) assert.equal(count(final, p), 1, p)
  const open = tabs.filter((t) => !t.closed)
  for (const t of open) assert.equal(await textOf(t), final)
  assert.equal(proxy.open(), 1, 'one connection again')
})

test('whenAcknowledged in a follower resolves only once the server holds its edit', async () => {
  const { server, proxy } = await world()
  const room = newRoom()
  const context = await suite.browser.newContext()
  cleanups.push(() => context.close())
  const a = await tab(context, proxy.url, room)
  await a.page.evaluate(() => window.provider.whenSynced())
  const b = await tab(context, proxy.url, room)
  await b.page.evaluate(() => window.provider.whenSynced())
  assert.deepEqual([await roleOf(a), await roleOf(b)], ['leader', 'follower'])
  // The leader's link holds every frame: the follower's edit cannot reach the server.
  proxy.set({ stall: true })
  await b.page.evaluate(() => {
    window.text.insert(0, 'from the follower')
    window.acked = false
    window.provider.whenAcknowledged().then(() => { window.acked = true })
  })
  await sleep(1000)
  assert.equal(await b.page.evaluate(() => window.acked), false)
  assert.equal(await b.page.evaluate(() => window.provider.hasUnsyncedChanges), true)
  assert.equal(await a.page.evaluate(() => window.provider.hasUnsyncedChanges), true, 'the same in every tab')
  const early = yjsPeer(server.url, room)
  await early.synced
  assert.equal(early.doc.getText('t').toString(), '', 'not on the server')
  early.destroy()
  proxy.set({})
  await until(() => b.page.evaluate(() => window.acked), 5000, 'the acknowledgement')
  // Acknowledged means the server has it: a fresh peer gets it from the server alone.
  const late = yjsPeer(server.url, room)
  await late.synced
  assert.equal(late.doc.getText('t').toString(), 'from the follower')
  late.destroy()
  assert.equal(await a.page.evaluate(() => window.provider.hasUnsyncedChanges), false)
})

test('presence of every tab reaches the server through the leader, and the peer\'s reaches every tab', async () => {
  const { server, proxy } = await world()
  const room = newRoom()
  const context = await suite.browser.newContext()
  cleanups.push(() => context.close())
  const tabs = []
  for (let i = 0; i < 3; i++) tabs.push(await tab(context, proxy.url, room))
  await Promise.all(tabs.map((t) => t.page.evaluate(() => window.provider.whenSynced())))
  const peer = yjsPeer(server.url, room)
  cleanups.push(() => peer.destroy())
  await peer.synced
  const ids = []
  for (const [i, t] of tabs.entries()) ids.push(await t.page.evaluate((i) => { window.provider.awareness.setLocalState({ name: 'tab' + i }); return window.provider.awareness.clientID }, i))
  peer.provider.awareness.setLocalState({ name: 'peer' })
  await until(() => ids.every((id, i) => peer.provider.awareness.getStates().get(id)?.name === 'tab' + i), 5000, 'every tab at the peer')
  for (const t of tabs) {
    await until(() => t.page.evaluate((p) => window.provider.awareness.getStates().get(p)?.name === 'peer', peer.doc.clientID), 5000, 'the peer in every tab')
  }
  assert.equal(proxy.open(), 1)
})

test('shareConnection: false: every tab connects on its own, as before', async () => {
  const { proxy } = await world()
  const room = newRoom()
  const context = await suite.browser.newContext()
  cleanups.push(() => context.close())
  const tabs = []
  for (let i = 0; i < 3; i++) tabs.push(await tab(context, proxy.url, room, { shareConnection: false }))
  await Promise.all(tabs.map((t) => t.page.evaluate(() => window.provider.whenSynced())))
  assert.deepEqual(await Promise.all(tabs.map(roleOf)), ['solo', 'solo', 'solo'])
  assert.equal(proxy.open(), 3)
  await insert(tabs[0], 'x')
  await until(async () => (await textOf(tabs[2])) === 'x', 5000, 'sync')
})

test('without Web Locks every tab connects on its own, as before', async () => {
  const { proxy } = await world()
  const room = newRoom()
  const context = await suite.browser.newContext()
  cleanups.push(() => context.close())
  // A browser without the Web Locks API.
  await context.addInitScript(() => { delete Navigator.prototype.locks })
  const tabs = []
  for (let i = 0; i < 3; i++) tabs.push(await tab(context, proxy.url, room))
  await Promise.all(tabs.map((t) => t.page.evaluate(() => window.provider.whenSynced())))
  assert.equal(await tabs[0].page.evaluate(() => 'locks' in navigator), false)
  assert.deepEqual(await Promise.all(tabs.map(roleOf)), ['solo', 'solo', 'solo'])
  assert.equal(proxy.open(), 3)
  await insert(tabs[1], 'y')
  await until(async () => (await textOf(tabs[0])) === 'y', 5000, 'sync')
})

/** Tabs of `context` on a Hocuspocus server (through the proxy): `docs` are the documents
 * each opens, on one shared socket (HocuspocusProviderWebsocket) per tab. */
async function hocuspocusTab (context, url, docs) {
  const { page } = await openPage(context)
  await page.evaluate(async ({ url, docs }) => {
    const { Doc, HocuspocusProvider, HocuspocusProviderWebsocket } = window.ysync
    const socket = new HocuspocusProviderWebsocket({ url })
    window.providers = {}
    for (const name of docs) {
      const doc = new Doc()
      window.providers[name] = new HocuspocusProvider({ websocketProvider: socket, name, document: doc, token: 'rw' })
      window.providers[name].text = doc.getText('t')
    }
    await Promise.all(Object.values(window.providers).map((p) => new Promise((resolve) => { if (p.synced) resolve(); else p.on('synced', resolve) })))
  }, { url, docs })
  return { page }
}

test('Hocuspocus: the tabs of several documents share the leader\'s one socket, and a closed leader is taken over', async () => {
  const hp = await startHocuspocus()
  cleanups.push(() => hp.stop())
  const proxy = await faultProxy(hp.url)
  cleanups.push(() => proxy.stop())
  const context = await suite.browser.newContext()
  cleanups.push(() => context.close())
  const [a, b] = [newRoom(), newRoom()]
  const tabs = []
  for (let i = 0; i < 3; i++) tabs.push(await hocuspocusTab(context, proxy.url, [a, b]))
  const roles = await Promise.all(tabs.map((t) => t.page.evaluate((a) => window.providers[a].role, a)))
  assert.deepEqual(roles, ['leader', 'follower', 'follower'])
  assert.equal(proxy.open(), 1, 'the first tab leads both documents, on its one socket')
  // A Hocuspocus JS peer of each document.
  const peers = {}
  for (const name of [a, b]) {
    const doc = new Y.Doc()
    const provider = new JsHocuspocusProvider({ url: hp.url, name, document: doc, token: 'rw', WebSocketPolyfill: WebSocket })
    cleanups.push(() => { provider.destroy(); doc.destroy() })
    await new Promise((resolve) => provider.on('synced', resolve))
    peers[name] = doc
  }
  for (const [i, t] of tabs.entries()) {
    await t.page.evaluate(({ a, b, i }) => {
      window.providers[a].text.insert(0, `[${i}a]`)
      window.providers[b].text.insert(0, `[${i}b]`)
    }, { a, b, i })
  }
  await until(() => [0, 1, 2].every((i) => peers[a].getText('t').toString().includes(`[${i}a]`) && peers[b].getText('t').toString().includes(`[${i}b]`)), 10_000, 'every tab\'s edits at the peers')
  // The leader closes: the next tab leads both documents, on one new socket.
  await tabs[0].page.close()
  await until(async () => (await tabs[1].page.evaluate(({ a, b }) => [window.providers[a].role, window.providers[b].role, window.providers[a].status, window.providers[b].status].join(), { a, b })) === 'leader,leader,connected,connected', 5000, 'the next tab to lead both')
  assert.equal(proxy.open(), 1)
  await tabs[2].page.evaluate(({ a }) => window.providers[a].text.insert(0, '[after]'), { a })
  await until(() => peers[a].getText('t').toString().startsWith('[after]'), 5000, 'a follower\'s edit after the hand-over')
  assert.equal(await tabs[2].page.evaluate(async ({ a }) => { await window.providers[a].whenAcknowledged(); return window.providers[a].hasUnsyncedChanges }, { a }), false)
})
