//! IndexedDB in y-indexeddb's layout: one database per document name, object store `updates`
//! (autoIncrement keys, v1 updates as Uint8Array values) and object store `custom`.
//!
//! Each function runs exactly one transaction and settles when it completed (`oncomplete`; a
//! read when its request succeeded) or failed (`onerror`/`onabort`, with the DOMException).
//! The transaction code is a small JS snippet because IndexedDB transactions end as soon as
//! control returns to the event loop: compaction must read, fold and write inside one success
//! callback.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
export function idbAvailable() { return typeof indexedDB !== 'undefined' && indexedDB !== null }
export function idbOpen(name, onVersionChange, onBlocked) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name)
    req.onupgradeneeded = () => {
      const db = req.result
      if (!db.objectStoreNames.contains('updates')) db.createObjectStore('updates', { autoIncrement: true })
      if (!db.objectStoreNames.contains('custom')) db.createObjectStore('custom')
    }
    req.onsuccess = () => {
      const db = req.result
      db.onversionchange = () => { db.close(); onVersionChange() }
      db.onclose = () => onVersionChange()
      resolve(db)
    }
    req.onerror = () => reject(req.error)
    // Another tab holds an older version open: the request waits until it closes; say so.
    req.onblocked = () => onBlocked(new DOMException('the database is blocked by another tab', 'BlockedError'))
  })
}
// Transactions still running per connection, so that deleting the database can wait for them:
// a connection closed with a transaction running still counts as open, and the deletion
// would report itself blocked by "another tab".
const running = new WeakMap()
function begin(db, stores, mode, options) {
  const tx = db.transaction(stores, mode, options)
  const r = running.get(db) ?? { n: 0, idle: [] }
  running.set(db, r)
  r.n++
  const end = () => {
    r.n--
    if (r.n === 0) for (const f of r.idle.splice(0)) f()
  }
  tx.addEventListener('complete', end)
  tx.addEventListener('abort', end)
  return tx
}
export function idbIdle(db) {
  const r = running.get(db)
  return !r || r.n === 0 ? Promise.resolve() : new Promise((resolve) => r.idle.push(resolve))
}
const done = (tx, value) => new Promise((resolve, reject) => {
  tx.oncomplete = () => resolve(value())
  tx.onerror = () => reject(tx.error)
  tx.onabort = () => reject(tx.error ?? new DOMException('transaction aborted', 'AbortError'))
})
// A read settles with its request: the read-only transaction's oncomplete comes later, and
// nothing is gained by waiting for it (bench/run.mjs, cold loads).
export function idbReadAll(db) {
  return new Promise((resolve, reject) => {
    const tx = begin(db, ['updates'], 'readonly')
    const values = tx.objectStore('updates').getAll()
    values.onsuccess = () => resolve(values.result)
    values.onerror = () => reject(values.error)
    tx.onabort = () => reject(tx.error ?? new DOMException('transaction aborted', 'AbortError'))
  })
}
// Row values as [all their bytes, the end offset of each] so that wasm copies them in once,
// not once per row; a value that is not a Uint8Array ends at 0xFFFFFFFF.
export function idbPack(values) {
  const bad = 0xffffffff
  if (values.length === 1 && values[0] instanceof Uint8Array) return [values[0], new Uint32Array([values[0].length])]
  let total = 0
  for (const v of values) if (v instanceof Uint8Array) total += v.length
  const all = new Uint8Array(total)
  const ends = new Uint32Array(values.length)
  let at = 0
  values.forEach((v, i) => {
    if (v instanceof Uint8Array) { all.set(v, at); at += v.length; ends[i] = at } else ends[i] = bad
  })
  return [all, ends]
}
export function idbAppend(db, update) {
  const tx = begin(db, ['updates'], 'readwrite', { durability: 'strict' })
  const store = tx.objectStore('updates')
  store.add(update)
  const count = store.count()
  return done(tx, () => count.result)
}
export function idbCompact(db, fold) {
  const tx = begin(db, ['updates', 'custom'], 'readwrite', { durability: 'strict' })
  const store = tx.objectStore('updates')
  const custom = tx.objectStore('custom')
  const keys = store.getAllKeys()
  const values = store.getAll()
  let rows = 0
  let bytes = 0
  let quarantined = 0
  values.onsuccess = () => {
    let out
    try { out = fold(values.result) } catch (e) { out = null }
    if (!out) { tx.abort(); return }
    // Its key is above every key read: the range deletes below never reach it.
    store.add(out.update)
    rows = 1
    bytes = out.update.length
    const ks = keys.result
    const gone = ks.map((k, i) => out.valid[i] || out.quarantine[i])
    // Rows that do not decode are kept out of the way: copied as one value, then deleted.
    const bad = ks.flatMap((k, i) => out.quarantine[i] ? [values.result[i]] : [])
    if (bad.length > 0) custom.put(bad, 'ysync:quarantine:' + ks[out.quarantine.indexOf(true)])
    quarantined = bad.length
    ks.forEach((k, i) => { if (!gone[i]) { rows++; bytes += values.result[i]?.length ?? 0 } })
    // One delete per run of consecutive keys, not one per row.
    for (let i = 0; i < ks.length; i++) {
      if (!gone[i]) continue
      let j = i
      while (j + 1 < ks.length && gone[j + 1]) j++
      store.delete(i === j ? ks[i] : IDBKeyRange.bound(ks[i], ks[j]))
      i = j
    }
  }
  return done(tx, () => ({ rows, bytes, quarantined }))
}
export function idbCustom(db, mode, key, value) {
  const tx = begin(db, ['custom'], mode === 'get' ? 'readonly' : 'readwrite')
  const store = tx.objectStore('custom')
  const req = mode === 'get' ? store.get(key) : mode === 'set' ? store.put(value, key) : store.delete(key)
  return done(tx, () => (mode === 'get' ? req.result : undefined))
}
export function idbDelete(name, onBlocked) {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name)
    req.onsuccess = () => resolve()
    req.onerror = () => reject(req.error)
    // Another tab keeps the database open: deletion waits until it closes; say so.
    req.onblocked = () => onBlocked(new DOMException('deleting the database is blocked by another tab', 'BlockedError'))
  })
}
export function requestPersist() {
  return globalThis.navigator?.storage?.persist?.() ?? Promise.resolve(false)
}
"#)]
extern "C" {
    /// Resolves once no transaction this module started on `db` is running.
    #[wasm_bindgen(js_name = idbIdle)]
    pub fn idle(db: &JsValue) -> js_sys::Promise;
    /// Whether `indexedDB` exists here.
    #[wasm_bindgen(js_name = idbAvailable)]
    pub fn available() -> bool;
    /// Opens (creating if needed) the database `name`; `on_close` runs when another tab
    /// upgrades or deletes it, or the browser closes it; `on_blocked(DOMException)` while
    /// another connection holds it back (the request keeps waiting).
    #[wasm_bindgen(js_name = idbOpen)]
    pub fn open(
        name: &str,
        on_close: &js_sys::Function,
        on_blocked: &js_sys::Function,
    ) -> js_sys::Promise;
    /// Reads every row value (an array of whatever the rows hold).
    #[wasm_bindgen(js_name = idbReadAll)]
    pub fn read_all(db: &JsValue) -> js_sys::Promise;
    /// Row values as `[bytes, ends]`: every `Uint8Array` value's bytes one after the other in
    /// one `Uint8Array`, and in a `Uint32Array` where each row ends (`u32::MAX`: not bytes).
    #[wasm_bindgen(js_name = idbPack)]
    pub fn pack(values: &js_sys::Array) -> js_sys::Array;
    /// Appends one update row; resolves to the number of rows after it.
    #[wasm_bindgen(js_name = idbAppend)]
    pub fn append(db: &JsValue, update: &js_sys::Uint8Array) -> js_sys::Promise;
    /// Compacts: `fold(values)` returns `{ update, valid, quarantine }` (valid rows are
    /// replaced by `update`; quarantined ones are moved, as one array, to the `custom` store
    /// under `ysync:quarantine:<key of the first>`), or null to abort the transaction with
    /// nothing changed.
    #[wasm_bindgen(js_name = idbCompact)]
    pub fn compact(db: &JsValue, fold: &js_sys::Function) -> js_sys::Promise;
    /// `mode` is `get`, `set` or `del` on the `custom` store.
    #[wasm_bindgen(js_name = idbCustom)]
    pub fn custom(db: &JsValue, mode: &str, key: &JsValue, value: &JsValue) -> js_sys::Promise;
    /// Deletes the database `name`; `on_blocked(DOMException)` while other connections
    /// keep it open (deletion waits for them).
    #[wasm_bindgen(js_name = idbDelete)]
    pub fn delete(name: &str, on_blocked: &js_sys::Function) -> js_sys::Promise;
    /// Asks for persistent storage (`navigator.storage.persist()`).
    #[wasm_bindgen(js_name = requestPersist)]
    pub fn request_persist() -> js_sys::Promise;
}
