// One socket per browser: 8 tabs of one browser (one origin) typing into one room, through the
// loopback proxy in front of a real @y/websocket-server, which counts what reaches the server:
// its connections, and the frames and bytes per edit in both directions. ysync with
// `shareConnection` on (one tab leads and connects) and off (every tab connects, as
// y-websocket does), side by side with 8 tabs of y-websocket 3 (BroadcastChannel on, as by
// default). Awareness is on everywhere, each tab with a state.
import { startYServer, until } from '../e2e/lib.mjs'
import { faultProxy } from '../e2e/fault-proxy.mjs'
import { ensureBuilt, launchPage, median, row } from './lib.mjs'

const TABS = 8

/** In a page: a client of `lib` in `room` with a presence state; resolves once synced. */
const CLIENT = `
window.benchTab = async (lib, url, room, share, name) => {
  if (lib === 'ysync') {
    const doc = new window.ysync.Doc()
    const provider = new window.ysync.WebsocketProvider(url, room, doc, { shareConnection: share })
    provider.awareness.setLocalState({ user: { name } })
    await provider.whenSynced()
    window.tab = { text: doc.getText('t'), settled: () => provider.whenAcknowledged(), role: () => provider.role }
  } else {
    const doc = new window.Y.Doc()
    const provider = new window.YWebsocketProvider(url, room, doc)
    provider.awareness.setLocalState({ user: { name } })
    await new Promise((resolve) => provider.once('sync', resolve))
    window.tab = { text: doc.getText('t'), settled: async () => {}, role: () => 'yjs' }
  }
}`

/** 8 tabs of `lib` (in one browser process) each type `edits` characters, one every 10 ms. */
async function measure ({ web, peersPage, lib, share, edits }) {
  const server = await startYServer()
  const proxy = await faultProxy(server.url)
  const room = `bench-tabs-${lib}-${share}-${Date.now()}`
  const b = await launchPage(web.url + peersPage())
  try {
    const pages = [b.page]
    for (let i = 1; i < TABS; i++) pages.push(await b.newPage(web.url + peersPage()))
    for (const [i, p] of pages.entries()) {
      await p.evaluate(CLIENT)
      await p.evaluate(({ lib, url, room, share, i }) => window.benchTab(lib, url, room, share, 'tab' + i), { lib, url: proxy.url, room, share, i })
    }
    const connections = proxy.open()
    const before = { ...proxy.counts }
    await Promise.all(pages.map((p, i) => p.evaluate(async ({ i, edits }) => {
      for (let k = 0; k < edits; k++) {
        window.tab.text.insert(0, String.fromCharCode(97 + i))
        await new Promise((r) => setTimeout(r, 10))
      }
    }, { i, edits })))
    const total = TABS * edits
    await until(async () => {
      for (const p of pages) if ((await p.evaluate(() => window.tab.text.length)) !== total) return false
      return true
    }, 60_000, `every ${lib} tab to have every edit`)
    await Promise.all(pages.map((p) => p.evaluate(() => window.tab.settled())))
    // Late frames (renewals aside, nothing is due this soon): the same wait for every library.
    await new Promise((r) => setTimeout(r, 500))
    const c = proxy.counts
    const roles = await Promise.all(pages.map((p) => p.evaluate(() => window.tab.role())))
    return {
      connections,
      leaders: roles.filter((r) => r === 'leader').length,
      framesPerEdit: (c.upFrames - before.upFrames + c.downFrames - before.downFrames) / total,
      bytesPerEdit: (c.up - before.up + c.down - before.down) / total,
      upFramesPerEdit: (c.upFrames - before.upFrames) / total
    }
  } finally {
    await b.close()
    await proxy.stop()
    await server.stop()
  }
}

export async function run ({ quick, runs, web, peersPage }) {
  ensureBuilt('pkg')
  const edits = quick ? 10 : 100
  const res = { shared: [], solo: [], yjs: [] }
  for (let r = 0; r < runs; r++) {
    res.shared.push(await measure({ web, peersPage, lib: 'ysync', share: true, edits }))
    res.solo.push(await measure({ web, peersPage, lib: 'ysync', share: false, edits }))
    res.yjs.push(await measure({ web, peersPage, lib: 'yjs', share: false, edits }))
  }
  for (const s of res.shared) if (s.connections !== 1 || s.leaders !== 1) throw new Error(`sharing: ${s.connections} connections, ${s.leaders} leaders`)
  const m = (k, f) => median(res[k].map((x) => x[f]))
  const group = `${TABS} tabs typing in one room (${(TABS * edits).toLocaleString('en')} edits), at the server`
  const out = []
  for (const [k, label] of [['shared', 'shared connection'], ['solo', 'a connection per tab']]) {
    out.push(row(group, `ysync (${label}) vs y-websocket: connections`, m(k, 'connections'), m('yjs', 'connections'), 'count'))
    out.push(row(group, `ysync (${label}) vs y-websocket: frames per edit (both ways)`, m(k, 'framesPerEdit'), m('yjs', 'framesPerEdit'), 'count'))
    out.push(row(group, `ysync (${label}) vs y-websocket: bytes per edit (both ways)`, m(k, 'bytesPerEdit'), m('yjs', 'bytesPerEdit'), 'bytes'))
  }
  out.push({ note: `Frames sent to the server per edit: ysync shared ${m('shared', 'upFramesPerEdit').toFixed(2)}, ysync a connection per tab ${m('solo', 'upFramesPerEdit').toFixed(2)}, y-websocket ${m('yjs', 'upFramesPerEdit').toFixed(2)} (the rest is what the server sends to each connection).` })
  return out
}
