/**
 * What a built-in store skips of a user's index because it is damaged or
 * was written by hand (an entry whose key holds no session, or another
 * user's, or no user, or a user field that is no user id, or a session
 * with no creation time; an index that is not a sorted set) gets one debug
 * line each on the logger of the app that registered the store. An entry
 * whose session expired or was deleted is pruned without a line: that is
 * how entries usually go stale. Against a real redis-server, standalone and
 * Cluster, and MemoryStore.
 */
import type { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { MemoryStore, RedisStore, type StoreChange } from '../lib/index.js'
import { build, freezeClock } from './helpers/build.js'
import { needsRedis } from './helpers/redis.js'
import { redisUserStore } from './helpers/user-index.js'

type Logs = Array<Record<string, unknown>>

const create = (set: Record<string, string>): StoreChange => ({ set, delete: [], create: true })

/** The messages of the store's debug lines, checking that each is at debug level with the reason code. */
function skipped (t: Test, logs: Logs): string[] {
  const lines = logs.filter((line) => line.reason === 'damaged user index entry')
  for (const line of lines) t.equal(line.level, 20, `at debug level: ${String(line.msg)}`)
  logs.length = 0
  return lines.map((line) => line.msg as string).sort()
}

/** Writes, at Ada's index, one entry of each kind the store skips, and one live session and one missing. */
async function damage (admin: Redis, store: RedisStore): Promise<void> {
  await store.set('a1', create({ username: '"ada"', _created: '999000' }), 100)
  await store.set('b1', create({ username: '"bob"', _created: '999000' }), 100)
  await store.set('nc', create({ username: '"ada"' }), 100)
  await store.set('bc', create({ username: '"ada"', _created: 'yesterday' }), 100)
  await admin.hset('session:bj', 'username', '{not json', '_created', '999000')
  await admin.hset('session:nu', 'counter', '1', '_created', '999000')
  await admin.set('session:text', 'not a hash')
  await admin.zadd('session:user:ada', 0, 'b1', 0, 'missing', 0, 'text', 0, 'user:ada', 0, '', 0, 'bj', 0, 'nu', 0, 'a-long-session-id-written-by-hand')
}

/** A RedisStore with a user index, on a fresh redis-server, registered by an app whose log lines go to `logs`. */
async function registered (t: Test, cluster: boolean): Promise<{ admin: Redis, store: RedisStore, logs: Logs }> {
  const { admin, store } = await redisUserStore(t, { cluster })
  const logs: Logs = []
  const app = await build({ store }, () => {}, logs)
  t.teardown(async () => { await app.close() })
  return { admin, store, logs }
}

const LISTED = [
  'user index session:user:ada: entry "" skipped: its id is empty',
  'user index session:user:ada: entry "a-long-s..." skipped: its session is another user\'s',
  'user index session:user:ada: entry "b1" skipped: its session is another user\'s',
  'user index session:user:ada: entry "bc" skipped: its _created is not a time',
  'user index session:user:ada: entry "bj" skipped: its session\'s user field is not a user id',
  'user index session:user:ada: entry "nc" skipped: its session has no _created',
  'user index session:user:ada: entry "nu" skipped: its session names no user',
  'user index session:user:ada: entry "text" skipped: its key holds a string, not a session',
  'user index session:user:ada: entry "user:ada" skipped: its key holds a zset, not a session'
]

for (const cluster of [false, true]) {
  const where = cluster ? 'on Redis Cluster' : 'on a single Redis'
  t.test(`${where}, listUser and destroyUser log one debug line for each damaged entry they skip, and none for a missing one`, needsRedis, async (t) => {
    const clock = freezeClock(1_000_000)
    t.teardown(clock.restore)
    const { admin, store, logs } = await registered(t, cluster)
    await damage(admin, store)
    await store.set('a-long-session-id-written-by-hand', create({ username: '"bob"', _created: '999000' }), 100)
    logs.length = 0

    t.same(await store.listUser('ada'), [{ id: 'a1', created: 999_000, lastSeen: 1_000_000 }])
    t.same(skipped(t, logs), LISTED, 'one line per damaged entry; the missing one goes without a line')
    t.notOk(JSON.stringify(logs).includes('a-long-session-id'), 'no line holds a whole id')
    t.same((await admin.zrange('session:user:ada', '0', '-1')).sort(), ['a1', 'bc', 'nc'], 'the user\'s sessions stay in the index')
    t.same(await store.listUser('ada'), [{ id: 'a1', created: 999_000, lastSeen: 1_000_000 }])
    t.same(skipped(t, logs), [
      'user index session:user:ada: entry "bc" skipped: its _created is not a time',
      'user index session:user:ada: entry "nc" skipped: its session has no _created'
    ], 'a second listing skips again what stays')

    await admin.zadd('session:user:ada', 0, 'b1', 0, 'text', 0, 'gone')
    t.equal(await store.destroyUser('ada', { except: 'a1' }), 2, 'bc and nc, the user\'s sessions')
    t.same(skipped(t, logs), [
      'user index session:user:ada: entry "b1" skipped: its session is another user\'s',
      'user index session:user:ada: entry "text" skipped: its key holds a string, not a session'
    ], 'destroyUser logs what it leaves alone')
    t.equal(await admin.get('session:text'), 'not a hash')
    t.equal(await admin.exists('session:b1'), 1)
    t.same(await admin.zrange('session:user:ada', '0', '-1'), ['a1'])
  })

  t.test(`${where}, an index that is not a sorted set is dropped with a debug line, at a listing or a write; a set, its earlier form, without one`, needsRedis, async (t) => {
    const { admin, store, logs } = await registered(t, cluster)
    const dropped = 'user index session:user:ada: the index skipped: it was a string, not a sorted set, and is dropped'

    await admin.set('session:user:ada', 'written by hand')
    t.same(await store.listUser('ada'), [])
    t.same(skipped(t, logs), [dropped], 'at a listing')
    await admin.set('session:user:ada', 'written by hand')
    t.equal(await store.destroyUser('ada'), 0)
    t.same(skipped(t, logs), [dropped], 'at destroyUser')
    await admin.set('session:user:ada', 'written by hand')
    await store.set('a1', create({ username: '"ada"', _created: '1' }), 100)
    t.same(skipped(t, logs), [dropped], 'at a write')
    t.same(await admin.zrange('session:user:ada', '0', '-1'), ['a1'])

    await admin.del('session:user:ada')
    await admin.sadd('session:user:ada', 'a1')
    await store.touch('a1', 100)
    t.same((await store.listUser('ada')).map((s) => s.id), ['a1'])
    t.same(skipped(t, logs), [], 'a set is converted silently')
  })
}

t.test('a store no app registered skips the same entries, with no logger to write to', needsRedis, async (t) => {
  const { admin, store } = await redisUserStore(t)
  await damage(admin, store)
  t.same((await store.listUser('ada')).map((s) => s.id), ['a1'])
  t.equal(await store.destroyUser('ada'), 3, 'a1, bc and nc')
})

t.test('a store registered by two apps logs to the first', async (t) => {
  const store = new MemoryStore({ userKey: 'username' })
  const first: Logs = []
  const second: Logs = []
  const apps = [await build({ store }, () => {}, first), await build({ store }, () => {}, second)]
  t.teardown(async () => { for (const app of apps) await app.close() })
  await store.set('nc', create({ username: '"ada"' }), 100)
  t.same(await store.listUser('ada'), [])
  t.same(skipped(t, second), [])
  t.same(skipped(t, first), ['user index "ada": entry "nc" skipped: its session has no _created'])
})

t.test('MemoryStore logs a session of the user that it does not list, written without a creation time', async (t) => {
  const store = new MemoryStore({ userKey: 'username' })
  const logs: Logs = []
  const app = await build({ store }, () => {}, logs)
  t.teardown(async () => { await app.close() })
  await store.set('a1', create({ username: '7', _created: '1' }), 100)
  await store.set('bc', create({ username: '7', _created: 'yesterday' }), 100)
  await store.set('a-long-session-id', create({ username: '7' }), 100)
  t.same((await store.listUser(7)).map((s) => s.id), ['a1'])
  t.same(skipped(t, logs), [
    'user index "7": entry "a-long-s..." skipped: its session has no _created',
    'user index "7": entry "bc" skipped: its _created is not a time'
  ])
  t.equal(await store.destroyUser(7), 3, 'it still ends them')
})
