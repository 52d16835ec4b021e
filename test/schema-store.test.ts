/**
 * The `schema`, `version` and `migrate` options in store mode, through the
 * plugin and a TypeBox schema: a record whose data fails the schema, or
 * that `migrate` cannot bring up to date, loads as an empty session and its
 * save deletes it (as `validate` returning false does); a record of a newer
 * version is left untouched; an older one is migrated once and merged back
 * by key under the new version; a save whose data fails the schema writes
 * nothing. On `MemoryStore` (through the spy stores, which record each
 * `StoreChange`), and on `RedisStore` against a real redis-server.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { Type } from 'typebox'
import { MemoryStore, RedisStore, type SessionStore, type StoreChange, type StoreRecord, type TypedSessionOptions } from '../lib/index.js'
import { build, freezeClock, sessionCookie, setCookies } from './helpers/build.js'
import { needsRedis, startRedis } from './helpers/redis.js'
import { ImmediateSpyStore, SpyStore, type Call } from './helpers/stores.js'

const Schema = Type.Object({
  username: Type.String(),
  counter: Type.Optional(Type.Number()),
  nested: Type.Optional(Type.Object({
    list: Type.Array(Type.String()),
    when: Type.Optional(Type.Unsafe<Date>({ instanceof: 'Date' }))
  }, { additionalProperties: false }))
}, { additionalProperties: false })

/** A schema that allows any other key, so that a reserved key reaches the check of reserved keys. */
const OpenSchema = Type.Object({ username: Type.Optional(Type.String()) })

const WHEN = new Date('2024-01-02T03:04:05.678Z')
const DELETED = /^session=; Max-Age=0;/

type Logs = Array<Record<string, unknown>>

/** The debug lines of the logs (level 20): what a rejected cookie or record says. */
const debugLines = (logs: Logs): Logs => logs.filter((line) => line.level === 20)

/** The record's id in a cookie that carries a signed id. */
const idOf = (cookie: { session: string }): string => cookie.session.slice(0, 43)

/** The session cookie a response set, which must be a signed id. */
function carry (res: LightMyRequestResponse): { session: string } {
  const value = sessionCookie(res)
  if (value === undefined || !/^[\w-]{43}\.[\w-]{43}$/.test(value)) throw new Error(`expected a signed id cookie, got ${JSON.stringify(setCookies(res))}`)
  return { session: value }
}

/** The routes of every app of this file: readers, writers, and writers of data that the schema forbids. */
function routes (app: FastifyInstance): void {
  app.get('/login', async (request) => {
    request.session.set('username', 'ada')
    request.session.set('counter', 1)
    return 'ok'
  })
  app.get('/read', async (request) => ({
    username: request.session.get('username') ?? null,
    counter: request.session.get('counter') ?? null,
    new: request.session.new
  }))
  app.get('/untouched', async () => 'ok')
  app.get('/bob', async (request) => { request.session.set('username', 'bob'); return 'ok' })
  app.get('/counter/:n', async (request) => {
    request.session.set('counter', Number((request.params as { n: string }).n))
    return 'ok'
  })
  app.get('/drop-counter', async (request) => { request.session.delete('counter'); return 'ok' })
  app.get('/set-version', async (request) => {
    request.session.set('username', 'ada')
    request.session.set('_version' as 'value', 1)
    return 'ok'
  })
  // Data that Schema forbids, as a cast or a JavaScript caller would write it.
  app.get('/bad-counter', async (request) => {
    request.session.set('username', 'ada')
    request.session.set('counter', '7' as unknown as number)
    return 'ok'
  })
  app.get('/extra', async (request) => {
    request.session.set('username', 'ada')
    request.session.set('value', 1)
    return 'ok'
  })
  app.get('/no-username', async (request) => { request.session.set('counter', 1); return 'ok' })
  app.get('/when-as-text', async (request) => {
    request.session.set('username', 'ada')
    request.session.set('nested', { list: [], when: WHEN.toISOString() as unknown as Date })
    return 'ok'
  })
  // A version-0 session of an older shape: the counter was a string, and `value` held a BigInt that is gone.
  app.get('/old-shape', async (request) => {
    request.session.set('username', 'ada')
    request.session.set('counter', '5' as unknown as number)
    request.session.set('value', 12n)
    request.session.set('nested', { list: ['a'], when: WHEN })
    return 'ok'
  })
}

/** An app of this file on `store`, logging into `logs` when given. */
async function app (store: SessionStore, options: Partial<TypedSessionOptions> = {}, logs?: Logs): Promise<FastifyInstance> {
  return await build({ ...options, store } as Partial<TypedSessionOptions>, routes, logs)
}

/** The store calls other than `get`, emptied for the next request. */
function takeWrites (store: SpyStore): Call[] {
  const writes = store.writes()
  store.calls.length = 0
  return writes
}

/** The change of the one `set` a store was given (it must have been given exactly one write, a `set`). */
function onlySet (t: Test, store: SpyStore, id: string): StoreChange | undefined {
  const writes = takeWrites(store)
  t.same(writes.map(([method, written]) => [method, written]), [['set', id]], 'one write: a set of the record')
  return writes[0]?.[2] as StoreChange | undefined
}

/** A migrate that records its calls: turns the string counter into a number and drops `value`. */
function recordingMigrate (): { calls: Array<[Record<string, unknown>, unknown]>, migrate: NonNullable<TypedSessionOptions['migrate']> } {
  const calls: Array<[Record<string, unknown>, unknown]> = []
  return {
    calls,
    migrate: (data, fromVersion) => {
      calls.push([data, fromVersion])
      const { value: _dropped, counter, ...rest } = data
      return { ...rest, counter: Number(counter) }
    }
  }
}

const FORBIDDEN: Array<[url: string, failure: RegExp]> = [
  ['/bad-counter', /^the data fails the schema at \/counter \(type: must be number\)$/],
  ['/extra', /^the data fails the schema at \/value \(additionalProperties/],
  ['/no-username', /^the data fails the schema at \/username \(required/],
  ['/when-as-text', /^the data fails the schema at \/nested\/when \(instanceof/]
]

for (const url of ['/read', '/untouched']) {
  t.test(`a record written by an app without the schema, whose data fails it, is an empty session on ${url}, and its save deletes the record and the cookie`, async (t) => {
    const store = new ImmediateSpyStore()
    const logs: Logs = []
    const writer = await app(store)
    const reader = await app(store, { schema: Schema }, logs)
    for (const [write, failure] of FORBIDDEN) {
      const cookie = carry(await writer.inject(write))
      t.not(await store.inner.get(idOf(cookie)), null, `${write}: the app without a schema kept it`)
      store.calls.length = 0
      logs.length = 0
      const res = await reader.inject({ url, cookies: cookie })
      t.equal(res.statusCode, 200, write)
      if (url === '/read') t.same(res.json(), { username: null, counter: null, new: true }, `${write}: nothing of the record is kept`)
      const lines = debugLines(logs)
      t.equal(lines.length, 1, `${write}: one debug line`)
      t.match(lines[0]?.reason, failure, `${write}: it names the path and the keyword`)
      t.equal(lines[0]?.msg, `session cookie rejected: ${String(lines[0]?.reason)}`, `${write}: and so does its message`)
      t.match(setCookies(res), [DELETED], `${write}: the cookie is deleted`)
      t.same(takeWrites(store), [['destroy', idOf(cookie)]], `${write}: the save deletes the record`)
      t.equal(await store.inner.get(idOf(cookie)), null, `${write}: the record is gone`)
    }
  })
}

t.test('a record put into the store directly, whose data fails the schema, is deleted by the save as validate returning false does', async (t) => {
  const store = new SpyStore()
  const logs: Logs = []
  const reader = await app(store, { schema: Schema }, logs)
  const cookie = { session: await reader.sessions.encode({ username: 'ada' }) }
  const id = idOf(cookie)
  await store.inner.set(id, { set: { counter: '"seven"' }, delete: [], create: false }, 100)
  store.calls.length = 0
  const res = await reader.inject({ url: '/read', cookies: cookie })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { username: null, counter: null, new: true })
  t.same(debugLines(logs).map((line) => line.reason), ['the data fails the schema at /counter (type: must be number)'])
  t.match(setCookies(res), [DELETED])
  t.same(takeWrites(store), [['destroy', id]])
  t.equal(await store.inner.get(id), null)
})

t.test('a route may write a new session after the schema rejected the record: it keeps none of the rejected fields', async (t) => {
  const store = new ImmediateSpyStore()
  const writer = await app(store)
  const reader = await app(store, { schema: Schema })
  const cookie = carry(await writer.inject('/extra'))
  const res = await reader.inject({ url: '/bob', cookies: cookie })
  t.equal(res.statusCode, 200)
  // The browser's cookie: the one the response set, if it set one.
  const next = { session: sessionCookie(res) ?? cookie.session }
  t.same((await reader.inject({ url: '/read', cookies: next })).json(), { username: 'bob', counter: null, new: false })
  const record = await store.inner.get(idOf(next)) as StoreRecord
  t.same(Object.keys(record).sort(), ['_created', 'username'], 'the new record has the new data only')
  const old = await store.inner.get(idOf(cookie))
  t.ok(old === null || !('value' in old), 'the rejected field is in no record')
})

t.test('a save after the schema rejected a record moves it to a new id, with its own creation time and a whole absolute timeout', async (t) => {
  const clock = freezeClock(1_000_000)
  t.teardown(clock.restore)
  const store = new ImmediateSpyStore()
  const writer = await app(store, { absoluteTimeout: 3600 })
  const reader = await app(store, { schema: Schema, absoluteTimeout: 3600 })
  const cookie = carry(await writer.inject('/extra'))
  clock.set(1_000_100)
  store.calls.length = 0
  const res = await reader.inject({ url: '/bob', cookies: cookie })
  t.equal(res.statusCode, 200)
  const next = { session: sessionCookie(res) ?? cookie.session }
  const [method, oldId, newId, record, ttl] = store.writes()[0] ?? []
  t.equal(method, 'rename', 'the rejected record is replaced in one step')
  t.equal(oldId, idOf(cookie))
  t.not(newId, idOf(cookie), 'the new session has an id of its own')
  t.equal(idOf(next), newId)
  t.same(record, { username: '"bob"', _created: '1000100' }, 'created now, with the new data only')
  t.equal(ttl, 3600, 'the new session has the whole absolute timeout')
  t.equal(await store.inner.get(idOf(cookie)), null, 'the rejected record is gone')
  clock.set(1_000_110)
  t.same((await reader.inject({ url: '/read', cookies: next })).json(), { username: 'bob', counter: null, new: false },
    'it is still there ten seconds later')
})

t.test('a record of a newer version is an empty session, one debug line, and is left untouched; a write creates a new record', async (t) => {
  for (const [readerVersion, writerVersion] of [[1, 2], [0, 1]] as const) {
    const store = new ImmediateSpyStore()
    const logs: Logs = []
    const writer = await app(store, { version: writerVersion })
    const reader = await app(store, { schema: Schema, version: readerVersion }, logs)
    const cookie = carry(await writer.inject('/login'))
    const id = idOf(cookie)
    const before = await store.inner.get(id)
    t.equal(before?._version, String(writerVersion), `the record of version ${writerVersion} says so`)
    store.calls.length = 0
    for (const url of ['/read', '/untouched']) {
      logs.length = 0
      const res = await reader.inject({ url, cookies: cookie })
      t.equal(res.statusCode, 200)
      if (url === '/read') t.same(res.json(), { username: null, counter: null, new: true })
      t.same(debugLines(logs).map((line) => line.reason),
        [`the session was written under version ${writerVersion}, newer than this code's ${readerVersion}`], `${url}: one debug line`)
      t.same(setCookies(res), [], `${url}: the cookie is left alone`)
    }
    t.same(store.writes(), [], 'the store is not written')
    t.same(await store.inner.get(id), before, 'the newer record is unchanged')

    const res = await reader.inject({ url: '/bob', cookies: cookie })
    const created = carry(res)
    t.not(idOf(created), id, 'a write gets a new id')
    const writes = takeWrites(store)
    t.same(writes.map(([method, written, change]) => [method, written, (change as StoreChange).create]), [['set', idOf(created), true]],
      'one write: a new record')
    t.same(await store.inner.get(id), before, 'the newer record is still unchanged')
    t.same((await reader.inject({ url: '/read', cookies: created })).json(), { username: 'bob', counter: null, new: false })
    t.same((await writer.inject({ url: '/read', cookies: cookie })).json(), { username: 'ada', counter: 1, new: false },
      'the newer code still reads its record')
  }
})

for (const [name, Store] of [['MemoryStore', ImmediateSpyStore], ['a promise store', SpyStore]] as const) {
  t.test(`${name}: a version-0 record (no _version field) is migrated once, and merged back by key under the new version on the same response`, async (t) => {
    const store = new Store()
    const { calls, migrate } = recordingMigrate()
    const writer = await app(store)
    const reader = await app(store, { schema: Schema, version: 2, migrate })
    const cookie = carry(await writer.inject('/old-shape'))
    const id = idOf(cookie)
    const before = await store.inner.get(id) as StoreRecord
    t.notOk('_version' in before, 'a version-0 record has no _version field')
    store.calls.length = 0

    const res = await reader.inject({ url: '/untouched', cookies: cookie })
    t.equal(res.statusCode, 200)
    t.same(setCookies(res), [], 'the cookie (the id) does not change')
    t.equal(calls.length, 1, 'migrate is called once')
    const [data, from] = calls[0] as [Record<string, unknown>, unknown]
    t.equal(from, 0, 'with the version as a number')
    t.equal(Object.getPrototypeOf(data), Object.prototype, 'a plain object')
    t.same(Object.keys(data).sort(), ['counter', 'nested', 'username', 'value'], 'of the top-level keys')
    t.equal(data.counter, '5')
    t.equal(typeof data.value, 'bigint', 'a BigInt is a BigInt')
    t.ok((data.nested as { when: unknown }).when instanceof Date, 'a Date is a Date')
    t.equal((data.nested as { when: Date }).when.getTime(), WHEN.getTime())

    const change = onlySet(t, store, id)
    t.same(change, { set: { counter: '5', _version: '2' }, delete: ['value'], create: false },
      'only the changed fields are written, the removed key deleted, and _version set')
    const { value: _removed, ...kept } = before
    t.same(await store.inner.get(id), { ...kept, counter: '5', _version: '2' }, 'the record holds the migrated data')

    const read = await reader.inject({ url: '/read', cookies: cookie })
    t.same(read.json(), { username: 'ada', counter: 5, new: false })
    t.same(setCookies(read), [])
    t.equal(calls.length, 1, 'the next request does not migrate again')
    t.same(takeWrites(store), [], 'nor writes')
  })
}

t.test("a record of version '1' is migrated from version 1, and its _version field rewritten", async (t) => {
  const store = new ImmediateSpyStore()
  const { calls, migrate } = recordingMigrate()
  const writer = await app(store, { version: 1 })
  const reader = await app(store, { schema: Schema, version: 2, migrate })
  const cookie = carry(await writer.inject('/bad-counter'))
  const id = idOf(cookie)
  t.equal((await store.inner.get(id))?._version, '1')
  store.calls.length = 0
  const res = await reader.inject({ url: '/read', cookies: cookie })
  t.same(res.json(), { username: 'ada', counter: 7, new: false }, 'the route sees the migrated data')
  t.same(setCookies(res), [])
  t.same(calls.map(([data, from]) => [data, from]), [[{ username: 'ada', counter: '7' }, 1]])
  t.same(onlySet(t, store, id), { set: { counter: '7', _version: '2' }, delete: [], create: false })
  await reader.inject({ url: '/read', cookies: cookie })
  t.equal(calls.length, 1, 'once')
})

t.test('without migrate, an older record that passes the schema is kept and saved under the new version; one that fails it is deleted', async (t) => {
  const store = new ImmediateSpyStore()
  const logs: Logs = []
  const writer = await app(store)
  const reader = await app(store, { schema: Schema, version: 1 }, logs)
  const good = carry(await writer.inject('/login'))
  const bad = carry(await writer.inject('/extra'))
  store.calls.length = 0
  const res = await reader.inject({ url: '/untouched', cookies: good })
  t.same(setCookies(res), [])
  t.same(onlySet(t, store, idOf(good)), { set: { _version: '1' }, delete: [], create: false })
  t.same(debugLines(logs), [])
  const rejected = await reader.inject({ url: '/untouched', cookies: bad })
  t.match(setCookies(rejected), [DELETED])
  t.same(debugLines(logs).map((line) => line.reason), ['the data of version 0 fails the schema at /value (additionalProperties: must NOT have additional properties)'])
  t.same(takeWrites(store), [['destroy', idOf(bad)]])
  t.equal(await store.inner.get(idOf(bad)), null)
})

const FAILING_MIGRATES: Array<[string, NonNullable<TypedSessionOptions['migrate']>, RegExp, object]> = [
  ['throws', () => { throw new Error('boom') }, /^migrate threw for version 0 \(boom\)$/, Schema],
  ['returns data failing the schema', (data) => data, /^the data migrated from version 0 fails the schema at \/counter \(type/, Schema],
  ['returns no plain object', () => new Map() as never, /^migrate returned an object that is not plain for version 0/, Schema],
  // A schema that allows any key, so that the reserved key reaches the check of what a session can keep.
  ['returns a reserved key', (data) => ({ username: data.username, _created: '1' }),
    /^the data migrated from version 0 cannot be kept \(.*"_created"/, OpenSchema]
]

for (const [what, migrate, reason, schema] of FAILING_MIGRATES) {
  t.test(`a migrate that ${what} gives an empty session and one debug line, and the save deletes the record`, async (t) => {
    const store = new ImmediateSpyStore()
    const logs: Logs = []
    const writer = await app(store)
    const reader = await app(store, { schema, version: 1, migrate }, logs)
    for (const url of ['/read', '/untouched']) {
      const cookie = carry(await writer.inject('/bad-counter'))
      store.calls.length = 0
      logs.length = 0
      const res = await reader.inject({ url, cookies: cookie })
      t.equal(res.statusCode, 200, url)
      if (url === '/read') t.same(res.json(), { username: null, counter: null, new: true })
      const lines = debugLines(logs)
      t.equal(lines.length, 1, `${url}: one debug line`)
      t.match(lines[0]?.reason, reason)
      t.match(setCookies(res), [DELETED])
      t.same(takeWrites(store), [['destroy', idOf(cookie)]])
      t.equal(await store.inner.get(idOf(cookie)), null)
    }
  })
}

t.test('a save whose data fails the schema is a 500 FST_ERR_SESSION_INVALID_DATA naming the path, and writes nothing', async (t) => {
  const store = new ImmediateSpyStore()
  const reader = await app(store, { schema: Schema, version: 2 })
  const cookie = carry(await reader.inject('/login'))
  const id = idOf(cookie)
  const before = await store.inner.get(id)
  t.equal(before?._version, '2')
  store.calls.length = 0
  for (const [url, path] of [['/bad-counter', '/counter'], ['/extra', '/value'], ['/when-as-text', '/nested/when']] as const) {
    const res = await reader.inject({ url, cookies: cookie })
    t.equal(res.statusCode, 500, url)
    t.equal(res.json().code, 'FST_ERR_SESSION_INVALID_DATA', url)
    t.match(res.json().message, `fails the schema at ${path} (`, `${url}: the message names the path`)
    t.same(setCookies(res), [], `${url}: no cookie`)
    t.same(store.writes(), [], `${url}: the store is not written`)
    t.same(await store.inner.get(id), before, `${url}: the record is unchanged`)
  }
  const fresh = await reader.inject('/bad-counter')
  t.equal(fresh.json().code, 'FST_ERR_SESSION_INVALID_DATA', 'a new session too')
  t.same(setCookies(fresh), [])
  t.same(store.writes(), [], 'no record is created')
  t.equal(store.inner.size, 1)
})

t.test('app.sessions.encode with data that fails the schema rejects with FST_ERR_SESSION_INVALID_DATA and creates no record', async (t) => {
  const store = new MemoryStore()
  const reader = await app(store, { schema: Schema, version: 2 })
  await t.rejects(reader.sessions.encode({ username: 'ada', counter: 'x' as unknown as number }),
    { code: 'FST_ERR_SESSION_INVALID_DATA', message: /\/counter \(type/ })
  await t.rejects(reader.sessions.encode({ counter: 1 }), { code: 'FST_ERR_SESSION_INVALID_DATA', message: /\/username \(required/ })
  t.equal(store.size, 0)
  const value = await reader.sessions.encode({ username: 'ada' })
  t.same(Object.keys(await store.get(idOf({ session: value })) as StoreRecord).sort(), ['_created', '_version', 'username'])
  t.equal((await store.get(idOf({ session: value })))?._version, '2', 'an encoded record carries the version too')
})

t.test('_version is a reserved key: setting it fails the save with FST_ERR_SESSION_UNSERIALIZABLE, with or without a version', async (t) => {
  for (const options of [{}, { schema: OpenSchema, version: 2 }]) {
    const store = new MemoryStore()
    const reader = await app(store, options)
    const res = await reader.inject('/set-version')
    t.equal(res.statusCode, 500)
    t.equal(res.json().code, 'FST_ERR_SESSION_UNSERIALIZABLE')
    t.match(res.json().message, '"_version"')
    t.same(setCookies(res), [])
    t.equal(store.size, 0)
    await t.rejects(reader.sessions.encode({ _version: 1 } as never), { code: 'FST_ERR_SESSION_UNSERIALIZABLE', message: /"_version"/ })
    t.equal(store.size, 0)
  }  // A schema without additional properties refuses the key first, naming it too.
  const strict = await app(new MemoryStore(), { schema: Schema, version: 2 })
  const res = await strict.inject('/set-version')
  t.equal(res.statusCode, 500)
  t.match(res.json(), { code: 'FST_ERR_SESSION_INVALID_DATA', message: /at \/_version \(additionalProperties/ })
})

t.test("a record written at version 0 has no _version field; at version 2 it has _version '2', written once", async (t) => {
  const v0 = new ImmediateSpyStore()
  const zero = carry(await (await app(v0, { schema: Schema })).inject('/login'))
  t.same(Object.keys(await v0.inner.get(idOf(zero)) as StoreRecord).sort(), ['_created', 'counter', 'username'])

  const store = new ImmediateSpyStore()
  const reader = await app(store, { schema: Schema, version: 2 })
  const cookie = carry(await reader.inject('/login'))
  const id = idOf(cookie)
  t.equal((await store.inner.get(id))?._version, '2')
  t.match(takeWrites(store), [['set', id, { set: { username: '"ada"', counter: '1', _version: '2' }, delete: [], create: true }]])
  await reader.inject({ url: '/counter/2', cookies: cookie })
  t.same(onlySet(t, store, id), { set: { counter: '2' }, delete: [], create: false }, 'a save of a current record does not rewrite _version')
  await reader.inject({ url: '/drop-counter', cookies: cookie })
  t.same(onlySet(t, store, id), { set: {}, delete: ['counter'], create: false }, 'nor deletes it')
  t.equal((await store.inner.get(id))?._version, '2')
})

t.test("a version-0 save drops a _version '0' field found in its record, so that a version-0 record has none", async (t) => {
  const store = new ImmediateSpyStore()
  const reader = await app(store, { schema: Schema })
  const cookie = carry(await reader.inject('/login'))
  const id = idOf(cookie)
  await store.inner.set(id, { set: { _version: '0' }, delete: [], create: false }, 100)
  store.calls.length = 0
  t.same((await reader.inject({ url: '/read', cookies: cookie })).json(), { username: 'ada', counter: 1, new: false }, 'version 0 is this code\'s')
  await reader.inject({ url: '/counter/2', cookies: cookie })
  t.same(onlySet(t, store, id), { set: { counter: '2' }, delete: ['_version'], create: false })
})

t.test('a record whose _version field is no version is rejected, and migrate never sees it', async (t) => {
  for (const text of ['x', '', '01', '-1', '1.5', '1e1', ' 1', '12345678901']) {
    const store = new MemoryStore()
    const { calls, migrate } = recordingMigrate()
    const logs: Logs = []
    const reader = await app(store, { schema: Schema, version: 2, migrate }, logs)
    const cookie = carry(await reader.inject('/login'))
    await store.set(idOf(cookie), { set: { _version: text }, delete: [], create: false }, 100)
    t.same((await reader.inject({ url: '/read', cookies: cookie })).json(), { username: null, counter: null, new: true }, JSON.stringify(text))
    t.same(calls, [])
    t.equal(debugLines(logs).length, 1)
    t.match(debugLines(logs), [{ reason: /_version field is not a whole number/ }])
  }
})

t.test('RedisStore: a version-0 record is migrated in Redis, as hash fields merged by key, and not migrated again', needsRedis, async (t) => {
  const redis = await startRedis(t)
  const admin = await redis.client()
  const store = new RedisStore({ client: await redis.client() })
  const { calls, migrate } = recordingMigrate()
  const writer = await app(store)
  const reader = await app(store, { schema: Schema, version: 2, migrate })
  const cookie = carry(await writer.inject('/old-shape'))
  const key = `session:${idOf(cookie)}`
  const before = await admin.hgetall(key)
  t.same(Object.keys(before).sort(), ['_created', 'counter', 'nested', 'username', 'value'])
  t.equal(before.counter, '"5"')
  const res = await reader.inject({ url: '/untouched', cookies: cookie })
  t.equal(res.statusCode, 200)
  t.same(setCookies(res), [])
  t.same(await admin.hgetall(key), { username: before.username, nested: before.nested, _created: before._created, counter: '5', _version: '2' })
  t.ok(await admin.ttl(key) > 0, 'the record still expires')
  t.same((await reader.inject({ url: '/read', cookies: cookie })).json(), { username: 'ada', counter: 5, new: false })
  t.equal(calls.length, 1)
  t.equal(typeof calls[0]?.[0].value, 'bigint')
})

t.test('RedisStore: a record whose data fails the schema is deleted from Redis by the save, with the cookie; a newer one is left', needsRedis, async (t) => {
  const redis = await startRedis(t)
  const admin = await redis.client()
  const store = new RedisStore({ client: await redis.client() })
  const logs: Logs = []
  const writer = await app(store)
  const reader = await app(store, { schema: Schema, version: 1 }, logs)
  const cookie = carry(await writer.inject('/extra'))
  const key = `session:${idOf(cookie)}`
  t.equal(await admin.exists(key), 1)
  const res = await reader.inject({ url: '/untouched', cookies: cookie })
  t.equal(res.statusCode, 200)
  t.match(setCookies(res), [DELETED])
  t.equal(debugLines(logs).length, 1)
  t.equal(await admin.exists(key), 0, 'the record is gone')

  const newer = carry(await (await app(store, { version: 2 })).inject('/login'))
  const newerKey = `session:${idOf(newer)}`
  const fields = await admin.hgetall(newerKey)
  t.equal(fields._version, '2')
  const read = await reader.inject({ url: '/read', cookies: newer })
  t.same(read.json(), { username: null, counter: null, new: true })
  t.same(await admin.hgetall(newerKey), fields, 'the newer record is unchanged')
})
