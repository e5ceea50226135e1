// IndexedDB rows in y-indexeddb's layout (object stores `updates` and `custom`), for the pages
// of the tests and benchmarks: read a database's rows, or write rows into one.

/** The rows of database `name`. */
export const rawRows = (name) => new Promise((resolve, reject) => {
  const r = indexedDB.open(name)
  r.onsuccess = () => {
    const db = r.result
    const req = db.transaction('updates').objectStore('updates').getAll()
    req.onsuccess = () => { db.close(); resolve(req.result) }
    req.onerror = () => reject(req.error)
  }
  r.onerror = () => reject(r.error)
})

/**
 * Writes `values` as the rows of database `name`, durably: callers close the browser right
 * after (its process group is killed), and Chromium completes a transaction of the default
 * (relaxed) durability before its writes reach the disk, so a later process could find the
 * database empty (bench/editor.mjs did, once: "yjs: nothing loaded from b4").
 */
export const storeRows = (name, values) => new Promise((resolve, reject) => {
  const r = indexedDB.open(name)
  r.onupgradeneeded = () => { r.result.createObjectStore('updates', { autoIncrement: true }); r.result.createObjectStore('custom') }
  r.onsuccess = () => {
    const tx = r.result.transaction('updates', 'readwrite', { durability: 'strict' })
    for (const v of values) tx.objectStore('updates').add(v)
    tx.oncomplete = () => { r.result.close(); resolve() }
    tx.onerror = () => reject(tx.error)
  }
  r.onerror = () => reject(r.error)
})

/**
 * How many stored rows ysync's IndexeddbPersistence applies in one transaction: the same figure
 * as `ROWS_PER_TRANSACTION` in src/driver/persistence.rs (one transaction of many small rows
 * costs quadratic time in yrs).
 */
export const ROWS_PER_TRANSACTION = 256

/**
 * Applies stored `rows` to the ysync document `doc` the way ysync's IndexeddbPersistence loads
 * them, in transactions of ROWS_PER_TRANSACTION. The benchmarks time a library's decode with
 * its load's own way.
 */
export const applyRowsAsLoaded = (doc, rows) => {
  for (let k = 0; k < rows.length; k += ROWS_PER_TRANSACTION) {
    const end = Math.min(k + ROWS_PER_TRANSACTION, rows.length)
    doc.transact(() => { for (let j = k; j < end; j++) doc.applyUpdate(rows[j]) })
  }
}

/**
 * The benchmarks' many-rows store: `n` one-character inserts into the text `t` of a new Yjs
 * document (module `Y`), one update each, as y-indexeddb stores a document typed key by key.
 */
export const oneEditRows = (Y, n) => {
  const rows = []
  const y = new Y.Doc()
  y.on('update', (u) => rows.push(u))
  for (let k = 0; k < n; k++) y.getText('t').insert(k, 'x')
  return rows
}
