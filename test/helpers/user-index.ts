/**
 * Shared by the tests of the stores' user index: a RedisStore with a user
 * index on a fresh redis-server, and the walk through `listUser`'s
 * `lastSeen` that MemoryStore and RedisStore must both pass.
 */
import type { Redis } from 'ioredis'
import type { Test } from 'tap'
import { RedisStore, type SessionStore, type StoreChange, type UserIndex } from '../../lib/index.js'
import type { freezeClock } from './build.js'
import { startRedis } from './redis.js'

const create = (set: Record<string, string>): StoreChange => ({ set, delete: [], create: true })
const merge = (set: Record<string, string>): StoreChange => ({ set, delete: [], create: false })

/**
 * A RedisStore with userKey 'username' on a fresh redis-server (a one-node
 * Cluster, through a Cluster client, with `cluster: true`), and `admin`, a
 * plain client to the same server for reading the keys back.
 */
export async function redisUserStore (t: Test, { cluster = false } = {}): Promise<{ admin: Redis, store: RedisStore }> {
  const redis = await startRedis(t, { cluster })
  const admin = await redis.client()
  const store = new RedisStore({ client: cluster ? await redis.cluster() : await redis.client(), userKey: 'username' })
  return { admin, store }
}

/** What a test adds to `lastSeenWalk` at two of its steps. */
export interface WalkSteps {
  /** Runs right after the first listing (a1 seen at 1_000_000, a2 at 1_000_010). */
  listed?: () => Promise<void>
  /** More reads of a1 and a3 that must not count as seen, made at 1_000_040 before the listing that checks it. */
  read?: () => Promise<void>
}

/**
 * The walk through `lastSeen` on a store with userKey 'username', empty and
 * with its clock frozen at 1_000_000: a1 written then, a2 and b1 at
 * 1_000_010; a touch of a1 at 1_000_020, a write of a2 at 1_000_030 and a
 * rename of a2 to a3 at 1_000_040 each count as seen, and reads do not. It
 * leaves a1 (seen at 1_000_020) and a3 (1_000_040) of ada, and b1 of bob,
 * each with a TTL of 100 s, and the clock at 1_000_040.
 */
export async function lastSeenWalk (t: Test, store: SessionStore & UserIndex, clock: ReturnType<typeof freezeClock>, steps: WalkSteps = {}): Promise<void> {
  await store.set('a1', create({ username: '"ada"', _created: '1000000' }), 100)
  clock.set(1_000_010)
  await store.set('a2', create({ username: '"ada"', _created: '1000010' }), 100)
  await store.set('b1', create({ username: '"bob"', _created: '1000010' }), 100)
  t.same(await store.listUser('ada'), [
    { id: 'a2', created: 1_000_010, lastSeen: 1_000_010 },
    { id: 'a1', created: 1_000_000, lastSeen: 1_000_000 }
  ])
  await steps.listed?.()
  clock.set(1_000_020)
  await store.touch('a1', 100)
  t.same((await store.listUser('ada'))[0], { id: 'a1', created: 1_000_000, lastSeen: 1_000_020 }, 'touch counts as seen')
  clock.set(1_000_030)
  await store.set('a2', merge({ counter: '1' }), 100)
  t.same((await store.listUser('ada'))[0], { id: 'a2', created: 1_000_010, lastSeen: 1_000_030 }, 'and so does a write')
  clock.set(1_000_040)
  await store.rename('a2', 'a3', { username: '"ada"', _created: '1000040' }, 100)
  t.same(await store.listUser('ada'), [
    { id: 'a3', created: 1_000_040, lastSeen: 1_000_040 },
    { id: 'a1', created: 1_000_000, lastSeen: 1_000_020 }
  ], 'and a rename, under the new id')
  await store.get('a1')
  await store.get('a3')
  await steps.read?.()
  t.same((await store.listUser('ada')).map((s) => s.lastSeen), [1_000_040, 1_000_020], 'nor do reads')
  t.same(await store.listUser('bob'), [{ id: 'b1', created: 1_000_010, lastSeen: 1_000_010 }])
}
