// A TypeScript app using the published package, compiled with `tsc --strict` by
// e2e/package.test.mjs: the typings must describe the API precisely enough for this to pass.
import init, {
  Doc, Text, YMap, YArray, XmlFragment, UndoManager, WebsocketProvider, IndexeddbPersistence,
  HocuspocusProvider, HocuspocusProviderWebsocket, type MessageType,
  applyUpdate, encodeStateAsUpdate, encodeStateVector, mergeUpdates, diffUpdate,
  applyUpdateV2, encodeStateAsUpdateV2, onPoisoned, poisonedError,
  type Change, type JsonValue, type TransactionInfo, type YEvent, type TextDelta, type InitOutput
} from 'ysync'

export async function main (): Promise<string> {
  const wasm: InitOutput = await init()
  const memory: WebAssembly.Memory = wasm.memory
  const unlisten: () => void = onPoisoned((e) => { const code: 'INSTANCE_POISONED' = e.code; console.error(code, e.cause) })
  const poisoned: Error | null = poisonedError()
  unlisten()
  if (poisoned !== null) throw poisoned
  const doc = new Doc({ clientID: 1 })
  const other = new Doc()
  const text: Text = doc.getText('note')
  const stop: () => void = text.observe((event: YEvent, tr: TransactionInfo) => {
    const local: boolean = tr.local
    const delta = event.delta
    console.log(local, delta.length, event.path.join('/'))
  })
  doc.on('update', (update, origin) => { applyUpdate(other, update, origin) })
  doc.on('changes', (changes, tr) => {
    for (const c of changes) {
      if (c.kind === 'set') { const v: JsonValue = c.value; console.log(c.path, v, tr.origin) }
      if (c.kind === 'text') { const d: TextDelta[] = c.delta; console.log(d.length) }
    }
  })
  const result: unknown = doc.transact(() => {
    text.insert(0, 'Hello', { bold: true })
    text.insertEmbed(5, { image: 'a.png' })
    return 1
  }, 'origin')
  const todos: YMap = doc.getMap('todos')
  todos.set('a', { title: 'milk', done: false, tags: ['x'] })
  const list: YArray = todos.setArray('list')
  list.push([1, 'two', null])
  const nested = list.insertMap(0)
  nested.set('k', 1n)
  const xml: XmlFragment = doc.getXmlFragment('pm')
  xml.insertElement(0, 'p').insertText(0, 'x')
  const um = new UndoManager([text, todos], { captureTimeout: 0, trackedOrigins: ['origin'] })
  const undone: boolean = um.undo()
  const provider = new WebsocketProvider('ws://127.0.0.1:1', 'room', doc, {
    connect: false, tokenIn: 'protocol', token: async () => 'token', params: { v: 1 }, logLevel: 'warn'
  })
  provider.awareness.setLocalStateField('user', { name: 'Ada' })
  const states: Map<number, { [field: string]: JsonValue }> = provider.awareness.getStates()
  const persistence = new IndexeddbPersistence('room', doc, { compactRows: 100 })
  const socket = new HocuspocusProviderWebsocket({ url: 'ws://127.0.0.1:1', parameters: { v: 1 }, autoConnect: false })
  const hp = new HocuspocusProvider({ websocketProvider: socket, name: 'doc', document: other, token: async () => 'jwt', connect: false })
  hp.on('authenticated', () => {})
  const scope: string | undefined = hp.authorizedScope
  const status: MessageType = 'syncStatus'
  const statusCount: number = hp.stats().received.byType[status]?.messages ?? 0
  hp.destroy()
  socket.destroy()
  const merged: Uint8Array = mergeUpdates([encodeStateAsUpdate(doc), encodeStateAsUpdate(other)])
  const diff: Uint8Array = diffUpdate(merged, encodeStateVector(other))
  const v2: Uint8Array = encodeStateAsUpdateV2(doc, encodeStateVector(other))
  applyUpdateV2(other, v2, 'v2')
  other.applyUpdateV2(doc.encodeStateAsUpdateV2())
  unlisten()
  provider.destroy()
  await persistence.destroy()
  um.destroy()
  return `${memory.buffer.byteLength} ${String(result)} ${undone} ${states.size} ${diff.length} ${scope ?? ''} ${statusCount}`
}
