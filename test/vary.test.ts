/**
 * `Vary: Cookie` (DESIGN.md section 4, rule 4): added once whenever the
 * session was accessed or its cookie was set, merged with any Vary already
 * there, and absent where the response does not depend on the cookie.
 */
import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { build, carry, freezeClock, permanentLogin, setCookies } from './helpers/build.js'

/** The Vary header of a response, which must be a single header. */
function vary (res: LightMyRequestResponse): string | undefined {
  const header = res.headers.vary
  if (Array.isArray(header)) throw new Error(`expected one Vary header, got ${JSON.stringify(header)}`)
  return header
}

t.test('a read of the session adds Vary: Cookie, with or without a cookie', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    app.get('/read', async (request) => request.session.get('username') ?? 'nobody')
    app.get('/has', async (request) => String(request.session.has('username')))
    app.get('/new', async (request) => String(request.session.new))
    app.get('/flashes', async (request) => request.session.getFlashedMessages())
  })
  const login = await app.inject('/login')
  for (const url of ['/read', '/has', '/new', '/flashes']) {
    t.equal(vary(await app.inject(url)), 'Cookie', `${url} without a cookie`)
    t.equal(vary(await app.inject({ url, cookies: carry(login) })), 'Cookie', `${url} with a cookie`)
  }
})

t.test('a write that sets the cookie adds Vary: Cookie', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
  })
  const res = await app.inject('/login')
  t.equal(setCookies(res).length, 1)
  t.equal(vary(res), 'Cookie')
})

t.test('the deletion of the cookie adds Vary: Cookie', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    app.get('/logout', async (request) => { request.session.clear(); return 'ok' })
  })
  const logout = await app.inject({ url: '/logout', cookies: carry(await app.inject('/login')) })
  t.equal(logout.cookies[0]?.maxAge, 0)
  t.equal(vary(logout), 'Cookie')
})

t.test('a route that never touches a non-permanent session has no Vary, with or without a cookie', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    app.get('/untouched', async () => 'ok')
  })
  t.equal(vary(await app.inject('/untouched')), undefined)
  t.equal(vary(await app.inject({ url: '/untouched', cookies: carry(await app.inject('/login')) })), undefined)
})

t.test('the refresh of a permanent session on an untouched route adds Vary: Cookie (CVE-2023-30861)', async (t) => {
  const clock = freezeClock(1_700_000_000)
  t.teardown(clock.restore)
  const app = await build({}, (app) => {
    app.get('/login', permanentLogin)
    app.get('/untouched', async () => 'ok')
  })
  const login = await app.inject('/login')
  clock.set(1_700_000_010)
  const res = await app.inject({ url: '/untouched', cookies: carry(login) })
  t.equal(setCookies(res).length, 1)
  t.equal(vary(res), 'Cookie')
})

t.test('Vary: Cookie is merged with a Vary the route already set', async (t) => {
  const app = await build({}, (app) => {
    app.get('/string', async (request, reply) => {
      reply.header('vary', 'Accept-Encoding')
      return request.session.get('username') ?? 'nobody'
    })
    app.get('/list', async (request, reply) => {
      reply.header('vary', 'Accept-Encoding, Accept-Language')
      request.session.set('username', 'ada')
      return 'ok'
    })
    app.get('/array', async (request, reply) => {
      reply.header('vary', ['Accept-Encoding', 'Accept-Language'])
      return request.session.get('username') ?? 'nobody'
    })
    app.get('/lookalike', async (request, reply) => {
      reply.header('vary', 'X-Cookie-Version, Set-Cookie')
      return request.session.get('username') ?? 'nobody'
    })
  })
  t.equal(vary(await app.inject('/string')), 'Accept-Encoding, Cookie')
  t.equal(vary(await app.inject('/list')), 'Accept-Encoding, Accept-Language, Cookie')
  t.equal(vary(await app.inject('/array')), 'Accept-Encoding, Accept-Language, Cookie')
  t.equal(vary(await app.inject('/lookalike')), 'X-Cookie-Version, Set-Cookie, Cookie', 'names that only contain "cookie" are other headers')
})

t.test('Vary: Cookie is not added twice when the route already named Cookie, or Vary is *', async (t) => {
  const app = await build({}, (app) => {
    app.get('/vary/:value', async (request, reply) => {
      reply.header('vary', (request.params as { value: string }).value)
      request.session.set('username', 'ada')
      return 'ok'
    })
  })
  for (const value of ['Cookie', 'cookie', 'Accept-Encoding, Cookie', 'Cookie, Accept-Encoding', 'Accept-Encoding,cookie ', '*']) {
    const res = await app.inject(`/vary/${encodeURIComponent(value)}`)
    t.equal(setCookies(res).length, 1)
    t.equal(vary(res), value, `Vary: ${value} is kept as it is`)
  }
})

t.test('a route with config.session false never adds Vary, even when it reads the session', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    app.get('/off', { config: { session: false } }, async (request) => request.session.get('username') ?? 'nobody')
  })
  const res = await app.inject({ url: '/off', cookies: carry(await app.inject('/login')) })
  t.equal(res.body, 'nobody')
  t.equal(vary(res), undefined)
})

t.test("a route with config.session 'readonly' adds Vary when it reads the session, and not when it does not", async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    app.get('/read', { config: { session: 'readonly' } }, async (request) => request.session.get('username') ?? 'nobody')
    app.get('/untouched', { config: { session: 'readonly' } }, async () => 'ok')
  })
  const login = await app.inject('/login')
  const read = await app.inject({ url: '/read', cookies: carry(login) })
  t.equal(read.body, 'ada')
  t.equal(vary(read), 'Cookie')
  t.equal(vary(await app.inject({ url: '/untouched', cookies: carry(login) })), undefined)
})
