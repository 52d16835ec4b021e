/**
 * `@fastify/auth` 5 with a session check: `app.auth([verifySession])`,
 * where `verifySession` asks this plugin's session who is logged in.
 */
import auth from '@fastify/auth'
import formbody from '@fastify/formbody'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import t, { type Test } from 'tap'
import { MemoryStore } from '../lib/index.js'
import { build } from './helpers/build.js'
import { browser } from './helpers/jar.js'

/** Lets the request through when its session has a user, else answers 401. */
async function verifySession (request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (request.session.get('username') === undefined) {
    await reply.code(401).send({ error: 'Log in first' })
  }
}

async function start (t: Test, store?: MemoryStore): Promise<FastifyInstance> {
  const app = await build(store === undefined ? {} : { store }, (app) => {
    app.register(formbody)
    app.register(auth)
    app.after(() => {
      app.post<{ Body: { username: string } }>('/login', async (request) => {
        request.session.set('username', request.body.username)
        return { ok: true }
      })
      app.post('/logout', async (request) => {
        request.session.clear()
        return { ok: true }
      })
      app.get('/private', { preHandler: app.auth([verifySession]) }, async (request) => ({
        user: request.session.get('username')
      }))
    })
  })
  t.teardown(() => app.close())
  return app
}

for (const mode of ['cookie', 'store'] as const) {
  t.test(`${mode} mode: the protected route is 401 without login, 200 after it, and 401 again after logout`, async (t) => {
    const app = await start(t, mode === 'store' ? new MemoryStore() : undefined)
    const b = browser(app)
    const before = await b.get('/private')
    t.equal(before.statusCode, 401)
    t.same(before.json(), { error: 'Log in first' })

    t.equal((await b.post('/login', { username: 'ada' })).statusCode, 200)
    const during = await b.get('/private')
    t.equal(during.statusCode, 200)
    t.same(during.json(), { user: 'ada' })
    t.equal((await b.get('/private')).statusCode, 200, 'on every request')

    const loggedIn = b.cookies.get('session') as string
    const out = await b.post('/logout')
    t.equal(out.statusCode, 200)
    t.equal(out.cookies.find((c) => c.name === 'session')?.maxAge, 0, 'clear() deletes the cookie')
    t.notOk(b.cookies.has('session'))
    const after = await b.get('/private')
    t.equal(after.statusCode, 401)
    t.same(after.json(), { error: 'Log in first' })
    if (mode === 'store') {
      const replay = await app.inject({ method: 'GET', url: '/private', cookies: { session: loggedIn } })
      t.equal(replay.statusCode, 401, 'the logged-out session id is dead')
    }
  })
}

t.test('a forged session cookie is 401, not an error', async (t) => {
  const app = await start(t)
  const res = await app.inject({ method: 'GET', url: '/private', cookies: { session: 'eyJ1c2VybmFtZSI6ImFkYSJ9.forged' } })
  t.equal(res.statusCode, 401)
})
