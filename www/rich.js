// The rich-text demo: TipTap (ProseMirror) with Collaboration and carets, written as an app on
// yjs + y-websocket + y-indexeddb is, with those two imports switched to ysync/yjs. Built with
// Vite by scripts/build-www.mjs (served from www/dist/). Everything from peers is untrusted:
// names go in as text, colours must be #rrggbb, and nothing sets inline styles through markup
// (the page's Content-Security-Policy forbids them).
import * as Y from 'yjs'
import { Editor } from '@tiptap/core'
import StarterKit from '@tiptap/starter-kit'
import Collaboration from '@tiptap/extension-collaboration'
import CollaborationCaret from '@tiptap/extension-collaboration-caret'
import { WebsocketProvider, IndexeddbPersistence } from 'ysync/yjs'
import { loadMe, renderPeers, saveMe } from './people.js'

const params = new URLSearchParams(location.search)
const server = params.get('server') ?? 'ws://127.0.0.1:1234'
const room = params.get('room') ?? 'ysync-rich'
const $ = (id) => document.getElementById(id)
$('room').textContent = room
$('server').textContent = server
$('plain').href = '../index.html?' + new URLSearchParams({ server, room })

// --- Who I am (as on the other demo page) -------------------------------------------------
const me = loadMe()

// --- Document, storage, server, editor ----------------------------------------------------
const ydoc = new Y.Doc()
const persistence = new IndexeddbPersistence(`ysync-rich/${room}`, ydoc)
const provider = new WebsocketProvider(server, room, ydoc)
const editor = new Editor({
  element: $('editor'),
  // TipTap's own stylesheet is in rich.css: injected, it would be an inline <style>.
  injectCSS: false,
  extensions: [
    // Collaboration brings its own undo (your edits only): the editor's history is off.
    StarterKit.configure({ undoRedo: false }),
    Collaboration.configure({ document: ydoc, field: 'rich' }),
    CollaborationCaret.configure({
      provider,
      user: { name: me.name, color: me.color },
      // A class, not the default inline style (the policy forbids style attributes).
      selectionRender: () => ({ class: 'collaboration-carets__selection' })
    })
  ]
})

// --- People, name --------------------------------------------------------------------------
const nameInput = $('name')
nameInput.value = me.name
$('me-color').style.background = me.color
nameInput.addEventListener('input', () => {
  me.name = nameInput.value.trim().slice(0, 40) || 'Anonymous'
  saveMe(me)
  editor.commands.updateUser({ name: me.name, color: me.color })
})
provider.awareness.on('change', () => renderPeers($('peers'), provider.awareness))

// --- Toolbar -------------------------------------------------------------------------------
const commands = {
  bold: (c) => c.toggleBold(),
  italic: (c) => c.toggleItalic(),
  heading: (c) => c.toggleHeading({ level: 2 }),
  bulletList: (c) => c.toggleBulletList(),
  undo: (c) => c.undo(),
  redo: (c) => c.redo()
}
for (const b of document.querySelectorAll('.toolbar button')) {
  // A click leaves the focus in the editor: the button's mousedown would take it, and TipTap's
  // focus() gives it back only on the next animation frame, so keys typed right after a click
  // (bold, then the word) were lost.
  b.addEventListener('mousedown', (e) => e.preventDefault())
  b.addEventListener('click', () => commands[b.dataset.cmd](editor.chain().focus()).run())
}

// --- Sync state: connected, and what the server has acknowledged -------------------------
function renderStatus () {
  const badge = $('badge')
  badge.dataset.status = provider.status
  badge.textContent = { connected: 'online', connecting: 'connecting…', disconnected: 'offline' }[provider.status]
  const ack = $('ack')
  const n = provider.unsyncedChanges
  ack.dataset.state = n > 0 ? 'unsynced' : 'acknowledged'
  ack.textContent = n > 0 ? `${n} change${n === 1 ? '' : 's'} only here` : 'all changes on the server'
}
provider.on('status', renderStatus)
provider.on('unsynced', renderStatus)
provider.on('sync', renderStatus)
await persistence.whenSynced
renderPeers($('peers'), provider.awareness)
renderStatus()
window.ysyncRich = { ydoc, provider, persistence, editor }
