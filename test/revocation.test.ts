/**
 * The `revocation` option and `app.sessions.revokeUser()`: cookie sessions
 * of a user ended on demand, through a "not before" time per user kept in
 * a store, asked at most once per user per `cacheSeconds` in each process,
 * and compared to the cookie's creation time to the millisecond.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { MemoryStore, RedisStore, type SessionStore, type StoreRecord, type TypedSessionOptions } from '../lib/index.js'
import { defaultAead } from '../lib/codecs/cipher.js'
import { encryptedCodec } from '../lib/codecs/encrypted.js'
import { signedCodec } from '../lib/codecs/signed.js'
import { deriveKeys } from '../lib/codecs/mac.js'
import { clock } from '../lib/interface.js'
import { build, carry, SECRET, setCookies } from './helpers/build.js'
import { hmacTag } from './helpers/mac.js'
import { needsRedis, startRedis } from './helpers/redis.js'
import { SpyStore } from './helpers/stores.js'

/** A second well in the past, so that every time of a test is controlled. */
const S = 1_800_000_000

/**
 * Sets the plugin's clock to the millisecond `ms` (its second for
 * `clock.now()`, and `Date.now()` for the milliseconds) until `restore`.
 */
function msClock (t: { teardown: (fn: () => void) => void }, ms: number): { set: (ms: number) => void } {
  const now = clock.now
  const dateNow = Date.now
  let at = ms
  clock.now = () => Math.floor(at / 1000)
  Date.now = () => at
  t.teardown(() => {
    clock.now = now
    Date.now = dateNow
  })
  return { set: (next) => { at = next } }
}

/** Routes: log in as `?user=` (`?counter=` for a number), read, an untouched route, and routes that are off and read-only. */
function routes (app: FastifyInstance): void {
  app.get('/login', async (request) => {
    const { user, counter } = request.query as { user?: string, counter?: string }
    if (user !== undefined) request.session.set('username', user)
    if (counter !== undefined) request.session.set('counter', Number(counter))
    request.session.set('data', [1])
    return 'ok'
  })
  app.get('/read', async (request) => ({ username: request.session.get('username') ?? null, new: request.session.new, size: request.session.size }))
  app.get('/untouched', async () => 'ok')
  app.get('/off', { config: { session: false } }, async () => 'off')
  app.get('/readonly', { config: { session: 'readonly' } }, async (request) => request.session.get('username') ?? 'nobody')
  app.get('/revoke', async (request) => {
    await app.sessions.revokeUser((request.query as { user: string }).user)
    return 'revoked'
  })
  // "Log out my other devices": revoke, then start this session afresh, keeping its data.
  app.get('/others', async (request) => {
    await app.sessions.revokeUser(request.session.get('username') as string)
    await request.session.regenerate([...request.session.keys()])
    return 'others logged out'
  })
}

/** An app with `revocation` on `store`, keyed by `username`. */
async function revocationApp (store: SessionStore, options: Partial<TypedSessionOptions> = {}, logs?: Array<Record<string, unknown>>,
  revocation: Record<string, unknown> = {}): Promise<FastifyInstance> {
  return await build({ revocation: { store, userKey: 'username', ...revocation }, ...options } as Partial<TypedSessionOptions>, routes, logs)
}

/** The store lookups a spy saw. */
function gets (store: SpyStore): unknown[] {
  return store.calls.filter(([method]) => method === 'get').map(([, id]) => id)
}

function deleted (res: LightMyRequestResponse): boolean {
  return setCookies(res).some((header) => header.startsWith('session=;') && header.includes('Max-Age=0'))
}

async function read (app: FastifyInstance, login: LightMyRequestResponse, url = '/read'): Promise<LightMyRequestResponse> {
  return await app.inject({ url, cookies: carry(login) })
}

t.test('registration: revocation is checked field by field, and refused in store mode and with format flask', async (t) => {
  const store = new MemoryStore()
  const cases: Array<[string, unknown, Record<string, unknown>, string, string]> = [
    ['not an object', 'redis', {}, 'revocation', 'received "redis"'],
    ['null', null, {}, 'revocation', 'received null'],
    ['an array', [], {}, 'revocation', 'received an array of 0'],
    ['in store mode', { store, userKey: 'username' }, { store: new MemoryStore() }, 'revocation', "destroyUser(user) ends a user's sessions"],
    ['with format flask', { store, userKey: 'username' }, { format: 'flask' }, 'revocation', "no revocation with format 'flask', whose cookie has no creation time"],
    ['an unknown field', { store, userKey: 'username', ttl: 5 }, {}, 'revocation.ttl', 'one of store, userKey, cacheSeconds'],
    ['no store', { userKey: 'username' }, {}, 'revocation.store', 'a SessionStore'],
    ['a store that is not one', { store: {}, userKey: 'username' }, {}, 'revocation.store', 'received an object'],
    ['no userKey', { store }, {}, 'revocation.userKey', 'received undefined'],
    ['an empty userKey', { store, userKey: '' }, {}, 'revocation.userKey', 'a non-empty string'],
    ['a userKey that is a number', { store, userKey: 1 }, {}, 'revocation.userKey', 'received 1'],
    ['a negative cacheSeconds', { store, userKey: 'username', cacheSeconds: -1 }, {}, 'revocation.cacheSeconds', 'received -1'],
    ['a fractional cacheSeconds', { store, userKey: 'username', cacheSeconds: 0.5 }, {}, 'revocation.cacheSeconds', 'received 0.5'],
    ['a cacheSeconds in ms', { store, userKey: 'username', cacheSeconds: 5000 * 86400 }, {}, 'revocation.cacheSeconds', 'not milliseconds'],
    ['a string cacheSeconds', { store, userKey: 'username', cacheSeconds: '5' }, {}, 'revocation.cacheSeconds', 'received "5"']
  ]
  for (const [name, revocation, options, option, says] of cases) {
    const err = await build({ revocation, ...options } as Partial<TypedSessionOptions>).then(() => undefined, (e: Error & { code: string }) => e)
    t.equal(err?.code, 'FST_ERR_SESSION_INVALID_OPTION', name)
    t.match(err?.message, `Invalid option ${option}: expected `, `${name}: names ${option}`)
    t.match(err?.message, says, `${name}: ${says}`)
  }
  const app = await build({ revocation: { store, userKey: 'username', cacheSeconds: 0 } })
  t.ok(app, 'cacheSeconds 0 is accepted (no cache)')
  await build({ format: 'encrypted', revocation: { store, userKey: 'username' } })
})

t.test("revokeUser ends the user's sessions: an empty session, a debug line and the cookie deleted; others are kept", async (t) => {
  const clockAt = msClock(t, S * 1000 + 100)
  const logs: Array<Record<string, unknown>> = []
  const store = new SpyStore()
  const app = await revocationApp(store, {}, logs)
  const ada = await app.inject('/login?user=ada')
  const ada2 = await app.inject('/login?user=ada')
  const grace = await app.inject('/login?user=grace')
  t.same((await read(app, ada)).json(), { username: 'ada', new: false, size: 2 })
  clockAt.set(S * 1000 + 200)
  t.equal((await app.inject('/revoke?user=ada')).body, 'revoked')
  const set = store.calls.find(([method]) => method === 'set')
  t.same(set, ['set', 'revoked:ada', { set: { notBefore: String(S * 1000 + 201) }, delete: [], create: true }, 2678400 + 5],
    'one record per user, at revoked: + user, its notBefore the next millisecond, expiring maxAge + cacheSeconds later')
  logs.length = 0
  for (const login of [ada, ada2]) {
    const res = await read(app, login)
    t.same(res.json(), { username: null, new: true, size: 0 }, 'an empty new session')
    t.ok(deleted(res), 'the cookie is deleted')
  }
  t.same(logs.filter((l) => l.reason === 'revoked').map((l) => [l.level, l.msg]),
    [[20, 'session cookie rejected: the session was created before its user was revoked'], [20, 'session cookie rejected: the session was created before its user was revoked']],
    'one debug line per request')
  t.notOk(logs.some((l) => (l.level as number) > 30), 'nothing above info')
  const untouched = await read(app, ada, '/untouched')
  t.ok(deleted(untouched), 'a route that never reads the session deletes the revoked cookie too: the check runs before the handler')
  const kept = await read(app, grace)
  t.same(kept.json(), { username: 'grace', new: false, size: 2 })
  t.same(setCookies(kept), [], "another user's session is kept")
})

t.test('a session created after the revocation is accepted, in the same second and millisecond by millisecond', async (t) => {
  const clockAt = msClock(t, S * 1000 + 100)
  const app = await revocationApp(new MemoryStore())
  const before = await app.inject('/login?user=ada')
  t.match(carry(before).session, new RegExp(`^2m\\.[^.]+\\.${(S * 1000 + 100).toString(36)}\\.${S.toString(36)}\\.`),
    'the signed cookie keeps its creation time in milliseconds (head flag m), its signing time in seconds')
  clockAt.set(S * 1000 + 200)
  const justBefore = await app.inject('/login?user=ada')
  await app.sessions.revokeUser('ada')
  clockAt.set(S * 1000 + 201)
  const after = await app.inject('/login?user=ada')
  clockAt.set(S * 1000 + 900)
  t.equal((await read(app, before)).json().new, true, 'created 100 ms before: rejected')
  t.equal((await read(app, justBefore)).json().new, true, 'created in the millisecond of the revocation: rejected')
  t.same((await read(app, after)).json(), { username: 'ada', new: false, size: 2 }, 'created the millisecond after, in the same second: accepted')
})

t.test('revokeUser resolves only once a session created next is accepted, on the real clock', async (t) => {
  const app = await revocationApp(new MemoryStore())
  for (let i = 0; i < 100; i++) {
    const before = await app.inject('/login?user=ada')
    await app.sessions.revokeUser('ada')
    const after = await app.inject('/login?user=ada')
    t.equal((await read(app, before)).json().new, true)
    t.equal((await read(app, after)).json().new, false)
  }
})

t.test('a cookie with its creation time in whole seconds is taken as created at the start of that second', async (t) => {
  msClock(t, S * 1000 + 500)
  const store = new MemoryStore()
  const plain = await build({}, routes)
  const seconds = await plain.inject('/login?user=ada')
  t.match(carry(seconds).session, /^2\./, 'without revocation, the cookie is as before: no m flag')
  const app = await revocationApp(store)
  t.equal((await read(app, seconds)).json().new, false, 'never revoked: accepted')
  await app.sessions.revokeUser('ada')
  t.equal((await read(app, seconds)).json().new, true, 'revoked at .500 of its second: rejected (it may have been created before)')
  const earlier = await app.inject('/login?user=grace')
  await store.set('revoked:grace', { set: { notBefore: String(S * 1000) }, delete: [], create: true }, 60)
  const other = await revocationApp(store)
  t.equal((await read(other, await plain.inject('/login?user=grace'))).json().new, false, 'revoked at the start of its second: accepted')
  t.equal((await read(other, earlier)).json().new, false)
})

t.test('the encrypted format keeps the creation time in milliseconds too', async (t) => {
  const clockAt = msClock(t, S * 1000 + 100)
  const app = await revocationApp(new MemoryStore(), { format: 'encrypted' })
  const before = await app.inject('/login?user=ada')
  t.match(carry(before).session, /^e2m\./)
  clockAt.set(S * 1000 + 300)
  await app.sessions.revokeUser('ada')
  clockAt.set(S * 1000 + 301)
  const after = await app.inject('/login?user=ada')
  t.equal((await read(app, before)).json().new, true)
  t.equal((await read(app, after)).json().new, false)
})

t.test('each process asks the store at most once per user per cacheSeconds, "never revoked" included', async (t) => {
  const clockAt = msClock(t, S * 1000)
  const store = new SpyStore()
  const app = await revocationApp(store, {}, undefined, { cacheSeconds: 5 })
  const ada = await app.inject('/login?user=ada')
  const grace = await app.inject('/login?user=grace')
  t.same(gets(store), [], 'creating a session asks nothing')
  for (let i = 0; i < 5; i++) {
    await read(app, ada)
    await read(app, grace)
  }
  t.same(gets(store), ['revoked:ada', 'revoked:grace'], 'once per user')
  clockAt.set(S * 1000 + 4999)
  await read(app, ada)
  t.equal(gets(store).length, 2, 'still kept just before cacheSeconds')
  clockAt.set(S * 1000 + 5000)
  await read(app, ada)
  await read(app, ada)
  t.same(gets(store), ['revoked:ada', 'revoked:grace', 'revoked:ada'], 'asked again once cacheSeconds have passed')
})

t.test('a process keeps the answers of 10,000 users: beyond, the one used longest ago is dropped', async (t) => {
  const store = new SpyStore()
  const app = await revocationApp(store)
  const values = await Promise.all(Array.from({ length: 10001 }, async (_, i) => await app.sessions.encode({ username: `u${i}` })))
  for (const value of values) await app.sessions.decode(value)
  t.equal(gets(store).length, 10001)
  await app.sessions.decode(values[1] as string)
  await app.sessions.decode(values[10000] as string)
  t.equal(gets(store).length, 10001, 'the second user and the newest are still kept')
  await app.sessions.decode(values[0] as string)
  t.same(gets(store).slice(10001), ['revoked:u0'], 'the first user asked is asked again')
})

t.test('concurrent requests of one user share one lookup; with cacheSeconds 0 each later request asks again', async (t) => {
  const store = new SpyStore()
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  const app = await revocationApp(store, {}, undefined, { cacheSeconds: 0 })
  const ada = await app.inject('/login?user=ada')
  store.beforeGet = async () => { await held }
  const pending = Array.from({ length: 5 }, async () => await read(app, ada))
  await new Promise((resolve) => setTimeout(resolve, 20))
  release()
  const all = await Promise.all(pending)
  t.same(all.map((res) => res.json().username), ['ada', 'ada', 'ada', 'ada', 'ada'])
  t.equal(store.calls.filter(([m]) => m === 'get').length, 1, 'five concurrent requests, one lookup')
  await read(app, ada)
  await read(app, ada)
  t.equal(store.calls.filter(([m]) => m === 'get').length, 3, 'cacheSeconds 0: one lookup per later request')
})

t.test('sessions that carry no user in userKey never touch the store', async (t) => {
  const store = new SpyStore()
  const app = await build({ revocation: { store, userKey: 'value' } }, (a) => {
    routes(a)
    a.get('/value', async (request) => {
      const value = (request.query as { v: string }).v
      request.session.set('value', JSON.parse(value) as unknown)
      return 'ok'
    })
  })
  for (const value of ['""', '{"id":"ada"}', 'true', 'null', '["ada"]']) {
    const res = await app.inject(`/value?v=${encodeURIComponent(value)}`)
    t.equal((await app.inject({ url: '/read', cookies: carry(res) })).json().new, false, `${value}: loaded`)
  }
  await read(app, await app.inject('/login?user=ada'))
  await app.inject('/read')
  await app.inject({ url: '/read', cookies: { session: 'not a cookie' } })
  t.same(store.calls, [], 'no user, no cookie, a bad cookie: no store call')
  await app.inject({ url: '/value?v=42' }).then(async (res) => await app.inject({ url: '/read', cookies: carry(res) }))
  t.same(gets(store), ['revoked:42'], 'a number is a user')
})

t.test('a number and its text name the same user', async (t) => {
  const app = await build({ revocation: { store: new MemoryStore(), userKey: 'counter' } }, routes)
  const numbered = await app.inject('/login?counter=42')
  await app.sessions.revokeUser('42')
  t.equal((await read(app, numbered)).json().new, true)
  const again = await app.inject('/login?counter=7')
  await app.sessions.revokeUser(7)
  t.equal((await read(app, again)).json().new, true)
})

t.test('revokeUser: a coded error without revocation, and for a user that no session can hold', async (t) => {
  const plain = await build({}, routes)
  const err = await plain.sessions.revokeUser('ada').then(() => undefined, (e: Error & { code: string }) => e)
  t.equal(err?.code, 'FST_ERR_SESSION_INVALID_OPTION')
  t.equal(err?.message, "Invalid option revocation: expected a revocation option, to call app.sessions.revokeUser() (in store mode, the store's destroyUser(user) ends a user's sessions), received undefined")
  const store = new SpyStore()
  const app = await revocationApp(store)
  for (const user of [undefined, null, '', {}, true, ['ada']]) {
    const bad = await app.sessions.revokeUser(user as string).then(() => undefined, (e: Error & { code: string }) => e)
    t.equal(bad?.code, 'FST_ERR_SESSION_INVALID_OPTION', String(user))
    t.match(bad?.message, /^Invalid option user of revokeUser\(\): expected a non-empty string or a number, as the sessions hold it in username, received /)
  }
  t.same(store.calls, [], 'nothing is written')
})

t.test('a store that fails gives a 503, for the check and for revokeUser; a failure is not kept', async (t) => {
  const store = new SpyStore()
  const app = await revocationApp(store)
  const ada = await app.inject('/login?user=ada')
  store.failing.add('get')
  const failed = await read(app, ada)
  t.equal(failed.statusCode, 503)
  t.equal(failed.json().code, 'FST_ERR_SESSION_STORE_UNAVAILABLE')
  t.match(failed.json().message, 'the revocation lookup failed: connection lost in get')
  store.failing.delete('get')
  t.equal((await read(app, ada)).json().username, 'ada', 'the next request asks again, and is served')
  store.failing.add('set')
  const err = await app.sessions.revokeUser('ada').then(() => undefined, (e: Error & { code: string, cause: Error }) => e)
  t.equal(err?.code, 'FST_ERR_SESSION_STORE_UNAVAILABLE')
  t.equal(err?.cause.message, 'connection lost in set')
  t.equal((await read(app, ada)).json().username, 'ada', 'a revocation that failed is not applied here either')
  const throwing: SessionStore = {
    ...new MemoryStore(),
    get: () => { throw new Error('thrown at once') },
    set: async () => {},
    touch: async () => {},
    destroy: async () => {},
    rename: async () => {}
  }
  const other = await revocationApp(throwing)
  const res = await read(other, await other.inject('/login?user=ada'))
  t.equal(res.statusCode, 503, 'a store that throws instead of rejecting')
})

/** A spy whose `get` reads the record, then waits for `afterGet` before it answers (or fails). */
class LateStore extends SpyStore {
  afterGet: () => Promise<void> = async () => {}
  override async get (id: string): Promise<StoreRecord | null> {
    this.record('get', id)
    const record = await this.inner.get(id)
    await this.afterGet()
    return record
  }
}

t.test('a lookup in flight when this process revokes the user is not kept: the revocation is', async (t) => {
  const store = new LateStore()
  const app = await revocationApp(store)
  const ada = await app.inject('/login?user=ada')
  let release: () => void = () => {}
  store.afterGet = async () => { await new Promise<void>((resolve) => { release = resolve }) }
  const inFlight = read(app, ada)
  await new Promise((resolve) => setTimeout(resolve, 20))
  await app.sessions.revokeUser('ada')
  release()
  t.equal((await inFlight).json().username, 'ada', 'a request whose lookup read the store before the revocation is served')
  t.equal((await read(app, ada)).json().new, true, 'the next one sees the revocation, without asking')
  t.equal(gets(store).length, 1)

  const failing = new LateStore()
  const other = await revocationApp(failing)
  const grace = await other.inject('/login?user=grace')
  failing.afterGet = async () => {
    await new Promise<void>((resolve) => { release = resolve })
    throw new Error('connection lost')
  }
  const failingFlight = read(other, grace)
  await new Promise((resolve) => setTimeout(resolve, 20))
  await other.sessions.revokeUser('grace')
  release()
  t.equal((await failingFlight).statusCode, 503, 'a lookup that fails after the revocation fails its requests')
  t.equal((await read(other, grace)).json().new, true, 'and leaves the revocation kept')
})

t.test('a damaged record is skipped with a debug line', async (t) => {
  const logs: Array<Record<string, unknown>> = []
  const store = new MemoryStore()
  await store.set('revoked:ada', { set: { notBefore: 'soon' }, delete: [], create: true }, 60)
  await store.set('revoked:grace', { set: { other: '1' }, delete: [], create: true }, 60)
  const app = await revocationApp(store, {}, logs)
  t.equal((await read(app, await app.inject('/login?user=ada'))).json().username, 'ada')
  t.equal((await read(app, await app.inject('/login?user=grace'))).json().username, 'grace', 'a record without notBefore is no revocation')
  t.same(logs.filter((l) => l.reason === 'malformed revocation record').map((l) => [l.level, l.msg]),
    [[20, 'revocation record of a user skipped: its notBefore is not a time ("soon")']])
})

t.test('"log out my other devices": revokeUser, then regenerate() keeps this device', async (t) => {
  const app = await revocationApp(new MemoryStore())
  const phone = await app.inject('/login?user=ada')
  const laptop = await app.inject('/login?user=ada')
  const res = await read(app, laptop, '/others')
  t.equal(res.body, 'others logged out')
  t.same((await app.inject({ url: '/read', cookies: carry(res) })).json(), { username: 'ada', new: false, size: 2 }, 'this device stays logged in')
  t.equal((await read(app, phone)).json().new, true, 'the other device is logged out')
  t.equal((await read(app, laptop)).json().new, true, "this device's old cookie too")
})

t.test('routes: one that is off never checks; a read-only one reads an empty session and sets no cookie; validate runs after', async (t) => {
  const store = new SpyStore()
  const validated: string[] = []
  const app = await revocationApp(store, { validate: (session) => { validated.push(session.get('username') as string); return true } })
  const ada = await app.inject('/login?user=ada')
  const grace = await app.inject('/login?user=grace')
  await app.sessions.revokeUser('ada')
  t.equal((await read(app, ada, '/off')).body, 'off')
  t.same(gets(store), [], 'a route that is off never reads the cookie')
  const readonly = await read(app, ada, '/readonly')
  t.equal(readonly.body, 'nobody')
  t.same(setCookies(readonly), [])
  t.equal((await read(app, grace)).json().username, 'grace')
  t.same(validated, ['grace'], 'validate runs only for a session that is not revoked')
  store.failing.add('get')
  t.equal((await read(app, await app.inject('/login?user=alan'))).statusCode, 503, 'and a failing store fails the request before validate')
})

t.test('decode returns null for a revoked session; encode keeps the creation time in milliseconds', async (t) => {
  const clockAt = msClock(t, S * 1000 + 100)
  const app = await revocationApp(new MemoryStore())
  const value = await app.sessions.encode({ username: 'ada' })
  t.match(value, /^2m\./)
  const anonymous = await app.sessions.encode({ counter: 1 })
  clockAt.set(S * 1000 + 150)
  t.equal((await app.sessions.decode(value))?.get('username'), 'ada')
  await app.sessions.revokeUser('ada')
  t.equal(await app.sessions.decode(value), null)
  t.equal((await app.sessions.decode(anonymous))?.get('counter'), 1)
  t.equal(await app.sessions.decode('bad'), null)
  clockAt.set(S * 1000 + 152)
  const after = await app.sessions.encode({ username: 'ada' })
  t.equal((await app.sessions.decode(after))?.get('username'), 'ada', 'encoded after the revocation, in the same second')
})

t.test('a chunked session that is revoked has every chunk deleted', async (t) => {
  const app = await build({ maxChunks: 3, revocation: { store: new MemoryStore(), userKey: 'username' } } as Partial<TypedSessionOptions>, (a) => {
    routes(a)
    a.get('/big', async (request) => {
      request.session.set('username', 'ada')
      request.session.set('value', Array.from({ length: 300 }, (_, i) => `${i}-${Math.random().toString(36)}`))
      return 'ok'
    })
  })
  const big = await app.inject('/big')
  const cookies = Object.fromEntries(big.cookies.map((c) => [c.name, c.value]))
  t.ok('session.1' in cookies, 'the session spans several cookies')
  await app.sessions.revokeUser('ada')
  const res = await app.inject({ url: '/read', cookies })
  t.equal(res.json().new, true)
  const expired = setCookies(res).filter((h) => h.includes('Max-Age=0')).map((h) => h.slice(0, h.indexOf('=')))
  t.same(expired.sort(), Object.keys(cookies).sort(), 'each chunk is deleted')
})

t.test('codecs: the m flag is one text per value, and an m value with a whole second is refused', async (t) => {
  const key = Buffer.from(SECRET)
  const signed = signedCodec([key])
  const sealed = signed.seal('{"a":1}', false, S + 0.25, S)
  t.match(signed.open(sealed), { created: S + 0.25, issued: S })
  t.equal(signed.seal('{"a":1}', false, S, S).split('.')[0], '2', 'a whole second is written in seconds, without m')
  const [head, payload, , issued] = sealed.split('.') as [string, string, string, string]
  const forged = `${head}.${payload}.${(S * 1000).toString(36)}.${issued}`
  const tag = hmacTag(deriveKeys([key], 'fastify-typed-session signed v2')[0] as Buffer, forged)
  t.equal(signed.open(`${forged}.${tag}`), 'the value is malformed', 'a signed m value whose milliseconds make a whole second')
  const encrypted = encryptedCodec([key])
  const value = encrypted.seal('{"a":1}', true, S + 0.999, S)
  t.match(value, /^e2pm\./)
  t.match(encrypted.open(value), { created: S + 0.999, issued: S, permanent: true })
  t.equal(encrypted.seal('{"a":1}', true, S, S).split('.')[0], 'e2p')
  t.equal(encryptedCodec([key], undefined, 3).seal('{}', false, S + 0.5, S).split('.')[0], 'e2mv3')
  // Sealed by hand: the codec's own seal never writes a whole second under m.
  const plain = Buffer.alloc(32)
  plain.writeUIntBE(S * 1000, 0, 6)
  plain.writeUIntBE(S, 6, 5)
  plain.write('{}', 11)
  plain[13] = 0x80
  const blob = Buffer.alloc(24 + 32 + 16)
  defaultAead().seal(blob.subarray(24), plain, Buffer.from('e2m'), blob.subarray(0, 24), deriveKeys([key], 'fastify-typed-session encrypted v2')[0] as Buffer)
  t.equal(encrypted.open(`e2m.${blob.toString('base64url')}`), 'the creation time is malformed', 'an encrypted m value whose milliseconds make a whole second')
  plain.writeUIntBE(S * 1000 + 1, 0, 6)
  defaultAead().seal(blob.subarray(24), plain, Buffer.from('e2m'), blob.subarray(0, 24), deriveKeys([key], 'fastify-typed-session encrypted v2')[0] as Buffer)
  t.match(encrypted.open(`e2m.${blob.toString('base64url')}`), { body: '{}', created: S + 0.001, issued: S }, 'the same layout with a millisecond opens')
  t.equal(signedCodec([key], 35).open(signedCodec([key], 35).seal('{"a":1}', false, S, S)).constructor, Object,
    'a version whose base36 holds a z does not read as deflated')
})

t.test('codecs: any creation time in milliseconds comes back exactly, with m unless it is a whole second', async (t) => {
  const key = Buffer.from(SECRET)
  const codecs = { signed: signedCodec([key]), encrypted: encryptedCodec([key]) }
  const wrong: string[] = []
  for (let i = 0; i < 2000; i++) {
    const ms = S * 1000 + Math.floor(Math.random() * 1e9) * (i % 10 === 0 ? 1000 : 1)
    for (const [name, codec] of Object.entries(codecs)) {
      const value = codec.seal('{"username":"ada"}', i % 2 === 0, ms / 1000, Math.floor(ms / 1000))
      const opened = codec.open(value)
      const flagged = /^(?:2|e2)p?m/.test(value)
      if (typeof opened === 'string' || opened.created !== ms / 1000 || flagged !== (ms % 1000 !== 0)) wrong.push(`${name} ${ms}`)
    }
  }
  t.same(wrong, [])
})

t.test('the policy accepts a creation time later in the second it was signed in, and refuses one in a later second', async (t) => {
  msClock(t, S * 1000 + 500)
  const key = Buffer.from(SECRET)
  const app = await revocationApp(new MemoryStore())
  const codec = signedCodec([key])
  t.equal((await app.sessions.decode(codec.seal('{"username":"ada"}', false, S + 0.9, S)))?.get('username'), 'ada')
  t.equal(await app.sessions.decode(codec.seal('{"username":"ada"}', false, S + 1.001, S)), null)
})

t.test('two app instances on one Redis: a revocation reaches the other within cacheSeconds', needsRedis, async (t) => {
  const clockAt = msClock(t, S * 1000)
  const redis = await startRedis(t)
  const a = await revocationApp(new RedisStore({ client: await redis.client() }), {}, undefined, { cacheSeconds: 5 })
  const b = await revocationApp(new RedisStore({ client: await redis.client() }), {}, undefined, { cacheSeconds: 5 })
  const ada = await a.inject('/login?user=ada')
  clockAt.set(S * 1000 + 1000)
  t.equal((await read(b, ada)).json().username, 'ada', 'B asks Redis: never revoked, kept for 5 s')
  clockAt.set(S * 1000 + 2000)
  await a.sessions.revokeUser('ada')
  const client = await redis.client()
  t.same(await client.hgetall('session:revoked:ada'), { notBefore: String(S * 1000 + 2001) })
  const ttl = await client.pttl('session:revoked:ada')
  t.ok(ttl > (2678400 + 4) * 1000 && ttl <= (2678400 + 5) * 1000, `the record expires maxAge + cacheSeconds later (${ttl} ms)`)
  t.equal((await read(a, ada)).json().new, true, 'A: at once')
  t.equal((await read(b, ada)).json().new, false, 'B: not yet, its answer is kept')
  clockAt.set(S * 1000 + 5999)
  t.equal((await read(b, ada)).json().new, false, 'B: until cacheSeconds after it asked')
  clockAt.set(S * 1000 + 6000)
  const res = await read(b, ada)
  t.equal(res.json().new, true, 'B: once cacheSeconds have passed')
  t.ok(deleted(res))
  const fresh = await b.inject('/login?user=ada')
  t.equal((await read(a, fresh)).json().username, 'ada', 'a session created after the revocation is accepted by both')
})

t.test('a Redis that answers late gives a 503 within its timeout', needsRedis, async (t) => {
  const redis = await startRedis(t)
  const app = await revocationApp(new RedisStore({ client: await redis.client(), timeout: 0.2 }))
  const ada = await app.inject('/login?user=ada')
  redis.pause()
  const started = performance.now()
  const res = await read(app, ada)
  const took = performance.now() - started
  redis.resume()
  t.equal(res.statusCode, 503)
  t.match(res.json().message, 'Redis did not answer within 0.2 s')
  t.ok(took < 1000, `within the timeout (${Math.round(took)} ms)`)
  t.equal((await read(app, ada)).json().username, 'ada', 'served once Redis answers')
})
