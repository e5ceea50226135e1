// Differential convergence against Yjs: 5 replicas — 3 ysync pages in headless Chromium (each
// with IndexedDB persistence) and 2 yjs 13.6 peers in node — edit one room through a real
// @y/websocket-server behind the seeded fault proxy, with random disconnects, server restarts
// and page reloads restored from IndexedDB. At the end every replica must hold the same JSON
// and state vector, and Yjs, the reference, must read each ysync replica's bytes the same way.
// With `dialect: 'hocuspocus'` the server is a real @hocuspocus/server 4.7, the ysync pages
// use HocuspocusProvider and the Yjs peers @hocuspocus/provider, behind the same proxy.
//
//   node e2e/differential.mjs [--seeds N] [--ops N] [--first SEED] [--hocuspocus]   (soak)
//   e2e/differential.test.mjs runs the regression seeds and a CI-sized set (YSYNC_DIFF_SEEDS).
import WebSocket from 'ws'
import { HocuspocusProvider as JsHocuspocusProvider } from '@hocuspocus/provider'
import { startYServer, startHocuspocus, startStatic, launchBrowser, yjsPeer, until, repoRoot, openInteropPage, Y } from './lib.mjs'
import { faultProxy, rng } from './fault-proxy.mjs'

/** A @hocuspocus/provider peer (node) with the shape of `yjsPeer`, reconnecting fast. */
function hocuspocusPeer (url, name) {
  const doc = new Y.Doc()
  const provider = new JsHocuspocusProvider({ url, name, document: doc, token: 'rw', WebSocketPolyfill: WebSocket, delay: 100, minDelay: 100, maxDelay: 500 })
  const synced = new Promise((resolve) => provider.on('synced', resolve))
  const socket = provider.configuration.websocketProvider
  return {
    doc,
    provider,
    synced,
    // Its disconnect() while the socket is still connecting makes ws throw (uncaught), and its
    // connect() right after disconnect() does nothing (the socket still reads as connected
    // until it has closed): wait for the connection, then for the close.
    async reconnect (whileOffline) {
      await until(() => socket.status === 'connected', 10_000, 'the Hocuspocus peer connected')
      const closed = new Promise((resolve) => { const done = () => { socket.off('disconnect', done); resolve() }; socket.on('disconnect', done) })
      provider.disconnect()
      whileOffline()
      await closed
      provider.connect()
    },
    destroy () { provider.destroy(); doc.destroy() }
  }
}

/** `yjsPeer` with the `reconnect` of `hocuspocusPeer`. */
function yWebsocketPeer (url, room) {
  const p = yjsPeer(url, room)
  p.reconnect = async (whileOffline) => { p.provider.disconnect(); whileOffline(); p.provider.connect() }
  return p
}

/** Per dialect: its server, its own JS client as the Yjs peer. */
const DIALECTS = {
  'y-websocket': { start: startYServer, peer: yWebsocketPeer },
  hocuspocus: { start: startHocuspocus, peer: hocuspocusPeer }
}

const TEXTS = ['a', 'bc', 'déf', '日本', ' ', 'xyz!', '\n']
const KEYS = ['k0', 'k1', 'k2', 'k3', 'k4']

/** A random operation as data; replicas resolve its fractions against their own state. */
function randomOp (r) {
  const pick = (xs) => xs[Math.floor(r() * xs.length)]
  const value = () => pick([() => Math.floor(r() * 1000), () => r(), () => pick(TEXTS), () => null, () => true, () => [1, 'two', { three: 3 }], () => ({ nested: { deep: pick(TEXTS) } })])()
  const kinds = ['textInsert', 'textInsert', 'textDelete', 'mapSet', 'mapNested', 'mapDelete', 'arrayInsert', 'arrayNested', 'arrayDelete', 'nestedEdit', 'nestedEdit']
  return { kind: pick(kinds), at: r(), span: r(), key: pick(KEYS), text: pick(TEXTS), value: value(), nested: pick(['map', 'array', 'text']) }
}

/**
 * Applies `op` to a document; runs in node for Yjs and (as source text) in the page for ysync.
 * `api` hides the only differences: how nested types are created and recognised.
 */
function applyOp (doc, op, api) {
  const t = doc.getText('t')
  const m = doc.getMap('m')
  const a = doc.getArray('a')
  const idx = (len) => Math.min(len, Math.floor(op.at * (len + 1)))
  const range = (len) => {
    const i = Math.min(len - 1, Math.floor(op.at * len))
    return [i, 1 + Math.floor(op.span * Math.min(3, len - i))]
  }
  const editNested = (v) => {
    if (api.isText(v)) v.insert(idx(v.length), op.text)
    else if (api.isArray(v)) v.insert(idx(v.length), [op.value])
    else if (api.isMap(v)) v.set(op.key, op.value)
  }
  switch (op.kind) {
    case 'textInsert': t.insert(idx(t.length), op.text); break
    case 'textDelete': if (t.length > 0) { const [i, n] = range(t.length); t.delete(i, n) } break
    case 'mapSet': m.set(op.key, op.value); break
    case 'mapNested': editNested(api.setNested(m, op.key, op.nested)); break
    case 'mapDelete': m.delete(op.key); break
    case 'arrayInsert': a.insert(idx(a.length), [op.value]); break
    case 'arrayNested': editNested(api.insertNested(a, idx(a.length), op.nested)); break
    case 'arrayDelete': if (a.length > 0) { const [i, n] = range(a.length); a.delete(i, n) } break
    case 'nestedEdit': {
      // Edit inside a nested type: under a map key, or in an array item.
      const v = op.span < 0.5 ? m.get(op.key) : (a.length > 0 ? a.get(range(a.length)[0]) : undefined)
      if (v !== undefined && v !== null && typeof v === 'object') editNested(v)
      break
    }
  }
}

const yjsApi = {
  setNested: (m, k, kind) => m.set(k, kind === 'map' ? new Y.Map() : kind === 'array' ? new Y.Array() : new Y.Text()),
  insertNested: (a, i, kind) => { const v = kind === 'map' ? new Y.Map() : kind === 'array' ? new Y.Array() : new Y.Text(); a.insert(i, [v]); return v },
  isMap: (v) => v instanceof Y.Map,
  isArray: (v) => v instanceof Y.Array,
  isText: (v) => v instanceof Y.Text
}

/** JSON with object keys sorted (map key order is not part of a document's state). */
const canon = (v) => JSON.stringify(v, (_, x) => x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([p], [q]) => p < q ? -1 : 1)) : x)
const stateOf = (doc) => canon({ t: doc.getText('t').toString(), m: doc.getMap('m').toJSON(), a: doc.getArray('a').toJSON() })
const svOf = (bytes) => JSON.stringify([...Y.decodeStateVector(bytes).entries()].sort((x, y) => x[0] - y[0]))

/** Installs `window.replica` in a ysync page (again after every reload). */
async function installReplica (page, { url, room, idb, dialect }) {
  await page.evaluate(async ({ url, room, idb, dialect, applySrc }) => {
    const { Doc, WebsocketProvider, HocuspocusProvider, IndexeddbPersistence, YMap, YArray, Text } = window.ysync
    // eslint-disable-next-line no-new-func
    const applyOp = new Function('return ' + applySrc)()
    const api = {
      setNested: (m, k, kind) => kind === 'map' ? m.setMap(k) : kind === 'array' ? m.setArray(k) : m.setText(k),
      insertNested: (a, i, kind) => kind === 'map' ? a.insertMap(i) : kind === 'array' ? a.insertArray(i) : a.insertText(i),
      isMap: (v) => v instanceof YMap,
      isArray: (v) => v instanceof YArray,
      isText: (v) => v instanceof Text
    }
    const doc = new Doc()
    const persistence = new IndexeddbPersistence(idb, doc)
    await persistence.whenSynced()
    const provider = dialect === 'hocuspocus'
      ? new HocuspocusProvider({ url, name: room, document: doc, token: 'rw', maxDelay: 500 })
      : new WebsocketProvider(url, room, doc, { disableBc: true, maxBackoffTime: 500 })
    window.replica = {
      doc,
      provider,
      persistence,
      apply: (ops) => { for (const op of ops) applyOp(doc, op, api) },
      state: () => ({ t: doc.getText('t').toString(), m: doc.getMap('m').toJSON(), a: doc.getArray('a').toJSON() }),
      sv: () => Array.from(doc.encodeStateVector()),
      update: () => Array.from(doc.encodeStateAsUpdate()),
      connected: () => provider.status === 'connected' && provider.synced
    }
  }, { url, room, idb, dialect, applySrc: applyOp.toString() })
}

/** Shared across seeds: the browser, the static server and 3 pages. */
export async function setup () {
  const web = await startStatic(repoRoot)
  const browser = await launchBrowser()
  const pages = []
  for (let i = 0; i < 3; i++) pages.push(await openInteropPage(browser, web.url))
  return { web, browser, pages, async close () { await browser.close(); await web.stop() } }
}

/**
 * One seed: `ops` operations spread over the 5 replicas, with faults. Returns counts; throws
 * (with the seed in the message) when the replicas do not converge or disagree with Yjs.
 */
export async function runSeed (env, seed, ops, { dialect = 'y-websocket' } = {}) {
  const { start, peer } = DIALECTS[dialect]
  const r = rng(seed)
  let server = await start()
  const port = server.port
  const proxy = await faultProxy(server.url, { seed })
  proxy.set({ delayMs: 0, jitterMs: 4, duplicate: 0.05, replayOnReconnect: true })
  const room = `diff-${seed}-${Math.random().toString(36).slice(2)}`
  const faults = { cuts: 0, restarts: 0, reloads: 0, peerReconnects: 0 }
  const peers = [peer(proxy.url, room), peer(proxy.url, room)]
  const ysync = env.pages.map((p, i) => ({ ...p, idb: `${room}-${i}` }))
  const fail = (msg) => { throw new Error(`seed ${seed}: ${msg}`) }
  try {
    for (const p of ysync) await installReplica(p.page, { url: proxy.url, room, idb: p.idb, dialect })
    let done = 0
    while (done < ops) {
      const batch = Array.from({ length: Math.min(ops - done, 1 + Math.floor(r() * 5)) }, () => randomOp(r))
      done += batch.length
      const who = Math.floor(r() * 5)
      if (who < 3) await ysync[who].page.evaluate((b) => window.replica.apply(b), batch)
      else for (const op of batch) applyOp(peers[who - 3].doc, op, yjsApi)
      const f = r()
      if (f < 0.03) { proxy.cut(); faults.cuts++ } else if (f < 0.045) {
        await server.stop()
        // Everyone edits while the server is down.
        await ysync[Math.floor(r() * 3)].page.evaluate((b) => window.replica.apply(b), [randomOp(r), randomOp(r)])
        applyOp(peers[Math.floor(r() * 2)].doc, randomOp(r), yjsApi)
        server = await start(port)
        faults.restarts++
      } else if (f < 0.065) {
        const p = ysync[Math.floor(r() * 3)]
        await p.page.evaluate(() => window.replica.persistence.whenPersisted())
        await p.page.reload()
        await p.page.waitForFunction(() => window.ysyncReady === true, null, { timeout: 10_000 })
        await installReplica(p.page, { url: proxy.url, room, idb: p.idb, dialect })
        faults.reloads++
      } else if (f < 0.075) {
        const i = Math.floor(r() * 2)
        await peers[i].reconnect(() => applyOp(peers[i].doc, randomOp(r), yjsApi))
        faults.peerReconnects++
      }
    }
    // Faults off; wait for everyone to settle on one state.
    proxy.set({})
    const states = async () => [
      ...(await Promise.all(ysync.map((p) => p.page.evaluate(() => window.replica.state())))).map(canon),
      ...peers.map((p) => stateOf(p.doc))
    ]
    try {
      await until(async () => {
        const ready = await Promise.all(ysync.map((p) => p.page.evaluate(() => window.replica.connected())))
        if (!ready.every(Boolean)) return false
        const s = await states()
        return s.every((x) => x === s[0])
      }, 30_000, 'convergence')
    } catch (e) {
      const s = await states()
      const peerStatus = peers.map((p) => p.provider.configuration?.websocketProvider.status ?? (p.provider.wsconnected ? 'connected' : 'disconnected'))
      fail(`replicas differ after 30 s (Yjs peers: ${peerStatus.join(', ')}):\n${s.map((x, i) => `  ${i}: ${x}`).join('\n')}`)
    }
    const final = (await states())[0]
    const svs = [
      ...await Promise.all(ysync.map((p) => p.page.evaluate(() => window.replica.sv()))).then((xs) => xs.map((x) => svOf(Uint8Array.from(x)))),
      ...peers.map((p) => svOf(Y.encodeStateVector(p.doc)))
    ]
    if (!svs.every((x) => x === svs[0])) fail(`state vectors differ: ${svs.join(' | ')}`)
    // Yjs, the reference, reads every ysync replica's bytes as the same document.
    for (const p of ysync) {
      const ref = new Y.Doc()
      Y.applyUpdate(ref, Uint8Array.from(await p.page.evaluate(() => window.replica.update())))
      if (stateOf(ref) !== final) fail(`Yjs reads replica ${p.idb} differently:\n  ${stateOf(ref)}\n  ${final}`)
      ref.destroy()
    }
    // And a fresh Yjs client of the (restarted) server gets the same document.
    const fresh = peer(server.url, room)
    await fresh.synced
    const freshState = stateOf(fresh.doc)
    fresh.destroy()
    if (freshState !== final) fail(`a fresh Yjs client of the server differs:\n  ${freshState}\n  ${final}`)
    return { ops: done, ...faults, bytes: final.length }
  } finally {
    for (const p of ysync) {
      await p.page.evaluate(async () => {
        if (!window.replica) return
        window.replica.provider.destroy()
        await window.replica.persistence.clearData()
        window.replica = undefined
      }).catch(() => {})
    }
    for (const p of peers) p.destroy()
    await proxy.stop()
    await server.stop()
  }
}

// Soak mode, on seeds 1, 2, 3, … (CI runs others): node e2e/differential.mjs --seeds 1000 --ops 1000
if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i > 0 ? Number(process.argv[i + 1]) : dflt }
  const seeds = arg('--seeds', 20)
  const ops = arg('--ops', 1000)
  const first = arg('--first', 1)
  const dialect = process.argv.includes('--hocuspocus') ? 'hocuspocus' : 'y-websocket'
  const env = await setup()
  const failed = []
  const started = Date.now()
  try {
    for (let seed = first; seed < first + seeds; seed++) {
      try {
        const res = await runSeed(env, seed, ops, { dialect })
        console.log(`seed ${seed}: ok`, JSON.stringify(res))
      } catch (e) {
        failed.push(seed)
        console.log(`seed ${seed}: FAILED ${e.message}`)
      }
    }
  } finally {
    await env.close()
  }
  console.log(`${seeds} seeds x ${ops} operations in ${((Date.now() - started) / 1000).toFixed(0)} s; failed: ${failed.length ? failed.join(', ') : 'none'}`)
  process.exit(failed.length ? 1 : 0)
}
