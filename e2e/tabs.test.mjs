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

for (const [missing, remove, present] of [
  ['Web Locks', () => { delete Navigator.prototype.locks }, () => 'locks' in navigator],
  ['BroadcastChannel', () => { delete window.BroadcastChannel }, () => 'BroadcastChannel' in window]
]) {
  test(`without ${missing} every tab connects on its own, as before`, async () => {
    const { proxy } = await world()
    const room = newRoom()
    const context = await suite.browser.newContext()
    cleanups.push(() => context.close())
    // A browser without that API.
    await context.addInitScript(remove)
    const tabs = []
    for (let i = 0; i < 3; i++) tabs.push(await tab(context, proxy.url, room))
    await Promise.all(tabs.map((t) => t.page.evaluate(() => window.provider.whenSynced())))
    assert.equal(await tabs[0].page.evaluate(present), false)
    assert.deepEqual(await Promise.all(tabs.map(roleOf)), ['solo', 'solo', 'solo'])
    assert.equal(proxy.open(), 3)
    await insert(tabs[1], 'y')
    await until(async () => (await textOf(tabs[0])) === 'y', 5000, 'sync')
  })
}

/** Tabs of `context` on a Hocuspocus server (through the proxy): `docs` are the documents
 * each opens, on one socket (HocuspocusProviderWebsocket, with `socketOptions`) per tab. */
async function hocuspocusTab (context, url, docs, socketOptions = {}, providerOptions = {}) {
  const { page } = await openPage(context)
  await page.evaluate(async ({ url, docs, socketOptions, providerOptions }) => {
    const { Doc, HocuspocusProvider, HocuspocusProviderWebsocket } = window.ysync
    const socket = new HocuspocusProviderWebsocket({ url, ...socketOptions })
    window.socket = socket
    window.providers = {}
    for (const name of docs) {
      const doc = new Doc()
      window.providers[name] = new HocuspocusProvider({ websocketProvider: socket, name, document: doc, token: 'rw', maxDelay: 300, ...providerOptions })
      window.providers[name].text = doc.getText('t')
    }
    await Promise.all(Object.values(window.providers).map((p) => new Promise((resolve) => { if (p.synced) resolve(); else p.on('synced', resolve) })))
  }, { url, docs, socketOptions, providerOptions })
  return { page }
}

/** A @hocuspocus/provider peer (node) of `name`, straight to the server: its Y.Doc. */
async function hocuspocusPeer (url, name) {
  const doc = new Y.Doc()
  const provider = new JsHocuspocusProvider({ url, name, document: doc, token: 'rw', WebSocketPolyfill: WebSocket })
  cleanups.push(() => { provider.destroy(); doc.destroy() })
  await new Promise((resolve) => provider.on('synced', resolve))
  return doc
}

async function hocuspocusWorld () {
  const hp = await startHocuspocus()
  cleanups.push(() => hp.stop())
  const proxy = await faultProxy(hp.url)
  cleanups.push(() => proxy.stop())
  const context = await suite.browser.newContext()
  cleanups.push(() => context.close())
  return { hp, proxy, context }
}

test('Hocuspocus: the tabs of several documents share the leader\'s one socket, and a closed leader is taken over', async () => {
  const { hp, proxy, context } = await hocuspocusWorld()
  const [a, b] = [newRoom(), newRoom()]
  const tabs = []
  for (let i = 0; i < 3; i++) tabs.push(await hocuspocusTab(context, proxy.url, [a, b]))
  const roles = await Promise.all(tabs.map((t) => t.page.evaluate((a) => window.providers[a].role, a)))
  assert.deepEqual(roles, ['leader', 'follower', 'follower'])
  assert.equal(proxy.open(), 1, 'the first tab leads both documents, on its one socket')
  const peers = { [a]: await hocuspocusPeer(hp.url, a), [b]: await hocuspocusPeer(hp.url, b) }
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

test('Hocuspocus: tabs of different documents all travel on the one socket of the tab holding it; it closes, then the next holder crashes: another takes over, and no edit is lost', async () => {
  const { hp, proxy, context } = await hocuspocusWorld()
  const names = [newRoom(), newRoom(), newRoom(), newRoom()]
  const tabs = []
  for (const name of names) tabs.push({ ...(await hocuspocusTab(context, proxy.url, [name])), name })
  assert.equal(proxy.open(), 1, 'four tabs, four documents, one socket')
  assert.equal(proxy.stats.connections, 1)
  assert.deepEqual(await Promise.all(tabs.map((t) => t.page.evaluate(() => window.socket.holdsSocket))), [true, false, false, false])
  assert.deepEqual(await Promise.all(tabs.map((t) => t.page.evaluate((n) => window.providers[n].role, t.name))), ['leader', 'leader', 'leader', 'leader'], 'each tab leads its own document')
  const peers = await Promise.all(names.map((n) => hocuspocusPeer(hp.url, n)))
  const textOfTab = (t) => t.page.evaluate((n) => window.providers[n].text.toString(), t.name)
  const edit = async (t, s) => { (t.parts ??= []).push(s); await t.page.evaluate(({ n, s }) => window.providers[n].text.insert(0, s), { n: t.name, s }) }
  // Both ways, and acknowledged, through the holder's socket.
  for (const [i, t] of tabs.entries()) await edit(t, `[${i}.0]`)
  peers.forEach((p, i) => p.getText('t').insert(0, `<peer${i}>`))
  await until(async () => (await Promise.all(tabs.map(async (t, i) => peers[i].getText('t').toString() === await textOfTab(t)))).every(Boolean), 10_000, 'each tab and its peer converge')
  for (const t of tabs.slice(1)) {
    assert.equal(await t.page.evaluate(async (n) => { await window.providers[n].whenAcknowledged(); return [window.providers[n].hasUnsyncedChanges, window.providers[n].status, window.socket.status].join() }, t.name), 'false,connected,connected')
  }
  const holderOf = async () => {
    let found = -1
    await until(async () => {
      const states = await Promise.all(tabs.map((t) => t.closed ? null : t.page.evaluate((n) => [window.socket.holdsSocket, window.providers[n].status], t.name)))
      const holders = states.map((s, i) => [s, i]).filter(([s]) => s?.[0] === true)
      const connected = states.every((s) => s === null || s[1] === 'connected')
      found = holders.length === 1 && connected ? holders[0][1] : -1
      return found >= 0
    }, 10_000, 'one tab holding the socket and every document connected')
    return found
  }
  const takeovers = []
  for (const how of ['close', 'crash']) {
    const h = await holderOf()
    // Frames are held at the proxy: what every tab types next is not on the server when the
    // holder goes.
    proxy.set({ stall: true })
    for (const [i, t] of tabs.entries()) if (!t.closed && i !== h) await edit(t, `[${how}-before${i}]`)
    await sleep(200)
    const started = Date.now()
    if (how === 'close') {
      await tabs[h].page.close()
    } else {
      const cdp = await tabs[h].page.context().newCDPSession(tabs[h].page)
      cdp.send('Page.crash').catch(() => {})
    }
    tabs[h].closed = true
    proxy.set({})
    for (const [i, t] of tabs.entries()) if (!t.closed) await edit(t, `[${how}-during${i}]`)
    const next = await holderOf()
    takeovers.push({ how, ms: Date.now() - started })
    assert.notEqual(next, h)
    for (const [i, t] of tabs.entries()) if (!t.closed) await edit(t, `[${how}-after${i}]`)
  }
  console.log('# socket takeovers: ' + JSON.stringify(takeovers))
  for (const t of takeovers) assert.ok(t.ms < 2000, `${t.how}: another tab took the socket over in ${t.ms} ms`)
  // Every edit of the tabs still open reaches its peer, once, and the peer's reached the tab.
  for (const [i, t] of tabs.entries()) {
    if (t.closed) continue
    await until(async () => peers[i].getText('t').toString() === await textOfTab(t), 10_000, `tab ${i} and its peer converge`)
    const final = peers[i].getText('t').toString()
    for (const p of t.parts) assert.equal(count(final, p), 1, p)
    assert.equal(await t.page.evaluate(async (n) => { await window.providers[n].whenAcknowledged(); return window.providers[n].unsyncedChanges }, t.name), 0)
  }
  assert.equal(proxy.open(), 1, 'one socket again')
  assert.equal(proxy.stats.connections, 3, 'one new socket per take-over')
})

test('Hocuspocus: shareConnection: false on the socket gives each tab its own; so does a provider on it that connects in every tab', async () => {
  const { hp, proxy, context } = await hocuspocusWorld()
  const tabs = []
  for (let i = 0; i < 2; i++) tabs.push(await hocuspocusTab(context, proxy.url, [newRoom()], { shareConnection: false }))
  assert.equal(proxy.open(), 2)
  assert.deepEqual(await Promise.all(tabs.map((t) => t.page.evaluate(() => window.socket.holdsSocket))), [undefined, undefined])
  // Two tabs sync the same document each on its own (no leader among them): they could not
  // both put it on one socket, so each socket is its tab's.
  const name = newRoom()
  for (const providerOptions of [{ shareConnection: false }, { disableBc: true }]) {
    const pair = []
    for (let i = 0; i < 2; i++) pair.push(await hocuspocusTab(context, proxy.url, [name], {}, providerOptions))
    assert.deepEqual(await Promise.all(pair.map((t) => t.page.evaluate((n) => [window.socket.holdsSocket, window.providers[n].role].join(), name))), [',solo', ',solo'], JSON.stringify(providerOptions))
    const peer = await hocuspocusPeer(hp.url, name)
    await pair[0].page.evaluate((n) => window.providers[n].text.insert(0, '[0]'), name)
    await pair[1].page.evaluate((n) => window.providers[n].text.insert(0, '[1]'), name)
    await until(async () => {
      const texts = await Promise.all(pair.map((t) => t.page.evaluate((n) => window.providers[n].text.toString(), name)))
      return texts.every((t) => t === peer.getText('t').toString() && t.includes('[0]') && t.includes('[1]'))
    }, 10_000, 'both tabs and the peer converge')
    for (const t of pair) await t.page.close()
  }
  assert.equal(proxy.stats.connections, 6, 'a socket per tab')
})
