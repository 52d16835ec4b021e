/**
 * The example app (example/app.ts), driven route by route through
 * `inject`, with a small cookie jar that plays the browser.
 */
import Fastify, { type FastifyInstance, type InjectOptions, type LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { buildApp, escapeHtml, MAX_ITEM, MAX_LIST_BYTES, MAX_NAME } from '../example/app.js'
import typedSession, { MemoryStore, RedisStore, type SessionStore, type UserIndex } from '../lib/index.js'
import { freezeClock, SECRET, setCookies } from './helpers/build.js'
import { plainStore } from './helpers/plain-store.js'
import { needsRedis, startRedis } from './helpers/redis.js'

/** A browser's view of the app: it keeps the session cookie between requests. */
interface Browser {
  cookie: string | undefined
  get (url: string): Promise<LightMyRequestResponse>
  post (url: string, form: Record<string, string>): Promise<LightMyRequestResponse>
}

function browser (app: FastifyInstance): Browser {
  const b: Browser = {
    cookie: undefined,
    get: async (url) => send({ method: 'GET', url }),
    post: async (url, form) => send({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(form).toString()
    })
  }
  async function send (options: InjectOptions): Promise<LightMyRequestResponse> {
    const res = await app.inject({ ...options, cookies: b.cookie === undefined ? {} : { session: b.cookie } })
    const set = res.cookies.find((c) => c.name === 'session')
    if (set !== undefined) b.cookie = set.maxAge === 0 ? undefined : set.value
    return res
  }
  return b
}

async function start (t: { teardown: (fn: () => unknown) => void }): Promise<{ app: FastifyInstance, b: Browser }> {
  const app = buildApp({ secret: SECRET })
  t.teardown(() => app.close())
  return { app, b: browser(app) }
}

/** The session cookie's Set-Cookie header of a response. */
function sessionHeader (res: LightMyRequestResponse): string {
  const headers = setCookies(res).filter((h) => h.startsWith('session='))
  if (headers.length !== 1) throw new Error(`expected one session Set-Cookie, got ${headers.length}`)
  return headers[0] as string
}

/** A row of the devices page: its times as shown, and the id its logout button posts (none for this device). */
interface DeviceRow { created: string, lastSeen: string, current: boolean, id: string | undefined }

/** The rows of the devices page, in order. */
function deviceRows (res: LightMyRequestResponse): DeviceRow[] {
  return [...res.body.matchAll(/<tr><td><time datetime="([^"]+)">[^<]*<\/time><\/td><td><time datetime="([^"]+)">[^<]*<\/time><\/td><td>(.*?)<\/td><\/tr>/g)]
    .map((m) => ({
      created: m[1] as string,
      lastSeen: m[2] as string,
      current: m[3] === '<strong>this device</strong>',
      id: /name="id" value="([^"]+)"/.exec(m[3] as string)?.[1]
    }))
}

/** The flashed messages of a page, as `category: message`. */
function flashes (res: LightMyRequestResponse): string[] {
  return [...res.body.matchAll(/<li class="([^"]+)">(.*?)<\/li>/g)].map((m) => `${m[1] as string}: ${m[2] as string}`)
}

/** The session id in a browser's cookie (store mode: the part before the signature). */
function idOf (b: Browser): string {
  return (b.cookie as string).split('.')[0] as string
}

/** The items of the list page, in order. */
function listItems (res: LightMyRequestResponse): string[] {
  return [...res.body.matchAll(/<li>(.*?)<\/li>/g)].map((m) => m[1] as string)
}

t.test('the index says nobody is logged in, links to the login page, and sets no cookie', async (t) => {
  const { b } = await start(t)
  const res = await b.get('/')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/html; charset=utf-8/)
  t.match(res.body, '<p>You are not logged in</p>')
  t.match(res.body, '<a href="/login">')
  t.notMatch(res.body, 'Logged in as')
  t.notMatch(res.body, 'class="flashes"')
  t.same(setCookies(res), [])
  t.equal(res.headers.vary, 'Cookie')
})

t.test('the login page shows a form with a username field and a remember-me checkbox that posts to /login', async (t) => {
  const { b } = await start(t)
  const res = await b.get('/login')
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/html/)
  t.match(res.body, '<form method="post" action="/login">')
  t.match(res.body, `<input type="text" name="username" maxlength="${MAX_NAME}"`)
  t.match(res.body, '<input type="checkbox" name="remember" value="1">')
  t.same(setCookies(res), [])
})

t.test('logging in without remember-me sets a browser-session cookie and redirects to the index', async (t) => {
  const { b } = await start(t)
  const res = await b.post('/login', { username: 'ada' })
  t.equal(res.statusCode, 302)
  t.equal(res.headers.location, '/')
  const header = sessionHeader(res)
  t.notMatch(header, /Max-Age/i)
  t.notMatch(header, /Expires/i)
  t.match(header, '; Path=/')
  t.match(header, '; HttpOnly')
  t.match(header, '; SameSite=Lax')
  t.notMatch(header, /Secure/)

  const index = await b.get('/')
  t.match(index.body, '<p>Logged in as ada</p>')
  t.match(index.body, '<a href="/logout">')
  t.notMatch(index.body, 'You are not logged in')
})

t.test('logging in with remember-me sets a permanent cookie that lives 31 days, refreshed on each request', async (t) => {
  const { b } = await start(t)
  const res = await b.post('/login', { username: 'ada', remember: '1' })
  t.equal(res.statusCode, 302)
  const header = sessionHeader(res)
  t.match(header, '; Max-Age=2678400; Expires=')
  const expires = Date.parse((/Expires=([^;]+)/.exec(header) as RegExpExecArray)[1] as string)
  t.ok(Math.abs(expires - (Date.now() + 2678400 * 1000)) < 5000, 'Expires is 31 days from now')

  const index = await b.get('/')
  t.match(index.body, '<p>Logged in as ada</p>')
  t.match(sessionHeader(index), '; Max-Age=2678400; Expires=')
})

t.test('logging in again without remember-me turns a permanent session back into a browser-session one', async (t) => {
  const { b } = await start(t)
  t.match(sessionHeader(await b.post('/login', { username: 'ada', remember: '1' })), 'Max-Age=2678400')
  const again = await b.post('/login', { username: 'grace' })
  t.notMatch(sessionHeader(again), /Max-Age|Expires/)
  t.match((await b.get('/')).body, '<p>Logged in as grace</p>')
})

t.test('the login flash is shown on the next page only, once', async (t) => {
  const { b } = await start(t)
  await b.post('/login', { username: 'ada' })
  const first = await b.get('/')
  t.match(first.body, '<ul class="flashes"><li class="message">You were logged in</li></ul>')
  const second = await b.get('/')
  t.notMatch(second.body, 'You were logged in')
  t.notMatch(second.body, 'class="flashes"')
  t.match(second.body, '<p>Logged in as ada</p>')
})

t.test('a blank or too long username is refused with an error flash on the login page', async (t) => {
  const { b } = await start(t)
  for (const username of ['', '   ', 'x'.repeat(MAX_NAME + 1)]) {
    const res = await b.post('/login', { username })
    t.equal(res.statusCode, 302)
    t.equal(res.headers.location, '/login')
    const form = await b.get('/login')
    t.match(form.body, `<li class="error">Please enter a username of 1 to ${MAX_NAME} characters</li>`)
    t.notMatch((await b.get('/login')).body, 'class="flashes"', 'the error is shown once')
    t.match((await b.get('/')).body, 'You are not logged in')
  }
  const missing = await b.post('/login', {})
  t.equal(missing.headers.location, '/login', 'a form without the field is a blank username')
  t.match((await b.post('/login', { username: 'x'.repeat(MAX_NAME) })).headers.location, '/', `${MAX_NAME} characters are accepted`)
})

t.test('a username around spaces is trimmed', async (t) => {
  const { b } = await start(t)
  await b.post('/login', { username: '  ada  ' })
  t.match((await b.get('/')).body, '<p>Logged in as ada</p>')
})

t.test('a login body that is not a form of strings is refused with 400', async (t) => {
  const { app } = await start(t)
  const res = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'username=a&username=b'
  })
  t.equal(res.statusCode, 400)
  t.same(setCookies(res), [])
})

t.test('a username with HTML is escaped on the index', async (t) => {
  const { b } = await start(t)
  await b.post('/login', { username: '<script>alert("x")</script>&\'' })
  const res = await b.get('/')
  t.match(res.body, '<p>Logged in as &#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;&#38;&#39;</p>')
  t.notMatch(res.body, '<script>')
})

t.test('escapeHtml escapes the five characters that matter in HTML text and attributes', async (t) => {
  t.equal(escapeHtml('<a href="x">Tom & Jerry\'s</a>'), '&#60;a href=&#34;x&#34;&#62;Tom &#38; Jerry&#39;s&#60;/a&#62;')
  t.equal(escapeHtml('plain text'), 'plain text')
})

t.test('the list page starts empty and shows a form that posts to /list', async (t) => {
  const { b } = await start(t)
  const res = await b.get('/list')
  t.equal(res.statusCode, 200)
  t.match(res.body, '<p>The list is empty.</p>')
  t.match(res.body, '<form method="post" action="/list">')
  t.match(res.body, `<input type="text" name="item" maxlength="${MAX_ITEM}"`)
  t.same(setCookies(res), [], 'reading an empty list sets no cookie')
})

t.test('items appended in place to the list in the session persist across requests', async (t) => {
  const { b } = await start(t)
  const first = await b.post('/list', { item: 'milk' })
  t.equal(first.statusCode, 302)
  t.equal(first.headers.location, '/list')
  t.ok(b.cookie, 'the first item creates the session cookie')
  // From here on, the handler only pushes onto the array it got from the session.
  for (const item of ['eggs', 'bread']) {
    const res = await b.post('/list', { item })
    t.equal(res.statusCode, 302)
    t.ok(sessionHeader(res), `appending ${item} in place re-issues the cookie`)
  }
  t.same(listItems(await b.get('/list')), ['milk', 'eggs', 'bread'])
  t.same(listItems(await b.get('/list')), ['milk', 'eggs', 'bread'], 'reading the list again changes nothing')
})

t.test('the list is kept beside the login, and reading it does not re-issue a non-permanent cookie', async (t) => {
  const { b } = await start(t)
  await b.post('/login', { username: 'ada' })
  await b.get('/') // consumes the flash
  await b.post('/list', { item: 'milk' })
  const list = await b.get('/list')
  t.same(listItems(list), ['milk'])
  t.same(setCookies(list), [])
  t.equal(list.headers.vary, 'Cookie')
  t.match((await b.get('/')).body, '<p>Logged in as ada</p>')
})

t.test('logging in moves the session to a new cookie that carries over the list made before, and nothing else', async (t) => {
  const { b } = await start(t)
  await b.post('/list', { item: 'milk' })
  await b.post('/login', { username: '' }) // an error flash, unread
  const before = b.cookie
  await b.post('/login', { username: 'ada' })
  t.not(b.cookie, before)
  const index = await b.get('/')
  t.match(index.body, '<p>Logged in as ada</p>')
  t.match(index.body, 'Please enter a username', 'the queued flashes go along')
  t.same(listItems(await b.get('/list')), ['milk'])
})

t.test('list items with HTML are escaped', async (t) => {
  const { b } = await start(t)
  await b.post('/list', { item: '<script>alert(1)</script>' })
  const res = await b.get('/list')
  t.same(listItems(res), ['&#60;script&#62;alert(1)&#60;/script&#62;'])
  t.notMatch(res.body, '<script>')
})

t.test('a blank or too long item is refused with an error flash and leaves the list as it was', async (t) => {
  const { b } = await start(t)
  await b.post('/list', { item: 'milk' })
  for (const form of [{ item: '  ' }, { item: 'x'.repeat(MAX_ITEM + 1) }, {}]) {
    const res = await b.post('/list', form)
    t.equal(res.headers.location, '/list')
    const list = await b.get('/list')
    t.match(list.body, `<li class="error">Please enter an item of 1 to ${MAX_ITEM} characters</li>`)
    t.same(listItems(list), ['milk'])
  }
})

t.test('the list refuses an item once its JSON would pass the size limit, so the cookie stays small', async (t) => {
  const { b } = await start(t)
  await b.post('/login', { username: '\u2603'.repeat(MAX_NAME), remember: '1' })
  // Multi-byte items: each is 3 bytes a character, plus its quotes.
  const item = '\u65e5'.repeat(MAX_ITEM)
  const fits = Math.floor((MAX_LIST_BYTES - 1) / (3 * MAX_ITEM + 3))
  for (let i = 0; i < fits; i++) {
    const res = await b.post('/list', { item })
    t.equal(res.statusCode, 302, `item ${i + 1} fits`)
  }
  const full = await b.post('/list', { item })
  t.equal(full.statusCode, 302)
  const list = await b.get('/list')
  t.match(list.body, '<li class="error">The list is full: a session cookie holds about 4 KB</li>')
  t.equal(listItems(list).length, fits)
  t.ok(sessionHeader(list).length <= 4093, 'the largest cookie is within maxCookieSize')
  t.match((await b.get('/')).body, 'Logged in as')
})

t.test('logging out forgets the user and the list, deletes the cookie and redirects to the index', async (t) => {
  const { b } = await start(t)
  await b.post('/login', { username: 'ada', remember: '1' })
  await b.post('/list', { item: 'milk' })
  const res = await b.get('/logout')
  t.equal(res.statusCode, 302)
  t.equal(res.headers.location, '/')
  const header = sessionHeader(res)
  t.match(header, /^session=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=\/; HttpOnly; SameSite=Lax$/)
  t.equal(b.cookie, undefined)
  const index = await b.get('/')
  t.match(index.body, 'You are not logged in')
  t.notMatch(index.body, 'You were logged in', 'the unread login flash went with the session')
  t.same(listItems(await b.get('/list')), [])
})

t.test('logging out of an anonymous session that holds only a list deletes the cookie too', async (t) => {
  const { b } = await start(t)
  await b.post('/list', { item: 'milk' })
  t.ok(b.cookie)
  const res = await b.get('/logout')
  t.match(sessionHeader(res), /^session=; Max-Age=0/)
  t.equal(b.cookie, undefined)
  t.same(listItems(await b.get('/list')), [])
})

t.test('logging out without a session just redirects, and sets no cookie', async (t) => {
  const { b } = await start(t)
  const res = await b.get('/logout')
  t.equal(res.statusCode, 302)
  t.equal(res.headers.location, '/')
  t.same(setCookies(res), [])
})

t.test('a cookie signed with another key is ignored: the visitor is not logged in', async (t) => {
  const { b } = await start(t)
  const other = buildApp({ secret: 'another key that is at least 32 bytes long' })
  t.teardown(() => other.close())
  await other.ready()
  b.cookie = await other.sessions.encode({ username: 'mallory' })
  const res = await b.get('/')
  t.equal(res.statusCode, 200)
  t.match(res.body, 'You are not logged in')
})

t.test('a cookie with the right key whose data fails the schema is ignored, with one debug line each, and the app makes none', async (t) => {
  const lines: string[] = []
  const app = buildApp({ secret: SECRET, logger: { level: 'debug', stream: { write: (line: string) => { lines.push(line) } } } })
  t.teardown(() => app.close())
  const b = browser(app)
  // The same key, without the schema: its cookies are what an older deploy, or a bug, wrote.
  const unchecked = Fastify()
  t.teardown(() => unchecked.close())
  await unchecked.register(typedSession, { secret: SECRET })
  b.cookie = await unchecked.sessions.encode({ username: 'ada', items: ['milk'] })
  t.match((await b.get('/')).body, '<p>Logged in as ada</p>', 'data that passes the schema loads')
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ username: '' }, '/username (minLength'],
    [{ username: 'x'.repeat(MAX_NAME + 1) }, '/username (maxLength'],
    [{ username: 'ada', items: 'milk' }, '/items (type'],
    [{ username: 'ada', role: 'admin' }, '/role (additionalProperties']
  ]
  for (const [data, where] of bad) {
    lines.length = 0
    b.cookie = await unchecked.sessions.encode(data as never)
    const res = await b.get('/')
    t.equal(res.statusCode, 200)
    t.match(res.body, 'You are not logged in', JSON.stringify(data))
    const rejected = lines.filter((line) => line.includes('session cookie rejected'))
    t.equal(rejected.length, 1, 'one debug line')
    t.match(rejected[0], `the data fails the schema at ${where}`)
  }
  await t.rejects(app.sessions.encode({ username: '' }), { code: 'FST_ERR_SESSION_INVALID_DATA', statusCode: 500 })
})

t.test('buildApp passes the logger option to Fastify', async (t) => {
  const lines: string[] = []
  const app = buildApp({ secret: SECRET, logger: { level: 'info', stream: { write: (line: string) => { lines.push(line) } } } })
  t.teardown(() => app.close())
  const res = await app.inject('/')
  t.equal(res.statusCode, 200)
  t.ok(lines.some((line) => line.includes('"msg":"request completed"')))
})

t.test('with a store, the same walk works and the cookie carries only the session id', async (t) => {
  const store = new MemoryStore()
  const app = buildApp({ secret: SECRET, store })
  t.teardown(() => app.close())
  const b = browser(app)
  await b.post('/login', { username: 'ada', remember: '1' })
  t.match(b.cookie, /^[\w-]{43}\.[\w-]{43}$/, 'the cookie is a signed id, not the data')
  t.equal(store.size, 1)
  t.match((await b.get('/')).body, '<li class="message">You were logged in</li>')
  await b.post('/list', { item: 'milk' })
  await b.post('/list', { item: 'eggs' })
  t.same(listItems(await b.get('/list')), ['milk', 'eggs'])
  const res = await b.get('/logout')
  t.match(sessionHeader(res), /^session=; Max-Age=0/)
  t.equal(store.size, 0, 'logging out deletes the record')
})

/** A Unix time as the devices page writes it in its `datetime` attributes. */
const iso = (seconds: number): string => new Date(seconds * 1000).toISOString().slice(0, 19) + 'Z'

/** The example in store mode, on a MemoryStore indexed by username as `SESSION_STORE=memory` runs it, with the clock frozen at `T0`. */
async function startDevices (t: { teardown: (fn: () => unknown) => void }, store: SessionStore & UserIndex = new MemoryStore({ userKey: 'username' })):
Promise<{ store: SessionStore & UserIndex, clock: ReturnType<typeof freezeClock>, login: (username: string, remember?: boolean) => Promise<Browser> }> {
  const clock = freezeClock(T0)
  t.teardown(clock.restore)
  const app = buildApp({ secret: SECRET, store })
  t.teardown(() => app.close())
  const login = async (username: string, remember = false): Promise<Browser> => {
    const b = browser(app)
    await b.post('/login', remember ? { username, remember: '1' } : { username })
    await b.get('/') // the redirect, as a browser follows it: shows (and so consumes) the login flash
    return b
  }
  return { store, clock, login }
}

const T0 = 1_800_000_000

/**
 * The example in store mode (see `startDevices`) with ada logged in from three
 * browsers: the laptop at `T0`, the phone at `T0 + 10` (remembered, so permanent)
 * and the tablet at `T0 + 20`; then eve from one of her own. The clock is left at `T0 + 20`.
 */
async function threeDevices (t: { teardown: (fn: () => unknown) => void }, store?: SessionStore & UserIndex):
Promise<{ store: SessionStore & UserIndex, clock: ReturnType<typeof freezeClock>, laptop: Browser, phone: Browser, tablet: Browser, eve: Browser }> {
  const { store: used, clock, login } = await startDevices(t, store)
  const laptop = await login('ada')
  clock.set(T0 + 10)
  const phone = await login('ada', true)
  clock.set(T0 + 20)
  const tablet = await login('ada')
  const eve = await login('eve')
  return { store: used, clock, laptop, phone, tablet, eve }
}

t.test('in store mode, the devices page lists the three sessions of a user logged in from three browsers, the most recently seen first, this one marked', async (t) => {
  const { clock, laptop, phone, tablet, eve } = await threeDevices(t)
  t.match((await laptop.get('/')).body, '<a href="/list">Your list</a> | <a href="/devices">Your devices</a> | <a href="/logout">Log out</a>',
    'the index links to the devices page (and reading it leaves the session as it was)')

  clock.set(T0 + 30)
  const res = await laptop.get('/devices')
  t.equal(res.statusCode, 200)
  t.equal(res.headers['cache-control'], 'no-store', 'a per-user page is not cached')
  t.match(res.body, '<p>Where ada is logged in:</p>')
  t.same(deviceRows(res), [
    { created: iso(T0 + 20), lastSeen: iso(T0 + 20), current: false, id: idOf(tablet) },
    { created: iso(T0 + 10), lastSeen: iso(T0 + 10), current: false, id: idOf(phone) },
    { created: iso(T0), lastSeen: iso(T0), current: true, id: undefined }
  ], 'three devices; this one is marked and has no button; eve\'s session is not among them')
  t.notMatch(res.body, idOf(eve))
  t.match(res.body, '<form method="post" action="/devices/logout-others"><p><button type="submit">Log out all other devices</button></p></form>')
  t.match(res.body, `<time datetime="${iso(T0)}">${iso(T0).replace('T', ' ').replace('Z', ' UTC')}</time>`, 'times read in UTC')

  clock.set(T0 + 40)
  await phone.get('/') // a permanent session is refreshed by each request
  await tablet.get('/list') // a browser-session one that is only read is not
  clock.set(T0 + 50)
  t.same(deviceRows(await laptop.get('/devices')).map((row) => [row.id, row.lastSeen]), [
    [idOf(phone), iso(T0 + 40)],
    [idOf(tablet), iso(T0 + 20)],
    [undefined, iso(T0)]
  ], 'lastSeen moves with writes and refreshes, not with reads')
})

/** Three devices of ada and one of eve: one of ada's ends another, then all the others. */
async function endDevices (t: Test, store?: SessionStore & UserIndex): Promise<void> {
  const { store: used, clock, laptop, phone, tablet, eve } = await threeDevices(t, store)

  clock.set(T0 + 30)
  const ended = await laptop.post('/devices/logout', { id: idOf(phone) })
  t.equal(ended.statusCode, 302)
  t.equal(ended.headers.location, '/devices')
  const after = await laptop.get('/devices')
  t.same(flashes(after), ['message: The device was logged out'])
  t.same(deviceRows(after).map((row) => [row.id, row.current]), [[undefined, true], [idOf(tablet), false]], 'the laptop (seen as it queued its flash) and the tablet are left')
  t.match((await phone.get('/')).body, 'You are not logged in', 'the phone is logged out on its next request')

  clock.set(T0 + 40)
  const others = await tablet.post('/devices/logout-others', {})
  t.equal(others.statusCode, 302)
  t.equal(others.headers.location, '/devices')
  const left = await tablet.get('/devices')
  t.same(flashes(left), ['message: 1 other device was logged out'])
  t.same(deviceRows(left), [{ created: iso(T0 + 20), lastSeen: iso(T0 + 40), current: true, id: undefined }], 'only this device is left')
  t.notMatch(left.body, 'action="/devices/logout-others"', 'with no other device, no button to log them out')
  t.match((await laptop.get('/')).body, 'You are not logged in', 'the laptop is logged out')
  t.match((await tablet.get('/')).body, '<p>Logged in as ada</p>', 'the tablet, which asked, is not')
  t.match((await eve.get('/')).body, '<p>Logged in as eve</p>', 'another user\'s session is never touched')
  t.equal((await used.listUser('ada')).length, 1)
}

t.test('in store mode, a device is logged out from another one, and then all the others; the current one survives', async (t) => {
  await endDevices(t)
})

t.test('with the sessions in Redis, as npm run example:redis keeps them, the devices page ends devices the same way', needsRedis, async (t) => {
  const redis = await startRedis(t)
  await endDevices(t, new RedisStore({ client: await redis.client(), userKey: 'username' }))
})

t.test('in store mode, logging out all other devices says how many it ended', async (t) => {
  const { login } = await startDevices(t)
  const browsers = [await login('ada'), await login('ada'), await login('ada')]
  const [first, ...rest] = browsers as [Browser, Browser, Browser]
  await first.post('/devices/logout-others', {})
  t.same(flashes(await first.get('/devices')), ['message: 2 other devices were logged out'])
  for (const b of rest) t.match((await b.get('/')).body, 'You are not logged in')
})

t.test('in store mode, an id that is not one of the user\'s sessions is refused, and nothing is logged out', async (t) => {
  const { store, login } = await startDevices(t)
  const laptop = await login('ada')
  const phone = await login('ada')
  const eve = await login('eve')
  const ended = await login('ada')
  await laptop.post('/devices/logout', { id: idOf(ended) })
  t.same(flashes(await laptop.get('/devices')), ['message: The device was logged out'])
  for (const form of [{ id: idOf(eve) }, { id: idOf(ended) }, { id: 'made-up' }, { id: '' }, {}]) {
    const res = await laptop.post('/devices/logout', form)
    t.equal(res.headers.location, '/devices', JSON.stringify(form))
    t.same(flashes(await laptop.get('/devices')), ['error: That device is not one of yours, or it was already logged out'])
  }
  t.match((await eve.get('/')).body, '<p>Logged in as eve</p>', 'another user\'s session is refused')
  t.match((await phone.get('/')).body, '<p>Logged in as ada</p>')
  t.same((await store.listUser('ada')).map((s) => s.id).sort(), [idOf(laptop), idOf(phone)].sort())
  t.equal((await store.listUser('eve')).length, 1)
})

t.test('in store mode, posting this device\'s own id logs it out as /logout does', async (t) => {
  const { store, login } = await startDevices(t)
  const laptop = await login('ada')
  const phone = await login('ada')
  const res = await laptop.post('/devices/logout', { id: idOf(laptop) })
  t.equal(res.headers.location, '/')
  t.match(sessionHeader(res), /^session=; Max-Age=0/)
  t.equal(laptop.cookie, undefined)
  t.same((await store.listUser('ada')).map((s) => s.id), [idOf(phone)])
})

t.test('the devices page and its buttons send a visitor who is not logged in to the login page, and end nothing', async (t) => {
  const { store, login } = await startDevices(t)
  const ada = await login('ada')
  const visitor = browser(buildApp({ secret: SECRET, store }))
  const res = await visitor.get('/devices')
  t.equal(res.statusCode, 302)
  t.equal(res.headers.location, '/login')
  t.same(flashes(await visitor.get('/login')), ['error: Log in to see your devices'])
  t.equal((await visitor.post('/devices/logout', { id: idOf(ada) })).headers.location, '/login')
  t.equal((await visitor.post('/devices/logout-others', {})).headers.location, '/login')
  t.match((await ada.get('/')).body, '<p>Logged in as ada</p>')
})

t.test('without a store that indexes users, the index has no devices link, and the page says that the list needs one', async (t) => {
  // A store of one's own with only SessionStore's methods: no listUser, no destroyUser.
  const plain = plainStore(new MemoryStore())
  for (const [mode, app] of [['cookie mode', buildApp({ secret: SECRET })], ['a store without listUser', buildApp({ secret: SECRET, store: plain })]] as const) {
    t.teardown(() => app.close())
    const b = browser(app)
    await b.post('/login', { username: 'ada' })
    const index = await b.get('/')
    t.match(index.body, '<p>Logged in as ada</p>')
    t.notMatch(index.body, '/devices', `${mode}: no link`)
    const res = await b.get('/devices')
    t.equal(res.statusCode, 200)
    t.match(res.body, 'The device list needs a server-side store that indexes sessions by user', mode)
    t.same(deviceRows(res), [])
    t.equal((await b.post('/devices/logout', { id: 'x' })).headers.location, '/devices')
    t.equal((await b.post('/devices/logout-others', {})).headers.location, '/devices')
    t.match((await b.get('/')).body, '<p>Logged in as ada</p>', `${mode}: the buttons end nothing`)
  }
})
