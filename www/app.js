// The demo uses the npm package exactly as an app would: a shared note with everyone's caret,
// a shared todo list, presence, and the sync state a user needs to trust it.
import init, { Doc, WebsocketProvider, IndexeddbPersistence } from '../pkg/ysync.js'
import { loadMe, peerLook, renderPeers as fillPeers, saveMe } from './people.js'

await init()
const params = new URLSearchParams(location.search)
const server = params.get('server') ?? 'ws://127.0.0.1:1234'
const room = params.get('room') ?? 'ysync-demo'
const $ = (id) => document.getElementById(id)
$('room').textContent = room
$('server').textContent = server
$('rich').href = './dist/rich.html?' + new URLSearchParams({ server, room })

// --- Document, local storage, server -------------------------------------------------------
const doc = new Doc()
const note = doc.getText('note')
// The todo list: one map per facet, so concurrent edits of different facets of one task (check
// vs. move) both win; order is a number between the neighbours' (fractional indexing).
const todos = doc.getMap('todos') // id -> { text }
const todoDone = doc.getMap('todoDone') // id -> boolean
const todoOrder = doc.getMap('todoOrder') // id -> number
const persistence = new IndexeddbPersistence(`ysync-demo/${room}`, doc, { statsInterval: 1000 })
const provider = new WebsocketProvider(server, room, doc, { connect: false, statsInterval: 1000 })
const awareness = provider.awareness
const offlineKey = `ysync-demo-offline/${room}`
let offline = sessionStorage.getItem(offlineKey) === '1'
persistence.on('error', (e) => console.warn('storage:', e.domName ?? e.code, e.message))
provider.on('error', (e) => console.warn('sync:', e.code, e.message))

// --- Who I am ------------------------------------------------------------------------------
const me = loadMe()
const nameInput = $('name')
nameInput.value = me.name
$('me-color').style.background = me.color
nameInput.addEventListener('input', () => {
  me.name = nameInput.value.trim().slice(0, 40) || 'Anonymous'
  saveMe(me)
  awareness.setLocalStateField('user', { ...me })
})
awareness.setLocalState({ user: { ...me }, cursor: null })

// --- The note ------------------------------------------------------------------------------
const area = $('note')
const carets = $('carets')
let myCursor = null // { anchor, head } as relative positions, so remote edits cannot move them

// A textarea edit becomes one delete + one insert at the changed span (UTF-16 offsets, as Yjs).
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
  publishCursor()
})

function publishCursor () {
  if (document.activeElement !== area) return
  const backward = area.selectionDirection === 'backward'
  const [a, h] = backward ? [area.selectionEnd, area.selectionStart] : [area.selectionStart, area.selectionEnd]
  const len = note.length
  const cursor = { anchor: note.relativePosition(Math.min(a, len)), head: note.relativePosition(Math.min(h, len)) }
  if (JSON.stringify(cursor) === JSON.stringify(myCursor)) return
  myCursor = cursor
  awareness.setLocalStateField('cursor', cursor)
}
document.addEventListener('selectionchange', publishCursor)
area.addEventListener('focus', publishCursor)
area.addEventListener('blur', () => { myCursor = null; awareness.setLocalStateField('cursor', null) })
area.addEventListener('scroll', () => { carets.scrollTop = area.scrollTop })
new ResizeObserver(() => renderCarets()).observe(area)

// Remote text: re-render, keeping my selection on the same characters. Each change's delta is
// applied to what the textarea shows, and its own selection moved through it: that selection
// may be newer than the one last published (a click whose selectionchange event has not run
// yet), and several changes can arrive at once, each relative to the text before it. Without
// a delta (a restore), or should the textarea still differ from the note once the changes of
// this task are shown, the whole text is put back and the published relative positions say
// where the selection is.
function renderNote (delta) {
  if (delta) {
    const focused = document.activeElement === area
    const forward = area.selectionDirection !== 'backward'
    const [s, e] = [area.selectionStart, area.selectionEnd].map((i) => throughDelta(delta, i))
    area.value = applyDelta(area.value, delta)
    if (focused) area.setSelectionRange(s, e, forward ? 'forward' : 'backward')
  }
  if (!checking) {
    checking = true
    queueMicrotask(() => {
      checking = false
      showWholeNote()
    })
  }
}
let checking = false

function showWholeNote () {
  const text = note.toString()
  if (text !== area.value) {
    const focused = document.activeElement === area
    area.value = text
    if (focused && myCursor) {
      const a = note.resolveRelativePosition(myCursor.anchor) ?? 0
      const h = note.resolveRelativePosition(myCursor.head) ?? 0
      area.setSelectionRange(Math.min(a, h), Math.max(a, h), a > h ? 'backward' : 'forward')
    }
  }
  renderCarets()
}

/** `text` with a text delta applied (UTF-16 offsets, as Yjs and JS strings count). */
function applyDelta (text, delta) {
  let out = ''
  let old = 0
  for (const op of delta) {
    if (op.retain !== undefined) {
      out += text.slice(old, old + op.retain)
      old += op.retain
    } else if (op.insert !== undefined) {
      out += typeof op.insert === 'string' ? op.insert : ''
    } else if (op.delete !== undefined) {
      old += op.delete
    }
  }
  return out + text.slice(old)
}

/** Where offset `index` of the text before a change is after it (a text delta, UTF-16). */
function throughDelta (delta, index) {
  let old = 0
  let shift = 0
  for (const op of delta) {
    if (op.retain !== undefined) {
      old += op.retain
    } else if (op.insert !== undefined) {
      if (old < index) shift += typeof op.insert === 'string' ? op.insert.length : 1
    } else if (op.delete !== undefined) {
      if (old < index) shift -= Math.min(op.delete, index - old)
      old += op.delete
    }
    if (old >= index && op.insert === undefined) break
  }
  return index + shift
}

// Other people's carets and selections, drawn on a transparent copy of the text laid over the
// textarea. Everything from peers is untrusted: names go in as text, colours must be #rrggbb.
function renderCarets () {
  carets.style.width = area.clientWidth + 'px'
  carets.style.height = area.clientHeight + 'px'
  const text = area.value
  const marks = []
  for (const [client, state] of awareness.getStates()) {
    if (client === awareness.clientID || !state?.cursor) continue
    let anchor, head
    try {
      anchor = note.resolveRelativePosition(state.cursor.anchor)
      head = note.resolveRelativePosition(state.cursor.head)
    } catch { continue } // not a relative position: ignore this peer's cursor
    if (anchor == null || head == null) continue
    marks.push({ from: Math.min(anchor, head, text.length), to: Math.min(Math.max(anchor, head), text.length), head: Math.min(head, text.length), ...peerLook(state) })
  }
  const cuts = [...new Set([0, text.length, ...marks.flatMap((m) => [m.from, m.to, m.head])])].sort((a, b) => a - b)
  const out = []
  for (let i = 0; i < cuts.length; i++) {
    for (const m of marks) {
      if (m.head === cuts[i]) {
        const caret = document.createElement('span')
        caret.className = 'caret'
        caret.style.borderColor = m.color
        const label = document.createElement('span')
        label.className = 'label'
        label.style.background = m.color
        label.textContent = m.name
        caret.append(label)
        out.push(caret)
      }
    }
    if (i + 1 < cuts.length) {
      const piece = text.slice(cuts[i], cuts[i + 1])
      const sel = marks.find((m) => m.from <= cuts[i] && cuts[i + 1] <= m.to)
      if (sel) {
        const span = document.createElement('span')
        span.className = 'selection'
        span.style.background = sel.color + '40'
        span.textContent = piece
        out.push(span)
      } else {
        out.push(document.createTextNode(piece))
      }
    }
  }
  out.push(document.createTextNode('\n')) // a trailing newline still takes a line, as in the textarea
  carets.replaceChildren(...out)
  carets.scrollTop = area.scrollTop
}

// --- People here ---------------------------------------------------------------------------
const renderPeers = () => fillPeers($('peers'), awareness)
awareness.on('change', () => { renderPeers(); renderCarets() })

// --- Todo list -----------------------------------------------------------------------------
let nextId = 0
const list = () => {
  const items = todos.toJSON()
  const done = todoDone.toJSON()
  const order = todoOrder.toJSON()
  return Object.keys(items)
    .map((id) => ({ id, text: String(items[id]?.text ?? ''), done: done[id] === true, order: Number.isFinite(order[id]) ? order[id] : 0 }))
    .sort((a, b) => a.order - b.order || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

$('add').addEventListener('submit', (e) => {
  e.preventDefault()
  const input = $('new-todo')
  const text = input.value.trim()
  if (!text) return
  const items = list()
  const id = `${doc.clientID.toString(36)}-${Date.now().toString(36)}-${nextId++}`
  todos.set(id, { text })
  todoOrder.set(id, items.length ? items[items.length - 1].order + 1 : 0)
  input.value = ''
})

function move (id, delta) {
  const items = list()
  const from = items.findIndex((t) => t.id === id)
  const to = from + delta
  if (from < 0 || to < 0 || to >= items.length) return
  const rest = items.filter((t) => t.id !== id)
  const prev = rest[to - 1]?.order
  const next = rest[to]?.order
  todoOrder.set(id, prev === undefined ? next - 1 : next === undefined ? prev + 1 : (prev + next) / 2)
}

function remove (id) {
  todos.delete(id)
  todoDone.delete(id)
  todoOrder.delete(id)
}

function renderTodos () {
  const focus = document.activeElement?.closest?.('.todo') ? [document.activeElement.closest('.todo').dataset.id, document.activeElement.dataset.action] : null
  const items = list()
  const rows = items.map((t, i) => {
    const li = document.createElement('li')
    li.className = 'todo' + (t.done ? ' done' : '')
    li.dataset.id = t.id
    const label = document.createElement('label')
    const box = document.createElement('input')
    box.type = 'checkbox'
    box.checked = t.done
    box.dataset.action = 'check'
    box.addEventListener('change', () => todoDone.set(t.id, box.checked))
    const text = document.createElement('span')
    text.className = 'text'
    text.textContent = t.text
    label.append(box, text)
    const button = (action, glyph, title, disabled, fn) => {
      const b = document.createElement('button')
      b.type = 'button'
      b.textContent = glyph
      b.title = title
      b.setAttribute('aria-label', `${title}: ${t.text}`)
      b.dataset.action = action
      b.disabled = disabled
      b.addEventListener('click', fn)
      return b
    }
    li.append(label,
      button('up', '↑', 'Move up', i === 0, () => move(t.id, -1)),
      button('down', '↓', 'Move down', i === items.length - 1, () => move(t.id, 1)),
      button('delete', '✕', 'Delete', false, () => remove(t.id)))
    return li
  })
  $('todos').replaceChildren(...rows)
  $('empty').hidden = items.length > 0
  if (focus) {
    const row = [...$('todos').children].find((li) => li.dataset.id === focus[0])
    row?.querySelector(`[data-action="${focus[1]}"]:not(:disabled)`)?.focus()
  }
}

// --- Sync state ----------------------------------------------------------------------------
const badge = $('badge')
const ack = $('ack')
const toggle = $('toggle')
function renderStatus () {
  const status = provider.status
  badge.dataset.status = status
  badge.textContent = status === 'connected'
    ? (provider.synced ? 'online' : 'syncing…')
    : status === 'connecting' ? 'connecting…' : offline ? 'offline' : 'reconnecting…'
  const n = provider.unsyncedChanges
  if (n > 0) {
    ack.dataset.state = 'unsynced'
    ack.textContent = `${n} change${n === 1 ? '' : 's'} saved locally, not yet on the server`
  } else {
    ack.dataset.state = 'acknowledged'
    ack.textContent = 'all changes acknowledged by the server'
  }
  toggle.textContent = offline ? 'Go online' : 'Go offline'
}
provider.on('status', renderStatus)
provider.on('sync', renderStatus)
provider.on('unsynced', renderStatus)

toggle.addEventListener('click', () => {
  offline = !offline
  // Remembered for this tab, so a reload while offline stays offline (and loads from IndexedDB).
  if (offline) sessionStorage.setItem(offlineKey, '1'); else sessionStorage.removeItem(offlineKey)
  if (offline) provider.disconnect(); else provider.connect()
  renderStatus()
})

$('reset').addEventListener('click', async () => {
  $('reset').disabled = true
  provider.destroy()
  await persistence.clearData()
  sessionStorage.removeItem(offlineKey)
  location.reload()
})

// --- Live metrics (the periodic stats events) ----------------------------------------------
const bytes = (n) => n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} kB` : `${(n / 1048576).toFixed(1)} MB`
let previous = null
provider.on('stats', (s) => {
  const at = performance.now()
  const rate = (key) => previous ? bytes(Math.max(0, Math.round((s[key].bytes - previous.s[key].bytes) * 1000 / (at - previous.at)))) + '/s' : '—'
  const lag = s.unacknowledged.oldestAgeMs
  $('m-lag').textContent = lag === null ? 'none' : `${(lag / 1000).toFixed(1)} s (${s.unacknowledged.count})`
  const flow = (id, key) => {
    const total = document.createElement('small')
    total.textContent = `${bytes(s[key].bytes)} in ${s[key].frames} frames`
    $(id).replaceChildren(rate(key), total)
  }
  flow('m-up', 'sent')
  flow('m-down', 'received')
  $('m-rtt').textContent = s.lastProbeRttMs === null ? '—' : `${s.lastProbeRttMs} ms`
  $('m-reconnects').textContent = String(s.reconnects)
  previous = { s, at }
})
persistence.on('stats', (p) => {
  const size = document.createElement('small')
  size.textContent = `${bytes(p.bytes)}, ${p.compactions} compaction${p.compactions === 1 ? '' : 's'}`
  $('m-storage').replaceChildren(`${p.rows} row${p.rows === 1 ? '' : 's'}`, size)
  $('m-write').textContent = p.lastWriteMs === null ? '—' : `${p.lastWriteMs.toFixed(1)} ms${p.writeFailures ? ` · ${p.writeFailures} failed` : ''}`
})

// My own note edits are already on screen; everything else re-renders.
note.observe((event) => { if (!event.local) renderNote(event.delta) })
doc.on('update', () => {
  renderCarets()
  renderTodos()
  renderStatus()
})

// Stored state first (works offline), then the server.
await persistence.whenSynced()
showWholeNote()
renderTodos()
renderPeers()
renderStatus()
area.disabled = false
if (!offline) provider.connect()
window.ysyncDemo = { doc, provider, persistence, awareness }
