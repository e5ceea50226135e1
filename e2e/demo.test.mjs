// The demo page, as a user sees it, against a real @y/websocket-server and a node Yjs peer:
// concurrent edits of the note and the todo list converge; offline edits survive a reload and
// reach the others once back online; presence and carets come and go; a hostile peer name is
// shown as text; no CSP violation or page error. A screenshot is kept in e2e/artifacts/.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { startDemo, launchBrowser, until, yjsPeer, Y, repoRoot } from './lib.mjs'

let demo, browser
const cleanups = []
before(async () => {
  demo = await startDemo()
  browser = await launchBrowser()
})
after(async () => {
  for (const c of cleanups) c()
  await browser?.close()
  await demo?.stop()
})

const newRoom = () => 'demo-' + Math.random().toString(36).slice(2)

/** A demo page in its own browser context (its own IndexedDB), as a separate user. */
async function open (room, name) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 } })
  const page = await context.newPage()
  const problems = []
  page.on('pageerror', (e) => problems.push('pageerror: ' + e))
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()) })
  page.on('dialog', (d) => { problems.push('dialog: ' + d.message()); d.dismiss() })
  if (name) await page.addInitScript((name) => localStorage.setItem('ysync-demo-user', JSON.stringify({ name, color: '#1971c2' })), name)
  await page.goto(`${demo.url}&room=${room}`)
  await page.waitForSelector('#badge[data-status="connected"]', { timeout: 10_000 })
  return { page, problems, close: () => context.close() }
}

const noteOf = (page) => page.inputValue('#note')
const todosOf = (page) => page.$$eval('#todos .todo', (rows) => rows.map((r) => ({ text: r.querySelector('.text').textContent, done: r.querySelector('input').checked })))
async function typeAt (page, index, text) {
  await page.evaluate((i) => { const a = document.getElementById('note'); a.focus(); a.setSelectionRange(i, i) }, index)
  await page.keyboard.type(text)
}
async function addTodo (page, text) {
  await page.fill('#new-todo', text)
  await page.click('#add button[type=submit]')
}
const row = (page, text) => page.locator('#todos .todo', { has: page.locator('.text', { hasText: text }) })
/** Each remote caret as [label, offset]: the length of the text before it in the caret layer. */
const caretOffsets = (page) => page.$$eval('#carets .caret', (cs) => cs.map((c) => {
  let n = 0
  for (let x = c.previousSibling; x; x = x.previousSibling) if (!x.classList?.contains('caret')) n += x.textContent.length
  return [c.querySelector('.label').textContent, n]
}))
/** The peer's list in page order: the same sort the page uses. */
function peerTodos (doc) {
  const items = doc.getMap('todos').toJSON()
  const done = doc.getMap('todoDone').toJSON()
  const order = doc.getMap('todoOrder').toJSON()
  return Object.keys(items)
    .sort((a, b) => (order[a] ?? 0) - (order[b] ?? 0) || (a < b ? -1 : a > b ? 1 : 0))
    .map((id) => ({ text: items[id].text, done: done[id] === true }))
}

test('two pages and a Yjs peer edit the note and the todo list concurrently and converge', async () => {
  const room = newRoom()
  const a = await open(room, 'Ada')
  const b = await open(room, 'Bob')
  const peer = yjsPeer(demo.ws.url, room)
  cleanups.push(() => peer.destroy())
  await peer.synced
  try {
    await typeAt(a.page, 0, 'Hello from A.')
    await until(async () => (await noteOf(b.page)) === 'Hello from A.', 5000, 'B to see A')
    // Concurrently: A types at the start, B at the end, the peer in the middle; all add tasks.
    // (Each page types, then adds: one keyboard focus per page.)
    await Promise.all([
      typeAt(a.page, 0, '[a] ').then(() => addTodo(a.page, 'write the spec')),
      typeAt(b.page, 13, ' [b]').then(() => addTodo(b.page, 'review it')),
      (async () => { peer.doc.getText('note').insert(6, '[peer] ') })(),
      (async () => {
        peer.doc.transact(() => {
          peer.doc.getMap('todos').set('peer-1', { text: 'ship it' })
          peer.doc.getMap('todoOrder').set('peer-1', 10)
        })
      })()
    ])
    const expected = async () => {
      const [ta, tb] = [await noteOf(a.page), await noteOf(b.page)]
      const tp = peer.doc.getText('note').toString()
      const [la, lb] = [await todosOf(a.page), await todosOf(b.page)]
      return ta === tb && tb === tp && JSON.stringify(la) === JSON.stringify(lb) && JSON.stringify(lb) === JSON.stringify(peerTodos(peer.doc)) && { ta, la }
    }
    const first = await until(async () => { const r = await expected(); return r && r.la.length === 3 && r }, 10_000, 'note and list to converge')
    for (const part of ['[a] ', ' [b]', '[peer] ', 'Hello']) assert.ok(first.ta.includes(part), part + ' in ' + JSON.stringify(first.ta))

    // Check, reorder and delete from different replicas at once: A checks the middle task, B
    // moves the last one up, the peer deletes the first.
    const [t0, t1, t2] = first.la.map((t) => t.text)
    await Promise.all([
      row(a.page, t1).locator('input[type=checkbox]').check(),
      row(b.page, t2).locator('button[data-action=up]').click(),
      (async () => {
        const id = Object.entries(peer.doc.getMap('todos').toJSON()).find(([, v]) => v.text === t0)[0]
        peer.doc.transact(() => { peer.doc.getMap('todos').delete(id); peer.doc.getMap('todoOrder').delete(id) })
      })()
    ])
    const second = await until(async () => {
      const r = await expected()
      return r && r.la.length === 2 && r.la.some((t) => t.done) && r
    }, 10_000, 'the second round to converge')
    assert.deepEqual(second.la, [{ text: t2, done: false }, { text: t1, done: true }])
    assert.deepEqual(a.problems, [])
    assert.deepEqual(b.problems, [])
  } finally {
    await a.close()
    await b.close()
  }
})

test('offline: edit, reload (restored from IndexedDB), go online, and the other page gets it', async () => {
  const room = newRoom()
  const a = await open(room, 'Ada')
  const b = await open(room, 'Bob')
  try {
    await typeAt(a.page, 0, 'online text')
    await until(async () => (await noteOf(b.page)) === 'online text', 5000, 'B to see A')
    await a.page.click('#toggle')
    await a.page.waitForSelector('#badge[data-status="disconnected"]')
    assert.equal(await a.page.textContent('#badge'), 'offline')
    await typeAt(a.page, 11, ' + offline edit')
    await addTodo(a.page, 'made offline')
    await until(async () => (await a.page.getAttribute('#ack', 'data-state')) === 'unsynced', 5000, 'unsynced shown')
    await a.page.evaluate(() => window.ysyncDemo.persistence.whenPersisted())

    await a.page.reload()
    await a.page.waitForFunction(() => window.ysyncDemo !== undefined, null, { timeout: 10_000 })
    assert.equal(await noteOf(a.page), 'online text + offline edit', 'restored from IndexedDB')
    assert.deepEqual((await todosOf(a.page)).map((t) => t.text), ['made offline'])
    assert.equal(await a.page.getAttribute('#badge', 'data-status'), 'disconnected', 'still offline after the reload')
    assert.match(await a.page.textContent('#ack'), /not yet on the server/)
    assert.equal(await noteOf(b.page), 'online text', 'B has not seen it yet')

    await a.page.click('#toggle')
    await until(async () => (await noteOf(b.page)) === 'online text + offline edit', 10_000, 'B to get the offline edit')
    await until(async () => (await todosOf(b.page)).length === 1, 5000, 'B to get the offline task')
    await until(async () => (await a.page.getAttribute('#ack', 'data-state')) === 'acknowledged', 10_000, 'acknowledged by the server')
    assert.deepEqual(a.problems, [])
    assert.deepEqual(b.problems, [])
  } finally {
    await a.close()
    await b.close()
  }
})

test('presence and carets appear, a hostile name stays text, and presence leaves with the page', async () => {
  const room = newRoom()
  const a = await open(room, 'Ada')
  const b = await open(room, 'Bob')
  const peer = yjsPeer(demo.ws.url, room)
  cleanups.push(() => peer.destroy())
  await peer.synced
  try {
    await typeAt(a.page, 0, 'The quick brown fox')
    await until(() => peer.doc.getText('note').toString() === 'The quick brown fox', 5000, 'peer to see the text')
    // The Yjs peer's caret after "quick", as y-codemirror would publish it, under a hostile name.
    const hostile = '<img src=x onerror=alert(1)>'
    const pos = Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(peer.doc.getText('note'), 9))
    peer.provider.awareness.setLocalState({ user: { name: hostile, color: '#e8590c' }, cursor: { anchor: pos, head: pos } })
    // B's caret: B clicks into the note at offset 4.
    await b.page.evaluate(() => { const n = document.getElementById('note'); n.focus(); n.setSelectionRange(4, 4) })

    const peersOf = (page) => page.$$eval('#peers .peer:not(.alone) .name', (ns) => ns.map((n) => n.textContent).sort())
    await until(async () => JSON.stringify(await peersOf(a.page)) === JSON.stringify([hostile, 'Bob'].sort()), 5000, 'A to list B and the peer')
    const labels = () => a.page.$$eval('#carets .caret .label', (ls) => ls.map((l) => l.textContent).sort())
    await until(async () => JSON.stringify(await labels()) === JSON.stringify([hostile, 'Bob'].sort()), 5000, 'two remote carets on A')
    // Each caret sits where its relative position resolves: count the text before it. B's label
    // can show up first with an older caret (B's textarea had one before the click), so wait.
    const want = JSON.stringify([['Bob', 4], [hostile, 9]].sort())
    await until(async () => JSON.stringify((await caretOffsets(a.page)).sort()) === want, 5000, 'carets at 4 and 9')
    // Ada edits before both carets: they move with their characters.
    await typeAt(a.page, 0, '>> ')
    await until(async () => {
      const o = (await caretOffsets(a.page)).map(([, n]) => n)
      return JSON.stringify(o.sort((x, y) => x - y)) === '[7,12]'
    }, 5000, 'carets to follow the text')
    // B sees Ada with her caret too.
    await until(async () => (await b.page.$$eval('#carets .caret .label', (ls) => ls.map((l) => l.textContent))).includes('Ada'), 5000, "Ada's caret on B")

    // Nothing was injected: no <img>, no dialog, no CSP report.
    assert.equal(await a.page.locator('img').count(), 0)
    await addTodo(b.page, hostile)
    await until(async () => (await todosOf(a.page)).some((t) => t.text === hostile), 5000, 'the hostile task on A')
    assert.equal(await a.page.locator('img').count(), 0)

    // The live metrics panel is filled by the periodic stats events.
    await until(async () => (await a.page.textContent('#m-storage')).includes('row'), 5000, 'storage metrics')
    await until(async () => (await a.page.textContent('#m-rtt')).endsWith('ms'), 5000, 'round trip metric')
    assert.equal(await a.page.textContent('#m-reconnects'), '0')
    await mkdir(repoRoot + '/e2e/artifacts', { recursive: true })
    await a.page.screenshot({ path: repoRoot + '/e2e/artifacts/demo.png', fullPage: true })

    // B closes its tab: it leaves A's list (awareness removal on pagehide), the peer stays.
    await b.close()
    await until(async () => JSON.stringify(await peersOf(a.page)) === JSON.stringify([hostile]), 5000, 'B to leave')
    peer.destroy()
    await until(async () => (await a.page.textContent('#peers')) === 'Nobody else is here', 5000, 'the peer to leave')
    assert.deepEqual(a.problems, [])
    assert.deepEqual(b.problems, [])
  } finally {
    await a.close()
    await b.close().catch(() => {})
  }
})

test('reset local data: the stored copy is deleted, the page reloads from the server', async () => {
  const room = newRoom()
  const a = await open(room, 'Ada')
  try {
    await typeAt(a.page, 0, 'on the server')
    await a.page.evaluate(() => window.ysyncDemo.provider.whenAcknowledged())
    await a.page.click('#toggle')
    await typeAt(a.page, 13, ' and only here')
    await a.page.evaluate(() => window.ysyncDemo.persistence.whenPersisted())
    await Promise.all([a.page.waitForNavigation(), a.page.click('#reset')])
    await a.page.waitForSelector('#badge[data-status="connected"]', { timeout: 10_000 })
    await until(async () => (await noteOf(a.page)) === 'on the server', 5000, 'the server copy only')
    assert.equal(await a.page.getAttribute('#ack', 'data-state'), 'acknowledged')
    assert.deepEqual(a.problems, [])
  } finally {
    await a.close()
  }
})

test('rich text: TipTap on ysync/yjs, linked from the demo; typing reaches the other page and a Yjs peer, carets with names as text, the CSP kept', async () => {
  const room = newRoom()
  const a = await open(room, 'Ada')
  const b = await open(room, 'Bob')
  const peer = yjsPeer(demo.ws.url, room)
  cleanups.push(() => peer.destroy())
  await peer.synced
  try {
    // Both follow the demo's link to the rich-text page of the same room and server.
    for (const p of [a, b]) {
      const [response] = await Promise.all([p.page.waitForNavigation(), p.page.click('#rich')])
      assert.match(response.headers()['content-security-policy'], /script-src 'self' 'wasm-unsafe-eval'/)
      await p.page.waitForFunction(() => window.ysyncRich?.provider.synced === true, null, { timeout: 15_000 })
    }
    const richText = (p) => p.page.evaluate(() => window.ysyncRich.editor.getText())
    const peerXml = () => JSON.stringify(peer.doc.getXmlFragment('rich').toJSON())
    // Ada types, with a word in bold through the toolbar.
    await a.page.click('.ProseMirror')
    await a.page.keyboard.type('Hello ')
    await a.page.click('.toolbar [data-cmd="bold"]')
    // The button does not take the focus (its mousedown is cancelled; TipTap would give the
    // focus back only on the next animation frame, and keys typed before it were lost): typing
    // goes on in the editor, in bold.
    assert.equal(await a.page.evaluate(() => window.ysyncRich.editor.isFocused), true, 'the editor keeps the focus')
    assert.deepEqual(await a.page.$$eval('.toolbar button', (bs) => bs.filter((b) => b.dispatchEvent(new MouseEvent('mousedown', { bubbles: true, cancelable: true }))).map((b) => b.dataset.cmd)), [], 'toolbar buttons whose mousedown would take the focus')
    await a.page.keyboard.type('rich')
    const seen = async () => `(Ada: ${JSON.stringify(await richText(a))}, Bob: ${JSON.stringify(await richText(b))}, the peer: ${peerXml()})`
    await until(async () => (await richText(b)) === 'Hello rich', 5000, async () => 'Bob to see Ada\'s text ' + await seen())
    await until(() => peerXml().includes('<bold>rich</bold>'), 5000, 'the Yjs peer to get the bold word')
    // Carets on both sides with the right names; a hostile peer name is text.
    await b.page.click('.ProseMirror')
    await b.page.keyboard.press('End')
    const hostile = '<img src=x onerror=alert(1)>'
    const text = peer.doc.getXmlFragment('rich').get(0).get(0)
    const pos = Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(text, 2))
    peer.provider.awareness.setLocalState({ user: { name: hostile, color: '#e8590c' }, cursor: { anchor: pos, head: pos } })
    const carets = (p) => p.page.$$eval('.collaboration-carets__label', (ls) => ls.map((l) => l.textContent).sort())
    await until(async () => JSON.stringify(await carets(a)) === JSON.stringify([hostile, 'Bob'].sort()), 5000, 'Bob\'s and the peer\'s carets on Ada\'s page')
    await until(async () => JSON.stringify(await carets(b)) === JSON.stringify([hostile, 'Ada'].sort()), 5000, 'Ada\'s and the peer\'s carets on Bob\'s page')
    await until(async () => JSON.stringify(await a.page.$$eval('#peers .name', (ns) => ns.map((n) => n.textContent).sort())) === JSON.stringify([hostile, 'Bob'].sort()), 5000, 'people on Ada\'s page')
    // (ProseMirror draws an empty `img.ProseMirror-separator` of its own before a widget at the
    // end of a line; the peer's markup would be an img with a src.)
    assert.equal(await a.page.locator('img[src]').count(), 0)
    // Bob's edit reaches Ada and the peer; the server has it once acknowledged.
    await b.page.keyboard.type(' text')
    await until(async () => (await richText(a)) === 'Hello rich text', 5000, async () => 'Ada to see Bob\'s text ' + await seen())
    await b.page.evaluate(() => window.ysyncRich.provider.whenAcknowledged())
    assert.equal(await b.page.getAttribute('#ack', 'data-state'), 'acknowledged')
    await until(() => peerXml().includes(' text'), 5000, 'the peer to get Bob\'s text')
    await mkdir(repoRoot + '/e2e/artifacts', { recursive: true })
    await a.page.screenshot({ path: repoRoot + '/e2e/artifacts/demo-rich.png' })
    assert.deepEqual(a.problems, [])
    assert.deepEqual(b.problems, [])
  } finally {
    await a.close()
    await b.close()
  }
})

test('two remote changes shown at once keep the caret on the same characters', async () => {
  const room = newRoom()
  const a = await open(room, 'Ada')
  try {
    await typeAt(a.page, 0, 'abcdef')
    // Two changes before the caret, each in its own transaction, that reach the page in one
    // delivery of events (as when several frames are handled in one slice): applied from an
    // `update` listener, their change events join the delivery that is running.
    const state = await a.page.evaluate(() => Array.from(window.ysyncDemo.doc.encodeStateAsUpdate()))
    const other = new Y.Doc()
    Y.applyUpdate(other, Uint8Array.from(state))
    const updates = []
    other.on('update', (u) => updates.push(Array.from(u)))
    other.getText('note').insert(0, 'X')
    other.getText('note').insert(0, 'Y')
    await a.page.evaluate(([u1, u2]) => {
      const doc = window.ysyncDemo.doc
      const once = () => {
        doc.off('update', once)
        doc.applyUpdate(Uint8Array.from(u1))
        doc.applyUpdate(Uint8Array.from(u2))
      }
      doc.on('update', once)
      doc.getMap('scratch').set('k', 1)
    }, updates)
    assert.equal(await noteOf(a.page), 'YXabcdef')
    await a.page.keyboard.type('!')
    assert.equal(await noteOf(a.page), 'YXabcdef!')
    assert.deepEqual(a.problems, [])
  } finally {
    await a.close()
  }
})
