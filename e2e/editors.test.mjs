// Real editors on ysync/yjs in headless Chromium: CodeMirror 6 + y-codemirror.next (with the
// app's own y-protocols Awareness and Y.UndoManager) and TipTap 3 Collaboration +
// CollaborationCaret (e2e/editors/). Each app is built twice with Vite: as it is, and with its
// two import lines switched back to y-websocket + y-indexeddb. The same steps run on both,
// against a real @y/websocket-server with a node Yjs peer in the room, through the keyboard:
// typing and deletes both ways, carets drawn on both sides with the right names, undo of your
// own edits only and redo, 300 + 300 concurrent keystrokes, an offline edit kept over a reload and
// delivered after it. The two builds must observe the same; then what only ysync has.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as Y from 'yjs'
import { repoRoot, yjsPeer, until } from './lib.mjs'
import { buildPages, builtAppsSuite, differingLines, page as html, switchImports } from './yjs-build.mjs'

const out = join(repoRoot, 'e2e/artifacts/editors')
const sources = Object.fromEntries(['codemirror', 'tiptap'].map((e) => [e, readFileSync(join(repoRoot, `e2e/editors/${e}.js`), 'utf8')]))

const suite = builtAppsSuite(out, async () => {
  for (const variant of ['ysync', 'yjs']) {
    const files = {}
    for (const [editor, code] of Object.entries(sources)) {
      files[editor + '.js'] = variant === 'ysync' ? code : switchImports(code)
      files[editor + '.html'] = html(editor, editor + '.js')
    }
    await buildPages(files, join(out, 'src-' + variant), join(out, variant))
  }
})

test('each editor app switches by its two import lines, nothing else', () => {
  for (const code of Object.values(sources)) {
    assert.deepEqual(differingLines(code, switchImports(code)), ["import { WebsocketProvider } from 'ysync/yjs'", "import { IndexeddbPersistence } from 'ysync/yjs'"])
  }
})

/** How the node Yjs peer reads and edits each editor's document. */
const peerEditors = {
  codemirror: {
    text: (doc) => doc.getText('codemirror').toString(),
    insert: (doc, i, s) => doc.getText('codemirror').insert(i, s),
    delete: (doc, i, n) => doc.getText('codemirror').delete(i, n)
  },
  tiptap: {
    // One paragraph per block, blocks joined as TipTap's getText() joins them.
    text: (doc) => doc.getXmlFragment('prosemirror').toArray()
      .map((p) => p.toArray().map((t) => (t instanceof Y.XmlText ? t.toDelta().map((d) => d.insert).join('') : '')).join(''))
      .join('\n\n'),
    insert: (doc, i, s) => doc.getXmlFragment('prosemirror').get(0).get(0).insert(i, s),
    delete: (doc, i, n) => doc.getXmlFragment('prosemirror').get(0).get(0).delete(i, n)
  }
}

async function open (context, variant, editor, room, { name, color, offline = false }) {
  const page = await context.newPage()
  const problems = []
  page.on('pageerror', (e) => problems.push(String(e)))
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()) })
  const q = new URLSearchParams({ room, server: suite.server.url, name, color, offline: offline ? '1' : '0' })
  await page.goto(`${suite.web.url}/${variant}/${editor}.html?${q}`)
  await page.waitForFunction(() => window.appReady !== undefined, null, { timeout: 20_000 })
  assert.equal(await page.evaluate(() => window.appReady), true, 'whenSynced resolves with the persistence')
  if (!offline) await page.waitForFunction(() => window.app.provider.synced === true, null, { timeout: 10_000 })
  return { page, problems }
}

const textOf = (page) => page.evaluate(() => window.app.text())
const caretsOf = (page) => page.evaluate(() => window.app.carets().sort())
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** The same steps on either build of `editor`; returns what they observed. */
async function scenario (editor, variant) {
  const ed = peerEditors[editor]
  const room = `ed-${editor}-${variant}-${Date.now()}`
  const peer = yjsPeer(suite.server.url, room)
  await peer.synced
  const peerText = () => ed.text(peer.doc)
  const ctxA = await suite.browser.newContext()
  const ctxB = await suite.browser.newContext()
  const a = await open(ctxA, variant, editor, room, { name: 'Ada', color: '#e8590c' })
  const b = await open(ctxB, variant, editor, room, { name: 'Bob', color: '#2b8a3e' })
  const r = {}

  // Typing and deletes both ways.
  await a.page.evaluate(() => window.app.focusEnd())
  await a.page.keyboard.type('hello world')
  for (let i = 0; i < 6; i++) await a.page.keyboard.press('Backspace')
  await until(() => peerText() === 'hello', 5000, `the peer to get the page's typing (${editor}, ${variant})`)
  await until(async () => (await textOf(b.page)) === 'hello', 5000, 'B to get it')
  peer.doc.transact(() => ed.insert(peer.doc, 0, '>> '))
  peer.doc.transact(() => ed.delete(peer.doc, 5, 1))
  await until(async () => (await textOf(a.page)) === peerText() && (await textOf(b.page)) === peerText(), 5000, 'the pages to get the peer\'s edits')
  r.text = await textOf(a.page)

  // Carets on both sides, each with the other's name; nobody's own caret drawn as a remote one.
  await a.page.evaluate(() => window.app.focusEnd())
  await b.page.evaluate(() => window.app.focusEnd())
  await until(async () => JSON.stringify(await caretsOf(a.page)) === '["Bob"]' && JSON.stringify(await caretsOf(b.page)) === '["Ada"]', 5000, `carets with names on both sides (${editor}, ${variant})`)
  r.carets = [await caretsOf(a.page), await caretsOf(b.page)]

  // Undo takes back your own edits only. (Edits closer than the UndoManager's capture timeout,
  // 500 ms, are one step: the X is typed after a pause.)
  await sleep(600)
  await a.page.evaluate(() => window.app.focusEnd())
  await a.page.keyboard.type('X')
  await until(() => peerText().endsWith('X'), 5000, 'the X at the peer')
  peer.doc.transact(() => ed.insert(peer.doc, 0, 'Y'))
  await until(async () => (await textOf(a.page)).startsWith('Y'), 5000, 'the peer\'s Y on A')
  await a.page.keyboard.press('Control+z')
  await until(async () => !(await textOf(a.page)).includes('X') && peerText() === (await textOf(a.page)), 5000, 'the undo')
  r.afterUndo = await textOf(a.page)
  // And redo brings it back.
  await a.page.keyboard.press('Control+y')
  await until(async () => (await textOf(a.page)).endsWith('X') && peerText() === (await textOf(a.page)), 5000, 'the redo')
  r.afterRedo = await textOf(a.page)

  // 300 + 300 concurrent keystrokes.
  await a.page.evaluate(() => window.app.focusEnd())
  const typing = a.page.keyboard.type('a'.repeat(300))
  for (let i = 0; i < 300; i++) {
    peer.doc.transact(() => ed.insert(peer.doc, i % 4, 'b'))
    if (i % 10 === 0) await sleep(5)
  }
  await typing
  await until(async () => {
    const [ta, tb] = [await textOf(a.page), await textOf(b.page)]
    return ta === peerText() && tb === ta
  }, 20_000, `convergence (${editor}, ${variant})`)
  const all = peerText()
  r.converged = { length: all.length, a: all.split('a').length - 1, b: all.split('b').length - 1 - (r.afterRedo.split('b').length - 1) }

  // An offline edit survives a reload from IndexedDB, then reaches the peer. (y-indexeddb
  // writes after the fact, with no promise for it: both get time to write before closing.)
  await sleep(800)
  await a.page.close()
  const off = await open(ctxA, variant, editor, room, { name: 'Ada', color: '#e8590c', offline: true })
  r.restored = (await textOf(off.page)) === peerText()
  await off.page.evaluate(() => window.app.focusEnd())
  await off.page.keyboard.type('offline')
  await sleep(800)
  await off.page.close()
  const back = await open(ctxA, variant, editor, room, { name: 'Ada', color: '#e8590c' })
  r.reloaded = (await textOf(back.page)).endsWith('offline')
  await until(() => peerText().endsWith('offline'), 10_000, `the offline edit at the peer (${editor}, ${variant})`)
  r.problems = [...a.problems, ...b.problems, ...off.problems, ...back.problems]
  await ctxA.close()
  await ctxB.close()
  peer.destroy()
  return r
}

for (const editor of ['codemirror', 'tiptap']) {
  test(`${editor}: the app on ysync/yjs and on y-websocket + y-indexeddb gives the same results`, async () => {
    const onYsync = await scenario(editor, 'ysync')
    const onYjs = await scenario(editor, 'yjs')
    assert.deepEqual(onYsync, onYjs)
    assert.equal(onYsync.text, '>> helo')
    assert.deepEqual(onYsync.carets, [['Bob'], ['Ada']])
    assert.equal(onYsync.afterUndo, 'Y>> helo')
    assert.equal(onYsync.afterRedo, 'Y>> heloX')
    assert.deepEqual(onYsync.converged, { length: 'Y>> heloX'.length + 600, a: 300, b: 300 })
    assert.equal(onYsync.restored, true)
    assert.equal(onYsync.reloaded, true)
    assert.deepEqual(onYsync.problems, [])
  })
}

test('ysync/yjs under an editor: whenAcknowledged covers editor edits, and the Y.Doc edits are the replica\'s local edits', async () => {
  for (const editor of ['codemirror', 'tiptap']) {
    const room = `ed-ack-${editor}-${Date.now()}`
    const context = await suite.browser.newContext()
    const { page, problems } = await open(context, 'ysync', editor, room, { name: 'Ada', color: '#e8590c' })
    await page.evaluate(() => window.app.focusEnd())
    await page.keyboard.type('acknowledge')
    const r = await page.evaluate(async () => {
      const { provider } = window.app
      // An editor transaction, then at once: not acknowledged yet.
      window.app.type('d')
      const before = provider.hasUnsyncedChanges
      await provider.whenAcknowledged()
      return { before, after: provider.hasUnsyncedChanges, local: provider.stats().updatesApplied.local > 0 }
    })
    assert.deepEqual(r, { before: true, after: false, local: true }, editor)
    // The server has it: a fresh peer gets it from the server alone.
    const late = yjsPeer(suite.server.url, room)
    await late.synced
    assert.equal(peerEditors[editor].text(late.doc), 'acknowledged')
    late.destroy()
    assert.deepEqual(problems, [])
    await context.close()
  }
})
