// The demo uses the npm package exactly as an app would.
import init, { Doc, WebsocketProvider } from '../pkg/ysync.js'

await init()
const params = new URLSearchParams(location.search)
const server = params.get('server') ?? 'ws://127.0.0.1:1234'
const room = params.get('room') ?? 'ysync-demo'
document.getElementById('room').textContent = room
document.getElementById('server').textContent = server

const doc = new Doc()
const note = doc.getText('note')
const provider = new WebsocketProvider(server, room, doc, { connect: false })
const area = document.getElementById('note')
const badge = document.getElementById('badge')
const ack = document.getElementById('ack')
const toggle = document.getElementById('toggle')

// Turn a textarea edit into one delete + one insert at the changed span (UTF-16 offsets, as Yjs).
area.addEventListener('input', () => {
  const before = note.toString()
  const after = area.value
  let start = 0
  while (start < before.length && start < after.length && before[start] === after[start]) start++
  let endB = before.length
  let endA = after.length
  while (endB > start && endA > start && before[endB - 1] === after[endA - 1]) { endB--; endA-- }
  if (endB > start) note.delete(start, endB - start)
  if (endA > start) note.insert(start, after.slice(start, endA))
})

// Remote changes: re-render, keeping the caret where it was relative to the text around it.
doc.on('update', (_update, origin) => {
  if (origin === null) return // our own edit, already on screen
  const text = note.toString()
  if (text === area.value) return
  const { selectionStart, selectionEnd } = area
  area.value = text
  area.setSelectionRange(Math.min(selectionStart, text.length), Math.min(selectionEnd, text.length))
})

const renderAck = () => {
  ack.textContent = provider.hasUnsyncedChanges ? 'local changes not yet on the server' : 'all changes on the server'
}
provider.on('status', ({ status }) => {
  badge.textContent = status
  badge.dataset.status = status
})
provider.on('sync', (synced) => {
  area.disabled = false
  if (synced) area.value = note.toString()
  renderAck()
})
provider.on('unsynced', renderAck)
let online = true
toggle.addEventListener('click', () => {
  online = !online
  if (online) provider.connect(); else provider.disconnect()
  toggle.textContent = online ? 'Go offline' : 'Go online'
})
area.disabled = false
provider.connect()
renderAck()
window.ysyncDemo = { doc, provider }
