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

import { bridgeAwareness, isAwareness } from './awareness.js'

export { HocuspocusProviderWebsocket, onPoisoned, poisonedError, setLogLevel } from './ysync.js'

// The wasm module next to this file (bundlers copy it). Apps on this entry never call init().
await init()

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
  // The origin of the update being passed to the Y.Doc (the provider or persistence: each
  // adopts itself as its origin): its own `update` event is not sent back. Observers that
  // edit during it use their own origins, which are.
  let passing = null
  const replica = new YjsReplica(doc, (update, origin) => {
    const outer = passing
    passing = origin
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

/** The `awareness` option: a y-protocols `Awareness` the app made (used as it is, kept in
 * step with the provider's presence), or a boolean / null as ysync's options take it. */
function externalAwareness (opts) {
  const a = opts?.awareness
  if (a === undefined || a === null || typeof a === 'boolean') return null
  if (!isAwareness(a)) throw typeError('ysync/yjs: the awareness option takes a y-protocols Awareness, true, false or null')
  return a
}

/** What the class's own awareness reports as its `doc`: the app's Y.Doc, as y-protocols'
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
    const external = externalAwareness(opts)
    super(serverUrl, roomname, mirrorOf(ydoc).doc, external ? { ...opts, awareness: true } : opts)
    // As y-websocket: what this provider applies has the provider as its origin.
    this.__adoptOrigin(this)
    this.doc = ydoc
    this.serverUrl = serverUrl
    this.roomname = roomname
    this.params = opts?.params ?? {}
    this.protocols = opts?.protocols ?? []
    this.shouldConnect = opts?.connect !== false
    adoptAwareness(super.awareness, ydoc)
    this._external = external
    this._unbridge = external ? bridgeAwareness(external, super.awareness, this) : null
  }

  /** The app's y-protocols `Awareness` if it passed one, else the provider's own. */
  get awareness () { return this._external ?? super.awareness }

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

  destroy () {
    this._unbridge?.()
    this._unbridge = null
    super.destroy()
  }
}

/** Hocuspocus's `HocuspocusProvider({ url | websocketProvider, name, document, ... })`. */
export class HocuspocusProvider extends CoreHocuspocusProvider {
  constructor (configuration = {}) {
    const external = externalAwareness(configuration)
    const ydoc = configuration.document ?? new Y.Doc()
    super({ ...configuration, document: mirrorOf(ydoc).doc, ...(external ? { awareness: undefined } : {}) })
    this.__adoptOrigin(this)
    this._ydoc = ydoc
    adoptAwareness(super.awareness, ydoc)
    this._external = external
    this._unbridge = external ? bridgeAwareness(external, super.awareness, this) : null
  }

  /** The app's Y.Doc (Hocuspocus's `document`). */
  get document () { return this._ydoc }

  /** The app's y-protocols `Awareness` if it passed one, else the provider's own (or null). */
  get awareness () { return this._external ?? super.awareness }

  destroy () {
    this._unbridge?.()
    this._unbridge = null
    super.destroy()
  }
}

/** y-indexeddb's `IndexeddbPersistence(name, ydoc)` on the app's Y.Doc. */
export class IndexeddbPersistence extends CoreIndexeddbPersistence {
  constructor (name, ydoc, options) {
    super(name, mirrorOf(ydoc).doc, options)
    // As y-indexeddb: what this persistence loads has the persistence as its origin.
    this.__adoptOrigin(this)
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
