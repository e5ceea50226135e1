// Must NOT compile: proves the typings are checked (e2e/package.test.mjs expects these errors).
import { Doc } from 'ysync'
const doc = new Doc({ clientID: 'one' })
doc.getText('t').insert('0', 'x')
doc.on('changes', (changes) => { const n: number = changes[0].value })
