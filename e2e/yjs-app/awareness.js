// A Yjs app that makes its own y-protocols Awareness and passes it to the provider, as
// y-websocket allows (editor bindings then read `provider.awareness`, which is that object).
// Built twice by the e2e test, like app.js: on ysync/yjs and with its import switched back to
// y-websocket.
import * as Y from 'yjs'
import { Awareness } from 'y-protocols/awareness'
import { WebsocketProvider } from 'ysync/yjs'

const q = new URLSearchParams(location.search)
const ydoc = new Y.Doc()
const awareness = new Awareness(ydoc)
const events = []
let provider = null
const name = (origin) => origin === provider ? 'provider' : typeof origin === 'string' ? origin : 'other'
awareness.on('change', (c, origin) => events.push({ ...c, origin: name(origin) }))
provider = new WebsocketProvider(q.get('server'), q.get('room'), ydoc, { awareness, disableBc: true })
window.app = { ydoc, awareness, provider, events }
