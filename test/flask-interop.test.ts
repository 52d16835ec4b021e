import { createHmac } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { buildApp as buildExample } from '../example/flask-interop/app.js'
import type { Session } from '../lib/index.js'
import { deriveFlaskKeys, encodeTimestamp } from '../lib/codecs/flask.js'
import { atTime, build, sessionCookie, setCookies } from './helpers/build.js'
import { startFlask, type Described } from './helpers/flask.js'

/** The key of Flask's own session tests: shorter than 32 bytes, so only format 'flask' accepts it. */
const KEY = 'test key'
const DAY = 86400
/** Flask's default PERMANENT_SESSION_LIFETIME, and our default maxAge. */
const LIFETIME = 31 * DAY
/** The large value of app.py, which Flask compresses. */
const LARGE = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(60)
const FLASK_FLASHES = [['message', 'Logged in'], ['warning', 'Check your <b>email</b>']]

type AnySession = Session<Record<string, unknown>>

interface Seen {
  isNew: boolean
  data: Record<string, unknown>
  permanent: boolean
  flashes: Array<[string, string]>
}

/** What Fastify sets on /set: every type that has a Flask equivalent. */
const JS_VALUES: Record<string, unknown> = {
  str: 'hello',
  int: 42,
  negative: -7,
  big: 2n ** 64n + 1n,
  float: 3.25,
  true: true,
  false: false,
  none: null,
  list: [1, 'two', 3.5, null, [true]],
  nested: { a: { b: [1, { c: 'd' }], e: {} } },
  bytes: Buffer.from('\x00\xffbinary\x10', 'latin1'),
  datetime: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)),
  unicode: 'héllo wörld ✓ 日本語 😀',
  nan: NaN,
  inf: Infinity,
  neg_inf: -Infinity,
  neg_zero: -0,
  tag_t: { ' t': 'not a tuple' },
  tag_t__: { ' t__': 'plain' },
  tag_di: { ' di': 'not an escape' }
}

const int = (value: string): Described => ({ type: 'int', value })
const float = (value: string): Described => ({ type: 'float', value })
const str = (value: string): Described => ({ type: 'str', value })
const bool = (value: boolean): Described => ({ type: 'bool', value })
const dict = (value: Record<string, Described>): Described => ({ type: 'dict', value })
const list = (...value: Described[]): Described => ({ type: 'list', value })

/** How Flask's echo route describes JS_VALUES once Fastify wrote them. */
const PYTHON_VALUES: Record<string, Described> = {
  str: str('hello'),
  int: int('42'),
  negative: int('-7'),
  big: int('18446744073709551617'),
  float: float('3.25'),
  true: bool(true),
  false: bool(false),
  none: { type: 'None' },
  list: list(int('1'), str('two'), float('3.5'), { type: 'None' }, list(bool(true))),
  nested: dict({ a: dict({ b: list(int('1'), dict({ c: str('d') })), e: dict({}) }) }),
  bytes: { type: 'bytes', value: Buffer.from('\x00\xffbinary\x10', 'latin1').toString('base64') },
  // Whole seconds: Flask's datetime tag has no fraction, so the 678 ms are dropped.
  datetime: { type: 'datetime', value: '2024-01-02T03:04:05+00:00' },
  unicode: str('héllo wörld ✓ 日本語 😀'),
  nan: float('nan'),
  inf: float('inf'),
  neg_inf: float('-inf'),
  neg_zero: float('-0.0'),
  tag_t: dict({ ' t': str('not a tuple') }),
  tag_t__: dict({ ' t__': str('plain') }),
  tag_di: dict({ ' di': str('not an escape') })
}

/** A Fastify app with format 'flask', and what its /read route saw. */
async function fastifyApp (secret: string | string[] = KEY, maxAge = LIFETIME) {
  const seen: Seen[] = []
  const app = await build({ format: 'flask', secret, maxAge }, (app) => {
    app.get('/read', async (request) => {
      const s = request.session as unknown as AnySession
      seen.push({
        isNew: s.new,
        data: Object.fromEntries(s.entries()),
        permanent: s.permanent,
        flashes: request.session.getFlashedMessages({ withCategories: true })
      })
      return 'ok'
    })
    app.get<{ Querystring: { permanent?: string, flash?: string, large?: string } }>('/set', async (request) => {
      const s = request.session as unknown as AnySession
      if (request.query.large !== undefined) {
        s.set('large', LARGE)
        return 'ok'
      }
      for (const [key, value] of Object.entries(JS_VALUES)) s.set(key, value)
      if (request.query.permanent !== undefined) s.permanent = true
      if (request.query.flash !== undefined) {
        request.session.flash('Logged in')
        request.session.flash('Check your <b>email</b>', 'warning')
      }
      return 'ok'
    })
    app.get<{ Params: { name: string } }>('/login/:name', async (request) => {
      request.session.set('username', request.params.name)
      return 'ok'
    })
    app.get('/count', async (request) => {
      request.session.set('counter', request.session.get('counter', 0) + 1)
      return 'ok'
    })
  })
  const read = async (cookie: string) => {
    const res = await app.inject({ url: '/read', cookies: { session: cookie } })
    return { res, seen: seen.at(-1) as Seen }
  }
  return { app, read }
}

/** Signs `text` as Flask would with `key`: the raw itsdangerous signature, for hand-made payloads. */
function sign (text: string, key = KEY): string {
  const [derived] = deriveFlaskKeys([Buffer.from(key)])
  return `${text}.${createHmac('sha1', derived as Buffer).update(text).digest('base64url')}`
}

/** Changes one character in the middle of a cookie part (0 payload, 1 timestamp, 2 signature). */
function tamper (cookie: string, part: number): string {
  const parts = cookie.split('.')
  const index = cookie.startsWith('.') ? part + 1 : part
  const text = parts[index] as string
  const at = Math.floor(text.length / 2)
  parts[index] = text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1)
  return parts.join('.')
}

const now = (): number => Math.floor(Date.now() / 1000)

const EXAMPLE_FLASK = fileURLToPath(new URL('../example/flask-interop/flask_app.py', import.meta.url))

const flask = await startFlask(t)

if (flask !== null) {
  t.comment(`Flask ${flask.version} from ${flask.url}`)

  t.beforeEach(async () => {
    await flask.configure({ secret_key: KEY, fallbacks: [], lifetime: LIFETIME, offset: 0 })
  })

  t.test('a session Flask sets is read by Fastify with every value in its mapped type', async (t) => {
    const set = await flask.get('/set?flash=1')
    t.equal(set.status, 200)
    const { app, read } = await fastifyApp()
    const { res, seen } = await read(set.cookie as string)
    t.equal(res.statusCode, 200)
    t.equal(seen.isNew, false)
    t.equal(seen.permanent, false)
    t.same(seen.flashes, FLASK_FLASHES)
    const d = seen.data
    t.equal(d.str, 'hello')
    t.equal(d.int, 42)
    t.equal(d.negative, -7)
    t.equal(d.big, 2n ** 64n + 1n, 'an int beyond 2^53 is an exact BigInt')
    t.equal(d.float, 3.25)
    t.equal(d.whole_float, 2, 'a whole float is a number')
    t.equal(d.true, true)
    t.equal(d.false, false)
    t.equal(d.none, null)
    t.same(d.list, [1, 'two', 3.5, null, [true]])
    t.same(d.nested, { a: { b: [1, { c: 'd' }], e: {} } })
    t.ok(Array.isArray(d.tuple), 'a tuple is an Array')
    t.same(d.tuple, [1, 'a', [2, 3]])
    t.ok(Buffer.isBuffer(d.bytes), 'bytes are a Buffer')
    t.same(d.bytes, Buffer.from('\x00\xffbinary\x10', 'latin1'))
    t.ok(d.datetime instanceof Date, 'a datetime is a Date')
    t.equal((d.datetime as Date).getTime(), Date.UTC(2024, 0, 2, 3, 4, 5))
    t.equal(d.uuid, '12345678-1234-5678-1234-56781234abcd', 'a UUID is a dashed lowercase string')
    t.equal(d.markup, '<b>bold</b> &amp; safe', 'Markup is a string')
    t.equal(d.unicode, 'héllo wörld ✓ 日本語 😀')
    t.ok(Number.isNaN(d.nan), 'NaN is NaN')
    t.equal(d.inf, Infinity)
    t.equal(d.neg_inf, -Infinity)
    t.ok(Object.is(d.neg_zero, -0), '-0.0 is -0')
    t.same(d.tag_t, { ' t': 'not a tuple' }, 'a dict that looks like a tag comes back unchanged')
    t.same(d.tag_t__, { ' t__': 'plain' })
    t.same(d.tag_di, { ' di': 'not an escape' })
    t.equal(Object.keys(d).length, 24, 'no key is missing or extra (no _permanent, no _flashes)')
    await app.close()
  })

  t.test('a permanent Flask session is permanent in Fastify, which refreshes it for Flask', async (t) => {
    const set = await flask.get('/set?permanent=1')
    t.match(set.setCookie, /; Expires=/, 'Flask sent a permanent cookie')
    const { app, read } = await fastifyApp()
    const { res, seen } = await read(set.cookie as string)
    t.equal(seen.permanent, true)
    const refreshed = sessionCookie(res)
    t.ok(refreshed, 'Fastify re-issues a permanent session on each request')
    t.match(setCookies(res)[0], `Max-Age=${LIFETIME}`)
    const echo = await flask.echo(refreshed as string)
    t.equal(echo.permanent, true, 'Flask reads the refreshed cookie as permanent')
    t.same(echo.session.value.str, str('hello'))
    await app.close()
  })

  t.test('a large session that Flask compresses is read by Fastify', async (t) => {
    const set = await flask.get('/set-large')
    t.ok(set.cookie?.startsWith('.'), 'Flask compressed the payload')
    const { app, read } = await fastifyApp()
    const { seen } = await read(set.cookie as string)
    t.equal(seen.data.large, LARGE)
    await app.close()
  })

  t.test('a session Fastify sets is read by Flask with every value in its Python type, permanent and flashes', async (t) => {
    const { app } = await fastifyApp()
    const res = await app.inject('/set?permanent=1&flash=1')
    const cookie = sessionCookie(res) as string
    t.ok(cookie)
    const echo = await flask.echo(cookie)
    t.same(echo.session.value, PYTHON_VALUES)
    t.equal(Object.keys(echo.session.value).length, Object.keys(PYTHON_VALUES).length)
    t.equal(echo.permanent, true)
    t.same(echo.flashes, FLASK_FLASHES, "Flask's get_flashed_messages(with_categories=True) returns Fastify's flashes")
    await app.close()
  })

  t.test('a non-permanent session Fastify sets is not permanent in Flask', async (t) => {
    const { app } = await fastifyApp()
    const res = await app.inject('/login/ada')
    const echo = await flask.echo(sessionCookie(res) as string)
    t.equal(echo.permanent, false)
    t.same(echo.session.value, { username: str('ada') })
    t.same(echo.flashes, [])
    await app.close()
  })

  t.test('a large session that Fastify compresses is read by Flask', async (t) => {
    const { app } = await fastifyApp()
    const res = await app.inject('/set?large=1')
    const cookie = sessionCookie(res) as string
    t.ok(cookie.startsWith('.'), 'Fastify compressed the payload with the leading dot')
    const echo = await flask.echo(cookie)
    t.same(echo.session.value, { large: str(LARGE) })
    await app.close()
  })

  t.test('a Flask session that Fastify rewrites keeps its values in Flask, with tuples as lists and UUID and Markup as str', async (t) => {
    const set = await flask.get('/set')
    const { app } = await fastifyApp()
    const res = await app.inject({ url: '/count', cookies: { session: set.cookie as string } })
    const echo = await flask.echo(sessionCookie(res) as string)
    const v = echo.session.value
    t.same(v.counter, int('1'))
    t.same(v.tuple, list(int('1'), str('a'), list(int('2'), int('3'))))
    t.same(v.uuid, str('12345678-1234-5678-1234-56781234abcd'))
    t.same(v.markup, str('<b>bold</b> &amp; safe'))
    t.same(v.whole_float, int('2'), 'a whole float comes back as an int')
    for (const key of Object.keys(PYTHON_VALUES)) {
      if (key !== 'datetime') t.same(v[key], PYTHON_VALUES[key], `${key} keeps its value and type`)
    }
    t.same(v.datetime, { type: 'datetime', value: '2024-01-02T03:04:05+00:00' })
    await app.close()
  })

  t.test('Fastify reads a Flask cookie signed with an old key across a rotation, and moves it to the new key', async (t) => {
    await flask.configure({ secret_key: 'old key' })
    const old = (await flask.get('/login/ada')).cookie as string
    const rotated = await fastifyApp(['new key', 'old key'])
    const { res, seen } = await rotated.read(old)
    t.equal(seen.isNew, false)
    t.same(seen.data, { username: 'ada' })
    const renewed = sessionCookie(res)
    t.ok(renewed, 'the old-key cookie is re-issued')

    await flask.configure({ secret_key: 'new key', fallbacks: [] })
    t.same((await flask.echo(renewed as string)).session.value, { username: str('ada') }, 'Flask with only the new key reads the re-issued cookie')
    t.same((await flask.echo(old)).session.value, {}, 'Flask with only the new key rejects the old cookie')
    const newOnly = await fastifyApp('new key')
    t.equal((await newOnly.read(old)).seen.isNew, true, 'Fastify with only the new key rejects the old cookie')
    await flask.configure({ fallbacks: ['old key'] })
    t.same((await flask.echo(old)).session.value, { username: str('ada') }, 'Flask with SECRET_KEY_FALLBACKS reads the old cookie')
    await rotated.app.close()
    await newOnly.app.close()
  })

  t.test('Flask reads a Fastify cookie signed with an old key through SECRET_KEY_FALLBACKS, and moves it to the new key', async (t) => {
    const before = await fastifyApp('old key')
    const old = sessionCookie(await before.app.inject('/login/ada')) as string
    await flask.configure({ secret_key: 'new key', fallbacks: ['old key'] })
    t.same((await flask.echo(old)).session.value, { username: str('ada') })
    const touched = (await flask.get('/touch', old)).cookie as string
    t.ok(touched, 'Flask re-signs the modified session')
    const after = await fastifyApp('new key')
    const { seen } = await after.read(touched)
    t.same(seen.data, { username: 'ada', touched: true }, "Fastify with only the new key reads Flask's re-signed cookie")
    t.equal((await after.read(old)).seen.isNew, true, 'Fastify with only the new key rejects the old cookie')
    await flask.configure({ fallbacks: [] })
    t.same((await flask.echo(old)).session.value, {}, 'Flask without fallbacks rejects the old cookie')
    await before.app.close()
    await after.app.close()
  })

  t.test('a Flask cookie older than the lifetime is rejected by both, and a younger one is accepted by both', async (t) => {
    const { app, read } = await fastifyApp(KEY, 3600)
    await flask.configure({ lifetime: 3600, offset: -7200 })
    const tooOld = (await flask.get('/login/ada')).cookie as string
    await flask.configure({ offset: -1800 })
    const young = (await flask.get('/login/bob')).cookie as string
    await flask.configure({ offset: 0 })
    t.same((await flask.echo(tooOld)).session.value, {}, "Flask's own lifetime check rejects it")
    t.equal((await read(tooOld)).seen.isNew, true, 'Fastify with maxAge = PERMANENT_SESSION_LIFETIME rejects it')
    t.same((await flask.echo(young)).session.value, { username: str('bob') })
    t.same((await read(young)).seen.data, { username: 'bob' })
    await app.close()
  })

  t.test('a cookie dated in the future is refused by Flask at once, and by Fastify beyond 60 s of clock skew', async (t) => {
    const { app, read } = await fastifyApp()
    await flask.configure({ offset: 30 })
    const skewed = (await flask.get('/login/ada')).cookie as string
    await flask.configure({ offset: 120 })
    const future = (await flask.get('/login/bob')).cookie as string
    await flask.configure({ offset: 0 })
    t.same((await flask.echo(skewed)).session.value, {}, 'Flask refuses an age below 0')
    t.same((await read(skewed)).seen.data, { username: 'ada' }, 'Fastify allows 30 s of skew')
    t.same((await flask.echo(future)).session.value, {})
    t.equal((await read(future)).seen.isNew, true, 'Fastify refuses 120 s')
    await app.close()
  })

  t.test('a Fastify cookie older than the lifetime is rejected by both', async (t) => {
    const { app, read } = await fastifyApp()
    const tooOld = sessionCookie(await atTime(now() - LIFETIME - DAY, async () => app.inject('/login/ada'))) as string
    t.same((await flask.echo(tooOld)).session.value, {})
    t.equal((await read(tooOld)).seen.isNew, true)
    await app.close()
  })

  t.test('a cookie signed with a wrong key is rejected by both, whichever side made it', async (t) => {
    await flask.configure({ secret_key: 'wrong key' })
    const fromFlask = (await flask.get('/login/ada')).cookie as string
    await flask.configure({ secret_key: KEY })
    const wrong = await fastifyApp('wrong key')
    const fromFastify = sessionCookie(await wrong.app.inject('/login/ada')) as string
    const { app, read } = await fastifyApp()
    for (const [name, cookie] of [['Flask', fromFlask], ['Fastify', fromFastify]] as const) {
      t.same((await flask.echo(cookie)).session.value, {}, `Flask rejects the cookie ${name} made`)
      t.equal((await read(cookie)).seen.isNew, true, `Fastify rejects the cookie ${name} made`)
    }
    await app.close()
    await wrong.app.close()
  })

  t.test('a tampered cookie is rejected by both', async (t) => {
    const good = (await flask.get('/set')).cookie as string
    const { app, read } = await fastifyApp()
    t.equal((await read(good)).seen.isNew, false, 'the untampered cookie is accepted')
    for (const [name, part] of [['payload', 0], ['timestamp', 1], ['signature', 2]] as const) {
      const bad = tamper(good, part)
      t.not(bad, good)
      t.same((await flask.echo(bad)).session.value, {}, `Flask rejects a changed ${name}`)
      t.equal((await read(bad)).seen.isNew, true, `Fastify rejects a changed ${name}`)
    }
    await app.close()
  })

  t.test('a signed cookie without a timestamp is rejected by both', async (t) => {
    const good = (await flask.get('/login/ada')).cookie as string
    const noTimestamp = sign(good.split('.')[0] as string)
    const { app, read } = await fastifyApp()
    t.same((await flask.echo(noTimestamp)).session.value, {})
    t.equal((await read(noTimestamp)).seen.isNew, true)
    await app.close()
  })

  t.test('a correctly signed payload that cannot be decoded is a 500 in Flask and an empty session in Fastify', async (t) => {
    const undecodable = sign(`${Buffer.from('{"not json').toString('base64url')}.${encodeTimestamp(now())}`)
    const res = await flask.get('/echo', undecodable)
    t.equal(res.status, 500, 'Flask fails on it')
    const { app, read } = await fastifyApp()
    const { res: ours, seen } = await read(undecodable)
    t.equal(ours.statusCode, 200)
    t.equal(seen.isNew, true)
    await app.close()
  })

  t.test('the example: a login on its Flask app holds on its Fastify app, and a Fastify logout logs Flask out', async (t) => {
    const secret = 'the example key, shared by both apps'
    const site = await startFlask(t, { app: EXAMPLE_FLASK, env: { SECRET_KEY: secret, FASTIFY_URL: 'http://fastify.example' } })
    if (site === null) return
    const app = buildExample({ secret, flaskUrl: site.url })
    t.teardown(() => app.close())

    const anonymous = await app.inject('/')
    t.match(anonymous.body, '<p>You are not logged in</p>')
    t.match(anonymous.body, `<a href="${site.url}/login">`, 'the login stays on Flask')
    t.same(setCookies(anonymous), [])

    const session = await site.post('/login', { username: 'bob' })
    t.match((await app.inject({ url: '/', cookies: { session: session.cookie as string } })).body, 'Remembered: no')

    const login = await site.post('/login', { username: 'ada', remember: '1' })
    t.equal(login.status, 302)
    const account = await app.inject({ url: '/', cookies: { session: login.cookie as string } })
    t.match(account.body, '<p>Fastify: logged in as ada</p>')
    t.match(account.body, '<li class="message">You were logged in by Flask</li>', "Flask's flash is shown by Fastify")
    t.match(account.body, 'Visits, counted by both apps: 1')
    t.match(account.body, 'Remembered: yes')

    const home = await site.get('/', sessionCookie(account))
    t.match(home.body, '<p>Flask: logged in as ada</p>')
    t.match(home.body, 'Visits, counted by both apps: 2', "Flask reads Fastify's counter and adds to it")
    t.notMatch(home.body, 'You were logged in', 'the flash Fastify showed is gone')

    const logout = await app.inject({ url: '/logout', cookies: { session: home.cookie as string } })
    t.equal(logout.statusCode, 302)
    t.equal(logout.headers.location, `${site.url}/`)
    const after = await site.get('/', sessionCookie(logout))
    t.match(after.body, '<p>You are not logged in</p>')
    t.match(after.body, '<li class="message">You were logged out by Fastify</li>', "Fastify's flash is shown by Flask")
  })
}
