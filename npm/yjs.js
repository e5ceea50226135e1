// ysync/yjs: y-websocket's, y-indexeddb's and Hocuspocus's provider classes over the app's own
// Yjs `Y.Doc` (its `yjs` copy, a peer dependency, never bundled). Switching an app from
// y-websocket + y-indexeddb is a change of its two import lines.
//
// Behind each `Y.Doc` is one ysync replica under the same client ID (YjsReplica, in Rust): the
// replica syncs and stores; the `Y.Doc` makes every edit. Its `update` events go to the
// replica as local edits (sent, counted until acknowledged, stored: not encoded again); what
// the server, other tabs and storage bring comes back in `Y.applyUpdate(ydoc, update,
// provider)`, as y-websocket applies it, and a stored document arrives in one update.
// This file only wires objects together; what is passed where is decided in Rust
// (src/js/yjs.rs, src/core/mirror.rs).
import * as Y from 'yjs'
import init, {
  Doc,
  YjsReplica,
  WebsocketProvider as CoreWebsocketProvider,
  HocuspocusProvider as CoreHocuspocusProvider,
  IndexeddbPersistence as CoreIndexeddbPersistence
} from './ysync.js'

export { onPoisoned, poisonedError, setLogLevel } from './ysync.js'

// The wasm module next to this file (bundlers copy it). Apps on this entry never call init().
await init()

/** The provider or persistence an app holds, by the `origin` object of the ysync class. */
const owners = new WeakMap()
/** The mirror of each `Y.Doc`: { doc, replica }. */
const mirrors = new WeakMap()

function typeError (message) {
  const e = new TypeError(message)
  e.code = 'INVALID_ARGUMENT'
  return e
}

function mirrorOf (ydoc) {
  if (!(ydoc instanceof Y.Doc)) throw typeError('ysync/yjs: expected a Y.Doc from the app\'s yjs')
  const known = mirrors.get(ydoc)
  if (known) return known
  const doc = new Doc({ clientID: ydoc.clientID })
  // The origin of the update being passed to the Y.Doc: its own `update` event is not sent
  // back. Observers that edit during it use their own origins, which are.
  let passing = null
  const replica = new YjsReplica(doc, (update, origin) => {
    const outer = passing
    passing = owners.get(origin) ?? origin
    try {
      Y.applyUpdate(ydoc, update, passing)
    } finally {
      passing = outer
    }
  })
  const onUpdate = (update, origin) => {
    if (passing !== null && origin === passing) return
    replica.applyLocal(update)
  }
  // What the Y.Doc held before: local edits like any other.
  if (ydoc.store.clients.size > 0) replica.applyLocal(Y.encodeStateAsUpdate(ydoc))
  ydoc.on('update', onUpdate)
  ydoc.once('destroy', () => {
    ydoc.off('update', onUpdate)
    replica.destroy()
    mirrors.delete(ydoc)
  })
  const mirror = { doc, replica }
  mirrors.set(ydoc, mirror)
  return mirror
}

/** y-protocols' Awareness objects cannot be adopted yet: refused rather than ignored. */
function checkAwarenessOption (opts) {
  if (opts && typeof opts.awareness === 'object' && opts.awareness !== null) {
    throw typeError('ysync/yjs: the awareness option takes true or false; a y-protocols Awareness cannot be adopted yet (use provider.awareness, which is API-compatible)')
  }
}

/** The provider's own awareness reports the app's Y.Doc as its `doc`, as y-protocols'
 * (Hocuspocus's `awareness: null` has none). */
function adoptAwareness (awareness, ydoc) {
  if (awareness) Object.defineProperty(awareness, 'doc', { value: ydoc, configurable: true })
}

/** y-websocket's URL: server URL, room, then the encoded params. */
function roomUrl (serverUrl, roomname, params) {
  while (serverUrl.endsWith('/')) serverUrl = serverUrl.slice(0, -1)
  const query = new URLSearchParams(params ?? {}).toString()
  return serverUrl + '/' + roomname + (query === '' ? '' : '?' + query)
}

/** y-websocket's `WebsocketProvider(serverUrl, roomname, ydoc, opts)` on the app's Y.Doc. */
export class WebsocketProvider extends CoreWebsocketProvider {
  constructor (serverUrl, roomname, ydoc, opts = {}) {
    checkAwarenessOption(opts)
    super(serverUrl, roomname, mirrorOf(ydoc).doc, opts)
    owners.set(this.origin, this)
    this.doc = ydoc
    this.serverUrl = serverUrl
    this.roomname = roomname
    this.params = opts?.params ?? {}
    this.protocols = opts?.protocols ?? []
    this.shouldConnect = opts?.connect !== false
    adoptAwareness(this.awareness, ydoc)
  }

  /** y-websocket's `url`: the server URL, room and params the socket connects to. */
  get url () { return roomUrl(this.serverUrl, this.roomname, this.params) }
  /** Whether the socket is open (y-websocket's `wsconnected`). */
  get wsconnected () { return this.status === 'connected' }
  /** Whether the socket is opening (y-websocket's `wsconnecting`). */
  get wsconnecting () { return this.status === 'connecting' }

  connect () {
    this.shouldConnect = true
    super.connect()
  }

  disconnect () {
    this.shouldConnect = false
    super.disconnect()
  }
}

/** Hocuspocus's `HocuspocusProvider({ url | websocketProvider, name, document, ... })`. */
export class HocuspocusProvider extends CoreHocuspocusProvider {
  constructor (configuration = {}) {
    checkAwarenessOption(configuration)
    const ydoc = configuration.document ?? new Y.Doc()
    super({ ...configuration, document: mirrorOf(ydoc).doc })
    owners.set(this.origin, this)
    this._ydoc = ydoc
    adoptAwareness(this.awareness, ydoc)
  }

  /** The app's Y.Doc (Hocuspocus's `document`). */
  get document () { return this._ydoc }
}

/** y-indexeddb's `IndexeddbPersistence(name, ydoc)` on the app's Y.Doc. */
export class IndexeddbPersistence extends CoreIndexeddbPersistence {
  constructor (name, ydoc, options) {
    super(name, mirrorOf(ydoc).doc, options)
    owners.set(this.origin, this)
    this.doc = ydoc
    this._synced = super.whenSynced().then(() => this)
    this._wrapped = new WeakMap()
    // As y-indexeddb: the persistence goes with its document.
    this._onDocDestroy = () => { this.destroy() }
    ydoc.on('destroy', this._onDocDestroy)
  }

  /** y-indexeddb's `whenSynced`: a Promise of this persistence, once the stored state is in. */
  get whenSynced () { return this._synced }

  /** y-indexeddb's events: `synced` is called with the persistence. */
  on (event, f) {
    if (event !== 'synced') return super.on(event, f)
    const g = () => f(this)
    this._wrapped.set(f, g)
    return super.on(event, g)
  }

  off (event, f) {
    return super.off(event, (event === 'synced' && this._wrapped.get(f)) || f)
  }

  destroy () {
    this.doc.off('destroy', this._onDocDestroy)
    return super.destroy()
  }
}
