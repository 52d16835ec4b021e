/**
 * DESIGN.md section 2: every option is checked once, at registration. A bad
 * value makes `app.ready()` reject with a coded error naming the option and
 * the value given; nothing falls back to a default silently. A good value
 * is honoured.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import typedSession, { type TypedSessionOptions } from '../lib/index.js'
import { normalizeOptions } from '../lib/options.js'
import { build, freezeClock, SECRET, sessionCookie, setCookies } from './helpers/build.js'

/** Registers the plugin with raw options and waits for `ready()`. */
async function register (options: unknown): Promise<void> {
  const app = Fastify()
  try {
    await app.register(typedSession, options as TypedSessionOptions)
    await app.ready()
  } finally {
    await app.close()
  }
}

/** The error that `promise` rejects with (fails the test when it resolves). */
async function rejection (t: Test, promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise
  } catch (err) {
    return err as Error & { code?: string }
  }
  t.fail('expected a rejection')
  return new Error('resolved')
}

const store = { get: async () => null, set: async () => {}, touch: async () => {}, destroy: async () => {}, rename: async () => {} }

t.test('a missing secret is refused with FST_ERR_SESSION_NO_SECRET, a TypeError', async (t) => {
  const cases: Array<[string, unknown, string]> = [
    ['no secret option', {}, 'undefined'],
    ['secret undefined', { secret: undefined }, 'undefined'],
    ['secret null', { secret: null }, 'null'],
    ['an empty string', { secret: '' }, '""'],
    ['an empty array', { secret: [] }, 'an array of 0']
  ]
  for (const [name, options, shown] of cases) {
    const err = await rejection(t, register(options))
    t.equal(err.code, 'FST_ERR_SESSION_NO_SECRET', name)
    t.ok(err instanceof TypeError, `${name}: a TypeError`)
    t.match(err.message, /^Expected the option secret: a key of at least 32 bytes .*, received /, name)
    t.match(err.message, `received ${shown}; `, `${name}: the message shows ${shown}`)
    t.ok(err.message.endsWith('; generate one with `npx fastify-typed-session secret`'), `${name}: names the key generator`)
  }
})

t.test('a key shorter than 32 bytes is refused with FST_ERR_SESSION_WEAK_SECRET, a RangeError', async (t) => {
  const cases: Array<[string, unknown, number, number]> = [
    ['a short string', 'short', 5, 0],
    ['a 31-byte string', 'x'.repeat(31), 31, 0],
    ['16 characters of 2 bytes, less one byte', `${'é'.repeat(15)}a`, 31, 0],
    ['a short Buffer', Buffer.alloc(31, 1), 31, 0],
    ['a short Buffer after a good key', [SECRET, Buffer.alloc(16, 1)], 16, 1],
    ['a short string after a good key', [Buffer.from(SECRET), 'y'.repeat(20)], 20, 1],
    ['an empty key in an array', [''], 0, 0]
  ]
  for (const [name, secret, bytes, index] of cases) {
    const err = await rejection(t, register({ secret }))
    t.equal(err.code, 'FST_ERR_SESSION_WEAK_SECRET', name)
    t.ok(err instanceof RangeError, `${name}: a RangeError`)
    t.match(err.message, `received a key of ${bytes} bytes at index ${index}`, name)
    t.match(err.message, 'npx fastify-typed-session secret', `${name}: says how to make one`)
  }
})

t.test('a key of 32 bytes or more is accepted, counting bytes and not characters', async (t) => {
  await register({ secret: 'x'.repeat(32) })
  await register({ secret: 'é'.repeat(16) }) // 16 characters, 32 bytes
  await register({ secret: Buffer.alloc(32, 7) })
  await register({ secret: [SECRET, Buffer.alloc(64, 1), 'z'.repeat(100)] })
  t.pass()
})

t.test('a string secret is one key, never split into characters', async (t) => {
  const resolved = normalizeOptions({ secret: SECRET }).options
  t.equal(resolved.secrets.length, 1)
  t.same(resolved.secrets[0], Buffer.from(SECRET))
  // The same key given as a string, a Buffer or a one-element array signs
  // the same cookies.
  const routes = (app: FastifyInstance): void => {
    app.get('/set', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    app.get('/get', async (request) => request.session.get('username') ?? 'nobody')
  }
  const clock = freezeClock(1_700_000_000)
  t.teardown(clock.restore)
  const asString = await build({ secret: SECRET }, routes)
  const asBuffer = await build({ secret: Buffer.from(SECRET) }, routes)
  const asArray = await build({ secret: [SECRET] }, routes)
  t.teardown(() => Promise.all([asString.close(), asBuffer.close(), asArray.close()]))
  const cookie = sessionCookie(await asString.inject('/set')) as string
  t.equal(sessionCookie(await asBuffer.inject('/set')), cookie)
  t.equal(sessionCookie(await asArray.inject('/set')), cookie)
  t.equal((await asBuffer.inject({ url: '/get', cookies: { session: cookie } })).body, 'ada')
})

t.test('a secret of the wrong type is refused, naming its index', async (t) => {
  const cases: Array<[string, unknown, string, string]> = [
    ['a number', 42, 'secret[0]', '42'],
    ['an object', { key: SECRET }, 'secret[0]', 'an object'],
    ['true', true, 'secret[0]', 'true'],
    ['a Uint8Array', new Uint8Array(32), 'secret[0]', 'an object'],
    ['a number after a good key', [SECRET, 7], 'secret[1]', '7'],
    ['a nested array', [[SECRET]], 'secret[0]', 'an array of 1'],
    ['a function', () => SECRET, 'secret[0]', 'a function']
  ]
  for (const [name, secret, option, shown] of cases) {
    const err = await rejection(t, register({ secret }))
    t.equal(err.code, 'FST_ERR_SESSION_INVALID_OPTION', name)
    t.ok(err instanceof TypeError, `${name}: a TypeError`)
    t.equal(err.message, `Invalid option ${option}: expected a string or a Buffer of at least 32 bytes, received ${shown}`, name)
  }
})

/** Each bad option: the options (with a good secret), the name in the message, and the value shown. */
const invalid: Array<[string, Record<string, unknown>, string, string]> = [
  ['an unknown option', { secrets: SECRET }, 'secrets', '"secrets"'],
  ['an option in the wrong case', { maxage: 10 }, 'maxage', '"maxage"'],
  ['format unknown', { format: 'json' }, 'format', '"json"'],
  ['format null', { format: null }, 'format', 'null'],
  ['cookieName empty', { cookieName: '' }, 'cookieName', '""'],
  ['cookieName with a space', { cookieName: 'my session' }, 'cookieName', '"my session"'],
  ['cookieName with a semicolon', { cookieName: 'a;b' }, 'cookieName', '"a;b"'],
  ['cookieName with "="', { cookieName: 'a=b' }, 'cookieName', '"a=b"'],
  ['cookieName not ASCII', { cookieName: 'sessión' }, 'cookieName', '"sessión"'],
  ['cookieName a number', { cookieName: 1 }, 'cookieName', '1'],
  ['cookieName null', { cookieName: null }, 'cookieName', 'null'],
  ['cookieName a Buffer', { cookieName: Buffer.from('sid') }, 'cookieName', 'a Buffer of 3 bytes'],
  ['cookie a string', { cookie: 'path=/' }, 'cookie', '"path=/"'],
  ['cookie null', { cookie: null }, 'cookie', 'null'],
  ['cookie an array', { cookie: [] }, 'cookie', 'an array of 0'],
  ['an unknown cookie attribute', { cookie: { priority: 'high' } }, 'cookie.priority', '"priority"'],
  ['cookie.maxAge', { cookie: { maxAge: 10 } }, 'cookie.maxAge', '"maxAge"'],
  ['cookie.expires', { cookie: { expires: new Date() } }, 'cookie.expires', '"expires"'],
  ['cookie.path empty', { cookie: { path: '' } }, 'cookie.path', '""'],
  ['cookie.path with a semicolon', { cookie: { path: '/a;b' } }, 'cookie.path', '"/a;b"'],
  ['cookie.path with a newline', { cookie: { path: '/a\nb' } }, 'cookie.path', '"/a\\nb"'],
  ['cookie.path a number', { cookie: { path: 1 } }, 'cookie.path', '1'],
  ['cookie.domain with a semicolon', { cookie: { domain: 'a.com; Secure' } }, 'cookie.domain', '"a.com; Secure"'],
  ['cookie.domain null', { cookie: { domain: null } }, 'cookie.domain', 'null'],
  ['cookie.httpOnly a string', { cookie: { httpOnly: 'false' } }, 'cookie.httpOnly', '"false"'],
  ['cookie.secure a string', { cookie: { secure: 'yes' } }, 'cookie.secure', '"yes"'],
  ['cookie.secure "Auto"', { cookie: { secure: 'Auto' } }, 'cookie.secure', '"Auto"'],
  ['cookie.secure null', { cookie: { secure: null } }, 'cookie.secure', 'null'],
  ['cookie.sameSite invalid', { cookie: { sameSite: 'invalid' } }, 'cookie.sameSite', '"invalid"'],
  ['cookie.sameSite true', { cookie: { sameSite: true } }, 'cookie.sameSite', 'true'],
  ['cookie.sameSite null', { cookie: { sameSite: null } }, 'cookie.sameSite', 'null'],
  ['cookie.sameSite none without Secure', { cookie: { sameSite: 'none', secure: false } }, 'cookie.secure', 'false'],
  ['cookie.partitioned without Secure', { cookie: { partitioned: true, secure: false } }, 'cookie.secure', 'false'],
  ['cookie.partitioned a string', { cookie: { partitioned: 'yes' } }, 'cookie.partitioned', '"yes"'],
  ['maxAge negative', { maxAge: -1 }, 'maxAge', '-1'],
  ['maxAge fractional', { maxAge: 1.5 }, 'maxAge', '1.5'],
  ['maxAge zero', { maxAge: 0 }, 'maxAge', '0'],
  ['maxAge a string', { maxAge: '3600' }, 'maxAge', '"3600"'],
  ['maxAge NaN', { maxAge: NaN }, 'maxAge', 'NaN'],
  ['maxAge Infinity', { maxAge: Infinity }, 'maxAge', 'Infinity'],
  ['maxAge null', { maxAge: null }, 'maxAge', 'null'],
  ['maxAge in milliseconds', { maxAge: 2678400000 }, 'maxAge', '2678400000'],
  ['absoluteTimeout in milliseconds', { absoluteTimeout: 86400000 * 7 }, 'absoluteTimeout', '604800000'],
  ['absoluteTimeout negative', { absoluteTimeout: -5 }, 'absoluteTimeout', '-5'],
  ['absoluteTimeout fractional', { absoluteTimeout: 0.5 }, 'absoluteTimeout', '0.5'],
  ['absoluteTimeout a boolean', { absoluteTimeout: true }, 'absoluteTimeout', 'true'],
  ['refreshEachRequest a string', { refreshEachRequest: 'true' }, 'refreshEachRequest', '"true"'],
  ['refreshEachRequest a number', { refreshEachRequest: 1 }, 'refreshEachRequest', '1'],
  ['maxCookieSize negative', { maxCookieSize: -1 }, 'maxCookieSize', '-1'],
  ['maxCookieSize fractional', { maxCookieSize: 4093.5 }, 'maxCookieSize', '4093.5'],
  ['maxCookieSize a string', { maxCookieSize: '4k' }, 'maxCookieSize', '"4k"'],
  ['validate a string', { validate: 'yes' }, 'validate', '"yes"'],
  ['validate an object', { validate: {} }, 'validate', 'an object'],
  ['validate null', { validate: null }, 'validate', 'null'],
  ['store a plain object', { store: {} }, 'store', 'an object'],
  ['store missing touch', { store: { get: store.get, set: store.set, destroy: store.destroy } }, 'store', 'an object'],
  ['store a function', { store: () => store }, 'store', 'a function'],
  ['store null', { store: null }, 'store', 'null']
]

t.test('a bad option makes ready() reject with FST_ERR_SESSION_INVALID_OPTION naming the option and the value', async (t) => {
  for (const [name, options, option, shown] of invalid) {
    const err = await rejection(t, register({ secret: SECRET, ...options }))
    t.equal(err.code, 'FST_ERR_SESSION_INVALID_OPTION', name)
    t.match(err.message, new RegExp(`^Invalid option ${option.replace('.', '\\.')}: expected .+, received `), `${name}: names ${option}`)
    t.ok(err.message.endsWith(`received ${shown}`), `${name}: shows the value ${shown} (${err.message})`)
  }
})

t.test('an error message says what was expected', async (t) => {
  const expected: Array<[Record<string, unknown>, string]> = [
    [{ secrets: SECRET }, 'one of secret, cookieName, cookie, maxAge, absoluteTimeout, refreshEachRequest, refreshAfter, format, maxCookieSize, maxChunks, store, validate, schema, version, migrate, revocation'],
    [{ cookie: { priority: 'high' } }, 'one of path, domain, httpOnly, secure, sameSite, partitioned'],
    [{ format: 'json' }, "'signed', 'encrypted' or 'flask'"],
    [{ cookie: { sameSite: 'x' } }, "'lax', 'strict', 'none' or false"],
    [{ cookie: { sameSite: 'none', secure: false } }, "true or 'auto' with sameSite 'none'"],
    [{ cookie: { partitioned: true, secure: false } }, "true or 'auto' with partitioned"],
    [{ maxAge: 0 }, 'a positive whole number of seconds'],
    [{ absoluteTimeout: -1 }, 'a whole number of seconds, or 0 for off'],
    [{ maxCookieSize: -1 }, 'a whole number of bytes, or 0 for off'],
    [{ cookieName: 'a b' }, "a non-empty token of letters, digits and !#$%&'*+-.^_`|~"],
    [{ cookie: { path: '/a;b' } }, 'a non-empty string of printable ASCII characters without ";"'],
    [{ cookie: 'path=/' }, 'an object of cookie attributes'],
    [{ cookie: { secure: 'yes' } }, "true, false or 'auto'"],
    [{ cookie: { httpOnly: 'yes' } }, 'a boolean'],
    [{ cookie: { partitioned: 1 } }, 'a boolean'],
    [{ refreshEachRequest: 1 }, 'a boolean'],
    [{ store: {} }, 'a SessionStore (an object with get, set, touch, destroy and rename methods)'],
    [{ validate: 1 }, 'a function']
  ]
  for (const [options, text] of expected) {
    const err = await rejection(t, register({ secret: SECRET, ...options }))
    t.match(err.message, `: expected ${text}, received `, JSON.stringify(options))
  }
})

t.test("another session plugin's option name is refused with a TypeError that says what to write instead", async (t) => {
  // [option, value, text the message must contain]
  const cases: Array<[string, unknown, string]> = [
    ['key', Buffer.alloc(32), "expected secret instead (@fastify/secure-session's key): a key of at least 32 bytes, or an array of keys for rotation"],
    ['key', 'c2VjcmV0', "pass a base64 key as Buffer.from(key, 'base64')"],
    ['salt', 'mq9hDxBVDbspDR6nLfFT1g==', 'expected no salt (@fastify/secure-session stretched secret with salt): secret is used as a key, never stretched, so give a random one of at least 32 bytes, from `npx fastify-typed-session secret`'],
    ['password', SECRET, "expected secret instead (iron-session's password): a key of at least 32 bytes"],
    ['keys', [SECRET], "expected secret instead (cookie-session's keys)"],
    ['ttl', 1209600, 'expected maxAge instead, in seconds'],
    ['ttl', 1209600, "in store mode the record's TTL"],
    ['expiry', 86400, "expected maxAge instead, in seconds (@fastify/secure-session's expiry)"],
    ['expires', new Date(), 'expected maxAge instead, in seconds'],
    ['cookieOptions', { secure: true }, 'expected cookie instead (the cookieOptions of @fastify/secure-session and iron-session) for the attributes, and the top-level maxAge, in seconds, for the lifetime'],
    ['rolling', true, "expected refreshEachRequest instead (@fastify/session's rolling)"],
    ['saveUninitialized', false, 'expected nothing in its place (@fastify/session\'s saveUninitialized): a new session that stays empty never sets a cookie, as with saveUninitialized: false'],
    ['resave', false, "expected nothing in its place (express-session's resave)"],
    ['name', 'sid', "expected cookieName instead (express-session's name)"],
    ['sessionName', 'session', 'the session is always request.session'],
    ['idGenerator', () => 'id', 'a session id is 32 random bytes from node:crypto'],
    ['algorithm', 'sha256', "expected nothing in its place (@fastify/session's algorithm)"],
    ['secure', true, 'expected cookie.secure instead'],
    ['sameSite', 'strict', 'expected cookie.sameSite instead'],
    ['path', '/', 'expected cookie.path instead'],
    ['domain', 'example.com', 'expected cookie.domain instead'],
    ['httpOnly', true, 'expected cookie.httpOnly instead'],
    ['partitioned', true, 'expected cookie.partitioned instead']
  ]
  for (const [option, value, text] of cases) {
    const err = await rejection(t, register({ secret: SECRET, [option]: value }))
    t.equal(err.code, 'FST_ERR_SESSION_INVALID_OPTION', option)
    t.ok(err instanceof TypeError, `${option}: a TypeError`)
    t.ok(err.message.startsWith(`Invalid option ${option}: expected `), `${option}: names the option`)
    t.match(err.message, text, `${option}: says what to write instead`)
    t.ok(err.message.endsWith(`, received "${option}"`), `${option}: shows the name, never the value (a key stays out of the logs)`)
  }
  const inStoreMode = await rejection(t, register({ secret: SECRET, store, ttl: 60 }))
  t.match(inStoreMode.message, 'Invalid option ttl: expected maxAge instead, in seconds', 'the same in store mode')
})

t.test('a lifetime in the cookie attributes is refused, pointing to the top-level maxAge in seconds', async (t) => {
  const cases: Array<[string, unknown, string]> = [
    ['maxAge', 86400000, "the top-level maxAge instead, in seconds (@fastify/session's cookie.maxAge is in milliseconds)"],
    ['expires', new Date(), "the top-level maxAge instead, in seconds: a permanent session's cookie gets Expires and Max-Age from it"],
    ['signed', true, 'nothing in its place: the cookie is always signed or encrypted, as format says']
  ]
  for (const [attribute, value, text] of cases) {
    const err = await rejection(t, register({ secret: SECRET, cookie: { [attribute]: value } }))
    t.equal(err.code, 'FST_ERR_SESSION_INVALID_OPTION', attribute)
    t.ok(err instanceof TypeError, `${attribute}: a TypeError`)
    t.equal(err.message, `Invalid option cookie.${attribute}: expected ${text}, received "${attribute}"`)
  }
})

t.test('a maxAge or absoluteTimeout over ten years is refused as milliseconds, saying the unit is seconds', async (t) => {
  const TEN_YEARS = 315360000
  for (const option of ['maxAge', 'absoluteTimeout']) {
    for (const value of [TEN_YEARS + 1, 2678400000, Number.MAX_SAFE_INTEGER]) {
      const err = await rejection(t, register({ secret: SECRET, [option]: value }))
      t.equal(err.code, 'FST_ERR_SESSION_INVALID_OPTION', `${option} ${value}`)
      t.ok(err instanceof TypeError, `${option} ${value}: a TypeError`)
      t.equal(err.message, `Invalid option ${option}: expected seconds, not milliseconds: at most ${TEN_YEARS} (ten years), such as 2678400 for 31 days, received ${value}`)
    }
    t.equal(normalizeOptions({ secret: SECRET, [option]: TEN_YEARS }).options[option as 'maxAge'], TEN_YEARS, `${option} of exactly ten years is accepted`)
  }
  t.equal(normalizeOptions({ secret: SECRET, maxCookieSize: TEN_YEARS + 1 }).options.maxCookieSize, TEN_YEARS + 1, 'maxCookieSize, in bytes, has no such bound')
})

t.test('options that are not an object are refused', async (t) => {
  for (const given of [null, 'secret', 42, undefined]) {
    t.throws(() => normalizeOptions(given), { code: 'FST_ERR_SESSION_INVALID_OPTION', message: /^Invalid option options: expected an object, received / })
  }
})

t.test("format 'flask' refuses absoluteTimeout and accepts a short key with a warning", async (t) => {
  t.throws(() => normalizeOptions({ secret: SECRET, format: 'flask', absoluteTimeout: 60 }), {
    code: 'FST_ERR_SESSION_INVALID_OPTION',
    message: "Invalid option absoluteTimeout: expected 0 with format 'flask', whose cookie has no creation time, received 60"
  })
  t.equal(normalizeOptions({ secret: SECRET, format: 'flask', absoluteTimeout: 0 }).options.absoluteTimeout, 0)
  const { options, warnings } = normalizeOptions({ secret: ['dev', SECRET, 'short too'], format: 'flask' })
  t.same(options.secrets, [Buffer.from('dev'), Buffer.from(SECRET), Buffer.from('short too')])
  t.equal(warnings.length, 2)
  t.match(warnings[0], /^secret\[0\] is shorter than 32 bytes; format 'flask' accepts it/)
  t.match(warnings[1], /^secret\[2\] is shorter than 32 bytes/)
  t.throws(() => normalizeOptions({ secret: [SECRET, ''], format: 'flask' }), { code: 'FST_ERR_SESSION_WEAK_SECRET', message: /0 bytes at index 1/ },
    'an empty key is refused even for flask')
  t.throws(() => normalizeOptions({ secret: 'short' }), { code: 'FST_ERR_SESSION_WEAK_SECRET' }, "only format 'flask' warns")
  t.same(normalizeOptions({ secret: SECRET }).warnings, [])
})

t.test('a store with a format is refused: the cookie then carries only the session id', async (t) => {
  t.throws(() => normalizeOptions({ secret: SECRET, store, format: 'signed' }), {
    code: 'FST_ERR_SESSION_INVALID_OPTION',
    message: /^Invalid option format: expected no format with a store.*, received "signed"$/
  })
  t.equal(normalizeOptions({ secret: SECRET, store }).options.store, store, 'a store alone is accepted')
})

t.test('a bad config.session on a route is refused when the route is added', async (t) => {
  for (const [mode, shown] of [[true, 'true'], ['read-only', '"read-only"'], [null, 'null']] as const) {
    const err = await rejection(t, build({}, (app) => {
      app.get('/', { config: { session: mode as unknown as false } }, async () => 'ok')
    }))
    t.equal(err.code, 'FST_ERR_SESSION_INVALID_OPTION')
    t.equal(err.message, `Invalid option config.session of GET /: expected false or 'readonly', received ${shown}`)
  }
})

t.test('normalizeOptions resolves every default into a frozen object, and leaves the input alone', async (t) => {
  const given = { secret: SECRET, cookie: { path: '/app' } }
  const { options } = normalizeOptions(given)
  t.same(options, {
    secrets: [Buffer.from(SECRET)],
    cookieName: 'session',
    cookie: { path: '/app', domain: undefined, httpOnly: true, secure: 'auto', sameSite: 'lax', partitioned: false },
    maxAge: 2678400,
    absoluteTimeout: 0,
    refreshEachRequest: true,
    refreshAfter: 0,
    format: 'signed',
    maxCookieSize: 4093,
    maxChunks: 1,
    store: undefined,
    validate: undefined,
    schema: undefined,
    version: 0,
    migrate: undefined,
    revocation: undefined
  })
  t.ok(Object.isFrozen(options))
  t.ok(Object.isFrozen(options.cookie))
  t.ok(Object.isFrozen(options.secrets))
  t.same(given, { secret: SECRET, cookie: { path: '/app' } })
  t.equal(normalizeOptions({ secret: SECRET, maxCookieSize: 0 }).options.maxCookieSize, 0, 'maxCookieSize 0 turns the check off')
  t.equal(normalizeOptions({ secret: SECRET, format: 'encrypted' }).options.format, 'encrypted')
  const { revocation } = normalizeOptions({ secret: SECRET, revocation: { store, userKey: 'userId' } }).options
  t.same(revocation, { store, userKey: 'userId', cacheSeconds: 5 }, 'revocation: cacheSeconds defaults to 5')
  t.ok(Object.isFrozen(revocation))
  t.equal(normalizeOptions({ secret: SECRET, revocation: { store, userKey: 'userId', cacheSeconds: 0 } }).options.revocation?.cacheSeconds, 0)
})

t.test('sameSite is accepted in any capitalisation and resolved to lower case', async (t) => {
  for (const [given, resolved, attribute] of [['Strict', 'strict', 'SameSite=Strict'], ['LAX', 'lax', 'SameSite=Lax'], ['NONE', 'none', 'SameSite=None']] as const) {
    t.equal(normalizeOptions({ secret: SECRET, cookie: { sameSite: given } }).options.cookie.sameSite, resolved, given)
    const app = await build({ cookie: { sameSite: given } }, (app) => {
      app.get('/', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    })
    const header = setCookies(await app.inject('/'))[0] as string
    t.match(header, new RegExp(`; ${attribute}(;|$)`), `${given} gives ${attribute}`)
    await app.close()
  }
  t.equal(normalizeOptions({ secret: SECRET, cookie: { sameSite: 'sTrIcT' } }).options.cookie.sameSite, 'strict')
  t.equal(normalizeOptions({ secret: SECRET, cookie: { sameSite: false } }).options.cookie.sameSite, false)
})

t.test('good options are honoured', async (t) => {
  const NOW = 1_700_000_000
  const clock = freezeClock(NOW)
  t.teardown(clock.restore)
  const routes = (app: FastifyInstance): void => {
    app.get('/login', async (request) => {
      request.session.set('username', 'ada')
      request.session.permanent = (request.query as { permanent?: string }).permanent === '1'
      return 'ok'
    })
    app.get('/who', async (request) => request.session.get('username') ?? 'nobody')
  }
  const login = async (options: Partial<TypedSessionOptions>, url = '/login'): Promise<string> => {
    const app = await build(options, routes)
    const header = setCookies(await app.inject(url))
    await app.close()
    t.equal(header.length, 1)
    return header[0] as string
  }

  await t.test('the defaults: Path=/, HttpOnly, SameSite=Lax, no Domain, no Secure over http, no expiry', async (t) => {
    const header = await login({})
    t.match(header, /^session=[^;]+; Path=\/; HttpOnly; SameSite=Lax$/)
  })
  await t.test('cookieName names the cookie that is set and read', async (t) => {
    const app = await build({ cookieName: 'sid' }, routes)
    t.teardown(() => app.close())
    const res = await app.inject('/login')
    t.match(setCookies(res)[0], /^sid=/)
    const value = sessionCookie(res, 'sid') as string
    t.equal((await app.inject({ url: '/who', cookies: { sid: value } })).body, 'ada')
    t.equal((await app.inject({ url: '/who', cookies: { session: value } })).body, 'nobody', 'a cookie of another name is ignored')
  })
  await t.test('cookie.path', async (t) => {
    t.match(await login({ cookie: { path: '/app' } }), /; Path=\/app(;|$)/)
  })
  await t.test('cookie.domain', async (t) => {
    t.match(await login({ cookie: { domain: 'example.com' } }), /; Domain=example\.com(;|$)/)
  })
  await t.test('cookie.httpOnly false', async (t) => {
    t.notMatch(await login({ cookie: { httpOnly: false } }), /HttpOnly/i)
  })
  await t.test('cookie.secure true', async (t) => {
    t.match(await login({ cookie: { secure: true } }), /; Secure(;|$)/)
  })
  await t.test('cookie.partitioned', async (t) => {
    const header = await login({ cookie: { partitioned: true, secure: true } })
    t.match(header, /; Partitioned(;|$)/)
    t.match(header, /; Secure(;|$)/)
  })
  await t.test('cookie.sameSite false gives no SameSite attribute', async (t) => {
    t.notMatch(await login({ cookie: { sameSite: false } }), /SameSite/i)
  })
  await t.test('maxAge is the lifetime of a permanent cookie, as Max-Age and Expires', async (t) => {
    const header = await login({ maxAge: 100 }, '/login?permanent=1')
    t.match(header, '; Max-Age=100; ')
    t.match(header, `; Expires=${new Date((NOW + 100) * 1000).toUTCString()}`)
    t.notMatch(await login({ maxAge: 100 }), /Max-Age|Expires/, 'a non-permanent cookie has neither')
  })
  await t.test('maxAge is also the oldest signature accepted', async (t) => {
    const app = await build({ maxAge: 100 }, routes)
    t.teardown(() => app.close())
    const value = sessionCookie(await app.inject('/login')) as string
    clock.set(NOW + 100)
    t.equal((await app.inject({ url: '/who', cookies: { session: value } })).body, 'ada')
    clock.set(NOW + 101)
    t.equal((await app.inject({ url: '/who', cookies: { session: value } })).body, 'nobody')
    clock.set(NOW)
  })
  await t.test('refreshEachRequest false does not re-issue a permanent cookie that was only read', async (t) => {
    for (const refreshEachRequest of [true, false]) {
      const app = await build({ refreshEachRequest }, routes)
      const value = sessionCookie(await app.inject('/login?permanent=1')) as string
      clock.set(NOW + 10)
      const res = await app.inject({ url: '/who', cookies: { session: value } })
      clock.set(NOW)
      t.equal(res.body, 'ada')
      t.equal(setCookies(res).length, refreshEachRequest ? 1 : 0, `refreshEachRequest ${String(refreshEachRequest)}`)
      await app.close()
    }
  })
  await t.test('absoluteTimeout ends a session however often it is refreshed', async (t) => {
    const app = await build({ absoluteTimeout: 100 }, routes)
    t.teardown(() => app.close())
    let value = sessionCookie(await app.inject('/login?permanent=1')) as string
    for (const at of [NOW + 40, NOW + 80, NOW + 100]) {
      clock.set(at)
      const res = await app.inject({ url: '/who', cookies: { session: value } })
      t.equal(res.body, 'ada', `still valid at +${at - NOW} s`)
      value = sessionCookie(res) as string
    }
    clock.set(NOW + 101)
    t.equal((await app.inject({ url: '/who', cookies: { session: value } })).body, 'nobody', 'ended at +101 s')
    clock.set(NOW)
  })
  await t.test('validate can turn a loaded session into a new one', async (t) => {
    const seen: boolean[] = []
    const app = await build({
      validate: (session) => {
        seen.push(session.new)
        return session.get('username') !== 'ada'
      }
    }, routes)
    t.teardown(() => app.close())
    const value = sessionCookie(await app.inject('/login')) as string
    t.equal((await app.inject({ url: '/who', cookies: { session: value } })).body, 'nobody')
    t.same(seen, [false], 'validate ran once, for the loaded session only')
  })
})
