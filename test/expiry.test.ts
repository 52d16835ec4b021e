/**
 * Expiry, checked on the server from the signed times, with a frozen clock:
 * `maxAge` bounds the age of every signature, a signature may be dated at
 * most 60 s in the future, and `absoluteTimeout` bounds the age of the
 * session however often it is refreshed.
 */
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { signedCodec } from '../lib/codecs/signed.js'
import { build, carry, freezeClock, SECRET, setCookies } from './helpers/build.js'

const NOW = 1_700_000_000

type Log = Record<string, unknown>

function routes (app: FastifyInstance): void {
  app.get('/login', async (request) => {
    request.session.set('username', 'ada')
    request.session.permanent = (request.query as { permanent?: string }).permanent === '1'
    return 'ok'
  })
  app.get('/read', async (request) => request.session.get('username') ?? 'nobody')
}

/** The debug lines that say why a session cookie was rejected. */
function rejections (logs: Log[]): unknown[] {
  return logs.filter((line) => String(line.msg).startsWith('session cookie rejected')).map((line) => [line.level, line.reason])
}

/** Log lines above debug level, apart from Fastify's own request lines. */
function loud (logs: Log[]): Log[] {
  return logs.filter((line) => (line.level as number) > 20 && !/^(incoming request|request completed)$/.test(String(line.msg)))
}

t.test('a cookie signed exactly maxAge ago is accepted, and one a second older is rejected', async (t) => {
  const clock = freezeClock(NOW)
  t.teardown(clock.restore)
  const logs: Log[] = []
  const app = await build({ maxAge: 3600 }, routes, logs)
  for (const permanent of ['0', '1']) {
    clock.set(NOW)
    const login = await app.inject(`/login?permanent=${permanent}`)
    clock.set(NOW + 1800)
    t.equal((await app.inject({ url: '/read', cookies: carry(login) })).body, 'ada')
    clock.set(NOW + 3600)
    t.equal((await app.inject({ url: '/read', cookies: carry(login) })).body, 'ada', `permanent=${permanent}: exactly maxAge`)
    logs.length = 0
    // The value was verified before, so this also shows that the cache of verified values does not skip the time checks.
    clock.set(NOW + 3601)
    const res = await app.inject({ url: '/read', cookies: carry(login) })
    t.equal(res.statusCode, 200)
    t.equal(res.body, 'nobody', `permanent=${permanent}: older than maxAge`)
    t.same(rejections(logs), [[20, 'the signature is older than maxAge (3600 s)']])
    t.same(loud(logs), [])
  }
})

t.test('a cookie dated 60 s in the future is accepted, and one dated 61 s ahead is rejected', async (t) => {
  const clock = freezeClock(NOW + 60)
  t.teardown(clock.restore)
  const logs: Log[] = []
  const app = await build({}, routes, logs)
  const skewed = await app.inject('/login')
  clock.set(NOW + 61)
  const ahead = await app.inject('/login')
  clock.set(NOW)
  t.equal((await app.inject({ url: '/read', cookies: carry(skewed) })).body, 'ada')
  logs.length = 0
  const res = await app.inject({ url: '/read', cookies: carry(ahead) })
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'nobody')
  t.same(rejections(logs), [[20, 'the signature is dated in the future']])
  t.same(loud(logs), [])
})

t.test('absoluteTimeout rejects a session created too long ago, though it was refreshed on every request', async (t) => {
  const clock = freezeClock(NOW)
  t.teardown(clock.restore)
  const logs: Log[] = []
  const app = await build({ absoluteTimeout: 250 }, routes, logs)
  let res = await app.inject('/login?permanent=1')
  for (const at of [NOW + 100, NOW + 200, NOW + 250]) {
    clock.set(at)
    const next = await app.inject({ url: '/read', cookies: carry(res) })
    t.equal(next.body, 'ada', `at +${at - NOW} s`)
    t.equal(setCookies(next).length, 1, `at +${at - NOW} s the cookie is refreshed`)
    res = next
  }
  logs.length = 0
  clock.set(NOW + 251)
  const expired = await app.inject({ url: '/read', cookies: carry(res) })
  t.equal(expired.statusCode, 200)
  t.equal(expired.body, 'nobody', 'the last cookie was signed 1 s ago, but the session is 251 s old')
  t.same(rejections(logs), [[20, 'the session is older than absoluteTimeout (250 s)']])
  t.same(loud(logs), [])
})

t.test('a change to a session keeps its creation time, so absoluteTimeout still counts from the login', async (t) => {
  const clock = freezeClock(NOW)
  t.teardown(clock.restore)
  const app = await build({ absoluteTimeout: 100 }, (app) => {
    routes(app)
    app.get('/bump', async (request) => {
      request.session.set('counter', request.session.get('counter', 0) + 1)
      return 'ok'
    })
  })
  const login = await app.inject('/login')
  clock.set(NOW + 90)
  const bump = await app.inject({ url: '/bump', cookies: carry(login) })
  clock.set(NOW + 101)
  t.equal((await app.inject({ url: '/read', cookies: carry(bump) })).body, 'nobody')
})

t.test('without absoluteTimeout, a refreshed session lives on', async (t) => {
  const clock = freezeClock(NOW)
  t.teardown(clock.restore)
  const app = await build({ maxAge: 100 }, routes)
  let res = await app.inject('/login?permanent=1')
  for (let at = NOW + 90; at < NOW + 1000; at += 90) {
    clock.set(at)
    res = await app.inject({ url: '/read', cookies: carry(res) })
    t.equal(res.body, 'ada', `at +${at - NOW} s`)
  }
})

t.test('a cookie whose creation time is after its signing time is rejected', async (t) => {
  const clock = freezeClock(NOW)
  t.teardown(clock.restore)
  const logs: Log[] = []
  const app = await build({}, routes, logs)
  const codec = signedCodec([Buffer.from(SECRET)])
  const body = '{"username":"ada"}'
  t.equal((await app.inject({ url: '/read', cookies: { session: codec.seal(body, false, NOW, NOW) } })).body, 'ada', 'a well-formed cookie')
  const res = await app.inject({ url: '/read', cookies: { session: codec.seal(body, false, NOW + 1, NOW) } })
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'nobody')
  t.same(rejections(logs), [[20, 'the creation time is after the signing time']])
})
