/**
 * lib/schema.ts on its own: where the app's `ajv` options are found, how a
 * failure is described, and the `instanceof` and `typeof` keywords in
 * their array forms and beside an app's own definitions of them.
 */
import Fastify from 'fastify'
import t from 'tap'
import { Type } from 'typebox'
import { compileSchema, DataRules, serverAjvOptions } from '../lib/schema.js'

t.test("serverAjvOptions finds Fastify's ajv option on the root and on a child instance, and is empty elsewhere", async (t) => {
  const plugins = [(ajv: unknown) => ajv]
  const app = Fastify({ ajv: { customOptions: { allErrors: true }, plugins: plugins as never } })
  t.same(serverAjvOptions(app), { customOptions: { allErrors: true }, plugins })
  await app.register(async (child) => {
    t.equal(serverAjvOptions(child).plugins, plugins, 'a child instance reaches the root options through its prototype')
  })
  await app.ready()
  t.same(serverAjvOptions({}), {}, 'an object that is no Fastify instance has none')
  t.same(serverAjvOptions({ [Symbol('fastify.options')]: undefined }), {}, 'nor one whose options are unset')
  t.same(serverAjvOptions({ [Symbol('fastify.options')]: {} }), {}, 'nor options without ajv')
})

/** The rules of a schema compiled for a plain Fastify app with the given ajv option. */
function rules (schema: object, ajv?: { customOptions?: Record<string, unknown>, plugins?: unknown[] }): DataRules {
  const app = Fastify(ajv === undefined ? {} : { ajv: ajv as never })
  return new DataRules(0, compileSchema(app, schema), undefined)
}

t.test('a failure names the path of the value as a JSON Pointer, the keyword and the message', async (t) => {
  const r = rules(Type.Object({
    user: Type.Object({ id: Type.String() }, { additionalProperties: false }),
    'a/b~c': Type.Optional(Type.Number())
  }))
  t.equal(r.failure(new Map([['user', {}]])), "/user/id (required: must have required property 'id')", 'a missing property is named itself')
  t.equal(r.failure(new Map<string, unknown>([['user', { id: 'x', extra: 1 }]])), '/user/extra (additionalProperties: must NOT have additional properties)')
  t.equal(r.failure(new Map<string, unknown>([['user', { id: 'x' }], ['a/b~c', 'x']])), '/a~1b~0c (type: must be number)', 'RFC 6901 escapes')
  t.equal(r.failure(new Map<string, unknown>([['a/b~c', 1]])), "/user (required: must have required property 'user')", 'a top-level property')
  t.equal(r.failure(new Map()), undefined, 'empty data always passes')
  t.equal(rules({ type: 'object', minProperties: 3 }).failure(new Map([['a', 1]])), '/ (minProperties: must NOT have fewer than 3 properties)', 'the whole object is /')
  t.equal(rules({ type: 'object', minProperties: 3 }, { customOptions: { messages: false } }).failure(new Map([['a', 1]])), '/ (minProperties)',
    "without Ajv's messages, the keyword alone")
})

t.test('instanceof and typeof take one name or several, and the meta-schema refuses any other name', async (t) => {
  const r = rules({ type: 'object', properties: { v: { instanceof: ['Map', 'Set'] }, n: { typeof: ['bigint', 'number'] } } })
  t.equal(r.failure(new Map<string, unknown>([['v', new Map()], ['n', 1n]])), undefined)
  t.equal(r.failure(new Map<string, unknown>([['v', new Set()], ['n', 1]])), undefined)
  t.match(r.failure(new Map<string, unknown>([['v', []]])), /^\/v \(instanceof/)
  t.match(r.failure(new Map<string, unknown>([['n', '1']])), /^\/n \(typeof/)
  const one = rules({ type: 'object', properties: { b: { instanceof: 'Buffer' }, u: { instanceof: 'Uint8Array' }, d: { instanceof: 'Date' } } })
  t.equal(one.failure(new Map<string, unknown>([['b', Buffer.from('x')], ['u', Buffer.from('y')], ['d', new Date(0)]])), undefined)
  t.match(one.failure(new Map<string, unknown>([['b', new Uint8Array(1)]])), /^\/b \(instanceof/, 'a plain Uint8Array is no Buffer')
  t.match(one.failure(new Map<string, unknown>([['d', '1970-01-01T00:00:00.000Z']])), /^\/d \(instanceof/, "a Date's text is no Date")
  t.throws(() => rules({ instanceof: 'RegExp' }), { code: 'FST_ERR_SESSION_INVALID_OPTION', message: /instanceof/ })
  t.throws(() => rules({ typeof: [] }), { code: 'FST_ERR_SESSION_INVALID_OPTION', message: /typeof/ })
})

t.test('an app whose Ajv already defines instanceof and typeof keeps its own definitions', async (t) => {
  const calls: string[] = []
  const own = (ajv: { addKeyword: (definition: object) => unknown }): unknown => {
    for (const keyword of ['instanceof', 'typeof']) {
      ajv.addKeyword({ keyword, validate: (name: string) => { calls.push(`${keyword} ${name}`); return true } })
    }
    return ajv
  }
  const r = rules({ type: 'object', properties: { d: { instanceof: 'Whatever' }, n: { typeof: 'anything' } } }, { plugins: [own] })
  t.equal(r.failure(new Map<string, unknown>([['d', 1], ['n', 2]])), undefined)
  t.same(calls, ['instanceof Whatever', 'typeof anything'])
})
