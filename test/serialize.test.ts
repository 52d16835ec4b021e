/**
 * lib/serialize.ts: tagged JSON. Each tag encodes and decodes, decoding is
 * strict, and a value that cannot be kept fails with
 * FST_ERR_SESSION_UNSERIALIZABLE naming its key (rule 7), directly and
 * through a route.
 */
import fc from 'fast-check'
import t from 'tap'
import {
  asFlashes,
  decode,
  encode,
  FLASHES_KEY,
  MalformedValue,
  parse,
  parseContent,
  stringify,
  stringifyContent,
  stringifyEntry,
  UnserializableValue,
  type SessionContent
} from '../lib/serialize.js'
import { build, setCookies } from './helpers/build.js'

/** The error that `fn` throws, or `undefined`. */
function caught (fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return undefined
}

function content (entries: Array<[string, unknown]>, flashes: SessionContent['flashes'] = []): SessionContent {
  return { data: new Map(entries), flashes }
}

t.test('each tag encodes to its documented text and decodes back with its type', async (t) => {
  const cases: Array<[string, unknown, string]> = [
    ['a Date, to the millisecond', new Date(1700000000123), '{"~d":1700000000123}'],
    ['a Date before 1970', new Date(-86400001), '{"~d":-86400001}'],
    ['a Buffer', Buffer.from([0, 1, 2, 0xfb, 0xff]), '{"~b":"AAEC-_8"}'],
    ['an empty Buffer', Buffer.alloc(0), '{"~b":""}'],
    ['a BigInt', 123456789012345678901n, '{"~n":"123456789012345678901"}'],
    ['a negative BigInt', -5n, '{"~n":"-5"}'],
    ['a zero BigInt', 0n, '{"~n":"0"}'],
    ['a Map', new Map<unknown, unknown>([['a', 1], [2, 'b']]), '{"~m":[["a",1],[2,"b"]]}'],
    ['a Set', new Set([1, 'x']), '{"~s":[1,"x"]}'],
    ['NaN', NaN, '{"~f":"NaN"}'],
    ['Infinity', Infinity, '{"~f":"Infinity"}'],
    ['-Infinity', -Infinity, '{"~f":"-Infinity"}'],
    ['-0', -0, '{"~f":"-0"}'],
    ['undefined in an array', [1, undefined, 2], '[1,{"~u":0},2]'],
    ['a tag-like user object', { '~d': 5 }, '{"~o":{"~d":5}}'],
    ['a tag-like user object with a tagged value', { '~x': new Date(0) }, '{"~o":{"~x":{"~d":0}}}'],
    ['a user object shaped like the escape', { '~o': { a: 1 } }, '{"~o":{"~o":{"a":1}}}'],
    ['a Map keyed by objects', new Map([[{ k: 1 }, [1n]]]), '{"~m":[[{"k":1},[{"~n":"1"}]]]}'],
    ['a Set inside a Map inside an array', [new Map([['s', new Set([new Date(1)])]])], '[{"~m":[["s",{"~s":[{"~d":1}]}]]}]']
  ]
  for (const [name, value, text] of cases) {
    t.equal(stringify(value), text, `${name} encodes`)
    const back = parse(text)
    t.same(back, value, `${name} decodes`)
    t.equal(Object.prototype.toString.call(back), Object.prototype.toString.call(value), `${name} keeps its type`)
  }
})

t.test('special numbers decode as numbers, -0 included', async (t) => {
  t.ok(Object.is(parse('{"~f":"-0"}'), -0))
  t.ok(Number.isNaN(parse('{"~f":"NaN"}')))
  t.equal(parse('{"~f":"Infinity"}'), Infinity)
  t.equal(parse('{"~f":"-Infinity"}'), -Infinity)
  t.equal(stringify(0), '0', 'a positive zero needs no tag')
})

t.test('a number is written and read as JSON writes and reads it, without calling JSON', async (t) => {
  // stringifyEntry and parse take a shortcut for numbers, which must agree with JSON to the bit.
  fc.assert(fc.property(fc.double(), (n) => {
    const text = stringifyEntry('n', n)
    return text === JSON.stringify(encode(n)) && Object.is(parse(text), n)
  }), { numRuns: 2000 })
  t.equal(stringifyEntry('n', -0), '{"~f":"-0"}')
  t.equal(stringifyEntry('n', NaN), '{"~f":"NaN"}')
  t.equal(stringifyEntry('n', 1e21), '1e+21')
  // Texts that Number() reads but JavaScript does not write: JSON decides, as without the shortcut.
  const texts = ['-0', '1e3', '1E3', '0x10', '0b1', '01', '-01', '1.50', '5.', '-', '1_0', '1 ', '-Infinity',
    '-1e-7', '1e+21', '1.5', '-42', '9007199254740993']
  const outcome = (read: () => unknown): unknown => {
    try {
      return { value: read() }
    } catch (err) {
      return { error: (err as Error).constructor.name }
    }
  }
  for (const text of texts) {
    t.same(outcome(() => parse(text)), outcome(() => decode(JSON.parse(text), false)), text)
  }
  t.ok(caught(() => parse('0x10')) instanceof SyntaxError, '0x10 is not JSON')
  t.ok(caught(() => parse('-0')) instanceof MalformedValue, 'a bare -0 is still rejected')
  t.ok(caught(() => parse('-Infinity')) instanceof SyntaxError, '-Infinity is not JSON')
})

t.test('a Uint8Array comes back as a Buffer, and only the viewed bytes are kept', async (t) => {
  const bytes = new Uint8Array([9, 8, 7, 6, 5, 4])
  const view = new Uint8Array(bytes.buffer, 2, 3)
  const text = stringify(view)
  t.equal(text, `{"~b":"${Buffer.from([7, 6, 5]).toString('base64url')}"}`)
  const back = parse(text)
  t.ok(Buffer.isBuffer(back))
  t.same([...(back as Buffer)], [7, 6, 5])
  t.equal(stringify(Buffer.from(bytes.buffer, 1, 2)), `{"~b":"${Buffer.from([8, 7]).toString('base64url')}"}`, 'a Buffer view too')
})

t.test('plain JSON is passed through without copying, and copied only where a tag is needed', async (t) => {
  const plain = { a: [1, 'x', { b: null }], c: true }
  t.equal(encode(plain), plain, 'the same object comes back')
  const list = [1, 2]
  t.equal(encode(list), list)
  const mixed = { a: 1, when: new Date(5), b: 2 }
  t.same(encode(mixed), { a: 1, when: { '~d': 5 }, b: 2 })
  t.ok(mixed.when instanceof Date, 'the input is not changed')
  const array = [1, new Date(5), 3]
  t.same(encode(array), [1, { '~d': 5 }, 3])
  t.ok(array[1] instanceof Date)
})

t.test('an undefined property is left out, as in JSON, and a tag-like remainder is escaped', async (t) => {
  t.equal(stringify({ a: 1, b: undefined, c: 2 }), '{"a":1,"c":2}')
  t.equal(stringify({ b: undefined, '~x': 1 }), '{"~o":{"~x":1}}')
  t.same(parse(stringify({ b: undefined, '~x': 1 })), { '~x': 1 })
  t.equal(stringify({ b: undefined }), '{}')
})

t.test('an object with a null prototype is kept as a plain object', async (t) => {
  const value = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 })
  t.equal(stringify(value), '{"a":1}')
})

t.test('the same object reached twice is not a cycle', async (t) => {
  const shared = { n: 1 }
  t.equal(stringify([shared, shared, { shared }]), '[{"n":1},{"n":1},{"shared":{"n":1}}]')
})

t.test('strict decoding rejects what the encoder would never write', async (t) => {
  const rejected: Array<[string, string]> = [
    ['~b with padding', '{"~b":"AA=="}'],
    ['~b with unused trailing bits set', '{"~b":"AB"}'],
    ['~b in standard base64', '{"~b":"+/8"}'],
    ['~b with a space', '{"~b":"AA EC"}'],
    ['~b not a string', '{"~b":[1]}'],
    ['~n with leading zeros', '{"~n":"007"}'],
    ['~n as -0', '{"~n":"-0"}'],
    ['~n with a plus sign', '{"~n":"+1"}'],
    ['~n as a decimal', '{"~n":"1.5"}'],
    ['~n as a number', '{"~n":12}'],
    ['~n empty', '{"~n":""}'],
    ['~d not an integer', '{"~d":1.5}'],
    ['~d as a string', '{"~d":"2024-01-01"}'],
    ['~d beyond the safe integers', '{"~d":1e300}'],
    ['~d as -0', '{"~d":-0}'],
    ['~d outside the range of a Date', '{"~d":8640000000000001}'],
    ['~u outside an array', '{"a":{"~u":0}}'],
    ['~u at the top', '{"~u":0}'],
    ['~u with another value', '[{"~u":1}]'],
    ['~u as a Map value', '{"~m":[["a",{"~u":0}]]}'],
    ['~o around a plain object', '{"~o":{"a":1}}'],
    ['~o around two keys', '{"~o":{"~a":1,"~b":2}}'],
    ['~o around an array', '{"~o":["~a"]}'],
    ['~o around null', '{"~o":null}'],
    ['~o around an empty object', '{"~o":{}}'],
    ['~f with an unknown name', '{"~f":"nan"}'],
    ['~f with an inherited name', '{"~f":"toString"}'],
    ['~f as a number', '{"~f":0}'],
    ['~m not an array', '{"~m":{"a":1}}'],
    ['~m with a single', '{"~m":[["a"]]}'],
    ['~m with a triple', '{"~m":[["a",1,2]]}'],
    ['~m with an entry that is not an array', '{"~m":["a"]}'],
    ['~m with a key twice', '{"~m":[["a",1],["a",2]]}'],
    ['~s not an array', '{"~s":"ab"}'],
    ['~s with an item twice', '{"~s":[1,1]}'],
    ['an unknown tag', '{"~q":1}'],
    ['an unknown tag deep inside', '{"a":[{"b":{"~x":null}}]}'],
    ['the empty tag', '{"~":1}'],
    ['a bare -0', '-0'],
    ['a bare -0 in an array', '[1,-0]'],
    ['a bare -0 in an object', '{"a":{"b":-0}}'],
    ['a __proto__ key', '{"a":{"__proto__":{"x":1}}}'],
    ['a constructor key', '{"a":{"constructor":{"prototype":{"x":1}}}}'],
    ['a __proto__ key inside an escape', '{"~o":{"~a":{"__proto__":1}}}']
  ]
  for (const [name, text] of rejected) {
    t.ok(caught(() => parse(text)) instanceof MalformedValue, name)
  }
  t.ok(caught(() => parse('{')) instanceof SyntaxError, 'text that is not JSON')
  t.throws(() => parse('{"~q":1}'), { message: 'bad tag "~q"' })
  t.throws(() => parse('{"~m":[1]}'), { message: 'a Map entry is not a pair' })
  t.throws(() => parse('{"a":{"__proto__":1}}'), { message: 'forbidden key "__proto__"' })
  t.equal(({} as Record<string, unknown>).x, undefined, 'no prototype was polluted')
})

t.test('decoding works in place on parsed JSON', async (t) => {
  const parsed = JSON.parse('{"a":[{"~d":1}],"~x":2}') as { a: unknown[] }
  const back = decode(parsed, false)
  t.equal(back, parsed)
  t.ok(parsed.a[0] instanceof Date)
})

t.test('a value that cannot be kept throws UnserializableValue saying why', async (t) => {
  class Point { x = 1 }
  const cycle: Record<string, unknown> = { a: 1 }
  cycle.self = cycle
  const arrayCycle: unknown[] = [1]
  arrayCycle.push([arrayCycle])
  const mapCycle = new Map<string, unknown>()
  mapCycle.set('me', mapCycle)
  const cases: Array<[string, unknown, string]> = [
    ['a function', () => 1, 'it is a function'],
    ['a symbol', Symbol('s'), 'it is a symbol'],
    ['a class instance', new Point(), 'an instance of Point'],
    ['an anonymous class instance', new (class {})(), 'an object with a foreign prototype'],
    ['an object whose prototype has no constructor', Object.create(Object.create(null) as object), 'an object with a foreign prototype'],
    ['a boxed string', Object('x'), 'an instance of String'],
    ['a RegExp', /x/, 'an instance of RegExp'],
    ['a cycle through an object', cycle, 'it contains a cycle'],
    ['a cycle through arrays', arrayCycle, 'it contains a cycle'],
    ['a cycle through a Map', mapCycle, 'it contains a cycle'],
    ['an invalid Date', new Date(NaN), 'it is an invalid Date'],
    ['a Uint16Array', new Uint16Array(2), 'an instance of Uint16Array'],
    ['a Uint8Array subclass', new (class Bytes extends Uint8Array {})(2), 'an instance of Bytes'],
    ['a function deep inside', { a: [{ b: new Set([() => 1]) }] }, 'it is a function'],
    ['a __proto__ key in a nested object', { a: JSON.parse('{"__proto__":1}') }, 'it has the key "__proto__"'],
    ['a constructor key in a nested object', { a: { constructor: 1 } }, 'it has the key "constructor"']
  ]
  for (const [name, value, why] of cases) {
    const error = caught(() => encode(value))
    t.ok(error instanceof UnserializableValue, name)
    t.equal((error as Error).message, why, name)
  }
})

t.test('stringifyEntry names the key of a value that cannot be kept', async (t) => {
  t.equal(stringifyEntry('when', new Date(1)), '{"~d":1}')
  t.throws(() => stringifyEntry('callback', () => 1), {
    code: 'FST_ERR_SESSION_UNSERIALIZABLE',
    statusCode: 500,
    message: 'The session value at key "callback" cannot be stored: it is a function'
  })
})

t.test('stringifyContent writes the data and the flashes under _flashes', async (t) => {
  t.equal(FLASHES_KEY, '_flashes')
  t.equal(stringifyContent(content([])), '{}')
  t.equal(stringifyContent(content([['a', 1], ['skip', undefined], ['b', new Date(2)]])), '{"a":1,"b":{"~d":2}}')
  t.equal(stringifyContent(content([], [['message', 'hi']])), '{"_flashes":[["message","hi"]]}')
  t.equal(stringifyContent(content([['a', 1]], [['error', 'no']])), '{"a":1,"_flashes":[["error","no"]]}')
  t.equal(stringifyContent(content([['a "quoted" key', 1]])), '{"a \\"quoted\\" key":1}')
})

t.test('stringifyContent refuses the reserved keys and names the key of a bad value', async (t) => {
  for (const key of ['_flashes', '__proto__', 'constructor']) {
    t.throws(() => stringifyContent(content([[key, 1]])), {
      code: 'FST_ERR_SESSION_UNSERIALIZABLE',
      message: `The session value at key ${JSON.stringify(key)} cannot be stored: the key is reserved`
    }, key)
  }
  t.throws(() => stringifyContent(content([['ok', 1], ['bad', Symbol('x')]])), {
    code: 'FST_ERR_SESSION_UNSERIALIZABLE',
    message: /key "bad" .*it is a symbol/
  })
})

t.test('parseContent reads what stringifyContent wrote', async (t) => {
  const text = stringifyContent(content([['a', new Set([1n])], ['b', 'x']], [['message', 'hi'], ['error', 'no']]))
  const back = parseContent(text)
  t.same([...back.data], [['a', new Set([1n])], ['b', 'x']])
  t.same(back.flashes, [['message', 'hi'], ['error', 'no']])
  t.same(parseContent('{}'), { data: new Map(), flashes: [] })
})

t.test('parseContent rejects a body that is not a session', async (t) => {
  for (const text of ['[]', 'null', '"x"', '1', 'true']) {
    t.throws(() => parseContent(text), { message: 'the session is not an object' }, text)
  }
  t.throws(() => parseContent('{"__proto__":{"polluted":1}}'), { message: 'forbidden key "__proto__"' })
  t.throws(() => parseContent('{"constructor":{"prototype":{"polluted":1}}}'), { message: 'forbidden key "constructor"' })
  t.equal(({} as Record<string, unknown>).polluted, undefined)
  t.ok(caught(() => parseContent('{"a":{"~q":1}}')) instanceof MalformedValue, '{"a":{"~q":1}}')
  t.ok(caught(() => parseContent('{"a":-0}')) instanceof MalformedValue, '{"a":-0}')
  t.ok(caught(() => parseContent('{"a":{"~u":0}}')) instanceof MalformedValue, '{"a":{"~u":0}}')
  t.ok(caught(() => parseContent('{')) instanceof SyntaxError)
})

t.test('a flash queue must be a non-empty list of [category, message] string pairs', async (t) => {
  t.same(asFlashes([['message', 'a'], ['error', 'b']]), [['message', 'a'], ['error', 'b']])
  const bad: unknown[] = [[], 'x', null, {}, [['a']], [['a', 'b', 'c']], [['a', 1]], [[1, 'b']], ['ab'], [['a', 'b'], null]]
  for (const value of bad) {
    t.throws(() => asFlashes(value), { message: 'bad flash queue' }, JSON.stringify(value))
    t.ok(caught(() => parseContent(JSON.stringify({ _flashes: value }))) instanceof MalformedValue)
  }
})

t.test('through a route, a value that cannot be kept fails the response with a 500 naming the key, and sets no cookie', async (t) => {
  class Point { x = 1 }
  const cycle: Record<string, unknown> = {}
  cycle.self = cycle
  const values: Record<string, () => unknown> = {
    function: () => () => 1,
    symbol: () => Symbol('s'),
    instance: () => new Point(),
    cycle: () => cycle,
    'invalid-date': () => new Date('nope'),
    uint16: () => new Uint16Array(1)
  }
  const app = await build({}, (app) => {
    app.get('/:kind', async (request) => {
      const { kind } = request.params as { kind: string }
      request.session.set('username', 'ada')
      request.session.set('value', (values[kind] as () => unknown)())
      return 'ok'
    })
    app.get('/reserved/:key', async (request) => {
      const { key } = request.params as { key: string }
      request.session.set(key as 'value', 1)
      return 'ok'
    })
    app.get('/nested', async (request) => {
      request.session.set('nested', { list: [] })
      request.session.get('nested')?.list.push((() => 1) as unknown as string)
      return 'ok'
    })
  })
  t.teardown(() => app.close())
  const why: Record<string, RegExp> = {
    function: /it is a function/,
    symbol: /it is a symbol/,
    instance: /an instance of Point/,
    cycle: /it contains a cycle/,
    'invalid-date': /an invalid Date/,
    uint16: /an instance of Uint16Array/
  }
  for (const kind of Object.keys(values)) {
    const res = await app.inject(`/${kind}`)
    t.equal(res.statusCode, 500, kind)
    t.match(res.json(), { code: 'FST_ERR_SESSION_UNSERIALIZABLE', message: /key "value"/ }, kind)
    t.match(res.json().message, why[kind] as RegExp, kind)
    t.same(setCookies(res), [], `${kind}: no cookie is set`)
  }
  for (const key of ['_flashes', '__proto__', 'constructor']) {
    const res = await app.inject(`/reserved/${key}`)
    t.equal(res.statusCode, 500, key)
    t.match(res.json(), { code: 'FST_ERR_SESSION_UNSERIALIZABLE', message: `key ${JSON.stringify(key)} cannot be stored: the key is reserved` })
    t.same(setCookies(res), [])
  }
  const nested = await app.inject('/nested')
  t.equal(nested.statusCode, 500, 'a bad value pushed in place is caught too')
  t.match(nested.json(), { code: 'FST_ERR_SESSION_UNSERIALIZABLE', message: /key "nested".*it is a function/ })
  t.same(setCookies(nested), [])
})
