// Headless Chromium for the benchmarks: a new browser process (its own profile, so cold loads
// are cold) with one page on `url`, waiting for the page's `window.ysyncReady`.
import { spawn } from 'node:child_process'
import { chromium } from '../e2e/node_modules/playwright-core/index.mjs'
import { chromiumArgs, freePort, until } from '../e2e/lib.mjs'

export async function launchPage (url, profile) {
  const port = await freePort()
  const proc = spawn('/usr/bin/chromium', [...chromiumArgs, `--user-data-dir=${profile}`, `--remote-debugging-port=${port}`, 'about:blank'], { stdio: 'ignore', detached: true })
  const browser = await until(() => chromium.connectOverCDP(`http://127.0.0.1:${port}`).catch(() => null), 15_000, 'chromium')
  const page = await browser.contexts()[0].newPage()
  await page.goto(url)
  await page.waitForFunction(() => window.ysyncReady === true, null, { timeout: 20_000 })
  return {
    page,
    async close () {
      const gone = new Promise((r) => proc.on('exit', r))
      await browser.close().catch(() => {})
      try { process.kill(-proc.pid, 'SIGKILL') } catch {} // the whole process group
      await gone
    }
  }
}
