// The ysync/yjs typings, as a Yjs app on y-websocket + y-indexeddb uses them.
import * as Y from 'yjs'
import { WebsocketProvider, IndexeddbPersistence } from 'ysync/yjs'

const ydoc = new Y.Doc()
const persistence = new IndexeddbPersistence('room', ydoc)
const provider = new WebsocketProvider('ws://127.0.0.1:1234', 'room', ydoc, { connect: false, params: { a: '1' } })
const sameDoc: Y.Doc = provider.doc
const awarenessDoc: Y.Doc = provider.awareness.doc
const id: number = provider.awareness.clientID
const connected: boolean = provider.wsconnected && provider.wsconnecting && provider.shouldConnect
const url: string = provider.url + provider.roomname + provider.serverUrl
persistence.whenSynced.then((p: IndexeddbPersistence) => p.doc.getText('t'))
persistence.on('synced', (p) => p.whenPersisted())
provider.whenAcknowledged().then(() => provider.hasUnsyncedChanges)
ydoc.on('update', (_u: Uint8Array, origin: unknown) => origin === provider)
export { sameDoc, awarenessDoc, id, connected, url }
