// Cold loads of a stored document into an app's Y.Doc (bench/editor.mjs), written as a Yjs app
// on y-indexeddb is; built twice, as it is on ysync/yjs and with its import switched back.
// `ysync`'s init() returns the instance the entry already started: its memory is read, if any.
import * as Y from 'yjs'
import { IndexeddbPersistence } from 'ysync/yjs'
import { oneEditRows, storeRows } from '@e2e/pages/rows.js'

const wasmMemory = async () => {
  try {
    const { default: init } = await import('ysync')
    return (await init()).memory
  } catch { return null }
}

window.load = async (name) => {
  const t0 = performance.now()
  const ydoc = new Y.Doc()
  const persistence = new IndexeddbPersistence(name, ydoc)
  await persistence.whenSynced
  const ms = performance.now() - t0
  window.keep = { ydoc, persistence }
  return { ms, length: ydoc.getText('t').length }
}
window.wasmBytes = async () => (await wasmMemory())?.buffer.byteLength ?? 0
window.storeRows = storeRows
window.oneEditRows = oneEditRows
window.Y = Y
window.ysyncReady = true
