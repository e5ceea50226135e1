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

const params = new URLSearchParams(location.search)
const server = params.get('server') ?? 'ws://127.0.0.1:1234'
const room = params.get('room') ?? 'ysync-rich'
const $ = (id) => document.getElementById(id)
$('room').textContent = room
$('server').textContent = server
$('plain').href = '../index.html?' + new URLSearchParams({ server, room })

// --- Who I am (the same as on the other demo page) ----------------------------------------
const palette = ['#e8590c', '#2b8a3e', '#1971c2', '#9c36b5', '#c2255c', '#0c8599', '#5f3dc4', '#e67700']
const isColor = (c) => typeof c === 'string' && /^#[0-9a-fA-F]{6}$/.test(c)
const me = (() => {
  try {
    const saved = JSON.parse(localStorage.getItem('ysync-demo-user'))
    if (typeof saved?.name === 'string' && isColor(saved?.color)) return saved
  } catch {}
  return { name: `Guest ${100 + Math.floor(Math.random() * 900)}`, color: palette[Math.floor(Math.random() * palette.length)] }
})()

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
  localStorage.setItem('ysync-demo-user', JSON.stringify(me))
  editor.commands.updateUser({ name: me.name, color: me.color })
})
function renderPeers () {
  const items = []
  for (const [client, state] of provider.awareness.getStates()) {
    if (client === provider.awareness.clientID || !state?.user) continue
    const name = typeof state.user.name === 'string' && state.user.name.trim() ? state.user.name.slice(0, 40) : 'Anonymous'
    const li = document.createElement('li')
    li.className = 'peer'
    const dot = document.createElement('span')
    dot.className = 'dot'
    dot.style.background = isColor(state.user.color) ? state.user.color : '#868e96'
    const label = document.createElement('span')
    label.className = 'name'
    label.textContent = name
    li.append(dot, label)
    items.push(li)
  }
  if (items.length === 0) {
    const li = document.createElement('li')
    li.className = 'peer alone'
    li.textContent = 'Nobody else is here'
    items.push(li)
  }
  $('peers').replaceChildren(...items)
}
provider.awareness.on('change', renderPeers)

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
renderPeers()
renderStatus()
window.ysyncRich = { ydoc, provider, persistence, editor }
