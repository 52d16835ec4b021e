import { createHmac, randomBytes } from 'node:crypto'
import fc from 'fast-check'
import t from 'tap'
import { hmacSha256 } from '../lib/codecs/signed.js'

t.test('hmacSha256 gives the same MAC as createHmac for any text and key', async (t) => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.string({ unit: 'binary', maxLength: 300 }), (keyBytes, text) => {
    const key = Buffer.from(keyBytes)
    return hmacSha256(key)(text) === createHmac('sha256', key).update(text).digest('base64url')
  }), { numRuns: 500 })
  t.pass('500 random keys and texts agree')
})

t.test('hmacSha256 agrees with createHmac on the derived 32-byte keys it is used with', async (t) => {
  const key = randomBytes(32)
  const mac = hmacSha256(key)
  for (const text of ['', 'a', '1p.eyJ4IjoxfQ.tp421h.tp421h', 'é'.repeat(100), 'x'.repeat(5000)]) {
    t.equal(mac(text), createHmac('sha256', key).update(text).digest('base64url'), `text of ${text.length} characters`)
  }
})
