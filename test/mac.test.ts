import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import t from 'tap'
import { blake2bMac } from '../lib/codecs/signed.js'
import { blake2b } from './helpers/mac.js'

// Known answers from Python's hashlib (an independent implementation):
// base64url(blake2b(text.encode(), key=bytes(range(32)), digest_size=32).digest()).
const KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i))
const VECTORS: Array<[string, string]> = [
  ['', 'TlHnqRP8gBN9pSiA_syhdb-B4RfVxoEm3Cd0AzUX6g0'],
  ['a', 'hGkbO70YB9CyQtYdHf2qSqJxQEHCIqIl5FIdpbFY0U8'],
  ['1p.eyJ4IjoxfQ.tp421h.tp421h', '7qjQBH1TR51bU0ImUJJ412XFX4LhzrbDUB3UWnIhvlQ'],
  ['é'.repeat(100), 'zzH6sLghIWenxvowfHdam51NSwjhiYG_ftuSEaMDx1U'],
  ['x'.repeat(5000), 'mrYahAcWCMwsytHzdW5yydHlSnmKbJIYa8N-PXy0Vao']
]

t.test('blake2bMac signs as keyed BLAKE2b-256, matching Python hashlib', async (t) => {
  const mac = blake2bMac(KEY)
  for (const [text, tag] of VECTORS) {
    t.equal(mac.sign(text), tag, `text of ${text.length} characters`)
    t.equal(mac.verify(text, tag), true, `its tag verifies (${text.length} characters)`)
  }
})

t.test('blake2bMac agrees with a plain libsodium call for any key and text, in any order of lengths', async (t) => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.array(fc.string({ unit: 'binary', maxLength: 3000 }), { minLength: 1, maxLength: 4 }), (keyBytes, texts) => {
    const key = Buffer.from(keyBytes)
    const mac = blake2bMac(key)
    // Several texts through one MAC: the reused buffers must not leak bytes from one to the next.
    return texts.every((text) => mac.sign(text) === blake2b(key, text) && mac.verify(text, blake2b(key, text)))
  }), { numRuns: 300 })
  t.pass('300 random keys and runs of texts agree')
})

t.test('blake2bMac verify refuses a wrong key, a changed text and every non-canonical tag', async (t) => {
  const key = randomBytes(32)
  const mac = blake2bMac(key)
  const text = '1.eyJ4IjoxfQ.tp421h.tp421h'
  const tag = mac.sign(text)
  t.equal(blake2bMac(randomBytes(32)).verify(text, tag), false, 'another key')
  t.equal(mac.verify(text + 'x', tag), false, 'another text')
  t.equal(mac.verify(text, tag.slice(0, -1)), false, 'a tag one character short')
  t.equal(mac.verify(text, tag + 'A'), false, 'a tag one character long')
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  for (const flip of [1, 2, 3]) {
    const flipped = tag.slice(0, -1) + alphabet[alphabet.indexOf(tag.at(-1) as string) ^ flip]
    t.same(Buffer.from(flipped, 'base64url'), Buffer.from(tag, 'base64url'), `flip ${flip}: the same bytes`)
    t.equal(mac.verify(text, flipped), false, `flip ${flip}: unused bits changed`)
  }
  // The standard alphabet's '+' and '/' decode to the same bytes as '-' and '_'.
  let other = text
  for (let i = 0; !/[-_]/.test(mac.sign(other)); i++) other = `${text}.${i}`
  const standard = mac.sign(other).replace(/-/g, '+').replace(/_/g, '/')
  t.same(Buffer.from(standard, 'base64'), Buffer.from(mac.sign(other), 'base64url'), 'the same bytes in the standard alphabet')
  t.equal(mac.verify(other, standard), false, 'the standard alphabet')
  t.equal(mac.verify(text, 'é' + tag.slice(1)), false, 'a non-ASCII character')
})
