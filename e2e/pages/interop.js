// Loads the npm package exactly as a plain-browser user would (target web, init()).
import init, * as ysync from '/pkg/ysync.js'

await init()
window.ysync = ysync
window.ysyncReady = true
