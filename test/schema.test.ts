/**
 * The `schema`, `version` and `migrate` options in cookie mode (signed and
 * encrypted formats): checked at registration, compiled with the app's own
 * Ajv options but without coercion, defaults or removal, checked on load
 * (a failing session is a bad cookie: an empty session and one debug line),
 * on save (FST_ERR_SESSION_INVALID_DATA), and once per cookie value; older
 * sessions migrated once and saved under the new version, newer ones refused.
 *
 * The cookies that fail the schema are made by a twin app: the same secret
 * and format, but no schema, so that they are signed (or sealed) with the
 * right key over data the app under test must refuse.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import t, { type Test } from 'tap'
import { Type, type Static } from 'typebox'
import typedSession, { type Session, type TypedSessionOptions } from '../lib/index.js'
import { signedCodec } from '../lib/codecs/signed.js'
import { serverAjvOptions } from '../lib/schema.js'
import { freezeClock, SECRET, sessionCookie, setCookies } from './helpers/build.js'

const NOW = 1_700_000_000
const clockControl = freezeClock(NOW)
t.teardown(clockControl.restore)

type Format = 'signed' | 'encrypted'
const FORMATS: readonly Format[] = ['signed', 'encrypted']
/** The head of a cookie value of each format, for a version and permanence. */
const HEAD: Record<Format, (suffix: string, permanent?: boolean) => string> = {
  signed: (suffix, permanent = false) => `2${permanent ? 'p' : ''}${suffix}`,
  encrypted: (suffix, permanent = false) => `e2${permanent ? 'p' : ''}${suffix}`
}

const User = Type.Object({ id: Type.Number(), name: Type.String() }, { additionalProperties: false })
/** The schema most tests use: a required user, and one optional key of each tagged type. */
const Schema = Type.Object({
  user: User,
  when: Type.Optional(Type.Unsafe<Date>({ instanceof: 'Date' })),
  bytes: Type.Optional(Type.Unsafe<Buffer>({ instanceof: 'Buffer' })),
  big: Type.Optional(Type.Unsafe<bigint>({ typeof: 'bigint' })),
  prefs: Type.Optional(Type.Unsafe<Map<string, string>>({ instanceof: 'Map' })),
  tags: Type.Optional(Type.Unsafe<Set<string>>({ instanceof: 'Set' }))
}, { additionalProperties: false })
type Data = Static<typeof Schema>
const GOOD: Data = { user: { id: 1, name: 'ada' } }

type Line = Record<string, unknown>
/** Fastify's `ajv.plugins` server option, and the Ajv instance its plugins receive. */
type AjvPlugins = NonNullable<NonNullable<FastifyServerOptions['ajv']>['plugins']>
type Ajv = Parameters<Extract<AjvPlugins[number], (...args: never[]) => unknown>>[0]
type Anything = Record<string, unknown>

/** The session with any keys: these tests write what the types would forbid. */
function untyped (session: Session): Session<Anything> {
  return session as unknown as Session<Anything>
}

/** An app with the plugin, its debug log lines, and the routes the tests drive. */
interface Harness {
  app: FastifyInstance
  logs: Line[]
  /** What `/write` writes. */
  pending: Anything
  /** What the last `/read` (or `/readonly`) found in the session. */
  received: Anything | undefined
  /** Data that passes the app's schema, to show that the app keeps serving. */
  good: Anything
}

/**
 * Builds an app with the plugin (`options` over a secret), a logger at
 * debug level, and the routes: `/read`, `/readonly`, `/untouched`,
 * `/write`, `/clear`, `/flash`, `/flashes`. `before` runs before the plugin
 * is registered (to add shared schemas and routes of its own).
 */
async function harness (t: Test, options: Partial<TypedSessionOptions>, server: FastifyServerOptions = {},
  before: (app: FastifyInstance) => void = () => {}): Promise<Harness> {
  const logs: Line[] = []
  const app = Fastify({
    ...server,
    logger: { level: 'debug', stream: { write: (line: string) => { logs.push(JSON.parse(line) as Line) } } }
  })
  const h: Harness = { app, logs, pending: {}, received: undefined, good: GOOD }
  before(app)
  await app.register(typedSession, { secret: SECRET, ...options } as TypedSessionOptions)
  const read = async (request: { session: Session }): Promise<{ new: boolean, keys: string[] }> => {
    const session = untyped(request.session)
    h.received = Object.fromEntries(session.entries())
    return { new: session.new, keys: [...session.keys()] }
  }
  app.get('/read', read)
  app.get('/readonly', { config: { session: 'readonly' } }, read)
  app.get('/untouched', async () => 'ok')
  app.get('/write', async (request) => {
    untyped(request.session).update(h.pending)
    return 'ok'
  })
  app.get('/clear', async (request) => {
    request.session.clear()
    return 'ok'
  })
  app.get('/flash', async (request) => {
    request.session.flash('hello')
    return 'ok'
  })
  app.get('/flashes', async (request) => request.session.getFlashedMessages())
  await app.ready()
  t.teardown(() => app.close())
  return h
}

/** An app without a schema, with the same secret: it signs (or seals) any data, under `version`. */
async function twin (t: Test, format: Format, version = 0): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(typedSession, { secret: SECRET, format, version })
  await app.ready()
  t.teardown(() => app.close())
  return app
}

/** The debug lines logged so far. */
function debugLines (h: Harness): Line[] {
  return h.logs.filter((line) => line.level === 20)
}

/** The head of a cookie value: what comes before its first dot. */
function head (value: string | undefined): string | undefined {
  return value?.slice(0, value.indexOf('.'))
}

/**
 * Sends `cookie` to `/read` and checks that it was rejected as a bad
 * cookie: a 200, an empty new session, no cookie set, exactly one debug
 * line matching `reason`, nothing at warn or above; and the app keeps
 * serving a good cookie afterwards.
 */
async function rejects (t: Test, h: Harness, cookie: string, reason: RegExp, url = '/read'): Promise<void> {
  h.logs.length = 0
  const res = await h.app.inject({ url, cookies: { session: cookie } })
  t.equal(res.statusCode, 200, 'a 200')
  t.same(res.json(), { new: true, keys: [] }, 'an empty new session')
  t.same(setCookies(res), [], 'no cookie is set')
  const debug = debugLines(h)
  t.equal(debug.length, 1, 'exactly one debug line')
  t.match(debug[0]?.msg, reason, 'the debug line names the path and keyword')
  t.same(h.logs.filter((line) => (line.level as number) >= 40), [], 'nothing at warn or above')
  const good = await h.app.sessions.encode(h.good as never)
  const after = await h.app.inject({ url: '/read', cookies: { session: good } })
  t.same(after.json(), { new: false, keys: Object.keys(h.good) }, 'the app keeps serving')
}

/** Registers the plugin with `options` and returns the error `ready()` rejects with. */
async function registrationError (options: Anything, server: FastifyServerOptions = {}): Promise<Error & { code?: string }> {
  const app = Fastify(server)
  try {
    await app.register(typedSession, { secret: SECRET, ...options } as never)
    await app.ready()
  } catch (err) {
    return err as Error
  } finally {
    await app.close()
  }
  throw new Error(`registration with ${Object.keys(options).join(', ')} did not fail`)
}

t.test('registration', async (t) => {
  t.test('a schema that Ajv cannot compile is refused with Ajv\'s message', async (t) => {
    const cases: Array<[object, RegExp]> = [
      [{ type: 'object', properties: { a: { $ref: '#/definitions/missing' } } }, /Ajv says: can't resolve reference #\/definitions\/missing from id #/],
      [{ type: 'nope' }, /Ajv says: schema is invalid: data\/type must be equal to one of the allowed values/],
      [{ type: 'object', properties: { a: { instanceof: 'RegExp' } } }, /Ajv says: keyword "instanceof" value is invalid/],
      [{ type: 'object', properties: { a: { typeof: 'integer' } } }, /Ajv says: keyword "typeof" value is invalid/],
      [Type.Object({ user: Type.Ref('nobody') }), /Ajv says: can't resolve reference nobody/]
    ]
    for (const [schema, message] of cases) {
      const err = await registrationError({ schema })
      t.equal(err.code, 'FST_ERR_SESSION_INVALID_OPTION')
      t.match(err.message, /^Invalid option schema: expected a JSON Schema that Ajv compiles \(Ajv says: /)
      t.match(err.message, message)
    }
  })

  t.test('a schema that is not an object is refused', async (t) => {
    for (const [schema, shown] of [['object', '"object"'], [42, '42'], [true, 'true'], [null, 'null'], [[], 'an array of 0'], [() => ({}), 'a function']] as const) {
      const err = await registrationError({ schema })
      t.equal(err.code, 'FST_ERR_SESSION_INVALID_OPTION')
      t.equal(err.message, `Invalid option schema: expected a JSON Schema object, such as TypeBox's Type.Object(...), received ${shown}`)
    }
  })

  t.test('an $async schema is refused: a session is checked synchronously', async (t) => {
    const err = await registrationError({ schema: { $async: true, type: 'object' } })
    t.equal(err.code, 'FST_ERR_SESSION_INVALID_OPTION')
    t.equal(err.message, 'Invalid option schema: expected a synchronous JSON Schema, without $async, received an object')
  })

  t.test('a version that is not a whole number from 0 to 2^31-1 is refused', async (t) => {
    for (const [version, shown] of [[1.5, '1.5'], [-1, '-1'], [2 ** 31, '2147483648'], ['1', '"1"'], [NaN, 'NaN'], [Infinity, 'Infinity'], [null, 'null'], [1n, '1']] as const) {
      const err = await registrationError({ version })
      t.equal(err.code, 'FST_ERR_SESSION_INVALID_OPTION', String(version))
      t.equal(err.message, `Invalid option version: expected a whole number from 0 to 2147483647, received ${shown}`)
    }
    const app = Fastify()
    await app.register(typedSession, { secret: SECRET, version: 2 ** 31 - 1 })
    await app.ready()
    await app.close()
    t.pass('2^31-1 is accepted')
  })

  t.test('a migrate that is not a function, or without a version of 1 or more, is refused', async (t) => {
    let err = await registrationError({ version: 1, migrate: 'upgrade' })
    t.equal(err.code, 'FST_ERR_SESSION_INVALID_OPTION')
    t.equal(err.message, 'Invalid option migrate: expected a function, received "upgrade"')
    for (const options of [{ migrate: (data: Anything) => data }, { version: 0, migrate: (data: Anything) => data }]) {
      err = await registrationError(options)
      t.equal(err.code, 'FST_ERR_SESSION_INVALID_OPTION')
      t.equal(err.message, 'Invalid option migrate: expected a version of 1 or more beside it: migrate runs on sessions written under an older version, received a function')
    }
  })

  t.test('format flask refuses version (any value) and migrate, and accepts schema', async (t) => {
    for (const version of [0, 1, 7]) {
      const err = await registrationError({ format: 'flask', version })
      t.equal(err.code, 'FST_ERR_SESSION_INVALID_OPTION')
      t.equal(err.message, `Invalid option version: expected no version with format 'flask', whose cookie a Flask app rewrites without it, received ${version}`)
    }
    for (const options of [{ migrate: (data: Anything) => data }, { version: 1, migrate: (data: Anything) => data }]) {
      const err = await registrationError({ format: 'flask', ...options })
      t.equal(err.code, 'FST_ERR_SESSION_INVALID_OPTION')
      t.match(err.message, /^Invalid option (migrate|version): expected no (migrate|version) with format 'flask'/)
    }
    const err = await registrationError({ format: 'flask', migrate: (data: Anything) => data })
    t.equal(err.message, "Invalid option migrate: expected no migrate with format 'flask', whose cookie keeps no version, received a function")

    // The schema is applied to Flask cookies too.
    const h = await harness(t, { format: 'flask', schema: Schema })
    h.pending = { user: { id: 2, name: 'grace' } }
    const written = sessionCookie(await h.app.inject('/write')) as string
    t.same((await h.app.inject({ url: '/read', cookies: { session: written } })).json(), { new: false, keys: ['user'] })
    const flaskTwin = Fastify()
    await flaskTwin.register(typedSession, { secret: SECRET, format: 'flask' })
    await flaskTwin.ready()
    t.teardown(() => flaskTwin.close())
    await rejects(t, h, await flaskTwin.sessions.encode({ user: { id: '2', name: 'x' } } as never), /the data fails the schema at \/user\/id \(type: must be number\)/)
  })
})

t.test('the schema is compiled with the app\'s own ajv options', async (t) => {
  t.test('a format from ajv-formats, which Fastify adds, is checked', async (t) => {
    const h = await harness(t, { schema: Type.Object({ email: Type.String({ format: 'email' }) }) })
    const other = await twin(t, 'signed')
    const good = await h.app.inject({ url: '/read', cookies: { session: await other.sessions.encode({ email: 'ada@example.com' } as never) } })
    t.same(good.json(), { new: false, keys: ['email'] })
    h.logs.length = 0
    const res = await h.app.inject({ url: '/read', cookies: { session: await other.sessions.encode({ email: 'not an address' } as never) } })
    t.same(res.json(), { new: true, keys: [] })
    t.match(debugLines(h)[0]?.msg, /\/email \(format: must match format "email"\)/)
  })

  t.test('a format of the app\'s customOptions is checked', async (t) => {
    const h = await harness(t, { schema: Type.Object({ code: Type.String({ format: 'hex' }) }) },
      { ajv: { customOptions: { formats: { hex: /^[0-9a-f]+$/ } } } })
    h.pending = { code: 'beef' }
    t.equal((await h.app.inject('/write')).statusCode, 200)
    h.pending = { code: 'xyz' }
    const res = await h.app.inject('/write')
    t.equal(res.statusCode, 500)
    t.match(res.json().message, /\/code \(format: must match format "hex"\)/)
  })

  t.test('a keyword of an Ajv plugin of Fastify({ ajv: { plugins } }) is checked, in either form', async (t) => {
    const even = (ajv: Ajv, options: unknown): Ajv =>
      ajv.addKeyword({ keyword: (options as { keyword: string }).keyword, type: 'number', validate: (on: boolean, n: number) => !on || n % 2 === 0 })
    const schema = { type: 'object', properties: { n: { type: 'number', even: true } } }
    const h = await harness(t, { schema }, { ajv: { plugins: [[even, { keyword: 'even' }]] } })
    const other = await twin(t, 'signed')
    t.same((await h.app.inject({ url: '/read', cookies: { session: await other.sessions.encode({ n: 4 } as never) } })).json(), { new: false, keys: ['n'] })
    await rejects(t, h, await other.sessions.encode({ n: 3 } as never), /\/n \(even: must pass "even" keyword validation\)/)
    const plain = (ajv: Ajv): Ajv => even(ajv, { keyword: 'even' })
    const h2 = await harness(t, { schema }, { ajv: { plugins: [plain] } })
    h2.pending = { n: 3 }
    t.equal((await h2.app.inject('/write')).statusCode, 500)
  })

  t.test('an Ajv that already has instanceof and typeof keeps its own (as with ajv-keywords)', async (t) => {
    const used: string[] = []
    const own = (ajv: Ajv): Ajv => {
      ajv.addKeyword({ keyword: 'instanceof', compile: (name: string) => (value: unknown) => { used.push(`instanceof ${name}`); return value instanceof Date } })
      return ajv.addKeyword({ keyword: 'typeof', compile: (name: string) => (value: unknown) => { used.push(`typeof ${name}`); return typeof value === name } }) // eslint-disable-line valid-typeof
    }
    const h = await harness(t, {
      schema: Type.Object({ when: Type.Unsafe<Date>({ instanceof: 'Date' }), big: Type.Unsafe<bigint>({ typeof: 'bigint' }) })
    }, { ajv: { plugins: [own] } })
    h.pending = { when: new Date(0), big: 1n }
    t.equal((await h.app.inject('/write')).statusCode, 200)
    t.same(used, ['instanceof Date', 'typeof bigint'], 'the app\'s keywords ran')
  })

  t.test('with customOptions messages: false, the debug line names the path and keyword alone', async (t) => {
    const h = await harness(t, { schema: Schema }, { ajv: { customOptions: { messages: false } } })
    await rejects(t, h, await (await twin(t, 'signed')).sessions.encode({ user: { id: '1', name: 'ada' } } as never), /at \/user\/id \(type\)$/)
  })

  t.test('serverAjvOptions finds the ajv server option on the root instance, and {} when there is none', async (t) => {
    const app = Fastify({ ajv: { customOptions: { allErrors: false } } })
    t.teardown(() => app.close())
    t.match(serverAjvOptions(app), { customOptions: { allErrors: false } })
    t.same(serverAjvOptions({}), {}, 'an object that is not Fastify')
    t.same(serverAjvOptions({ [Symbol('fastify.options')]: {} }), {}, 'options without ajv')
  })

  t.test('a $ref to a schema of app.addSchema resolves', async (t) => {
    const h = await harness(t, { schema: Type.Object({ user: Type.Ref('user') }) }, {}, (app) => {
      app.addSchema({ $id: 'user', type: 'object', properties: { id: { type: 'number' } }, required: ['id'] })
    })
    const other = await twin(t, 'signed')
    t.same((await h.app.inject({ url: '/read', cookies: { session: await other.sessions.encode({ user: { id: 1 } } as never) } })).json(), { new: false, keys: ['user'] })
    await rejects(t, h, await other.sessions.encode({ user: {} } as never), /the data fails the schema at \/user\/id \(required: must have required property 'id'\)/)
  })

  for (const [title, server] of [
    ['Fastify\'s defaults', {}],
    ['customOptions that turn them on', { ajv: { customOptions: { coerceTypes: true, useDefaults: true, removeAdditional: 'all' } } }]
  ] as const) {
    t.test(`no coercion, no defaults and no removal, even with ${title}`, async (t) => {
      const schema = Type.Object({
        n: Type.Number(),
        label: Type.Optional(Type.String({ default: 'none' })),
        nested: Type.Optional(Type.Object({ label: Type.Optional(Type.String({ default: 'none' })) }))
      }, { additionalProperties: false })
      const h = await harness(t, { schema }, server as FastifyServerOptions, (app) => {
        app.post('/body', { schema: { body: { type: 'object', properties: { n: { type: 'number' } } } } }, async (request) => request.body)
      })
      // The same app's routes do coerce a body: the session's check does not.
      t.same((await h.app.inject({ method: 'POST', url: '/body', payload: { n: '5' } })).json(), { n: 5 }, 'a route body is coerced')

      const other = await twin(t, 'signed')
      h.good = { n: 5 }
      await t.test('a number string where a number is required fails', async (t) => {
        await rejects(t, h, await other.sessions.encode({ n: '5' } as never), /\/n \(type: must be number\)/)
      })
      await t.test('a default is not filled in', async (t) => {
        const res = await h.app.inject({ url: '/read', cookies: { session: await other.sessions.encode({ n: 5 } as never) } })
        t.same(res.json(), { new: false, keys: ['n'] })
        t.same(h.received, { n: 5 })
        const nested = await h.app.inject({ url: '/read', cookies: { session: await other.sessions.encode({ n: 5, nested: {} } as never) } })
        t.same(nested.json(), { new: false, keys: ['n', 'nested'] })
        t.same(h.received, { n: 5, nested: {} }, 'nor in a nested object')
        h.pending = { n: 6, nested: {} }
        const write = await h.app.inject('/write')
        await h.app.inject({ url: '/read', cookies: { session: sessionCookie(write) as string } })
        t.same(h.received, { n: 6, nested: {} }, 'nor by a save')
      })
      await t.test('an extra key under additionalProperties false fails, and is not dropped', async (t) => {
        // The whole session is refused, not just the extra key.
        await rejects(t, h, await other.sessions.encode({ n: 5, extra: 1 } as never), /\/extra \(additionalProperties: must NOT have additional properties\)/)
        h.pending = { n: 5, extra: 1 }
        const write = await h.app.inject('/write')
        t.equal(write.statusCode, 500, 'a save with the extra key fails')
        t.match(write.json().message, /\/extra \(additionalProperties/)
        h.pending = { n: '5' }
        t.equal((await h.app.inject('/write')).statusCode, 500, 'a save with a number string fails')
      })
    })
  }
})

/** The bad data of each case: what a twin app signs, and what the debug line must say. */
const BAD_DATA: Array<[string, Anything, RegExp]> = [
  ['a value of the wrong type', { user: { id: '1', name: 'ada' } }, /\/user\/id \(type: must be number\)/],
  ['a missing required key', { when: new Date(0) }, /\/user \(required: must have required property 'user'\)/],
  ['a missing required nested key', { user: { name: 'ada' } }, /\/user\/id \(required: must have required property 'id'\)/],
  ['an extra key under additionalProperties false', { user: GOOD.user, extra: 1 }, /\/extra \(additionalProperties/],
  ['an extra nested key under additionalProperties false', { user: { ...GOOD.user, role: 'admin' } }, /\/user\/role \(additionalProperties/],
  ['a string where a Date is required', { user: GOOD.user, when: '2024-01-01T00:00:00.000Z' }, /\/when \(instanceof/],
  ['a number where a Date is required', { user: GOOD.user, when: 0 }, /\/when \(instanceof/],
  ['a Buffer where a Date is required', { user: GOOD.user, when: Buffer.from('x') }, /\/when \(instanceof/],
  ['a string where a Buffer is required', { user: GOOD.user, bytes: 'AAEC' }, /\/bytes \(instanceof/],
  ['an array where a Buffer is required', { user: GOOD.user, bytes: [0, 1, 2] }, /\/bytes \(instanceof/],
  ['a Date where a Buffer is required', { user: GOOD.user, bytes: new Date(0) }, /\/bytes \(instanceof/],
  ['a plain object where a Map is required', { user: GOOD.user, prefs: { a: 'b' } }, /\/prefs \(instanceof/],
  ['a Set where a Map is required', { user: GOOD.user, prefs: new Set(['a']) }, /\/prefs \(instanceof/],
  ['an array where a Set is required', { user: GOOD.user, tags: ['a'] }, /\/tags \(instanceof/],
  ['a Map where a Set is required', { user: GOOD.user, tags: new Map([['a', 'b']]) }, /\/tags \(instanceof/],
  ['a number where a BigInt is required', { user: GOOD.user, big: 5 }, /\/big \(typeof/],
  ['a string where a BigInt is required', { user: GOOD.user, big: '5' }, /\/big \(typeof/]
]

t.test('the debug line and the save error name the failing path as a JSON Pointer', async (t) => {
  const h = await harness(t, {
    schema: Type.Object({ 'a/b~c': Type.Optional(Type.String()), user: Type.Optional(User) }, { maxProperties: 1 })
  })
  const other = await twin(t, 'signed')
  await rejects(t, h, await other.sessions.encode({ 'a/b~c': 1 } as never), /at \/a~1b~0c \(type: must be string\)$/)
  await rejects(t, h, await other.sessions.encode({ 'a/b~c': 'x', user: GOOD.user } as never), /at \/ \(maxProperties: must NOT have more than 1 properties\)$/)
  const h2 = await harness(t, { schema: Type.Object({}, { required: ['a/b'] }) })
  h2.pending = { other: 1 }
  const res = await h2.app.inject('/write')
  t.equal(res.json().message, "The session data fails the schema at /a~1b (required: must have required property 'a/b'), so it was not saved")
})

t.test('instanceof and typeof take an array of names', async (t) => {
  const h = await harness(t, {
    schema: Type.Object({
      at: Type.Unsafe<Date | Map<string, string>>({ instanceof: ['Date', 'Map'] }),
      id: Type.Unsafe<bigint | string>({ typeof: ['bigint', 'string'] }),
      raw: Type.Optional(Type.Unsafe<Uint8Array>({ instanceof: 'Uint8Array' }))
    })
  })
  h.good = { at: new Date(0), id: 1n }
  const other = await twin(t, 'signed')
  for (const data of [{ at: new Date(0), id: 1n }, { at: new Map(), id: 'x', raw: new Uint8Array([1]) }]) {
    t.same((await h.app.inject({ url: '/read', cookies: { session: await other.sessions.encode(data as never) } })).json().new, false)
  }
  await rejects(t, h, await other.sessions.encode({ at: new Set(), id: 'x' } as never), /at \/at \(instanceof/)
  await rejects(t, h, await other.sessions.encode({ at: new Date(0), id: 1 } as never), /at \/id \(typeof/)
})

/** A class, whose instances migrate may not return. */
class Point {
  x = 1
}

/** What a migrate returns in each case, and what the debug line must say. */
const BAD_MIGRATIONS: Array<[string, (data: Anything) => unknown, RegExp]> = [
  ['throws', () => { throw new Error('no way') }, /migrate threw for version 1 \(no way\)/],
  ['returns data failing the schema', (data) => ({ user: { id: String(data.id), name: 'ada' } }), /the data migrated from version 1 fails the schema at \/user\/id \(type: must be number\)/],
  ['returns data missing a required nested key', () => ({ user: { id: 1 } }), /the data migrated from version 1 fails the schema at \/user\/name \(required/],
  ['returns a number', () => 42, /migrate returned a number for version 1, not a plain object/],
  ['returns a string', () => 'user', /migrate returned a string for version 1, not a plain object/],
  ['returns undefined', () => undefined, /migrate returned undefined for version 1, not a plain object/],
  ['returns a function', () => () => GOOD, /migrate returned a function for version 1, not a plain object/],
  ['returns null', () => null, /migrate returned null for version 1, not a plain object/],
  ['returns an array', () => [GOOD], /migrate returned an array for version 1, not a plain object/],
  ['returns a class instance', () => new Point(), /migrate returned an object that is not plain for version 1, not a plain object/],
  ['returns a Date', () => new Date(0), /migrate returned an object that is not plain for version 1, not a plain object/],
  ['returns a Map', () => new Map([['user', GOOD.user]]), /migrate returned an object that is not plain for version 1, not a plain object/],
  ['returns a Promise (async)', async () => GOOD, /migrate returned a Promise for version 1, not a plain object/]
]

/** Migrations whose result passes a loose schema but cannot be kept in a session. */
const UNKEEPABLE: Array<[string, (data: Anything) => unknown, RegExp]> = [
  ['a function', () => ({ user: GOOD.user, fn: () => 1 }), /the data migrated from version 1 cannot be kept \(.*fn/],
  ['a nested function', () => ({ user: { ...GOOD.user, fn: () => 1 } }), /the data migrated from version 1 cannot be kept/],
  ['a symbol', () => ({ user: GOOD.user, s: Symbol('s') }), /the data migrated from version 1 cannot be kept/],
  ['the reserved key _flashes', () => ({ user: GOOD.user, _flashes: [] }), /the data migrated from version 1 cannot be kept \(.*_flashes/],
  ['the reserved key _version', () => ({ user: GOOD.user, _version: 2 }), /the data migrated from version 1 cannot be kept \(.*_version/]
]

for (const format of FORMATS) {
  t.test(`${format}: on load`, async (t) => {
    let migrate: (data: Anything, from: number) => unknown = (data) => data
    const migrations: Array<[Anything, number]> = []
    const h = await harness(t, {
      format,
      schema: Schema,
      version: 2,
      migrate: (data, from) => {
        migrations.push([data, from])
        return migrate(data, from) as Anything
      }
    })
    const same = await twin(t, format, 2)

    t.test('good data loads', async (t) => {
      const res = await h.app.inject({ url: '/read', cookies: { session: await same.sessions.encode(GOOD as never) } })
      t.same(res.json(), { new: false, keys: ['user'] })
      t.same(h.received, GOOD)
      t.same(setCookies(res), [], 'a session of this version, only read, is not saved again')
    })

    for (const [title, data, reason] of BAD_DATA) {
      t.test(`a cookie signed with the right key over ${title} is rejected`, async (t) => {
        await rejects(t, h, await same.sessions.encode(data as never), new RegExp(`^session cookie rejected: the data fails the schema at ${reason.source}`))
      })
    }

    t.test('a cookie of a newer version than the code is rejected, and migrate is not called', async (t) => {
      migrations.length = 0
      const newer = await twin(t, format, 3)
      await rejects(t, h, await newer.sessions.encode(GOOD as never), /the session was written under version 3, newer than this code's 2/)
      t.same(migrations, [])
    })

    const older = await twin(t, format, 1)
    for (const [title, fn, reason] of BAD_MIGRATIONS) {
      t.test(`a migrate that ${title} rejects the session`, async (t) => {
        migrate = fn
        await rejects(t, h, await older.sessions.encode({ id: 1 } as never), reason)
      })
    }

    t.test('a migrate result with a value a session cannot keep rejects the session', async (t) => {
      const loose = await harness(t, {
        format,
        schema: Type.Object({ user: Type.Object({ id: Type.Number(), name: Type.String() }) }),
        version: 2,
        migrate: (data, from) => migrate(data, from) as Anything
      })
      for (const [title, fn, reason] of UNKEEPABLE) {
        await t.test(title, async (t) => {
          migrate = fn
          await rejects(t, loose, await older.sessions.encode({ id: 1 } as never), reason)
        })
      }
    })

    t.test('a migrate whose result throws when it is read rejects the session', async (t) => {
      migrate = () => ({ get user () { throw new Error('lazy') } })
      await rejects(t, h, await older.sessions.encode({ id: 1 } as never), /migrate threw for version 1 \(lazy\)/)
      migrate = () => new Proxy({}, { getPrototypeOf () { throw new Error('trap') } })
      await rejects(t, h, await older.sessions.encode({ id: 1 } as never), /migrate threw for version 1 \(trap\)/)
    })

    t.test('a migrate that returns an object of null prototype, or undefined values, is accepted', async (t) => {
      migrate = () => Object.assign(Object.create(null) as object, { user: GOOD.user, gone: undefined })
      const res = await h.app.inject({ url: '/read', cookies: { session: await older.sessions.encode({ id: 1 } as never) } })
      t.same(res.json(), { new: false, keys: ['user'] }, 'an undefined value is left out, as a save does')
    })

    t.test('a migrate that returns {} empties the session, which passes the schema and deletes the cookie', async (t) => {
      migrate = () => ({})
      h.logs.length = 0
      const res = await h.app.inject({ url: '/read', cookies: { session: await older.sessions.encode({ id: 1 } as never) } })
      t.equal(res.statusCode, 200)
      t.same(res.json(), { new: false, keys: [] })
      t.equal(res.cookies[0]?.value, '', 'the cookie is deleted')
      t.same(debugLines(h), [], 'it was not rejected')
    })
  })

  t.test(`${format}: tagged values pass as what they are`, async (t) => {
    const h = await harness(t, { format, schema: Schema })
    const other = await twin(t, format)
    const data = {
      user: GOOD.user,
      when: new Date(1_700_000_000_123),
      bytes: Buffer.from([0, 255]),
      big: 2n ** 70n,
      prefs: new Map([['theme', 'dark']]),
      tags: new Set(['a', 'b'])
    }
    const res = await h.app.inject({ url: '/read', cookies: { session: await other.sessions.encode(data as never) } })
    t.same(res.json(), { new: false, keys: ['user', 'when', 'bytes', 'big', 'prefs', 'tags'] })
    const got = h.received as typeof data
    t.ok(got.when instanceof Date)
    t.equal(got.when.getTime(), 1_700_000_000_123)
    t.ok(Buffer.isBuffer(got.bytes))
    t.equal(got.bytes.toString('hex'), '00ff')
    t.equal(typeof got.big, 'bigint')
    t.equal(got.big, 2n ** 70n)
    t.ok(got.prefs instanceof Map)
    t.same([...got.prefs], [['theme', 'dark']])
    t.ok(got.tags instanceof Set)
    t.same([...got.tags], ['a', 'b'])
    // The plugin writes them too.
    h.pending = data
    const written = await h.app.inject('/write')
    t.equal(written.statusCode, 200)
    t.same((await h.app.inject({ url: '/read', cookies: { session: sessionCookie(written) as string } })).json().keys, ['user', 'when', 'bytes', 'big', 'prefs', 'tags'])
  })

  t.test(`${format}: on save`, async (t) => {
    const h = await harness(t, { format, schema: Schema })

    t.test('a write that fails the schema is a 500 FST_ERR_SESSION_INVALID_DATA naming the path, and sets no cookie', async (t) => {
      h.pending = { user: { id: 'one', name: 'ada' } }
      const res = await h.app.inject('/write')
      t.equal(res.statusCode, 500)
      t.equal(res.json().code, 'FST_ERR_SESSION_INVALID_DATA')
      t.equal(res.json().message, 'The session data fails the schema at /user/id (type: must be number), so it was not saved')
      t.same(setCookies(res), [])
    })

    t.test('a loaded session changed into bad data is not saved either', async (t) => {
      const good = await h.app.sessions.encode(GOOD as never)
      h.pending = { when: 'yesterday' }
      const res = await h.app.inject({ url: '/write', cookies: { session: good } })
      t.equal(res.statusCode, 500)
      t.equal(res.json().message, 'The session data fails the schema at /when (instanceof: must pass "instanceof" keyword validation), so it was not saved')
      t.same(setCookies(res), [])
      t.same((await h.app.inject({ url: '/read', cookies: { session: good } })).json(), { new: false, keys: ['user'] }, 'the old cookie still works')
    })

    t.test('app.sessions.encode() of bad data rejects with FST_ERR_SESSION_INVALID_DATA', async (t) => {
      await t.rejects(h.app.sessions.encode({ user: { id: 1 } } as never), {
        code: 'FST_ERR_SESSION_INVALID_DATA',
        statusCode: 500,
        message: "The session data fails the schema at /user/name (required: must have required property 'name'), so it was not saved"
      })
    })

    t.test('an undefined value is left out of the check, as the save leaves it out', async (t) => {
      const value = await h.app.sessions.encode({ ...GOOD, when: undefined, gone: undefined } as never)
      t.same((await h.app.inject({ url: '/read', cookies: { session: value } })).json(), { new: false, keys: ['user'] })
    })

    t.test('empty data always passes, even with required keys', async (t) => {
      await t.resolves(h.app.sessions.encode({ user: undefined } as never), 'data of only undefined values is empty data')
      const empty = await h.app.sessions.encode({})
      t.same((await h.app.inject({ url: '/read', cookies: { session: empty } })).json(), { new: false, keys: [] }, 'an empty encoded session loads')
      const good = await h.app.sessions.encode(GOOD as never)
      const cleared = await h.app.inject({ url: '/clear', cookies: { session: good } })
      t.equal(cleared.statusCode, 200, 'a cleared session is no error')
      t.equal(cleared.cookies[0]?.value, '', 'its cookie is deleted')
      t.equal(cleared.cookies[0]?.maxAge, 0)
      const flashed = await h.app.inject('/flash')
      t.equal(flashed.statusCode, 200, 'a session holding only a flash saves')
      const flashes = await h.app.inject({ url: '/flashes', cookies: { session: sessionCookie(flashed) as string } })
      t.same(flashes.json(), ['hello'])
    })
  })

  t.test(`${format}: version and migrate`, async (t) => {
    const calls: Array<{ data: Anything, from: number, proto: unknown, when: unknown }> = []
    const h = await harness(t, {
      format,
      schema: Schema,
      version: 3,
      migrate: (data, from) => {
        calls.push({ data, from, proto: Object.getPrototypeOf(data), when: data.when })
        return { user: { id: Number(data.userId), name: String(data.name) }, when: data.when }
      }
    })
    const v1 = await twin(t, format, 1)
    const oldData = { userId: '7', name: 'grace', when: new Date(1_600_000_000_000) }

    t.test('a version-1 session is migrated once, checked, kept, and saved under version 3 on the same response', async (t) => {
      calls.length = 0
      const res = await h.app.inject({ url: '/read', cookies: { session: await v1.sessions.encode(oldData as never) } })
      t.same(res.json(), { new: false, keys: ['user', 'when'] })
      t.same(h.received, { user: { id: 7, name: 'grace' }, when: new Date(1_600_000_000_000) })
      t.equal(calls.length, 1, 'migrate ran once')
      t.equal(calls[0]?.from, 1, 'with the version as a number')
      t.equal(calls[0]?.proto, Object.prototype, 'the data is a plain object')
      t.same(calls[0]?.data, oldData)
      t.ok(calls[0]?.when instanceof Date, 'its tagged values decoded')
      const value = sessionCookie(res)
      t.equal(head(value), HEAD[format]('v3'), 'saved under version 3')
      t.equal(res.headers.vary, 'Cookie')
      const next = await h.app.inject({ url: '/read', cookies: { session: value as string } })
      t.same(next.json(), { new: false, keys: ['user', 'when'] })
      t.equal(calls.length, 1, 'the saved session is not migrated again')
      t.same(setCookies(next), [], 'nor saved again')
    })

    t.test('a permanent session keeps its permanence through the migration', async (t) => {
      const res = await h.app.inject({ url: '/read', cookies: { session: await v1.sessions.encode(oldData as never, { permanent: true }) } })
      t.equal(head(sessionCookie(res)), HEAD[format]('v3', true))
      t.ok((res.cookies[0]?.maxAge ?? 0) > 0)
    })

    t.test('a session of version 0 (written before version was set) is migrated from 0', async (t) => {
      calls.length = 0
      const v0 = await twin(t, format, 0)
      const res = await h.app.inject({ url: '/read', cookies: { session: await v0.sessions.encode(oldData as never) } })
      t.same(res.json(), { new: false, keys: ['user', 'when'] })
      t.equal(calls[0]?.from, 0)
      t.equal(head(sessionCookie(res)), HEAD[format]('v3'))
    })

    t.test('on a readonly route, a migrated session is read but not saved', async (t) => {
      calls.length = 0
      const res = await h.app.inject({ url: '/readonly', cookies: { session: await v1.sessions.encode(oldData as never) } })
      t.same(res.json(), { new: false, keys: ['user', 'when'] })
      t.equal(calls.length, 1)
      t.same(setCookies(res), [])
    })

    t.test('a cookie whose version was changed by the client is rejected: the version is signed', async (t) => {
      calls.length = 0
      const saved = sessionCookie(await h.app.inject({ url: '/read', cookies: { session: await v1.sessions.encode(oldData as never) } })) as string
      calls.length = 0
      const forged = HEAD[format]('v1') + saved.slice(saved.indexOf('.'))
      await rejects(t, h, forged, format === 'signed' ? /signature does not match/ : /does not decrypt with any key/)
      t.same(calls, [], 'migrate never sees it')
    })

    t.test('with validate, a migrated session is saved even when neither validate nor the route touches it', async (t) => {
      let validated = 0
      const hv = await harness(t, {
        format,
        schema: Schema,
        version: 3,
        migrate: (data) => ({ user: { id: Number(data.userId), name: String(data.name) } }),
        validate: () => {
          validated++
          return true
        }
      })
      const res = await hv.app.inject({ url: '/untouched', cookies: { session: await v1.sessions.encode(oldData as never) } })
      t.equal(res.statusCode, 200)
      t.equal(validated, 1)
      const value = sessionCookie(res)
      t.equal(head(value), HEAD[format]('v3'), 'saved under version 3')
      const next = await hv.app.inject({ url: '/read', cookies: { session: value as string } })
      t.same(next.json(), { new: false, keys: ['user'] })
      t.same(hv.received, { user: { id: 7, name: 'grace' } })
      const again = await hv.app.inject({ url: '/untouched', cookies: { session: value as string } })
      t.same(setCookies(again), [], 'the saved session, untouched, is not saved again')
    })

    t.test('validate sees the migrated data, and the session it read is saved', async (t) => {
      const seen: unknown[] = []
      const hv = await harness(t, {
        format,
        schema: Schema,
        version: 3,
        migrate: (data) => ({ user: { id: Number(data.userId), name: String(data.name) } }),
        validate: (session) => {
          seen.push(untyped(session).get('user'))
          return true
        }
      })
      const res = await hv.app.inject({ url: '/untouched', cookies: { session: await v1.sessions.encode(oldData as never) } })
      t.same(seen, [{ id: 7, name: 'grace' }])
      t.equal(head(sessionCookie(res)), HEAD[format]('v3'))
    })

    t.test('app.sessions.decode() gives null for a rejected cookie and the migrated session for an older one', async (t) => {
      const same = await twin(t, format, 3)
      t.equal(await h.app.sessions.decode(await same.sessions.encode({ user: { id: 'x' } } as never)), null, 'data failing the schema')
      const newer = await twin(t, format, 4)
      t.equal(await h.app.sessions.decode(await newer.sessions.encode(GOOD as never)), null, 'a newer version')
      const session = await h.app.sessions.decode(await v1.sessions.encode(oldData as never))
      t.same(session === null ? null : Object.fromEntries(untyped(session).entries()), { user: { id: 7, name: 'grace' }, when: new Date(1_600_000_000_000) })
      t.equal(session?.new, false)
    })

    t.test('without migrate, an older session that passes the schema is kept and saved under the new version', async (t) => {
      const plain = await harness(t, { format, schema: Schema, version: 3 })
      const res = await plain.app.inject({ url: '/read', cookies: { session: await v1.sessions.encode(GOOD as never) } })
      t.same(res.json(), { new: false, keys: ['user'] })
      t.equal(head(sessionCookie(res)), HEAD[format]('v3'))
      await rejects(t, plain, await v1.sessions.encode(oldData as never), /the data of version 1 fails the schema at \/user \(required: must have required property 'user'\)/)
    })

    t.test('without a schema, an older session is kept and saved under the new version', async (t) => {
      const bare = await harness(t, { format, version: 3 })
      const res = await bare.app.inject({ url: '/read', cookies: { session: await v1.sessions.encode(oldData as never) } })
      t.same(res.json(), { new: false, keys: ['userId', 'name', 'when'] })
      t.equal(head(sessionCookie(res)), HEAD[format]('v3'))
    })
  })

  t.test(`${format}: a returning, already-checked cookie is not checked again`, async (t) => {
    let checks = 0
    const counted = (ajv: Ajv): Ajv =>
      ajv.addKeyword({ keyword: 'counted', validate: () => { checks++; return true } })
    const schema = { ...Type.Object({ user: User }), counted: true }
    const h = await harness(t, { format, schema }, { ajv: { plugins: [counted] } })
    const other = await twin(t, format)

    h.pending = { user: GOOD.user }
    const written = await h.app.inject('/write')
    t.equal(checks, 1, 'the save checks the data it writes')
    checks = 0
    for (let i = 0; i < 3; i++) await h.app.inject({ url: '/read', cookies: { session: sessionCookie(written) as string } })
    t.equal(checks, 0, 'a cookie this app sealed was checked when it was written')

    // Other data than the app wrote: a signed cookie of the same data, second and key would be the same value.
    const elsewhere = await other.sessions.encode({ user: { id: 2, name: 'grace' } } as never)
    const loads: unknown[] = []
    for (let i = 0; i < 3; i++) {
      loads.push((await h.app.inject({ url: '/read', cookies: { session: elsewhere } })).json())
      t.equal(checks, 1, `a cookie made elsewhere is checked once (request ${i + 1})`)
    }
    t.same(loads, Array(3).fill({ new: false, keys: ['user'] }))

    checks = 0
    const bad = await other.sessions.encode({ user: { id: 1 } } as never)
    for (let i = 0; i < 2; i++) {
      h.logs.length = 0
      const res = await h.app.inject({ url: '/read', cookies: { session: bad } })
      t.same(res.json(), { new: true, keys: [] }, `a failing cookie is rejected on request ${i + 1}`)
      t.match(debugLines(h)[0]?.msg, /\/user\/name \(required/, 'with the reason of its first check')
    }
    t.equal(checks, 1, 'and checked only once')
  })

  t.test(`${format}: the version in the cookie's head`, async (t) => {
    for (const [version, suffix] of [[0, ''], [3, 'v3'], [36, 'v10'], [2 ** 31 - 1, 'vzik0zj']] as const) {
      const h = await harness(t, { format, version })
      h.pending = { user: GOOD.user }
      t.equal(head(sessionCookie(await h.app.inject('/write'))), HEAD[format](suffix), `version ${version}`)
      t.equal(head(await h.app.sessions.encode({ username: 'ada' }, { permanent: true })), HEAD[format](suffix, true), `version ${version}, permanent`)
    }
  })
}

t.test('signed: a compressed body keeps z before the version, and version 0 cookies are byte for byte what the codec seals', async (t) => {
  const h = await harness(t, { version: 3 })
  h.pending = { text: 'abc'.repeat(200) }
  t.equal(head(sessionCookie(await h.app.inject('/write'))), '2zv3')
  t.equal(head(await h.app.sessions.encode({ value: 'abc'.repeat(200) }, { permanent: true })), '2pzv3')
  const roundTrip = await h.app.inject({ url: '/read', cookies: { session: await h.app.sessions.encode({ value: 'abc'.repeat(200) }) } })
  t.same(roundTrip.json(), { new: false, keys: ['value'] })

  const v0 = await harness(t, {})
  v0.pending = { username: 'ada' }
  const value = sessionCookie(await v0.app.inject('/write')) as string
  const codec = signedCodec([Buffer.from(SECRET)])
  const content = { data: new Map<string, unknown>([['username', 'ada']]), flashes: [] }
  t.equal(value, codec.seal(codec.stringify(content), false, NOW, NOW), 'the same bytes as the codec without a version')
  t.equal(value.split('.').length, 5)
  t.ok(value.startsWith('2.'))
})
