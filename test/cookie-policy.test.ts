/**
 * When the session cookie is set, refreshed or deleted, and with which
 * attributes (DESIGN.md section 4, rules 1, 2, 3, 5 and 6), including
 * those a response sets for itself with `session.options()`.
 */
import fastifyCookie from '@fastify/cookie'
import Fastify, { type FastifyInstance } from 'fastify'
import t from 'tap'
import typedSession, { MemoryStore } from '../lib/index.js'
import { build, carry, freezeClock, OTHER_SECRET, permanentLogin, SECRET, sessionCookie, setCookies } from './helpers/build.js'

const NOW = 1_700_000_000

/** The attributes of a Set-Cookie header, lower-cased, without the name and value. */
function attributes (header: string): string[] {
  return header.split(';').slice(1).map((part) => part.trim().toLowerCase())
}

t.test('rule 1: a new session that stays empty sets no cookie', async (t) => {
  const app = await build({}, (app) => {
    app.get('/untouched', async () => 'ok')
    app.get('/read', async (request) => request.session.get('username') ?? 'nobody')
    app.get('/views', async (request) => ({ size: request.session.size, keys: [...request.session.keys()] }))
    app.get('/set-then-delete', async (request) => {
      request.session.set('username', 'ada')
      request.session.delete('username')
      return 'ok'
    })
    app.get('/clear', async (request) => { request.session.clear(); return 'ok' })
    app.get('/flags', async (request) => ({ new: request.session.new, permanent: request.session.permanent }))
    app.get('/flashes', async (request) => request.session.getFlashedMessages())
  })
  for (const url of ['/untouched', '/read', '/views', '/set-then-delete', '/clear', '/flags', '/flashes']) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 200, url)
    t.same(setCookies(res), [], `${url} sets no cookie`)
  }
})

t.test('rule 2: a change re-issues the cookie, and a read does not', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    app.get('/read', async (request) => request.session.get('username'))
    app.get('/bump', async (request) => { request.session.set('counter', request.session.get('counter', 0) + 1); return 'ok' })
  })
  const login = await app.inject('/login')
  t.equal(setCookies(login).length, 1, 'the first change sets the cookie')
  t.same(setCookies(await app.inject({ url: '/read', cookies: carry(login) })), [])
  const bump = await app.inject({ url: '/bump', cookies: carry(login) })
  t.equal(setCookies(bump).length, 1)
  t.not(carry(bump).session, carry(login).session)
})

t.test('rule 2: a permanent session is re-issued on every response while refreshEachRequest is on', async (t) => {
  const clock = freezeClock(NOW)
  t.teardown(clock.restore)
  const app = await build({}, (app) => {
    app.get('/login', permanentLogin)
    app.get('/read', async (request) => request.session.get('username'))
    app.get('/untouched', async () => 'ok')
  })
  const login = await app.inject('/login')
  t.equal(login.cookies[0]?.expires?.getTime(), (NOW + 2678400) * 1000)
  for (const url of ['/read', '/untouched']) {
    clock.set(NOW + 1000)
    const res = await app.inject({ url, cookies: carry(login) })
    t.equal(setCookies(res).length, 1, `${url} refreshes the cookie`)
    t.not(carry(res).session, carry(login).session, `${url} signs it again`)
    t.equal(res.cookies[0]?.expires?.getTime(), (NOW + 1000 + 2678400) * 1000, `${url} moves its expiry`)
    t.equal(res.cookies[0]?.maxAge, 2678400)
  }
})

t.test('rule 2: with refreshEachRequest off, an untouched or read permanent session gets no Set-Cookie, and a change does', async (t) => {
  const clock = freezeClock(NOW)
  t.teardown(clock.restore)
  const app = await build({ refreshEachRequest: false }, (app) => {
    app.get('/login', permanentLogin)
    app.get('/read', async (request) => request.session.get('username'))
    app.get('/untouched', async () => 'ok')
    app.get('/bump', async (request) => { request.session.set('counter', 1); return 'ok' })
  })
  const login = await app.inject('/login')
  t.equal(login.cookies[0]?.maxAge, 2678400, 'the login sets a permanent cookie')
  clock.set(NOW + 1000)
  const untouched = await app.inject({ url: '/untouched', cookies: carry(login) })
  t.same(setCookies(untouched), [])
  t.equal(untouched.headers.vary, undefined)
  const read = await app.inject({ url: '/read', cookies: carry(login) })
  t.equal(read.body, 'ada')
  t.same(setCookies(read), [])
  const bump = await app.inject({ url: '/bump', cookies: carry(login) })
  t.equal(setCookies(bump).length, 1)
  t.equal(bump.cookies[0]?.maxAge, 2678400, 'the re-issued cookie stays permanent')
})

t.test('rule 2: a cookie verified with an old key is re-issued with the first key, which alone then verifies it', async (t) => {
  const oldApp = await build({ secret: OTHER_SECRET }, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
  })
  const routes = (app: FastifyInstance): void => {
    app.get('/read', async (request) => request.session.get('username') ?? 'nobody')
  }
  const rotating = await build({ secret: [SECRET, OTHER_SECRET] }, routes)
  const newOnly = await build({ secret: SECRET }, routes)
  const login = await oldApp.inject('/login')
  t.equal((await newOnly.inject({ url: '/read', cookies: carry(login) })).body, 'nobody', 'the new key alone cannot read the old cookie')
  const read = await rotating.inject({ url: '/read', cookies: carry(login) })
  t.equal(read.body, 'ada')
  t.equal(setCookies(read).length, 1, 'reading it re-issues it')
  t.equal((await newOnly.inject({ url: '/read', cookies: carry(read) })).body, 'ada')
  t.same(setCookies(await rotating.inject({ url: '/read', cookies: carry(read) })), [], 'a current-key cookie is not re-issued')
})

t.test('rule 3: the deletion cookie carries the Path, Domain, Secure, SameSite and Partitioned of the cookie it deletes', async (t) => {
  const app = await build({ cookie: { path: '/app', domain: 'example.com', secure: true, sameSite: 'strict', partitioned: true } }, (app) => {
    app.get('/app/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    app.get('/app/pop', async (request) => request.session.pop('username'))
  })
  const login = await app.inject('/app/login')
  const pop = await app.inject({ url: '/app/pop', cookies: carry(login) })
  t.equal(pop.body, 'ada')
  const [header] = setCookies(pop)
  t.equal(setCookies(pop).length, 1)
  t.match(header, /^session=;/)
  const set = attributes(setCookies(login)[0] as string)
  const deleted = attributes(header as string)
  t.same(deleted.filter((a) => !a.startsWith('max-age') && !a.startsWith('expires')), set, 'the same attributes, in the same order')
  t.same(set, ['domain=example.com', 'path=/app', 'httponly', 'secure', 'partitioned', 'samesite=strict'])
  t.ok(deleted.includes('max-age=0'))
  t.ok(deleted.includes('expires=thu, 01 jan 1970 00:00:00 gmt'))
  t.equal(pop.cookies[0]?.expires?.getTime(), 0)
})

t.test('rule 3: the deletion cookie of a permanent session with default attributes is expired and keeps them', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', permanentLogin)
    app.get('/logout', async (request) => { request.session.clear(); return 'ok' })
  })
  const login = await app.inject('/login')
  const logout = await app.inject({ url: '/logout', cookies: carry(login) })
  t.same(logout.cookies, [{ name: 'session', value: '', maxAge: 0, expires: new Date(0), path: '/', httpOnly: true, sameSite: 'Lax' }])
})

t.test('rule 5: a bad cookie gives an empty session, a 200 and one debug line, with nothing logged above debug', async (t) => {
  const logs: Array<Record<string, unknown>> = []
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    app.get('/read', async (request) => ({ new: request.session.new, size: request.session.size }))
  }, logs)
  const login = await app.inject('/login')
  const value = carry(login).session
  const [head, , created, issued, sig] = value.split('.')
  const forged = [head, Buffer.from('{"username":"eve"}').toString('base64url'), created, issued, sig].join('.')
  logs.length = 0
  const res = await app.inject({ url: '/read', cookies: { session: forged } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { new: true, size: 0 })
  t.same(setCookies(res), [])
  const rejected = logs.filter((line) => String(line.msg).startsWith('session cookie rejected'))
  t.equal(rejected.length, 1)
  t.equal(rejected[0]?.level, 20, 'at debug level')
  t.match(rejected[0]?.reason, /signature/)
  t.same(logs.filter((line) => (line.level as number) > 20 && !/^(incoming request|request completed)$/.test(String(line.msg))), [])
})

t.test('rule 6: a non-permanent session has a browser-session cookie, without Expires or Max-Age', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
  })
  const [header] = setCookies(await app.inject('/login'))
  t.ok(header)
  t.notMatch(header, /expires=/i)
  t.notMatch(header, /max-age=/i)
})

t.test('rule 6: a permanent session has Expires and Max-Age set to maxAge from now', async (t) => {
  const clock = freezeClock(NOW)
  t.teardown(clock.restore)
  for (const maxAge of [undefined, 3600]) {
    const app = await build(maxAge === undefined ? {} : { maxAge }, (app) => {
      app.get('/login', permanentLogin)
    })
    const expected = maxAge ?? 2678400
    const res = await app.inject('/login')
    const [header] = setCookies(res)
    t.match(header, new RegExp(`; Max-Age=${expected};`))
    t.match(header, `; Expires=${new Date((NOW + expected) * 1000).toUTCString()};`)
    t.equal(res.cookies[0]?.maxAge, expected)
    t.equal(res.cookies[0]?.expires?.getTime(), (NOW + expected) * 1000)
  }
})

t.test('rule 6: two permanent cookies issued in the same second carry the same expiry', async (t) => {
  const clock = freezeClock(NOW)
  t.teardown(clock.restore)
  const app = await build({}, (app) => {
    app.get('/login/:name', async (request) => {
      request.session.set('username', (request.params as { name: string }).name)
      request.session.permanent = true
      return 'ok'
    })
  })
  const first = await app.inject('/login/ada')
  const second = await app.inject('/login/grace')
  t.equal(first.cookies[0]?.expires?.getTime(), (NOW + 2678400) * 1000)
  t.equal(second.cookies[0]?.expires?.getTime(), (NOW + 2678400) * 1000)
  clock.set(NOW + 5)
  const later = await app.inject('/login/alan')
  t.equal(later.cookies[0]?.expires?.getTime(), (NOW + 5 + 2678400) * 1000)
})

t.test('the default cookie is host-only, Path=/, HttpOnly, SameSite=Lax, not Partitioned, and Secure only over https', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
  })
  const [header] = setCookies(await app.inject('/login'))
  t.same(attributes(header as string), ['path=/', 'httponly', 'samesite=lax'])
})

t.test("secure 'auto' marks the cookie Secure over https and not over http", async (t) => {
  const app = Fastify({ trustProxy: true })
  await app.register(typedSession, { secret: SECRET })
  app.get('/login', async (request) => { request.session.set('username', 'ada'); return request.protocol })
  app.get('/logout', async (request) => { request.session.clear(); return request.protocol })

  const https = await app.inject({ url: '/login', headers: { 'x-forwarded-proto': 'https' } })
  t.equal(https.body, 'https')
  t.equal(https.cookies[0]?.secure, true)
  const http = await app.inject('/login')
  t.equal(http.body, 'http')
  t.equal(http.cookies[0]?.secure, undefined)
  t.notMatch(setCookies(http)[0], /secure/i)

  const httpsLogout = await app.inject({ url: '/logout', headers: { 'x-forwarded-proto': 'https' }, cookies: carry(https) })
  t.equal(httpsLogout.cookies[0]?.secure, true, 'the deletion cookie over https is Secure too')
  const httpLogout = await app.inject({ url: '/logout', cookies: carry(http) })
  t.notMatch(setCookies(httpLogout)[0], /secure/i)
})

t.test("secure 'auto' ignores X-Forwarded-Proto unless Fastify trusts the proxy", async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return request.protocol })
  })
  const res = await app.inject({ url: '/login', headers: { 'x-forwarded-proto': 'https' } })
  t.equal(res.body, 'http')
  t.notMatch(setCookies(res)[0], /secure/i)
})

t.test('secure true always marks the cookie Secure, and secure false never does', async (t) => {
  for (const secure of [true, false]) {
    const app = await build({ cookie: { secure } }, (app) => {
      app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    })
    const res = await app.inject('/login')
    t.equal(/; Secure(;|$)/.test(setCookies(res)[0] as string), secure, `secure: ${secure}`)
  }
})

t.test('cookieName names the cookie that is read and written, and other cookies are ignored', async (t) => {
  const app = await build({ cookieName: 'sid' }, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    app.get('/read', async (request) => request.session.get('username') ?? 'nobody')
  })
  const login = await app.inject('/login')
  const value = sessionCookie(login, 'sid') as string
  t.ok(value)
  t.equal(sessionCookie(login), undefined)
  t.equal((await app.inject({ url: '/read', cookies: { sid: value } })).body, 'ada')
  t.equal((await app.inject({ url: '/read', cookies: { session: value } })).body, 'nobody')
  t.equal((await app.inject({ url: '/read', headers: { cookie: `xsid=${value}` } })).body, 'nobody', 'a cookie whose name only ends with sid')
  t.equal((await app.inject({ url: '/read', headers: { cookie: `a=1; sid=${value}; b=2` } })).body, 'ada', 'among other cookies')
})

t.test('a request with two different session cookies gets an empty session and a debug line', async (t) => {
  const logs: Array<Record<string, unknown>> = []
  const app = await build({}, (app) => {
    app.get('/login/:name', async (request) => { request.session.set('username', (request.params as { name: string }).name); return 'ok' })
    app.get('/read', async (request) => request.session.get('username') ?? 'nobody')
  }, logs)
  const ada = carry(await app.inject('/login/ada')).session
  const eve = carry(await app.inject('/login/eve')).session
  const res = await app.inject({ url: '/read', headers: { cookie: `session=${ada}; session=${eve}` } })
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'nobody')
  t.ok(logs.some((line) => line.level === 20 && line.reason === 'several values'))
  const same = await app.inject({ url: '/read', headers: { cookie: `session=${ada}; session=${ada}` } })
  t.equal(same.body, 'ada', 'the same value twice is one cookie')
})

t.test('session.options() sets the attributes of this response\'s Set-Cookie only, over the cookie option', async (t) => {
  const app = await build({ cookie: { path: '/', sameSite: 'lax' } }, (app) => {
    app.get('/login', async (request) => {
      request.session.options({ path: '/app', domain: 'example.com', sameSite: 'Strict', httpOnly: false, partitioned: true, secure: true })
      request.session.set('username', 'ada')
      return 'ok'
    })
    app.get('/some', async (request) => {
      request.session.options({ sameSite: 'strict' })
      request.session.options({ path: '/a', domain: undefined } as object) // from JS: an undefined value is no value
      request.session.options({ sameSite: 'none', secure: true })
      request.session.set('counter', 1)
      return 'ok'
    })
    app.get('/plain', async (request) => { request.session.set('counter', 2); return 'ok' })
  })
  const login = await app.inject('/login')
  t.same(attributes(setCookies(login)[0] as string), ['domain=example.com', 'path=/app', 'secure', 'partitioned', 'samesite=strict'])
  const some = await app.inject({ url: '/some', cookies: carry(login) })
  t.same(attributes(setCookies(some)[0] as string), ['path=/a', 'httponly', 'secure', 'samesite=none'], 'later calls add to earlier ones')
  const plain = await app.inject({ url: '/plain', cookies: carry(some) })
  t.same(attributes(setCookies(plain)[0] as string), ['path=/', 'httponly', 'samesite=lax'], 'the next response has the cookie option again')
})

t.test('session.options() ignores names that are not cookie attributes, as @fastify/secure-session does', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => {
      request.session.options({ userInfo: 'ada', maxAge: 5, expires: new Date(0), signed: true, encode: String, priority: 'high' } as never)
      request.session.set('username', 'ada')
      return 'ok'
    })
  })
  const login = await app.inject('/login')
  t.equal(login.statusCode, 200)
  t.same(attributes(setCookies(login)[0] as string), ['path=/', 'httponly', 'samesite=lax'])
})

t.test('session.options() alone sets no cookie, and on a read-only route it is accepted and sets none', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    app.get('/options', async (request) => { request.session.options({ path: '/x' }); return 'ok' })
    app.get('/readonly', { config: { session: 'readonly' } }, async (request) => {
      request.session.options({ path: '/x' })
      return request.session.get('username') ?? 'nobody'
    })
  })
  t.same(setCookies(await app.inject('/options')), [], 'a new session')
  const login = await app.inject('/login')
  const options = await app.inject({ url: '/options', cookies: carry(login) })
  t.same(setCookies(options), [], 'a non-permanent session that did not change')
  t.equal(options.headers.vary, undefined, 'and it is no access to the session')
  const readonly = await app.inject({ url: '/readonly', cookies: carry(login) })
  t.equal(readonly.body, 'ada')
  t.same(setCookies(readonly), [])
})

t.test('session.options() applies to a refresh and to the deletion cookie, in cookie and in store mode', async (t) => {
  for (const store of [undefined, new MemoryStore()]) {
    const mode = store === undefined ? 'cookie mode' : 'store mode'
    const app = await build(store === undefined ? {} : { store }, (app) => {
      app.get('/login', permanentLogin)
      app.get('/refresh', async (request) => { request.session.options({ path: '/r' }); return 'ok' })
      app.get('/logout', async (request) => {
        request.session.options({ path: '/app', domain: 'example.com', sameSite: false })
        request.session.clear()
        return 'ok'
      })
    })
    const login = await app.inject('/login')
    const refresh = await app.inject({ url: '/refresh', cookies: carry(login) })
    t.match(setCookies(refresh)[0], /; Max-Age=2678400; .*; Path=\/r; HttpOnly; SameSite=Lax$/, `${mode}: the refresh`)
    const logout = await app.inject({ url: '/logout', cookies: carry(login) })
    t.equal(setCookies(logout).length, 1)
    t.match(setCookies(logout)[0], /^session=; Max-Age=0; /)
    t.same(attributes(setCookies(logout)[0] as string).filter((a) => !a.startsWith('max-age') && !a.startsWith('expires')),
      ['domain=example.com', 'path=/app', 'httponly'], `${mode}: the deletion cookie`)
  }
})

t.test("session.options({ secure: 'auto' }) marks the cookie Secure over https only, as the cookie option does", async (t) => {
  const app = Fastify({ trustProxy: true })
  await app.register(typedSession, { secret: SECRET, cookie: { secure: true } })
  app.get('/login', async (request) => {
    request.session.options({ secure: 'auto' })
    request.session.set('username', 'ada')
    return 'ok'
  })
  app.get('/insecure', async (request) => {
    request.session.options({ secure: false })
    request.session.set('username', 'ada')
    return 'ok'
  })
  t.equal((await app.inject({ url: '/login', headers: { 'x-forwarded-proto': 'https' } })).cookies[0]?.secure, true)
  t.notMatch(setCookies(await app.inject('/login'))[0], /secure/i)
  t.notMatch(setCookies(await app.inject({ url: '/insecure', headers: { 'x-forwarded-proto': 'https' } }))[0], /secure/i)
})

t.test('session.options() with a bad value of a known attribute throws FST_ERR_SESSION_INVALID_OPTION, as the cookie option does at registration', async (t) => {
  const cases: Array<[string, unknown, string]> = [
    ['sameSite', { sameSite: 'bogus' }, 'sameSite'],
    ['sameSite true', { sameSite: true }, 'sameSite'],
    ['secure', { secure: 'yes' }, 'secure'],
    ['path', { path: 'a;b' }, 'path'],
    ['path type', { path: 1 }, 'path'],
    ['domain', { domain: '' }, 'domain'],
    ['httpOnly', { httpOnly: 'true' }, 'httpOnly'],
    ['partitioned', { partitioned: 1 }, 'partitioned'],
    ['a function', { path: () => '/' }, 'path'],
    ['an object', { secure: {} }, 'secure'],
    ['a Buffer', { domain: Buffer.from('example.com') }, 'domain'],
    ['an array', { sameSite: ['lax'] }, 'sameSite'],
    ['sameSite none without Secure', { sameSite: 'None', secure: false }, 'secure'],
    ['partitioned without Secure', { partitioned: true, secure: false }, 'secure']
  ]
  for (const [name, given, option] of cases) {
    const app = await build({}, (app) => {
      app.get('/options', async (request) => { request.session.options(given as never); return 'ok' })
    })
    const res = await app.inject('/options')
    t.equal(res.statusCode, 500, name)
    t.equal(res.json().code, 'FST_ERR_SESSION_INVALID_OPTION', name)
    // The same error as the cookie option's at registration, but for the option's name.
    const registration = Fastify()
    registration.register(typedSession, { secret: SECRET, cookie: given as never })
    const error = await registration.ready().then(() => undefined, (err: Error) => err)
    t.equal(res.json().message, error?.message.replace(`Invalid option cookie.${option}:`, `Invalid option ${option} in session.options():`), name)
  }
  for (const junk of [null, 'strict', ['path'], 1]) {
    const app = await build({}, (app) => {
      app.get('/options', async (request) => { request.session.options(junk as never); return 'ok' })
    })
    const res = await app.inject('/options')
    t.equal(res.statusCode, 500)
    t.match(res.json(), { code: 'FST_ERR_SESSION_INVALID_OPTION', message: /^Invalid option attributes in session\.options\(\): expected an object of cookie attributes, received / })
  }
})

t.test('without session.options(), the cookie attributes are formatted once, at registration, and never per response', async (t) => {
  const app = Fastify()
  let calls = 0
  await app.register(fastifyCookie)
  const serialize = app.serializeCookie
  // What the plugin takes as @fastify/cookie's serializer, counted.
  app.serializeCookie = (...args: Parameters<typeof serialize>) => { calls++; return serialize(...args) }
  await app.register(typedSession, { secret: SECRET })
  app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
  app.get('/logout', async (request) => { request.session.clear(); return 'ok' })
  app.get('/options', async (request) => { request.session.options({ path: '/' }); request.session.set('counter', 1); return 'ok' })
  await app.ready()
  const atRegistration = calls
  t.equal(atRegistration, 2, 'plain and Secure')
  const login = await app.inject('/login')
  await app.inject({ url: '/logout', cookies: carry(login) })
  t.equal(calls, atRegistration, 'no call for a set or a delete')
  const options = await app.inject('/options')
  t.equal(calls, atRegistration + 1, 'one for a response given its own attributes')
  t.same(attributes(setCookies(options)[0] as string), ['path=/', 'httponly', 'samesite=lax'], 'formatted as at registration')
})
