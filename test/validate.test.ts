/**
 * The `validate` option: runs when a valid session is loaded, never for a
 * new one, and a `false` answer turns the session into an empty new one
 * whose cookie is deleted (revocation of cookie sessions).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import t from 'tap'
import type { Session } from '../lib/index.js'
import { build, carry, freezeClock, setCookies } from './helpers/build.js'

/** Login (optionally permanent), read, untouched and config-scoped routes. */
function routes (app: FastifyInstance): void {
  app.get('/login', async (request) => {
    const query = request.query as { permanent?: string, counter?: string }
    request.session.update({ username: 'ada', counter: Number(query.counter ?? 1) })
    request.session.permanent = query.permanent === '1'
    return 'ok'
  })
  app.get('/read', async (request) => ({
    username: request.session.get('username') ?? null,
    new: request.session.new,
    size: request.session.size,
    permanent: request.session.permanent
  }))
  app.get('/untouched', async () => 'ok')
  app.get('/off', { config: { session: false } }, async (request) => request.session.get('username') ?? 'nobody')
  app.get('/readonly', { config: { session: 'readonly' } }, async (request) => request.session.get('username') ?? 'nobody')
  app.get('/relogin', async (request) => {
    request.session.set('username', 'grace')
    return 'ok'
  })
}

t.test('validate runs once for each request that brings a valid session, and never for a new one', async (t) => {
  const seen: string[] = []
  const app = await build({
    validate: (session, request) => {
      seen.push(`${request.url} ${String(session.get('username'))}`)
      return true
    }
  }, routes)
  const login = await app.inject('/login')
  t.same(seen, [], 'not for the request that creates the session')
  await app.inject('/read')
  await app.inject({ url: '/read', cookies: { session: 'not a valid cookie' } })
  await app.inject({ url: '/off', cookies: carry(login) })
  t.same(seen, [], 'not without a cookie, with a bad cookie, or on a route that never reads it')
  await app.inject({ url: '/read', cookies: carry(login) })
  await app.inject({ url: '/untouched', cookies: carry(login) })
  await app.inject({ url: '/readonly', cookies: carry(login) })
  t.same(seen, ['/read ada', '/untouched ada', '/readonly ada'])
})

t.test('validate returning true keeps the session', async (t) => {
  const app = await build({ validate: () => true }, routes)
  const login = await app.inject('/login')
  const read = await app.inject({ url: '/read', cookies: carry(login) })
  t.same(read.json(), { username: 'ada', new: false, size: 2, permanent: false })
  t.same(setCookies(read), [])
})

t.test('with validate returning true, an untouched route sets no cookie for a non-permanent session', async (t) => {
  const app = await build({ validate: () => true }, routes)
  const login = await app.inject('/login')
  const res = await app.inject({ url: '/untouched', cookies: carry(login) })
  t.equal(res.statusCode, 200)
  t.same(setCookies(res), [])
})

t.test('with validate returning true, an untouched route still refreshes a permanent session', async (t) => {
  const clock = freezeClock(1_700_000_000)
  t.teardown(clock.restore)
  const app = await build({ validate: async () => true }, routes)
  const login = await app.inject('/login?permanent=1')
  clock.set(1_700_000_100)
  const res = await app.inject({ url: '/untouched', cookies: carry(login) })
  t.equal(setCookies(res).length, 1)
  t.equal(res.cookies[0]?.expires?.getTime(), (1_700_000_100 + 2678400) * 1000)
  t.equal(res.headers.vary, 'Cookie')
})

t.test('validate returning false turns the session into an empty new session and deletes its cookie', async (t) => {
  const logs: Array<Record<string, unknown>> = []
  const app = await build({ validate: (session) => session.get('counter') === 2 }, routes, logs)
  const current = await app.inject('/login?counter=2&permanent=1')
  const revoked = await app.inject('/login?counter=1&permanent=1')
  t.same((await app.inject({ url: '/read', cookies: carry(current) })).json(), { username: 'ada', new: false, size: 2, permanent: true })
  logs.length = 0
  const res = await app.inject({ url: '/read', cookies: carry(revoked) })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { username: null, new: true, size: 0, permanent: false })
  t.equal(setCookies(res).length, 1)
  t.equal(res.cookies[0]?.value, '')
  t.equal(res.cookies[0]?.maxAge, 0)
  t.equal(res.headers.vary, 'Cookie')
  t.ok(logs.some((line) => line.level === 20 && line.reason === 'validate'), 'a debug line says why')
})

t.test('validate may be async', async (t) => {
  const app = await build({
    validate: async (session: Session) => {
      await new Promise((resolve) => setImmediate(resolve))
      return session.get('counter') === 2
    }
  }, routes)
  const current = await app.inject('/login?counter=2')
  const revoked = await app.inject('/login?counter=1')
  t.equal((await app.inject({ url: '/read', cookies: carry(current) })).json().username, 'ada')
  const res = await app.inject({ url: '/read', cookies: carry(revoked) })
  t.equal(res.json().new, true)
  t.equal(res.cookies[0]?.maxAge, 0)
})

t.test('a session rejected by validate has its cookie deleted even on a route that never touches it', async (t) => {
  // A validate that decides from the request alone does not read the session.
  const app = await build({ validate: (_session, request: FastifyRequest) => request.headers['x-revoked'] === undefined }, routes)
  const login = await app.inject('/login')
  t.same(setCookies(await app.inject({ url: '/untouched', cookies: carry(login) })), [])
  const res = await app.inject({ url: '/untouched', cookies: carry(login), headers: { 'x-revoked': '1' } })
  t.equal(setCookies(res).length, 1)
  t.equal(res.cookies[0]?.maxAge, 0)
  t.equal(res.headers.vary, 'Cookie')
})

t.test('a route may start a new session after validate rejected the old one', async (t) => {
  const app = await build({ validate: (session) => session.get('username') !== 'ada' }, routes)
  const login = await app.inject('/login?permanent=1')
  const relogin = await app.inject({ url: '/relogin', cookies: carry(login) })
  const read = await app.inject({ url: '/read', cookies: carry(relogin) })
  t.same(read.json(), { username: 'grace', new: false, size: 1, permanent: false })
})

t.test("a session rejected by validate on a 'readonly' route reads as empty, and its cookie is left alone", async (t) => {
  const app = await build({ validate: () => false }, routes)
  const login = await app.inject('/login')
  const res = await app.inject({ url: '/readonly', cookies: carry(login) })
  t.equal(res.body, 'nobody')
  t.same(setCookies(res), [])
  t.equal(res.headers.vary, 'Cookie')
})
