// Produces the golden protocol frames with the real yjs and y-protocols packages.
// `node golden.mjs` writes ../tests/fixtures/golden.json; `node golden.mjs --check` fails if the
// checked-in file differs from what these packages produce today.
import * as Y from 'yjs'
import * as syncProtocol from 'y-protocols/sync'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as authProtocol from 'y-protocols/auth'
import * as encoding from 'lib0/encoding'
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const out = fileURLToPath(new URL('../tests/fixtures/golden.json', import.meta.url))
const hex = (u8) => Buffer.from(u8).toString('hex')
const frame = (type, write) => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, type)
  write(e)
  return encoding.toUint8Array(e)
}

// A document edited by two clients (ids chosen to need multi-byte varints).
const doc = new Y.Doc()
doc.clientID = 1
doc.getText('note').insert(0, 'héllo 🦀')
const other = new Y.Doc()
other.clientID = 2147483653
Y.applyUpdate(other, Y.encodeStateAsUpdate(doc))
other.getText('note').insert(0, 'Ω ')
other.getMap('m').set('k', { nested: [1, 2.5, 'x', null, true] })
other.getArray('list').push([42, 'two'])
other.getText('note').delete(3, 2)
Y.applyUpdate(doc, Y.encodeStateAsUpdate(other))

let lastUpdate = null
doc.on('update', (u) => { lastUpdate = u })
doc.getText('note').insert(0, '!')

const empty = new Y.Doc()
const awareness = new awarenessProtocol.Awareness(new Y.Doc())
awareness.doc.clientID = 7
awareness.clientID = 7
awareness.setLocalState({ user: { name: 'Zoë 李 🦀', color: '#30bced' } })
awareness.setLocalState({ user: { name: 'Zoë 李 🦀', color: '#30bced' }, cursor: null })

// A document using every kind of content, for the v1 and v2 update checks.
const rich = new Y.Doc()
rich.clientID = 300
const rt = rich.getText('rich')
rt.insert(0, 'bold 🦀 plain', { bold: true })
rt.format(5, 2, { italic: { level: 2 } })
rt.insertEmbed(3, { image: 'x.png' })
rt.delete(0, 1)
const frag = rich.getXmlFragment('xml')
const el = new Y.XmlElement('p')
el.setAttribute('class', 'note')
el.insert(0, [new Y.XmlText('inside')])
frag.insert(0, [el, new Y.XmlText('after')])
const arr = rich.getArray('nested')
const inner = new Y.Map()
arr.insert(0, [inner, new Uint8Array([1, 2, 3]), -0.5, 2 ** 40])
inner.set('list', new Y.Array())
inner.get('list').insert(0, ['a', { deep: [null] }])
inner.set('gone', 1)
inner.delete('gone')
const sub = new Y.Doc({ guid: 'sub-guid' })
rich.getMap('docs').set('sub', sub)
const richVectors = {
  v1: hex(Y.encodeStateAsUpdate(rich)),
  v2: hex(Y.encodeStateAsUpdateV2(rich)),
  json: JSON.parse(JSON.stringify({ rich: rt.toDelta(), nested: arr.toJSON() }))
}

const vectors = {
  step1_empty: { frame: hex(frame(0, (e) => syncProtocol.writeSyncStep1(e, empty))) },
  step1: { frame: hex(frame(0, (e) => syncProtocol.writeSyncStep1(e, doc))) },
  step2: {
    frame: hex(frame(0, (e) => syncProtocol.writeSyncStep2(e, doc))),
    json: (doc.getMap('m'), doc.getArray('list'), doc.toJSON())
  },
  update: { frame: hex(frame(0, (e) => syncProtocol.writeUpdate(e, lastUpdate))) },
  awareness: {
    frame: hex(frame(1, (e) => encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(awareness, [7])))),
    client: 7,
    clock: awareness.meta.get(7).clock,
    state: JSON.stringify(awareness.getLocalState())
  },
  awareness_null: {
    frame: hex(frame(1, (e) => {
      awarenessProtocol.removeAwarenessStates(awareness, [7], 'test')
      encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(awareness, [7]))
    })),
    client: 7
  },
  auth_denied: {
    frame: hex(frame(2, (e) => authProtocol.writePermissionDenied(e, 'no access: «room» 🚫'))),
    reason: 'no access: «room» 🚫'
  },
  query_awareness: { frame: hex(frame(3, () => {})) },
  // Not a frame: a v1 and a v2 update of the same document (all content kinds).
  rich_updates: richVectors,
  // Relative positions in the step2 document's note, as Yjs apps put them in awareness.
  relative_positions: [0, 3, doc.getText('note').length].flatMap((index) => [0, -1].map((assoc) => ({
    index,
    assoc,
    json: Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(doc.getText('note'), index, assoc))
  })))
}
const text = JSON.stringify({ generatedBy: 'scripts/golden.mjs with yjs ' + (await import('yjs/package.json', { with: { type: 'json' } })).default.version, vectors }, null, 2) + '\n'
awareness.destroy()
if (process.argv.includes("--check")) {
  const have = readFileSync(out, 'utf8')
  if (have !== text) {
    console.error('tests/fixtures/golden.json differs from what yjs/y-protocols produce now; run: node scripts/golden.mjs')
    process.exit(1)
  }
  console.log('golden vectors match yjs/y-protocols')
} else {
  writeFileSync(out, text)
  console.log('wrote', out)
}
