/**
 * `MemoryStore` on its own: the `SessionStore` contract, LRU eviction at
 * `max`, expiry on the plugin's clock, and the user index.
 */
import t from 'tap'
import { MemoryStore, type StoreChange, type StoreRecord } from '../lib/index.js'
import { kImmediate } from '../lib/stores/types.js'
import { clock } from '../lib/clock.js'
import { build, freezeClock, sessionCookie } from './helpers/build.js'
import { lastSeenWalk } from './helpers/user-index.js'

const create = (set: Record<string, string>): StoreChange => ({ set, delete: [], create: true })
const merge = (set: Record<string, string>, remove: string[] = []): StoreChange => ({ set, delete: remove, create: false })

t.test('set creates a record, get returns a copy of it, and null when there is none', async (t) => {
  const store = new MemoryStore()
  await store.set('id1', create({ username: '"ada"', counter: '1' }), 100)
  const record = await store.get('id1') as StoreRecord
  t.same(record, { username: '"ada"', counter: '1' })
  record.counter = '99'
  t.same(await store.get('id1'), { username: '"ada"', counter: '1' }, 'changing the copy leaves the store unchanged')
  t.not(await store.get('id1'), await store.get('id1'), 'each get makes its own copy')
  // The plugin's own reads are not copied: a write must replace the record they were handed.
  const immediate = store[kImmediate]?.get('id1', clock.now()) as StoreRecord
  t.same(immediate, { username: '"ada"', counter: '1' })
  await store.set('id1', merge({ counter: '2' }), 100)
  t.same(immediate, { username: '"ada"', counter: '1' }, 'a later write replaces the record instead of changing the one the plugin holds')
  t.same(await store.get('id1'), { username: '"ada"', counter: '2' })
  t.equal(await store.get('missing'), null)
  t.equal(store.size, 1)
})

t.test('set merges by key: it writes only the fields named and deletes only those removed', async (t) => {
  const store = new MemoryStore()
  await store.set('id1', create({ a: '1', b: '2', c: '3' }), 100)
  await Promise.all([store.set('id1', merge({ b: '20' }, ['c']), 100), store.set('id1', merge({ d: '4' }), 100)])
  t.same(await store.get('id1'), { a: '1', b: '20', d: '4' })
  // A field that a change both deletes and sets is written, as on Redis (HDEL, then HSET).
  await store.set('id1', merge({ a: '10' }, ['a', 'b']), 100)
  t.same(await store.get('id1'), { a: '10', d: '4' })
})

t.test('a save with create false does nothing when the record is missing', async (t) => {
  const store = new MemoryStore()
  await store.set('id1', merge({ a: '1' }), 100)
  t.equal(await store.get('id1'), null)
  await store.set('id2', create({ a: '1' }), 100)
  await store.destroy('id2')
  await store.set('id2', merge({ b: '2' }), 100)
  t.equal(await store.get('id2'), null, 'a destroyed record stays destroyed')
  t.equal(store.size, 0)
})

t.test('the least recently used session is evicted beyond max', async (t) => {
  const store = new MemoryStore({ max: 2 })
  await store.set('a', create({ v: '1' }), 100)
  await store.set('b', create({ v: '2' }), 100)
  await store.get('a')
  await store.set('c', create({ v: '3' }), 100)
  t.equal(store.size, 2)
  t.equal(await store.get('b'), null, 'b was the least recently used')
  t.ok(await store.get('a'))
  t.ok(await store.get('c'))
})

t.test('a record expires after its ttl on the plugin\'s clock, and touch renews it', async (t) => {
  const clock = freezeClock(1_000_000)
  t.teardown(clock.restore)
  const store = new MemoryStore()
  await store.set('id1', create({ a: '1' }), 100)
  await store.set('id2', create({ a: '2' }), 100)
  clock.set(1_000_060)
  await store.touch('id2', 100)
  await store.touch('missing', 100)
  t.equal(await store.get('missing'), null, 'touch creates nothing')
  clock.set(1_000_099)
  t.same(await store.get('id1'), { a: '1' }, 'alive just before its ttl')
  clock.set(1_000_100)
  t.same(await store.get('id1'), { a: '1' }, 'and at its last second')
  clock.set(1_000_101)
  t.equal(await store.get('id1'), null, 'gone after it')
  t.same(await store.get('id2'), { a: '2' }, 'the touched record lives on, its data unchanged')
  clock.set(1_000_161)
  t.equal(await store.get('id2'), null, 'until its new ttl')
})

t.test('rename of an expired record writes nothing: the session stays ended', async (t) => {
  const clock = freezeClock(1_000_000)
  t.teardown(clock.restore)
  const store = new MemoryStore()
  await store.set('old', create({ a: '1' }), 100)
  clock.set(1_000_101)
  await store.rename('old', 'new', { a: '1' }, 100)
  t.equal(await store.get('new'), null)
  t.equal(await store.get('old'), null)
})

t.test('rename moves the record whole to the new id, with the ttl, and deletes the old one', async (t) => {
  const clock = freezeClock(1_000_000)
  t.teardown(clock.restore)
  const store = new MemoryStore()
  await store.set('old', create({ a: '1', stale: 'x' }), 100)
  await store.rename('old', 'new', { a: '1', b: '2' }, 500)
  t.equal(await store.get('old'), null)
  t.same(await store.get('new'), { a: '1', b: '2' })
  clock.set(1_000_400)
  t.same(await store.get('new'), { a: '1', b: '2' }, 'the new ttl applies')
})

t.test('destroyUser deletes every session of a user, following changes of user, and counts them', async (t) => {
  const store = new MemoryStore({ userKey: 'username' })
  await store.set('a1', create({ username: '"ada"' }), 100)
  await store.set('a2', create({ username: '"ada"' }), 100)
  await store.set('a3', create({ username: '"ada"', a: '3' }), 100)
  await store.set('b1', create({ username: '"bob"' }), 100)
  await store.set('n1', create({ username: '7' }), 100)
  await store.set('x1', create({ username: '{"id":1}', a: '1' }), 100)
  await store.set('x2', create({ username: 'not JSON, from another writer' }), 100)
  await store.set('a2', merge({ username: '"bob"' }), 100)
  await store.set('a3', merge({}, ['username']), 100)
  await store.set('a3', merge({ a: '3' }), 100)
  await store.set('x1', merge({ a: '1' }), 100)
  await store.rename('a1', 'a1b', { username: '"ada"' }, 100)
  await store.set('a4', create({ username: '"ada"' }), 100)
  await store.destroy('a4')
  t.equal(await store.destroyUser('ada'), 1, 'only a1, renamed a1b')
  t.equal(await store.get('a1b'), null)
  t.ok(await store.get('a3'), 'a session whose user field was removed is no longer ada\'s')
  t.equal(await store.destroyUser('bob'), 2)
  t.equal(await store.get('a2'), null, 'a session whose user became bob is bob\'s')
  t.equal(await store.destroyUser(7), 1, 'a number user is found by its text')
  t.equal(await store.destroyUser('ada'), 0)
  t.same([await store.get('a3'), await store.get('x1')], [{ a: '3' }, { username: '{"id":1}', a: '1' }])
})

t.test('destroyUser forgets sessions that were evicted', async (t) => {
  const store = new MemoryStore({ max: 1, userKey: 'username' })
  await store.set('a1', create({ username: '"ada"' }), 100)
  await store.set('a2', create({ username: '"ada"' }), 100)
  t.equal(await store.destroyUser('ada'), 1)
  t.equal(store.size, 0)
})

t.test('destroyUser counts only the sessions that had not expired', async (t) => {
  const clock = freezeClock(1_000_000)
  t.teardown(clock.restore)
  const store = new MemoryStore({ userKey: 'username' })
  await store.set('a1', create({ username: '"ada"' }), 100)
  await store.set('a2', create({ username: '"ada"' }), 1000)
  clock.set(1_000_200)
  t.equal(await store.destroyUser('ada'), 1)
  t.equal(store.size, 0)
})

t.test('without userKey, destroyUser rejects with a coded error and deletes nothing', async (t) => {
  const store = new MemoryStore()
  await store.set('a1', create({ username: '"ada"' }), 100)
  await t.rejects(store.destroyUser('ada'), { code: 'FST_ERR_SESSION_INVALID_OPTION', message: /userKey/ })
  t.equal(store.size, 1)
})

t.test('listUser lists each live session of a user, the most recently seen first, with its creation time and the last time it was written or refreshed', async (t) => {
  const clock = freezeClock(1_000_000)
  t.teardown(clock.restore)
  const store = new MemoryStore({ userKey: 'username' })
  await lastSeenWalk(t, store, clock, {
    read: async () => {
      t.same(store[kImmediate]?.get('a1', 1_000_040), { username: '"ada"', _created: '1000000' }, 'the plugin\'s own reads do not count as seen')
    }
  })

  clock.set(1_000_121)
  t.equal(store.size, 3)
  t.same(await store.listUser('ada'), [{ id: 'a3', created: 1_000_040, lastSeen: 1_000_040 }], 'an expired session is left out')
  t.equal(store.size, 2, 'and deleted, which takes it out of the index')
  t.equal(await store.destroyUser('ada'), 1)
})

t.test('sessions seen in the same second are listed by id, and a record without the plugin\'s creation time is left out', async (t) => {
  const clock = freezeClock(1_000_000)
  t.teardown(clock.restore)
  const store = new MemoryStore({ userKey: 'username' })
  for (const id of ['c', 'a', 'd', 'b']) await store.set(id, create({ username: '7', _created: '999990' }), 100)
  await store.set('no-created', create({ username: '7' }), 100)
  await store.set('bad-created', create({ username: '7', _created: 'yesterday' }), 100)
  t.same((await store.listUser(7)).map((s) => s.id), ['a', 'b', 'c', 'd'], 'a number user is found by its text')
  t.same((await store.listUser('7')).map((s) => s.lastSeen), [1_000_000, 1_000_000, 1_000_000, 1_000_000])
  t.equal(await store.destroyUser('7'), 6, 'destroyUser still ends the sessions that listing leaves out')
  await store.set('later', create({ username: '"cy"', _created: '1000500' }), 100)
  t.same(await store.listUser('cy'), [{ id: 'later', created: 1_000_500, lastSeen: 1_000_500 }], 'lastSeen is never before created, even on another clock')
})

t.test('listUser leaves the LRU order as it was: listing is not a use', async (t) => {
  const store = new MemoryStore({ max: 2, userKey: 'username' })
  await store.set('a1', create({ username: '"ada"', _created: '1' }), 100)
  await store.set('b1', create({ username: '"bob"', _created: '1' }), 100)
  t.equal((await store.listUser('ada')).length, 1)
  await store.set('c1', create({ username: '"cy"', _created: '1' }), 100)
  t.equal(await store.get('a1'), null, 'a1 was still the least recently used')
  t.same(await store.listUser('ada'), [], 'and the evicted session left the index')
})

t.test('destroyUser with except ends every other session of the user, and keeps that one', async (t) => {
  const store = new MemoryStore({ userKey: 'username' })
  await store.set('a1', create({ username: '"ada"', _created: '1' }), 100)
  await store.set('a2', create({ username: '"ada"', _created: '1' }), 100)
  await store.set('a3', create({ username: '"ada"', _created: '1' }), 100)
  await store.set('b1', create({ username: '"bob"', _created: '1' }), 100)
  t.equal(await store.destroyUser('ada', { except: 'b1' }), 3, 'an except of another user\'s session keeps none of ada\'s')
  await store.set('a1', create({ username: '"ada"', _created: '1' }), 100)
  await store.set('a2', create({ username: '"ada"', _created: '1' }), 100)
  t.equal(await store.destroyUser('ada', { except: 'a2' }), 1)
  t.same((await store.listUser('ada')).map((s) => s.id), ['a2'])
  t.equal(await store.destroyUser('ada', { except: 'a2' }), 0, 'nothing else is left')
  t.equal(await store.destroyUser('ada', {}), 1, 'an empty options object keeps none')
  t.ok(await store.get('b1'), 'bob\'s session was never touched')
})

t.test('listUser, destroyUser and destroy with a user or id that does not exist, an empty string, a number or no string at all resolve empty or 0', async (t) => {
  const store = new MemoryStore({ userKey: 'username' })
  await store.set('a1', create({ username: '"ada"', _created: '1' }), 100)
  await store.set('e1', create({ username: '""', _created: '1' }), 100)
  await store.set('n1', create({ username: 'null', _created: '1' }), 100)
  const users: unknown[] = ['nobody', '', 404, NaN, null, undefined, { toString: () => 'ada' }, ['ada'], true]
  for (const user of users) {
    const name = typeof user === 'object' && user !== null ? JSON.stringify(user) : String(user)
    t.same(await store.listUser(user as string), [], `listUser(${name})`)
    t.equal(await store.destroyUser(user as string), 0, `destroyUser(${name})`)
  }
  t.equal(await store.destroyUser('ada', { except: 404 as unknown as string }), 1, 'an except that is no id keeps none')
  await store.set('a1', create({ username: '"ada"', _created: '1' }), 100)
  t.equal(await store.destroyUser('ada', null as unknown as undefined), 1, 'nor do options that are no object')
  await store.set('a1', create({ username: '"ada"', _created: '1' }), 100)
  for (const id of ['missing', '', 404, undefined]) await store.destroy(id as string)
  t.equal(store.size, 3, 'destroy of an id that is not there deletes nothing')
  t.ok(await store.get('e1'), 'a session whose user is the empty string is kept, but indexed by no user')
  t.ok(await store.get('n1'), 'and so is one whose user is null')
})

t.test('without userKey, listUser rejects with a coded error', async (t) => {
  const store = new MemoryStore()
  await t.rejects(store.listUser('ada'), { code: 'FST_ERR_SESSION_INVALID_OPTION', message: 'Invalid option MemoryStore userKey: expected a session key naming the user, to call listUser(), received undefined' })
  await t.rejects(store.listUser(''), { code: 'FST_ERR_SESSION_INVALID_OPTION' }, 'whatever the user given')
  await t.rejects(store.destroyUser('', { except: 'a1' }), { code: 'FST_ERR_SESSION_INVALID_OPTION', message: /to call destroyUser\(\)/ })
})

t.test('a max that is not a positive whole number throws a coded error', async (t) => {
  for (const max of [0, -1, 1.5, NaN, Infinity, '10']) {
    t.throws(() => new MemoryStore({ max: max as number }), { code: 'FST_ERR_SESSION_INVALID_OPTION', message: /MemoryStore max/ }, String(max))
  }
})

t.test('a userKey that is not a non-empty string throws a coded error', async (t) => {
  for (const userKey of ['', 7, null]) {
    t.throws(() => new MemoryStore({ userKey: userKey as string }), { code: 'FST_ERR_SESSION_INVALID_OPTION', message: /MemoryStore userKey/ }, String(userKey))
  }
})

t.test('an unknown option throws a coded TypeError naming it and the valid options, with the fix for other stores\' names', async (t) => {
  const cases: Array<[string, unknown, string]> = [
    ['maxSize', 5, 'expected max instead, the most sessions kept (the options are max and userKey), received "maxSize"'],
    ['ttl', 3600, 'expected no ttl: the plugin gives each record its TTL, its maxAge option in seconds (the options are max and userKey), received "ttl"'],
    ['maxEntries', 5, 'expected one of max, userKey, received "maxEntries"'],
    ['MAX', 5, 'expected one of max, userKey, received "MAX"']
  ]
  for (const [name, value, text] of cases) {
    const options = { [name]: value } as unknown as ConstructorParameters<typeof MemoryStore>[0]
    t.throws(() => new MemoryStore(options), { code: 'FST_ERR_SESSION_INVALID_OPTION', message: `Invalid option MemoryStore ${name}: ${text}` }, name)
    try {
      new MemoryStore(options) // eslint-disable-line no-new
    } catch (err) {
      t.ok(err instanceof TypeError, `${name}: a TypeError`)
    }
  }
  for (const given of [null, 5, 'max']) {
    t.throws(() => new MemoryStore(given as unknown as ConstructorParameters<typeof MemoryStore>[0]),
      { code: 'FST_ERR_SESSION_INVALID_OPTION', message: `Invalid option MemoryStore options: expected an object, received ${typeof given === 'string' ? JSON.stringify(given) : String(given)}` }, String(given))
  }
  t.equal(new MemoryStore(undefined).size, 0, 'no options at all are the defaults')
  t.equal(new MemoryStore({ max: 5, userKey: 'username' }).size, 0, 'the known options are accepted')
})

t.test('rename of a record deleted meanwhile writes nothing, so a cleared session stays ended', async (t) => {
  const store = new MemoryStore()
  await store.set('old', create({ a: '1' }), 100)
  await store.destroy('old')
  await store.rename('old', 'new', { a: '1' }, 100)
  t.equal(await store.get('new'), null)
  t.equal(store.size, 0)
})

t.test('the plugin goes through the promise methods of a subclass that overrides one, and of a Proxy of a store', async (t) => {
  const calls: string[] = []
  class Counted extends MemoryStore {
    override async get (id: string): Promise<StoreRecord | null> {
      calls.push('get')
      return await super.get(id)
    }
  }
  const counted = new Counted()
  t.equal(counted[kImmediate], undefined, 'a subclass with an override has no immediate operations')
  t.type(new MemoryStore()[kImmediate]?.get, 'function', 'a plain MemoryStore has them')
  class Plain extends MemoryStore {}
  t.type(new Plain()[kImmediate]?.get, 'function', 'and so does a subclass that overrides nothing')

  const proxied = new Proxy(new MemoryStore(), {
    get (target, key) {
      if (key === 'get') calls.push('proxy get')
      const value: unknown = Reflect.get(target, key, target)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
  for (const [name, store, expected] of [['subclass', counted, 'get'], ['proxy', proxied, 'proxy get']] as const) {
    const app = await build({ store }, (app) => {
      app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
      app.get('/read', async (request) => request.session.get('username') ?? 'nobody')
    })
    calls.length = 0
    const login = await app.inject('/login')
    const res = await app.inject({ url: '/read', cookies: { session: sessionCookie(login) as string } })
    t.equal(res.body, 'ada', name)
    t.ok(calls.includes(expected), `${name}: the plugin called its get`)
    await app.close()
  }
})
