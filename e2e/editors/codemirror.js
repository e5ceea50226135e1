// A CodeMirror 6 app on y-codemirror.next, written as apps on y-websocket + y-indexeddb are:
// its own Y.Doc, its own y-protocols Awareness (passed to the provider, as y-websocket takes
// it), Y.UndoManager. The e2e test builds it twice: as it is (on ysync/yjs) and with its two
// import lines switched back to y-websocket and y-indexeddb. bench/editor.mjs times it.
import * as Y from 'yjs'
import { Awareness } from 'y-protocols/awareness'
import { EditorView, drawSelection, keymap } from '@codemirror/view'
import { defaultKeymap } from '@codemirror/commands'
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next'
import { WebsocketProvider } from 'ysync/yjs'
import { IndexeddbPersistence } from 'ysync/yjs'

const q = new URLSearchParams(location.search)
const room = q.get('room')
const ydoc = new Y.Doc()
const ytext = ydoc.getText('codemirror')
const persistence = new IndexeddbPersistence(room, ydoc)
const awareness = new Awareness(ydoc)
const color = q.get('color') ?? '#1971c2'
awareness.setLocalStateField('user', { name: q.get('name') ?? 'Anonymous', color, colorLight: color + '33' })
const provider = new WebsocketProvider(q.get('server'), room, ydoc, { awareness, connect: q.get('offline') !== '1', disableBc: true })
const undoManager = new Y.UndoManager(ytext)
const view = new EditorView({
  doc: ytext.toString(),
  extensions: [keymap.of([...yUndoManagerKeymap, ...defaultKeymap]), drawSelection(), yCollab(ytext, provider.awareness, { undoManager })],
  parent: document.querySelector('#editor')
})
window.app = {
  ydoc,
  provider,
  persistence,
  undoManager,
  view,
  text: () => view.state.doc.toString(),
  /** The names on the remote carets drawn. */
  carets: () => [...document.querySelectorAll('.cm-ySelectionInfo')].map((e) => e.textContent),
  focusEnd: () => { view.focus(); view.dispatch({ selection: { anchor: view.state.doc.length } }) },
  /** Types `s` at the caret as a keystroke does (one editor transaction). */
  type: (s) => view.dispatch(view.state.replaceSelection(s), { userEvent: 'input.type' })
}
window.appReady = persistence.whenSynced.then((p) => p === persistence)
