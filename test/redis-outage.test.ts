/**
 * A Redis outage (DESIGN.md rule 8): Redis stopped with SIGSTOP, killed
 * with SIGKILL and restarted on the same port, under a running app. Every
 * request during the outage gets a 503 within the store's timeout, the
 * process stays up, and the app recovers on its own.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { RedisStore } from '../lib/index.js'
import { build, sessionCookie } from './helpers/build.js'
import { needsRedis, startRedis, type RedisServer } from './helpers/redis.js'

type Log = Record<string, unknown>
/** The assertions `unavailable` uses, of a tap test. */
interface Asserts {
  equal: (found: unknown, wanted: unknown, message: string) => unknown
  match: (found: unknown, wanted: unknown, message: string) => unknown
}

interface Setup {
  app: FastifyInstance
  logs: Log[]
  /** Lets the pending `/slow` request go on to save. */
  release: () => void
  /** Resolves when a `/slow` request has loaded its session. */
  loaded: Promise<void>
}

async function setup (redis: RedisServer): Promise<Setup> {
  const logs: Log[] = []
  let release: () => void = () => {}
  let started: () => void = () => {}
  const loaded = new Promise<void>((resolve) => { started = resolve })
  const store = new RedisStore({ client: await redis.client(), timeout: 0.5 })
  const app = await build({ store }, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); request.session.set('counter', 0); return 'ok' })
    app.get('/read', async (request) => ({ username: request.session.get('username') ?? null, new: request.session.new }))
    app.get('/untouched', async () => 'ok')
    app.get('/slow', async (request) => {
      started()
      await new Promise<void>((resolve) => { release = resolve })
      request.session.set('counter', 1)
      return 'ok'
    })
  }, logs)
  return { app, logs, release: () => { release() }, loaded }
}

function cookieOf (res: LightMyRequestResponse): { session: string } {
  return { session: sessionCookie(res) as string }
}

/** Checks a 503 from the store, and its one error line. */
function unavailable (t: Asserts, res: LightMyRequestResponse, logs: Log[], message: RegExp, name: string): void {
  t.equal(res.statusCode, 503, name)
  t.match(res.json(), { code: 'FST_ERR_SESSION_STORE_UNAVAILABLE', message }, name)
  const errors = logs.filter((line) => (line.level as number) >= 50)
  t.equal(errors.length, 1, `${name}: one error line`)
  t.match(errors[0], { err: { code: 'FST_ERR_SESSION_STORE_UNAVAILABLE' } }, `${name}: which logs the error`)
  logs.length = 0
}

t.test('while Redis is stopped, requests get a 503 within the timeout; after SIGCONT they succeed, and the data is intact', needsRedis, async (t) => {
  const redis = await startRedis(t)
  const admin = await redis.client()
  const { app, logs } = await setup(redis)
  const cookie = cookieOf(await app.inject('/login'))
  const id = cookie.session.slice(0, 43)
  const before = await admin.hgetall(`session:${id}`)
  logs.length = 0

  redis.pause()
  unavailable(t, await app.inject({ url: '/read', cookies: cookie }), logs, /get failed: Redis did not answer within 0.5 s/, 'a load')
  unavailable(t, await app.inject('/login'), logs, /set failed: Redis did not answer within 0.5 s/, 'a new session\'s save')
  t.equal((await app.inject('/untouched')).statusCode, 200, 'a route that needs no session still works')
  redis.resume()

  t.same((await app.inject({ url: '/read', cookies: cookie })).json(), { username: 'ada', new: false }, 'the session written before is intact')
  t.same(await admin.hgetall(`session:${id}`), before)
  t.same(await admin.keys('*'), [`session:${id}`], 'the save that failed during the outage never landed')
  t.same(logs.filter((line) => (line.level as number) >= 40), [])
})

t.test('a save that fails leaves the previous record intact', needsRedis, async (t) => {
  const redis = await startRedis(t)
  const admin = await redis.client()
  const { app, logs, release, loaded } = await setup(redis)
  const cookie = cookieOf(await app.inject('/login'))
  const id = cookie.session.slice(0, 43)
  const before = await admin.hgetall(`session:${id}`)
  t.match(before, { username: '"ada"', counter: '0' })
  logs.length = 0

  const slow = app.inject({ url: '/slow', cookies: cookie })
  await loaded
  redis.pause()
  release()
  unavailable(t, await slow, logs, /set failed: Redis did not answer within 0.5 s/, 'the save')
  redis.resume()
  await admin.ping() // Redis has now run every command sent before it
  t.same(await admin.hgetall(`session:${id}`), before, 'the record is the one before the failed save')
})

t.test('after SIGKILL requests fail at once; after a restart on the same port they succeed, without restarting the app', needsRedis, async (t) => {
  const redis = await startRedis(t)
  const client = await redis.client()
  const store = new RedisStore({ client, timeout: 0.5 })
  const logs: Log[] = []
  const app = await build({ store }, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    app.get('/read', async (request) => ({ username: request.session.get('username') ?? null, new: request.session.new }))
  }, logs)
  const cookie = cookieOf(await app.inject('/login'))
  logs.length = 0

  // Not events.once(): it would reject on the client's error events, which are expected here.
  const event = async (name: string): Promise<void> => { await new Promise((resolve) => client.once(name, resolve)) }
  const closed = event('close')
  await redis.kill()
  await closed
  unavailable(t, await app.inject({ url: '/read', cookies: cookie }), logs, /get failed: Redis is not connected \(the client's status is (reconnecting|connecting)\)/, 'a load')
  unavailable(t, await app.inject('/login'), logs, /set failed: Redis is not connected/, 'a save')

  const ready = event('ready')
  await redis.restart()
  await ready
  const read = await app.inject({ url: '/read', cookies: cookie })
  t.same(read.json(), { username: null, new: true }, 'the session is gone with the data of the killed Redis (no persistence), and the request works')
  const login = await app.inject('/login')
  t.equal(login.statusCode, 200)
  t.same((await app.inject({ url: '/read', cookies: cookieOf(login) })).json(), { username: 'ada', new: false }, 'a new login works')
  t.equal(client.status, 'ready', 'the app\'s own client reconnected')
})
