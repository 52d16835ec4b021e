/**
 * The caches of cookie mode: the table of values this process just sealed
 * (`lib/cache.ts`), the LRU of verified values, and the data they keep for
 * sessions made only of strings, booleans, null and exact numbers. A cache
 * may only save work: a session loaded through one must equal the session
 * parsed from its cookie, and must not share anything with another request.
 */
import { deepStrictEqual } from 'node:assert/strict'
import fc from 'fast-check'
import crypto, { createHash } from 'node:crypto'
import { syncBuiltinESMExports } from 'node:module'
import t from 'tap'
import { ownCopy, RecentValues } from '../lib/cache.js'
import type { FastifyInstance } from 'fastify'
import type { SessionFormat } from '../lib/index.js'
import { build, carry, sessionCookie } from './helpers/build.js'

const RUNS = Number(process.env.FC_RUNS ?? 100)

t.test('RecentValues finds only the exact value that was put in', async (t) => {
  const cache = new RecentValues<number>(4)
  cache.set('1.abc.def.ghij', 1)
  t.equal(cache.get('1.abc.def.ghij'), 1)
  t.equal(cache.get('2.abc.def.ghij'), undefined, 'same slot (same last characters), other text')
  t.equal(cache.get('1.abc.def.ghiJ'), undefined)
  // Same last seven characters: the same two slots.
  cache.set('9.xyz.def.ghij', 9)
  t.equal(cache.get('9.xyz.def.ghij'), 9, 'a second value takes the other slot')
  t.equal(cache.get('1.abc.def.ghij'), 1, 'and the first one is still found')
  cache.set('5.uvw.def.ghij', 5)
  t.equal(cache.get('5.uvw.def.ghij'), 5, 'a third value takes the slot written to longer ago')
  t.equal(cache.get('1.abc.def.ghij'), undefined, 'so the first one is no longer found')
  t.equal(cache.get('9.xyz.def.ghij'), 9, 'and the second one still is')
  cache.set('7.rst.def.ghij', 7)
  t.equal(cache.get('9.xyz.def.ghij'), undefined, 'then the second one goes')
  t.equal(cache.get('5.uvw.def.ghij'), 5)
  for (const odd of ['', 'a', 'ab', 'é€😀', '\u00ff\u0100\uffff']) {
    cache.set(odd, odd.length)
    t.equal(cache.get(odd), odd.length, `${JSON.stringify(odd)}: short and non-base64url texts work too`)
  }
})

t.test('RecentValues is bounded by its table: 2^bits values at most', async (t) => {
  const cache = new RecentValues<number>(6)
  const values = Array.from({ length: 1000 }, (_, i) => `v.${i.toString(36).padStart(4, '0')}x`)
  for (const [i, value] of values.entries()) cache.set(value, i)
  const found = values.filter((value) => cache.get(value) !== undefined)
  t.ok(found.length <= 64, `${found.length} values still found`)
  t.ok(found.length > 0)
  for (const value of found) t.equal(cache.get(value), values.indexOf(value), 'each found value has its own entry')
})

t.test('RecentValues keeps each of 10 clients\' latest value while they take turns replacing it', async (t) => {
  // The bench's pattern: 10 clients, each sending back the value it was
  // just given and getting a new one. Values end in random tags.
  const cache = new RecentValues<number>(8)
  const tag = (i: number): string => createHash('sha256').update(`tag ${i}`).digest('base64url').slice(0, 43)
  const latest: string[] = []
  let misses = 0
  for (let i = 0; i < 20000; i++) {
    const client = i % 10
    const sent = latest[client]
    if (sent !== undefined && cache.get(sent) !== client) misses++
    latest[client] = `1.e30.abc.def.${tag(i)}`
    cache.set(latest[client] as string, client)
  }
  // One slot per value missed about 9 in 256 (3.5%): another client's new value took its slot.
  t.ok(misses < 20000 * 0.005, `${misses} of 20000 returning values were not found`)
})

t.test('ownCopy gives back the same text, for any string', async (t) => {
  fc.assert(fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)) })), (value) => {
    // A view into a longer string, as a cookie read from a header is.
    const view = `${'x'.repeat(40)}${value}${'y'.repeat(40)}`.slice(40, 40 + value.length)
    return ownCopy(view) === value
  }), { numRuns: RUNS * 10 })
  t.equal(ownCopy('caf\u00e9'), 'caf\u00e9', 'a Latin-1 character')
  t.equal(ownCopy('\u0141ódź'), '\u0141ódź', 'characters past Latin-1 are kept, not cut to their low byte')
})

t.test('a value with a character past Latin-1 is not read as the Latin-1 value it would be cut to', async (t) => {
  for (const format of ['signed', 'encrypted', 'flask'] as const) {
    const app = await build({ format }, () => {})
    t.teardown(() => app.close())
    const value = await app.sessions.encode({ username: 'ada' })
    t.equal((await app.sessions.decode(value))?.get('username'), 'ada', `${format}: the value as made is read`)
    // Each character in turn, moved past Latin-1 by 0x100 (same low byte), so that one missed position cannot hide.
    for (let at = 0; at < value.length; at++) {
      const moved = value.slice(0, at) + String.fromCharCode(value.charCodeAt(at) + 0x100) + value.slice(at + 1)
      if (await app.sessions.decode(moved) !== null) t.fail(`${format}: character ${at} moved past Latin-1 is still read`)
    }
  }
})

t.test('a cookie this process just sealed is opened without checking its MAC again', async (t) => {
  // An HMAC is two calls of crypto.hash (lib/codecs/mac.ts); the named
  // import there follows the module object once the exports are synced.
  let hashes = 0
  const original = crypto.hash
  crypto.hash = ((...args: Parameters<typeof original>) => { hashes++; return original(...args) }) as typeof original
  syncBuiltinESMExports()
  t.teardown(() => {
    crypto.hash = original
    syncBuiltinESMExports()
  })

  const app = await build({}, (app) => {
    app.get('/bump', async (request) => {
      const counter = request.session.get('counter', 0) + 1
      request.session.set('counter', counter)
      return counter
    })
  })
  t.teardown(() => app.close())
  let res = await app.inject('/bump')
  for (let i = 2; i <= 4; i++) {
    hashes = 0
    res = await app.inject({ url: '/bump', cookies: carry(res) })
    t.equal(res.body, String(i))
    t.equal(hashes / 2, 1, 'one MAC: the new cookie\'s, and none to verify the one just sealed')
  }

  // A cookie sealed elsewhere (another process with the same secret) is verified once, then found in the LRU.
  const other = await build({}, (app) => { app.get('/', async (request) => request.session.get('counter')) })
  t.teardown(() => other.close())
  const value = await app.sessions.encode({ counter: 7 })
  for (const expected of [1, 0]) {
    hashes = 0
    t.equal((await other.inject({ url: '/', cookies: { session: value } })).body, '7')
    t.equal(hashes / 2, expected, expected === 1 ? 'verified on first sight' : 'a hit of the verified cache')
  }
})

t.test('a session loaded from a cache shares nothing with the request that sealed it, or with another request', async (t) => {
  const app = await build({}, (app) => {
    app.get('/set', async (request) => {
      request.session.set('username', 'ada')
      request.session.set('counter', 1)
      return 'ok'
    })
    app.get('/spoil', async (request) => {
      // Changes the loaded data, and the response's cookie is thrown away.
      request.session.set('counter', 99)
      request.session.delete('username')
      return 'ok'
    })
    app.get('/read', async (request) => [...request.session])
  })
  t.teardown(() => app.close())
  const cookies = carry(await app.inject('/set'))
  for (let i = 0; i < 3; i++) {
    t.same((await app.inject({ url: '/read', cookies })).json(), [['username', 'ada'], ['counter', 1]])
    t.ok(sessionCookie(await app.inject({ url: '/spoil', cookies })), 'the change is saved to a new cookie')
  }
})

/** Values kept as they are (flat), and values that are parsed again on every request. */
const flat = fc.oneof(
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  fc.integer(),
  fc.double(),
  fc.constantFrom(-0, 0.1, 2 ** 53, 2 ** 60, -(2 ** 63), Number.MAX_SAFE_INTEGER, 1e21)
)
const parsed = fc.oneof(
  // Flask's format reads a small BigInt back as a number, so a BigInt is never kept flat.
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.string(), { maxKeys: 2 })
)

for (const format of ['signed', 'encrypted', 'flask'] as SessionFormat[]) {
  t.test(`${format}: a session loaded through the caches equals the session parsed from its cookie`, async (t) => {
    let next: unknown
    let seen: unknown
    const routes = (app: FastifyInstance): void => {
      app.get('/set', async (request) => { request.session.set('value', next); return 'ok' })
      app.get('/read', async (request) => { seen = request.session.get('value'); return 'ok' })
    }
    // `app` seals the cookies (the table of sealed values); `other` has the same secret
    // and verifies them (the LRU); `fresh`, a new app each time, only parses.
    const app = await build({ format }, routes)
    const other = await build({ format }, routes)
    t.teardown(() => Promise.all([app.close(), other.close()]))
    await fc.assert(fc.asyncProperty(fc.oneof(flat, parsed), async (given) => {
      next = given
      const cookies = carry(await app.inject('/set'))
      const fresh = await build({ format })
      const expected = (await fresh.sessions.decode(cookies.session))?.get('value')
      await fresh.close()
      for (const server of [app, app, other, other]) {
        seen = Symbol('not read')
        await server.inject({ url: '/read', cookies })
        deepStrictEqual(seen, expected)
      }
    }), { numRuns: RUNS })
  })
}
