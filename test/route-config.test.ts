/**
 * Per-route `config.session` (DESIGN.md section 2): `false` never reads or
 * sets the cookie, `'readonly'` reads it but never sets it, and any other
 * value is refused when the app starts. A WebSocket route (the route option
 * `websocket: true` of `@fastify/websocket`) is `'readonly'` by itself; the
 * mechanism is tested here without that plugin, which would answer a plain
 * request to such a route with a 404.
 */
import Fastify, { type FastifyRequest, type RouteShorthandOptions } from 'fastify'
import t from 'tap'
import typedSession from '../lib/index.js'
import { build, carry, freezeClock, SECRET, setCookies } from './helpers/build.js'

type App = Awaited<ReturnType<typeof build>>

/** Route options of a WebSocket route, as `@fastify/websocket` reads them. */
function websocket (options: RouteShorthandOptions = {}): RouteShorthandOptions {
  return { ...options, websocket: true } as RouteShorthandOptions
}

/** Why the session is read-only on a WebSocket route, as FST_ERR_SESSION_READONLY says it. */
const WEBSOCKET_REASON = 'a WebSocket route, whose upgrade response carries no cookie: a write would be lost'

/** An app with a permanent login, a flash, and routes under the given config.session (or route options). */
async function configApp (mode: false | 'readonly' | RouteShorthandOptions): Promise<App> {
  return build({}, (app) => {
    app.get('/login', async (request) => {
      request.session.set('username', 'ada')
      request.session.permanent = true
      request.session.flash('welcome')
      return 'ok'
    })
    app.get('/read', async (request) => request.session.get('username') ?? 'nobody')
    const config = typeof mode === 'object' ? mode : { config: { session: mode } }
    app.get('/route/read', config, async (request) => ({
      username: request.session.get('username') ?? null,
      new: request.session.new,
      size: request.session.size,
      permanent: request.session.permanent
    }))
    app.get('/route/untouched', config, async () => 'ok')
    app.get('/route/set', config, async (request) => { request.session.set('username', 'eve'); return 'ok' })
    app.get('/route/delete', config, async (request) => String(request.session.delete('username')))
    app.get('/route/pop', config, async (request) => request.session.pop('username', 'none'))
    app.get('/route/set-default', config, async (request) => request.session.setDefault('username', 'eve'))
    app.get('/route/update', config, async (request) => { request.session.update({ counter: 1 }); return 'ok' })
    app.get('/route/clear', config, async (request) => { request.session.clear(); return 'ok' })
    app.get('/route/permanent', config, async (request) => { request.session.permanent = false; return 'ok' })
    app.get('/route/modified', config, async (request) => { request.session.modified = true; return 'ok' })
    app.get('/route/regenerate', config, async (request) => { await request.session.regenerate(); return 'ok' })
    app.get('/route/flash', config, async (request) => { request.session.flash('no'); return 'ok' })
    app.get('/route/messages', config, async (request) => ({
      messages: request.session.getFlashedMessages(),
      again: request.session.getFlashedMessages({ withCategories: true })
    }))
  })
}

/** Each writing route, and how the error names its write. */
const WRITES: Record<string, string> = {
  '/route/set': 'set()',
  '/route/delete': 'delete()',
  '/route/pop': 'pop()',
  '/route/set-default': 'setDefault()',
  '/route/update': 'update()',
  '/route/clear': 'clear()',
  '/route/permanent': 'setting permanent',
  '/route/modified': 'setting modified',
  '/route/regenerate': 'regenerate()',
  '/route/flash': 'flash()'
}

t.test('config.session false never reads the cookie: the session is empty and new even with a valid cookie', async (t) => {
  const app = await configApp(false)
  const login = await app.inject('/login')
  const res = await app.inject({ url: '/route/read', cookies: carry(login) })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { username: null, new: true, size: 0, permanent: false })
  t.same(setCookies(res), [], 'and never sets it, though the session is permanent')
  t.equal(res.headers.vary, undefined)
  t.same((await app.inject({ url: '/route/messages', cookies: carry(login) })).json(), { messages: [], again: [] })
  t.same(setCookies(await app.inject({ url: '/route/untouched', cookies: carry(login) })), [], 'not even to refresh it')
})

t.test("config.session 'readonly' reads the session and adds Vary, but never sets the cookie, even for a permanent session", async (t) => {
  const clock = freezeClock(1_700_000_000)
  t.teardown(clock.restore)
  const app = await configApp('readonly')
  const login = await app.inject('/login')
  clock.set(1_700_000_100)
  const res = await app.inject({ url: '/route/read', cookies: carry(login) })
  t.same(res.json(), { username: 'ada', new: false, size: 1, permanent: true })
  t.same(setCookies(res), [])
  t.equal(res.headers.vary, 'Cookie')
  const untouched = await app.inject({ url: '/route/untouched', cookies: carry(login) })
  t.same(setCookies(untouched), [])
  t.equal(untouched.headers.vary, undefined)
  t.equal(setCookies(await app.inject({ url: '/read', cookies: carry(login) })).length, 1, 'the same session is refreshed elsewhere')
})

const READONLY_CASES: Array<[string, false | 'readonly' | RouteShorthandOptions, string]> = [
  ['config.session false', false, 'config.session is false'],
  ["config.session 'readonly'", 'readonly', "config.session is 'readonly'"],
  ['a WebSocket route (websocket: true)', websocket(), WEBSOCKET_REASON],
  ["a WebSocket route with config.session 'readonly'", websocket({ config: { session: 'readonly' } }), WEBSOCKET_REASON]
]

for (const [name, mode, reason] of READONLY_CASES) {
  t.test(`${name} makes every write, and flash(), throw FST_ERR_SESSION_READONLY, a 500 that says why`, async (t) => {
    const app = await configApp(mode)
    const login = await app.inject('/login')
    for (const [url, write] of Object.entries(WRITES)) {
      const res = await app.inject({ url, cookies: carry(login) })
      t.equal(res.statusCode, 500, url)
      t.equal(res.json().code, 'FST_ERR_SESSION_READONLY', url)
      t.equal(res.json().message, `The session is read-only on this route (${reason}), so ${write} is not allowed`)
      t.same(setCookies(res), [], `${url} sets no cookie`)
      if (mode === false) t.equal(res.headers.vary, undefined, `${url} adds no Vary: the cookie is never read`)
    }
    t.equal((await app.inject({ url: '/read', cookies: carry(login) })).body, 'ada', 'the session is unchanged')
  })
}

t.test('a WebSocket route reads the session and adds Vary, never sets the cookie, and leaves the flashes queued', async (t) => {
  const clock = freezeClock(1_700_000_000)
  t.teardown(clock.restore)
  const app = await configApp(websocket())
  const login = await app.inject('/login')
  clock.set(1_700_000_100)
  const res = await app.inject({ url: '/route/read', cookies: carry(login) })
  t.same(res.json(), { username: 'ada', new: false, size: 1, permanent: true })
  t.same(setCookies(res), [], 'not even to refresh a permanent session')
  t.equal(res.headers.vary, 'Cookie')
  const messages = await app.inject({ url: '/route/messages', cookies: carry(login) })
  t.same(messages.json(), { messages: ['welcome'], again: [['message', 'welcome']] })
  t.same(setCookies(messages), [])
  t.same((await app.inject({ url: '/route/messages', cookies: carry(login) })).json().messages, ['welcome'], 'still queued')
})

t.test('a WebSocket route with config.session false never reads the cookie, and says config.session is false', async (t) => {
  const app = await configApp(websocket({ config: { session: false } }))
  const login = await app.inject('/login')
  t.same((await app.inject({ url: '/route/read', cookies: carry(login) })).json(), { username: null, new: true, size: 0, permanent: false })
  const res = await app.inject({ url: '/route/set', cookies: carry(login) })
  t.equal(res.json().message, 'The session is read-only on this route (config.session is false), so set() is not allowed')
})

t.test('only websocket: true makes a route read-only; the route next to it writes as usual', async (t) => {
  const app = await build({}, (app) => {
    app.get('/ws', websocket(), async (request) => { request.session.set('username', 'eve'); return 'ok' })
    for (const value of [false, 'true', 1]) {
      app.get(`/not-ws/${String(value)}`, { websocket: value } as RouteShorthandOptions, async (request) => {
        request.session.set('username', 'ada')
        return 'ok'
      })
    }
    app.get('/plain', async (request) => { request.session.set('username', 'ada'); return 'ok' })
  })
  t.equal((await app.inject('/ws')).statusCode, 500)
  for (const url of ['/not-ws/false', '/not-ws/true', '/not-ws/1', '/plain']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 200, url)
    t.equal(setCookies(res).length, 1, `${url} sets the cookie`)
  }
})

t.test('a route with a wsHandler is read-only on its upgrade request only: its plain HTTP requests write as usual', async (t) => {
  const app = await build({}, (app) => {
    const write = async (request: FastifyRequest): Promise<string> => { request.session.set('username', 'eve'); return 'ok' }
    app.get('/both', { wsHandler: () => {} } as RouteShorthandOptions, write)
    app.get('/both-readonly', { wsHandler: () => {}, config: { session: 'readonly' } } as RouteShorthandOptions, write)
    app.get('/both-off', { wsHandler: () => {}, config: { session: false } } as RouteShorthandOptions, write)
    app.get('/not-a-handler', { wsHandler: 'no' } as RouteShorthandOptions, write)
  })
  const plain = await app.inject('/both')
  t.equal(plain.statusCode, 200)
  t.equal(setCookies(plain).length, 1, 'a plain request sets the cookie')
  for (const upgrade of ['websocket', 'WebSocket']) {
    const res = await app.inject({ url: '/both', headers: { upgrade, connection: 'Upgrade' } })
    t.equal(res.statusCode, 500, upgrade)
    t.equal(res.json().message, `The session is read-only on this route (${WEBSOCKET_REASON}), so set() is not allowed`)
    t.same(setCookies(res), [])
  }
  t.equal(setCookies(await app.inject({ url: '/both', headers: { upgrade: 'h2c', connection: 'Upgrade' } })).length, 1, 'another upgrade is a plain request')
  t.equal((await app.inject('/both-readonly')).json().message, "The session is read-only on this route (config.session is 'readonly'), so set() is not allowed")
  t.equal((await app.inject({ url: '/both-readonly', headers: { upgrade: 'websocket' } })).json().message,
    `The session is read-only on this route (${WEBSOCKET_REASON}), so set() is not allowed`)
  t.equal((await app.inject({ url: '/both-off', headers: { upgrade: 'websocket' } })).json().message,
    'The session is read-only on this route (config.session is false), so set() is not allowed')
  t.equal(setCookies(await app.inject({ url: '/not-a-handler', headers: { upgrade: 'websocket' } })).length, 1, 'only a function is a wsHandler')
})

t.test("config.session 'readonly' returns the flashed messages without consuming them", async (t) => {
  const app = await configApp('readonly')
  const login = await app.inject('/login')
  const res = await app.inject({ url: '/route/messages', cookies: carry(login) })
  t.same(res.json(), { messages: ['welcome'], again: [['message', 'welcome']] })
  t.same(setCookies(res), [])
  t.equal(res.headers.vary, 'Cookie')
  const again = await app.inject({ url: '/route/messages', cookies: carry(login) })
  t.same(again.json(), { messages: ['welcome'], again: [['message', 'welcome']] }, 'the same cookie still carries them')
})

t.test('config.session applies to its route only', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    app.get('/off', { config: { session: false } }, async (request) => request.session.get('username') ?? 'nobody')
    app.get('/on', async (request) => request.session.get('username') ?? 'nobody')
    app.get('/other-config', { config: { other: true } as object }, async (request) => request.session.get('username') ?? 'nobody')
  })
  const cookies = carry(await app.inject('/login'))
  t.equal((await app.inject({ url: '/off', cookies })).body, 'nobody')
  t.equal((await app.inject({ url: '/on', cookies })).body, 'ada')
  t.equal((await app.inject({ url: '/other-config', cookies })).body, 'ada')
})

t.test('an invalid config.session makes app.ready() reject with FST_ERR_SESSION_INVALID_OPTION', async (t) => {
  for (const mode of ['READONLY', 'off', true, 0, null]) {
    const app = Fastify()
    await app.register(typedSession, { secret: SECRET })
    app.register(async (scope) => {
      scope.get('/bad', { config: { session: mode as never } }, async () => 'ok')
    })
    await t.rejects(async () => { await app.ready() }, {
      code: 'FST_ERR_SESSION_INVALID_OPTION',
      message: /config\.session of GET \/bad: expected false or 'readonly'/
    }, `config.session ${JSON.stringify(mode)}`)
  }
})
