// Typings of `ysync/yjs`: y-websocket's, y-indexeddb's and Hocuspocus's provider classes over
// the app's own Yjs `Y.Doc` (see yjs.js). Everything not listed here is as in `ysync`.
import type * as Y from 'yjs'
import type * as core from './ysync.js'

export { HocuspocusProviderWebsocket, onPoisoned, poisonedError, setLogLevel } from './ysync.js'

/** y-protocols' `Awareness` of a provider: as `ysync`'s, its `doc` the app's `Y.Doc`. */
export type Awareness = Omit<core.Awareness, 'doc'> & { readonly doc: Y.Doc }

/** A y-protocols `Awareness` the app made (the members the provider uses): passed as the
 * `awareness` option, it is used as it is and kept in step with the provider's presence. */
export interface ExternalAwareness {
  readonly clientID: number;
  readonly states: Map<number, { [field: string]: any }>;
  readonly meta: Map<number, { clock: number; lastUpdated: number }>;
  getLocalState(): { [field: string]: any } | null;
  setLocalState(state: { [field: string]: any } | null): void;
  getStates(): Map<number, { [field: string]: any }>;
  on(event: string, f: (...args: any[]) => void): void;
  off(event: string, f: (...args: any[]) => void): void;
  emit(event: string, args: any[]): void;
}

/** Options of `new WebsocketProvider(...)`: y-websocket's; `awareness` is the app's own
 * y-protocols `Awareness` (as y-websocket takes it) or a boolean (presence on or off). */
export type WebsocketProviderOptions = Omit<core.WebsocketProviderOptions, 'awareness'> & {
  awareness?: boolean | ExternalAwareness;
}

export interface WebsocketProvider extends Omit<core.WebsocketProvider, 'awareness'> {}
/** y-websocket's `WebsocketProvider`, syncing the app's `Y.Doc` through ysync. */
export declare class WebsocketProvider {
  constructor(serverUrl: string, roomname: string, doc: Y.Doc, opts?: WebsocketProviderOptions);
  /** The app's document. */
  readonly doc: Y.Doc;
  /** The app's `Awareness` if it passed one (as it is), else the provider's own. */
  readonly awareness: Awareness;
  readonly serverUrl: string;
  readonly roomname: string;
  readonly params: { [name: string]: string | number };
  readonly protocols: string | string[];
  /** Whether the provider reconnects when the socket closes (`connect()` / `disconnect()`). */
  readonly shouldConnect: boolean;
  /** The URL the socket connects to: server URL, room and params. */
  readonly url: string;
  readonly wsconnected: boolean;
  readonly wsconnecting: boolean;
}

/** Configuration of `new HocuspocusProvider(...)`: Hocuspocus's, `document` a `Y.Doc`. */
export type HocuspocusProviderConfiguration = Omit<core.HocuspocusProviderConfiguration, 'document' | 'awareness'> & {
  document?: Y.Doc;
  /** The app's own y-protocols `Awareness` (used as it is), or null for no presence. */
  awareness?: ExternalAwareness | null;
}

export interface HocuspocusProvider extends Omit<core.HocuspocusProvider, 'document' | 'awareness'> {}
/** Hocuspocus's `HocuspocusProvider`, syncing the app's `Y.Doc` through ysync. */
export declare class HocuspocusProvider {
  constructor(configuration: HocuspocusProviderConfiguration);
  /** The app's document. */
  readonly document: Y.Doc;
  readonly awareness: Awareness | null;
}

export type IndexeddbPersistenceOptions = core.IndexeddbPersistenceOptions

export interface IndexeddbPersistence extends Omit<core.IndexeddbPersistence, 'whenSynced' | 'on' | 'off'> {}
/** y-indexeddb's `IndexeddbPersistence`, storing the app's `Y.Doc` through ysync. */
export declare class IndexeddbPersistence {
  constructor(name: string, doc: Y.Doc, options?: IndexeddbPersistenceOptions);
  /** The app's document. */
  readonly doc: Y.Doc;
  /** Resolves with this persistence once the stored state is in the document (y-indexeddb's). */
  readonly whenSynced: Promise<IndexeddbPersistence>;
  on(event: 'synced', f: (persistence: IndexeddbPersistence) => void): void;
  on(event: string, f: Function): void;
  off(event: string, f: Function): void;
}
