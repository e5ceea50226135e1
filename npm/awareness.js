// An app's own y-protocols `Awareness` (passed as y-websocket's `awareness` option) kept in step
// with a ysync provider's presence, which is the one on the wire (checked, capped, renewed and
// expired in Rust). The app's object stays what its editor bindings read and write:
// - its local state goes to the provider whenever it changes (its `change` event);
// - what the provider learns of other clients is written into its `states` and `meta`, and its
//   `change` / `update` events fire with y-protocols' arguments and the provider's origin
//   (`'timeout'` for an expiry), as `applyAwarenessUpdate(awareness, update, provider)` does.
// y-protocols is not imported: the object's own fields and `emit` are its public API.

const methods = ['getLocalState', 'setLocalState', 'getStates', 'on', 'off', 'emit']

/** Whether `a` looks like a y-protocols `Awareness`. */
export function isAwareness (a) {
  return a !== null && typeof a === 'object' && methods.every((m) => typeof a[m] === 'function') &&
    a.states instanceof Map && a.meta instanceof Map && typeof a.clientID === 'number'
}

/** Presence states are JSON: equal when their JSON is. */
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b)

/**
 * Keeps `external` (the app's Awareness) and `own` (the provider's) in step; `origin` is what
 * the app's events see for changes the connection brought (the provider). Returns the function
 * that stops it and, as y-websocket does when it goes, removes the other clients' states.
 */
export function bridgeAwareness (external, own, origin) {
  const skip = (id) => id === external.clientID || id === own.clientID
  const pushLocal = () => own.setLocalState(external.getLocalState())
  const onLocal = ({ added, updated, removed }, from) => {
    if (from === origin) return
    const me = external.clientID
    if (added.includes(me) || updated.includes(me) || removed.includes(me)) pushLocal()
  }
  const onWire = ({ added, updated, removed }, from) => {
    if (from === 'local') return
    const states = own.getStates()
    const meta = own.meta
    const now = Date.now()
    const a = []
    const u = []
    const changed = []
    const r = []
    for (const id of added.concat(updated)) {
      const state = states.get(id)
      if (skip(id) || state === undefined) continue
      // y-protocols' rules: a client never seen is added, a known one (by its meta) updated.
      const known = external.meta.has(id)
      const prev = external.states.get(id)
      external.states.set(id, state)
      external.meta.set(id, { clock: meta.get(id)?.clock ?? 0, lastUpdated: now })
      if (!known) {
        a.push(id)
      } else {
        u.push(id)
        if (!same(prev, state)) changed.push(id)
      }
    }
    for (const id of removed) {
      if (skip(id) || !external.meta.has(id)) continue
      external.states.delete(id)
      r.push(id)
      external.meta.set(id, { clock: meta.get(id)?.clock ?? external.meta.get(id).clock, lastUpdated: now })
    }
    if (a.length > 0 || changed.length > 0 || r.length > 0) external.emit('change', [{ added: a, updated: changed, removed: r }, from])
    if (a.length > 0 || u.length > 0 || r.length > 0) external.emit('update', [{ added: a, updated: u, removed: r }, from])
  }
  pushLocal()
  // States the provider already knows (another tab's, say).
  const known = [...own.getStates().keys()].filter((id) => !skip(id))
  if (known.length > 0) onWire({ added: known, updated: [], removed: [] }, origin)
  external.on('change', onLocal)
  own.on('update', onWire)
  return () => {
    external.off('change', onLocal)
    own.off('update', onWire)
    const gone = [...external.states.keys()].filter((id) => !skip(id))
    if (gone.length > 0) onWire({ added: [], updated: [], removed: gone }, origin)
  }
}
