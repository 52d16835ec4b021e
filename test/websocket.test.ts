/**
 * `@fastify/websocket` 11 on this plugin, on a real listening server: a
 * `websocket: true` route reads who is logged in from the session that the
 * upgrade request's cookie carries, and a write there throws
 * `FST_ERR_SESSION_READONLY`, because an upgrade response carries no cookie.
 */
import websocket from '@fastify/websocket'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import type { IncomingMessage } from 'node:http'
import { createRequire } from 'node:module'
import t, { type Test } from 'tap'
import typedSession from '../lib/index.js'
import { SECRET } from './helpers/build.js'

/** The part of the `ws` client this test uses (the project does not install `@types/ws`). */
interface Client {
  on (event: 'message', listener: (data: Buffer) => void): this
  on (event: 'upgrade', listener: (response: IncomingMessage) => void): this
  on (event: 'error', listener: (err: Error) => void): this
  on (event: 'close', listener: () => void): this
  close (): void
}
const WebSocket = createRequire(import.meta.url)('ws') as new (url: string, options?: { headers?: Record<string, string> }) => Client

/** What the route sends: who the session says is logged in, and what a write there did. */
interface Report {
  who: string | null
  write: { code: string, message: string } | 'accepted'
}

/** The routes: `/login` logs ada in over HTTP, `/who` answers over a WebSocket. */
function routes (app: FastifyInstance): void {
  app.post('/login', async (request) => {
    request.session.set('username', 'ada')
    return 'ok'
  })
  app.get('/who', { websocket: true }, tell)
  // One route for both: `handler` answers plain HTTP (and may write), `wsHandler` the upgrade.
  app.route({
    method: 'GET',
    url: '/both',
    wsHandler: tell,
    handler: async (request) => {
      request.session.set('username', 'bob')
      return 'ok'
    }
  })
}

/** The WebSocket handler: sends who is logged in, and what a write did. */
function tell (socket: { send (data: string): void }, request: FastifyRequest): void {
  const who = request.session.get('username') ?? null
  let write: Report['write'] = 'accepted'
  try {
    request.session.set('username', 'mallory')
  } catch (err) {
    const { code, message } = err as { code: string, message: string }
    write = { code, message }
  }
  socket.send(JSON.stringify({ who, write } satisfies Report))
}

/** The app on a free loopback port, with the two plugins registered in the given order. */
async function start (t: Test, websocketFirst: boolean): Promise<{ app: FastifyInstance, base: string }> {
  const app = Fastify()
  t.teardown(() => app.close())
  if (websocketFirst) await app.register(websocket)
  await app.register(typedSession, { secret: SECRET })
  if (!websocketFirst) await app.register(websocket)
  routes(app)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address')
  return { app, base: `127.0.0.1:${address.port}` }
}

/** Opens a WebSocket to `path` (default `/who`) with `cookie`, and returns the first message and the upgrade response's headers. */
async function ask (t: Test, base: string, cookie?: string, path = '/who'): Promise<{ report: Report, upgrade: IncomingMessage['headers'] }> {
  const socket = new WebSocket(`ws://${base}${path}`, cookie === undefined ? {} : { headers: { cookie } })
  const closed = new Promise<void>((resolve) => socket.on('close', resolve))
  t.teardown(async () => {
    socket.close()
    await closed
  })
  let upgrade: IncomingMessage['headers'] = {}
  socket.on('upgrade', (response) => { upgrade = response.headers })
  const data = await new Promise<Buffer>((resolve, reject) => {
    socket.on('message', resolve)
    socket.on('error', reject)
  })
  return { report: JSON.parse(data.toString()) as Report, upgrade }
}

for (const order of ['session plugin first', '@fastify/websocket first'] as const) {
  t.test(order, async (t) => {
    const ready = async (t: Test): Promise<{ app: FastifyInstance, base: string }> => await start(t, order !== 'session plugin first')

    t.test('the handler reads who is logged in from the cookie sent on the upgrade', async (t) => {
      const { app, base } = await ready(t)
      const login = await fetch(`http://${base}/login`, { method: 'POST' })
      t.equal(login.status, 200)
      const setCookie = login.headers.get('set-cookie') ?? ''
      const cookie = setCookie.split(';')[0] as string
      t.match(cookie, /^session=./)
      const { report, upgrade } = await ask(t, base, cookie)
      t.equal(report.who, 'ada')
      t.equal(upgrade['set-cookie'], undefined, 'the upgrade response sets no cookie')
      const after = await app.sessions.decode(cookie.slice('session='.length))
      t.equal(after?.get('username'), 'ada')
    })

    t.test('without a cookie, nobody is logged in', async (t) => {
      const { base } = await ready(t)
      const { report } = await ask(t, base)
      t.equal(report.who, null)
    })

    t.test('a write throws FST_ERR_SESSION_READONLY, saying an upgrade response carries no cookie', async (t) => {
      const { app, base } = await ready(t)
      const cookie = `session=${await app.sessions.encode({ username: 'ada' })}`
      const { report } = await ask(t, base, cookie)
      t.not(report.write, 'accepted')
      const write = report.write as { code: string, message: string }
      t.equal(write.code, 'FST_ERR_SESSION_READONLY')
      t.match(write.message, /upgrade/i)
      t.match(write.message, /cookie/i)
      t.equal(report.who, 'ada', 'the read before it worked')
    })

    t.test('a route with a wsHandler writes over plain HTTP, and is read-only on its upgrade', async (t) => {
      const { app, base } = await ready(t)
      const plain = await fetch(`http://${base}/both`)
      t.equal(plain.status, 200)
      const cookie = (plain.headers.get('set-cookie') ?? '').split(';')[0] as string
      t.equal((await app.sessions.decode(cookie.slice('session='.length)))?.get('username'), 'bob', 'the HTTP write was saved')
      const { report, upgrade } = await ask(t, base, cookie, '/both')
      t.equal(report.who, 'bob')
      t.equal((report.write as { code: string }).code, 'FST_ERR_SESSION_READONLY')
      t.match((report.write as { message: string }).message, /upgrade/i)
      t.equal(upgrade['set-cookie'], undefined)
    })
  })
}
