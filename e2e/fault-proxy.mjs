// A seeded loopback WebSocket proxy (127.0.0.1 only) that injects faults between clients and a
// y-websocket server, for the browser tests. Each direction keeps its own ordered queue.
//
//   const proxy = await faultProxy('ws://127.0.0.1:1234', { seed: 7 })
//   proxy.set({ delayMs: 20, jitterMs: 30, duplicate: 0.1 })
//
// `counts` has the payload bytes and frames the proxy received in each direction (`up`: client
// to server), counted before any fault, so a client's own byte counters can be checked;
// `stats.connections` counts the connections ever made, `open()` those open now.
//
// Faults (all off by default; `set` replaces them):
//   delayMs, jitterMs   every frame waits delayMs + [0, jitterMs] ms; order kept per direction
//   stall               hold every frame (both directions) until stall is turned off
//   cutAfterBytes       drop a connection (no close handshake: the client sees 1006) once it
//                       has carried this many payload bytes in both directions together
//   duplicate           probability of delivering a frame twice
//   corruptToClient     probability of flipping one byte of a server -> client frame
//   corruptToServer     the same for client -> server frames
//   replayOnReconnect   keep the last server -> client frames of a dropped connection and
//                       deliver them first on the client's next connection (zombie frames
//                       from an old socket, reordered across reconnects)
import WebSocket, { WebSocketServer } from 'ws'
import { freePort } from './lib.mjs'

/** mulberry32: a small seeded PRNG, so a failing run can be replayed. */
export function rng (seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export async function faultProxy (upstreamUrl, { seed = 1 } = {}) {
  const random = rng(seed)
  const port = await freePort()
  const wss = new WebSocketServer({ host: '127.0.0.1', port })
  await new Promise((resolve) => wss.once('listening', resolve))
  let faults = {}
  const conns = new Set()
  const stats = { connections: 0, duplicated: 0, corrupted: 0, cut: 0, replayed: 0 }
  const counts = { up: 0, upFrames: 0, down: 0, downFrames: 0 }
  let zombie = [] // server -> client frames of the last dropped connection

  const corrupt = (data) => {
    const copy = Buffer.from(data)
    if (copy.length > 0) copy[Math.floor(random() * copy.length)] ^= 1 + Math.floor(random() * 255)
    stats.corrupted++
    return copy
  }

  wss.on('connection', (client, req) => {
    stats.connections++
    const upstream = new WebSocket(upstreamUrl + req.url)
    const conn = { client, upstream, bytes: 0, recent: [], closed: false }
    conns.add(conn)
    // Per direction: frames waiting for their time, delivered strictly in order.
    const lanes = { toServer: [], toClient: [] }
    const last = { toServer: 0, toClient: 0 }
    const target = (dir) => dir === 'toServer' ? upstream : client

    const drop = () => {
      if (conn.closed) return
      conn.closed = true
      conns.delete(conn)
      if (faults.replayOnReconnect) zombie = conn.recent.slice(-8)
      client.terminate()
      upstream.terminate()
    }

    const pump = (dir) => {
      const lane = lanes[dir]
      while (lane.length > 0 && !faults.stall && lane[0].at <= Date.now()) {
        const sock = target(dir)
        if (sock.readyState !== WebSocket.OPEN) return // upstream still connecting
        const { data } = lane.shift()
        sock.send(data, { binary: true })
        if (dir === 'toClient') {
          conn.recent.push(data)
          if (conn.recent.length > 16) conn.recent.shift()
        }
        conn.bytes += data.length
        if (faults.cutAfterBytes && conn.bytes >= faults.cutAfterBytes) {
          stats.cut++
          drop()
          return
        }
      }
      if (lane.length > 0 && !faults.stall) setTimeout(() => pump(dir), Math.max(0, lane[0].at - Date.now()))
    }
    conn.pump = () => { pump('toServer'); pump('toClient') }

    const enqueue = (dir, data) => {
      if (conn.closed) return
      const p = dir === 'toClient' ? faults.corruptToClient : faults.corruptToServer
      if (p && random() < p) data = corrupt(data)
      const wait = (faults.delayMs ?? 0) + (faults.jitterMs ? random() * faults.jitterMs : 0)
      last[dir] = Math.max(last[dir], Date.now() + wait)
      const copies = faults.duplicate && random() < faults.duplicate ? 2 : 1
      if (copies === 2) stats.duplicated++
      for (let i = 0; i < copies; i++) lanes[dir].push({ at: last[dir], data })
      pump(dir)
    }

    // Zombie frames of the previous connection go first on this one.
    if (faults.replayOnReconnect && zombie.length > 0) {
      for (const data of zombie.splice(0)) { stats.replayed++; enqueue('toClient', data) }
    }
    client.on('message', (data) => {
      counts.up += data.length
      counts.upFrames++
      enqueue('toServer', Buffer.from(data))
    })
    upstream.on('message', (data) => {
      counts.down += data.length
      counts.downFrames++
      enqueue('toClient', Buffer.from(data))
    })
    upstream.on('open', () => pump('toServer'))
    for (const s of [client, upstream]) {
      s.on('close', drop)
      s.on('error', drop)
    }
  })

  return {
    url: `ws://127.0.0.1:${port}`,
    stats,
    counts,
    /** How many client connections are open now. */
    open: () => conns.size,
    /** Replaces the active faults. */
    set (f) {
      faults = { ...f }
      if (!faults.stall) for (const c of conns) c.pump()
    },
    /** Drops every connection now. */
    cut () { for (const c of [...conns]) { stats.cut++; c.client.terminate(); c.upstream.terminate() } },
    stop: () => new Promise((resolve) => {
      for (const c of conns) { c.client.terminate(); c.upstream.terminate() }
      wss.close(resolve)
    })
  }
}
