// y-protocols' own awareness test (node_modules/y-protocols/awareness.test.js, `testAwareness`),
// ported: the same steps and checks with a ysync provider's awareness as `aw1`, and as `aw2`
// first another ysync page, then a y-protocols `Awareness` on y-websocket in node. Instead of
// encodeAwarenessUpdate / applyAwarenessUpdate between two objects, the updates travel through
// a real @y/websocket-server, so each remote check waits for its event.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { browserSuite, startYServer, yjsPeer, until } from './lib.mjs'

const suite = browserSuite()
const { cleanups, openPage } = suite
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function server () {
  const s = await startYServer()
  cleanups.push(() => s.stop())
  return s
}

/** A page with a ysync provider in `room`; its awareness's events are recorded. */
async function ysyncPage (url, room) {
  const { page } = await openPage()
  await page.evaluate(async ({ url, room }) => {
    const { Doc, WebsocketProvider } = window.ysync
    window.doc = new Doc()
    window.provider = new WebsocketProvider(url, room, window.doc, { disableBc: true })
    window.changes = []
    window.updates = []
    const aw = window.provider.awareness
    aw.on('change', (c, origin) => window.changes.push({ ...c, origin: origin === window.provider.origin ? 'provider' : origin }))
    aw.on('update', (c, origin) => window.updates.push({ ...c, origin: origin === window.provider.origin ? 'provider' : origin }))
    await window.provider.whenSynced()
  }, { url, room })
  return page
}

/** aw1 as ysync's, in a page: its API called there. */
function ysyncSide (page) {
  return {
    clientID: () => page.evaluate(() => window.provider.awareness.clientID),
    setLocalState: (s) => page.evaluate((s) => { window.changes = []; window.updates = []; window.provider.awareness.setLocalState(s) }, s),
    lastLocalChange: () => page.evaluate(() => {
      const own = window.changes.filter((c) => c.origin === 'local')
      return own.length === 0 ? null : (({ added, updated, removed }) => ({ added, updated, removed }))(own.at(-1))
    }),
    localState: (id) => page.evaluate((id) => window.provider.awareness.getStates().get(id), id)
  }
}

/** aw2 as ysync's, in a page: the last `change` about `id` from the connection, and `meta`. */
function ysyncRemote (page) {
  return {
    reset: () => page.evaluate(() => { window.changes = [] }),
    lastChange: (id) => page.evaluate((id) => {
      const c = window.changes.filter((c) => c.origin === 'provider' && [...c.added, ...c.updated, ...c.removed].includes(id)).at(-1)
      return c === undefined ? null : { added: c.added, updated: c.updated, removed: c.removed }
    }, id),
    state: (id) => page.evaluate((id) => window.provider.awareness.getStates().get(id) ?? null, id),
    clock: (id) => page.evaluate((id) => window.provider.awareness.meta.get(id)?.clock, id)
  }
}

/** aw2 as y-protocols' own `Awareness` (y-websocket in node). */
function yprotocolsRemote (peer) {
  let changes = []
  peer.provider.awareness.on('change', (c, origin) => { if (origin === peer.provider) changes.push(c) })
  const aw = peer.provider.awareness
  return {
    reset: async () => { changes = [] },
    lastChange: async (id) => {
      const c = changes.filter((c) => [...c.added, ...c.updated, ...c.removed].includes(id)).at(-1)
      return c === undefined ? null : { added: c.added, updated: c.updated, removed: c.removed }
    },
    state: async (id) => aw.getStates().get(id) ?? null,
    clock: async (id) => aw.meta.get(id)?.clock
  }
}

/** testAwareness, step by step. */
async function testAwareness (aw1, aw2) {
  const id = await aw1.clientID()
  const eq = (a, b) => JSON.stringify(a) === JSON.stringify(b)
  await aw2.reset()
  await aw1.setLocalState({ x: 3 })
  await until(async () => eq(await aw2.state(id), { x: 3 }), 5000, 'aw2 to get { x: 3 }')
  assert.equal(await aw2.clock(id), 1)
  assert.deepEqual((await aw2.lastChange(id)).added, [id])
  // The local client is already marked as available when the Awareness is made, so it is
  // updated, not added.
  assert.deepEqual(await aw1.lastLocalChange(), { added: [], updated: [id], removed: [] })

  // Update the state.
  await aw2.reset()
  await aw1.setLocalState({ x: 4 })
  await until(async () => eq(await aw2.state(id), { x: 4 }), 5000, 'aw2 to get { x: 4 }')
  const local = await aw1.lastLocalChange()
  assert.deepEqual(local, { added: [], updated: [id], removed: [] })
  assert.deepEqual(await aw2.lastChange(id), local)

  // The same state again: a new clock, no change event on either side.
  await aw2.reset()
  await aw1.setLocalState({ x: 4 })
  await until(async () => (await aw2.clock(id)) === 3, 5000, 'aw2 to get clock 3')
  await sleep(100)
  assert.equal(await aw2.lastChange(id), null)
  assert.equal(await aw1.lastLocalChange(), null)

  // Leaving.
  await aw2.reset()
  await aw1.setLocalState(null)
  await until(async () => (await aw2.lastChange(id)) !== null, 5000, 'aw2 to see the state removed')
  assert.equal((await aw2.lastChange(id)).removed.length, 1)
  assert.equal(await aw1.localState(id), undefined)
  assert.deepEqual(await aw1.lastLocalChange(), await aw2.lastChange(id))
}

test("y-protocols' testAwareness: ysync to ysync", async () => {
  const srv = await server()
  const room = 'aw-port-' + Math.random().toString(36).slice(2)
  const a = await ysyncPage(srv.url, room)
  const b = await ysyncPage(srv.url, room)
  await testAwareness(ysyncSide(a), ysyncRemote(b))
})

test("y-protocols' testAwareness: ysync to y-protocols' Awareness (y-websocket in node)", async () => {
  const srv = await server()
  const room = 'aw-port-' + Math.random().toString(36).slice(2)
  const peer = yjsPeer(srv.url, room)
  cleanups.push(() => peer.destroy())
  await peer.synced
  const a = await ysyncPage(srv.url, room)
  await testAwareness(ysyncSide(a), yprotocolsRemote(peer))
})

test("y-protocols' testAwareness: y-protocols' Awareness to ysync (the checks of aw2 on ysync's)", async () => {
  const srv = await server()
  const room = 'aw-port-' + Math.random().toString(36).slice(2)
  const peer = yjsPeer(srv.url, room)
  cleanups.push(() => peer.destroy())
  await peer.synced
  const b = await ysyncPage(srv.url, room)
  let changes = []
  const aw = peer.provider.awareness
  aw.on('change', (c, origin) => { if (origin === 'local') changes.push(c) })
  const yp = {
    clientID: async () => aw.clientID,
    setLocalState: async (s) => { changes = []; aw.setLocalState(s) },
    lastLocalChange: async () => changes.at(-1) ?? null,
    localState: async (id) => aw.getStates().get(id)
  }
  await testAwareness(yp, ysyncRemote(b))
})

test("awareness.destroy() as y-protocols': 'destroy' with the awareness, this client leaves, no event after; the document keeps syncing", async () => {
  const srv = await server()
  const room = 'aw-destroy-' + Math.random().toString(36).slice(2)
  const peer = yjsPeer(srv.url, room)
  cleanups.push(() => peer.destroy())
  await peer.synced
  const a = await ysyncPage(srv.url, room)
  const id = await a.evaluate(() => {
    window.provider.awareness.setLocalState({ user: 'Ada' })
    window.destroyedWith = []
    window.provider.awareness.on('destroy', (aw) => window.destroyedWith.push(aw === window.provider.awareness))
    return window.provider.awareness.clientID
  })
  await until(() => peer.provider.awareness.getStates().get(id)?.user === 'Ada', 5000, 'Ada at the peer')
  await a.evaluate(() => { window.changes = []; window.provider.awareness.destroy() })
  await until(() => !peer.provider.awareness.getStates().has(id), 5000, 'Ada gone at the peer')
  assert.deepEqual(await a.evaluate(() => window.destroyedWith), [true])
  // As y-protocols: 'destroy', then the local state's removal, then no listener is left.
  assert.deepEqual(await a.evaluate(() => window.changes), [{ added: [], updated: [], removed: [id], origin: 'local' }])
  await a.evaluate(() => { window.changes = [] })
  peer.provider.awareness.setLocalState({ user: 'Peer' })
  await until(() => a.evaluate((pid) => window.provider.awareness.getStates().has(pid), peer.doc.clientID), 5000, 'the peer in the page')
  assert.deepEqual(await a.evaluate(() => window.changes), [])
  // The provider goes on: a document edit reaches the peer.
  await a.evaluate(() => window.doc.getText('t').insert(0, 'still syncing'))
  await until(() => peer.doc.getText('t').toString() === 'still syncing', 5000, 'the edit at the peer')
  await a.evaluate(() => window.provider.destroy())
  assert.deepEqual(await a.evaluate(() => window.destroyedWith), [true], "'destroy' once")
})
