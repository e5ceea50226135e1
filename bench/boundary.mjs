// What a stats snapshot costs to cross from Rust to JS: `provider.stats()` of a provider that
// has not connected, 20,000 calls, 15 times, in headless Chromium; prints the median per call
// and the size of the snapshot. Run after scripts/build.sh, once per build to compare (used
// for docs/size.md's "Stats across the boundary"):
//   node bench/boundary.mjs
import { startStatic } from '../e2e/lib.mjs'
import { writePeersPage } from '../e2e/browser-peers.mjs'
import { launchPage, repoRoot } from './lib.mjs'

const web = await startStatic(repoRoot)
const b = await launchPage(web.url + writePeersPage({ file: 'boundary-peers.html' }))
try {
  const r = await b.page.evaluate(() => {
    const { Doc, WebsocketProvider } = window.ysync
    const doc = new Doc()
    const provider = new WebsocketProvider('ws://127.0.0.1:9', 'r', doc, { connect: false })
    doc.getText('t').insert(0, 'abc')
    for (let i = 0; i < 2000; i++) provider.stats() // warm up
    const runs = []
    for (let k = 0; k < 15; k++) {
      const t0 = performance.now()
      for (let i = 0; i < 20000; i++) provider.stats()
      runs.push((performance.now() - t0) / 20000 * 1000)
    }
    runs.sort((a, b) => a - b)
    return { perCall: runs[7], chars: JSON.stringify(provider.stats()).length }
  })
  console.log(`provider.stats(): ${r.perCall.toFixed(2)} µs per call (median of 15 x 20,000), a ${r.chars}-character snapshot`)
} finally {
  await b.close()
  await web.stop()
}
