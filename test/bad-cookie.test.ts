/**
 * Rule 5: a bad cookie never causes an error. Each case gets a 200 with an
 * empty new session, exactly one debug line saying why, nothing logged at
 * warn or above, and the app keeps serving.
 */
import { hkdfSync } from 'node:crypto'
import { deflateRawSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { build, freezeClock, OTHER_SECRET, SECRET, sessionCookie, setCookies } from './helpers/build.js'
import { hmacTag } from './helpers/mac.js'

const NOW = 1_700_000_000
const MAX_AGE = 3600

// The key derivation documented in lib/codecs/signed.ts, written out again
// here, so that these cookies do not depend on the code under test.
const KEY = Buffer.from(hkdfSync('sha256', Buffer.from(SECRET), Buffer.alloc(0), 'fastify-typed-session signed v2', 32))

/** Signs a cookie value by hand: HEAD.PAYLOAD.CREATED.ISSUED.SIG. */
function sign (head: string, payload: string, created = NOW, issued = NOW): string {
  const signed = `${head}.${payload}.${created.toString(36)}.${issued.toString(36)}`
  return `${signed}.${hmacTag(KEY, signed)}`
}

/** Signs a hand-written session body, uncompressed. */
function signBody (body: string, created = NOW, issued = NOW): string {
  return sign('2', Buffer.from(body).toString('base64url'), created, issued)
}

/** Replaces the character at `index` with another base64url character. */
function flip (text: string, index: number): string {
  const c = text[index] === 'A' ? 'B' : 'A'
  return text.slice(0, index) + c + text.slice(index + 1)
}

/** Replaces part `index` of a dotted cookie value. */
function withPart (value: string, index: number, fn: (part: string) => string): string {
  const parts = value.split('.')
  parts[index] = fn(parts[index] as string)
  return parts.join('.')
}

const clockControl = freezeClock(NOW)
t.teardown(clockControl.restore)

const logs: Array<Record<string, unknown>> = []
const app = await build({ maxAge: MAX_AGE }, (app) => {
  app.get('/', async (request) => ({ new: request.session.new, keys: [...request.session.keys()] }))
  app.get('/login', async (request) => {
    request.session.set('username', 'ada')
    return 'ok'
  })
}, logs)
t.teardown(() => app.close())

const good = sessionCookie(await app.inject('/login')) as string

/** Sends a Cookie header and checks that the cookie was rejected as rule 5 says. */
async function rejects (t: Test, app: FastifyInstance, cookie: string, reason: RegExp): Promise<void> {
  logs.length = 0
  const res = await app.inject({ url: '/', headers: { cookie } })
  t.equal(res.statusCode, 200, 'the route answers 200')
  t.same(res.json(), { new: true, keys: [] }, 'the session is empty and new')
  t.same(setCookies(res), [], 'no cookie is set')
  t.equal(res.headers.vary, 'Cookie', 'the accessed session still varies on Cookie')
  const debug = logs.filter((line) => line.level === 20)
  t.equal(debug.length, 1, 'exactly one debug line')
  t.match(debug[0]?.msg, reason, 'the debug line says why')
  t.same(logs.filter((line) => (line.level as number) >= 40), [], 'nothing is logged at warn or above')
  // The app keeps serving, and a good cookie still works.
  const after = await app.inject({ url: '/', cookies: { session: good } })
  t.same(after.json(), { new: false, keys: ['username'] }, 'the app keeps serving good cookies')
}

t.test('a good cookie and one signed by hand with the documented key are both accepted', async (t) => {
  logs.length = 0
  const res = await app.inject({ url: '/', cookies: { session: good } })
  t.same(res.json(), { new: false, keys: ['username'] })
  const byHand = await app.inject({ url: '/', cookies: { session: signBody('{"username":"grace"}') } })
  t.same(byHand.json(), { new: false, keys: ['username'] })
  t.same(logs.filter((line) => line.level === 20), [], 'no rejection is logged')
})

t.test('a tampered cookie is rejected, whichever part was changed', async (t) => {
  t.equal(good.split('.').length, 5)
  await t.test('the head (2 changed to 2p)', (t) => rejects(t, app, `session=${withPart(good, 0, () => '2p')}`, /signature does not match/))
  await t.test('the payload', (t) => rejects(t, app, `session=${withPart(good, 1, (p) => flip(p, 2))}`, /signature does not match/))
  await t.test('the creation time', (t) => rejects(t, app, `session=${withPart(good, 2, () => (NOW - 10).toString(36))}`, /signature does not match/))
  await t.test('the issue time', (t) => rejects(t, app, `session=${withPart(good, 3, () => (NOW + 10).toString(36))}`, /signature does not match/))
  await t.test('the signature', (t) => rejects(t, app, `session=${withPart(good, 4, (s) => flip(s, 0))}`, /signature does not match/))
  await t.test('the whole cookie signed with another key', async (t) => {
    const other = await build({ secret: OTHER_SECRET }, (app) => {
      app.get('/login', async (request) => { request.session.set('username', 'eve'); return 'ok' })
    })
    t.teardown(() => other.close())
    const foreign = sessionCookie(await other.inject('/login')) as string
    await rejects(t, app, `session=${foreign}`, /signature does not match/)
  })
})

t.test('a truncated cookie is rejected', async (t) => {
  await t.test('by one character', (t) => rejects(t, app, `session=${good.slice(0, -1)}`, /malformed/))
  await t.test('by its signature', (t) => rejects(t, app, `session=${good.slice(0, good.lastIndexOf('.'))}`, /malformed/))
  await t.test('to half its length', (t) => rejects(t, app, `session=${good.slice(0, good.length >> 1)}`, /malformed/))
  await t.test('with an empty signature', (t) => rejects(t, app, `session=${good.slice(0, good.lastIndexOf('.') + 1)}`, /malformed/))
})

t.test('an empty cookie value is the same as no cookie: an empty session and nothing to log', async (t) => {
  // As in Flask (`if not val: return self.session_class()`), an empty value is
  // not a session at all, so there is no rejection to report.
  for (const cookie of ['session=', 'session= ', 'session=; other=1']) {
    logs.length = 0
    const res = await app.inject({ url: '/', headers: { cookie } })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { new: true, keys: [] }, JSON.stringify(cookie))
    t.same(setCookies(res), [])
    t.same(logs.filter((line) => (line.level as number) !== 30), [], 'nothing but the request lines is logged')
  }
})

t.test('a cookie that is not base64url is rejected', async (t) => {
  await t.test('plain garbage', (t) => rejects(t, app, 'session=not base64 at all!', /malformed/))
  await t.test('five parts of garbage', (t) => rejects(t, app, 'session=*.*.*.*.*', /malformed/))
  await t.test('a payload with characters outside base64url', (t) =>
    rejects(t, app, `session=${withPart(good, 1, (p) => `${p.slice(0, 2)}+/=${p.slice(5)}`)}`, /signature does not match/))
  await t.test('a signature with characters outside base64url', (t) =>
    rejects(t, app, `session=${withPart(good, 4, (s) => `${s.slice(0, 40)}+/=`)}`, /malformed/))
  await t.test('a signature of 43 characters but more than 43 bytes', (t) =>
    rejects(t, app, `session=${withPart(good, 4, (s) => `${s.slice(0, 42)}\u00e9`)}`, /malformed/))
  await t.test('a base-36 time with a capital letter', (t) =>
    rejects(t, app, `session=${withPart(good, 2, (c) => c.toUpperCase())}`, /malformed/))
})

t.test('an 8 KB cookie is rejected before any cryptography', async (t) => {
  await t.test('8 KB of letters', (t) => rejects(t, app, `session=${'a'.repeat(8 * 1024 + 1)}`, /too long/))
  await t.test('a validly signed 8 KB cookie', (t) => {
    const big = signBody(JSON.stringify({ username: 'x'.repeat(6200) }))
    t.ok(big.length > 8192)
    return rejects(t, app, `session=${big}`, /too long/)
  })
})

t.test('a signature that differs only in its unused trailing bits is rejected (strict decoding)', async (t) => {
  const sig = good.slice(good.lastIndexOf('.') + 1)
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  // 32 bytes in 43 characters leave 2 unused bits in the last one.
  const last = alphabet.indexOf(sig.at(-1) as string)
  const other = sig.slice(0, -1) + alphabet[last ^ 1]
  t.not(other, sig)
  t.same(Buffer.from(other, 'base64url'), Buffer.from(sig, 'base64url'), 'both texts decode to the same bytes')
  await rejects(t, app, `session=${good.slice(0, -43)}${other}`, /signature does not match/)
})

t.test('a validly signed cookie with an unknown version head is rejected', async (t) => {
  const payload = Buffer.from('{"username":"ada"}').toString('base64url')
  for (const head of ['1', '1p', '3', '0', '2x', '2zp', '2pp', '']) {
    await t.test(`head ${JSON.stringify(head)}`, (t) => rejects(t, app, `session=${sign(head, payload)}`, /malformed/))
  }
})

t.test('a valid signature over a body that is not a JSON object is rejected', async (t) => {
  for (const body of ['[1,2]', '"ada"', '42', 'null', 'true', '{', '', '{"username":"ada"} x']) {
    await t.test(JSON.stringify(body), (t) => rejects(t, app, `session=${signBody(body)}`, /payload cannot be decoded/))
  }
})

t.test('a valid signature over __proto__ or constructor keys is rejected without prototype pollution', async (t) => {
  const bodies = [
    '{"__proto__":{"polluted":1}}',
    '{"username":"ada","x":{"__proto__":{"polluted":1}}}',
    '{"x":[{"__proto__":{"polluted":1}}]}',
    '{"x":{"~m":[["k",{"__proto__":{"polluted":1}}]]}}',
    '{"constructor":{"prototype":{"polluted":1}}}',
    '{"x":{"constructor":{"prototype":{"polluted":1}}}}',
    '{"x":{"~o":{"~y":{"constructor":{"prototype":{"polluted":1}}}}}}'
  ]
  for (const body of bodies) {
    await t.test(body, async (t) => {
      await rejects(t, app, `session=${signBody(body)}`, /payload cannot be decoded \(forbidden key/)
      t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is not polluted')
      t.equal(Object.hasOwn(Object.prototype, 'polluted'), false)
    })
  }
})

t.test('a valid signature over an unknown or malformed tag is rejected', async (t) => {
  const bodies = ['{"x":{"~q":1}}', '{"x":{"~d":"yesterday"}}', '{"x":{"~u":0}}', '{"x":-0}', '{"_flashes":[]}', '{"_flashes":[["message"]]}']
  for (const body of bodies) {
    await t.test(body, (t) => rejects(t, app, `session=${signBody(body)}`, /payload cannot be decoded/))
  }
})

t.test('a valid signature over a deflate flag whose bytes do not inflate is rejected', async (t) => {
  await t.test('bytes that are not deflate data', (t) =>
    rejects(t, app, `session=${sign('2z', Buffer.from([0xff, 0xff, 0xff, 0xff]).toString('base64url'))}`, /cannot be inflated/))
  await t.test('a deflated body cut short', (t) => {
    const deflated = deflateRawSync(JSON.stringify({ username: 'ada'.repeat(100) }))
    return rejects(t, app, `session=${sign('2z', deflated.subarray(0, 8).toString('base64url'))}`, /cannot be inflated/)
  })
  await t.test('a deflate bomb that inflates beyond 1 MiB', (t) => {
    const bomb = deflateRawSync(Buffer.alloc(2 << 20, 0x20)).toString('base64url')
    t.ok(bomb.length < 8000, 'the bomb fits in a cookie')
    return rejects(t, app, `session=${sign('2z', bomb)}`, /cannot be inflated/)
  })
})

t.test('a signature older than maxAge is rejected, and one exactly maxAge old is accepted', async (t) => {
  const cookie = signBody('{"username":"ada"}', NOW - MAX_AGE, NOW - MAX_AGE)
  const edge = await app.inject({ url: '/', cookies: { session: cookie } })
  t.same(edge.json(), { new: false, keys: ['username'] }, 'exactly maxAge old is still valid')
  await rejects(t, app, `session=${signBody('{"username":"ada"}', NOW - MAX_AGE - 1, NOW - MAX_AGE - 1)}`, /older than maxAge/)
  // The same cookie that was valid goes stale as the clock moves on, even
  // though its signature was verified (and cached) before.
  clockControl.set(NOW + 1)
  t.teardown(() => clockControl.set(NOW))
  await rejects(t, app, `session=${cookie}`, /older than maxAge/)
})

t.test('a signature dated more than 60 s in the future is rejected, and one 60 s ahead is accepted', async (t) => {
  const ahead = await app.inject({ url: '/', cookies: { session: signBody('{"username":"ada"}', NOW, NOW + 60) } })
  t.same(ahead.json(), { new: false, keys: ['username'] }, '60 s of clock skew is allowed')
  await rejects(t, app, `session=${signBody('{"username":"ada"}', NOW, NOW + 61)}`, /dated in the future/)
})

t.test('a creation time after the signing time is rejected', (t) =>
  rejects(t, app, `session=${signBody('{"username":"ada"}', NOW, NOW - 1)}`, /creation time is after the signing time/))

t.test('several different session cookies in one header give an empty session', async (t) => {
  const other = signBody('{"username":"mallory"}')
  await t.test('a good one, then another', (t) => rejects(t, app, `session=${good}; session=${other}`, /several session cookies/))
  await t.test('a good one, then a bad one', (t) => rejects(t, app, `session=${good}; session=x`, /several session cookies/))
  await t.test('among other cookies', (t) => rejects(t, app, `a=1; session=${good};b=2;session=${other}`, /several session cookies/))
})

t.test('the same session cookie sent twice is accepted', async (t) => {
  logs.length = 0
  const res = await app.inject({ url: '/', headers: { cookie: `session=${good}; theme=dark; session=${good}` } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { new: false, keys: ['username'] })
  t.same(logs.filter((line) => line.level === 20), [])
})

t.test('a cookie whose name only ends in the session name is not the session cookie', async (t) => {
  const res = await app.inject({ url: '/', headers: { cookie: `mysession=${good}; xsession=x` } })
  t.same(res.json(), { new: true, keys: [] })
})
