/**
 * Merge by key (DESIGN.md rule 9) under real concurrency: parallel HTTP
 * requests to a listening server, on one session stored in a real Redis.
 */
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { RedisStore, type Session, type StoreChange } from '../lib/index.js'
import { build } from './helpers/build.js'
import { needsRedis, startRedis, type RedisServer } from './helpers/redis.js'

const ROUNDS = 20

/** A RedisStore that notes, in the order Redis applied them, the counters it saved. */
class OrderedStore extends RedisStore {
  readonly counters: number[] = []
  override async set (id: string, change: StoreChange, ttl: number): Promise<void> {
    await super.set(id, change, ttl)
    if (change.set.counter !== undefined) this.counters.push(Number(change.set.counter))
  }
}

/** An app on a free port; returns its URL and the session cookie of a login. */
async function serve (t: { teardown: (fn: () => Promise<void>) => void }, redis: RedisServer): Promise<{ app: FastifyInstance, store: OrderedStore, url: string, cookie: string }> {
  const store = new OrderedStore({ client: await redis.client() })
  const app = await build({ store }, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    app.get('/set/:key/:value', async (request) => {
      const { key, value } = request.params as { key: string, value: string }
      ;(request.session as unknown as Session<Record<string, number>>).set(key, Number(value))
      return 'ok'
    })
    app.get('/all', async (request) => request.session.toJSON())
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(async () => { await app.close() })
  const { port } = app.server.address() as { port: number }
  const url = `http://127.0.0.1:${port}`
  const login = await fetch(`${url}/login`)
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string
  return { app, store, url, cookie }
}

t.test('parallel requests that each set their own key on one session keep every key', needsRedis, async (t) => {
  const redis = await startRedis(t)
  const admin = await redis.client()
  const { url, cookie } = await serve(t, redis)
  const expected: Record<string, unknown> = { username: 'ada' }
  for (let round = 0; round < ROUNDS; round++) {
    const width = 2 + (round % 9)
    const statuses = await Promise.all(Array.from({ length: width }, async (_, i) => {
      expected[`r${round}k${i}`] = round * 100 + i
      const res = await fetch(`${url}/set/r${round}k${i}/${round * 100 + i}`, { headers: { cookie } })
      await res.arrayBuffer()
      return res.status
    }))
    t.ok(statuses.every((status) => status === 200), `round ${round}: ${width} requests succeed`)
  }
  const all = await (await fetch(`${url}/all`, { headers: { cookie } })).json() as Record<string, unknown>
  t.same(all, expected, `all ${Object.keys(expected).length - 1} keys are kept`)
  const id = cookie.slice('session='.length, 'session='.length + 43)
  t.equal(Object.keys(await admin.hgetall(`session:${id}`)).length, Object.keys(expected).length + 1, 'one hash field per key, plus _created')
})

t.test('parallel requests that set the same key: the last writer wins, and no other key is lost', needsRedis, async (t) => {
  const redis = await startRedis(t)
  const { store, url, cookie } = await serve(t, redis)
  const expected: Record<string, unknown> = { username: 'ada' }
  for (let round = 0; round < ROUNDS; round++) {
    const width = 2 + (round % 9)
    store.counters.length = 0
    await Promise.all(Array.from({ length: width }, async (_, i) => {
      expected[`own${round}_${i}`] = i
      const [a, b] = await Promise.all([
        fetch(`${url}/set/counter/${round * 100 + i}`, { headers: { cookie } }),
        fetch(`${url}/set/own${round}_${i}/${i}`, { headers: { cookie } })
      ])
      await Promise.all([a.arrayBuffer(), b.arrayBuffer()])
    }))
    const all = await (await fetch(`${url}/all`, { headers: { cookie } })).json() as Record<string, unknown>
    t.equal(all.counter, store.counters.at(-1), `round ${round}: the counter is the last one Redis applied`)
    t.same(all, { ...expected, counter: all.counter }, `round ${round}: every other key is kept`)
  }
})
