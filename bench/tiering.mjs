// How much of a cold decode is V8's first tier: the 10 MB document and the 10,000-row store
// decoded and integrated (rows in memory, as bench/persistence.mjs's "decode + integrate alone")
// by ysync, by yrs in size/floor (the same yrs and release profile behind the floor's
// surface, whose document has an update observer and an undo manager: it encodes each update
// again) and by Yjs, each in a new browser process, the first call and the next two, with
// V8's default wasm tiering (Liftoff first, TurboFan for functions that get hot), with
// TurboFan for everything from the start (--no-liftoff), and with Liftoff only
// (--no-wasm-tier-up); and with default tiering in a browser profile that loaded the page
// before, from a server that lets it cache the wasm (Chromium then keeps the module's compiled
// code, TurboFan's included, with the HTTP cache entry). Also the time from launch to a usable
// library (the wasm compiled and instantiated). Medians of 3 processes. A tool for deciding
// what to speed up; it asserts nothing.
//   node bench/tiering.mjs
import { startStatic } from '../e2e/lib.mjs'
import { writePeersPage } from '../e2e/browser-peers.mjs'
import { bigDoc } from './corpus.mjs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { launchPage, median, repoRoot } from './lib.mjs'
import { buildFloor } from '../scripts/floor.mjs'

const RUNS = 3
// size/floor, built as scripts/size.mjs --floor builds it (target/size-floor/pkg).
buildFloor()
const MODES = [['default tiering', []], ['TurboFan from the start', ['--no-liftoff']], ['Liftoff only', ['--no-wasm-tier-up']], ['default tiering, code cached by an earlier visit', [], true]]
const web = await startStatic(repoRoot)
const url = web.url + writePeersPage({ file: 'tiering-peers.html' })
// The same pages from a server that lets the browser cache them.
const cacheable = await startStatic(repoRoot, { headers: { 'Cache-Control': 'max-age=3600' } })
const big = bigDoc({ quick: false }).path
const rows = []
try {
  for (const [mode, jsFlags, cached] of MODES) {
    for (const store of ['10 MB document', '10,000 rows']) {
      const runs = []
      for (let r = 0; r < RUNS; r++) {
        let profile
        if (cached) {
          // An earlier visit in this profile: the page loaded, the decode made hot (so its
          // functions tier up), then time for the browser to write the compiled code.
          profile = mkdtempSync(join(tmpdir(), 'ysync-tiering-'))
          const earlier = await launchPage(cacheable.url + url.slice(web.url.length), profile)
          await earlier.page.evaluate(async (big) => {
            const u = new Uint8Array(await (await fetch(big)).arrayBuffer())
            for (let i = 0; i < 5; i++) new window.ysync.Doc().applyUpdate(u)
          }, big)
          await new Promise((resolve) => setTimeout(resolve, 5000))
          await earlier.close()
        }
        const t0 = Date.now()
        const b = await launchPage(cached ? cacheable.url + url.slice(web.url.length) : url, profile, undefined, { jsFlags })
        const ready = Date.now() - t0
        try {
          runs.push({ ready, ...await b.page.evaluate(async ({ store, big, first }) => {
            let updates
            if (store === '10 MB document') {
              updates = [new Uint8Array(await (await fetch(big)).arrayBuffer())]
            } else {
              // Made by a Yjs document in another page would warm nothing here; Yjs's own
              // encoder runs in this page, so its decoder is warmed no more than ysync's.
              updates = window.oneEditRows(window.Y, 10_000)
            }
            const floor = await import('/target/size-floor/pkg/ysync_size_floor.js')
            await floor.default()
            const apply = {
              yrs: () => { const d = new floor.Floor(1); for (const u of updates) if (!d.apply(u, false)) throw new Error('yrs refused an update') },
              ysync: () => window.applyRowsAsLoaded(new window.ysync.Doc(), updates),
              yjs: () => { const d = new window.Y.Doc(); window.Y.transact(d, () => { for (const u of updates) window.Y.applyUpdate(d, u) }) }
            }
            const out = {}
            for (const k of first === 'ysync' ? ['ysync', 'yrs', 'yjs'] : ['yjs', 'yrs', 'ysync']) {
              out[k] = []
              for (let i = 0; i < 3; i++) {
                const t = performance.now()
                apply[k]()
                out[k].push(performance.now() - t)
              }
            }
            return out
          }, { store, big, first: r % 2 ? 'yjs' : 'ysync' }) })
        } finally {
          await b.close()
          if (profile) rmSync(profile, { recursive: true, force: true })
        }
      }
      const m = (f) => median(runs.map(f))
      rows.push([mode, store, m((x) => x.ysync[0]), m((x) => x.ysync[2]), m((x) => x.yrs[0]), m((x) => x.yrs[2]), m((x) => x.yjs[0]), m((x) => x.yjs[2]), m((x) => x.ready)])
    }
  }
} finally {
  await web.stop()
  await cacheable.stop()
}
const ms = (v) => v.toFixed(1) + ' ms'
console.log(`Medians of ${RUNS} new browser processes each, ${new Date().toISOString().slice(0, 10)}.\n`)
console.log('| V8 wasm tiers | store | ysync, 1st call | ysync, 3rd | yrs in size/floor, 1st | 3rd | Yjs, 1st | Yjs, 3rd | ysync / Yjs, 1st; 3rd | launch to usable |')
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|')
for (const [mode, store, y1, y3, r1, r3, j1, j3, ready] of rows) {
  console.log(`| ${mode} | ${store} | ${ms(y1)} | ${ms(y3)} | ${ms(r1)} | ${ms(r3)} | ${ms(j1)} | ${ms(j3)} | ${(y1 / j1).toFixed(2)}x; ${(y3 / j3).toFixed(2)}x | ${ready} ms |`)
}
