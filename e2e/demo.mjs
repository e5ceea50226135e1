// The demo: a local @y/websocket-server on 127.0.0.1 and a static server for www/ (and pkg/).
// Usage: node e2e/demo.mjs [--ws-port 1234] [--http-port 8080]
import { startDemo } from './lib.mjs'

const arg = (name, def) => {
  const i = process.argv.indexOf(name)
  return i > 0 ? Number(process.argv[i + 1]) : def
}
const demo = await startDemo({ wsPort: arg('--ws-port', 1234), httpPort: arg('--http-port', 8080) })
console.log(`y-websocket server: ${demo.ws.url} (pid ${demo.ws.pid})`)
console.log(`ysync demo:         ${demo.url}`)
console.log('Open it in two tabs or browsers; Ctrl-C stops both servers.')
const stop = async () => { await demo.stop(); process.exit(0) }
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
