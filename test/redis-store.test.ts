/**
 * `RedisStore` against a real redis-server (test/helpers/redis.ts): the
 * `SessionStore` contract, read back with HGETALL, TTL and ZRANGE; the
 * user index; timeouts; and the Redis Cluster path on a one-node cluster.
 */
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import t from 'tap'
import { RedisStore, type StoreChange } from '../lib/index.js'
import { freezeClock } from './helpers/build.js'
import { needsRedis, startRedis } from './helpers/redis.js'
import { lastSeenWalk, redisUserStore } from './helpers/user-index.js'

const create = (set: Record<string, string>): StoreChange => ({ set, delete: [], create: true })
const merge = (set: Record<string, string>, remove: string[] = []): StoreChange => ({ set, delete: remove, create: false })

/** The commands that `client`'s connection sends while `fn` runs, seen through MONITOR. */
async function commandsOf (admin: Redis, monitored: Redis, fn: () => Promise<void>): Promise<{ sent: string[], inScripts: string[] }> {
  const id = await monitored.client('ID') as number
  const address = (await admin.client('LIST', 'ID', id) as string).match(/ addr=(\S+) /)?.[1]
  const monitor = await admin.monitor()
  const sent: string[] = []
  const inScripts: string[] = []
  let done: () => void = () => {}
  const finished = new Promise<void>((resolve) => { done = resolve })
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (args[0] === 'echo' && args[1] === 'monitor-done') done()
    else if (source === 'lua') inScripts.push(String(args[0]).toUpperCase())
    else if (source === address) sent.push(String(args[0]).toUpperCase())
  })
  await fn()
  await admin.echo('monitor-done')
  await finished
  monitor.disconnect()
  return { sent, inScripts }
}

t.test('set writes one hash field per key at prefix + id, expiring after the ttl', needsRedis, async (t) => {
  const redis = await startRedis(t)
  const admin = await redis.client()
  const store = new RedisStore({ client: await redis.client() })
  await store.set('id1', create({ username: '"ada"', counter: '3', _created: '1000' }), 100)
  t.equal(await admin.type('session:id1'), 'hash')
  t.same(await admin.hgetall('session:id1'), { username: '"ada"', counter: '3', _created: '1000' })
  const ttl = await admin.ttl('session:id1')
  t.ok(ttl > 95 && ttl <= 100, `TTL ${ttl} is the ttl given`)
  t.same(await admin.keys('*'), ['session:id1'], 'no other key without userKey')
  t.same(await store.get('id1'), { username: '"ada"', counter: '3', _created: '1000' })
  t.equal(await store.get('missing'), null)
})

t.test('a custom prefix names every key, and a fractional ttl is kept to the millisecond', needsRedis, async (t) => {
  const redis = await startRedis(t)
  const admin = await redis.client()
  const store = new RedisStore({ client: await redis.client(), prefix: 'app1:s:', userKey: 'username' })
  await store.set('id1', create({ username: '"ada"' }), 1.5)
  t.same((await admin.keys('*')).sort(), ['app1:s:id1', 'app1:s:user:ada'])
  const pttl = await admin.pttl('app1:s:id1')
  t.ok(pttl > 1000 && pttl <= 1500, `PTTL ${pttl} is 1.5 s`)
})

t.test('set merges by key: it writes only the fields named, deletes only those removed, and renews the TTL', needsRedis, async (t) => {
  const redis = await startRedis(t)
  const admin = await redis.client()
  const store = new RedisStore({ client: await redis.client() })
  await store.set('id1', create({ a: '1', b: '2', c: '3' }), 100)
  await store.set('id1', merge({ b: '20' }, ['c']), 500)
  t.same(await admin.hgetall('session:id1'), { a: '1', b: '20' })
  t.ok(await admin.ttl('session:id1') > 400, 'the TTL is the new one')
  // Two saves that change different keys, sent together: both are kept.
  await Promise.all([store.set('id1', merge({ x: '1' }), 100), store.set('id1', merge({ y: '2' }, ['a']), 100)])
  t.same(await admin.hgetall('session:id1'), { b: '20', x: '1', y: '2' })
  t.same(await store.get('id1'), { b: '20', x: '1', y: '2' })
  // A field that a change both deletes and sets is written.
  await store.set('id1', merge({ b: '21' }, ['b', 'x']), 100)
  t.same(await admin.hgetall('session:id1'), { b: '21', y: '2' })
})

t.test('a save with create false does nothing once the record is gone, so a concurrent clear wins', needsRedis, async (t) => {
  const { admin, store } = await redisUserStore(t)
  await store.set('id1', create({ username: '"ada"', a: '1' }), 100)
  await store.destroy('id1')
  t.equal(await admin.exists('session:id1'), 0)
  await store.set('id1', merge({ username: '"ada"', b: '2' }), 100)
  t.equal(await admin.exists('session:id1'), 0, 'the record is not written again')
  t.same(await admin.keys('*'), [], 'nor indexed')
  t.equal(await store.get('id1'), null)
})

t.test('touch renews the TTL without rewriting the data, and does nothing without a record', needsRedis, async (t) => {
  const redis = await startRedis(t)
  const admin = await redis.client()
  const store = new RedisStore({ client: await redis.client() })
  await store.set('id1', create({ a: '1' }), 100)
  await admin.hset('session:id1', 'b', 'written by another process')
  await store.touch('id1', 1000)
  t.ok(await admin.ttl('session:id1') > 900)
  t.same(await admin.hgetall('session:id1'), { a: '1', b: 'written by another process' })
  await store.touch('missing', 1000)
  t.equal(await admin.exists('session:missing'), 0)
})

t.test('rename writes the record whole at the new id, deletes the old one and sets the TTL, in one command', needsRedis, async (t) => {
  const redis = await startRedis(t)
  const admin = await redis.client()
  const client = await redis.client()
  const store = new RedisStore({ client })
  await store.set('old', create({ a: '1', stale: 'x' }), 100)
  await store.rename('warm', 'up', {}, 1) // Redis caches the script on its first use
  const { sent, inScripts } = await commandsOf(admin, client, async () => {
    await store.rename('old', 'new', { a: '1', b: '2' }, 300)
  })
  t.same(sent, ['EVALSHA'], 'one script: EXISTS, DEL, HSET and PEXPIRE apply together')
  t.same(inScripts.filter((c) => c !== 'TIME'), ['EXISTS', 'DEL', 'HSET', 'PEXPIRE'])
  t.equal(await admin.exists('session:old'), 0)
  t.same(await admin.hgetall('session:new'), { a: '1', b: '2' }, 'nothing of the old record is merged in')
  t.ok(await admin.ttl('session:new') > 250)
  await store.rename('new', 'empty', {}, 300)
  t.same(await admin.keys('*'), [], 'an empty record leaves no key')
})

t.test('a save is one command', needsRedis, async (t) => {
  const redis = await startRedis(t)
  const admin = await redis.client()
  const client = await redis.client()
  const store = new RedisStore({ client, userKey: 'username' })
  await store.set('id1', create({ a: '1', username: '"ada"' }), 100)
  const { sent, inScripts } = await commandsOf(admin, client, async () => {
    await store.set('id1', merge({ a: '2', username: '"bob"' }, ['b']), 100)
  })
  t.same(sent, ['EVALSHA'])
  t.same(inScripts.filter((c) => c !== 'TIME'),
    ['EXISTS', 'HGET', 'HDEL', 'HSET', 'PEXPIRE', 'HGET', 'ZREM', 'ZADD', 'PTTL', 'PEXPIRE'],
    'the record and the user index change together')
})

t.test('the user index follows each session\'s user, and outlives its sessions', needsRedis, async (t) => {
  const { admin, store } = await redisUserStore(t)
  const members = async (user: string): Promise<string[]> => (await admin.zrange(`session:user:${user}`, '0', '-1')).sort()
  await store.set('s1', create({ username: '"ada"' }), 100)
  await store.set('s2', create({ username: '"ada"', a: '1' }), 200)
  await store.set('s3', create({ username: '42' }), 100)
  await store.set('s4', create({ username: '{"~o":{"name":"x"}}' }), 100)
  await store.set('s5', create({ a: '1' }), 100)
  t.same(await members('ada'), ['s1', 's2'])
  t.same(await members('42'), ['s3'], 'a number is indexed by its text')
  t.same((await admin.keys('session:user:*')).sort(), ['session:user:42', 'session:user:ada'], 'other values are not indexed')
  t.ok(await admin.pttl('session:user:ada') >= await admin.pttl('session:s2'), 'the index lives as long as its longest session')

  await store.touch('s1', 1000)
  t.ok(await admin.pttl('session:user:ada') >= await admin.pttl('session:s1'), 'touch extends the index too')
  await store.set('s2', merge({ username: '"bob"' }), 100)
  t.same(await members('ada'), ['s1'], 'a session whose user changes leaves the old user\'s index')
  t.same(await members('bob'), ['s2'])
  await store.set('s2', merge({}, ['username']), 100)
  t.same(await members('bob'), [], 'and the index when its user field is removed')
  await store.set('s2', merge({ username: '"ada"' }), 100)
  await store.rename('s2', 's2b', { username: '"ada"', a: '1' }, 100)
  t.same(await members('ada'), ['s1', 's2b'], 'rename moves the id in the index')
  await store.destroy('s1')
  t.same(await members('ada'), ['s2b'], 'destroy removes it')
})

t.test('destroyUser deletes every session of a user and the index, and counts them', needsRedis, async (t) => {
  const { admin, store } = await redisUserStore(t)
  await store.set('a1', create({ username: '"ada"' }), 100)
  await store.set('a2', create({ username: '"ada"' }), 100)
  await store.set('b1', create({ username: '"bob"' }), 100)
  await store.set('n1', create({ username: '7' }), 100)
  await store.set('n2', create({ username: '"7"' }), 100)
  // An index entry that no longer matches its record is never followed.
  await admin.zadd('session:user:ada', 0, 'b1', 0, 'expired')
  t.equal(await store.destroyUser('ada'), 2)
  t.same((await admin.keys('*')).sort(), ['session:b1', 'session:n1', 'session:n2', 'session:user:7', 'session:user:bob'])
  t.equal(await store.destroyUser(7), 2, 'the number 7 and the string "7" are one user, as in MemoryStore')
  t.equal(await store.destroyUser('nobody'), 0)
  t.same((await admin.keys('*')).sort(), ['session:b1', 'session:user:bob'])
})

t.test('destroyUser without userKey rejects with a coded error', needsRedis, async (t) => {
  const redis = await startRedis(t)
  const store = new RedisStore({ client: await redis.client() })
  await t.rejects(store.destroyUser('ada'), { code: 'FST_ERR_SESSION_INVALID_OPTION', message: /RedisStore userKey/ })
})

t.test('the keys follow the client\'s keyPrefix, the user index included', needsRedis, async (t) => {
  const redis = await startRedis(t)
  const admin = await redis.client()
  const store = new RedisStore({ client: await redis.client({ keyPrefix: 'tenant:' }), userKey: 'username' })
  await store.set('s1', create({ username: '"ada"' }), 100)
  await store.set('s1', merge({ username: '"bob"' }), 100)
  t.same((await admin.keys('*')).sort(), ['tenant:session:s1', 'tenant:session:user:bob'])
  t.same(await store.get('s1'), { username: '"bob"' })
  await store.set('s1', merge({ _created: '1000' }), 100)
  t.same((await store.listUser('bob')).map((s) => [s.id, s.created]), [['s1', 1000]], 'listUser finds the records under the keyPrefix')
  t.equal(await store.destroyUser('bob'), 1)
  t.same(await admin.keys('*'), [])
})

t.test('a script that Redis forgot (restart, SCRIPT FLUSH) is sent again', needsRedis, async (t) => {
  const redis = await startRedis(t)
  const admin = await redis.client()
  const store = new RedisStore({ client: await redis.client() })
  await store.set('id1', create({ a: '1' }), 100)
  await admin.script('FLUSH')
  await store.set('id1', merge({ b: '2' }), 100)
  t.same(await admin.hgetall('session:id1'), { a: '1', b: '2' })
})

t.test('an error from Redis rejects the call with it', needsRedis, async (t) => {
  const redis = await startRedis(t)
  const admin = await redis.client()
  const store = new RedisStore({ client: await redis.client() })
  await admin.set('session:text', 'not a hash')
  await store.set('other', create({ a: '1' }), 100) // the script is cached, and the error comes from EVALSHA
  await t.rejects(store.get('text'), /WRONGTYPE/)
  await t.rejects(store.set('text', merge({ a: '1' }), 100), /WRONGTYPE/)
  t.equal(await admin.get('session:text'), 'not a hash')
})

t.test('a call fails at once, without queueing, when the client is not connected', needsRedis, async (t) => {
  const redis = await startRedis(t)
  const admin = await redis.client()
  const lazy = new RedisStore({ client: await redis.client({ lazyConnect: true }) })
  await t.rejects(lazy.set('id1', create({ a: '1' }), 100), { message: 'Redis is not connected (the client\'s status is wait)' })
  const client = await redis.client()
  const store = new RedisStore({ client })
  const ended = once(client, 'end')
  client.disconnect()
  await ended
  await t.rejects(store.get('id1'), /status is end/)
  t.same(await admin.keys('*'), [])
})

t.test('a call that Redis does not answer within timeout rejects, and its write never lands later', needsRedis, async (t) => {
  const redis = await startRedis(t)
  const admin = await redis.client()
  const store = new RedisStore({ client: await redis.client(), timeout: 0.2 })
  await store.set('id1', create({ a: '1' }), 100)
  // The server holds every client's commands for 1 s, then runs them.
  await admin.client('PAUSE', 1000, 'ALL')
  await t.rejects(store.set('id1', merge({ a: 'late' }), 100), { message: 'Redis did not answer within 0.2 s' })
  await t.rejects(store.get('id1'), { message: 'Redis did not answer within 0.2 s' })
  t.same(await (await redis.client()).hgetall('session:id1'), { a: '1' }, 'after the pause, the record is the previous one')
  await store.set('id1', merge({ a: '2' }), 100)
  t.same(await admin.hgetall('session:id1'), { a: '2' }, 'and the next call works')
})

t.test('the options are checked, with coded errors', needsRedis, async (t) => {
  const redis = await startRedis(t)
  const client = await redis.client()
  const cases: Array<[string, unknown, RegExp]> = [
    ['no options', undefined, /Invalid option RedisStore options: expected an object with a client, received undefined/],
    ['no client', {}, /RedisStore client: expected an ioredis Redis or Cluster client, received undefined/],
    ['a client that is not ioredis', { client: { get () {} } }, /RedisStore client: .* received an object/],
    ['an unknown option', { client, db: 5 }, /RedisStore db: expected one of client, prefix, timeout, userKey, received "db"/],
    ["connect-redis's ttl", { client, ttl: 5 }, /^Invalid option RedisStore ttl: expected no ttl: the plugin gives each record its TTL, its maxAge option in seconds \(the options are client, prefix, timeout and userKey\), received "ttl"$/],
    ['a prefix that is not a string', { client, prefix: 5 }, /RedisStore prefix: expected a string, received 5/],
    ['a timeout of 0', { client, timeout: 0 }, /RedisStore timeout: expected a number of seconds above 0/],
    ['a negative timeout', { client, timeout: -1 }, /received -1/],
    ['a timeout as a string', { client, timeout: '2' }, /received "2"/],
    ['a NaN timeout', { client, timeout: NaN }, /received NaN/],
    ['a timeout too long for a timer', { client, timeout: 3e6 }, /at most 2147483, received 3000000/],
    ['an empty userKey', { client, userKey: '' }, /RedisStore userKey: expected a non-empty string, received ""/],
    ['a userKey that is not a string', { client, userKey: null }, /received null/]
  ]
  for (const [name, options, message] of cases) {
    t.throws(() => new RedisStore(options as ConstructorParameters<typeof RedisStore>[0]),
      { code: 'FST_ERR_SESSION_INVALID_OPTION', message }, name)
  }
  t.ok(new RedisStore({ client, prefix: '', timeout: 0.05, userKey: 'username' }), 'fractions of a second are accepted')
})

t.test('on Redis Cluster, each key is written by its own command, and the index still follows', needsRedis, async (t) => {
  const { admin, store } = await redisUserStore(t, { cluster: true })
  const members = async (user: string): Promise<string[]> => (await admin.zrange(`session:user:${user}`, '0', '-1')).sort()
  await store.set('s1', create({ username: '"ada"', a: '1' }), 100)
  await store.set('s2', create({ username: '"ada"' }), 200)
  t.same(await store.get('s1'), { username: '"ada"', a: '1' })
  t.same(await members('ada'), ['s1', 's2'])
  t.ok(await admin.pttl('session:user:ada') >= await admin.pttl('session:s2'))
  await store.touch('s1', 1000)
  t.ok(await admin.pttl('session:user:ada') >= await admin.pttl('session:s1'))
  await store.touch('missing', 1000)
  await store.set('missing', merge({ username: '"ada"' }), 100)
  t.same(await members('ada'), ['s1', 's2'], 'a missing record is neither written nor indexed')

  await store.set('s1', merge({ username: '"bob"' }, ['a']), 100)
  t.same(await admin.hgetall('session:s1'), { username: '"bob"' })
  t.same(await members('ada'), ['s2'])
  t.same(await members('bob'), ['s1'])
  await store.rename('s2', 's3', { username: '"ada"', b: '2' }, 100)
  t.equal(await admin.exists('session:s2'), 0)
  t.same(await admin.hgetall('session:s3'), { username: '"ada"', b: '2' })
  t.same(await members('ada'), ['s3'])
  await store.destroy('s1')
  t.same(await members('bob'), [])

  await admin.zadd('session:user:ada', 0, 's-other')
  await admin.hset('session:s-other', 'username', '"eve"')
  t.equal(await store.destroyUser('ada'), 1)
  t.same((await admin.keys('*')).sort(), ['session:s-other'])
  t.equal(await store.destroyUser('nobody'), 0)
})

t.test('on Redis Cluster without userKey, no index is kept', needsRedis, async (t) => {
  const redis = await startRedis(t, { cluster: true })
  const admin = await redis.client()
  const store = new RedisStore({ client: await redis.cluster() })
  await store.set('s1', create({ username: '"ada"' }), 100)
  await store.rename('s1', 's2', { username: '"ada"' }, 100)
  await store.destroy('s3')
  t.same(await admin.keys('*'), ['session:s2'])
})

t.test('rename of a record deleted meanwhile writes nothing, standalone and on Cluster', needsRedis, async (t) => {
  const { admin, store } = await redisUserStore(t)
  await store.set('old', create({ username: '"ada"' }), 100)
  await store.destroy('old')
  await store.rename('old', 'new', { username: '"ada"' }, 100)
  t.same(await admin.keys('*'), [], 'no record and no index entry')

  const { admin: clusterAdmin, store: clustered } = await redisUserStore(t, { cluster: true })
  await clustered.set('old', create({ username: '"ada"' }), 100)
  await clustered.destroy('old')
  await clustered.rename('old', 'new', { username: '"ada"' }, 100)
  t.same(await clusterAdmin.keys('*'), [], 'no record and no index entry on Cluster either')
})

t.test('listUser lists each live session of a user, the most recently seen first, with the time of its last write or refresh on the plugin\'s clock', needsRedis, async (t) => {
  const clock = freezeClock(1_000_000)
  t.teardown(clock.restore)
  const { admin, store } = await redisUserStore(t)
  await lastSeenWalk(t, store, clock, {
    listed: async () => {
      t.same(await admin.zrange('session:user:ada', '0', '-1', 'WITHSCORES'), ['a1', '1000000', 'a2', '1000010'], 'the index is a sorted set scored with the time seen')
    }
  })
  t.same(await store.listUser(7), [], 'a user with no session')

  await store.set('short', create({ username: '"ada"', _created: '1000040' }), 0.001)
  await store.set('gone', create({ username: '"ada"', _created: '1000040' }), 100)
  await admin.del('session:gone')
  await sleep(10)
  t.same((await store.listUser('ada')).map((s) => s.id), ['a3', 'a1'], 'expired and deleted sessions are left out')
  t.same(await admin.zrange('session:user:ada', '0', '-1'), ['a1', 'a3'], 'and pruned from the index')
})

t.test('listUser reads only the user\'s index and its sessions, in one script: never KEYS or SCAN', needsRedis, async (t) => {
  const redis = await startRedis(t)
  const admin = await redis.client()
  const client = await redis.client()
  const store = new RedisStore({ client, userKey: 'username' })
  for (let i = 0; i < 3; i++) await store.set(`a${i}`, create({ username: '"ada"', _created: '1' }), 100)
  for (let i = 0; i < 20; i++) await store.set(`b${i}`, create({ username: '"bob"', _created: '1' }), 100)
  await store.listUser('ada')
  const { sent, inScripts } = await commandsOf(admin, client, async () => {
    t.equal((await store.listUser('ada')).length, 3)
  })
  t.same(sent, ['EVALSHA'])
  t.same(inScripts.filter((c) => c !== 'TIME'), ['TYPE', 'ZRANGE', 'HGET', 'HGET', 'HGET', 'HGET', 'HGET', 'HGET'], 'the index, then each of its sessions\' user and creation time')
})

t.test('records damaged or written by hand, in the index or a session, are skipped, and the index keeps only the user\'s sessions', needsRedis, async (t) => {
  const clock = freezeClock(1_000_000)
  t.teardown(clock.restore)
  const { admin, store } = await redisUserStore(t)
  await store.set('a1', create({ username: '"ada"', _created: '999000' }), 100)
  await store.set('b1', create({ username: '"bob"', _created: '999000' }), 100)
  await store.set('nc', create({ username: '"ada"' }), 100)
  await store.set('bc', create({ username: '"ada"', _created: 'yesterday' }), 100)
  await store.set('bj', create({ username: '"ada"', _created: '999000' }), 100)
  await admin.hset('session:bj', 'username', '{not json')
  await admin.set('session:text', 'not a hash')
  await admin.zadd('session:user:ada', 0, 'b1', 0, 'missing', 0, 'text', 0, 'user:ada', 0, '', 'inf', 'a1')
  const listed = await store.listUser('ada')
  t.same(listed, [{ id: 'a1', created: 999_000, lastSeen: 999_000 }], 'a score that is no time reads as the creation time')
  t.same(await admin.zrange('session:user:ada', '0', '-1'), ['bc', 'nc', 'a1'],
    'another user\'s session, a missing one, a key that is no hash, the index itself, an empty id and a damaged user field leave the index; a session of the user with a damaged creation time stays, for destroyUser')
  t.equal(await store.destroyUser('ada'), 3)
  t.same((await admin.keys('*')).sort(), ['session:b1', 'session:bj', 'session:text', 'session:user:bob'])
  t.equal(await admin.get('session:text'), 'not a hash', 'a key that is no hash is never deleted')
})

t.test('an index that is not a sorted set is repaired by the next write or listing: a set keeps its ids, anything else is dropped', needsRedis, async (t) => {
  const clock = freezeClock(1_000_000)
  t.teardown(clock.restore)
  const { admin, store } = await redisUserStore(t)
  await store.set('a1', create({ username: '"ada"', _created: '999000' }), 100)
  await store.set('a2', create({ username: '"ada"', _created: '999500' }), 100)
  await admin.del('session:user:ada')
  await admin.sadd('session:user:ada', 'a1', 'a2')
  await admin.expire('session:user:ada', 500)
  clock.set(1_000_010)
  await store.touch('a2', 100)
  t.equal(await admin.type('session:user:ada'), 'zset')
  t.ok(await admin.ttl('session:user:ada') > 400, 'with the set\'s TTL')
  t.same(await store.listUser('ada'), [
    { id: 'a2', created: 999_500, lastSeen: 1_000_010 },
    { id: 'a1', created: 999_000, lastSeen: 999_000 }
  ], 'an id not seen since reads as seen when it was created')

  await admin.del('session:user:ada')
  await admin.sadd('session:user:ada', 'a1', 'a2')
  t.same((await store.listUser('ada')).map((s) => s.id), ['a2', 'a1'], 'listing reads a set too')
  await admin.del('session:user:ada')
  await admin.sadd('session:user:ada', 'a1', 'a2')
  await store.set('a1', merge({ username: '"bob"' }), 100)
  t.same(await admin.zrange('session:user:ada', '0', '-1'), ['a2'], 'and a session leaves a set index')
  await admin.del('session:user:ada')
  await admin.sadd('session:user:ada', 'a2')
  t.equal(await store.destroyUser('ada'), 1, 'destroyUser reads a set too')

  await admin.set('session:user:ada', 'written by hand')
  await store.set('a3', create({ username: '"ada"', _created: '1000010' }), 100)
  t.same(await admin.zrange('session:user:ada', '0', '-1'), ['a3'], 'a string at the index key is replaced')
  await admin.set('session:user:ada', 'written by hand')
  t.same(await store.listUser('ada'), [], 'and lists nothing')
  t.equal(await admin.exists('session:user:ada'), 0)
})

t.test('destroyUser with except ends every other session of the user, and keeps that one in the index', needsRedis, async (t) => {
  const { admin, store } = await redisUserStore(t)
  for (const id of ['a1', 'a2', 'a3']) await store.set(id, create({ username: '"ada"', _created: '1' }), 100)
  await store.set('b1', create({ username: '"bob"', _created: '1' }), 100)
  t.equal(await store.destroyUser('ada', { except: 'a2' }), 2)
  t.same((await store.listUser('ada')).map((s) => s.id), ['a2'])
  t.same(await admin.zrange('session:user:ada', '0', '-1'), ['a2'])
  t.equal(await store.destroyUser('ada', { except: 'b1' }), 1, 'an except of another user\'s session keeps none of this user\'s')
  t.equal(await store.destroyUser('bob', { except: 404 as unknown as string }), 1, 'nor does an except that is no string')
  t.same(await admin.keys('*'), [])
})

t.test('listUser, destroyUser and destroy with a user or id that does not exist, an empty string, a number or no string at all resolve empty or 0', needsRedis, async (t) => {
  const { admin, store } = await redisUserStore(t)
  await store.set('a1', create({ username: '"ada"', _created: '1' }), 100)
  await store.set('e1', create({ username: '""', _created: '1' }), 100)
  await admin.set('session:', 'a key named by the empty id')
  const users: unknown[] = ['nobody', '', 404, NaN, null, undefined, { toString: () => 'ada' }, true]
  for (const user of users) {
    t.same(await store.listUser(user as string), [], `listUser(${String(user)})`)
    t.equal(await store.destroyUser(user as string), 0, `destroyUser(${String(user)})`)
  }
  for (const id of ['missing', '', 404, undefined]) await store.destroy(id as string)
  t.same((await admin.keys('*')).sort(), ['session:', 'session:a1', 'session:e1', 'session:user:ada'],
    'nothing was deleted, and a session whose user is the empty string is indexed by no user')
})

t.test('listUser without userKey rejects with a coded error', needsRedis, async (t) => {
  const redis = await startRedis(t)
  const store = new RedisStore({ client: await redis.client() })
  await t.rejects(store.listUser('ada'), { code: 'FST_ERR_SESSION_INVALID_OPTION', message: /RedisStore userKey: expected a session key naming the user, to call listUser\(\)/ })
  await t.rejects(store.destroyUser('', { except: 'x' }), { code: 'FST_ERR_SESSION_INVALID_OPTION', message: /to call destroyUser\(\)/ })
})

t.test('on Redis Cluster, listUser and destroyUser with except work session by session, and the index is pruned and repaired the same way', needsRedis, async (t) => {
  const clock = freezeClock(1_000_000)
  t.teardown(clock.restore)
  const { admin, store } = await redisUserStore(t, { cluster: true })
  await store.set('a1', create({ username: '"ada"', _created: '1000000' }), 100)
  clock.set(1_000_010)
  await store.set('a2', create({ username: '"ada"', _created: '1000010' }), 100)
  await store.set('a3', create({ username: '"ada"', _created: '1000010' }), 100)
  await store.set('b1', create({ username: '"bob"', _created: '1000010' }), 100)
  clock.set(1_000_020)
  await store.touch('a1', 100)
  t.same(await store.listUser('ada'), [
    { id: 'a1', created: 1_000_000, lastSeen: 1_000_020 },
    { id: 'a2', created: 1_000_010, lastSeen: 1_000_010 },
    { id: 'a3', created: 1_000_010, lastSeen: 1_000_010 }
  ])
  clock.set(1_000_030)
  await store.rename('a3', 'a4', { username: '"ada"', _created: '1000030' }, 100)
  t.same((await store.listUser('ada'))[0], { id: 'a4', created: 1_000_030, lastSeen: 1_000_030 }, 'rename moves the id in the index, seen now')

  await admin.zadd('session:user:ada', 5, 'b1', 5, 'missing')
  await admin.hset('session:nc', 'username', '"ada"')
  await admin.zadd('session:user:ada', 5, 'nc')
  t.same((await store.listUser('ada')).map((s) => s.id), ['a4', 'a1', 'a2'])
  t.same(await admin.zrange('session:user:ada', '0', '-1'), ['nc', 'a2', 'a1', 'a4'], 'another user\'s session and a missing one are pruned')
  t.same((await store.listUser('bob')).map((s) => s.id), ['b1'], 'a listing that prunes nothing')

  t.equal(await store.destroyUser('ada', { except: 'a1' }), 3, 'a2, a4 and nc')
  t.same((await store.listUser('ada')).map((s) => s.id), ['a1'])
  t.same(await admin.zrange('session:user:ada', '0', '-1'), ['a1'])

  await admin.del('session:user:ada')
  await admin.sadd('session:user:ada', 'a1', 'gone')
  await store.set('a5', create({ username: '"ada"', _created: '1000030' }), 100)
  t.same(await admin.zrange('session:user:ada', '0', '-1', 'WITHSCORES'), ['a1', '0', 'gone', '0', 'a5', '1000030'], 'a set index is converted by the next write')
  await admin.del('session:user:ada')
  await admin.sadd('session:user:ada', 'a1', 'a5')
  await store.set('a5', merge({ username: '"bob"' }), 100)
  t.same(await admin.zrange('session:user:ada', '0', '-1'), ['a1'], 'and by a session that leaves it')
  t.equal(await store.destroyUser('ada'), 1)
  t.same((await admin.keys('*')).sort(), ['session:a5', 'session:b1', 'session:user:bob'])
})
