/**
 * Flask's own session tests (tests/test_basic.py), translated to this
 * plugin: one test for each, named after it, asserting the same behaviour
 * through our API. See ../shared/FLASK_TESTS.md for what each one checks.
 */
import { randomBytes } from 'node:crypto'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { build, freezeClock, setCookies } from './helpers/build.js'

const NOW = 1_700_000_000
// Flask's tests use SECRET_KEY "test key"; ours must be 32 bytes, so each is padded.
const pad = (key: string): string => key.padEnd(32, '.')

/** A test client's cookie jar for the session cookie, as Flask's test client keeps one. */
class Client {
  cookie: string | undefined
  /** The app that answers; a test swaps it to change the app's keys, as Flask's tests set `app.secret_key`. */
  app: FastifyInstance

  constructor (app: FastifyInstance) {
    this.app = app
  }

  async request (url: string, method: 'GET' | 'POST' = 'GET', body?: object): Promise<LightMyRequestResponse> {
    const res = await this.app.inject({
      method,
      url,
      ...(body === undefined ? {} : { payload: body }),
      ...(this.cookie === undefined ? {} : { cookies: { session: this.cookie } })
    })
    const set = res.cookies.find((c) => c.name === 'session')
    if (set !== undefined) this.cookie = set.value === '' ? undefined : set.value
    return res
  }
}

t.test('test_session_accessed: accessed and modified say whether a request read or changed the session, and Vary follows accessed', async (t) => {
  const flags: Array<{ accessed: boolean, modified: boolean }> = []
  const app = await build({}, (app) => {
    app.addHook('onResponse', async (request) => {
      flags.push({ accessed: request.session.accessed, modified: request.session.modified })
    })
    app.post('/', async (request) => {
      request.session.set('value', (request.body as { value: string }).value)
      return 'value set'
    })
    app.get('/', async (request) => String(request.session.get('value', 'None')))
    app.get('/nothing', async () => '')
  })
  const client = new Client(app)

  let res = await client.request('/nothing')
  t.equal(res.headers.vary, undefined)
  t.same(flags.pop(), { accessed: false, modified: false })

  res = await client.request('/', 'POST', { value: '42' })
  t.equal(res.body, 'value set')
  t.equal(res.headers.vary, 'Cookie')
  t.same(flags.pop(), { accessed: true, modified: true })

  res = await client.request('/')
  t.equal(res.body, '42')
  t.equal(res.headers.vary, 'Cookie')
  t.same(flags.pop(), { accessed: true, modified: false })

  res = await client.request('/nothing')
  t.equal(res.body, '')
  t.equal(res.headers.vary, undefined)
  t.same(flags.pop(), { accessed: false, modified: false })
})

t.test('test_session_using_session_settings: the cookie and its deletion carry the configured Domain, Path, Secure, SameSite and Partitioned', async (t) => {
  const app = await build({
    cookie: { domain: '.example.com', httpOnly: false, secure: true, partitioned: true, sameSite: 'Lax', path: '/' }
  }, (app) => {
    app.get('/test/', async (request) => { request.session.set('username', 'bar'); return 'Hello World' })
    app.get('/clear', async (request) => { request.session.pop('username'); return 'Goodbye World' })
  })
  const client = new Client(app)
  const check = (header: string | undefined, what: string): void => {
    const cookie = String(header).toLowerCase()
    t.ok(cookie.includes('domain=.example.com') || cookie.includes('domain=example.com'), `${what}: domain`)
    t.ok(cookie.includes('path=/'), `${what}: path`)
    t.ok(cookie.includes('secure'), `${what}: secure`)
    t.notOk(cookie.includes('httponly'), `${what}: not httponly`)
    t.ok(cookie.includes('samesite=lax'), `${what}: samesite`)
    t.ok(cookie.includes('partitioned'), `${what}: partitioned`)
  }
  const set = await client.request('http://www.example.com:8080/test/')
  check(setCookies(set)[0], 'set')
  const cleared = await client.request('http://www.example.com:8080/clear')
  t.match(setCookies(cleared)[0], /^session=;/)
  check(setCookies(cleared)[0], 'delete')
})

t.test('test_session_secret_key_fallbacks: a session loads with its key or a fallback key, and reads as empty under an unrelated key', async (t) => {
  const routes = (app: FastifyInstance): void => {
    app.post('/', async (request) => { request.session.set('counter', 1); return '' })
    app.get('/', async (request) => request.session.toJSON())
  }
  const first = await build({ secret: [pad('0 key'), pad('-1 key'), pad('-2 key')] }, routes)
  const changed = await build({ secret: pad('? key') }, routes)
  const rotated = await build({ secret: [pad('+1 key'), pad('0 key'), pad('-1 key')] }, routes)
  const client = new Client(first)
  await client.request('/', 'POST')
  t.same((await client.request('/')).json(), { counter: 1 })
  client.app = changed
  t.same((await client.request('/')).json(), {}, 'an unrelated key cannot load it')
  client.app = rotated
  t.same((await client.request('/')).json(), { counter: 1 }, 'a fallback key loads it')
})

t.test('test_session_expiration: a permanent cookie expires maxAge from now and stays permanent; a non-permanent one has no Expires', async (t) => {
  const clock = freezeClock(NOW)
  t.teardown(clock.restore)
  let permanent = true
  const app = await build({}, (app) => {
    app.get('/', async (request) => {
      request.session.set('counter', 42)
      request.session.permanent = permanent
      return ''
    })
    app.get('/test', async (request) => String(request.session.permanent))
  })
  const client = new Client(app)
  let res = await client.request('/')
  const header = setCookies(res)[0]
  t.ok(header)
  const match = /\bexpires=([^;]+)/i.exec(header as string)
  t.ok(match)
  t.equal(new Date(match?.[1] as string).getTime(), (NOW + 31 * 24 * 3600) * 1000, 'now + 31 days')
  t.equal((await client.request('/test')).body, 'true')

  permanent = false
  res = await client.request('/')
  t.equal(setCookies(res).length, 1)
  t.notMatch(setCookies(res)[0], /\bexpires=/i)
})

t.test('test_session_special_types: Buffer, Date, tuple-like arrays and user objects that look like tags round-trip unchanged', async (t) => {
  const now = new Date(NOW * 1000 + 123)
  const looksLikeTags = [{ '~d': 1 }, { '~o': 2 }, { '~b': 'AAEC' }, { '~u': 0 }, { '~o': { '~d': 3 } }, { '~': 'tilde' }]
  const app = await build({}, (app) => {
    app.get('/', async (request) => {
      request.session.set('value', {
        t: [1, 2, 3],
        nestedTuples: [[1, [2, 3]], [[4]], []],
        b: Buffer.from([0xff]),
        u8: new Uint8Array([1, 2]),
        d: now,
        looksLikeTags
      })
      request.session.set('data', [1, 2, 3])
      return ''
    })
    app.get('/tag/:index', async (request) => {
      request.session.set('value', looksLikeTags[Number((request.params as { index: string }).index)])
      return ''
    })
  })
  const client = new Client(app)
  await client.request('/')
  const session = await app.sessions.decode(client.cookie as string)
  const value = session?.get('value') as Record<string, unknown>
  t.same(value.t, [1, 2, 3])
  t.same(value.nestedTuples, [[1, [2, 3]], [[4]], []])
  t.ok(Buffer.isBuffer(value.b), 'bytes come back as a Buffer')
  t.equal((value.b as Buffer).toString('hex'), 'ff')
  t.ok(Buffer.isBuffer(value.u8), 'a Uint8Array comes back as a Buffer')
  t.equal((value.u8 as Buffer).toString('hex'), '0102')
  t.ok(value.d instanceof Date)
  t.equal((value.d as Date).getTime(), now.getTime(), 'to the millisecond')
  t.same(value.looksLikeTags, looksLikeTags)
  t.notOk((value.looksLikeTags as unknown[]).some((item) => item instanceof Date || Buffer.isBuffer(item)))
  t.same(session?.get('data'), [1, 2, 3])

  for (const [index, tag] of looksLikeTags.entries()) {
    await client.request(`/tag/${index}`)
    const decoded = await app.sessions.decode(client.cookie as string)
    t.same(decoded?.get('value'), tag, `${JSON.stringify(tag)} at the top level`)
    t.equal(Object.getPrototypeOf(decoded?.get('value')), Object.prototype)
  }
})

t.test('test_session_cookie_setting: a read-only request sets the cookie only when the session is permanent and refreshEachRequest is on', async (t) => {
  const clock = freezeClock(NOW)
  t.teardown(clock.restore)
  for (const [permanent, refresh, expectHeader] of [[true, true, true], [true, false, false], [false, true, false], [false, false, false]]) {
    const app = await build({ refreshEachRequest: refresh as boolean }, (app) => {
      app.get('/bump', async (request) => {
        const value = request.session.get('counter', 0) + 1
        request.session.set('counter', value)
        request.session.permanent = permanent as boolean
        return String(value)
      })
      app.get('/read', async (request) => String(request.session.get('counter', 0)))
    })
    const client = new Client(app)
    const what = `permanent=${String(permanent)} refresh=${String(refresh)}`
    t.equal((await client.request('/bump')).body, '1', what)
    t.equal((await client.request('/bump')).body, '2', what)
    t.equal((await client.request('/bump')).body, '3', what)
    const res = await client.request('/read')
    t.equal(setCookies(res).length > 0, expectHeader, `${what}: Set-Cookie on a read-only request`)
    t.equal(res.body, '3', what)
  }
})

t.test('test_session_vary_cookie: every session access gives exactly one Vary: Cookie, merged with the route\'s own Vary', async (t) => {
  const app = await build({}, (app) => {
    app.get('/set', async (request) => { request.session.set('username', 'test'); return '' })
    app.get('/get', async (request) => request.session.get('username') ?? '')
    app.get('/getitem', async (request) => String(request.session.has('username') && request.session.get('username')))
    app.get('/setdefault', async (request) => request.session.setDefault('username', 'default'))
    app.get('/clear', async (request) => { request.session.clear(); return '' })
    app.get('/vary-cookie-header-set', async (request, reply) => {
      reply.header('vary', 'Cookie')
      request.session.set('username', 'test')
      return ''
    })
    app.get('/vary-header-set', async (request, reply) => {
      reply.header('vary', 'Accept-Encoding, Accept-Language')
      request.session.set('username', 'test')
      return ''
    })
    app.get('/no-vary-header', async () => '')
  })
  const client = new Client(app)
  const expect = async (path: string, headerValue: string | null = 'Cookie'): Promise<void> => {
    const res = await client.request(path)
    t.notOk(Array.isArray(res.headers.vary), `${path}: one Vary header`)
    t.equal(res.headers.vary, headerValue ?? undefined, path)
  }
  await expect('/set')
  await expect('/get')
  await expect('/getitem')
  await expect('/setdefault')
  await expect('/clear')
  await expect('/vary-cookie-header-set')
  await expect('/vary-header-set', 'Accept-Encoding, Accept-Language, Cookie')
  await expect('/no-vary-header', null)
})

t.test('test_session_refresh_vary: refreshing a permanent session on a route that ignores it still adds Vary: Cookie', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => {
      request.session.set('counter', 1)
      request.session.permanent = true
      return ''
    })
    app.get('/ignored', async () => '')
  })
  const client = new Client(app)
  t.equal((await client.request('/login')).headers.vary, 'Cookie')
  const ignored = await client.request('/ignored')
  t.equal(setCookies(ignored).length, 1, 'the cookie is refreshed')
  t.equal(ignored.headers.vary, 'Cookie')
})

t.test('test_flashes: flash sets modified, even after it was reset to false, and the messages come back in order', async (t) => {
  const app = await build({}, (app) => {
    app.get('/', async (request) => {
      const initially = request.session.modified
      request.session.flash('Zap')
      request.session.modified = false
      request.session.flash('Zip')
      return { initially, modified: request.session.modified, messages: request.session.getFlashedMessages() }
    })
  })
  t.same((await app.inject('/')).json(), { initially: false, modified: true, messages: ['Zap', 'Zip'] })
})

t.test('test_extended_flashing: messages keep their category and order, with and without categories and filters', async (t) => {
  const app = await build({}, (app) => {
    app.get('/', async (request) => {
      request.session.flash('Hello World')
      request.session.flash('Hello World', 'error')
      request.session.flash('<em>Testing</em>', 'warning')
      return ''
    })
    app.get('/test/', async (request) => request.session.getFlashedMessages())
    app.get('/test_with_categories/', async (request) => request.session.getFlashedMessages({ withCategories: true }))
    app.get('/test_filter/', async (request) => request.session.getFlashedMessages({ categoryFilter: ['message'], withCategories: true }))
    app.get('/test_filters/', async (request) =>
      request.session.getFlashedMessages({ categoryFilter: ['message', 'warning'], withCategories: true }))
    app.get('/test_filters_without_returning_categories/', async (request) =>
      request.session.getFlashedMessages({ categoryFilter: ['message', 'warning'] }))
  })
  const expected: Record<string, unknown> = {
    '/test/': ['Hello World', 'Hello World', '<em>Testing</em>'],
    '/test_with_categories/': [['message', 'Hello World'], ['error', 'Hello World'], ['warning', '<em>Testing</em>']],
    '/test_filter/': [['message', 'Hello World']],
    '/test_filters/': [['message', 'Hello World'], ['warning', '<em>Testing</em>']],
    '/test_filters_without_returning_categories/': ['Hello World', '<em>Testing</em>']
  }
  for (const [path, messages] of Object.entries(expected)) {
    // A new client for each, so that each starts with the three messages.
    const client = new Client(app)
    await client.request('/')
    t.same((await client.request(path)).json(), messages, path)
  }
})

t.test('test_max_cookie_size: a cookie above maxCookieSize fails with FST_ERR_SESSION_TOO_LARGE naming the largest key, and 0 turns the check off', async (t) => {
  const clock = freezeClock(NOW)
  t.teardown(clock.restore)
  const big = randomBytes(3200).toString('base64url') // incompressible, about 4300 characters
  const routes = (app: FastifyInstance): void => {
    app.get('/', async (request) => {
      request.session.update({ username: big, counter: 1 })
      request.session.flash('a flash message')
      return 'ok'
    })
  }

  const unlimited = await build({ maxCookieSize: 0 }, routes)
  const ok = await unlimited.inject('/')
  t.equal(ok.statusCode, 200, 'maxCookieSize 0: no error')
  const length = (setCookies(ok)[0] as string).length
  t.ok(length > 4093)

  const byDefault = await build({}, routes)
  const tooLarge = await byDefault.inject('/')
  t.equal(tooLarge.statusCode, 500, 'the default limit is 4093 bytes')
  t.equal(tooLarge.json().code, 'FST_ERR_SESSION_TOO_LARGE')
  t.match(tooLarge.json().message, new RegExp(`would be ${length} bytes, more than maxCookieSize \\(4093 bytes\\); the largest keys are "username" \\(\\d+ bytes\\), "_flashes"`))
  t.same(setCookies(tooLarge), [])

  const exact = await build({ maxCookieSize: length }, routes)
  t.equal((await exact.inject('/')).statusCode, 200, 'a header of exactly maxCookieSize is allowed')
  const oneLess = await build({ maxCookieSize: length - 1 }, routes)
  t.equal((await oneLess.inject('/')).statusCode, 500, 'one byte more is not')

  const small = await build({ maxCookieSize: 100 }, (app) => {
    app.get('/', async (request) => { request.session.update({ counter: 1, username: 'x'.repeat(100) }); return 'ok' })
  })
  const res = await small.inject('/')
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'FST_ERR_SESSION_TOO_LARGE')
  t.match(res.json().message, /the largest keys are "username" \(\d+ bytes\), "counter" \(1 bytes\)$/)
})
