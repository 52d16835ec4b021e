/**
 * Property test (fast-check) of the `schema` option in cookie mode: any data
 * of the supported types either passes the schema and loads exactly as it
 * was written, or is rejected whole (an empty new session and one debug
 * line); it is never half loaded. A save of the same data either succeeds
 * or fails with FST_ERR_SESSION_INVALID_DATA.
 *
 * The verdict each case expects is not Ajv's: `passes` below decides it
 * from the schema's meaning, written out by hand.
 */
import { deepStrictEqual, equal } from 'node:assert/strict'
import fc from 'fast-check'
import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import { Type } from 'typebox'
import typedSession, { type Session } from '../lib/index.js'
import { SECRET, sessionCookie } from './helpers/build.js'

// FC_RUNS=2000 npx tap test/schema-properties.test.ts runs a longer search.
const RUNS = Number(process.env.FC_RUNS ?? 100)

const Schema = Type.Object({
  name: Type.String(),
  count: Type.Optional(Type.Number()),
  flag: Type.Optional(Type.Boolean()),
  note: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  list: Type.Optional(Type.Array(Type.Number())),
  user: Type.Optional(Type.Object({ id: Type.Integer() }, { additionalProperties: false })),
  when: Type.Optional(Type.Unsafe<Date>({ instanceof: 'Date' })),
  bytes: Type.Optional(Type.Unsafe<Buffer>({ instanceof: 'Buffer' })),
  big: Type.Optional(Type.Unsafe<bigint>({ typeof: 'bigint' })),
  prefs: Type.Optional(Type.Unsafe<Map<unknown, unknown>>({ instanceof: 'Map' })),
  tags: Type.Optional(Type.Unsafe<Set<unknown>>({ instanceof: 'Set' }))
}, { additionalProperties: false })

type Anything = Record<string, unknown>

/** Ajv's `type: 'number'` under its default `strictNumbers`: NaN and the infinities are not numbers. */
function isNumber (value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value)
}

/** JSON Schema's `type: 'object'`, as Ajv tests it: any object but null and an array. */
function isObject (value: unknown): value is Anything {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** The test of each key of the schema, on the value as it loads (a Uint8Array loads as a Buffer). */
const RULES: Readonly<Record<string, (value: unknown) => boolean>> = {
  name: (value) => typeof value === 'string',
  count: isNumber,
  flag: (value) => typeof value === 'boolean',
  note: (value) => value === null || typeof value === 'string',
  list: (value) => Array.isArray(value) && value.every(isNumber),
  user: (value) => isObject(value) && Object.keys(value).every((k) => k === 'id') &&
    isNumber(value.id) && Number.isInteger(value.id),
  when: (value) => value instanceof Date,
  bytes: (value) => Buffer.isBuffer(value),
  big: (value) => typeof value === 'bigint',
  prefs: (value) => value instanceof Map,
  tags: (value) => value instanceof Set
}

/** The schema's verdict, by hand: empty data always passes; else `name` is required, and no other key. */
function passes (data: Anything): boolean {
  const keys = Object.keys(data)
  if (keys.length === 0) return true
  if (!('name' in data)) return false
  return keys.every((key) => RULES[key]?.(data[key]) === true)
}

/** A string of any code points, lone surrogates included. */
const text = fc.string({
  unit: fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) }
  ),
  maxLength: 6
})
const number = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, -0, 0))

/** Any value of the supported types. */
const { value: anyValue } = fc.letrec<{ value: unknown, leaf: unknown }>((tie) => ({
  leaf: fc.oneof(
    text,
    fc.boolean(),
    fc.constant(null),
    number,
    fc.bigInt(),
    fc.date({ noInvalidDate: true }),
    fc.uint8Array({ maxLength: 6 }),
    fc.uint8Array({ maxLength: 6 }).map((bytes) => Buffer.from(bytes))
  ),
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 2 },
    tie('leaf'),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.array(fc.option(tie('value'), { nil: undefined }), { maxLength: 3 }),
    fc.dictionary(fc.oneof(text, fc.constant('id')), tie('value'), { maxKeys: 3, noNullPrototype: true }),
    fc.map(tie('value'), tie('value'), { maxKeys: 2 }),
    fc.set(tie('value'), { maxLength: 2 })
  )
}))

/** Values that a coercing validator would turn into fitting ones: the check must refuse them as they are. */
const coercible = fc.oneof(
  fc.constantFrom('5', '-0', '1.5', 'true', 'false', '', 'null', 0, 1, true, false, null),
  fc.constantFrom(['5'], [1, '2'], { id: '5' }, { id: 1, role: 'x' })
)

/** Values that pass each key's rule, so that about as many cases pass as fail. */
const fitting: Record<string, fc.Arbitrary<unknown>> = {
  name: text,
  count: number,
  flag: fc.boolean(),
  note: fc.option(text, { nil: null }),
  list: fc.array(number, { maxLength: 3 }),
  user: fc.oneof(fc.record({ id: fc.oneof(fc.integer(), number) }), fc.dictionary(fc.constantFrom('id', 'role'), number)),
  when: fc.date({ noInvalidDate: true }),
  bytes: fc.oneof(fc.uint8Array({ maxLength: 6 }), fc.uint8Array({ maxLength: 6 }).map((b) => Buffer.from(b))),
  big: fc.bigInt(),
  prefs: fc.map(text, anyValue, { maxKeys: 2 }),
  tags: fc.set(anyValue, { maxLength: 2 })
}

/**
 * Session data: built from fitting values (most of which pass, but not
 * all: a NaN count, a fractional id, a user with a role), with one of them
 * replaced by a coercible value or not; or any value at each key, an
 * unknown key included, with `name` there or not; or nothing.
 */
const data: fc.Arbitrary<Anything> = fc.oneof(
  fc.record(fitting, { requiredKeys: ['name'] }),
  // One key made coercible, the others fitting: a coercing or rewriting check would let it pass.
  fc.tuple(fc.record(fitting, { requiredKeys: ['name'] }), fc.constantFrom(...Object.keys(fitting)), coercible)
    .map(([record, key, value]) => ({ ...record, [key]: value })),
  fc.record(
    Object.fromEntries(Object.entries(fitting).map(([key, fits]) => [key, fc.oneof(fits, anyValue)]).concat([['extra', anyValue]])),
    { requiredKeys: [] }
  ),
  fc.constant({})
)

/** What a value loads as: a Uint8Array as a Buffer, and nothing else changes. */
function loaded (value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.isBuffer(value) ? value : Buffer.from(value)
  if (Array.isArray(value)) return value.map(loaded)
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [loaded(k), loaded(v)]))
  if (value instanceof Set) return new Set([...value].map(loaded))
  if (value instanceof Date || value === null || typeof value !== 'object') return value
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, loaded(v)]))
}

for (const format of ['signed', 'encrypted'] as const) {
  t.test(`${format}: data either passes the schema and loads as written, or is rejected whole`, async (t) => {
    const logs: Array<Record<string, unknown>> = []
    let received: Anything = {}
    let pending: Anything = {}
    const app = Fastify({ logger: { level: 'debug', stream: { write: (line: string) => { logs.push(JSON.parse(line) as Record<string, unknown>) } } } })
    await app.register(typedSession, { secret: SECRET, format, schema: Schema, maxCookieSize: 0 })
    app.get('/read', async (request) => {
      const session = request.session as unknown as Session<Anything>
      received = Object.fromEntries(session.entries())
      return { new: session.new, keys: [...session.keys()] }
    })
    app.get('/write', async (request) => {
      (request.session as unknown as Session<Anything>).update(pending)
      return 'ok'
    })
    await app.ready()
    t.teardown(() => app.close())
    // The same secret and format, without a schema: it signs (or seals) whatever it is given.
    const twin: FastifyInstance = Fastify()
    await twin.register(typedSession, { secret: SECRET, format })
    await twin.ready()
    t.teardown(() => twin.close())

    const verdicts = { passed: 0, rejected: 0 }
    await fc.assert(fc.asyncProperty(data, async (written) => {
      const expected = loaded(written) as Anything
      const pass = passes(expected)
      verdicts[pass ? 'passed' : 'rejected']++

      logs.length = 0
      received = {}
      const res = await app.inject({ url: '/read', cookies: { session: await twin.sessions.encode(written as never) } })
      equal(res.statusCode, 200)
      const debug = logs.filter((line) => line.level === 20)
      if (pass) {
        deepStrictEqual(res.json(), { new: false, keys: Object.keys(written) })
        // Strict: prototypes, Map and Set contents, Buffer, bigint, -0 and NaN (Object.is).
        deepStrictEqual(received, expected)
        deepStrictEqual(debug, [])
      } else {
        deepStrictEqual(res.json(), { new: true, keys: [] }, 'rejected whole, never half loaded')
        deepStrictEqual(received, {})
        equal(debug.length, 1)
        equal(typeof debug[0]?.msg === 'string' && debug[0].msg.startsWith('session cookie rejected: the data fails the schema at /'), true)
      }

      // A save of the same data: written if it passes, a 500 if it does not. The
      // save checks the values the route holds: a Uint8Array is not a Buffer yet.
      pending = written
      const write = await app.inject('/write')
      if (passes(written)) {
        equal(write.statusCode, 200)
        if (Object.keys(written).length > 0) {
          await app.inject({ url: '/read', cookies: { session: sessionCookie(write) as string } })
          deepStrictEqual(received, expected)
        }
      } else {
        equal(write.statusCode, 500)
        equal(write.json().code, 'FST_ERR_SESSION_INVALID_DATA')
        equal(sessionCookie(write), undefined)
      }
    }), { numRuns: RUNS })
    // Both sides of the property were exercised.
    t.ok(verdicts.passed >= RUNS / 10, `${verdicts.passed} cases passed the schema`)
    t.ok(verdicts.rejected >= RUNS / 10, `${verdicts.rejected} cases were rejected`)
  })
}
