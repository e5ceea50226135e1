// Who I am and who else is here, for both demo pages (the plain one loads this file as it is;
// the rich-text one has it bundled). Everything from peers is untrusted: names go in as text,
// colours must be #rrggbb.

const palette = ['#e8590c', '#2b8a3e', '#1971c2', '#9c36b5', '#c2255c', '#0c8599', '#5f3dc4', '#e67700']

/** Whether `c` is a colour the pages accept: #rrggbb. */
export function isColor (c) { return typeof c === 'string' && /^#[0-9a-fA-F]{6}$/.test(c) }

/** This browser's name and colour (kept in localStorage), or new ones. */
export function loadMe () {
  try {
    const saved = JSON.parse(localStorage.getItem('ysync-demo-user'))
    if (typeof saved?.name === 'string' && isColor(saved?.color)) return saved
  } catch {}
  return { name: `Guest ${100 + Math.floor(Math.random() * 900)}`, color: palette[Math.floor(Math.random() * palette.length)] }
}

/** Keeps `me` for the next visit. */
export function saveMe (me) { localStorage.setItem('ysync-demo-user', JSON.stringify(me)) }

/** How a peer's presence state shows: a name (text) and a colour (checked). */
export function peerLook (state) {
  const name = typeof state?.user?.name === 'string' && state.user.name.trim() ? state.user.name.slice(0, 40) : 'Anonymous'
  const color = isColor(state?.user?.color) ? state.user.color : '#868e96'
  return { name, color }
}

/** Fills `list` (a <ul>) with everyone `awareness` knows but this client. */
export function renderPeers (list, awareness) {
  const items = []
  for (const [client, state] of awareness.getStates()) {
    if (client === awareness.clientID || !state) continue
    const { name, color } = peerLook(state)
    const li = document.createElement('li')
    li.className = 'peer'
    li.dataset.client = String(client)
    const dot = document.createElement('span')
    dot.className = 'dot'
    dot.style.background = color
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
  list.replaceChildren(...items)
}
