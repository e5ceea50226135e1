// Loads the npm package exactly as a plain-browser user would (target web, init()).
// `?pkg=/target/bench-pkg/ysync.js` loads the build with the test hooks instead.
const pkg = new URLSearchParams(location.search).get('pkg') ?? '/pkg/ysync.js'
const ysync = await import(pkg)
window.wasmExports = await ysync.default()
window.ysync = ysync
window.ysyncReady = true
