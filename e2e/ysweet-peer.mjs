// A y-sweet app's two halves for the tests: the client token its backend hands out
// (@y-sweet/sdk) and a node peer on @y-sweet/client's provider.
import WebSocket from 'ws'
import * as Y from 'yjs'
import { DocumentManager } from '@y-sweet/sdk'
import { createYjsProvider } from '@y-sweet/client'
import { until } from './lib.mjs'

/** A client token for `docId` (created if new), as an app's backend hands it out. */
export async function ySweetToken (ys, docId, authorization = 'full') {
  const manager = new DocumentManager(ys.connectionString)
  await manager.getOrCreateDocAndToken(docId)
  return manager.getClientToken(docId, { authorization })
}

/** A connected peer on @y-sweet/client; `stop()` (also pushed to `cleanups`) ends it for good. */
export async function ySweetPeer (ys, docId, cleanups) {
  const doc = new Y.Doc()
  const token = await ySweetToken(ys, docId)
  const provider = createYjsProvider(doc, docId, async () => token, { WebSocketPolyfill: WebSocket, showDebuggerLink: false })
  const stop = () => {
    // @y-sweet/client 0.9.1 reconnects from its socket's close handler even after
    // disconnect() or destroy(), so the handlers and its timers go first.
    const ws = provider.websocket
    if (ws) ws.onclose = ws.onerror = ws.onmessage = null
    provider.disconnect()
    provider.clearHeartbeat()
    provider.clearConnectionTimeout()
    provider.destroy()
  }
  cleanups.push(() => { stop(); doc.destroy() })
  await until(() => provider.status === 'connected', 10_000, 'y-sweet peer connected')
  return { doc, provider, stop }
}
