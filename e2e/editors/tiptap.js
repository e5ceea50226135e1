// A TipTap 3 app with Collaboration and CollaborationCaret, written as apps on y-websocket +
// y-indexeddb are (the provider's own awareness). The e2e test builds it twice: as it is (on
// ysync/yjs) and with its two import lines switched back to y-websocket and y-indexeddb.
import * as Y from 'yjs'
import { Editor } from '@tiptap/core'
import StarterKit from '@tiptap/starter-kit'
import Collaboration from '@tiptap/extension-collaboration'
import CollaborationCaret from '@tiptap/extension-collaboration-caret'
import { WebsocketProvider } from 'ysync/yjs'
import { IndexeddbPersistence } from 'ysync/yjs'

const q = new URLSearchParams(location.search)
const room = q.get('room')
const ydoc = new Y.Doc()
const persistence = new IndexeddbPersistence(room, ydoc)
const provider = new WebsocketProvider(q.get('server'), room, ydoc, { connect: q.get('offline') !== '1', disableBc: true })
const editor = new Editor({
  element: document.querySelector('#editor'),
  extensions: [
    // Collaboration brings its own undo (Yjs's UndoManager): the editor's own history is off.
    StarterKit.configure({ undoRedo: false }),
    Collaboration.configure({ document: ydoc, field: 'prosemirror' }),
    CollaborationCaret.configure({ provider, user: { name: q.get('name') ?? 'Anonymous', color: q.get('color') ?? '#1971c2' } })
  ]
})
window.app = {
  ydoc,
  provider,
  persistence,
  editor,
  text: () => editor.getText(),
  /** The names on the remote carets drawn. */
  carets: () => [...document.querySelectorAll('.collaboration-carets__label')].map((e) => e.textContent),
  // TipTap focuses in the next animation frame: keys typed before it would go elsewhere.
  focusEnd: () => new Promise((resolve) => {
    editor.commands.focus('end')
    requestAnimationFrame(() => requestAnimationFrame(() => resolve(editor.isFocused)))
  }),
  /** Types `s` at the caret as a keystroke does (one editor transaction). */
  type: (s) => editor.view.dispatch(editor.state.tr.insertText(s))
}
window.appReady = persistence.whenSynced.then((p) => p === persistence)
