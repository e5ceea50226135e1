// The demo page, as a user sees it: two pages edit the note and converge; no CSP violation or
// page error; a screenshot is kept in e2e/artifacts/.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { startDemo, launchBrowser, until, yjsPeer } from './lib.mjs'

let demo, browser
const cleanups = []
before(async () => {
  demo = await startDemo()
  browser = await launchBrowser()
})
after(async () => {
  for (const c of cleanups) c()
  await browser?.close()
  await demo?.stop()
})

async function open (room) {
  const page = await browser.newPage({ viewport: { width: 1000, height: 700 } })
  const problems = []
  page.on('pageerror', (e) => problems.push('pageerror: ' + e))
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()) })
  await page.goto(`${demo.url}&room=${room}`)
  await page.waitForSelector('#badge[data-status="connected"]', { timeout: 10_000 })
  return { page, problems }
}

test('two demo pages and a Yjs peer share the note', async () => {
  const room = 'demo-' + Math.random().toString(36).slice(2)
  const a = await open(room)
  const b = await open(room)
  const peer = yjsPeer(demo.ws.url, room)
  cleanups.push(() => peer.destroy())
  await peer.synced
  await a.page.fill('#note', 'Hello from page A')
  await until(async () => (await b.page.inputValue('#note')) === 'Hello from page A', 5000, 'page B to see A')
  await until(() => peer.doc.getText('note').toString() === 'Hello from page A', 5000, 'the Yjs peer to see A')
  peer.doc.getText('note').insert(0, '» ')
  await until(async () => (await a.page.inputValue('#note')) === '» Hello from page A', 5000, 'page A to see the peer')
  await until(async () => (await a.page.textContent('#ack')) === 'all changes on the server', 5000, 'acknowledged badge')
  await mkdir('e2e/artifacts', { recursive: true })
  await a.page.screenshot({ path: 'e2e/artifacts/demo.png' })
  assert.deepEqual(a.problems, [])
  assert.deepEqual(b.problems, [])
})
