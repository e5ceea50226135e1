// A Yjs app as users write it on y-websocket + y-indexeddb. The e2e test builds it twice: as
// it is (on ysync/yjs) and with only its two import lines switched back to y-websocket and
// y-indexeddb, and runs the same steps on both.
import * as Y from 'yjs'
import { WebsocketProvider } from 'ysync/yjs'
import { IndexeddbPersistence } from 'ysync/yjs'

const q = new URLSearchParams(location.search)
const room = q.get('room')
const ydoc = new Y.Doc()
const persistence = new IndexeddbPersistence(room, ydoc)
const provider = new WebsocketProvider(q.get('server'), room, ydoc, { connect: q.get('offline') !== '1' })
const text = ydoc.getText('note')
const updates = []
const name = (origin) => origin === provider ? 'provider' : origin === persistence ? 'persistence' : origin === null ? 'local' : typeof origin
ydoc.on('update', (u, origin) => updates.push(name(origin)))
window.app = { Y, ydoc, text, provider, persistence, updates }
window.appReady = persistence.whenSynced.then((p) => p === persistence)
