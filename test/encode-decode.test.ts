/**
 * `app.sessions.encode()` and `app.sessions.decode()`: sessions outside a
 * request, for tests and WebSocket upgrades.
 */
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { signedCodec } from '../lib/codecs/signed.js'
import { build, carry, freezeClock, OTHER_SECRET, SECRET, setCookies } from './helpers/build.js'

const NOW = 1_700_000_000

function routes (app: FastifyInstance): void {
  app.get('/login', async (request) => {
    request.session.update({ username: 'ada', data: [1, 2] })
    request.session.permanent = true
    return 'ok'
  })
  app.get('/read', async (request) => ({
    username: request.session.get('username') ?? null,
    data: request.session.get('data') ?? null,
    new: request.session.new,
    permanent: request.session.permanent
  }))
  app.get('/types', async (request) => {
    const nested = request.session.get('nested')
    const value = request.session.get('value') as Map<string, Buffer>
    return {
      when: nested?.when instanceof Date ? nested.when.getTime() : null,
      map: value instanceof Map,
      buffer: Buffer.isBuffer(value.get('bytes')) ? value.get('bytes')?.toString('hex') : null
    }
  })
}

t.test('encode gives a cookie value that a request reads as a valid, non-permanent session', async (t) => {
  const app = await build({}, routes)
  const value = await app.sessions.encode({ username: 'ada', data: [1, 2] })
  t.type(value, 'string')
  const res = await app.inject({ url: '/read', cookies: { session: value } })
  t.same(res.json(), { username: 'ada', data: [1, 2], new: false, permanent: false })
  t.same(setCookies(res), [], 'a non-permanent session that was only read is not re-issued')
})

t.test('encode with permanent gives a permanent session, refreshed with maxAge', async (t) => {
  const app = await build({}, routes)
  const value = await app.sessions.encode({ username: 'ada' }, { permanent: true })
  const res = await app.inject({ url: '/read', cookies: { session: value } })
  t.same(res.json(), { username: 'ada', data: null, new: false, permanent: true })
  t.equal(res.cookies[0]?.maxAge, 2678400)
})

t.test('encode keeps typed values with their type', async (t) => {
  const app = await build({}, routes)
  const value = await app.sessions.encode({
    nested: { list: [], when: new Date(1234) },
    value: new Map([['bytes', Buffer.from([0xff, 0])]])
  })
  t.same((await app.inject({ url: '/types', cookies: { session: value } })).json(), { when: 1234, map: true, buffer: 'ff00' })
})

t.test('encode signs at the current time, so the value expires maxAge later', async (t) => {
  const clock = freezeClock(NOW)
  t.teardown(clock.restore)
  const app = await build({ maxAge: 60 }, routes)
  const value = await app.sessions.encode({ username: 'ada' })
  clock.set(NOW + 60)
  t.equal((await app.inject({ url: '/read', cookies: { session: value } })).json().username, 'ada')
  clock.set(NOW + 61)
  t.equal((await app.inject({ url: '/read', cookies: { session: value } })).json().username, null)
})

t.test('encode rejects a value that cannot be kept with FST_ERR_SESSION_UNSERIALIZABLE, naming its key', async (t) => {
  const app = await build({}, routes)
  await t.rejects(app.sessions.encode({ value: () => 1 }), { code: 'FST_ERR_SESSION_UNSERIALIZABLE', message: /"value"/ })
})

t.test('decode returns the session that a response set, with its data and flags', async (t) => {
  const app = await build({}, routes)
  const login = await app.inject('/login')
  const session = await app.sessions.decode(carry(login).session)
  t.ok(session)
  t.equal(session?.get('username'), 'ada')
  t.same(session?.get('data'), [1, 2])
  t.equal(session?.size, 2)
  t.same(session?.toJSON(), { username: 'ada', data: [1, 2] })
  t.equal(session?.new, false)
  t.equal(session?.permanent, true)
  t.equal(session?.modified, false)
})

t.test('decode reads what encode wrote', async (t) => {
  const app = await build({}, routes)
  const when = new Date(NOW * 1000)
  const session = await app.sessions.decode(await app.sessions.encode({ nested: { list: ['a'], when } }, { permanent: true }))
  t.same(session?.get('nested'), { list: ['a'], when })
  t.ok(session?.get('nested')?.when instanceof Date)
  t.equal(session?.permanent, true)
})

t.test('decode returns null for garbage, a tampered value, another key, an expired value or an undecodable payload', async (t) => {
  const clock = freezeClock(NOW)
  t.teardown(clock.restore)
  const logs: Array<Record<string, unknown>> = []
  const app = await build({ maxAge: 3600 }, routes, logs)
  const other = await build({ secret: OTHER_SECRET }, routes)
  const value = await app.sessions.encode({ username: 'ada' })
  const [head, , created, issued, sig] = value.split('.')
  const codec = signedCodec([Buffer.from(SECRET)])
  const cases: Array<[string, string]> = [
    ['an empty string', ''],
    ['garbage', 'garbage'],
    ['a tampered payload', [head, Buffer.from('{"username":"eve"}').toString('base64url'), created, issued, sig].join('.')],
    ['another key', await other.sessions.encode({ username: 'ada' })],
    ['a payload that is not JSON', codec.seal('not json', false, NOW, NOW)],
    ['a payload with a bad tag', codec.seal('{"value":{"~zz":1}}', false, NOW, NOW)]
  ]
  for (const [name, garbage] of cases) t.equal(await app.sessions.decode(garbage), null, name)
  clock.set(NOW + 3601)
  t.equal(await app.sessions.decode(value), null, 'an expired value')
  t.ok(logs.some((line) => line.level === 20 && String(line.reason).startsWith('the payload cannot be decoded')))
  t.same(logs.filter((line) => (line.level as number) > 20), [], 'nothing is logged above debug')
})
