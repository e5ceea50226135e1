// A loopback TCP load balancer for the scale-out test: every new connection goes to the first
// upstream (127.0.0.1 ports, in order) that accepts it, so clients land on instance A while it
// is up and on B once A is gone. It forwards bytes and nothing else (WebSocket upgrades
// included); when either side closes, the other is closed too.
import { createServer, connect } from 'node:net'
import { freePort } from './lib.mjs'

export async function balancer (upstreams) {
  const port = await freePort()
  const sockets = new Set()
  /** How many client connections went to each upstream port. */
  const routed = new Map()
  const server = createServer((client) => {
    sockets.add(client)
    client.on('close', () => sockets.delete(client))
    client.on('error', () => {})
    client.pause()
    const tryFrom = (i) => {
      if (i >= upstreams.length) { client.destroy(); return }
      const up = connect({ host: '127.0.0.1', port: upstreams[i] })
      up.once('error', () => { up.destroy(); tryFrom(i + 1) })
      up.once('connect', () => {
        up.removeAllListeners('error')
        up.on('error', () => client.destroy())
        routed.set(upstreams[i], (routed.get(upstreams[i]) ?? 0) + 1)
        sockets.add(up)
        up.on('close', () => { sockets.delete(up); client.destroy() })
        client.on('close', () => up.destroy())
        client.pipe(up)
        up.pipe(client)
        client.resume()
      })
    }
    tryFrom(0)
  })
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve))
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    routed,
    async stop () {
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}
