/**
 * The device list, end to end through the plugin (DESIGN.md sections 3 and
 * 6): a user logs in on three devices (three cookies), lists them with
 * `store.listUser()` as `lastSeen` moves with their use, ends one by id
 * with `store.destroy()`, then ends all the others with
 * `store.destroyUser(user, { except: request.session.id })`. The same
 * story runs on `MemoryStore`, a real `RedisStore`, and a `RedisStore` on
 * a one-node Redis Cluster.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { MemoryStore, RedisStore, type SessionStore, type UserIndex, type UserSession } from '../lib/index.js'
import { build, carry, freezeClock } from './helpers/build.js'
import { needsRedis, startRedis } from './helpers/redis.js'

type DeviceStore = SessionStore & UserIndex

/** A "your devices" app: log in, list your sessions, log out one of them or all the others. */
async function devicesApp (store: DeviceStore): Promise<FastifyInstance> {
  return await build({ store }, (app) => {
    app.post<{ Body: { user: string } }>('/login', async (request) => {
      await request.session.regenerate()
      request.session.set('username', request.body.user)
      request.session.permanent = true
      return 'ok'
    })
    app.post('/regenerate', async (request) => {
      await request.session.regenerate(['username'])
      return 'ok'
    })
    app.post('/logout', async (request) => {
      request.session.clear()
      return 'ok'
    })
    app.get('/me', async (request) => ({ user: request.session.get('username') ?? null, id: request.session.id ?? null }))
    app.post('/counter', async (request) => {
      request.session.set('counter', request.session.get('counter', 0) + 1)
      return 'ok'
    })
    app.get('/devices', async (request, reply) => {
      const user = request.session.get('username')
      if (user === undefined) return await reply.code(401).send()
      const sessions = await store.listUser(user)
      return sessions.map((s) => ({ ...s, current: s.id === request.session.id }))
    })
    app.post<{ Params: { id: string } }>('/devices/:id/logout', async (request, reply) => {
      const user = request.session.get('username')
      if (user === undefined) return await reply.code(401).send()
      // Only a session of this user: an id is no proof of ownership.
      if (!(await store.listUser(user)).some((s) => s.id === request.params.id)) return await reply.code(404).send()
      await store.destroy(request.params.id)
      return 'ok'
    })
    app.post('/devices/logout-others', async (request, reply) => {
      const user = request.session.get('username')
      if (user === undefined) return await reply.code(401).send()
      return { ended: await store.destroyUser(user, { except: request.session.id }) }
    })
  })
}

/** The story, on one store. `T0` is the time of the first login. */
async function story (t: Test, store: DeviceStore): Promise<void> {
  const T0 = 1_800_000_000
  const clock = freezeClock(T0)
  t.teardown(clock.restore)
  const app = await devicesApp(store)
  t.teardown(async () => { await app.close() })
  const login = async (user: string): Promise<{ session: string }> =>
    carry(await app.inject({ method: 'POST', url: '/login', payload: { user } }))
  const get = async (url: string, cookies: { session: string }): Promise<LightMyRequestResponse> => await app.inject({ url, cookies })
  const post = async (url: string, cookies: { session: string }): Promise<LightMyRequestResponse> => await app.inject({ method: 'POST', url, cookies })
  const idOf = (cookies: { session: string }): string => cookies.session.split('.')[0] as string
  const devices = async (cookies: { session: string }): Promise<Array<UserSession & { current: boolean }>> =>
    (await get('/devices', cookies)).json()

  const laptop = await login('ada')
  clock.set(T0 + 10)
  const phone = await login('ada')
  t.same((await get('/me', phone)).json(), { user: 'ada', id: idOf(phone) }, 'request.session.id is the id in the cookie')
  clock.set(T0 + 20)
  const tablet = await login('ada')
  const eve = await login('eve')

  clock.set(T0 + 30)
  t.same(await devices(laptop), [
    { id: idOf(tablet), created: T0 + 20, lastSeen: T0 + 20, current: false },
    { id: idOf(phone), created: T0 + 10, lastSeen: T0 + 10, current: false },
    { id: idOf(laptop), created: T0, lastSeen: T0, current: true }
  ], 'three devices, the most recently seen first; eve\'s session is not among them')

  clock.set(T0 + 40)
  await get('/me', phone) // a permanent session is refreshed by each request
  clock.set(T0 + 50)
  await post('/counter', tablet) // and a write counts too
  t.same((await devices(laptop)).map((d) => [d.id, d.lastSeen]), [
    [idOf(tablet), T0 + 50],
    [idOf(phone), T0 + 40],
    [idOf(laptop), T0 + 30]
  ], 'lastSeen moves as the devices are used (the laptop\'s last listing refreshed it)')

  clock.set(T0 + 60)
  t.equal((await post(`/devices/${idOf(eve)}/logout`, laptop)).statusCode, 404, 'another user\'s session is not ada\'s to end')
  t.equal((await post(`/devices/${idOf(phone)}/logout`, laptop)).body, 'ok', 'the laptop ends the phone\'s session')
  t.same((await get('/me', phone)).json(), { user: null, id: null }, 'the phone is logged out')
  t.same((await devices(laptop)).map((d) => d.id), [idOf(laptop), idOf(tablet)])

  clock.set(T0 + 70)
  t.same((await post('/devices/logout-others', tablet)).json(), { ended: 1 }, 'the tablet logs out every other device')
  t.same((await get('/me', laptop)).json(), { user: null, id: null }, 'the laptop is logged out')
  t.same((await get('/me', tablet)).json(), { user: 'ada', id: idOf(tablet) }, 'the tablet is not')
  t.same(await devices(tablet), [{ id: idOf(tablet), created: T0 + 20, lastSeen: T0 + 70, current: true }])
  t.same((await get('/me', eve)).json(), { user: 'eve', id: idOf(eve) }, 'eve was never touched')

  clock.set(T0 + 80)
  const again = await login('ada')
  t.same((await get('/me', again)).json(), { user: 'ada', id: idOf(again) })
  t.same((await devices(again)).map((d) => [d.id, d.current]), [[idOf(again), true], [idOf(tablet), false]], 'a new login is listed at once')

  clock.set(T0 + 90)
  const moved = carry(await post('/regenerate', again))
  t.not(idOf(moved), idOf(again))
  t.same((await devices(moved)).map((d) => [d.id, d.created, d.current]), [[idOf(moved), T0 + 90, true], [idOf(tablet), T0 + 20, false]],
    'regenerate() moves the device to its new id')
  t.equal((await post('/logout', moved)).statusCode, 200)
  t.same((await devices(tablet)).map((d) => d.id), [idOf(tablet)], 'and clear() takes it off the list')
}

t.test('the device list on MemoryStore', async (t) => {
  await story(t, new MemoryStore({ userKey: 'username' }))
})

t.test('the device list on RedisStore', needsRedis, async (t) => {
  const redis = await startRedis(t)
  await story(t, new RedisStore({ client: await redis.client(), userKey: 'username' }))
})

t.test('the device list on RedisStore with Redis Cluster', needsRedis, async (t) => {
  const redis = await startRedis(t, { cluster: true })
  await story(t, new RedisStore({ client: await redis.cluster(), userKey: 'username' }))
})
