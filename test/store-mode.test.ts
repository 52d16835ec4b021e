/**
 * Store mode (DESIGN.md rules 1-9 with `store`), on `MemoryStore`: the
 * cookie carries only the signed id, the data lives in the store, a save
 * merges by key, and a failing store gives a 503.
 */
import type { FastifyError, FastifyInstance, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { MemoryStore, type Session, type SessionStore, type StoreChange, type StoreRecord } from '../lib/index.js'
import { build, freezeClock, OTHER_SECRET, SECRET, sessionCookie, setCookies } from './helpers/build.js'
import { ImmediateSpyStore, SpyStore, type Call } from './helpers/stores.js'

/** A signed session id: 43 base64url characters of id, a dot, 43 of HMAC. */
const SIGNED_ID = /^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/

/** The session cookie a response set, which must be a signed id. */
function carry (res: LightMyRequestResponse): { session: string } {
  const value = sessionCookie(res)
  if (value === undefined || !SIGNED_ID.test(value)) throw new Error(`expected a signed id cookie, got ${JSON.stringify(setCookies(res))}`)
  return { session: value }
}

const idOf = (cookie: { session: string }): string => cookie.session.slice(0, 43)

/** Routes shared by most tests. */
function routes (app: FastifyInstance): void {
  app.get('/login', async (request) => {
    request.session.set('username', 'ada')
    request.session.set('counter', 0)
    return 'ok'
  })
  app.get('/login-permanent', async (request) => {
    request.session.set('username', 'ada')
    request.session.permanent = true
    return 'ok'
  })
  app.get('/read', async (request) => ({
    username: request.session.get('username') ?? null,
    counter: request.session.get('counter') ?? null,
    new: request.session.new
  }))
  app.get('/untouched', async () => 'ok')
  app.get('/counter/:n', async (request) => {
    request.session.set('counter', Number((request.params as { n: string }).n))
    return 'ok'
  })
  app.get('/clear', async (request) => { request.session.clear(); return 'ok' })
}

t.test('an empty new session writes no record and sets no cookie', async (t) => {
  const store = new SpyStore()
  const app = await build({ store }, (app) => {
    routes(app)
    app.get('/set-and-delete', async (request) => {
      request.session.set('username', 'ada')
      request.session.delete('username')
      return 'ok'
    })
  })
  for (const url of ['/read', '/untouched', '/set-and-delete']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 200)
    t.same(setCookies(res), [], `${url} sets no cookie`)
  }
  t.equal((await app.inject('/read')).headers.vary, 'Cookie', 'a session that was read adds Vary: Cookie')
  t.equal((await app.inject('/untouched')).headers.vary, undefined)
  t.same(store.calls, [], 'the store is never called')
  t.equal(store.inner.size, 0)
})

t.test('the cookie carries only the signed session id, and the data lives in the store', async (t) => {
  const store = new SpyStore()
  const app = await build({ store }, routes)
  const login = await app.inject('/login')
  const cookie = carry(login)
  t.equal(cookie.session.length, 87)
  t.match(setCookies(login)[0], /^session=[\w-]{43}\.[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax$/, 'a browser-session cookie')
  t.equal(login.headers.vary, 'Cookie')
  const record = await store.inner.get(idOf(cookie))
  t.same(record, { username: '"ada"', counter: '0', _created: record?._created }, 'one field per key, in tagged JSON')
  t.match(record?._created, /^\d+$/)
  t.same(store.writes().map(([method, , change]) => [method, (change as StoreChange).create]), [['set', true]])
  t.same((await app.inject({ url: '/read', cookies: cookie })).json(), { username: 'ada', counter: 0, new: false })
})

t.test('every value type comes back with its type', async (t) => {
  const store = new MemoryStore()
  const when = new Date('2024-01-02T03:04:05.678Z')
  const app = await build({ store }, (app) => {
    app.get('/set', async (request) => {
      request.session.set('value', {
        text: 'héllo',
        number: 1.5,
        yes: true,
        nothing: null,
        list: [1, 'two', null, [3]],
        date: when,
        buffer: Buffer.from('abc'),
        bytes: new Uint8Array([1, 2]),
        big: 12345678901234567890n,
        map: new Map<unknown, unknown>([['a', 1], [2, when]]),
        set: new Set(['x', 'y']),
        nan: NaN,
        infinity: -Infinity,
        negativeZero: -0,
        tagLike: { '~d': 'not a date' }
      })
      request.session.set('nested', { list: ['a'], when })
      return 'ok'
    })
    app.get('/get', async (request) => {
      const v = request.session.get('value') as Record<string, unknown>
      const map = v.map as Map<unknown, unknown>
      return {
        json: [v.text, v.number, v.yes, v.nothing, v.list],
        date: v.date instanceof Date && v.date.toISOString(),
        buffer: Buffer.isBuffer(v.buffer) && v.buffer.toString(),
        bytes: Buffer.isBuffer(v.bytes) && [...v.bytes],
        big: typeof v.big === 'bigint' && v.big.toString(),
        map: map instanceof Map && map.get('a') === 1 && map.get(2) instanceof Date,
        set: v.set instanceof Set && [...v.set],
        numbers: [Number.isNaN(v.nan), v.infinity === -Infinity, Object.is(v.negativeZero, -0)],
        tagLike: v.tagLike,
        nested: request.session.get('nested')?.when?.getTime() === when.getTime()
      }
    })
  })
  const res = await app.inject({ url: '/get', cookies: carry(await app.inject('/set')) })
  t.same(res.json(), {
    json: ['héllo', 1.5, true, null, [1, 'two', null, [3]]],
    date: '2024-01-02T03:04:05.678Z',
    buffer: 'abc',
    bytes: [1, 2],
    big: '12345678901234567890',
    map: true,
    set: ['x', 'y'],
    numbers: [true, true, true],
    tagLike: { '~d': 'not a date' },
    nested: true
  })
})

t.test('a nested value changed in place is saved, as a change of its top-level key only', async (t) => {
  const store = new SpyStore()
  const app = await build({ store }, (app) => {
    routes(app)
    app.get('/start', async (request) => {
      request.session.set('nested', { list: ['a'] })
      request.session.set('username', 'ada')
      return 'ok'
    })
    app.get('/push', async (request) => { request.session.get('nested')?.list.push('b'); return 'ok' })
    app.get('/look', async (request) => request.session.get('nested'))
  })
  const cookie = carry(await app.inject('/start'))
  store.calls.length = 0
  const push = await app.inject({ url: '/push', cookies: cookie })
  t.same(setCookies(push), [], 'the id does not change, so no cookie is set')
  t.same(store.writes(), [['set', idOf(cookie), { set: { nested: '{"list":["a","b"]}' }, delete: [], create: false }, 2678400]])
  t.same((await app.inject({ url: '/look', cookies: cookie })).json(), { list: ['a', 'b'] })
  t.same(store.writes().length, 1, 'reading it back writes nothing')
})

t.test('a save keeps the creation time its record holds, as written, and a record without one gets it', async (t) => {
  const store = new SpyStore()
  const app = await build({ store }, routes)
  const cookie = carry(await app.inject('/login'))
  const id = idOf(cookie)
  // The same instant written another way: the save must not rewrite it.
  await store.inner.set(id, { set: { _created: '1e3' }, delete: [], create: false }, 100)
  store.calls.length = 0
  await app.inject({ url: '/counter/1', cookies: cookie })
  t.same(store.writes().map(([, , change]) => (change as StoreChange).set), [{ counter: '1' }], 'only the counter is written')
  t.equal((await store.inner.get(id))?._created, '1e3')
  // A record that lost its creation time gets the one the session has.
  await store.inner.set(id, { set: {}, delete: ['_created'], create: false }, 100)
  store.calls.length = 0
  await app.inject({ url: '/counter/2', cookies: cookie })
  t.same(store.writes().map(([, , change]) => (change as StoreChange).set), [{ counter: '2', _created: '0' }])
})

t.test('a save names only the fields it changes and deletes only the keys removed, whatever their names', async (t) => {
  const store = new SpyStore()
  // Names that a plain object inherits from Object.prototype are session keys like any other.
  type AnyKeys = Pick<Map<string, unknown>, 'set' | 'delete'>
  const app = await build({ store }, (app) => {
    routes(app)
    app.get('/swap', async (request) => {
      const session = request.session as unknown as AnyKeys
      session.delete('username')
      session.set('valueOf', 'v')
      return 'ok'
    })
    app.get('/again', async (request) => {
      (request.session as unknown as AnyKeys).set('valueOf', 'v')
      request.session.set('counter', 0)
      return 'ok'
    })
    app.get('/drop', async (request) => { (request.session as unknown as AnyKeys).delete('valueOf'); return 'ok' })
  })
  const cookie = carry(await app.inject('/login'))
  store.calls.length = 0
  await app.inject({ url: '/swap', cookies: cookie })
  t.same(store.writes(), [['set', idOf(cookie), { set: { valueOf: '"v"' }, delete: ['username'], create: false }, 2678400]],
    'the new key is set and the removed one deleted, while the unchanged counter is not written')
  store.calls.length = 0
  await app.inject({ url: '/again', cookies: cookie })
  t.same(store.writes(), [], 'setting the values the record holds writes nothing')
  await app.inject({ url: '/drop', cookies: cookie })
  t.same(store.writes(), [['set', idOf(cookie), { set: {}, delete: ['valueOf'], create: false }, 2678400]])
  t.same((await app.inject({ url: '/read', cookies: cookie })).json(), { username: null, counter: 0, new: false })
})

t.test('a mutable value is handed out even after an unserializable one was set, and the save then fails with the code', async (t) => {
  const store = new SpyStore()
  let handedOut: unknown
  const app = await build({ store }, (app) => {
    routes(app)
    app.get('/start', async (request) => { request.session.set('nested', { list: ['a'] }); return 'ok' })
    app.get('/bad', async (request) => {
      request.session.set('value', () => 1)
      handedOut = request.session.get('nested')
      return 'ok'
    })
  })
  const cookie = carry(await app.inject('/start'))
  store.calls.length = 0
  const res = await app.inject({ url: '/bad', cookies: cookie })
  t.same(handedOut, { list: ['a'] }, 'get() returned the value')
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'FST_ERR_SESSION_UNSERIALIZABLE')
  t.same(store.writes(), [], 'nothing was written')
})

t.test('clear() deletes the record and the cookie, so the session ends on every device', async (t) => {
  const store = new SpyStore()
  const app = await build({ store }, routes)
  const cookie = carry(await app.inject('/login'))
  const clear = await app.inject({ url: '/clear', cookies: cookie })
  t.same(setCookies(clear), ['session=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly; SameSite=Lax'])
  t.equal(clear.headers.vary, 'Cookie')
  t.equal(await store.inner.get(idOf(cookie)), null)
  const other = await app.inject({ url: '/read', cookies: cookie })
  t.same(other.json(), { username: null, counter: null, new: true }, 'another device with the same cookie is logged out')
  t.same(setCookies(other), [])
})

t.test('a session emptied by deleting its last key deletes its record and its cookie', async (t) => {
  const store = new SpyStore()
  const app = await build({ store }, (app) => {
    routes(app)
    app.get('/logout', async (request) => { request.session.delete('username'); request.session.delete('counter'); return 'ok' })
  })
  const cookie = carry(await app.inject('/login'))
  const logout = await app.inject({ url: '/logout', cookies: cookie })
  t.match(setCookies(logout)[0], /^session=; Max-Age=0;/)
  t.same(store.writes().at(-1), ['destroy', idOf(cookie)])
})

t.test('regenerate(keep) gives a new id, keeps only the listed keys, and deletes the old record', async (t) => {
  const store = new SpyStore()
  const app = await build({ store }, (app) => {
    routes(app)
    app.get('/regenerate', async (request) => {
      await request.session.regenerate(['username', 'nested', 'username'])
      request.session.set('data', [1])
      return 'ok'
    })
  })
  const before = carry(await app.inject('/login'))
  const regenerate = await app.inject({ url: '/regenerate', cookies: before })
  const after = carry(regenerate)
  t.not(idOf(after), idOf(before))
  const rename = store.writes().at(-1) as Call
  t.same(rename.slice(0, 3), ['rename', idOf(before), idOf(after)], 'one atomic rename')
  t.same(Object.keys(rename[3] as StoreRecord), ['username', 'data', '_created'], 'the new record holds the kept key, the new one and a creation time')
  t.equal(await store.inner.get(idOf(before)), null)
  t.same((await app.inject({ url: '/read', cookies: after })).json(), { username: 'ada', counter: null, new: false })
  t.same((await app.inject({ url: '/read', cookies: before })).json().new, true, 'the old id is worthless')

  const fresh = await app.inject('/regenerate')
  t.same((await app.inject({ url: '/read', cookies: carry(fresh) })).json(), { username: null, counter: null, new: false },
    'a new session that regenerates is simply created')
})

t.test('regenerate() keeps no key but keeps permanent and the flashes; left with nothing, it deletes the record and the cookie', async (t) => {
  const store = new SpyStore()
  const app = await build({ store }, (app) => {
    routes(app)
    app.get('/flash', async (request) => { request.session.flash('welcome'); request.session.permanent = true; return 'ok' })
    app.get('/regenerate', async (request) => { await request.session.regenerate(); return 'ok' })
    app.get('/contents', async (request) => ({
      keys: [...request.session.keys()],
      permanent: request.session.permanent,
      flashes: request.session.getFlashedMessages()
    }))
  })
  const login = carry(await app.inject('/login'))
  const flashed = carry(await app.inject({ url: '/flash', cookies: login }))
  const regenerated = await app.inject({ url: '/regenerate', cookies: flashed })
  t.not(idOf(carry(regenerated)), idOf(flashed))
  t.equal(regenerated.cookies[0]?.maxAge, 2678400)
  t.same((await app.inject({ url: '/contents', cookies: carry(regenerated) })).json(), { keys: [], permanent: true, flashes: ['welcome'] })

  const other = carry(await app.inject('/login'))
  const logout = await app.inject({ url: '/regenerate', cookies: other })
  t.match(setCookies(logout)[0], /^session=; Max-Age=0;/)
  t.same(store.writes().at(-1), ['destroy', idOf(other)])
  t.equal(await store.inner.get(idOf(other)), null)
})

t.test('a store that answers at once (MemoryStore) is called through its immediate operations, with the same calls and answers', async (t) => {
  const clock = freezeClock(1_000_000)
  t.teardown(clock.restore)
  const lifecycle = async (store: SpyStore): Promise<unknown[]> => {
    const app = await build({ store }, (app) => {
      routes(app)
      app.get('/regenerate', async (request) => { await request.session.regenerate([...request.session.keys()]); return 'ok' })
    })
    const seen: unknown[] = []
    const step = async (url: string, cookies: { session: string } = { session: '' }): Promise<LightMyRequestResponse> => {
      const res = await app.inject({ url, cookies })
      seen.push(url, res.statusCode, res.body, setCookies(res).length)
      return res
    }
    let cookie = carry(await step('/login-permanent'))
    await step('/read', cookie) // a get, and a touch (refresh)
    await step('/counter/5', cookie) // a set
    cookie = carry(await step('/regenerate', cookie)) // a rename
    await step('/read', cookie)
    await step('/clear', cookie) // a destroy
    await step('/read', cookie)
    // The ids are random: compare the calls by method and the data they carry.
    seen.push(store.calls.map(([method, ...args]) => [method, ...args.filter((arg) => typeof arg !== 'string')]))
    await app.close()
    return seen
  }
  const immediate = new ImmediateSpyStore()
  const answers = await lifecycle(immediate)
  t.same(answers, await lifecycle(new SpyStore()))
  t.same(new Set(immediate.calls.map(([method]) => method)), new Set(['get', 'set', 'touch', 'rename', 'destroy']))
})

t.test('a store that answers at once and throws gives 503 FST_ERR_SESSION_STORE_UNAVAILABLE with the cause, on load and on save', async (t) => {
  const store = new ImmediateSpyStore()
  const app = await build({ store }, routes)
  const cookie = carry(await app.inject('/login'))
  for (const [method, url] of [['get', '/read'], ['set', '/counter/3']] as const) {
    store.failing.clear()
    store.failing.add(method)
    const res = await app.inject({ url, cookies: cookie })
    t.equal(res.statusCode, 503, method)
    t.equal(res.json().code, 'FST_ERR_SESSION_STORE_UNAVAILABLE', method)
    t.match(res.json().message, `${method} failed: connection lost in ${method}`)
  }
  store.failing.clear()
  t.same((await app.inject({ url: '/read', cookies: cookie })).json(), { username: 'ada', counter: 0, new: false }, 'the failed set wrote nothing')
})

t.test('a permanent session is refreshed: the cookie is set again and the TTL renewed, without rewriting the data', async (t) => {
  const clock = freezeClock(1_000_000)
  t.teardown(clock.restore)
  const store = new SpyStore()
  const app = await build({ store, maxAge: 100 }, (app) => {
    routes(app)
    app.get('/same', async (request) => { request.session.set('username', 'ada'); return 'ok' })
  })
  const login = await app.inject('/login-permanent')
  const cookie = carry(login)
  t.match(setCookies(login)[0], /; Max-Age=100; Expires=Mon, 12 Jan 1970 13:48:20 GMT;/)
  t.same(store.writes().map(([method, , , ttl]) => [method, ttl]), [['set', 100]])
  store.calls.length = 0

  clock.set(1_000_060)
  for (const url of ['/read', '/untouched', '/same']) {
    const res = await app.inject({ url, cookies: cookie })
    t.same(setCookies(res), [`session=${cookie.session}; Max-Age=100; Expires=Mon, 12 Jan 1970 13:49:20 GMT; Path=/; HttpOnly; SameSite=Lax`],
      `${url} re-sets the cookie with the new expiry`)
    t.equal(res.headers.vary, 'Cookie')
  }
  t.same(store.writes(), [['touch', idOf(cookie), 100], ['touch', idOf(cookie), 100], ['touch', idOf(cookie), 100]],
    'only the TTL is written, even when a key is set to the value it had')
  clock.set(1_000_150)
  t.same((await app.inject({ url: '/read', cookies: cookie })).json().username, 'ada', 'alive past its first expiry')
  clock.set(1_000_300)
  t.same((await app.inject({ url: '/read', cookies: cookie })).json().new, true, 'gone once its TTL passes')
})

t.test('without refreshEachRequest, a permanent session sets its cookie only when permanent changes', async (t) => {
  const store = new SpyStore()
  const app = await build({ store, refreshEachRequest: false }, (app) => {
    routes(app)
    app.get('/browser-session', async (request) => { request.session.permanent = false; return 'ok' })
  })
  const cookie = carry(await app.inject('/login'))
  const permanent = await app.inject({ url: '/login-permanent', cookies: cookie })
  t.match(setCookies(permanent)[0], new RegExp(`^session=${cookie.session}; Max-Age=2678400; Expires=`))
  t.same(store.writes().at(-1), ['set', idOf(cookie), { set: { _permanent: 'true' }, delete: [], create: false }, 2678400])
  store.calls.length = 0
  const read = await app.inject({ url: '/read', cookies: cookie })
  t.same(setCookies(read), [])
  t.same(store.writes(), [], 'no refresh')
  const browser = await app.inject({ url: '/browser-session', cookies: cookie })
  t.same(setCookies(browser), [`session=${cookie.session}; Path=/; HttpOnly; SameSite=Lax`], 'a browser-session cookie again')
  t.same(store.writes(), [['set', idOf(cookie), { set: {}, delete: ['_permanent'], create: false }, 2678400]])
})

t.test('a non-permanent session that a request reads or sets to the same value writes nothing and sets no cookie', async (t) => {
  const store = new SpyStore()
  const app = await build({ store }, (app) => {
    routes(app)
    app.get('/same', async (request) => { request.session.set('username', 'ada'); return 'ok' })
  })
  const cookie = carry(await app.inject('/login'))
  store.calls.length = 0
  for (const url of ['/read', '/untouched', '/same']) {
    const res = await app.inject({ url, cookies: cookie })
    t.same(setCookies(res), [], `${url} sets no cookie`)
  }
  t.same(store.writes(), [])
  t.same(store.calls.map(([method]) => method), ['get', 'get', 'get'], 'the record is loaded before the handler runs')
})

t.test('a cookie signed with an old key is re-issued with the current key, for the same id', async (t) => {
  const store = new SpyStore()
  const before = await build({ store, secret: OTHER_SECRET }, routes)
  const after = await build({ store, secret: [SECRET, OTHER_SECRET] }, routes)
  const old = carry(await before.inject('/login'))
  store.calls.length = 0
  const read = await after.inject({ url: '/read', cookies: old })
  t.same(read.json(), { username: 'ada', counter: 0, new: false })
  const renewed = carry(read)
  t.equal(idOf(renewed), idOf(old))
  t.not(renewed.session, old.session)
  t.same(store.writes(), [], 'the record is not rewritten')
  t.same(setCookies(await after.inject({ url: '/read', cookies: renewed })), [], 'the new cookie needs no renewal')
  t.same(setCookies(await after.inject({ url: '/untouched', cookies: old })), [], 'a route that never opens the session leaves it')
})

t.test('a tampered, malformed, doubled or unknown id gives an empty session and one debug line', async (t) => {
  const logs: Array<Record<string, unknown>> = []
  const store = new SpyStore()
  const app = await build({ store }, routes, logs)
  const cookie = carry(await app.inject('/login'))
  const unknown = await app.sessions.encode({ username: 'eve' })
  await store.inner.destroy(unknown.slice(0, 43))
  const tampered = (cookie.session[0] === 'A' ? 'B' : 'A') + cookie.session.slice(1)
  const cases: Array<[string, string, string]> = [
    ['a tampered id', `session=${tampered}`, 'the signature does not match any key'],
    ['a malformed value', 'session=abc', 'the value is malformed'],
    ['two different cookies', `session=${cookie.session}; session=${tampered}`, 'several values'],
    ['an id without a record', `session=${unknown}`, 'there is no record for the id (it expired or was deleted)']
  ]
  for (const [name, header, reason] of cases) {
    logs.length = 0
    store.calls.length = 0
    const res = await app.inject({ url: '/read', headers: { cookie: header } })
    t.equal(res.statusCode, 200, name)
    t.same(res.json(), { username: null, counter: null, new: true }, name)
    t.same(setCookies(res), [], `${name}: no cookie is set for an empty session`)
    t.same(logs.filter((line) => line.level === 20).map((line) => line.reason), [reason], `${name}: one debug line`)
    t.same(logs.filter((line) => (line.level as number) > 30), [], `${name}: nothing above info`)
    t.same(store.calls.length, reason.startsWith('there is no record') ? 1 : 0, `${name}: a bad signature never reaches the store`)
  }
  const clear = await app.inject({ url: '/clear', headers: { cookie: `session=${tampered}` } })
  t.match(setCookies(clear)[0], /^session=; Max-Age=0;/, 'clearing a rejected session deletes the cookie')
  t.same(store.writes(), [], 'and nothing in the store')
  t.same((await app.inject({ url: '/read', headers: { cookie: 'session=' } })).json().new, true, 'an empty cookie is no session')
})

t.test('a record that cannot be decoded gives an empty session and one debug line', async (t) => {
  const logs: Array<Record<string, unknown>> = []
  const store = new MemoryStore()
  const app = await build({ store }, (app) => {
    routes(app)
    app.get('/contents', async (request) => ({ entries: [...request.session.entries()], flashes: request.session.getFlashedMessages() }))
  }, logs)
  const value = await app.sessions.encode({ username: 'ada' }, { permanent: true })
  // Fields that read well come before the bad one, so they are read first, and must not be kept.
  await store.set(value.slice(0, 43), { set: { _flashes: '[["message","hi"]]', counter: '{not json' }, delete: [], create: false }, 100)
  logs.length = 0
  const res = await app.inject({ url: '/read', cookies: { session: value } })
  t.same(res.json(), { username: null, counter: null, new: true })
  t.match(logs.filter((line) => line.level === 20).map((line) => line.reason), [/^the record cannot be decoded/])
  t.same(setCookies(res), [], 'and it is not refreshed as a permanent session')
  t.same((await app.inject({ url: '/contents', cookies: { session: value } })).json(), { entries: [], flashes: [] },
    'nothing read before the bad field is kept, flashes included')
})

t.test('only a record\'s own fields are read: an inherited enumerable one is not session data', async (t) => {
  // A store whose records inherit an enumerable field, as every plain object would after prototype pollution.
  class InheritingStore extends SpyStore {
    override async get (id: string): Promise<StoreRecord | null> {
      const record = await super.get(id)
      return record === null ? null : Object.assign(Object.create({ admin: 'true' }) as StoreRecord, record)
    }
  }
  const store = new InheritingStore()
  const app = await build({ store }, (app) => {
    routes(app)
    app.get('/contents', async (request) => [...request.session.entries()])
  })
  const cookie = carry(await app.inject('/login'))
  t.same((await app.inject({ url: '/contents', cookies: cookie })).json(), [['username', 'ada'], ['counter', 0]])
})

t.test('absoluteTimeout bounds a session from its creation, however often it is refreshed', async (t) => {
  const clock = freezeClock(1_000_000)
  t.teardown(clock.restore)
  const logs: Array<Record<string, unknown>> = []
  const store = new SpyStore()
  const app = await build({ store, maxAge: 1000, absoluteTimeout: 100 }, routes, logs)
  const cookie = carry(await app.inject('/login-permanent'))
  t.same(store.writes().map(([method, , , ttl]) => [method, ttl]), [['set', 100]], 'the TTL is the time left, not maxAge')
  clock.set(1_000_060)
  t.same((await app.inject({ url: '/read', cookies: cookie })).json().username, 'ada')
  t.same(store.writes().at(-1), ['touch', idOf(cookie), 40], 'a refresh renews only up to the absolute timeout')
  clock.set(1_000_099)
  t.same((await app.inject({ url: '/read', cookies: cookie })).json().username, 'ada')
  t.same(store.writes().at(-1), ['touch', idOf(cookie), 1], 'at least one second')
  // The record still exists when the store's clock lags: the plugin checks the age itself.
  await store.inner.touch(idOf(cookie), 1000)
  clock.set(1_000_101)
  logs.length = 0
  t.same((await app.inject({ url: '/read', cookies: cookie })).json().new, true)
  t.same(logs.filter((line) => line.level === 20).map((line) => line.reason), ['the session is older than absoluteTimeout (100 s)'])
})

t.test('under absoluteTimeout, a record whose creation time is not a number gives an empty session', async (t) => {
  const logs: Array<Record<string, unknown>> = []
  const store = new MemoryStore()
  const app = await build({ store, absoluteTimeout: 100 }, routes, logs)
  const value = await app.sessions.encode({ username: 'ada' })
  t.same((await app.inject({ url: '/read', cookies: { session: value } })).json().username, 'ada', 'the record is valid as written')
  await store.set(value.slice(0, 43), { set: { _created: 'soon' }, delete: [], create: false }, 100)
  logs.length = 0
  t.same((await app.inject({ url: '/read', cookies: { session: value } })).json(), { username: null, counter: null, new: true },
    'nothing of the record is kept')
  t.same(logs.filter((line) => line.level === 20).map((line) => line.reason), ['the session is older than absoluteTimeout (100 s)'])
})

t.test('validate runs on a loaded session, and false ends it: its record and cookie are deleted', async (t) => {
  const store = new SpyStore()
  const seen: string[] = []
  const app = await build({
    store,
    validate: (session: Session) => {
      const name = session.get('username') ?? ''
      seen.push(name)
      return name !== 'mallory'
    }
  }, (app) => {
    routes(app)
    app.get('/mallory', async (request) => { request.session.set('username', 'mallory'); return 'ok' })
  })
  const ada = carry(await app.inject('/login'))
  t.same(seen, [], 'not called for a new session')
  t.same((await app.inject({ url: '/read', cookies: ada })).json().username, 'ada')
  const mallory = carry(await app.inject('/mallory'))
  const res = await app.inject({ url: '/read', cookies: mallory })
  t.same(res.json(), { username: null, counter: null, new: true })
  t.match(setCookies(res)[0], /^session=; Max-Age=0;/)
  t.same(store.writes().at(-1), ['destroy', idOf(mallory)])
  t.same(seen, ['ada', 'mallory'])
})

t.test('validate that rejects a session on a route that never touches it still deletes its record and cookie', async (t) => {
  const store = new SpyStore()
  const app = await build({ store, validate: (_session, request) => request.headers['x-revoked'] === undefined }, routes)
  const cookie = carry(await app.inject('/login'))
  t.same(setCookies(await app.inject({ url: '/untouched', cookies: cookie })), [])
  const res = await app.inject({ url: '/untouched', cookies: cookie, headers: { 'x-revoked': '1' } })
  t.match(setCookies(res)[0], /^session=; Max-Age=0;/)
  t.same(store.writes().at(-1), ['destroy', idOf(cookie)])
  t.equal(await store.inner.get(idOf(cookie)), null)
})

t.test('app.sessions.encode creates a record and returns its signed id; decode reads it back', async (t) => {
  // A frozen clock: both records below are created in the same second, whenever the test runs.
  const clock = freezeClock(1_000_000)
  t.teardown(clock.restore)
  const store = new MemoryStore()
  const app = await build({ store }, routes)
  const value = await app.sessions.encode({ username: 'ada', counter: 2 }, { permanent: true })
  t.match(value, SIGNED_ID)
  const record = await store.get(value.slice(0, 43))
  t.same(record, { username: '"ada"', counter: '2', _permanent: 'true', _created: '1000000' })
  t.same((await app.inject({ url: '/read', cookies: { session: value } })).json(), { username: 'ada', counter: 2, new: false })
  const session = await app.sessions.decode(value)
  t.same([session?.get('username'), session?.permanent, session?.new], ['ada', true, false])
  t.equal(await app.sessions.decode('garbage'), null)
  t.equal(await app.sessions.decode(value.slice(0, -1) + (value.endsWith('A') ? 'B' : 'A')), null)
  await store.destroy(value.slice(0, 43))
  t.equal(await app.sessions.decode(value), null)
  t.same(await store.get((await app.sessions.encode({ username: 'bob' })).slice(0, 43)), { username: '"bob"', _created: '1000000' },
    'not permanent by default')
})

t.test('flashes are kept in the record until they are read', async (t) => {
  const store = new MemoryStore()
  const app = await build({ store }, (app) => {
    routes(app)
    app.get('/flash', async (request) => { request.session.flash('saved', 'info'); return 'ok' })
    app.get('/flashes', async (request) => request.session.getFlashedMessages({ withCategories: true }))
  })
  const cookie = carry(await app.inject('/login'))
  await app.inject({ url: '/flash', cookies: cookie })
  t.equal((await store.get(idOf(cookie)))?._flashes, '[["info","saved"]]')
  t.same((await app.inject({ url: '/flashes', cookies: cookie })).json(), [['info', 'saved']])
  t.same((await app.inject({ url: '/flashes', cookies: cookie })).json(), [])
  t.equal((await store.get(idOf(cookie)))?._flashes, undefined)
})

t.test('config.session routes: false never loads the record, readonly loads it and writes nothing', async (t) => {
  const store = new SpyStore()
  const app = await build({ store }, (app) => {
    routes(app)
    app.get('/off', { config: { session: false } }, async (request) => request.session.size)
    app.get('/readonly', { config: { session: 'readonly' } }, async (request) => request.session.get('username'))
    app.get('/readonly-untouched', { config: { session: 'readonly' } }, async () => 'ok')
  })
  const cookie = carry(await app.inject('/login-permanent'))
  store.calls.length = 0
  const off = await app.inject({ url: '/off', cookies: cookie })
  t.equal(off.body, '0')
  t.same([setCookies(off), off.headers.vary], [[], undefined])
  t.same(store.calls, [])
  const readonly = await app.inject({ url: '/readonly', cookies: cookie })
  t.equal(readonly.body, 'ada')
  t.same([setCookies(readonly), readonly.headers.vary], [[], 'Cookie'])
  t.equal((await app.inject({ url: '/readonly-untouched', cookies: cookie })).headers.vary, undefined)
  t.same(store.writes(), [], 'a permanent session is not refreshed there')
})

t.test('a failing store gives 503 FST_ERR_SESSION_STORE_UNAVAILABLE with the cause, one error line, and the app keeps serving', async (t) => {
  const logs: Array<Record<string, unknown>> = []
  const errors: FastifyError[] = []
  const store = new SpyStore()
  const app = await build({ store }, (app) => {
    routes(app)
    app.get('/regenerate', async (request) => { await request.session.regenerate(['username']); return 'ok' })
    app.addHook('onError', async (_request, _reply, error) => { errors.push(error) })
  }, logs)
  const cookie = carry(await app.inject('/login'))
  const permanent = carry(await app.inject('/login-permanent'))
  const before = await store.inner.get(idOf(cookie))
  const cases: Array<[string, string, string, { session: string } | undefined]> = [
    ['get', '/read', 'get', cookie],
    ['set, creating', '/login', 'set', undefined],
    ['set, merging', '/counter/5', 'set', cookie],
    ['touch', '/untouched', 'touch', permanent],
    ['destroy', '/clear', 'destroy', cookie],
    ['rename', '/regenerate', 'rename', cookie]
  ]
  for (const [name, url, method, cookies] of cases) {
    logs.length = 0
    errors.length = 0
    store.failing.add(method)
    const res = await app.inject(cookies === undefined ? url : { url, cookies })
    store.failing.clear()
    t.equal(res.statusCode, 503, name)
    t.match(res.json(), { statusCode: 503, code: 'FST_ERR_SESSION_STORE_UNAVAILABLE', message: `The session store is unavailable: ${method} failed: connection lost in ${method}` }, name)
    t.same(setCookies(res), [], `${name}: no cookie is set`)
    t.equal(errors.length, 1, name)
    t.match(errors[0]?.cause, { message: `connection lost in ${method}` }, `${name}: the cause is the store's error`)
    t.equal(logs.filter((line) => (line.level as number) >= 50).length, 1, `${name}: one error line`)
    t.equal((await app.inject('/untouched')).statusCode, 200, `${name}: the app keeps serving`)
  }
  t.same(await store.inner.get(idOf(cookie)), before, 'every failed save left the record as it was')
  t.same((await app.inject({ url: '/read', cookies: cookie })).json(), { username: 'ada', counter: 0, new: false })
})

t.test('a store whose every method rejects gives 503 on load and on save, and the app keeps serving', async (t) => {
  const fail = async (): Promise<never> => { throw new Error('down') }
  const store: SessionStore = { get: fail, set: fail, touch: fail, destroy: fail, rename: fail }
  const app = await build({ store }, routes)
  const value = '0'.repeat(43) + '.' + '0'.repeat(43)
  t.equal((await app.inject('/login')).statusCode, 503, 'save of a new session')
  // A validly signed id, from an app with the same secret.
  const signed = await (await build({ store: new MemoryStore() })).sessions.encode({ username: 'ada' })
  t.equal((await app.inject({ url: '/read', cookies: { session: signed } })).statusCode, 503, 'load')
  t.equal((await app.inject({ url: '/read', cookies: { session: value } })).statusCode, 200, 'a bad id does not reach the store')
  await t.rejects(app.sessions.encode({ username: 'ada' }), { code: 'FST_ERR_SESSION_STORE_UNAVAILABLE', statusCode: 503 })
  t.equal((await app.inject('/untouched')).statusCode, 200)
})

t.test('merge by key: two interleaved requests that change different keys both keep their changes', async (t) => {
  const store = new SpyStore()
  const app = await build({ store }, (app) => {
    routes(app)
    app.get('/name/:name', async (request) => {
      request.session.set('username', (request.params as { name: string }).name)
      return 'ok'
    })
  })
  const cookie = carry(await app.inject('/login'))
  // Both requests load the record before either saves.
  const bothLoaded = (): (() => Promise<void>) => {
    let waiting = 0
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => { release = resolve })
    return async () => {
      if (++waiting === 2) release()
      await gate
    }
  }
  store.beforeGet = bothLoaded()
  await Promise.all([app.inject({ url: '/counter/7', cookies: cookie }), app.inject({ url: '/name/bob', cookies: cookie })])
  t.same((await app.inject({ url: '/read', cookies: cookie })).json(), { username: 'bob', counter: 7, new: false })

  store.beforeGet = bothLoaded()
  store.calls.length = 0
  await Promise.all([app.inject({ url: '/counter/1', cookies: cookie }), app.inject({ url: '/counter/2', cookies: cookie })])
  const last = store.writes().at(-1) as Call
  t.same((await app.inject({ url: '/read', cookies: cookie })).json(), {
    username: 'bob', counter: Number((last[2] as StoreChange).set.counter), new: false
  }, 'the same key: the last writer wins, and the other keys stay')
})

t.test('a clear() that lands while another request is open wins: the other save does not bring the record back', async (t) => {
  const store = new MemoryStore()
  let release: () => void = () => {}
  const cleared = new Promise<void>((resolve) => { release = resolve })
  let started: () => void = () => {}
  const loaded = new Promise<void>((resolve) => { started = resolve })
  const app = await build({ store }, (app) => {
    routes(app)
    app.get('/slow', async (request) => {
      started()
      await cleared
      request.session.set('counter', 9)
      return 'ok'
    })
  })
  const cookie = carry(await app.inject('/login'))
  const slow = app.inject({ url: '/slow', cookies: cookie })
  await loaded
  await app.inject({ url: '/clear', cookies: cookie })
  release()
  t.same(setCookies(await slow), [])
  t.equal(await store.get(idOf(cookie)), null)
})

t.test('a store method that throws instead of rejecting still gives a coded 503, on load and on save', async (t) => {
  const broken = new Error('thrown synchronously')
  const memory = new MemoryStore()
  let throwing = false
  const store: SessionStore = {
    get: (id) => { if (throwing) throw broken; return memory.get(id) },
    set: (id, change, ttl) => { if (throwing) throw broken; return memory.set(id, change, ttl) },
    touch: (id, ttl) => memory.touch(id, ttl),
    destroy: (id) => memory.destroy(id),
    rename: (oldId, newId, record, ttl) => memory.rename(oldId, newId, record, ttl)
  }
  const app = await build({ store }, routes)
  const created = carry(await app.inject('/login'))
  throwing = true
  for (const url of ['/read', '/login']) {
    const res = await app.inject({ url, cookies: url === '/read' ? created : {} })
    t.equal(res.statusCode, 503, url)
    t.equal(res.json().code, 'FST_ERR_SESSION_STORE_UNAVAILABLE', url)
    t.match(res.json().message, /thrown synchronously/, url)
  }
})
