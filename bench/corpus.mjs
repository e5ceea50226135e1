// The documents the scenarios load, made by Yjs 13.6 in node (so both libraries read the same
// bytes that a Yjs app would have stored or served) and cached in target/bench:
//   b4        the automerge-paper trace replayed one transaction per edit (its final text)
//   b4x100    the trace replayed 100 times into one text, as crdt-benchmarks' [B4 x 100] does:
//             every replay edits at the front, so the text ends as the final text 100 times
//   big       a ~10 MB document: a long text in 1 KB appends plus a map of small objects
// Quick mode makes small versions (the first 5,000 edits, x3, ~100 KB) under other names.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as Y from 'yjs'
import { replayTrace } from '../e2e/pages/trace.js'
import { loadTrace, outDir } from './lib.mjs'

const VERSION = 1 // bump when a generator changes, so stale caches are not reused

function cached (name, make) {
  const file = join(outDir, `${name}.v${VERSION}.update`)
  if (!existsSync(file)) {
    const t0 = Date.now()
    const update = make()
    writeFileSync(file + '.tmp', update)
    renameSync(file + '.tmp', file)
    console.error(`bench: made ${name} (${update.length.toLocaleString('en')} bytes) in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  }
  return { name, file, path: '/target/bench/' + file.slice(outDir.length + 1), bytes: readFileSync(file) }
}

function replay (patches, times, endContent) {
  const doc = new Y.Doc()
  doc.clientID = 1
  const t = doc.getText('t')
  for (let i = 0; i < times; i++) replayTrace(t, patches)
  if (t.toString() !== endContent.repeat(times)) throw new Error('trace replay: wrong final text')
  return Y.encodeStateAsUpdate(doc)
}

/** A Yjs v1 update of the B4 document (`times` = 1) or B4 x `times`. */
export function b4Doc ({ quick, times = 1 }) {
  const limit = quick ? 5000 : 0
  const reps = quick && times > 1 ? 3 : times
  return cached(`b4x${reps}${quick ? '-quick' : ''}`, () => {
    const { patches, endContent } = loadTrace(limit)
    return replay(patches, reps, endContent)
  })
}

/** A Yjs v1 update of about `quick ? 100 KB : 10 MB`. */
export function bigDoc ({ quick }) {
  const bytes = quick ? 100_000 : 10_000_000
  return cached(`big${bytes}`, () => {
    const doc = new Y.Doc()
    doc.clientID = 2
    const text = doc.getText('t')
    const chunk = 'lorem ipsum dolor sit amet '.repeat(40)
    for (let i = 0; text.length < bytes; i++) {
      text.insert(text.length, chunk)
      if (i % 50 === 0) doc.getMap('m').set('k' + i, { i, s: chunk.slice(0, 20) })
    }
    return Y.encodeStateAsUpdate(doc)
  })
}

/** Loads `update` into a new Yjs document (for node peers seeding a server). */
export function yjsDocOf (update) {
  const doc = new Y.Doc()
  Y.applyUpdate(doc, update)
  return doc
}

export { Y }
