/**
 * Type tests (tstyche): `TypedSessionOptions` is cookie mode (`format`) or
 * store mode (`store`), never both, and a misspelt option fails to compile
 * with tsc's "Did you mean" suggestion.
 */
import Fastify from 'fastify'
import { describe, expect, test } from 'tstyche'
import typedSession, { MemoryStore, type SessionFormat, type SessionStore, type TypedSessionOptions } from '../../lib/index.js'

const store = new MemoryStore()
const secret = 'a secret of at least thirty-two bytes!'
declare const maybeStore: SessionStore | undefined
declare const someFormat: SessionFormat

describe('TypedSessionOptions', () => {
  test('cookie mode compiles, with or without a format', () => {
    expect<TypedSessionOptions>().type.toBeAssignableFrom({ secret })
    expect<TypedSessionOptions>().type.toBeAssignableFrom({ secret, format: 'encrypted' as const })
    expect<TypedSessionOptions>().type.toBeAssignableFrom({ secret, format: someFormat })
    expect<TypedSessionOptions>().type.toBeAssignableFrom({ secret, format: 'flask' as const, store: undefined })
  })

  test('store mode compiles, and a store that may be undefined picks the mode at run time', () => {
    expect<TypedSessionOptions>().type.toBeAssignableFrom({ secret, store })
    expect<TypedSessionOptions>().type.toBeAssignableFrom({ secret, store, format: undefined })
    expect<TypedSessionOptions>().type.toBeAssignableFrom({ secret, store: maybeStore })
  })

  test('maxChunks above 1 compiles in cookie mode only', () => {
    expect<TypedSessionOptions>().type.toBeAssignableFrom({ secret, maxChunks: 4 })
    expect<TypedSessionOptions>().type.toBeAssignableFrom({ secret, store, maxChunks: 1 as const })
    expect(() => { const o: TypedSessionOptions = { secret, store, maxChunks: 2 }; return o }).type.toRaiseError()
  })

  test('revocation compiles in cookie mode only, and revokeUser takes a string or a number', () => {
    expect<TypedSessionOptions>().type.toBeAssignableFrom({ secret, revocation: { store, userKey: 'userId' } })
    expect<TypedSessionOptions>().type.toBeAssignableFrom({ secret, revocation: { store, userKey: 'userId', cacheSeconds: 0 } })
    expect(() => { const o: TypedSessionOptions = { secret, store, revocation: { store, userKey: 'userId' } }; return o }).type.toRaiseError()
    expect(() => { const o: TypedSessionOptions = { secret, revocation: { store } }; return o }).type.toRaiseError("Property 'userKey' is missing")
    const app = Fastify()
    expect(app.sessions.revokeUser('ada')).type.toBe<Promise<void>>()
    expect(app.sessions.revokeUser(42)).type.toBe<Promise<void>>()
    expect(app.sessions.revokeUser({ id: 'ada' })).type.toRaiseError()
  })

  test('format together with store fails to compile', () => {
    expect(() => { const o: TypedSessionOptions = { secret, store, format: 'signed' }; return o }).type.toRaiseError()
    expect(() => { const o: TypedSessionOptions = { secret, store, format: someFormat }; return o }).type.toRaiseError()
    expect(() => { const o: TypedSessionOptions = { secret, store: maybeStore, format: 'encrypted' }; return o }).type.toRaiseError()
  })

  test('the secret is required in both modes', () => {
    expect(() => { const o: TypedSessionOptions = { store }; return o }).type.toRaiseError("Property 'secret' is missing")
    expect(() => { const o: TypedSessionOptions = { format: 'signed' }; return o }).type.toRaiseError("Property 'secret' is missing")
    expect(() => { const o: TypedSessionOptions = { cookieName: 'sid' }; return o }).type.toRaiseError('secret')
    expect(() => { const o: TypedSessionOptions = {}; return o }).type.toRaiseError("Type '{}' is not assignable to type 'TypedSessionOptions'")
  })

  test('a misspelt option fails to compile, and tsc suggests the right name', () => {
    expect(() => { const o: TypedSessionOptions = { secret, cookiName: 'sid' }; return o })
      .type.toRaiseError("'cookiName' does not exist in type 'TypedSessionOptions'. Did you mean to write 'cookieName'?")
    expect(() => { const o: TypedSessionOptions = { secret, store, maxage: 60 }; return o })
      .type.toRaiseError("Did you mean to write 'maxAge'?")
    expect(() => { const o: TypedSessionOptions = { secret, refreshEachRequests: false }; return o })
      .type.toRaiseError("Did you mean to write 'refreshEachRequest'?")
  })

  test("another session plugin's option name fails to compile", () => {
    expect(() => { const o: TypedSessionOptions = { key: secret }; return o }).type.toRaiseError("'key' does not exist")
    expect(() => { const o: TypedSessionOptions = { secret, ttl: 60 }; return o }).type.toRaiseError("'ttl' does not exist")
    expect(() => { const o: TypedSessionOptions = { secret, rolling: true }; return o }).type.toRaiseError("'rolling' does not exist")
    expect(() => { const o: TypedSessionOptions = { secret, cookie: { maxAge: 60 } }; return o }).type.toRaiseError("'maxAge' does not exist")
  })

  test('the options shared by both modes are read from either', () => {
    expect<TypedSessionOptions['maxAge']>().type.toBe<number | undefined>()
    expect<TypedSessionOptions['format']>().type.toBe<SessionFormat | undefined>()
    expect<TypedSessionOptions['store']>().type.toBe<SessionStore | undefined>()
  })
})

describe('app.register(typedSession, options)', () => {
  const app = Fastify()

  test('takes either mode', () => {
    expect(app.register(typedSession, { secret, format: 'encrypted' })).type.not.toRaiseError()
    expect(app.register(typedSession, { secret, store })).type.not.toRaiseError()
    expect(app.register(typedSession, { secret, store: maybeStore })).type.not.toRaiseError()
  })

  test('refuses format with store, and a misspelt option', () => {
    expect(app.register(typedSession, { secret, store, format: 'signed' })).type.toRaiseError('No overload matches this call')
    expect(app.register(typedSession, { secret, cookiName: 'sid' })).type.toRaiseError("'cookiName' does not exist")
  })
})
