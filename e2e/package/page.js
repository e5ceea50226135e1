// What the Vite app and the plain module page run: the package end to end in the browser.
import init, { Doc, UndoManager } from 'ysync'

const wasm = await init()
const doc = new Doc({ clientID: 1 })
const text = doc.getText('t')
const deltas = []
text.observe((e) => deltas.push(e.delta))
doc.transact(() => text.insert(0, 'hello', { bold: true }), 'me')
const um = new UndoManager(text, { trackedOrigins: ['me'] })
doc.transact(() => text.insert(5, ' world'), 'me')
um.undo()
window.result = {
  text: text.toString(),
  deltas,
  memory: wasm.memory instanceof WebAssembly.Memory,
  update: doc.encodeStateAsUpdate().length > 0
}
