// A real @hocuspocus/server 4 for the tests, as a child process (its PID is the server's):
// HOST/PORT from the environment; tokens decide access (`rw` read-write, `ro` read-only,
// anything else refused, no token at all allowed only with ALLOW_ANONYMOUS=1); `onStateless`
// answers `echo:<payload>`; with REDIS_PORT set, instances share documents through Redis.
import { Server } from '@hocuspocus/server'

const extensions = []
if (process.env.REDIS_PORT) {
  const { Redis } = await import('@hocuspocus/extension-redis')
  extensions.push(new Redis({ host: '127.0.0.1', port: Number(process.env.REDIS_PORT), identifier: process.env.INSTANCE ?? 'hp' }))
}

const server = new Server({
  address: process.env.HOST ?? '127.0.0.1',
  port: Number(process.env.PORT),
  quiet: true,
  timeout: Number(process.env.TIMEOUT ?? 30000),
  extensions,
  async onAuthenticate ({ token, connectionConfig }) {
    if (token === 'ro') connectionConfig.readOnly = true
    else if (token !== 'rw' && !(token === '' && process.env.ALLOW_ANONYMOUS === '1')) throw new Error('bad token')
  },
  async onStateless ({ payload, connection }) {
    connection.sendStateless('echo:' + payload)
  }
})
await server.listen()
console.log(`hocuspocus running at 127.0.0.1:${process.env.PORT}`)
