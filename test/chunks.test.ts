/**
 * maxChunks: a session too large for one cookie is split over `session`,
 * `session.1`, … with every Set-Cookie header within maxCookieSize and the
 * same attributes on each; it round-trips; chunks no longer used are
 * deleted; a session that fits in one cookie is exactly as with maxChunks 1;
 * a session that needs more than maxChunks cookies is refused, saying how many.
 */
import t from 'tap'
import { normalizeOptions } from '../lib/options.js'
import { build, SECRET } from './helpers/build.js'
import { chunkApp, cookieHeader, next, noise, parsed, rejections } from './helpers/chunks.js'
import { ImmediateSpyStore } from './helpers/stores.js'

const EXPIRED = '; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT'
/** What a Set-Cookie header carries after the value, by default on plain HTTP. */
const DEFAULT_ATTRIBUTES = '; Path=/; HttpOnly; SameSite=Lax'

t.beforeEach(() => {
  next.data = {}
  next.permanent = false
})

t.test('maxChunks is a whole number from 1 to 10, 1 by default', async (t) => {
  t.equal(normalizeOptions({ secret: SECRET }).options.maxChunks, 1)
  for (const n of [1, 2, 10]) t.equal(normalizeOptions({ secret: SECRET, maxChunks: n }).options.maxChunks, n)
  for (const [bad, shown] of [[0, '0'], [11, '11'], [2.5, '2.5'], [-1, '-1'], ['2', '"2"'], [null, 'null'], [NaN, 'NaN']] as const) {
    t.throws(() => normalizeOptions({ secret: SECRET, maxChunks: bad }), {
      code: 'FST_ERR_SESSION_INVALID_OPTION',
      message: `Invalid option maxChunks: expected a whole number from 1 to 10, received ${shown}`
    }, shown)
  }
})

t.test("maxChunks above 1 is refused with format 'flask', in store mode, and with maxCookieSize 0; 1 is accepted everywhere", async (t) => {
  const store = new ImmediateSpyStore()
  t.throws(() => normalizeOptions({ secret: SECRET, format: 'flask', maxChunks: 2 }), {
    code: 'FST_ERR_SESSION_INVALID_OPTION',
    message: "Invalid option maxChunks: expected 1 with format 'flask', whose cookie a Flask app reads as one, received 2"
  })
  t.throws(() => normalizeOptions({ secret: SECRET, store, maxChunks: 3 }), {
    code: 'FST_ERR_SESSION_INVALID_OPTION',
    message: 'Invalid option maxChunks: expected 1 with a store: the cookie carries only the signed session id, received 3'
  })
  t.throws(() => normalizeOptions({ secret: SECRET, maxCookieSize: 0, maxChunks: 2 }), {
    code: 'FST_ERR_SESSION_INVALID_OPTION',
    message: 'Invalid option maxChunks: expected a maxCookieSize above 0 beside it: each chunk is cut to fit maxCookieSize, received 2'
  })
  t.equal(normalizeOptions({ secret: SECRET, format: 'flask', maxChunks: 1 }).options.maxChunks, 1)
  t.equal(normalizeOptions({ secret: SECRET, store, maxChunks: 1 }).options.maxChunks, 1)
  t.equal(normalizeOptions({ secret: SECRET, maxCookieSize: 0, maxChunks: 1 }).options.maxChunks, 1)
  t.equal(normalizeOptions({ secret: SECRET, format: 'encrypted', maxChunks: 10 }).options.maxChunks, 10)
  await t.rejects(build({ format: 'flask', maxChunks: 2 }), { code: 'FST_ERR_SESSION_INVALID_OPTION' }, 'registration fails')
})

for (const format of ['signed', 'encrypted'] as const) {
  t.test(`${format}: a session that fits in one cookie is set exactly as with maxChunks 1`, async (t) => {
    const one = await chunkApp({ format, maxChunks: 1 })
    const four = await chunkApp({ format, maxChunks: 4 })
    t.teardown(async () => { await one.close(); await four.close() })
    for (const [data, permanent] of [[{ username: 'ada' }, false], [{ username: noise(2500) }, true], [{ username: format === 'signed' ? 'x'.repeat(6000) : noise(2700) }, false]] as const) {
      next.data = data
      next.permanent = permanent
      const a = parsed(await one.inject('/set'))
      const b = parsed(await four.inject('/set'))
      t.equal(b.length, 1, 'one Set-Cookie header')
      t.equal(b[0]?.name, 'session')
      t.equal(b[0]?.attributes, a[0]?.attributes, 'the same attributes')
      if (format === 'signed') t.equal(b[0]?.value, a[0]?.value, 'the same value')
      else t.equal(b[0]?.value.length, a[0]?.value.length, 'a value of the same length')
      t.notMatch(b[0]?.value, /^e?2[^.]*-/, 'no chunk field in the head')
      const get = await four.inject({ url: '/get', headers: { cookie: cookieHeader(await one.inject('/set')) } })
      t.same(get.json(), { new: false, data }, 'maxChunks 4 reads what maxChunks 1 wrote')
    }
  })

  t.test(`${format}: a larger session is split over session, session.1, session.2, each header within maxCookieSize, and round-trips`, async (t) => {
    const logs: Array<Record<string, unknown>> = []
    const app = await chunkApp({ format, maxChunks: 4, cookie: { domain: 'example.com', secure: true, sameSite: 'none', partitioned: true } }, logs)
    t.teardown(() => app.close())
    for (const permanent of [false, true]) {
      next.data = { username: noise(8500), counter: 7 }
      next.permanent = permanent
      const res = await app.inject('/set')
      t.equal(res.statusCode, 200)
      const cookies = parsed(res)
      t.same(cookies.map((c) => c.name), ['session', 'session.1', 'session.2'], 'three chunks, in order')
      const attributes = cookies[0]?.attributes as string
      t.match(attributes, /; Domain=example\.com; Path=\/; HttpOnly; Secure; Partitioned; SameSite=None$/)
      if (permanent) t.match(attributes, /^; Max-Age=2678400; Expires=/, 'Expires and Max-Age on a permanent session')
      for (const c of cookies) {
        t.equal(c.attributes, attributes, `${c.name}: the same attributes`)
        t.ok(c.header.length <= 4093, `${c.name}: ${c.header.length} bytes`)
      }
      const length = 4093 - 'session.1='.length - attributes.length
      t.equal(cookies[0]?.value.length, length, 'the first chunk is L characters')
      t.equal(cookies[1]?.header.length, 4093, 'a chunk that is not the last fills its header exactly')
      t.ok((cookies[2]?.value.length as number) <= length && (cookies[2]?.value.length as number) > 0, 'the last is 1 to L')
      t.match(cookies[0]?.value, new RegExp(`^${format === 'signed' ? '2' : 'e2'}${permanent ? 'p' : ''}${format === 'signed' ? 'z' : ''}-3-${length.toString(36)}\\.`),
        'the head says 3 chunks of L')
      const get = await app.inject({ url: '/get', headers: { cookie: cookieHeader(res) } })
      t.same(get.json(), { new: false, data: next.data })
      t.same(rejections(logs), [])
    }
  })
}

t.test('a session that shrinks, grows or is cleared deletes the chunks it no longer uses, with the same attributes', async (t) => {
  const app = await chunkApp({ maxChunks: 4, cookie: { path: '/app', domain: 'example.com', secure: true, sameSite: 'strict', partitioned: true } })
  t.teardown(() => app.close())
  const attributes = '; Domain=example.com; Path=/app; HttpOnly; Secure; Partitioned; SameSite=Strict'
  const set = async (data: Record<string, unknown>, cookie: string) => {
    next.data = data
    return await app.inject({ url: '/set', headers: { cookie } })
  }
  const three = await set({ username: noise(9000) }, '')
  t.same(parsed(three).map((c) => c.name), ['session', 'session.1', 'session.2'])

  const two = await set({ username: noise(5000) }, cookieHeader(three))
  t.same(parsed(two).map((c) => c.name), ['session', 'session.1', 'session.2'])
  t.equal(parsed(two)[2]?.header, `session.2=${EXPIRED}${attributes}`, 'the third chunk is deleted, with the same attributes')

  const grown = await set({ username: noise(9000, 'other') }, cookieHeader(two))
  t.same(parsed(grown).map((c) => c.name), ['session', 'session.1', 'session.2'], 'growing deletes nothing')
  t.notOk(parsed(grown).some((c) => c.attributes.includes('Max-Age=0')))

  const one = await set({ username: 'ada' }, cookieHeader(grown))
  t.same(parsed(one).map((c) => c.header), [
    parsed(one)[0]?.header,
    `session.1=${EXPIRED}${attributes}`,
    `session.2=${EXPIRED}${attributes}`
  ], 'one cookie, and both chunks deleted')
  t.notOk(parsed(one)[0]?.attributes.includes('Max-Age=0'))

  const cleared = await app.inject({ url: '/clear', headers: { cookie: cookieHeader(grown) } })
  t.same(parsed(cleared).map((c) => c.header), ['session', 'session.1', 'session.2'].map((name) => `${name}=${EXPIRED}${attributes}`),
    'a cleared session deletes every cookie')
  t.equal(cleared.headers.vary, 'Cookie')

  const untouched = await app.inject({ url: '/untouched', headers: { cookie: cookieHeader(grown) } })
  t.same(parsed(untouched), [], 'an untouched valid session sets nothing')
  const readonly = await app.inject({ url: '/readonly', headers: { cookie: cookieHeader(grown) } })
  t.same(readonly.json(), { new: false })
  t.same(parsed(readonly), [], 'a read-only route sets nothing')
})

t.test('a permanent chunked session is refreshed on every response, with all its chunks', async (t) => {
  const app = await chunkApp({ maxChunks: 3 })
  t.teardown(() => app.close())
  next.data = { username: noise(6000) }
  next.permanent = true
  const first = await app.inject('/set')
  const refreshed = await app.inject({ url: '/untouched', headers: { cookie: cookieHeader(first) } })
  t.same(parsed(refreshed).map((c) => c.name), ['session', 'session.1'])
  const get = await app.inject({ url: '/get', headers: { cookie: cookieHeader(refreshed) } })
  t.same(get.json(), { new: false, data: next.data })
})

t.test('validate returning false deletes the session and every chunk the request brought', async (t) => {
  const app = await build({ maxChunks: 4, validate: (session) => session.get('counter') !== 0 }, (app) => {
    app.get('/set', async (request) => {
      request.session.update(next.data as never)
      return 'ok'
    })
    app.get('/get', async (request) => ({ new: request.session.new }))
  })
  t.teardown(() => app.close())
  next.data = { username: noise(9000), counter: 0 }
  const res = await app.inject('/set')
  t.equal(parsed(res).length, 3)
  const get = await app.inject({ url: '/get', headers: { cookie: cookieHeader(res) } })
  t.same(get.json(), { new: true })
  t.same(parsed(get).map((c) => c.header), ['session', 'session.1', 'session.2'].map((name) => `${name}=${EXPIRED}${DEFAULT_ATTRIBUTES}`))
})

t.test('a session that needs more than maxChunks cookies fails with FST_ERR_SESSION_TOO_LARGE, saying how many and naming the largest keys', async (t) => {
  const app = await chunkApp({ maxChunks: 2 })
  t.teardown(() => app.close())
  next.data = { username: noise(9000), counter: 1 }
  const res = await app.inject('/set')
  t.equal(res.statusCode, 500)
  t.same(parsed(res), [], 'no cookie is set')
  const { code, message } = res.json()
  t.equal(code, 'FST_ERR_SESSION_TOO_LARGE')
  t.match(message, /^The session cookie would be \d+ bytes, more than maxCookieSize \(4093 bytes\), and it would need 3 cookies, more than maxChunks \(2\); the largest keys are "username" \(9002 bytes\), "counter" \(1 bytes\)$/)

  next.data = { username: noise(6000) }
  t.equal((await app.inject('/set')).statusCode, 200, 'two chunks are still fine')
  await t.rejects(app.sessions.encode({ username: noise(9000) }), { code: 'FST_ERR_SESSION_TOO_LARGE', message: /it would need 3 cookies, more than maxChunks \(2\)/ },
    'encode refuses it too')

  const tiny = await chunkApp({ maxChunks: 10, maxCookieSize: 70 })
  t.teardown(() => tiny.close())
  next.data = { username: 'ada lovelace' }
  const cramped = await tiny.inject('/set')
  t.equal(cramped.statusCode, 500)
  t.match(cramped.json().message, /more than maxCookieSize \(70 bytes\), and its attributes leave too little room to split it over maxChunks \(10\) cookies; the largest keys are "username"/)
})

t.test('maxChunks 1 keeps the single-cookie message', async (t) => {
  const app = await chunkApp({})
  t.teardown(() => app.close())
  next.data = { username: noise(9000) }
  const res = await app.inject('/set')
  t.match(res.json().message, /^The session cookie would be \d+ bytes, more than maxCookieSize \(4093 bytes\); the largest keys are "username" \(9002 bytes\)$/)
})

t.test('encode returns every chunk as a Cookie header continues it, and decode accepts it, or a single value', async (t) => {
  for (const format of ['signed', 'encrypted'] as const) {
    const app = await chunkApp({ format, maxChunks: 4, cookie: { secure: 'auto' } })
    const data = { username: noise(8500) }
    const value = await app.sessions.encode(data)
    const parts = value.split('; ')
    t.equal(parts.length, 3, `${format}: three chunks`)
    t.match(parts[1], /^session\.1=[^;]+$/)
    t.match(parts[2], /^session\.2=[^;]+$/)
    // Sized for HTTPS (Secure counted), so that a response could set each chunk.
    const length = 4093 - 'session.1='.length - '; Path=/; HttpOnly; Secure; SameSite=Lax'.length
    t.equal(parts[0]?.length, length, `${format}: chunks of L, counting Secure`)
    t.same((await app.sessions.decode(value))?.toJSON(), data, `${format}: decode reads it`)
    const get = await app.inject({ url: '/get', headers: { cookie: `session=${value}` } })
    t.same(get.json(), { new: false, data }, `${format}: a request carrying it as its Cookie header reads it`)

    const small = await app.sessions.encode({ username: 'ada' }, { permanent: true })
    t.notOk(small.includes(';'), `${format}: one value when it fits`)
    t.same((await app.sessions.decode(small))?.toJSON(), { username: 'ada' })
    t.equal(await app.sessions.decode(`${parts[0] as string}; ${parts[2] as string}`), null, `${format}: a missing chunk`)
    t.equal(await app.sessions.decode(`${value}; session=${parts[0] as string}x`), null, `${format}: two base values`)
    await app.close()
  }
  const one = await chunkApp({})
  t.teardown(() => one.close())
  const big = await one.sessions.encode({ username: noise(9000) })
  t.notOk(big.includes(';'), 'with maxChunks 1, encode returns one value, whatever its size')
})
