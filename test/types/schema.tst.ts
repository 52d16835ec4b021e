/**
 * Type tests (tstyche): `SessionData` derived from a TypeBox schema, as the
 * README shows it (`interface SessionData extends Static<typeof SessionSchema> {}`),
 * types the session as a hand-written declaration would; and the `schema`,
 * `version` and `migrate` options take what the plugin accepts at run time.
 */
import Fastify, { type FastifyRequest } from 'fastify'
import { describe, expect, test } from 'tstyche'
import { Type, type Static } from 'typebox'
import typedSession, { type TypedSessionOptions } from '../../lib/index.js'

const SessionSchema = Type.Object({
  user: Type.Object({ id: Type.String(), name: Type.String() }),
  visits: Type.Number(),
  seen: Type.Unsafe<Date>({ instanceof: 'Date' }),
  theme: Type.Optional(Type.Union([Type.Literal('light'), Type.Literal('dark')]))
})

declare module '../../lib/index.js' {
  interface SessionData extends Static<typeof SessionSchema> {}
}

declare const request: FastifyRequest
const session = request.session
const app = Fastify()
const secret = 'a secret of at least thirty-two bytes!'

describe('SessionData derived from a TypeBox schema', () => {
  test('the right keys compile, with the types the schema describes', () => {
    expect(session.get('user')).type.toBe<{ id: string, name: string } | undefined>()
    expect(session.get('visits', 0)).type.toBe<number>()
    expect(session.get('seen')).type.toBe<Date | undefined>()
    expect(session.get('theme')).type.toBe<'light' | 'dark' | undefined>()
    expect(session.set('user', { id: 'u1', name: 'Ada' })).type.not.toRaiseError()
    expect(session.set('seen', new Date())).type.not.toRaiseError()
    expect(session.set('theme', 'dark')).type.not.toRaiseError()
    expect([...session.keys()]).type.toBe<Array<'user' | 'visits' | 'seen' | 'theme'>>()
  })

  test("an optional key's fallback replaces undefined: a key the session holds is never undefined", () => {
    expect(session.get('theme', 'light')).type.toBe<'light' | 'dark'>()
    expect(session.pop('theme', null)).type.toBe<'light' | 'dark' | null>()
    expect(session.pop('theme')).type.toBe<'light' | 'dark'>()
    expect(session.setDefault('theme', 'light')).type.toBe<'light' | 'dark'>()
    expect(session.setDefault('theme', undefined)).type.toRaiseError()
  })

  test('a key typo fails to compile, naming the valid keys', () => {
    expect(session.get('usr')).type.toRaiseError('"user" | "visits" | "seen" | "theme"')
    expect(session.set('vists', 1)).type.toRaiseError('"user" | "visits" | "seen" | "theme"')
  })

  test('a wrong value type fails to compile', () => {
    expect(session.set('user', 5)).type.toRaiseError("'number' is not assignable to parameter of type '{ id: string; name: string; }'")
    expect(session.set('user', { id: 'u1' })).type.toRaiseError("Property 'name' is missing")
    expect(session.set('seen', '2024-01-01')).type.toRaiseError("not assignable to parameter of type 'Date'")
    expect(session.set('theme', 'blue')).type.toRaiseError('\'"blue"\' is not assignable')
  })

  test('an unknown key fails to compile, in the session and in app.sessions.encode', () => {
    expect(session.set('other', 1)).type.toRaiseError('"user" | "visits" | "seen" | "theme"')
    expect(app.sessions.encode({ other: 1 })).type.toRaiseError("'other' does not exist")
    expect(app.sessions.encode({ visits: '1' })).type.toRaiseError("'string' is not assignable to type 'number'")
    expect(app.sessions.encode({ user: { id: 'u1', name: 'Ada' }, seen: new Date() })).type.toBe<Promise<string>>()
  })
})

describe('the schema, version and migrate options', () => {
  test('schema takes any JSON Schema object: a TypeBox schema or a plain literal', () => {
    expect<TypedSessionOptions>().type.toBeAssignableFrom({ secret, schema: SessionSchema })
    expect<TypedSessionOptions>().type.toBeAssignableFrom({ secret, schema: { type: 'object' } })
    expect<TypedSessionOptions>().type.toBeAssignableFrom({ secret, schema: { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false } })
    expect(app.register(typedSession, { secret, schema: SessionSchema, version: 2 })).type.not.toRaiseError()
  })

  test('schema refuses what is not an object', () => {
    expect(() => { const o: TypedSessionOptions = { secret, schema: 'x' }; return o }).type.toRaiseError("'string' is not assignable to type 'object'")
    expect(() => { const o: TypedSessionOptions = { secret, schema: 1 }; return o }).type.toRaiseError("'number' is not assignable to type 'object'")
  })

  test('version is a number', () => {
    expect<TypedSessionOptions['version']>().type.toBe<number | undefined>()
    expect(() => { const o: TypedSessionOptions = { secret, version: '2' }; return o }).type.toRaiseError("'string' is not assignable to type 'number'")
  })

  test('migrate receives the data as a plain object and the version as a number, and returns an object', () => {
    expect<TypedSessionOptions>().type.toBeAssignableFrom({
      secret,
      version: 2,
      migrate: (data: Record<string, unknown>, from: number) => from < 2 ? { ...data, visits: 0 } : data
    })
    const options: TypedSessionOptions = {
      secret,
      version: 2,
      migrate: (data, from) => {
        expect(data).type.toBe<Record<string, unknown>>()
        expect(from).type.toBe<number>()
        return data
      }
    }
    expect(options).type.toBeAssignableTo<TypedSessionOptions>()
    expect(() => { const o: TypedSessionOptions = { secret, version: 2, migrate: () => 'x' }; return o })
      .type.toRaiseError("'string' is not assignable to type 'Record<string, unknown>'")
    expect(() => { const o: TypedSessionOptions = { secret, version: 2, migrate: () => undefined }; return o })
      .type.toRaiseError("'undefined' is not assignable to type 'Record<string, unknown>'")
    expect(() => { const o: TypedSessionOptions = { secret, version: 2, migrate: (data: string) => ({ data }) }; return o })
      .type.toRaiseError("'Record<string, unknown>' is not assignable to type 'string'")
  })

  test('migrate works with store mode too', () => {
    expect<TypedSessionOptions>().type.toBeAssignableFrom({
      secret,
      store: undefined,
      version: 1,
      migrate: (data: Record<string, unknown>) => data
    })
  })
})
