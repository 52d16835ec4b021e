import { createHmac } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { isDeepStrictEqual } from 'node:util'
import { deflateSync, inflateSync } from 'node:zlib'
import fc from 'fast-check'
import t from 'tap'
import type { Session } from '../lib/index.js'
import { deriveFlaskKeys, encodeTimestamp, flaskCodec, parseFlask, stringifyFlask } from '../lib/codecs/flask.js'
import { httpDate, MAX_DEPTH, MAX_PARSE_DEPTH, parseFlaskJson, parseHttpDate, writeFlaskValue } from '../lib/codecs/flask-json.js'
import { MalformedValue, UnserializableValue, type Flash, type SessionContent } from '../lib/serialize.js'
import { atTime, build, sessionCookie, setCookies } from './helpers/build.js'
import type { Described } from './helpers/flask.js'

interface Vector {
  name: string
  secret: string
  cookie: string
  json: string
  python: { type: 'dict', value: Record<string, Described> }
}

/** Cookies made by the real Flask (test/fixtures/flask/generate.py), signed at `now`. */
const vectors = JSON.parse(readFileSync(new URL('./fixtures/flask/vectors.json', import.meta.url), 'utf8')) as {
  now: number
  cases: Vector[]
}
const NOW = vectors.now
const vector = (name: string): Vector => vectors.cases.find((c) => c.name === name) as Vector

const KEY = Buffer.from('test key')
const codec = flaskCodec([KEY])

type AnySession = Session<Record<string, unknown>>

/** The JS value a Python value maps to, from Flask's own description of it. */
function mapped (d: Described): unknown {
  const v = d.value as string
  switch (d.type) {
    case 'int': {
      const n = BigInt(v)
      return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n
    }
    case 'float':
      return ({ nan: NaN, inf: Infinity, '-inf': -Infinity } as Record<string, number>)[v] ?? Number(v)
    case 'None':
      return null
    case 'list':
    case 'tuple':
      return (d.value as Described[]).map(mapped)
    case 'dict':
      return Object.fromEntries(Object.entries(d.value as Record<string, Described>).map(([k, x]) => [k, mapped(x)]))
    case 'bytes':
      return Buffer.from(v, 'base64')
    case 'datetime':
      return new Date(v)
    default: // str, bool, Markup (a string) and UUID (str(uuid) is dashed lowercase)
      return d.value
  }
}

/** Flask's session dict, split as our content: data without _permanent, and the flashes. */
function expectedContent (v: Vector): { data: Record<string, unknown>, flashes: unknown, permanent: boolean } {
  const all = mapped(v.python) as Record<string, unknown>
  const { _permanent: permanent = false, _flashes: flashes = [], ...data } = all
  return { data, flashes, permanent: permanent as boolean }
}

const content = (entries: Array<[string, unknown]>, flashes: Flash[] = []): SessionContent =>
  ({ data: new Map(entries), flashes })

/** Signs `text` the way itsdangerous does, for hand-made cookies. */
function sign (text: string, key = KEY): string {
  const [derived] = deriveFlaskKeys([key])
  return `${text}.${createHmac('sha1', derived as Buffer).update(text).digest('base64url')}`
}

const b64 = (text: string | Buffer): string => Buffer.from(text).toString('base64url')

/** The error `fn` throws (tap's `t.throws` cannot match a class by instanceof). */
function thrown (fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return undefined
}

t.test('the wire matches the facts of FLASK_FORMAT.md', async (t) => {
  t.equal((deriveFlaskKeys([Buffer.from('dev-secret')])[0] as Buffer).toString('hex').slice(0, 8), '48a4b423')
  t.equal(encodeTimestamp(1700000000), 'ZVPxAA')
  t.equal(encodeTimestamp(255), '_w', 'leading zero bytes are removed')
  t.equal(encodeTimestamp(0x10000), 'AQAA')
})

t.test('every cookie the real Flask made opens with every value in its mapped type', async (t) => {
  for (const v of vectors.cases) {
    const opened = flaskCodec([KEY, Buffer.from('old key')]).open(v.cookie)
    if (typeof opened === 'string') {
      t.fail(`${v.name}: ${opened}`)
      continue
    }
    const expected = expectedContent(v)
    t.equal(opened.issued, NOW, `${v.name}: issued is the timestamp`)
    t.equal(opened.created, NOW, `${v.name}: created is the timestamp too`)
    t.equal(opened.keyIndex, v.secret === 'test key' ? 0 : 1, `${v.name}: keyIndex`)
    t.equal(opened.permanent, expected.permanent, `${v.name}: permanent`)
    const parsed = codec.parse(opened.body)
    t.ok(isDeepStrictEqual(Object.fromEntries(parsed.data), expected.data), `${v.name}: the data`, {
      found: Object.fromEntries(parsed.data),
      wanted: expected.data
    })
    t.same(parsed.flashes, expected.flashes, `${v.name}: the flashes`)
    t.equal(codec.stringify(parsed), opened.body, `${v.name}: the body is canonical`)
  }
})

t.test('the types of the every-type vector map as the design says', async (t) => {
  const opened = codec.open(vector('every type').cookie)
  if (typeof opened === 'string') throw new Error(opened)
  const d = Object.fromEntries(codec.parse(opened.body).data)
  t.equal(d.big, 18446744073709551617n)
  t.ok(Array.isArray(d.tuple))
  t.ok(Buffer.isBuffer(d.bytes))
  t.ok(d.datetime instanceof Date)
  t.equal(d.uuid, '12345678-1234-5678-1234-56781234abcd')
  t.equal(d.markup, '<b>bold</b> &amp; safe')
  t.equal(d.unicode, 'héllo wörld ✓ 日本語 😀', "Flask's \\u escapes, surrogate pairs included, are decoded")
  t.ok(Object.is(d.neg_zero, -0))
  t.same(d.tag_di, { ' di': 'not an escape' })
})

t.test("sealing the exact JSON Flask wrote gives Flask's cookie: byte for byte uncompressed, the same JSON compressed", async (t) => {
  for (const v of vectors.cases) {
    if (v.json.startsWith('{" ')) continue // a top-level escape is sealed from a body below
    const ours = flaskCodec([Buffer.from(v.secret)]).seal(v.json, false, 0, NOW)
    if (v.cookie.startsWith('.')) {
      // Node's zlib may compress differently from Python's; both inflate to the same JSON.
      t.ok(ours.startsWith('.'), `${v.name}: compressed too`)
      t.equal(inflateSync(Buffer.from(ours.split('.')[1] as string, 'base64url')).toString(), v.json, `${v.name}: the JSON`)
      t.equal(ours.split('.')[2], v.cookie.split('.')[2], `${v.name}: the timestamp`)
    } else {
      t.equal(ours, v.cookie, v.name)
    }
  }
  t.ok(vectors.cases.filter((v) => v.cookie.startsWith('.')).length >= 2, 'some vectors are compressed')
  t.ok(vectors.cases.filter((v) => !v.cookie.startsWith('.')).length >= 2, 'some are not')
})

t.test("a session whose only key is a tag name is escaped at the top, byte for byte as Flask's", async (t) => {
  const v = vector('a session whose only key is a tag name')
  const body = codec.stringify(content([[' t', [1, 2]]]))
  t.equal(body, '{" t":[1,2]}', 'the body is not escaped')
  t.equal(codec.seal(body, false, 0, NOW), v.cookie)
  const opened = codec.open(v.cookie)
  t.match(opened, { body, permanent: false })
  const permanent = codec.open(codec.seal(body, true, 0, NOW))
  t.match(permanent, { body, permanent: true }, 'with _permanent beside it, no escape is needed')
})

t.test('seal escapes only a lone key that is a tag name', async (t) => {
  const json = (body: string): string => {
    const payload = codec.seal(body, false, 0, NOW).split('.')[0] as string
    return Buffer.from(payload, 'base64url').toString()
  }
  t.equal(json('{" di":1}'), '{" di":{" di__":1}}')
  t.equal(json('{" x":1}'), '{" x":1}', 'a key that starts with a space but is no tag')
  t.equal(json('{" t":1,"a":2}'), '{" t":1,"a":2}', 'two keys')
  t.equal(json('{" t":1,"_flashes":[{" t":["message","m"]}]}'), '{" t":1,"_flashes":[{" t":["message","m"]}]}', 'a key and flashes')
})

t.test('seal adds _permanent for a permanent session', async (t) => {
  const json = (body: string, permanent: boolean): string =>
    Buffer.from(codec.seal(body, permanent, 0, NOW).split('.')[0] as string, 'base64url').toString()
  t.equal(json('{}', true), '{"_permanent":true}')
  t.equal(json('{"a":1}', true), '{"_permanent":true,"a":1}')
  t.equal(json('{"a":1}', false), '{"a":1}')
})

t.test('seal compresses with zlib and a leading dot from 128 bytes, when it is shorter than the JSON length minus 1', async (t) => {
  const body = `{"a":"${'ab'.repeat(100)}"}`
  const large = codec.seal(body, false, 0, NOW)
  t.ok(large.startsWith('.'))
  t.equal(large.split('.')[1], deflateSync(body).toString('base64url'), 'the zlib format, not raw deflate')
  const short = `{"a":"${'a'.repeat(120)}"}`
  t.equal(short.length, 128)
  t.ok(codec.seal(short, false, 0, NOW).startsWith('.'), '128 bytes are tried')
  t.notOk(codec.seal(`{"a":"${'a'.repeat(119)}"}`, false, 0, NOW).startsWith('.'), '127 bytes are not tried')
  // Every character once: nothing for zlib to shrink.
  const printable = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i)).filter((c) => c !== '"' && c !== '\\').join('')
  const distinct = `{"a":"${printable}${Array.from({ length: 40 }, (_, i) => String.fromCharCode(0x100 + i * 7)).join('')}"}`
  t.ok(deflateSync(distinct).length >= Buffer.byteLength(distinct) - 1)
  t.notOk(codec.seal(distinct, false, 0, NOW).startsWith('.'), 'data that zlib does not shrink is not compressed')
})

t.test('open gives back what seal wrote, with the timestamp as issued and created', async (t) => {
  const body = codec.stringify(content([['username', 'ada'], ['when', new Date(1700000000000)]], [['message', 'hi']]))
  const opened = codec.open(codec.seal(body, true, 5, NOW))
  t.same(opened, { body, permanent: true, created: NOW, issued: NOW, keyIndex: 0, version: 0 })
})

t.test('the first secret signs and the others verify, with their index', async (t) => {
  const oldCodec = flaskCodec([Buffer.from('old key')])
  const rotated = flaskCodec([Buffer.from('new key'), Buffer.from('mid key'), Buffer.from('old key')])
  const old = oldCodec.seal('{"a":1}', false, 0, NOW)
  t.match(rotated.open(old), { keyIndex: 2 })
  t.match(rotated.open(rotated.seal('{"a":1}', false, 0, NOW)), { keyIndex: 0 })
  t.equal(oldCodec.open(rotated.seal('{"a":1}', false, 0, NOW)), 'the signature does not match any key')
})

t.test('open rejects every bad value with a reason and never throws', async (t) => {
  const good = codec.seal('{"a":1}', false, 0, NOW)
  const [payload, ts, sig] = good.split('.') as [string, string, string]
  const cases: Array<[string, string, RegExp]> = [
    ['too long', 'a'.repeat(8193), /too long/],
    ['no dot', 'abc', /malformed/],
    ['a short signature', `${payload}.${ts}.${sig.slice(1)}`, /malformed/],
    ['a signature with non-ASCII', `${payload}.${ts}.${sig.slice(1)}é`, /malformed/],
    ['a wrong signature', `${payload}.${ts}.${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`, /does not match/],
    ['a wrong key', flaskCodec([Buffer.from('other')]).seal('{"a":1}', false, 0, NOW), /does not match/],
    ['a tampered payload', `${b64('{"a":2}')}.${ts}.${sig}`, /does not match/],
    ['a missing timestamp', sign(payload), /timestamp is missing/],
    ['an empty timestamp', sign(`${payload}.`), /timestamp is malformed/],
    ['a timestamp with bad characters', sign(`${payload}.ZV+xAA`), /timestamp is malformed/],
    ['a timestamp with a leading zero byte', sign(`${payload}.${b64(Buffer.from([0, 1]))}`), /timestamp is malformed/],
    ['a timestamp of 7 bytes', sign(`${payload}.${b64(Buffer.alloc(7, 1))}`), /timestamp is malformed/],
    ['a timestamp with changed padding bits', sign(`${payload}.ZVPxAB`), /timestamp is malformed/],
    ['a payload with bad characters', sign(`${payload}+.${ts}`), /cannot be decoded .*base64url/],
    ['a payload that does not inflate', sign(`.${b64('not zlib')}.${ts}`), /cannot be decoded/],
    ['a payload that inflates beyond 1 MiB', sign(`.${deflateSync(`{"a":"${'a'.repeat(1 << 20)}"}`).toString('base64url')}.${ts}`), /cannot be decoded/],
    ['a payload that is not UTF-8', sign(`${b64(Buffer.from([0x7b, 0xff, 0x7d]))}.${ts}`), /cannot be decoded/],
    ['a payload that is not JSON', sign(`${b64('{"a":')}.${ts}`), /cannot be decoded/],
    ['a payload that is not an object', sign(`${b64('[1]')}.${ts}`), /not an object/],
    ['a payload that is a tagged value', sign(`${b64('{" t":[1]}')}.${ts}`), /not an object/],
    ['a payload that is a string', sign(`${b64('"a"')}.${ts}`), /not an object/],
    ['a payload that is null', sign(`${b64('null')}.${ts}`), /not an object/],
    ['a non-boolean _permanent', sign(`${b64('{"_permanent":1}')}.${ts}`), /bad _permanent/],
    ['a bad flash queue', sign(`${b64('{"_flashes":[["a"]]}')}.${ts}`), /bad flash queue/],
    ['a flash that is not a string', sign(`${b64('{"_flashes":[{" t":["a",1]}]}')}.${ts}`), /bad flash queue/],
    ['flashes that are not a list', sign(`${b64('{"_flashes":"a"}')}.${ts}`), /bad flash queue/],
    ['a forbidden key', sign(`${b64('{"__proto__":{"x":1}}')}.${ts}`), /forbidden key/],
    ['a value nested too deep for this format', sign(`${b64(`{"a":${'['.repeat(200)}${']'.repeat(200)}}`)}.${ts}`), /more than 128 levels/]
  ]
  for (const [name, value, reason] of cases) {
    const opened = codec.open(value)
    t.type(opened, 'string', name)
    t.match(opened, reason, name)
  }
})

t.test('a payload of impossible base64 length is refused before decoding', async (t) => {
  // 5 characters: a length no base64 encoder writes.
  t.match(codec.open(sign(`AAAAA.${encodeTimestamp(NOW)}`)), /not base64url/)
})

t.test('an empty _flashes list and _permanent false read as no flashes and not permanent', async (t) => {
  const ts = encodeTimestamp(NOW)
  t.same(codec.open(sign(`${b64('{"_flashes":[],"_permanent":false,"a":1}')}.${ts}`)),
    { body: '{"a":1}', permanent: false, created: NOW, issued: NOW, keyIndex: 0, version: 0 })
})

t.test('claimsPermanent looks into the payload without verifying it', async (t) => {
  t.equal(codec.claimsPermanent(codec.seal('{"a":1}', true, 0, NOW)), true)
  t.equal(codec.claimsPermanent(codec.seal(`{"a":"${'x'.repeat(300)}"}`, true, 0, NOW)), true, 'compressed')
  t.equal(codec.claimsPermanent(codec.seal('{"a":1}', false, 0, NOW)), false)
  t.equal(codec.claimsPermanent(vector('_permanent set to false').cookie), false)
  t.equal(codec.claimsPermanent(`${b64('{"_permanent": true}')}.x.y`), true, 'a claim is not verified')
  t.equal(codec.claimsPermanent('abc'), false, 'no dots')
  t.equal(codec.claimsPermanent('.abc'), false, 'one dot')
  t.equal(codec.claimsPermanent('a+b.c.d'), false, 'not base64url')
  const bomb = deflateSync(`{"_permanent":false,"a":"${'a'.repeat(1 << 17)}"}`).toString('base64url')
  t.equal(codec.claimsPermanent(`.${bomb}.x.y`), true, 'too large to look into: verification decides')
})

t.test('stringify writes Flask tagged JSON for every JS type', async (t) => {
  const cases: Array<[string, unknown, string]> = [
    ['a string', 'a"b\u00e9', '"a\\"bé"'],
    ['true', true, 'true'],
    ['false', false, 'false'],
    ['null', null, 'null'],
    ['an integer', 42, '42'],
    ['a float', 3.25, '3.25'],
    ['NaN', NaN, 'NaN'],
    ['Infinity', Infinity, 'Infinity'],
    ['-Infinity', -Infinity, '-Infinity'],
    ['-0', -0, '-0.0'],
    ['an unsafe integer number, as a float', 1e16, '10000000000000000.0'],
    ['a huge number, as a float', 1e21, '1e+21'],
    ['a BigInt', 2n ** 64n + 1n, '18446744073709551617'],
    ['a small BigInt', 5n, '5'],
    ['a Buffer', Buffer.from([0, 255]), '{" b":"AP8="}'],
    ['a Uint8Array', new Uint8Array([1, 2, 3]).subarray(1), '{" b":"AgM="}'],
    ['a Date, its milliseconds dropped', new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 999)), '{" d":"Tue, 02 Jan 2024 03:04:05 GMT"}'],
    ['a Date before 1970, floored', new Date(-1), '{" d":"Wed, 31 Dec 1969 23:59:59 GMT"}'],
    ['an array, undefined as null', [1, undefined, 'a', , 2], '[1,null,"a",null,2]'], // eslint-disable-line no-sparse-arrays
    ['an object, undefined left out', { a: 1, b: undefined, c: [] }, '{"a":1,"c":[]}'],
    ['an object with a null prototype', Object.assign(Object.create(null) as object, { a: 1 }), '{"a":1}'],
    ['an empty object', {}, '{}'],
    ['a tag-like object', { ' t': 1 }, '{" di":{" t__":1}}'],
    ['a tag-like object with a tagged value', { ' d': new Date(0) }, '{" di":{" d__":{" d":"Thu, 01 Jan 1970 00:00:00 GMT"}}}'],
    ['a di-like object', { ' di': { ' b': 'x' } }, '{" di":{" di__":{" di":{" b__":"x"}}}}'],
    ['a lone key that only starts like a tag', { ' t__': 1 }, '{" t__":1}'],
    ['a lone tag-named key beside an undefined one', { ' t': 1, x: undefined }, '{" di":{" t__":1}}'],
    ['nested values', { a: [{ b: Buffer.from('x') }] }, '{"a":[{"b":{" b":"eA=="}}]}']
  ]
  for (const [name, value, json] of cases) t.equal(writeFlaskValue(value), json, name)
})

t.test('stringify refuses what Flask cannot carry, naming the key', async (t) => {
  const cycle: Record<string, unknown> = {}
  cycle.self = cycle
  let deep: unknown = 1
  for (let i = 0; i < MAX_DEPTH + 1; i++) deep = [deep]
  let deepest: unknown = 1
  for (let i = 0; i < MAX_DEPTH; i++) deepest = [deepest]
  class Point { x = 1 }
  const cases: Array<[string, unknown, RegExp]> = [
    ['a Map', new Map([[1, 2]]), /a Map, which Flask's JSON cannot carry/],
    ['a Set', new Set([1]), /a Set, which Flask's JSON cannot carry/],
    ['a function', () => 1, /a function/],
    ['a symbol', Symbol('s'), /a symbol/],
    ['a class instance', new Point(), /an instance of Point/],
    ['an anonymous class instance', new (class {})(), /foreign prototype/],
    ['an object without a constructor', Object.create(Object.create(null) as object), /foreign prototype/],
    ['a Uint16Array', new Uint16Array(2), /an instance of Uint16Array/],
    ['a cycle', cycle, /contains a cycle/],
    ['an invalid Date', new Date(NaN), /invalid Date/],
    ['a Date before the year 1', new Date(-62135596800001), /outside the years 1 to 9999/],
    ['a Date after the year 9999', new Date(Date.UTC(10000, 0, 1)), /outside the years 1 to 9999/],
    ['a __proto__ key', JSON.parse('{"__proto__":1}'), /the key "__proto__"/],
    ['a constructor key', { constructor: 1 }, /the key "constructor"/],
    ['too deep', deep, /nested more than 128 levels deep/]
  ]
  for (const [name, value, message] of cases) {
    t.throws(() => codec.stringify(content([['k', value]])), { code: 'FST_ERR_SESSION_UNSERIALIZABLE', message }, name)
    t.throws(() => codec.stringify(content([['k', value]])), { message: /at key "k"/ }, `${name}: names the key`)
  }
  t.type(thrown(() => writeFlaskValue(undefined)), UnserializableValue)
  t.throws(() => writeFlaskValue(undefined), { message: 'it is undefined' })
  t.doesNotThrow(() => codec.stringify(content([['k', deepest]])), `${MAX_DEPTH} levels are written`)
  t.same(codec.parse(codec.stringify(content([['k', deepest]]))).data.get('k'), deepest, 'and read back')
  for (const key of ['_flashes', '_permanent', '__proto__', 'constructor']) {
    t.throws(() => codec.stringify(content([[key, 1]])), { code: 'FST_ERR_SESSION_UNSERIALIZABLE', message: /the key is reserved/ }, key)
  }
})

t.test('stringify writes the data, skips undefined, and puts the flashes last as tuples', async (t) => {
  t.equal(stringifyFlask(content([])), '{}')
  t.equal(stringifyFlask(content([['a', undefined]])), '{}')
  t.equal(stringifyFlask(content([['a', undefined], ['b', 1]])), '{"b":1}')
  t.equal(stringifyFlask(content([], [['message', 'hi']])), '{"_flashes":[{" t":["message","hi"]}]}')
  t.equal(stringifyFlask(content([['a', 1], ['b', 'x']], [['message', 'hi'], ['error', 'no']])),
    '{"a":1,"b":"x","_flashes":[{" t":["message","hi"]},{" t":["error","no"]}]}')
})

t.test('parse reads what stringify wrote, so that stringify(parse(body)) === body', async (t) => {
  const values: Array<[string, unknown]> = [
    ['2', 'integer-like keys keep their place'],
    ['b', [1, 'two', null, true, false, 3.5, NaN, Infinity, -Infinity, -0, 1e16, 1e21, 2n ** 70n]],
    ['1', { z: 1, 2: { ' t': [Buffer.from('x')] }, a: { ' di': new Date(0) } }],
    ['d', new Date(Date.UTC(1, 0, 1))],
    [' t', 'a tag-named top-level key']
  ]
  const body = stringifyFlask(content(values, [['message', 'hi']]))
  const parsed = parseFlask(body)
  t.same([...parsed.data.keys()], ['2', 'b', '1', 'd', ' t'], 'the top-level key order is kept')
  t.equal(stringifyFlask(parsed), body)
  t.ok(isDeepStrictEqual(parsed.data.get('b'), values[1]?.[1]), 'numbers keep NaN, -0 and BigInt')
  t.same(parsed.flashes, [['message', 'hi']])
  t.type(thrown(() => parseFlask('{"_permanent":true}')), MalformedValue, 'a body never has _permanent')
  t.type(thrown(() => parseFlask('[1]')), MalformedValue)
  t.same(Object.fromEntries(parseFlask('{"a":1,"a":2}').data), { a: 2 }, 'the last duplicate wins, as in Python')
})

t.test("Flask's tags are untagged bottom-up, as Python's object_hook does", async (t) => {
  const cases: Array<[string, string, unknown]> = [
    ['a tuple', '{" t":[1,{" t":[2]}]}', [1, [2]]],
    ['bytes', '{" b":"AP8="}', Buffer.from([0, 255])],
    ['empty bytes', '{" b":""}', Buffer.alloc(0)],
    ['Markup', '{" m":"<i>x</i>"}', '<i>x</i>'],
    ['a UUID', '{" u":"12345678123456781234567812345678"}', '12345678-1234-5678-1234-567812345678'],
    ['an uppercase UUID', '{" u":"ABCDEF78123456781234567812345678"}', 'abcdef78-1234-5678-1234-567812345678'],
    ['a datetime', '{" d":"Tue, 02 Jan 2024 03:04:05 GMT"}', new Date(Date.UTC(2024, 0, 2, 3, 4, 5))],
    ['the year 1', '{" d":"Mon, 01 Jan 0001 00:00:00 GMT"}', new Date(-62135596800000)],
    ['an escaped dict', '{" di":{" t__":{" t":[1]}}}', { ' t': [1] }],
    ['an escaped di', '{" di":{" di__":1}}', { ' di': 1 }],
    ['a dict with two keys is no tag', '{" t":1,"a":2}', { ' t': 1, a: 2 }],
    ['an unknown tag is a dict', '{" x":1}', { ' x': 1 }],
    ['a key with a suffix is a dict', '{" t__":1}', { ' t__': 1 }]
  ]
  for (const [name, json, value] of cases) {
    t.ok(isDeepStrictEqual(parseFlaskJson(json), value), name, { found: parseFlaskJson(json), wanted: value })
  }
  const year1 = parseFlaskJson('{" d":"Mon, 01 Jan 0001 00:00:00 GMT"}') as Date
  t.equal(year1.getUTCFullYear(), 1, 'the year 1 is not read as 1901')
})

/** The straightforward reading of an HTTP date (a Date's setters, then a round trip), against which parseHttpDate is held. */
function referenceHttpDate (text: string): number | undefined {
  const m = /^(?:Sun|Mon|Tue|Wed|Thu|Fri|Sat), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/.exec(text)
  if (m === null) return undefined
  const date = new Date(0)
  date.setUTCFullYear(Number(m[3]), ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].indexOf(m[2] as string), Number(m[1]))
  date.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6]))
  return date.toUTCString() === text && date.getUTCFullYear() >= 1 ? date.getTime() : undefined
}

t.test('an HTTP date is read by checking its fields exactly as a round trip through toUTCString would, and anything else is refused', async (t) => {
  const two = (max: number): fc.Arbitrary<string> => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'))
  const anyFields = fc.tuple(fc.constantFrom('Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'), two(39),
    fc.constantFrom('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'),
    fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(0, 1, 4, 100, 400, 1900, 2000, 2024, 2100, 9999)).map((y) => String(y).padStart(4, '0')),
    two(29), two(69), two(69)).map(([w, d, mo, y, h, mi, s]) => `${w}, ${d} ${mo} ${y} ${h}:${mi}:${s} GMT`)
  // Every second from year 1 to 9999 is a valid date, written as Flask writes it.
  const valid = fc.integer({ min: -62135596800, max: 253402300799 }).map((s) => new Date(s * 1000).toUTCString())
  const same = (text: string): boolean => {
    const wanted = referenceHttpDate(text)
    const found = thrown(() => parseHttpDate(text))
    return wanted === undefined ? found instanceof MalformedValue : found === undefined && parseHttpDate(text).getTime() === wanted
  }
  for (const text of ['Thu, 29 Feb 2024 00:00:00 GMT', 'Thu, 29 Feb 2100 00:00:00 GMT', 'Tue, 29 Feb 2000 00:00:00 GMT',
    'Mon, 01 Jan 0001 00:00:00 GMT', 'Sat, 01 Jan 0000 00:00:00 GMT', 'Fri, 31 Dec 1969 23:59:59 GMT', 'Thu, 01 Jan 1970 00:00:00 GMT',
    'Sat, 31 Dec 9999 23:59:59 GMT', 'Fri, 31 Dec 9999 23:59:60 GMT', 'Fri, 31 Dec 9999 24:00:00 GMT', 'Tue, 02 Jan 2024 03:60:05 GMT',
    'Mon, 00 Jan 2024 03:04:05 GMT', 'Wed, 31 Apr 2024 03:04:05 GMT',
    // Days that do not exist, named with the weekday of the day they would roll over to.
    'Mon, 29 Feb 2100 00:00:00 GMT', 'Thu, 29 Feb 1900 00:00:00 GMT', 'Wed, 31 Apr 2024 00:00:00 GMT', 'Fri, 30 Feb 2024 00:00:00 GMT']) {
    t.ok(same(text), text)
  }
  t.ok(referenceHttpDate('Thu, 29 Feb 2024 00:00:00 GMT') !== undefined && referenceHttpDate('Thu, 29 Feb 2100 00:00:00 GMT') === undefined, 'the reference itself tells a leap day from none')
  fc.assert(fc.property(fc.oneof(anyFields, valid), same), { numRuns: 20000 })
})

t.test('a malformed tag is refused', async (t) => {
  const cases = [
    '{" t":"ab"}',
    '{" b":"AP8"}',
    '{" b":"AP-_"}',
    '{" b":1}',
    '{" m":1}',
    '{" u":"1234"}',
    '{" u":1}',
    '{" d":1}',
    '{" d":"Mon, 02 Jan 2024 03:04:05 GMT"}',
    '{" d":"Sat, 31 Feb 2024 03:04:05 GMT"}',
    '{" d":"Tue, 02 Jan 2024 24:04:05 GMT"}',
    '{" d":"2024-01-02T03:04:05Z"}',
    '{" d":"Sat, 01 Jan 0000 00:00:00 GMT"}',
    '{" di":1}',
    '{" di":[1]}',
    '{" di":{" t__":1,"a":2}}',
    '{" di":{" t":1}}',
    '{" di":{"a__":1}}',
    '{" di":{}}'
  ]
  for (const json of cases) t.type(thrown(() => parseFlaskJson(json)), MalformedValue, json)
})

t.test("the parser reads Python's JSON: big ints exact, bare NaN and Infinity, whitespace", async (t) => {
  t.equal(parseFlaskJson('9007199254740991'), 9007199254740991)
  t.equal(parseFlaskJson('9007199254740992'), 9007199254740992n)
  t.equal(parseFlaskJson('-9007199254740993'), -9007199254740993n)
  t.equal(parseFlaskJson('123456789012345678901234567890'), 123456789012345678901234567890n)
  t.ok(Object.is(parseFlaskJson('-0'), 0), 'an int -0 is 0, as in Python')
  t.ok(Object.is(parseFlaskJson('-0.0'), -0))
  t.equal(parseFlaskJson('1e400'), Infinity)
  t.equal(parseFlaskJson('2.5E-3'), 0.0025)
  t.equal(parseFlaskJson('1E2'), 100)
  t.ok(Number.isNaN(parseFlaskJson('NaN')))
  t.equal(parseFlaskJson('Infinity'), Infinity)
  t.equal(parseFlaskJson('-Infinity'), -Infinity)
  t.equal(parseFlaskJson('[-Infinity,-1]')?.toString(), '-Infinity,-1')
  t.same(parseFlaskJson(' \t\r\n{ "a" : [ 1 , true , false , null , { } , [ ] ] }\n'), { a: [1, true, false, null, {}, []] })
  t.equal(parseFlaskJson('"a\\"b\\\\"'), 'a"b\\')
  t.equal(parseFlaskJson('"\\\\"'), '\\')
  t.equal(parseFlaskJson('"\\u00e9\\ud83d\\ude00"'), 'é😀')
  t.same(parseFlaskJson('{}', false), new Map(), 'a top-level object as a Map')
  t.same(parseFlaskJson('[]', false), [], 'only an object is a Map')
  let deep = '1'
  for (let i = 0; i < MAX_PARSE_DEPTH; i++) deep = `[${deep}]`
  t.doesNotThrow(() => parseFlaskJson(deep), `${MAX_PARSE_DEPTH} levels`)
  t.throws(() => parseFlaskJson(`[${deep}]`), { message: /nested more than 1000 levels deep/ })
})

t.test('the parser refuses what Python would refuse, and prototype keys', async (t) => {
  const cases = [
    '', ' ', '{', '[', '[1', '[1,', '[1 2]', '{"a"}', '{"a":1,}', '{"a":1 "b":2}', '{a:1}', '{"a" 1}',
    '"abc', '"a\nb"', '"\\x"', 'tru', 'nul', 'NaX', 'Inf', '-', '01', '1.', '.5', '+1', '1 2', '[1]]',
    '{"__proto__":1}', '{"constructor":1}', '{"a":{"__proto__":{}}}', "'a'", 'undefined'
  ]
  for (const json of cases) {
    const err = thrown(() => parseFlaskJson(json))
    t.ok(err instanceof MalformedValue || err instanceof SyntaxError, JSON.stringify(json))
  }
})

t.test('dates are written as HTTP dates and read back', async (t) => {
  t.equal(httpDate(new Date(Date.UTC(2024, 0, 2, 3, 4, 5))), 'Tue, 02 Jan 2024 03:04:05 GMT')
  t.equal(parseHttpDate('Fri, 31 Dec 9999 23:59:59 GMT').getTime(), Date.UTC(9999, 11, 31, 23, 59, 59))
  t.throws(() => parseHttpDate('nope'), { message: 'bad date "nope"' })
})

t.test('through the plugin', async (t) => {
  t.test('a Flask-made cookie is read by a route, and an untouched read sets no cookie', async (t) => {
    let seen: Record<string, unknown> = {}
    const app = await build({ format: 'flask', secret: 'test key' }, (app) => {
      app.get('/read', async (request) => {
        seen = Object.fromEntries((request.session as unknown as AnySession).entries())
        return 'ok'
      })
    })
    const res = await atTime(NOW + 60, async () => app.inject({ url: '/read', cookies: { session: vector('every type').cookie } }))
    t.equal(res.statusCode, 200)
    t.equal(seen.str, 'hello')
    t.equal(seen.big, 18446744073709551617n)
    t.same(setCookies(res), [], 'reading (even every value) is not a change, though Flask sorted and escaped its JSON')
    t.equal(res.headers.vary, 'Cookie')
    await app.close()
  })

  t.test('a change to a value read from Flask is saved in a cookie that opens to the new value', async (t) => {
    const app = await build({ format: 'flask', secret: 'test key' }, (app) => {
      app.get('/change', async (request) => {
        const list = (request.session as unknown as AnySession).get('list') as unknown[]
        list.push('more')
        return 'ok'
      })
    })
    const res = await atTime(NOW, async () => app.inject({ url: '/change', cookies: { session: vector('every type').cookie } }))
    const cookie = sessionCookie(res) as string
    t.ok(cookie, 'an in-place change is saved')
    const session = await atTime(NOW, async () => app.sessions.decode(cookie)) as unknown as AnySession
    t.same(session.get('list'), [1, 'two', 3.5, null, [true], 'more'])
    await app.close()
  })

  t.test('a permanent Flask session is refreshed by a route that never touches it', async (t) => {
    const app = await build({ format: 'flask', secret: 'test key' }, (app) => {
      app.get('/untouched', async () => 'ok')
    })
    const permanent = await atTime(NOW + 10, async () =>
      app.inject({ url: '/untouched', cookies: { session: vector('permanent, with flashes').cookie } }))
    t.equal(setCookies(permanent).length, 1)
    t.match(setCookies(permanent)[0], /; Max-Age=2678400; Expires=/)
    const opened = flaskCodec([KEY]).open(sessionCookie(permanent) as string)
    t.match(opened, { issued: NOW + 10, permanent: true })
    const notPermanent = await atTime(NOW + 10, async () =>
      app.inject({ url: '/untouched', cookies: { session: vector('_permanent set to false').cookie } }))
    t.same(setCookies(notPermanent), [])
    await app.close()
  })

  t.test("Flask's flashes are read through getFlashedMessages, and consuming them re-issues the cookie", async (t) => {
    const app = await build({ format: 'flask', secret: 'test key' }, (app) => {
      app.get('/flashes', async (request) => request.session.getFlashedMessages({ withCategories: true }))
    })
    const res = await atTime(NOW, async () => app.inject({ url: '/flashes', cookies: { session: vector('permanent, with flashes').cookie } }))
    t.same(res.json(), [['message', 'Logged in'], ['warning', 'Check your <b>email</b>']])
    const after = await atTime(NOW, async () => app.sessions.decode(sessionCookie(res) as string))
    t.same(after?.toJSON(), { username: 'ada', when: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)) })
    await app.close()
  })

  t.test('a short key is accepted with a warning at registration', async (t) => {
    const logs: Array<Record<string, unknown>> = []
    const app = await build({ format: 'flask', secret: 'test key' }, () => {}, logs)
    t.ok(logs.some((l) => l.level === 40 && /secret\[0\] is shorter than 32 bytes/.test(String(l.msg))))
    await app.close()
  })

  t.test('a correctly signed payload that cannot be decoded gives an empty session and one debug line', async (t) => {
    const logs: Array<Record<string, unknown>> = []
    const app = await build({ format: 'flask', secret: 'test key' }, (app) => {
      app.get('/read', async (request) => ({ isNew: request.session.new }))
    }, logs)
    const undecodable = sign(`${b64('{"not json')}.${encodeTimestamp(NOW)}`)
    const res = await atTime(NOW, async () => app.inject({ url: '/read', cookies: { session: undecodable } }))
    t.equal(res.statusCode, 200)
    t.same(res.json(), { isNew: true })
    t.ok(logs.some((l) => l.level === 20 && /session cookie rejected: the payload cannot be decoded/.test(String(l.msg))))
    t.notOk(logs.some((l) => (l.level as number) > 30 && /session/.test(String(l.msg))), 'nothing above debug')
    await app.close()
  })

  t.test('a value Flask cannot carry fails the response with FST_ERR_SESSION_UNSERIALIZABLE', async (t) => {
    const app = await build({ format: 'flask', secret: 'test key' }, (app) => {
      app.get('/map', async (request) => {
        request.session.set('value', new Map())
        return 'ok'
      })
    })
    const res = await app.inject('/map')
    t.equal(res.statusCode, 500)
    t.match(res.json(), { code: 'FST_ERR_SESSION_UNSERIALIZABLE', message: /"value".*Map/ })
    await app.close()
  })

  t.test('encode makes a cookie that Flask-format decode reads, permanent or not', async (t) => {
    const app = await build({ format: 'flask', secret: 'test key' })
    const cookie = await app.sessions.encode({ username: 'ada' }, { permanent: true })
    t.equal(codec.claimsPermanent(cookie), true)
    const session = await app.sessions.decode(cookie)
    t.equal(session?.get('username'), 'ada')
    t.equal(session?.permanent, true)
    await app.close()
  })
})
