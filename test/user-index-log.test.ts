/**
 * A session whose `userKey` value the store's user index leaves out (not a
 * non-empty string or a finite number) is saved, left out of the index, and
 * logged by one debug line that says why; an indexed user, a store without
 * `userKey` and a store of your own log nothing.
 */
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { MemoryStore, type SessionStore } from '../lib/index.js'
import { build, carry } from './helpers/build.js'
import { plainStore } from './helpers/plain-store.js'

type Logs = Array<Record<string, unknown>>

/** An app whose `/login` puts the JSON body's `user` under the session key `userId`. */
async function app (store: SessionStore, logs: Logs): Promise<FastifyInstance> {
  return await build({ store }, (app) => {
    app.post<{ Body: { user: unknown } }>('/login', async (request) => {
      request.session.set('userId' as never, request.body.user as never)
      request.session.set('username', 'ada')
      return 'ok'
    })
  }, logs)
}

/** The debug lines about the user index. */
function unindexed (logs: Logs): Logs {
  return logs.filter((line) => typeof line.msg === 'string' && line.msg.startsWith('session left out of the user index'))
}

const LEFT_OUT: Array<[string, unknown, string]> = [
  ['an object', { id: 1 }, 'an object'],
  ['an array', ['ada'], 'an array'],
  ['an empty string', '', 'an empty string'],
  ['null', null, 'null'],
  ['a boolean', true, 'a boolean']
]

t.test('a session whose userKey value the index leaves out is saved, and logged once at debug level', async (t) => {
  for (const [title, user, what] of LEFT_OUT) {
    const store = new MemoryStore({ userKey: 'userId' })
    const logs: Logs = []
    const res = await (await app(store, logs)).inject({ method: 'POST', url: '/login', payload: { user } })
    t.equal(res.statusCode, 200, title)
    t.ok(carry(res).session, `${title}: the session is saved`)
    const lines = unindexed(logs)
    t.equal(lines.length, 1, `${title}: one line`)
    t.match(lines[0], { level: 20, reason: `its "userId" is ${what}, not a non-empty string or a number` }, title)
  }
})

t.test('numbers that are no JSON number (NaN, Infinity, -0) are left out too, and logged', async (t) => {
  // JSON has no such numbers: their tagged form is an object to the index.
  const store = new MemoryStore({ userKey: 'userId' })
  const logs: Logs = []
  const server = await build({ store }, (app) => {
    app.get('/login/:n', async (request) => {
      const n = { nan: NaN, inf: Infinity, negzero: -0 }[(request.params as { n: 'nan' | 'inf' | 'negzero' }).n]
      request.session.set('userId' as never, n as never)
      return 'ok'
    })
  }, logs)
  for (const [n, shown] of [['nan', 'NaN'], ['inf', 'Infinity'], ['negzero', '0']] as const) {
    logs.length = 0
    t.equal((await server.inject(`/login/${n}`)).statusCode, 200)
    t.match(unindexed(logs), [{ reason: `its "userId" is ${shown}, not a non-empty string or a number` }], n)
    t.equal(unindexed(logs).length, 1)
  }
  t.same(await store.listUser('NaN'), [], 'none of them is anyone\'s session')
  t.same(await store.listUser(0), [])
})

t.test('an indexed user, a store without userKey, and a store of your own log nothing', async (t) => {
  for (const user of ['ada', 7, 1.5]) {
    const store = new MemoryStore({ userKey: 'userId' })
    const logs: Logs = []
    await (await app(store, logs)).inject({ method: 'POST', url: '/login', payload: { user } })
    t.same(unindexed(logs), [], `${JSON.stringify(user)} is indexed`)
    t.equal((await store.listUser(user)).length, 1, `${JSON.stringify(user)} is listed`)
  }
  const plain = new MemoryStore()
  t.equal(plain.userKey, undefined, 'a store without userKey says so')
  const logs: Logs = []
  await (await app(plain, logs)).inject({ method: 'POST', url: '/login', payload: { user: { id: 1 } } })
  t.same(unindexed(logs), [], 'no index, nothing left out of it')
  const own = plainStore(new MemoryStore({ userKey: 'userId' }))
  const ownLogs: Logs = []
  await (await app(own, ownLogs)).inject({ method: 'POST', url: '/login', payload: { user: { id: 1 } } })
  t.same(unindexed(ownLogs), [], 'a store of your own has no userKey the plugin knows of')
})
