/**
 * Property tests (fast-check): no cookie text makes a route fail, and any
 * value made of the supported types comes back from the cookie with its type.
 */
import { deepStrictEqual } from 'node:assert/strict'
import fc from 'fast-check'
import t from 'tap'
import { build, sessionCookie } from './helpers/build.js'

// FC_RUNS=2000 npx tap test/properties.test.ts runs a longer search.
const RUNS = Number(process.env.FC_RUNS ?? 100)
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

t.test('any string sent as the cookie gives a 200 with a new session, and nothing logged at warn or above', async (t) => {
  const logs: Array<Record<string, unknown>> = []
  const app = await build({}, (app) => {
    app.get('/', async (request) => {
      const counter = request.session.get('counter', 0) + 1
      request.session.set('counter', counter)
      return { new: request.session.new, counter }
    })
  }, logs)
  t.teardown(() => app.close())

  const b64 = (min: number, max: number): fc.Arbitrary<string> =>
    fc.string({ unit: fc.constantFrom(...BASE64URL), minLength: min, maxLength: max })
  const base36 = fc.integer({ min: 0, max: 2 ** 40 }).map((n) => n.toString(36))
  const anyText = fc.oneof(
    fc.string({ unit: 'binary' }),
    fc.string({ unit: 'binary-ascii' }),
    fc.string({ unit: 'grapheme', maxLength: 40 })
  )
  // Texts shaped like the signed format, so that the checks past the shape
  // (times, signature length, HMAC) are reached too.
  const dotted = fc.oneof(
    fc.array(fc.oneof(b64(0, 60), anyText), { minLength: 1, maxLength: 7 }).map((parts) => parts.join('.')),
    fc.tuple(fc.constantFrom('2', '2p', '2z', '2pz', '1', ''), b64(0, 200), base36, base36, b64(43, 43))
      .map((parts) => parts.join('.'))
  )
  const value = fc.oneof(anyText, dotted)

  await fc.assert(fc.asyncProperty(value, fc.boolean(), async (text, twice) => {
    logs.length = 0
    const cookie = twice ? `session=${text}; session=${text}x` : `session=${text}`
    const res = await app.inject({ url: '/', headers: { cookie } })
    deepStrictEqual(res.statusCode, 200)
    deepStrictEqual(res.json(), { new: true, counter: 1 })
    deepStrictEqual(logs.filter((line) => (line.level as number) >= 40), [])
  }), { numRuns: RUNS * 3 })

  // The whole Cookie header may be anything, too.
  await fc.assert(fc.asyncProperty(anyText, async (header) => {
    const res = await app.inject({ url: '/', headers: { cookie: header } })
    deepStrictEqual(res.statusCode, 200)
    deepStrictEqual(res.json().counter, 1)
  }), { numRuns: RUNS })
})

/** A string of any code points, lone surrogates included (JSON escapes them). */
const text = fc.string({
  unit: fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
    { weight: 1, arbitrary: fc.constantFrom('~', '"', '\\', '.', '_flashes') }
  ),
  maxLength: 8
})
/** Object keys: anything but the two that can never be kept. */
const key = fc.oneof(text, text.map((k) => `~${k}`)).filter((k) => k !== '__proto__' && k !== 'constructor')

const { value: supported } = fc.letrec<{ value: unknown, leaf: unknown }>((tie) => ({
  leaf: fc.oneof(
    text,
    fc.boolean(),
    fc.constant(null),
    fc.integer(),
    fc.double(), // NaN, Infinity, -Infinity and -0 included
    fc.constantFrom(NaN, Infinity, -Infinity, -0),
    fc.bigInt(),
    fc.date({ noInvalidDate: true }),
    fc.uint8Array({ maxLength: 12 }),
    fc.uint8Array({ maxLength: 12 }).map((bytes) => Buffer.from(bytes))
  ),
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    tie('leaf'),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.array(fc.option(tie('value'), { nil: undefined }), { maxLength: 4 }), // undefined in arrays
    fc.dictionary(key, tie('value'), { maxKeys: 4, noNullPrototype: true }),
    // Objects that look like tags: a single key that starts with "~".
    fc.tuple(fc.constantFrom('~d', '~b', '~n', '~m', '~s', '~f', '~u', '~o', '~', '~~', '~q'), tie('value'))
      .map(([k, v]) => ({ [k]: v })),
    fc.map(tie('value'), tie('value'), { maxKeys: 3 }),
    fc.set(tie('value'), { maxLength: 3 })
  )
}))

/** What a value should come back as: a Uint8Array becomes a Buffer, and nothing else changes. */
function expected (value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.isBuffer(value) ? value : Buffer.from(value)
  if (Array.isArray(value)) return value.map(expected)
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [expected(k), expected(v)]))
  if (value instanceof Set) return new Set([...value].map(expected))
  if (value instanceof Date || value === null || typeof value !== 'object') return value
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expected(v)]))
}

t.test('any value made of the supported types round-trips through the cookie with its type', async (t) => {
  let pending: unknown
  let received: unknown = Symbol('nothing yet')
  const app = await build({ maxCookieSize: 0 }, (app) => {
    app.get('/set', async (request) => {
      request.session.set('value', pending)
      return 'ok'
    })
    app.get('/get', async (request) => {
      received = request.session.get('value')
      return { new: request.session.new }
    })
  })
  t.teardown(() => app.close())

  await fc.assert(fc.asyncProperty(supported, async (value) => {
    pending = value
    const set = await app.inject('/set')
    deepStrictEqual(set.statusCode, 200)
    const cookie = sessionCookie(set) as string
    const get = await app.inject({ url: '/get', headers: { cookie: `session=${cookie}` } })
    deepStrictEqual(get.json(), { new: false }, `the cookie of ${cookie.length} characters is accepted`)
    // Strict deep equality: prototypes, Map/Set contents, Buffer vs Uint8Array,
    // and Object.is for numbers (so NaN equals NaN and -0 differs from 0).
    deepStrictEqual(received, expected(value))
  }), { numRuns: RUNS })
})

t.test('a value of every supported type comes back with its type', async (t) => {
  let received: Record<string, unknown> = {}
  const value = {
    json: { a: [1, 'two', true, null], b: { c: 'd' } },
    date: new Date(1700000000123),
    buffer: Buffer.from([0, 255]),
    bytes: new Uint8Array([1, 2, 3]),
    big: 2n ** 70n,
    map: new Map<unknown, unknown>([['k', new Set([1])], [1, 'one']]),
    set: new Set(['x', 2]),
    nan: NaN,
    inf: -Infinity,
    negZero: -0,
    holes: [1, undefined, 3],
    tagLike: { '~d': 5 }
  }
  const app = await build({}, (app) => {
    app.get('/set', async (request) => {
      request.session.set('value', value)
      return 'ok'
    })
    app.get('/get', async (request) => {
      received = request.session.get('value') as Record<string, unknown>
      return 'ok'
    })
  })
  t.teardown(() => app.close())
  const cookie = sessionCookie(await app.inject('/set')) as string
  await app.inject({ url: '/get', cookies: { session: cookie } })
  t.same(received, { ...value, bytes: Buffer.from([1, 2, 3]) })
  t.ok(received.date instanceof Date)
  t.equal((received.date as Date).getTime(), 1700000000123, 'to the millisecond')
  t.ok(Buffer.isBuffer(received.buffer))
  t.ok(Buffer.isBuffer(received.bytes), 'a Uint8Array comes back as a Buffer')
  t.equal(typeof received.big, 'bigint')
  t.equal(received.big, 2n ** 70n)
  t.ok(received.map instanceof Map)
  t.ok((received.map as Map<unknown, unknown>).get('k') instanceof Set)
  t.equal((received.map as Map<unknown, unknown>).get(1), 'one')
  t.ok(received.set instanceof Set)
  t.ok(Number.isNaN(received.nan))
  t.equal(received.inf, -Infinity)
  t.ok(Object.is(received.negZero, -0), '-0 stays -0')
  t.equal((received.holes as unknown[]).length, 3)
  t.ok(1 in (received.holes as unknown[]) && (received.holes as unknown[])[1] === undefined)
  t.same(received.tagLike, { '~d': 5 })
  t.equal(Object.getPrototypeOf(received.tagLike), Object.prototype)
})
