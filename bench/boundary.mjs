// What a stats snapshot costs to cross from Rust to JS: `provider.stats()` of a provider that
// has not connected, 20,000 calls, 15 times, in headless Chromium; prints the median per call
// and the size of the snapshot. Run after scripts/build.sh, once per build to compare (used
// for docs/size.md's "Stats across the boundary"):
//   node bench/boundary.mjs
import { chromium } from 'playwright-core'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startStatic, chromiumArgs } from '../e2e/lib.mjs'
import { outDir, repoRoot } from './lib.mjs'

mkdirSync(outDir, { recursive: true })
writeFileSync(join(outDir, 'boundary.html'), `<!doctype html><meta charset="utf-8"><script type="module">
import init, * as ysync from '/pkg/ysync.js'
await init()
window.ysync = ysync
window.ysyncReady = true
</script>`)
const web = await startStatic(repoRoot)
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs })
try {
  const page = await browser.newPage()
  await page.goto(`${web.url}/target/bench/boundary.html`)
  await page.waitForFunction(() => window.ysyncReady === true)
  const r = await page.evaluate(() => {
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
  await browser.close()
  await web.stop()
}
