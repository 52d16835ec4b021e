import t from 'tap'
import { build, sessionCookie } from './helpers/build.js'

t.test('a value set on one request is read on the next', async (t) => {
  const app = await build({}, (app) => {
    app.get('/set', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    app.get('/get', async (request) => request.session.get('username') ?? 'nobody')
  })
  const first = await app.inject('/set')
  const cookie = sessionCookie(first)
  t.ok(cookie)
  const second = await app.inject({ url: '/get', cookies: { session: cookie as string } })
  t.equal(second.body, 'ada')
})
