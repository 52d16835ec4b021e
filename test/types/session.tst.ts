/**
 * Type tests (tstyche): the session is typed by the augmented SessionData.
 * Right uses compile; wrong keys and wrong value types do not.
 */
import Fastify, { type FastifyRequest } from 'fastify'
import { describe, expect, test } from 'tstyche'
import typedSession, { type Flash, type Session, type SessionData, type TypedSessionOptions } from '../../lib/index.js'

declare module '../../lib/index.js' {
  interface SessionData {
    username: string
    counter: number
    data: number[]
    when?: Date
  }
}

type Key = 'username' | 'counter' | 'data' | 'when'
type Value = string | number | number[] | Date | undefined

declare const request: FastifyRequest
const session = request.session

describe('request.session', () => {
  test('is a Session of SessionData', () => {
    expect(session).type.toBe<Session<SessionData>>()
  })

  test('get(key) returns the value type or undefined', () => {
    expect(session.get('username')).type.toBe<string | undefined>()
    expect(session.get('counter')).type.toBe<number | undefined>()
    expect(session.get('data')).type.toBe<number[] | undefined>()
    expect(session.get('when')).type.toBe<Date | undefined>()
  })

  test('get(key, fallback) returns the value type or the fallback type', () => {
    expect(session.get('counter', 0)).type.toBe<number>()
    expect(session.get('username', null)).type.toBe<string | null>()
    expect(session.get('counter', 'none')).type.toBe<number | 'none'>()
    expect(session.get('data', [] as number[])).type.toBe<number[]>()
    expect(session.get('username', undefined)).type.toBe<string | undefined>()
  })

  test('get refuses a key that SessionData does not have', () => {
    expect(session.get('usrname')).type.toRaiseError('"usrname"')
    expect(session.get('nope', 1)).type.toRaiseError('"nope"')
    expect(session.get('username' as string)).type.toRaiseError("Argument of type 'string' is not assignable")
    expect(session.get(1)).type.toRaiseError("Argument of type '1' is not assignable")
  })

  test('set(key, value) takes the value type and returns the session', () => {
    expect(session.set('username', 'ada')).type.toBe<Session<SessionData>>()
    expect(session.set('counter', 1).set('data', [1, 2])).type.toBe<Session<SessionData>>()
    expect(session.set('when', new Date())).type.not.toRaiseError()
  })

  test('set refuses a wrong key or a wrong value type', () => {
    expect(session.set('usrname', 'ada')).type.toRaiseError('"usrname"')
    expect(session.set('username', 42)).type.toRaiseError("'number' is not assignable to parameter of type 'string'")
    expect(session.set('data', ['x'])).type.toRaiseError("'string' is not assignable to type 'number'")
    expect(session.set('counter', '1')).type.toRaiseError("'string' is not assignable to parameter of type 'number'")
    expect(session.set('counter', undefined)).type.toRaiseError("'undefined' is not assignable to parameter of type 'number'")
    expect(session.set('when', '2024-01-01')).type.toRaiseError("'string' is not assignable to parameter of type 'Date'")
  })

  test('has and delete take a key and return a boolean', () => {
    expect(session.has('username')).type.toBe<boolean>()
    expect(session.delete('counter')).type.toBe<boolean>()
    expect(session.has('nope')).type.toRaiseError('"nope"')
    expect(session.delete('nope')).type.toRaiseError('"nope"')
  })

  test('pop(key) returns the value type, and pop(key, fallback) adds the fallback type', () => {
    expect(session.pop('counter')).type.toBe<number>()
    expect(session.pop('username', undefined)).type.toBe<string | undefined>()
    expect(session.pop('username', 0)).type.toBe<string | 0>()
    expect(session.pop('nope')).type.toRaiseError('"nope"')
    expect(session.pop('nope', 1)).type.toRaiseError('"nope"')
  })

  test('setDefault(key, value) takes and returns the value type', () => {
    expect(session.setDefault('data', [])).type.toBe<number[]>()
    expect(session.setDefault('username', 'anonymous')).type.toBe<string>()
    expect(session.setDefault('data', ['x'])).type.toRaiseError("'string' is not assignable to type 'number'")
    expect(session.setDefault('nope', 1)).type.toRaiseError('"nope"')
  })

  test('update takes a Partial of SessionData', () => {
    expect(session.update({ username: 'ada', counter: 1 })).type.toBe<void>()
    expect(session.update({})).type.not.toRaiseError()
    expect(session.update({ counter: 'one' })).type.toRaiseError("'string' is not assignable to type 'number'")
    expect(session.update({ nope: 1 })).type.toRaiseError("'nope' does not exist")
    expect(session.update({ data: [1], extra: true })).type.toRaiseError("'extra' does not exist")
  })

  test('keys, values, entries and iteration are typed as in a Map', () => {
    expect([...session.keys()]).type.toBe<Key[]>()
    expect([...session.values()]).type.toBe<Value[]>()
    expect([...session.entries()]).type.toBe<Array<[Key, Value]>>()
    expect([...session]).type.toBe<Array<[Key, Value]>>()
    for (const [key, value] of session) {
      expect(key).type.toBe<Key>()
      expect(value).type.toBe<Value>()
    }
    expect(session.size).type.toBe<number>()
    expect(session.toJSON()).type.toBe<Partial<SessionData>>()
  })

  test('clear and regenerate', () => {
    expect(session.clear()).type.toBe<void>()
    expect(session.regenerate()).type.toBe<Promise<void>>()
  })

  test('regenerate(keep) takes an array of SessionData keys', () => {
    expect(session.regenerate(['username', 'data'])).type.toBe<Promise<void>>()
    expect(session.regenerate([])).type.toBe<Promise<void>>()
    expect(session.regenerate([...session.keys()])).type.toBe<Promise<void>>()
    expect(session.regenerate(['usrname'])).type.toRaiseError('"usrname"')
    expect(session.regenerate('username')).type.toRaiseError("'string' is not assignable")
  })

  test('options takes the cookie attributes, typed as the cookie option', () => {
    expect(session.options({ path: '/app', domain: 'example.com', sameSite: 'Strict', secure: 'auto', httpOnly: true, partitioned: false })).type.toBe<void>()
    expect(session.options({ sameSite: false })).type.toBe<void>()
    expect(session.options({})).type.toBe<void>()
    expect(session.options({ sameSite: 'bogus' })).type.toRaiseError('"bogus"')
    expect(session.options({ secure: 'yes' })).type.toRaiseError('"yes"')
    expect(session.options({ path: 1 })).type.toRaiseError("'number' is not assignable to type 'string'")
    expect(session.options({ maxAge: 60 })).type.toRaiseError("'maxAge' does not exist")
  })

  test('a property that the session does not have cannot be assigned (it throws a TypeError at run time)', () => {
    expect(() => { session.user = 'ada' }).type.toRaiseError("Property 'user' does not exist on type 'Session<SessionData>'")
    expect(() => { session.size = 1 }).type.toRaiseError('read-only')
  })

  test('new and accessed are read-only booleans; modified and permanent can be set', () => {
    expect(session.new).type.toBe<boolean>()
    expect(session.accessed).type.toBe<boolean>()
    expect(session.modified).type.toBe<boolean>()
    expect(session.permanent).type.toBe<boolean>()
    expect(() => { session.new = true }).type.toRaiseError('read-only')
    expect(() => { session.accessed = false }).type.toRaiseError('read-only')
    expect(() => { session.modified = true }).type.not.toRaiseError()
    expect(() => { session.permanent = true }).type.not.toRaiseError()
    expect(() => { session.permanent = 'yes' }).type.toRaiseError("'string' is not assignable to type 'boolean'")
  })

  test('a nested value handed out can be changed in place', () => {
    expect(() => { session.get('data')?.push(8) }).type.not.toRaiseError()
    expect(() => { session.get('data')?.push('8') }).type.toRaiseError("'string' is not assignable to parameter of type 'number'")
  })

  test('there is no untyped fallback: no index access and no unknown members', () => {
    expect(session).type.not.toHaveProperty('username')
    expect(session).type.not.toHaveProperty('getItem')
  })
})

describe('Session<T> for another shape', () => {
  test('is keyed by that shape', () => {
    const cart = {} as Session<{ items: string[], total: number }>
    expect(cart.get('items')).type.toBe<string[] | undefined>()
    expect(cart.set('total', 3)).type.not.toRaiseError()
    expect(cart.set('username', 'ada')).type.toRaiseError('"username"')
  })
})

describe('flash messages', () => {
  test('session.flash takes a message and an optional category', () => {
    expect(session.flash('Logged in')).type.toBe<void>()
    expect(session.flash('Wrong password', 'error')).type.toBe<void>()
    expect(session.flash(1)).type.toRaiseError("'number' is not assignable to parameter of type 'string'")
    expect(session.flash('x', 1)).type.toRaiseError("'number' is not assignable to parameter of type 'string'")
    expect(session.flash()).type.toRaiseError('Expected 1-2 arguments')
  })

  test('session.getFlashedMessages returns messages, or [category, message] pairs with withCategories', () => {
    expect(session.getFlashedMessages()).type.toBe<string[]>()
    expect(session.getFlashedMessages({ withCategories: true })).type.toBe<Flash[]>()
    expect(session.getFlashedMessages({ withCategories: true, categoryFilter: ['error'] })).type.toBe<Array<[category: string, message: string]>>()
    expect(session.getFlashedMessages({ categoryFilter: ['error'] })).type.toBe<string[]>()
    expect(session.getFlashedMessages({ withCategories: false })).type.toBe<string[]>()
    expect(session.getFlashedMessages({ withCategories: Math.random() > 0.5 })).type.toBe<string[] | Flash[]>()
    expect(session.getFlashedMessages({ withCategories: 'yes' })).type.toRaiseError()
    expect(session.getFlashedMessages({ categoryFilter: 'error' })).type.toRaiseError()
  })

  test('the request has no getFlashedMessages decorator (and request.flash is left to @fastify/flash)', () => {
    expect(request).type.not.toHaveProperty('getFlashedMessages')
  })
})

describe('the plugin, its options and the route config', () => {
  const app = Fastify()

  test('registers with a secret, and refuses options of the wrong type', () => {
    expect(app.register(typedSession, { secret: 'a secret of at least thirty-two bytes!' })).type.not.toRaiseError()
    expect(app.register(typedSession, { secret: [Buffer.alloc(32), 'old key of at least thirty-two bytes'] })).type.not.toRaiseError()
    expect(app.register(typedSession, {
      secret: 'k',
      cookieName: 'sid',
      cookie: { path: '/', domain: 'example.com', httpOnly: true, secure: 'auto', sameSite: 'Strict', partitioned: false },
      maxAge: 60,
      absoluteTimeout: 0,
      refreshEachRequest: false,
      format: 'encrypted',
      maxCookieSize: 0,
      validate: async (s, req) => s.get('username') !== req.ip
    })).type.not.toRaiseError()
    expect(app.register(typedSession, {})).type.toRaiseError('No overload matches this call')
    expect(app.register(typedSession, { secret: 42 })).type.toRaiseError('No overload matches this call')
    expect(app.register(typedSession, { secret: 'k', maxAge: '60' })).type.toRaiseError('No overload matches this call')
  })

  test('TypedSessionOptions refuses a missing secret, unknown options and values of the wrong type', () => {
    expect(() => { const o: TypedSessionOptions = {}; return o }).type.toRaiseError("Type '{}' is not assignable to type 'TypedSessionOptions'")
    expect(() => { const o: TypedSessionOptions = { secret: 42 }; return o }).type.toRaiseError("'number' is not assignable")
    expect(() => { const o: TypedSessionOptions = { secret: 'k', secrets: [] }; return o }).type.toRaiseError("'secrets' does not exist")
    expect(() => { const o: TypedSessionOptions = { secret: 'k', maxAge: '60' }; return o }).type.toRaiseError("'string' is not assignable to type 'number'")
    expect(() => { const o: TypedSessionOptions = { secret: 'k', format: 'json' }; return o }).type.toRaiseError('"json"')
    expect(() => { const o: TypedSessionOptions = { secret: 'k', cookie: { sameSite: 'invalid' } }; return o }).type.toRaiseError('"invalid"')
    expect(() => { const o: TypedSessionOptions = { secret: 'k', cookie: { secure: 'yes' } }; return o }).type.toRaiseError('"yes"')
    expect(() => { const o: TypedSessionOptions = { secret: 'k', cookie: { maxAge: 1 } }; return o }).type.toRaiseError("'maxAge' does not exist")
    expect(() => { const o: TypedSessionOptions = { secret: 'k', validate: () => 'yes' }; return o }).type.toRaiseError("'string' is not assignable")
  })

  test('TypedSessionOptions requires the secret', () => {
    expect<TypedSessionOptions>().type.toHaveProperty('secret')
    expect<Pick<TypedSessionOptions, 'secret'>>().type.toBe<{ secret: string | Buffer | Array<string | Buffer> }>()
  })

  test("config.session takes false or 'readonly'", () => {
    expect(app.get('/a', { config: { session: 'readonly' } }, async (req) => req.session.get('username'))).type.not.toRaiseError()
    expect(app.get('/b', { config: { session: false } }, async () => 'ok')).type.not.toRaiseError()
    expect(app.get('/c', { config: { session: true } }, async () => 'ok')).type.toRaiseError()
    expect(app.get('/d', { config: { session: 'write' } }, async () => 'ok')).type.toRaiseError()
  })

  test('app.sessions encodes typed data and decodes a session', () => {
    expect(app.sessions.encode({ username: 'ada' })).type.toBe<Promise<string>>()
    expect(app.sessions.encode({ username: 'ada' }, { permanent: true })).type.toBe<Promise<string>>()
    expect(app.sessions.decode('value')).type.toBe<Promise<Session | null>>()
    expect(app.sessions.encode({ username: 1 })).type.toRaiseError("'number' is not assignable to type 'string'")
    expect(app.sessions.encode({ nope: 1 })).type.toRaiseError("'nope' does not exist")
  })
})
