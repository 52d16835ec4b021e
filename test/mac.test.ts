/**
 * lib/codecs/mac.ts: HMAC-SHA256 from two one-shot hashes, checked against
 * Python's `hmac` (an independent implementation) and against `createHmac`,
 * and its verify refusing every tag that is not the canonical one.
 */
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import t from 'tap'
import { hmacSha256, MESSAGE_AT } from '../lib/codecs/mac.js'
import { hmacTag } from './helpers/mac.js'

// Known answers from Python's hmac and hashlib:
// base64.urlsafe_b64encode(hmac.new(key, text.encode(), hashlib.sha256).digest()).rstrip(b'=').
const KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i))
const VECTORS: Array<[string, Buffer, string, string]> = [
  ['the empty text', KEY, '', '04tCCW2A9F-Ca0Sp1WB95ySWpBXT9KGoyI47udqNwcs'],
  ['one character', KEY, 'a', 'UWfdFdGBZqndbKo1IvcCbxPS-CwFK7JFyfM2ZYggUiI'],
  ['a signed value', KEY, '2p.eyJ4IjoxfQ.tp421h.tp421h', '43d1yTGB_fjG-zBfdScT4LgdXZWp7OsBou0YE8QOqGM'],
  ['100 characters of 2 UTF-8 bytes', KEY, 'é'.repeat(100), 'VeVtSC9bzZTf_C6Y17aziHVJclmhra9BmH34I8bH0-o'],
  ['5000 characters, past the first buffer', KEY, 'x'.repeat(5000), 'qAVA76h-xlvsnBH3XpVUGOZSDdCXK4ioaCjGG34txQM'],
  ['a key of exactly one block', Buffer.from(Array.from({ length: 64 }, (_, i) => i)), 'abc', 'arVBtIadynHEyhHYuxsCUzt4mlV1gxYUKSksdAS8IfY'],
  ['a key longer than a block, hashed first', Buffer.from(Array.from({ length: 100 }, (_, i) => i)), 'abc', 'JgRtXnQi-dWsx3K6W1F9Coi5Va2AglISm8o4ibUVUCk'],
  // RFC 4231, test case 2: 5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843.
  ['RFC 4231 test case 2', Buffer.from('Jefe'), 'what do ya want for nothing?', 'W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM']
]

t.test('hmacSha256 signs as HMAC-SHA256, matching Python hmac', async (t) => {
  for (const [name, key, text, tag] of VECTORS) {
    const mac = hmacSha256(key)
    t.equal(mac.sign(text), tag, name)
    t.equal(mac.verify(text, tag), true, `${name}: its tag verifies`)
  }
})

t.test('a message built in place gets the same tag as the same text', async (t) => {
  const mac = hmacSha256(KEY)
  for (const [, key, text, tag] of VECTORS) {
    if (key !== KEY || /[^\x20-\x7e]/.test(text)) continue
    const out = mac.room(text.length)
    const at = out.write(text, MESSAGE_AT, 'latin1')
    t.equal(mac.signRoom(at), tag, `${text.length} characters`)
  }
  // A room larger than the buffer keeps the pad block in front of the message.
  const long = 'y'.repeat(3000)
  const out = mac.room(long.length)
  out.write(long, MESSAGE_AT, 'latin1')
  t.equal(mac.signRoom(long.length), hmacTag(KEY, long), 'after the buffer grew')
})

t.test('hmacSha256 agrees with createHmac for any key and text, in any order of lengths', async (t) => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 100 }), fc.array(fc.string({ unit: 'binary', maxLength: 3000 }), { minLength: 1, maxLength: 4 }), (keyBytes, texts) => {
    const key = Buffer.from(keyBytes)
    const mac = hmacSha256(key)
    // Several texts through one MAC: the reused buffers must not leak bytes from one to the next.
    return texts.every((text) => mac.sign(text) === hmacTag(key, text) && mac.verify(text, hmacTag(key, text)))
  }), { numRuns: 300 })
  t.pass('300 random keys and runs of texts agree')
})

t.test('hmacSha256 verify refuses a wrong key, a changed text and every non-canonical tag', async (t) => {
  const key = randomBytes(32)
  const mac = hmacSha256(key)
  const text = '2.eyJ4IjoxfQ.tp421h.tp421h'
  const tag = mac.sign(text)
  t.equal(hmacSha256(randomBytes(32)).verify(text, tag), false, 'another key')
  t.equal(mac.verify(text + 'x', tag), false, 'another text')
  t.equal(mac.verify(text, tag.slice(0, -2) + (tag.slice(-2) === 'AA' ? 'BA' : 'AA')), false, 'another tag')
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
