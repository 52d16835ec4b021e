/**
 * maxCookieSize: a Set-Cookie header above it fails the response with
 * FST_ERR_SESSION_TOO_LARGE, naming the largest keys; the default of 4093
 * bytes (Flask's) lets a 3 KB session through; compressible data is
 * deflated; 0 turns the check off.
 */
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import { build, freezeClock, sessionCookie, setCookies } from './helpers/build.js'
import { noise } from './helpers/chunks.js'
import { ImmediateSpyStore, SpyStore } from './helpers/stores.js'

const clock = freezeClock(1_700_000_000)
t.teardown(clock.restore)

let pending: Record<string, unknown> = {}
let flashes: string[] = []
let permanent = false
let received: Record<string, unknown> = {}

function routes (app: FastifyInstance): void {
  app.get('/set', async (request) => {
    request.session.update(pending)
    request.session.permanent = permanent
    for (const message of flashes) request.session.flash(message)
    return 'ok'
  })
  app.get('/get', async (request) => {
    received = request.session.toJSON()
    return { new: request.session.new }
  })
}

/** Sets `data` on a new app with these options; returns the response. */
async function setOn (app: FastifyInstance, data: Record<string, unknown>, options: { flash?: string[], permanent?: boolean } = {}) {
  pending = data
  flashes = options.flash ?? []
  permanent = options.permanent ?? false
  return app.inject('/set')
}

t.test('a cookie above maxCookieSize fails with a 500 that names the largest keys and their sizes, the largest first', async (t) => {
  const app = await build({ maxCookieSize: 300 }, routes)
  t.teardown(() => app.close())
  const data = { counter: 7, username: noise(400), data: Array.from({ length: 150 }, (_, i) => i * 1000), nested: { list: ['a'] } }
  const res = await setOn(app, data, { flash: ['x'.repeat(200)] })
  t.equal(res.statusCode, 500)
  const body = res.json()
  t.equal(body.code, 'FST_ERR_SESSION_TOO_LARGE')
  const size = (value: unknown): number => Buffer.byteLength(JSON.stringify(value))
  t.ok(size(data.data) > size(data.username) && size(data.username) > size([['message', 'x'.repeat(200)]]))
  t.match(body.message, /^The session cookie would be \d+ bytes, more than maxCookieSize \(300 bytes\); the largest keys are /)
  t.ok(body.message.endsWith(`the largest keys are "data" (${size(data.data)} bytes), "username" (${size(data.username)} bytes), ` +
    `"_flashes" (${size([['message', 'x'.repeat(200)]])} bytes)`), body.message)
  t.notMatch(body.message, /counter|nested/, 'only the three largest are named')
  t.same(setCookies(res), [], 'no cookie is set')

  const after = await setOn(app, { counter: 1 })
  t.equal(after.statusCode, 200, 'the app keeps serving')
  t.ok(sessionCookie(after))
})

t.test('the sizes in the message are in bytes, so non-ASCII text counts for what it weighs', async (t) => {
  const app = await build({ maxCookieSize: 100 }, routes)
  t.teardown(() => app.close())
  const username = noise(300, 'é').replace(/[a-z]/g, 'é')
  const res = await setOn(app, { username, counter: 1 })
  t.equal(res.statusCode, 500)
  t.match(res.json().message, `"username" (${Buffer.byteLength(JSON.stringify(username))} bytes), "counter" (1 bytes)`)
  t.ok(Buffer.byteLength(username) > username.length)
})

t.test('the limit is on the whole Set-Cookie header value: exactly maxCookieSize passes, one byte more fails', async (t) => {
  const data = { username: noise(500) }
  const unlimited = await build({ maxCookieSize: 0 }, routes)
  const header = setCookies(await setOn(unlimited, data))[0] as string
  const permanentHeader = setCookies(await setOn(unlimited, data, { permanent: true }))[0] as string
  await unlimited.close()
  t.ok(permanentHeader.length > header.length, 'Expires and Max-Age count too')

  const exact = await build({ maxCookieSize: header.length }, routes)
  t.teardown(() => exact.close())
  const res = await setOn(exact, data)
  t.equal(res.statusCode, 200)
  t.same(setCookies(res), [header])
  const permanentRes = await setOn(exact, data, { permanent: true })
  t.equal(permanentRes.statusCode, 500, 'the same session made permanent no longer fits')
  t.match(permanentRes.json().message, `would be ${permanentHeader.length} bytes, more than maxCookieSize (${header.length} bytes)`)

  const short = await build({ maxCookieSize: header.length - 1 }, routes)
  t.teardown(() => short.close())
  const over = await setOn(short, data)
  t.equal(over.statusCode, 500)
  t.match(over.json(), {
    code: 'FST_ERR_SESSION_TOO_LARGE',
    message: `The session cookie would be ${header.length} bytes, more than maxCookieSize (${header.length - 1} bytes); the largest keys are "username" (502 bytes)`
  })
})

t.test('the default of 4093 bytes lets a 3 KB session through, and refuses a 4 KB one', async (t) => {
  const app = await build({}, routes)
  t.teardown(() => app.close())
  const small = { username: noise(2000), nested: { list: [noise(1000, 'list')] } }
  t.ok(JSON.stringify(small).length > 3000)
  const res = await setOn(app, small)
  t.equal(res.statusCode, 200)
  const header = setCookies(res)[0] as string
  t.ok(header.length <= 4093 && header.length > 3000, `a header of ${header.length} bytes`)
  await app.inject({ url: '/get', cookies: { session: sessionCookie(res) as string } })
  t.same(received, small, 'it round-trips')

  const big = await setOn(app, { username: noise(4000) })
  t.equal(big.statusCode, 500)
  t.match(big.json(), { code: 'FST_ERR_SESSION_TOO_LARGE', message: /more than maxCookieSize \(4093 bytes\); the largest keys are "username" \(4002 bytes\)$/ })
})

t.test('a big compressible session is deflated, fits, and round-trips', async (t) => {
  const app = await build({}, routes)
  t.teardown(() => app.close())
  const data = { data: Array.from({ length: 3000 }, (_, i) => i % 10), username: 'ada lovelace '.repeat(400), nested: { list: ['x'.repeat(2000)], when: new Date(1) } }
  t.ok(JSON.stringify(data).length > 12000)
  const res = await setOn(app, data)
  t.equal(res.statusCode, 200)
  const value = sessionCookie(res) as string
  t.match(value, /^2z\./, 'the head says the payload is deflated')
  t.ok(value.length < 1500, `a value of ${value.length} characters`)
  const get = await app.inject({ url: '/get', cookies: { session: value } })
  t.same(get.json(), { new: false })
  t.same(received, data)
  t.ok((received.nested as { when: unknown }).when instanceof Date)

  const perm = sessionCookie(await setOn(app, data, { permanent: true })) as string
  t.match(perm, /^2pz\./, 'a permanent deflated cookie')
})

t.test('a small session is not deflated', async (t) => {
  const app = await build({}, routes)
  t.teardown(() => app.close())
  t.match(sessionCookie(await setOn(app, { username: 'ada' })), /^2\./)
})

t.test('maxCookieSize 0 turns the check off', async (t) => {
  const app = await build({ maxCookieSize: 0 }, routes)
  t.teardown(() => app.close())
  const data = { username: noise(5500) }
  const res = await setOn(app, data)
  t.equal(res.statusCode, 200)
  const header = setCookies(res)[0] as string
  t.ok(header.length > 6000, `a header of ${header.length} bytes`)
  await app.inject({ url: '/get', cookies: { session: sessionCookie(res) as string } })
  t.same(received, data)
})

t.test('in store mode, a cookie over maxCookieSize fails with FST_ERR_SESSION_TOO_LARGE, whether the store answers at once or with a promise', async (t) => {
  for (const [name, store] of [['a store that answers at once', new ImmediateSpyStore()], ['a promise store', new SpyStore()]] as const) {
    // The id cookie is about 140 bytes with its attributes.
    const app = await build({ store, maxCookieSize: 100 }, routes)
    pending = { username: 'ada' }
    const res = await app.inject('/set')
    t.equal(res.statusCode, 500, name)
    t.equal(res.json().code, 'FST_ERR_SESSION_TOO_LARGE', name)
    t.same(setCookies(res), [], `${name}: no cookie`)
    await app.close()
  }
})
