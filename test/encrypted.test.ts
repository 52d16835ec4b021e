/**
 * format: 'encrypted'. The cookie hides the data (no plaintext, a length
 * rounded to a 32-byte bucket), refuses any change, rotates keys as the
 * signed format does, keeps every value type and the session's times, and
 * never encrypts the same data to the same value twice. The codec runs on
 * each XChaCha20-Poly1305 backend (noble, and sodium-native when it loads),
 * and each opens the other's cookies.
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'
import crypto, { hkdfSync, randomBytes } from 'node:crypto'
import { createRequire, syncBuiltinESMExports } from 'node:module'
import type { FastifyInstance } from 'fastify'
import fc from 'fast-check'
import t from 'tap'
import { aeadFrom, defaultAead, noble, type Aead } from '../lib/codecs/cipher.js'
import { encryptedCodec } from '../lib/codecs/encrypted.js'
import { build, freezeClock, OTHER_SECRET, SECRET, sessionCookie, setCookies } from './helpers/build.js'

const NOW = 1_700_000_000
const MAX_AGE = 3600
const MARK = 'SECRET-PLAINTEXT-123'

/** The accelerator, when it loads here. */
const sodium = ((aead: Aead) => aead.name === 'sodium-native' ? aead : undefined)(aeadFrom(() => createRequire(import.meta.url)('sodium-native')))
const NO_SODIUM = 'needs the optional sodium-native accelerator, which is not installed or does not load here'
/** The backends that run here. */
const BACKENDS: Aead[] = sodium === undefined ? [noble] : [noble, sodium]

// The construction documented in lib/codecs/encrypted.ts, written out again
// here with plain one-shot calls, so that these checks do not depend on the
// code under test.
function masterKey (secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret), Buffer.alloc(0), 'fastify-typed-session encrypted v2', 32))
}
const MASTER = masterKey(SECRET)

/** Encrypts a plaintext into a cookie value: HEAD "." b64url(NONCE || CT || TAG). */
function sealByHand (plaintext: Buffer, head = 'e2', master = MASTER): string {
  const nonce = randomBytes(24)
  const sealed = xchacha20poly1305(master, nonce, Buffer.from(head)).encrypt(plaintext)
  return `${head}.${Buffer.concat([nonce, sealed]).toString('base64url')}`
}

/** Decrypts a cookie value; throws when it does not authenticate. */
function openByHand (value: string, master = MASTER): { head: string, nonce: Buffer, plaintext: Buffer } {
  const [head, text] = value.split('.') as [string, string]
  const blob = Buffer.from(text, 'base64url')
  const plaintext = Buffer.from(xchacha20poly1305(master, blob.subarray(0, 24), Buffer.from(head)).decrypt(blob.subarray(24)))
  return { head, nonce: blob.subarray(0, 24), plaintext }
}

/** CREATED(5) || ISSUED(5) || body || 0x80 || zeros, to `size` bytes. */
function plaintextOf (body: string, size: number, created = NOW, issued = NOW, marker = 0x80): Buffer {
  const plaintext = Buffer.alloc(size)
  plaintext.writeUIntBE(created, 0, 5)
  plaintext.writeUIntBE(issued, 5, 5)
  const length = plaintext.write(body, 10, 'utf8')
  if (10 + length < size) plaintext[10 + length] = marker
  return plaintext
}

/** Replaces the character at `index` with another base64url character. */
function flip (text: string, index: number): string {
  const c = text[index] === 'A' ? 'B' : 'A'
  return text.slice(0, index) + c + text.slice(index + 1)
}

const clockControl = freezeClock(NOW)
t.teardown(clockControl.restore)

const logs: Array<Record<string, unknown>> = []
const routes = (app: FastifyInstance): void => {
  app.get('/', async (request) => ({
    new: request.session.new,
    permanent: request.session.permanent,
    keys: [...request.session.keys()],
    username: request.session.get('username') ?? null
  }))
  app.get<{ Querystring: { name?: string } }>('/login', async (request) => {
    request.session.set('username', request.query.name ?? 'ada')
    return 'ok'
  })
  app.get('/remember', async (request) => {
    request.session.set('username', 'ada')
    request.session.permanent = true
    return 'ok'
  })
  app.get('/count', async (request) => {
    request.session.set('counter', request.session.get('counter', 0) + 1)
    return request.session.get('counter')
  })
  app.get('/untouched', async () => 'ok')
}
const app = await build({ format: 'encrypted', maxAge: MAX_AGE }, routes, logs)
t.teardown(() => app.close())

async function login (name = 'ada'): Promise<string> {
  return sessionCookie(await app.inject({ url: '/login', query: { name } })) as string
}

t.test('a session set on one request is read back from its encrypted cookie on the next', async (t) => {
  const cookie = await login()
  t.match(cookie, /^e2\.[A-Za-z0-9_-]+$/, 'the value is the version head and base64url')
  const res = await app.inject({ url: '/', cookies: { session: cookie } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { new: false, permanent: false, keys: ['username'], username: 'ada' })
})

t.test('the cookie follows the documented wire format: times, body and padding inside XChaCha20-Poly1305', async (t) => {
  const cookie = await login()
  const { head, plaintext } = openByHand(cookie)
  t.equal(head, 'e2')
  t.equal(plaintext.readUIntBE(0, 5), NOW, 'the creation time')
  t.equal(plaintext.readUIntBE(5, 5), NOW, 'the issue time')
  t.equal(plaintext.length, 32, 'a short body fills one 32-byte bucket')
  t.same(plaintext, plaintextOf('{"username":"ada"}', 32))
  // A value built by hand the same way is accepted.
  const byHand = sealByHand(plaintextOf('{"username":"grace"}', 32))
  const res = await app.inject({ url: '/', cookies: { session: byHand } })
  t.same(res.json(), { new: false, permanent: false, keys: ['username'], username: 'grace' })
})

t.test('the cookie reveals no fragment of the data, as text or as bytes', async (t) => {
  const cookie = await login(MARK)
  const reads = await app.inject({ url: '/', cookies: { session: cookie } })
  t.equal(reads.json().username, MARK, 'the session does carry the text')
  const bytes = Buffer.from(cookie.slice(3), 'base64url')
  const needles = ['SECRET', 'PLAINTEXT', MARK]
  for (const needle of needles) {
    t.notOk(cookie.includes(needle), `the cookie text does not contain ${needle}`)
    t.notOk(bytes.includes(needle), `its base64url decoding does not contain ${needle}`)
  }
  // The base64 of the text at each of the three byte alignments, less the
  // characters that depend on the neighbouring bytes (20 to 23 characters).
  const encodings = [0, 1, 2].map((shift) =>
    Buffer.concat([Buffer.alloc(shift), Buffer.from(MARK)]).toString('base64url').slice(shift === 0 ? 0 : 4, -4))
  for (const encoded of encodings) {
    t.notOk(cookie.includes(encoded), `the cookie does not contain its base64 ${encoded}`)
    t.notOk(bytes.includes(encoded), 'nor does its decoding')
  }
  t.notOk(bytes.includes(Buffer.from('username')), 'nor the key name')

  // The same checks find the text in a signed cookie, so they can fail.
  const signed = await build({}, routes)
  t.teardown(() => signed.close())
  const readable = sessionCookie(await signed.inject({ url: '/login', query: { name: MARK } })) as string
  t.ok(Buffer.from(readable.split('.')[1] as string, 'base64url').includes(MARK), 'a signed cookie shows it')
  t.ok(encodings.some((encoded) => readable.includes(encoded)), 'and its base64')
})

t.test('the length of the cookie reveals only the size of the session to 32 bytes', async (t) => {
  // {"username":"ada"} and {"username":"grace"} differ by 2 bytes, in one bucket.
  const short = await login('ada')
  const longer = await login('grace')
  t.equal(short.length, longer.length, 'sessions of slightly different sizes give cookies of the same length')
  t.not(short, longer)
  const large = await login('x'.repeat(40))
  t.ok(large.length > short.length, 'a session larger by a bucket gives a longer cookie')

  // 64 consecutive sizes make at most 3 cookie lengths, one per bucket.
  const lengths = new Set<number>()
  for (let n = 1; n <= 64; n++) lengths.add((await login('x'.repeat(n))).length)
  t.ok(lengths.size >= 2 && lengths.size <= 3, `64 sizes, ${lengths.size} lengths`)
  for (const length of lengths) {
    const bytes = Buffer.from('A'.repeat(length - 3), 'base64url').length
    t.equal((bytes - 24 - 16) % 32, 0, 'nonce, tag and whole buckets of ciphertext')
  }
})

t.test('two encryptions of the same data differ, and both open', async (t) => {
  const first = await app.sessions.encode({ username: 'ada' })
  const second = await app.sessions.encode({ username: 'ada' })
  t.not(first, second, 'a fresh random nonce each time')
  t.equal(first.length, second.length)
  t.equal((await app.sessions.decode(first))?.get('username'), 'ada')
  t.equal((await app.sessions.decode(second))?.get('username'), 'ada')
})

t.test('changing any single character of the cookie gives an empty session with a 200', async (t) => {
  const cookie = await login()
  let rejected = 0
  for (let i = 0; i < cookie.length; i++) {
    const tampered = i < 3 ? cookie.slice(0, i) + (cookie[i] === 'A' ? 'B' : 'A') + cookie.slice(i + 1) : flip(cookie, i)
    logs.length = 0
    const res = await app.inject({ url: '/', cookies: { session: tampered } })
    const body = res.json()
    if (res.statusCode === 200 && body.new === true && body.keys.length === 0 && setCookies(res).length === 0 &&
        logs.filter((line) => line.level === 20 && /session cookie rejected/.test(line.msg as string)).length === 1) {
      rejected++
    } else {
      t.fail(`character ${i} changed: status ${res.statusCode}, body ${res.body}`)
    }
  }
  t.equal(rejected, cookie.length, `all ${cookie.length} changed values were rejected`)
  t.same(logs.filter((line) => (line.level as number) >= 40), [], 'nothing is logged at warn or above')
})

t.test('changing any single byte of the nonce, ciphertext or tag fails authentication', async (t) => {
  const cookie = await login()
  const blob = Buffer.from(cookie.slice(3), 'base64url')
  const codec = encryptedCodec([Buffer.from(SECRET)])
  let rejected = 0
  for (let i = 0; i < blob.length; i++) {
    const copy = Buffer.from(blob)
    copy[i] = (copy[i] as number) ^ 0x01
    // Canonical base64url, so only the cipher can refuse it.
    const tampered = `e2.${copy.toString('base64url')}`
    const opened = codec.open(tampered)
    const res = await app.inject({ url: '/', cookies: { session: tampered } })
    if (opened === 'the value does not decrypt with any key' && res.statusCode === 200 && res.json().new === true) rejected++
  }
  t.equal(rejected, blob.length, `all ${blob.length} bytes are authenticated`)
})

t.test('the permanent flag in the clear head is authenticated: moving it breaks the cookie', async (t) => {
  const plain = await login()
  const permanent = sessionCookie(await app.inject('/remember')) as string
  t.match(permanent, /^e2p\./)
  const promoted = 'e2p.' + plain.slice(3)
  const demoted = 'e2.' + permanent.slice(4)
  for (const value of [promoted, demoted]) {
    const res = await app.inject({ url: '/', cookies: { session: value } })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { new: true, permanent: false, keys: [], username: null })
  }
})

t.test('a permanent session carries its flag and its lifetime; a plain one is a browser-session cookie', async (t) => {
  const res = await app.inject('/remember')
  const header = setCookies(res)[0] as string
  t.match(header, /^session=e2p\./)
  t.match(header, new RegExp(`Max-Age=${MAX_AGE}`))
  const cookie = sessionCookie(res) as string
  const read = await app.inject({ url: '/', cookies: { session: cookie } })
  t.same(read.json(), { new: false, permanent: true, keys: ['username'], username: 'ada' })

  // An untouched route refreshes a permanent cookie, seen without decrypting the head.
  const untouched = await app.inject({ url: '/untouched', cookies: { session: cookie } })
  t.match(setCookies(untouched)[0], /^session=e2p\./)
  const plain = await app.inject('/login')
  t.notMatch(setCookies(plain)[0], /Max-Age|Expires/)
  const untouchedPlain = await app.inject({ url: '/untouched', cookies: { session: sessionCookie(plain) as string } })
  t.same(setCookies(untouchedPlain), [], 'a non-permanent session left alone sets no cookie')
})

t.test('a re-issued cookie keeps the creation time and carries the new issue time', async (t) => {
  const cookie = sessionCookie(await app.inject('/count')) as string
  clockControl.set(NOW + 100)
  t.teardown(() => clockControl.set(NOW))
  const next = await app.inject({ url: '/count', cookies: { session: cookie } })
  t.equal(next.body, '2')
  const { plaintext } = openByHand(sessionCookie(next) as string)
  t.equal(plaintext.readUIntBE(0, 5), NOW, 'created')
  t.equal(plaintext.readUIntBE(5, 5), NOW + 100, 'issued')
})

t.test('a cookie older than maxAge is rejected by the policy, one at the limit is not', async (t) => {
  const cookie = await login()
  t.teardown(() => clockControl.set(NOW))
  clockControl.set(NOW + MAX_AGE)
  t.same((await app.inject({ url: '/', cookies: { session: cookie } })).json().username, 'ada')
  clockControl.set(NOW + MAX_AGE + 1)
  logs.length = 0
  const res = await app.inject({ url: '/', cookies: { session: cookie } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { new: true, permanent: false, keys: [], username: null })
  t.match(logs.find((line) => line.level === 20)?.msg, /older than maxAge/)
})

t.test('the encrypted creation time enforces absoluteTimeout across refreshes', async (t) => {
  const timed = await build({ format: 'encrypted', absoluteTimeout: 100, maxAge: MAX_AGE }, routes)
  t.teardown(() => timed.close())
  t.teardown(() => clockControl.set(NOW))
  let cookie = sessionCookie(await timed.inject('/count')) as string
  clockControl.set(NOW + 60)
  cookie = sessionCookie(await timed.inject({ url: '/count', cookies: { session: cookie } })) as string
  clockControl.set(NOW + 101)
  const res = await timed.inject({ url: '/count', cookies: { session: cookie } })
  t.equal(res.body, '1', 'the refreshed cookie still expires 100 s after creation')
})

t.test('a cookie from an old key is read, and re-issued with the current key', async (t) => {
  const old = await login('grace')
  const rotated = await build({ format: 'encrypted', secret: [OTHER_SECRET, SECRET] }, routes)
  const fresh = await build({ format: 'encrypted', secret: OTHER_SECRET }, routes)
  t.teardown(() => rotated.close())
  t.teardown(() => fresh.close())

  t.same((await fresh.inject({ url: '/', cookies: { session: old } })).json().new, true, 'the new key alone cannot open it')
  const res = await rotated.inject({ url: '/', cookies: { session: old } })
  t.same(res.json(), { new: false, permanent: false, keys: ['username'], username: 'grace' })
  const reissued = sessionCookie(res) as string
  t.ok(reissued, 'a read-only request still moves the cookie to the current key')
  t.not(reissued, old)
  t.same((await fresh.inject({ url: '/', cookies: { session: reissued } })).json().username, 'grace',
    'the re-issued cookie opens with the new key alone')
  t.throws(() => openByHand(reissued), 'and no longer with the old key')
  const again = await rotated.inject({ url: '/', cookies: { session: reissued } })
  t.same(setCookies(again), [], 'a current-key cookie is not re-issued')
})

t.test('every value type comes back with its type', async (t) => {
  const value = {
    text: 'héllo wörld ✓ 🎉',
    int: 42,
    float: 1.5,
    specials: [NaN, Infinity, -Infinity, -0],
    bool: true,
    nil: null,
    sparse: [1, undefined, 3],
    date: new Date(1_700_000_000_123),
    buffer: Buffer.from([0, 1, 2, 255]),
    bytes: new Uint8Array([9, 8, 7]),
    big: 123456789012345678901234567890n,
    map: new Map<unknown, unknown>([['a', 1], [2, new Date(5)]]),
    set: new Set(['x', 'y']),
    tagLike: { '~d': 'not a date' },
    nested: { deep: { list: ['a', { b: 'c' }] } }
  }
  const typed = await build({ format: 'encrypted' }, (app) => {
    app.get('/set', async (request) => { request.session.set('value', value); return 'ok' })
    app.get('/get', async (request) => {
      const v = request.session.get('value') as typeof value
      return {
        date: v.date instanceof Date && v.date.getTime() === value.date.getTime(),
        buffer: Buffer.isBuffer(v.buffer) && v.buffer.equals(value.buffer),
        bytes: Buffer.isBuffer(v.bytes) && [...v.bytes].join() === '9,8,7',
        big: v.big === value.big,
        map: v.map instanceof Map && v.map.get('a') === 1 && (v.map.get(2) as Date).getTime() === 5,
        set: v.set instanceof Set && v.set.has('x') && v.set.has('y'),
        specials: Number.isNaN(v.specials[0]) && v.specials[1] === Infinity && v.specials[2] === -Infinity && Object.is(v.specials[3], -0),
        sparse: v.sparse.length === 3 && v.sparse[1] === undefined && 1 in v.sparse,
        plain: [v.text, v.int, v.float, v.bool, v.nil, v.tagLike, v.nested]
      }
    })
  })
  t.teardown(() => typed.close())
  const cookie = sessionCookie(await typed.inject('/set')) as string
  const res = await typed.inject({ url: '/get', cookies: { session: cookie } })
  t.same(res.json(), {
    date: true,
    buffer: true,
    bytes: true,
    big: true,
    map: true,
    set: true,
    specials: true,
    sparse: true,
    plain: [value.text, 42, 1.5, true, null, { '~d': 'not a date' }, value.nested]
  })
  const decoded = await typed.sessions.decode(cookie)
  t.same(decoded?.get('value'), { ...value, bytes: Buffer.from([9, 8, 7]) }, 'the decoded session holds the same values')
})

for (const aead of BACKENDS) {
  t.test(`the codec on ${aead.name}`, async (t) => {
    const secret = Buffer.from(SECRET)
    const codec = encryptedCodec([secret], aead)
    const body = '{"username":"ada"}'
    t.equal(codec.backend, aead.name, 'it says which backend it uses')

    t.test('open returns what seal was given, with the key index', async (t) => {
      const big = 2 ** 40 - 1 // the largest 5-byte time
      t.same(codec.open(codec.seal(body, true, 12345, big)), { body, permanent: true, created: 12345, issued: big, keyIndex: 0, version: 0 })
      t.same(codec.open(codec.seal('', false, 1, 2)), { body: '', permanent: false, created: 1, issued: 2, keyIndex: 0, version: 0 })
      const text = '{"value":"' + 'é✓🎉'.repeat(30) + '"}'
      t.equal((codec.open(codec.seal(text, false, 1, 2)) as { body: string }).body, text, 'multi-byte text')
      const rotated = encryptedCodec([Buffer.from(OTHER_SECRET), secret], aead)
      t.match(rotated.open(codec.seal(body, false, 1, 2)), { body, keyIndex: 1 })
      t.equal(encryptedCodec([Buffer.from(OTHER_SECRET)], aead).open(codec.seal(body, false, 1, 2)), 'the value does not decrypt with any key')
    })

    t.test('a value sealed under a later key opens after the earlier keys fail', async (t) => {
      // A failed attempt must leave the ciphertext for the next key (libsodium
      // zeroes its output when a tag does not match).
      const third = encryptedCodec([Buffer.from(OTHER_SECRET)], aead)
      const rotated = encryptedCodec([secret, Buffer.from('x'.repeat(32)), Buffer.from(OTHER_SECRET)], aead)
      t.same(rotated.open(third.seal(body, true, 7, 8)), { body, permanent: true, created: 7, issued: 8, keyIndex: 2, version: 0 })
      t.match(rotated.open(codec.seal(body, false, 1, 2)), { body, keyIndex: 0 })
    })

    t.test('the body is never compressed: the padded plaintext grows with the body', async (t) => {
      const repetitive = '{"value":"' + 'a'.repeat(2000) + '"}'
      const value = codec.seal(repetitive, false, 1, 2)
      const bytes = Buffer.from(value.slice(3), 'base64url').length
      t.equal(bytes, 24 + Math.ceil((10 + repetitive.length + 1) / 32) * 32 + 16)
    })

    t.test('the padding is all zeros, even right after a longer value was sealed', async (t) => {
      codec.seal('{"value":"' + 'z'.repeat(500) + '"}', false, 1, 2)
      const { plaintext } = openByHand(codec.seal(body, false, NOW, NOW))
      t.same(plaintext, plaintextOf(body, 32))
    })

    t.test('any sequence of seals writes exactly the documented plaintext, whatever the text and its size', async (t) => {
      const latin1 = fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c))
      const text = fc.oneof(
        fc.string({ maxLength: 300 }),
        fc.string({ unit: latin1, maxLength: 300 }),
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc.string({ unit: 'binary', minLength: 1500, maxLength: 2500 }), // past the scratch space at 3 bytes a unit
        fc.integer({ min: 2000, max: 7000 }).map((n) => 'q'.repeat(n))
      )
      fc.assert(fc.property(fc.array(text, { minLength: 1, maxLength: 5 }), (bodies) => bodies.every((b) => {
        const { plaintext } = openByHand(codec.seal(b, false, NOW, NOW + 1))
        return plaintext.equals(plaintextOf(b, Math.ceil((10 + Buffer.byteLength(b) + 1) / 32) * 32, NOW, NOW + 1))
      })), { numRuns: 200 })
      t.pass('every plaintext matched')
    })

    t.test('a session larger than the scratch space is sealed correctly, and open refuses its length', async (t) => {
      const large = '{"value":"' + 'q'.repeat(7000) + '"}'
      const value = codec.seal(large, true, NOW, NOW + 1)
      const { head, plaintext } = openByHand(value)
      t.equal(head, 'e2p')
      t.same(plaintext, plaintextOf(large, Math.ceil((10 + large.length + 1) / 32) * 32, NOW, NOW + 1))
      t.equal(codec.open(value), 'the value is too long', 'no cookie that large is accepted')
      t.match(codec.open(codec.seal(body, false, 1, 2)), { body }, 'and the codec still works afterwards')
    })

    t.test('many seals draw distinct random nonces, across refills of the nonce pool and across codecs', async (t) => {
      const other = encryptedCodec([Buffer.from(OTHER_SECRET)], aead)
      const nonces = new Set<string>()
      for (let i = 0; i < 600; i++) {
        const value = (i % 2 === 0 ? codec : other).seal(body, false, 1, 2)
        nonces.add(Buffer.from(value.slice(3), 'base64url').subarray(0, 24).toString('hex'))
      }
      t.equal(nonces.size, 600, 'no nonce repeats')
      // 14 400 bytes from a CSPRNG: each byte value appears about 56 times
      // (σ 7.5); a counter or a mostly-zero nonce would pile up on a few values.
      const counts = new Array<number>(256).fill(0)
      for (const hex of nonces) for (const byte of Buffer.from(hex, 'hex')) counts[byte] = (counts[byte] as number) + 1
      t.ok(Math.min(...counts) >= 15 && Math.max(...counts) <= 110, 'the nonce bytes are spread over all 256 values')
      const { plaintext } = openByHand(codec.seal(body, false, NOW, NOW))
      t.same(plaintext, plaintextOf(body, 32), 'the nonce is the first 24 bytes, as documented')
    })

    t.test('claimsPermanent reads the clear head only', async (t) => {
      t.equal(codec.claimsPermanent(codec.seal(body, true, 1, 2)), true)
      t.equal(codec.claimsPermanent(codec.seal(body, false, 1, 2)), false)
      t.equal(codec.claimsPermanent('e2p.anything'), true)
      t.equal(codec.claimsPermanent('e1p.anything'), false, 'nor is a version 1 head')
      t.equal(codec.claimsPermanent('2p.abc'), false, 'a signed-format head is not ours')
    })

    t.test('malformed values are refused with a reason, never a throw', async (t) => {
      const good = codec.seal(body, false, 1, 2)
      const text = good.slice(3)
      // Two buckets: 24 + 64 + 16 = 104 bytes, so the last character carries 2 unused bits.
      const twoBuckets = codec.seal('{"username":"' + 'x'.repeat(30) + '"}', false, 1, 2).slice(3)
      const last = twoBuckets.charCodeAt(twoBuckets.length - 1)
      const cases: Array<[string, string, RegExp]> = [
        ['too long', 'e2.' + 'A'.repeat(8200), /too long/],
        ['empty', '', /malformed/],
        ['no head', text, /malformed/],
        ['unknown version', '2.' + text, /malformed/],
        ['version 1', 'e1.' + text, /malformed/],
        ['head without dot', 'e2' + text, /malformed/],
        ['a signed cookie', '2.eyJ1c2VybmFtZSI6ImFkYSJ9.1.1.' + 'A'.repeat(43), /malformed/],
        ['only a head', 'e2.', /malformed/],
        ['too short', 'e2.' + text.slice(0, 40), /malformed/],
        ['not whole buckets', 'e2.' + text + 'AAAA', /malformed/],
        ['base64 padding', good + '==', /not canonical/],
        ['a character outside base64url', 'e2.' + text.slice(0, 10) + '+' + text.slice(11), /not canonical|malformed/],
        ['a whitespace inside', 'e2.' + text.slice(0, 10) + ' ' + text.slice(10), /not canonical/],
        ['unused trailing bits set', 'e2.' + twoBuckets.slice(0, -1) + String.fromCharCode(last + 1), /not canonical/],
        ['wrong key', encryptedCodec([Buffer.from(OTHER_SECRET)], aead).seal(body, false, 1, 2), /does not decrypt/]
      ]
      for (const [name, value, reason] of cases) {
        const opened = codec.open(value)
        t.type(opened, 'string', name)
        t.match(opened, reason, name)
      }
      t.equal(text.length, 96, '72 bytes: no unused bits')
      t.equal(twoBuckets.length, 139, '104 bytes: the last character carries 2 unused bits')
      t.match(codec.open('e2.' + twoBuckets), { body: /^\{"username":"x{30}"\}$/ }, 'the untouched two-bucket value opens')
    })

    t.test('a well-encrypted plaintext with bad padding is refused', async (t) => {
      t.match(codec.open(sealByHand(plaintextOf(body, 32))), { body }, 'the hand-built value is good')
      t.equal(codec.open(sealByHand(plaintextOf(body, 32, NOW, NOW, 0x00))), 'the padding is malformed', 'no 0x80 marker')
      t.equal(codec.open(sealByHand(plaintextOf(body, 32, NOW, NOW, 0x81))), 'the padding is malformed', 'a wrong marker')
      t.equal(codec.open(sealByHand(plaintextOf(body, 64))), 'the padding is malformed', 'a whole bucket too many')
      t.equal(codec.open(sealByHand(Buffer.alloc(32))), 'the padding is malformed', 'all zeros')
      t.equal(codec.open(sealByHand(plaintextOf('x'.repeat(22), 32))), 'the padding is malformed', 'a full bucket with no marker')
    })
  })
}

// draft-irtf-cfrg-xchacha-03, appendix A.3.1: AEAD_XChaCha20_Poly1305.
const KNOWN = {
  plaintext: Buffer.from("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it."),
  aad: Buffer.from('50515253c0c1c2c3c4c5c6c7', 'hex'),
  key: Buffer.from('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f', 'hex'),
  nonce: Buffer.from('404142434445464748494a4b4c4d4e4f5051525354555657', 'hex'),
  sealed: Buffer.from('bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e' +
    'c0875924c1c7987947deafd8780acf49', 'hex')
}

t.test('each backend gives the known answer of draft-irtf-cfrg-xchacha, in place or not, and refuses a changed byte', async (t) => {
  for (const name of ['noble', 'sodium-native'] as const) {
    const aead = BACKENDS.find((b) => b.name === name)
    await t.test(name, { skip: aead === undefined ? NO_SODIUM : false }, async (t) => {
      const { seal, open } = aead as Aead
      const out = Buffer.alloc(KNOWN.plaintext.length + 16)
      seal(out, KNOWN.plaintext, KNOWN.aad, KNOWN.nonce, KNOWN.key)
      t.same(out, KNOWN.sealed, 'ciphertext and tag')
      // In place, as the codec calls it: the ciphertext starts where the plaintext does.
      const room = Buffer.alloc(KNOWN.plaintext.length + 16)
      KNOWN.plaintext.copy(room)
      seal(room, room.subarray(0, KNOWN.plaintext.length), KNOWN.aad, KNOWN.nonce, KNOWN.key)
      t.same(room, KNOWN.sealed, 'in place')
      const plain = Buffer.alloc(KNOWN.plaintext.length)
      t.equal(open(plain, KNOWN.sealed, KNOWN.aad, KNOWN.nonce, KNOWN.key), true, 'it opens')
      t.same(plain, KNOWN.plaintext, 'to the plaintext')
      const changed = Buffer.from(KNOWN.sealed)
      changed[changed.length - 1] = (changed[changed.length - 1] as number) ^ 1
      t.equal(open(Buffer.alloc(KNOWN.plaintext.length), changed, KNOWN.aad, KNOWN.nonce, KNOWN.key), false, 'a changed tag')
      t.same(changed.subarray(0, -1), KNOWN.sealed.subarray(0, -1), 'a failed open leaves the input as it was')
      t.equal(open(Buffer.alloc(KNOWN.plaintext.length), KNOWN.sealed, Buffer.from('other'), KNOWN.nonce, KNOWN.key), false, 'another AAD')
    })
  }
})

t.test('the default backend is sodium-native when it loads, else noble, and a loader that fails gives noble', async (t) => {
  t.equal(defaultAead().name, sodium === undefined ? 'noble' : 'sodium-native')
  t.equal(defaultAead(), defaultAead(), 'chosen once')
  t.equal(encryptedCodec([Buffer.from(SECRET)]).backend, defaultAead().name, 'the codec uses it unless told otherwise')
  const missing = Object.assign(new Error("Cannot find module 'sodium-native'"), { code: 'MODULE_NOT_FOUND' })
  t.equal(aeadFrom(() => { throw missing }), noble, 'not installed')
  t.equal(aeadFrom(() => { throw new Error("Cannot find addon '.' imported from …") }), noble, 'no build for this platform')
  t.equal(aeadFrom(() => ({})).name, 'sodium-native', 'a module that loads is used')
})

t.test('each backend opens the other\'s cookies, of every size, after a rotation too, and refuses the other\'s tampered ones', { skip: sodium === undefined ? NO_SODIUM : false }, async (t) => {
  const accelerated = sodium as Aead
  const secrets = [Buffer.from(SECRET)]
  const rotated = [Buffer.from(OTHER_SECRET), Buffer.from(SECRET)]
  const pairs: Array<[string, Aead, Aead]> = [['noble → sodium-native', noble, accelerated], ['sodium-native → noble', accelerated, noble]]
  const bodies = ['', '{"a":1}', 'x'.repeat(21), 'x'.repeat(22), 'é✓🎉'.repeat(30), 'q'.repeat(1000), 'z'.repeat(6000)]
  for (const [name, from, to] of pairs) {
    const sealer = encryptedCodec(secrets, from)
    const opener = encryptedCodec(secrets, to)
    const afterRotation = encryptedCodec(rotated, to)
    for (const body of bodies) {
      for (const permanent of [false, true]) {
        const value = sealer.seal(body, permanent, 1_700_000_000, 1_700_000_100)
        const expected = { body, permanent, created: 1_700_000_000, issued: 1_700_000_100, keyIndex: 0, version: 0 }
        t.same(opener.open(value), expected, `${name}: ${body.length} characters${permanent ? ', permanent' : ''}`)
        t.same(afterRotation.open(value), { ...expected, keyIndex: 1 }, `${name}: the old key, after a failed new one`)
        const blob = Buffer.from(value.slice(value.indexOf('.') + 1), 'base64url')
        for (const at of [0, 23, 24, blob.length - 17, blob.length - 1]) {
          const copy = Buffer.from(blob)
          copy[at] = (copy[at] as number) ^ 0x80
          const tampered = `${value.slice(0, value.indexOf('.'))}.${copy.toString('base64url')}`
          t.equal(opener.open(tampered), 'the value does not decrypt with any key', `${name}: byte ${at} of ${blob.length} changed`)
        }
      }
    }
  }
})

t.test('both backends write byte-identical cookies for the same key, nonces and sessions', { skip: sodium === undefined ? NO_SODIUM : false }, async (t) => {
  // Each codec fills its own nonce pool on its first seal: with the CSPRNG
  // replaced by a fixed sequence, both draw the same nonces.
  const original = crypto.randomFillSync
  crypto.randomFillSync = (<T extends NodeJS.ArrayBufferView>(buffer: T): T => {
    const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + 3) & 0xff
    return buffer
  }) as typeof original
  syncBuiltinESMExports()
  t.teardown(() => {
    crypto.randomFillSync = original
    syncBuiltinESMExports()
  })
  const secrets = [Buffer.from(SECRET), Buffer.from(OTHER_SECRET)]
  const fromNoble = encryptedCodec(secrets, noble)
  const fromSodium = encryptedCodec(secrets, sodium as Aead)
  const sessions: Array<[string, boolean]> = [['', false], ['{"username":"ada"}', true], ['é✓🎉'.repeat(50), false], ['q'.repeat(1500), true], ['z'.repeat(7000), false]]
  const first = fromNoble.seal('{"a":1}', false, 1, 2)
  t.same([...Buffer.from(first.slice(3), 'base64url').subarray(0, 24)], Array.from({ length: 24 }, (_, i) => (i * 7 + 3) & 0xff), 'the nonce is the fixed sequence')
  t.equal(fromSodium.seal('{"a":1}', false, 1, 2), first, 'the first cookie')
  for (let round = 0; round < 300; round++) {
    const [body, permanent] = sessions[round % sessions.length] as [string, boolean]
    const value = fromNoble.seal(body, permanent, 1_700_000_000 + round, 1_700_000_000 + round)
    if (fromSodium.seal(body, permanent, 1_700_000_000 + round, 1_700_000_000 + round) !== value) {
      t.fail(`cookie ${round} differs`)
      return
    }
  }
  t.pass('300 more cookies, across a refill of the nonce pools, are the same string')
})
