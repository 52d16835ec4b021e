/**
 * lib/codecs/signed.ts on its own: the wire format, rotation, each reason a
 * value is rejected, and compression only when it makes the value shorter.
 */
import { createHash, hkdfSync } from 'node:crypto'
import { deflateRawSync } from 'node:zlib'
import fc from 'fast-check'
import t from 'tap'
import { deriveKeys } from '../lib/codecs/mac.js'
import { signedCodec, signedIds } from '../lib/codecs/signed.js'
import type { Envelope } from '../lib/codecs/types.js'
import { parseContent, stringifyContent } from '../lib/serialize.js'
import { OTHER_SECRET, SECRET } from './helpers/build.js'
import { hmacTag } from './helpers/mac.js'

const KEY = Buffer.from(SECRET)
const OLD = Buffer.from(OTHER_SECRET)
const CREATED = 1_700_000_000
const ISSUED = 1_700_000_500
const codec = signedCodec([KEY])

/** `n` printable ASCII characters (no quote or backslash), the same on every run. */
function printable (n: number): string {
  let out = ''
  for (let i = 0; out.length < n; i++) {
    for (const byte of createHash('sha256').update(`seed ${i}`).digest()) {
      const c = 32 + (byte % 95)
      if (c !== 34 && c !== 92 && out.length < n) out += String.fromCharCode(c)
    }
  }
  return out
}

function opened (value: string): Envelope {
  const result = codec.open(value)
  if (typeof result === 'string') throw new Error(`rejected: ${result}`)
  return result
}

t.test('a sealed body opens again with its flags and times', async (t) => {
  const body = '{"username":"ada"}'
  const value = codec.seal(body, false, CREATED, ISSUED)
  t.same(opened(value), { body, permanent: false, created: CREATED, issued: ISSUED, keyIndex: 0, version: 0 })
  const permanent = codec.seal(body, true, CREATED, ISSUED)
  t.same(opened(permanent), { body, permanent: true, created: CREATED, issued: ISSUED, keyIndex: 0, version: 0 })
  t.equal(codec.claimsPermanent(permanent), true)
  t.equal(codec.claimsPermanent(value), false)
  t.equal(codec.claimsPermanent('2z.x'), false, 'a compressed non-permanent value')
  t.equal(codec.claimsPermanent('2pz.x'), true, 'a compressed permanent value')
})

t.test('the value follows the documented wire format, readable by its holder', async (t) => {
  const body = '{"username":"ada","when":{"~d":1}}'
  const value = codec.seal(body, true, CREATED, ISSUED)
  const [head, payload, created, issued, sig] = value.split('.') as [string, string, string, string, string]
  t.equal(head, '2p')
  t.equal(Buffer.from(payload, 'base64url').toString(), body, 'the payload is the body in base64url')
  t.equal(created, CREATED.toString(36))
  t.equal(issued, ISSUED.toString(36))
  // HMAC-SHA256 under an HKDF-SHA256 subkey, computed here independently.
  const key = Buffer.from(hkdfSync('sha256', KEY, Buffer.alloc(0), 'fastify-typed-session signed v2', 32))
  t.equal(sig, hmacTag(key, value.slice(0, value.lastIndexOf('.'))))
  t.equal(sig.length, 43)
  t.same(deriveKeys([KEY], 'fastify-typed-session signed v2'), [key])
  t.notSame(deriveKeys([KEY], 'another purpose'), [key], 'each purpose gets its own subkey')
})

t.test('any sequence of seals gives exactly the value built the plain way, with Buffers', async (t) => {
  const key = deriveKeys([KEY], 'fastify-typed-session signed v2')[0] as Buffer
  // The documented format, built with a fresh Buffer for every step.
  const plain = (body: string, permanent: boolean, created: number, issued: number): string => {
    let payload = Buffer.from(body).toString('base64url')
    let head = permanent ? '2p' : '2'
    const deflated = deflateRawSync(body).toString('base64url')
    if (body.length >= 128 && deflated.length < payload.length) {
      payload = deflated
      head += 'z'
    }
    const text = `${head}.${payload}.${created.toString(36)}.${issued.toString(36)}`
    return `${text}.${hmacTag(key, text)}`
  }
  // ASCII and not, short and long (past the scratch buffer's first size), compressible and not.
  const body = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 300 }),
    fc.string({ unit: 'binary', minLength: 300, maxLength: 3000 }),
    fc.integer({ min: 100, max: 4000 }).map((n) => printable(n)),
    fc.tuple(fc.string({ maxLength: 8 }), fc.integer({ min: 1, max: 900 })).map(([unit, n]) => unit.repeat(n))
  )
  const seconds = fc.integer({ min: 1, max: 2 ** 40 })
  const seal = fc.record({ body, permanent: fc.boolean(), created: seconds, issued: seconds })
  fc.assert(fc.property(fc.array(seal, { minLength: 1, maxLength: 6 }), (seals) => seals.every((s) =>
    codec.seal(s.body, s.permanent, s.created, s.issued) === plain(s.body, s.permanent, s.created, s.issued))), { numRuns: 300 })
  t.pass('every seal matched')
})

t.test('stringify and parse are the tagged JSON of the session content', async (t) => {
  t.equal(codec.stringify, stringifyContent)
  t.equal(codec.parse, parseContent)
})

t.test('with rotation the first key signs and every key verifies, saying which one did', async (t) => {
  const body = '{"a":1}'
  const oldValue = signedCodec([OLD]).seal(body, false, CREATED, ISSUED)
  const rotated = signedCodec([KEY, OLD])
  t.match(signedCodec([OLD]).open(oldValue), { keyIndex: 0 }, 'the old codec alone verifies with its only key')
  const fromOld = rotated.open(oldValue)
  t.match(fromOld, { body, keyIndex: 1 }, 'a value signed with the old key verifies with index 1')
  const fresh = rotated.seal(body, false, CREATED, ISSUED)
  t.match(rotated.open(fresh), { keyIndex: 0 })
  t.equal(fresh, codec.seal(body, false, CREATED, ISSUED), 'the first key signs')
  t.equal(signedCodec([OLD]).open(fresh), 'the signature does not match any key', 'the old key alone does not verify it')
  t.match(signedCodec([OLD, Buffer.from('a third key of at least 32 bytes!'), KEY]).open(fresh), { keyIndex: 2 })
})

t.test('each kind of bad value is rejected with its reason', async (t) => {
  const value = codec.seal('{"a":1}', false, CREATED, ISSUED)
  const parts = value.split('.')
  const replace = (index: number, part: string): string => parts.map((p, i) => (i === index ? part : p)).join('.')
  const cases: Array<[string, string, string]> = [
    ['longer than 8192 characters', 'a'.repeat(8193), 'the value is too long'],
    ['empty', '', 'the value is malformed'],
    ['four parts', parts.slice(0, 4).join('.'), 'the value is malformed'],
    ['six parts', `${value}.x`, 'the value is malformed'],
    ['an unknown head', replace(0, '3'), 'the value is malformed'],
    ['the head of version 1', replace(0, '1'), 'the value is malformed'],
    ['head flags in the wrong order', replace(0, '2zp'), 'the value is malformed'],
    ['a creation time of 0', replace(2, '0'), 'the value is malformed'],
    ['a creation time with a leading zero', replace(2, `0${parts[2] as string}`), 'the value is malformed'],
    ['a creation time in capitals', replace(2, (parts[2] as string).toUpperCase()), 'the value is malformed'],
    ['a creation time of 10 digits', replace(2, 'zzzzzzzzzz'), 'the value is malformed'],
    ['an empty issue time', replace(3, ''), 'the value is malformed'],
    ['an issue time that is not base 36', replace(3, '-1'), 'the value is malformed'],
    ['a signature of 42 characters', replace(4, (parts[4] as string).slice(1)), 'the value is malformed'],
    ['a signature of 44 characters', replace(4, `${parts[4] as string}A`), 'the value is malformed'],
    ['a signature of 43 characters and 44 bytes', replace(4, `${(parts[4] as string).slice(2)}\u00e9A`), 'the value is malformed'],
    ['a changed payload', replace(1, `${parts[1] as string}A`), 'the signature does not match any key'],
    ['a changed head', replace(0, '2p'), 'the signature does not match any key'],
    ['a changed creation time', replace(2, (CREATED + 1).toString(36)), 'the signature does not match any key'],
    ['a changed issue time', replace(3, (ISSUED - 1).toString(36)), 'the signature does not match any key'],
    ['a changed signature', replace(4, `${(parts[4] as string).slice(0, -2)}AA`), 'the signature does not match any key']
  ]
  for (const [name, bad, reason] of cases) t.equal(codec.open(bad), reason, name)
})

t.test('a signature that differs only in its unused trailing bits is not the canonical text and is rejected', async (t) => {
  const value = codec.seal('{"a":1}', false, CREATED, ISSUED)
  const sig = value.slice(-43)
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  for (const flip of [1, 2, 3]) {
    const other = sig.slice(0, -1) + alphabet[alphabet.indexOf(sig.at(-1) as string) ^ flip]
    t.same(Buffer.from(other, 'base64url'), Buffer.from(sig, 'base64url'), 'the same bytes')
    t.equal(codec.open(value.slice(0, -43) + other), 'the signature does not match any key')
  }
})

t.test('a validly signed payload that does not inflate is rejected', async (t) => {
  const key = deriveKeys([KEY], 'fastify-typed-session signed v2')[0] as Buffer
  const sign = (head: string, payload: string): string => {
    const text = `${head}.${payload}.${CREATED.toString(36)}.${ISSUED.toString(36)}`
    return `${text}.${hmacTag(key, text)}`
  }
  t.equal(codec.open(sign('2z', Buffer.from([0xff, 0xfe, 0xfd]).toString('base64url'))), 'the payload cannot be inflated')
  t.equal(codec.open(sign('2pz', '')), 'the payload cannot be inflated', 'an empty deflate stream')
  const bomb = deflateRawSync(Buffer.alloc((1 << 20) + 1, 0x61)).toString('base64url')
  t.equal(codec.open(sign('2z', bomb)), 'the payload cannot be inflated', 'a body above 1 MiB')
  const limit = deflateRawSync(Buffer.alloc(1 << 20, 0x61)).toString('base64url')
  t.equal((opened(sign('2z', limit)).body).length, 1 << 20, 'a body of exactly 1 MiB inflates')
  t.match(codec.open(sign('2', Buffer.from([0xff, 0xfe]).toString('base64url'))), { body: '\ufffd\ufffd' },
    'an uncompressed payload is not parsed here: that is the policy\'s job')
})

t.test('a body is compressed only when it makes the value shorter', async (t) => {
  const short = JSON.stringify({ a: 'x'.repeat(100) })
  t.ok(short.length < 128)
  t.equal(codec.seal(short, false, CREATED, ISSUED).split('.')[0], '2', 'a body under 128 characters is never compressed')

  const compressible = JSON.stringify({ a: 'ab'.repeat(200) })
  const value = codec.seal(compressible, false, CREATED, ISSUED)
  t.equal(value.split('.')[0], '2z', 'a compressible body is deflated')
  t.ok(value.length < Buffer.from(compressible).toString('base64url').length)
  t.equal(opened(value).body, compressible)
  t.match(opened(codec.seal(compressible, true, CREATED, ISSUED)), { permanent: true, body: compressible })
  t.equal(codec.seal(compressible, true, CREATED, ISSUED).split('.')[0], '2pz')

  // 130 printable characters from a fixed pseudo-random sequence: too few
  // for a Huffman table to pay for itself, so deflate makes them longer.
  const random = JSON.stringify({ a: printable(130) })
  t.ok(random.length >= 128)
  t.ok(deflateRawSync(random).toString('base64url').length >= Buffer.from(random).toString('base64url').length)
  const plain = codec.seal(random, false, CREATED, ISSUED)
  t.equal(plain.split('.')[0], '2', 'a body that deflate cannot shrink is kept as it is')
  t.equal(opened(plain).body, random)

  // At exactly 128 characters compression is tried.
  const edge = JSON.stringify({ a: 'c'.repeat(128 - 8) })
  t.equal(edge.length, 128)
  t.equal(codec.seal(edge, false, CREATED, ISSUED).split('.')[0], '2z')
})

t.test('a body with non-ASCII characters round-trips as UTF-8', async (t) => {
  const body = JSON.stringify({ name: 'Zoë 🐍 名前' })
  t.equal(opened(codec.seal(body, false, CREATED, ISSUED)).body, body)
  const long = JSON.stringify({ name: 'Zoë 🐍 名前'.repeat(40) })
  const value = codec.seal(long, false, CREATED, ISSUED)
  t.equal(value.split('.')[0], '2z')
  t.equal(opened(value).body, long)
})

t.test('store-mode ids are random, signed with the first key and verified with any', async (t) => {
  const ids = signedIds([KEY])
  const id = ids.create()
  t.match(id, /^[A-Za-z0-9_-]{43}$/, '32 random bytes in base64url')
  t.equal(Buffer.from(id, 'base64url').length, 32)
  t.not(ids.create(), id, 'two ids differ')
  const value = ids.sign(id)
  const key = Buffer.from(hkdfSync('sha256', KEY, Buffer.alloc(0), 'fastify-typed-session id v2', 32))
  t.equal(value, `${id}.${hmacTag(key, id)}`, 'ID.SIG with the id subkey')
  t.same(ids.verify(value), { id, keyIndex: 0 })
  const rotated = signedIds([OLD, KEY])
  t.same(rotated.verify(value), { id, keyIndex: 1 }, 'an old key verifies, saying so')
  t.not(rotated.sign(id), value, 'the first key signs')
  t.not(value.slice(44), codec.seal('', false, CREATED, ISSUED).slice(-43), 'ids and cookies use different subkeys')

  const sig = value.slice(44)
  const cases: Array<[string, string, string]> = [
    ['empty', '', 'the value is malformed'],
    ['the id alone', id, 'the value is malformed'],
    ['a short id', `${id.slice(1)}.${sig}`, 'the value is malformed'],
    ['a long signature', `${value}A`, 'the value is malformed'],
    ['a character outside base64url', `${id.slice(0, -1)}+.${sig}`, 'the value is malformed'],
    ['a trailing newline', `${value}\n`, 'the value is malformed'],
    ['another id', `${ids.create()}.${sig}`, 'the signature does not match any key'],
    ['a changed signature', `${id}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`, 'the signature does not match any key']
  ]
  for (const [name, bad, reason] of cases) t.equal(ids.verify(bad), reason, name)
  t.equal(signedIds([OLD]).verify(value), 'the signature does not match any key', 'an unknown key')
})
