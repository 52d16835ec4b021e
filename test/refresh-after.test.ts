/**
 * `refreshAfter`: a refreshing session (permanent, with `refreshEachRequest`)
 * is re-issued only once its last issue is at least `refreshAfter` old; a
 * change is still written at once, and counts as an issue. In cookie mode
 * the cookie says when it was issued; in store mode the record keeps it in
 * `_issued`, only under `refreshAfter`. With `0`, everything is as Flask
 * does it: a refresh on every response. Times come from a frozen clock.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { MemoryStore, RedisStore, type SessionFormat, type TypedSessionOptions } from '../lib/index.js'
import { build, carry, freezeClock, OTHER_SECRET, SECRET, setCookies } from './helpers/build.js'
import { needsRedis, startRedis } from './helpers/redis.js'
import { ImmediateSpyStore, SpyStore, type Call } from './helpers/stores.js'

const NOW = 1_700_000_000
const MAX_AGE = 3600
const FORMATS: SessionFormat[] = ['signed', 'encrypted', 'flask']

type Log = Record<string, unknown>

function routes (app: FastifyInstance): void {
  app.get('/login', async (request) => {
    request.session.set('username', 'ada')
    request.session.permanent = (request.query as { permanent?: string }).permanent !== '0'
    return 'ok'
  })
  app.get('/count', async (request) => {
    const n = (request.session.get('counter') ?? 0) + 1
    request.session.set('counter', n)
    return String(n)
  })
  app.get('/same', async (request) => {
    request.session.set('username', request.session.get('username') ?? 'nobody')
    return 'ok'
  })
  app.get('/forget', async (request) => {
    request.session.delete('counter')
    return 'ok'
  })
  app.get('/read', async (request) => request.session.get('username') ?? 'nobody')
  app.get('/untouched', async () => 'ok')
}

/** The session cookie a response set, as `[value, Max-Age, Expires]`; `undefined` when it set none. */
function issued (res: LightMyRequestResponse): [string, number | undefined, string | undefined] | undefined {
  const cookie = res.cookies.find((c) => c.name === 'session')
  return cookie === undefined ? undefined : [cookie.value, cookie.maxAge, cookie.expires?.toUTCString()]
}

/** The Expires a permanent cookie issued at `at` carries. */
function expires (at: number): string {
  return new Date((at + MAX_AGE) * 1000).toUTCString()
}

/** The debug lines that say why a session cookie was rejected. */
function rejections (logs: Log[]): unknown[] {
  return logs.filter((line) => String(line.msg).startsWith('session cookie rejected')).map((line) => [line.level, line.reason])
}

t.test('refreshAfter is checked at registration', async (t) => {
  const refused: Array<[string, Record<string, unknown>, string]> = [
    ['a negative number', { refreshAfter: -1 }, 'expected a whole number of seconds, or 0 for off, received -1'],
    ['a fraction', { refreshAfter: 1.5 }, 'expected a whole number of seconds, or 0 for off, received 1.5'],
    ['a string', { refreshAfter: '60' }, 'expected a whole number of seconds, or 0 for off, received "60"'],
    ['milliseconds', { refreshAfter: 60 * 60 * 24 * 365 * 1000 },
      'expected seconds, not milliseconds: at most 315360000 (ten years), such as 2678400 for 31 days, received 31536000000'],
    ['maxAge itself', { maxAge: 3600, refreshAfter: 3600 },
      'expected fewer seconds than maxAge (3600): a session not refreshed within maxAge expires, received 3600'],
    ['above maxAge', { maxAge: 3600, refreshAfter: 86400 },
      'expected fewer seconds than maxAge (3600): a session not refreshed within maxAge expires, received 86400'],
    ['without refreshEachRequest', { refreshEachRequest: false, refreshAfter: 60 },
      'expected 0 with refreshEachRequest false, which never refreshes a session, received 60'],
    ['above the default maxAge, in store mode', { store: new MemoryStore(), refreshAfter: 2678400 },
      'expected fewer seconds than maxAge (2678400): a session not refreshed within maxAge expires, received 2678400']
  ]
  for (const [name, options, message] of refused) {
    const err = await build(options as Partial<TypedSessionOptions>).then(() => undefined, (err: Error & { code?: string }) => err)
    t.equal(err?.code, 'FST_ERR_SESSION_INVALID_OPTION', name)
    t.equal(err?.message, `Invalid option refreshAfter: ${message}`, name)
  }
  for (const options of [{ refreshAfter: 0 }, { refreshAfter: 0, refreshEachRequest: false }, { maxAge: 3600, refreshAfter: 3599 }, { refreshAfter: 60, store: new MemoryStore() }]) {
    const app = await build(options)
    t.pass(`accepted: ${JSON.stringify({ ...options, store: undefined })}`)
    await app.close()
  }
})

for (const format of FORMATS) {
  t.test(`${format}: a permanent session is re-issued only once its cookie is refreshAfter old, with Expires moved`, async (t) => {
    const clock = freezeClock(NOW)
    t.teardown(clock.restore)
    const app = await build({ format, maxAge: MAX_AGE, refreshAfter: 60 }, routes)
    const login = await app.inject('/login')
    t.same(issued(login)?.slice(1), [MAX_AGE, expires(NOW)])
    let cookies = carry(login)
    for (const url of ['/read', '/untouched']) {
      clock.set(NOW + 59)
      const early = await app.inject({ url, cookies })
      t.equal(early.statusCode, 200)
      t.same(setCookies(early), [], `${url} at 59 s: not re-issued`)
      t.equal(early.headers.vary, url === '/read' ? 'Cookie' : undefined, `${url} at 59 s: Vary as without a refresh`)
    }
    clock.set(NOW + 60)
    const due = await app.inject({ url: '/read', cookies })
    t.equal(due.body, 'ada')
    t.same(issued(due)?.slice(1), [MAX_AGE, expires(NOW + 60)], 'at 60 s: re-issued, expiring maxAge from now')
    t.equal(due.headers.vary, 'Cookie')
    cookies = carry(due)
    clock.set(NOW + 119)
    t.same(setCookies(await app.inject({ url: '/untouched', cookies })), [], 'the new cookie is not re-issued before it is 60 s old')
    clock.set(NOW + 130)
    const untouched = await app.inject({ url: '/untouched', cookies })
    t.same(issued(untouched)?.slice(1), [MAX_AGE, expires(NOW + 130)], 'an untouched route re-issues it once it is due')
    t.equal(untouched.headers.vary, 'Cookie')
    clock.set(NOW + 140)
    t.equal((await app.inject({ url: '/read', cookies: carry(untouched) })).body, 'ada', 'the re-issued cookie holds the session')
  })

  t.test(`${format}: a change is written at once, and counts as an issue`, async (t) => {
    const clock = freezeClock(NOW)
    t.teardown(clock.restore)
    const app = await build({ format, maxAge: MAX_AGE, refreshAfter: 60 }, routes)
    let cookies = carry(await app.inject('/login'))
    clock.set(NOW + 10)
    const change = await app.inject({ url: '/count', cookies })
    t.equal(change.body, '1')
    t.same(issued(change)?.slice(1), [MAX_AGE, expires(NOW + 10)], 'a change 10 s after the login is issued at once')
    cookies = carry(change)
    clock.set(NOW + 69)
    t.same(setCookies(await app.inject({ url: '/read', cookies })), [], 'the next refresh is due 60 s after the change, not after the login')
    clock.set(NOW + 70)
    t.same(issued(await app.inject({ url: '/read', cookies }))?.slice(1), [MAX_AGE, expires(NOW + 70)])
  })

  t.test(`${format}: a session used more often than refreshAfter lives on, its Expires within refreshAfter of the last request's + maxAge`, async (t) => {
    const clock = freezeClock(NOW)
    t.teardown(clock.restore)
    const app = await build({ format, maxAge: 300, refreshAfter: 60 }, routes)
    let cookies = carry(await app.inject('/login'))
    let expiry = NOW + 300
    let refreshes = 0
    for (let at = NOW + 25; at <= NOW + 1000; at += 25) {
      clock.set(at)
      const res = await app.inject({ url: '/read', cookies })
      t.equal(res.body, 'ada', `at +${at - NOW} s`)
      const cookie = res.cookies.find((c) => c.name === 'session')
      if (cookie !== undefined) {
        refreshes++
        cookies = { session: cookie.value }
        expiry = (cookie.expires as Date).getTime() / 1000
      }
      t.ok(expiry > at + 300 - 60 && expiry <= at + 300, `at +${at - NOW} s the cookie expires within 60 s of the request's + maxAge`)
    }
    t.equal(refreshes, 13, 'one refresh every 75 s (the first request at least 60 s after the last issue), not one per request')
  })

  t.test(`${format}: a non-permanent session is never refreshed`, async (t) => {
    const clock = freezeClock(NOW)
    t.teardown(clock.restore)
    const app = await build({ format, maxAge: MAX_AGE, refreshAfter: 60 }, routes)
    const login = await app.inject('/login?permanent=0')
    t.same(issued(login)?.slice(1), [undefined, undefined], 'a browser-session cookie')
    clock.set(NOW + 600)
    for (const url of ['/read', '/untouched']) t.same(setCookies(await app.inject({ url, cookies: carry(login) })), [], url)
  })

  t.test(`${format}: refreshAfter 0 re-issues on every response, exactly as without the option`, async (t) => {
    const clock = freezeClock(NOW)
    t.teardown(clock.restore)
    const apps = [await build({ format, maxAge: MAX_AGE }, routes), await build({ format, maxAge: MAX_AGE, refreshAfter: 0 }, routes)]
    const headers: unknown[][] = [[], []]
    for (const [i, app] of apps.entries()) {
      clock.set(NOW)
      const cookies = carry(await app.inject('/login'))
      for (const [step, url] of ['/read', '/untouched', '/read', '/count', '/same'].entries()) {
        clock.set(NOW + 1 + step)
        const res = await app.inject({ url, cookies })
        // An encrypted value differs by its nonce: compare its attributes.
        headers[i]?.push(format === 'encrypted' ? [issued(res)?.slice(1), res.headers.vary] : [setCookies(res), res.headers.vary])
        t.equal(setCookies(res).length, 1, `${url} re-issues the cookie`)
      }
    }
    t.same(headers[1], headers[0])
  })

  t.test(`${format}: an untouched route keeps a bad permanent cookie as it is, with one debug line`, async (t) => {
    const clock = freezeClock(NOW)
    t.teardown(clock.restore)
    const logs: Log[] = []
    const app = await build({ format, maxAge: MAX_AGE, refreshAfter: 60 }, routes, logs)
    const { session } = carry(await app.inject('/login'))
    // The last character of the signature or tag changed.
    const bad = session.slice(0, -1) + (session.endsWith('A') ? 'B' : 'A')
    const res = await app.inject({ url: '/untouched', cookies: { session: bad } })
    t.equal(res.statusCode, 200)
    t.same(setCookies(res), [])
    t.equal(res.headers.vary, undefined)
    t.equal(rejections(logs).length, 1)
  })
}

t.test('an old key\'s permanent cookie moves to the current key on an untouched route before its refresh is due', async (t) => {
  const clock = freezeClock(NOW)
  t.teardown(clock.restore)
  const before = await build({ maxAge: MAX_AGE, refreshAfter: 60 }, routes)
  const after = await build({ secret: [OTHER_SECRET, SECRET], maxAge: MAX_AGE, refreshAfter: 60 }, routes)
  const cookies = carry(await before.inject('/login'))
  clock.set(NOW + 1)
  const res = await after.inject({ url: '/untouched', cookies })
  t.same(issued(res)?.slice(1), [MAX_AGE, expires(NOW + 1)], 're-issued at once')
  t.equal((await before.inject({ url: '/read', cookies: carry(res) })).body, 'nobody', 'under the current key, which the old app does not know')
  t.equal((await after.inject({ url: '/read', cookies: carry(res) })).body, 'ada')
})

t.test('a cookie sealed by another process is verified once, then its refresh waits as for one sealed here', async (t) => {
  const clock = freezeClock(NOW)
  t.teardown(clock.restore)
  const sealer = await build({ maxAge: MAX_AGE, refreshAfter: 60 }, routes)
  const reader = await build({ maxAge: MAX_AGE, refreshAfter: 60 }, routes)
  const cookies = carry(await sealer.inject('/login'))
  clock.set(NOW + 30)
  for (const url of ['/untouched', '/untouched', '/read']) t.same(setCookies(await reader.inject({ url, cookies })), [], url)
  clock.set(NOW + 60)
  t.same(issued(await reader.inject({ url: '/untouched', cookies }))?.slice(1), [MAX_AGE, expires(NOW + 60)])
})

/** The store calls after each `get`: what a request wrote. */
function writes (store: SpyStore): Call[] {
  const calls = store.writes()
  store.calls.length = 0
  return calls
}

for (const Spy of [SpyStore, ImmediateSpyStore]) {
  const kind = Spy === SpyStore ? 'a promise store' : 'MemoryStore'
  t.test(`${kind}: a refresh waits until the record's last issue is refreshAfter old, then writes _issued with the TTL and sets the cookie`, async (t) => {
    const clock = freezeClock(NOW)
    t.teardown(clock.restore)
    const store = new Spy()
    const app = await build({ store, maxAge: MAX_AGE, refreshAfter: 60 }, routes)
    const login = await app.inject('/login')
    const cookies = carry(login)
    t.same(issued(login)?.slice(1), [MAX_AGE, expires(NOW)])
    const [[, id, created]] = writes(store) as [[string, string, { set: Record<string, string> }]]
    t.same(created.set, { username: '"ada"', _permanent: 'true', _created: String(NOW), _issued: String(NOW) }, 'a new record holds its issue time')
    for (const url of ['/read', '/untouched']) {
      clock.set(NOW + 59)
      const early = await app.inject({ url, cookies })
      t.equal(early.statusCode, 200)
      t.same(setCookies(early), [], `${url} at 59 s: no cookie`)
      t.equal(early.headers.vary, url === '/read' ? 'Cookie' : undefined)
      t.same(writes(store), [], `${url} at 59 s: nothing written, no TTL extended`)
    }
    clock.set(NOW + 60)
    const due = await app.inject({ url: '/untouched', cookies })
    t.same(issued(due), [cookies.session, MAX_AGE, expires(NOW + 60)], 'the same id, its cookie expiring maxAge from now')
    t.same(writes(store), [['set', id, { set: { _issued: String(NOW + 60) }, delete: [], create: false }, MAX_AGE]],
      'the refresh writes the issue time, and the TTL, in one set')
    clock.set(NOW + 119)
    t.equal((await app.inject({ url: '/read', cookies })).body, 'ada')
    t.same(writes(store), [])
    clock.set(NOW + 120)
    t.same(issued(await app.inject({ url: '/read', cookies }))?.slice(1), [MAX_AGE, expires(NOW + 120)])
    t.same(writes(store), [['set', id, { set: { _issued: String(NOW + 120) }, delete: [], create: false }, MAX_AGE]])
  })

  t.test(`${kind}: a change is written at once with its issue time, and sets the cookie of a refreshing session`, async (t) => {
    const clock = freezeClock(NOW)
    t.teardown(clock.restore)
    const store = new Spy()
    const app = await build({ store, maxAge: MAX_AGE, refreshAfter: 60 }, routes)
    const cookies = carry(await app.inject('/login'))
    const plain = carry(await app.inject('/login?permanent=0'))
    writes(store)
    clock.set(NOW + 10)
    const change = await app.inject({ url: '/count', cookies })
    t.same(issued(change)?.slice(1), [MAX_AGE, expires(NOW + 10)])
    const [[, id]] = store.calls as [[string, string]]
    t.same(writes(store), [['set', id, { set: { counter: '1', _issued: String(NOW + 10) }, delete: [], create: false }, MAX_AGE]])
    clock.set(NOW + 20)
    const same = await app.inject({ url: '/same', cookies })
    t.same([setCookies(same), writes(store)], [[], []], 'a write of the same values is no change: nothing is written before the refresh is due')
    const forget = await app.inject({ url: '/forget', cookies })
    t.same(issued(forget)?.slice(1), [MAX_AGE, expires(NOW + 20)])
    t.same(writes(store), [['set', id, { set: { _issued: String(NOW + 20) }, delete: ['counter'], create: false }, MAX_AGE]],
      'a deleted key is a change: the record keeps its issue time field, stamped')
    clock.set(NOW + 79)
    t.same(setCookies(await app.inject({ url: '/read', cookies })), [], 'the next refresh is due 60 s after the change')
    t.same(writes(store), [])
    clock.set(NOW + 600)
    const count = await app.inject({ url: '/count', cookies: plain })
    t.same(setCookies(count), [], 'a non-permanent session: no cookie for a change of its data')
    t.same(writes(store).map(([method, , change]) => [method, (change as { set: object }).set]), [['set', { counter: '1', _issued: String(NOW + 600) }]])
    t.same([setCookies(await app.inject({ url: '/read', cookies: plain })), writes(store)], [[], []], 'and it is never refreshed')
  })

  t.test(`${kind}: refreshAfter 0 keeps today's records and calls: no _issued, a touch on every refresh`, async (t) => {
    const clock = freezeClock(NOW)
    t.teardown(clock.restore)
    const calls: unknown[] = []
    for (const options of [{}, { refreshAfter: 0 }]) {
      const store = new Spy()
      const app = await build({ store, maxAge: MAX_AGE, ...options }, routes)
      clock.set(NOW)
      const cookies = carry(await app.inject('/login'))
      const steps: unknown[] = []
      for (const [step, url] of ['/read', '/untouched', '/count', '/same', '/forget'].entries()) {
        clock.set(NOW + 1 + step)
        const res = await app.inject({ url, cookies })
        steps.push([url, issued(res)?.slice(1)])
      }
      // Ids differ from one app to the other.
      calls.push([steps, store.calls.map(([method, , ...rest]) => [method, ...rest.filter((arg) => typeof arg !== 'string')])])
    }
    t.same(calls[1], calls[0])
    t.match(JSON.stringify(calls[0]), /"touch",3600\].*"touch",3600\]/, 'a touch for each refresh')
    t.notMatch(JSON.stringify(calls[0]), /_issued/)
  })
}

t.test('a record without _issued, or with one that is not a number, is due at once, and gets one', async (t) => {
  const clock = freezeClock(NOW)
  t.teardown(clock.restore)
  const store = new SpyStore()
  const before = await build({ store, maxAge: MAX_AGE }, routes)
  const after = await build({ store, maxAge: MAX_AGE, refreshAfter: 60 }, routes)
  const cookies = carry(await before.inject('/login'))
  const [[, id]] = store.calls as [[string, string]]
  t.notOk('_issued' in (await store.inner.get(id) as object), 'written under refreshAfter 0')
  clock.set(NOW + 1)
  const res = await after.inject({ url: '/untouched', cookies })
  t.same(issued(res)?.slice(1), [MAX_AGE, expires(NOW + 1)])
  t.equal((await store.inner.get(id))?._issued, String(NOW + 1))
  await store.inner.set(id, { set: { _issued: 'soon' }, delete: [], create: false }, MAX_AGE)
  clock.set(NOW + 2)
  t.same(issued(await after.inject({ url: '/read', cookies }))?.slice(1), [MAX_AGE, expires(NOW + 2)])
  t.equal((await store.inner.get(id))?._issued, String(NOW + 2))
  clock.set(NOW + 3)
  t.same(setCookies(await after.inject({ url: '/read', cookies })), [])
  t.equal((await before.inject({ url: '/read', cookies })).body, 'ada', '_issued is no data under refreshAfter 0 either')
  store.calls.length = 0
  await before.inject({ url: '/count', cookies })
  t.same(store.writes().map(([method, , change]) => [method, (change as { delete: string[] }).delete]), [['set', ['_issued']]],
    'a change under refreshAfter 0 deletes the field it does not keep')
})

t.test('listUser\'s lastSeen moves with each write and each due refresh, so it is exact to refreshAfter', async (t) => {
  const clock = freezeClock(NOW)
  t.teardown(clock.restore)
  const store = new MemoryStore({ userKey: 'username' })
  const app = await build({ store, maxAge: MAX_AGE, refreshAfter: 60 }, routes)
  const cookies = carry(await app.inject('/login'))
  const seen = async (): Promise<number[]> => (await store.listUser('ada')).map((s) => s.lastSeen)
  t.same(await seen(), [NOW])
  clock.set(NOW + 59)
  await app.inject({ url: '/read', cookies })
  t.same(await seen(), [NOW], 'a request before the refresh is due does not move it')
  clock.set(NOW + 60)
  await app.inject({ url: '/read', cookies })
  t.same(await seen(), [NOW + 60], 'the due refresh does')
  clock.set(NOW + 75)
  await app.inject({ url: '/count', cookies })
  t.same(await seen(), [NOW + 75], 'and so does a write')
})

t.test('_issued is a reserved key: a session cannot set it', async (t) => {
  const app = await build({ store: new MemoryStore(), refreshAfter: 60 }, (app) => {
    app.get('/reserved', async (request) => {
      (request.session as unknown as { set: (key: string, value: unknown) => void }).set('_issued', 1)
      return 'ok'
    })
  })
  const res = await app.inject('/reserved')
  t.equal(res.statusCode, 500)
  t.equal(res.json().code, 'FST_ERR_SESSION_UNSERIALIZABLE')
  t.match(res.json().message, '"_issued"')
})

t.test('RedisStore: the TTL is extended only once the refresh is due, and a change stamps _issued', needsRedis, async (t) => {
  const clock = freezeClock(NOW)
  t.teardown(clock.restore)
  const redis = await startRedis(t)
  const admin = await redis.client()
  const store = new RedisStore({ client: await redis.client(), userKey: 'username' })
  const app = await build({ store, maxAge: MAX_AGE, refreshAfter: 60 }, routes)
  const cookies = carry(await app.inject('/login'))
  const key = `session:${cookies.session.slice(0, 43)}`
  t.same(await admin.hgetall(key), { username: '"ada"', _permanent: 'true', _created: String(NOW), _issued: String(NOW) })
  // Redis counts the TTL in real seconds while the plugin's clock is frozen: a short TTL shows whether a request extended it.
  await admin.expire(key, 100)
  clock.set(NOW + 59)
  for (const url of ['/read', '/untouched']) {
    t.same(setCookies(await app.inject({ url, cookies })), [], url)
    t.ok(await admin.ttl(key) <= 100, `${url} at 59 s: the TTL is not extended`)
  }
  clock.set(NOW + 60)
  t.same(issued(await app.inject({ url: '/read', cookies }))?.slice(1), [MAX_AGE, expires(NOW + 60)])
  t.ok(await admin.ttl(key) > MAX_AGE - 10, 'at 60 s: the TTL is extended to maxAge')
  t.equal(await admin.hget(key, '_issued'), String(NOW + 60))
  await admin.expire(key, 100)
  clock.set(NOW + 70)
  t.same(issued(await app.inject({ url: '/count', cookies }))?.slice(1), [MAX_AGE, expires(NOW + 70)], 'a change sets the cookie')
  t.ok(await admin.ttl(key) > MAX_AGE - 10, 'and the TTL')
  t.same(await admin.hgetall(key), { username: '"ada"', _permanent: 'true', _created: String(NOW), _issued: String(NOW + 70), counter: '1' })
  clock.set(NOW + 129)
  t.same(setCookies(await app.inject({ url: '/untouched', cookies })), [])
  t.equal(await admin.hget(key, '_issued'), String(NOW + 70))
  t.same((await store.listUser('ada')).map((s) => s.lastSeen), [NOW + 70], 'lastSeen: the last write or due refresh')
})
