/**
 * The chunk field in the codecs' heads: written only when the value does
 * not fit in one cookie, with N counting the field itself; read back with
 * the whole value's length held to N and L; covered by the MAC (signed)
 * and the AAD (encrypted); and refused by a codec allowing fewer chunks.
 */
import t from 'tap'
import { chunkField, checkLayout, readLayout } from '../lib/codecs/chunk-field.js'
import { encryptedCodec } from '../lib/codecs/encrypted.js'
import { signedCodec } from '../lib/codecs/signed.js'
import { MAX_VALUE_LENGTH } from '../lib/codecs/types.js'
import { SECRET } from './helpers/build.js'
import { noise } from './helpers/chunks.js'

const KEY = Buffer.from(SECRET)
const body = JSON.stringify({ username: noise(5000) })

t.test('chunkField: empty when the value fits, else N (counting the field) and L in base36', async (t) => {
  t.equal(chunkField(100, undefined), '')
  t.equal(chunkField(100, { single: 100, length: 98 }), '')
  t.equal(chunkField(101, { single: 100, length: 98 }), '-2-2q', '101 + 5 characters in chunks of 98')
  t.equal(chunkField(191, { single: 100, length: 98 }), '-2-2q', '196 characters: two full chunks')
  t.equal(chunkField(192, { single: 100, length: 98 }), '-3-2q', '197 characters need a third')
  t.equal(chunkField(4000, { single: 3000, length: 1000 }), '-5-rs')
})

t.test('readLayout and checkLayout hold a value to its N and L', async (t) => {
  t.same(readLayout('2pz-3-2q'), { count: 3, length: 98 })
  t.same(readLayout('e2v1-a-6bk'), { count: 10, length: MAX_VALUE_LENGTH })
  t.equal(readLayout('2-a-6bl'), 'the chunk length is too long')
  for (const bad of ['2-1-2q', '2-0-2q', '2-b-2q', '2-3-02q', '2-3-', '2--3-2q', '2-3-2q-', '2-31-2q', '2-3-2q3q']) {
    t.equal(readLayout(bad), 'the chunk field is malformed', bad)
  }
  t.equal(checkLayout(undefined, undefined, MAX_VALUE_LENGTH, 4), undefined)
  t.equal(checkLayout(undefined, undefined, MAX_VALUE_LENGTH + 1, 4), 'the value is too long')
  t.equal(checkLayout('3', '2s', 201, 4), undefined, '201 characters in chunks of 100: three')
  t.equal(checkLayout('3', '2s', 300, 4), undefined)
  t.equal(checkLayout('3', '2s', 200, 4), 'the value does not match its chunk layout', 'two chunks would do')
  t.equal(checkLayout('3', '2s', 301, 4), 'the value does not match its chunk layout', 'more than three')
  t.equal(checkLayout('5', '2s', 450, 4), 'the value says 5 chunks, more than maxChunks (4)')
  t.equal(checkLayout('2', '6bl', 8200, 4), 'the value does not match its chunk layout', 'L above the longest cookie value')
})

for (const [format, make] of [
  ['signed', (maxChunks: number) => signedCodec([KEY], 0, maxChunks)],
  ['encrypted', (maxChunks: number) => encryptedCodec([KEY], undefined, 0, maxChunks)]
] as const) {
  t.test(`${format}: a value sealed with a plan carries N and L, opens whole, and its N and L are authenticated`, async (t) => {
    const codec = make(10)
    const plan = { single: 1000, length: 1000 }
    const fits = codec.seal('{"a":1}', true, 1, 2, plan)
    t.notMatch(fits, /^[^.]*-/, 'a value that fits has no chunk field')
    t.match(codec.open(fits), { body: '{"a":1}', permanent: true, created: 1, issued: 2 })
    const value = codec.seal(body, false, 1, 2, plan)
    const layout = readLayout(value.slice(0, value.indexOf('.')))
    if (typeof layout === 'string') throw new Error(layout)
    t.equal(layout.length, 1000)
    t.equal(layout.count, Math.ceil(value.length / 1000), 'N counts the whole value, its field included')
    t.ok(layout.count >= 4, `${layout.count} chunks`)
    t.match(codec.open(value), { body, permanent: false, created: 1, issued: 2 })
    t.equal(make(layout.count - 1).open(value), `the value says ${layout.count} chunks, more than maxChunks (${layout.count - 1})`)
    t.equal(make(1).open(value), `the value says ${layout.count} chunks, more than maxChunks (1)`, 'a codec of one cookie refuses it')
    t.equal(codec.open(value.slice(0, 500) + value.slice(1500)), 'the value does not match its chunk layout', 'a chunk short')
    // Another L (or N) whose layout the length still matches: only the MAC or the tag can tell.
    const forged = value.replace(/-([0-9a-z])-rs\./, '-$1-rt.')
    t.not(forged, value)
    t.equal(codec.open(forged), format === 'signed' ? 'the signature does not match any key' : 'the value does not decrypt with any key')
    t.equal(codec.open(value.replace(/-[0-9a-z]-rs\./, '.')), format === 'signed' ? 'the signature does not match any key' : 'the value does not decrypt with any key',
      'nor can the field be dropped')
  })
}
