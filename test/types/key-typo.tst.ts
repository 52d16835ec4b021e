/**
 * Type tests (tstyche): a mistyped session key fails to compile with a
 * message that lists the valid keys, with SessionData augmented as the
 * README shows it (and nothing else in this program augments it).
 */
import type { FastifyRequest } from 'fastify'
import { describe, expect, test } from 'tstyche'
import '../../lib/index.js'

declare module '../../lib/index.js' {
  interface SessionData {
    username: string
    data: number[]
  }
}

declare const request: FastifyRequest
const session = request.session

describe('a key that SessionData does not have', () => {
  test('is refused by every keyed method, naming the valid keys', () => {
    expect(session.get('usrname')).type.toRaiseError('"username" | "data"')
    expect(session.get('usrname', 'nobody')).type.toRaiseError('"username" | "data"')
    expect(session.set('usrname', 'ada')).type.toRaiseError('"username" | "data"')
    expect(session.has('usrname')).type.toRaiseError('"username" | "data"')
    expect(session.delete('usrname')).type.toRaiseError('"username" | "data"')
    expect(session.pop('usrname')).type.toRaiseError('"username" | "data"')
    expect(session.pop('usrname', undefined)).type.toRaiseError('"username" | "data"')
    expect(session.setDefault('usrname', 'ada')).type.toRaiseError('"username" | "data"')
    expect(session.regenerate(['usrname'])).type.toRaiseError('"username" | "data"')
  })

  test('and the message says which key was meant', () => {
    expect(session.get('usrname')).type.toRaiseError('Argument of type \'"usrname"\' is not assignable to parameter of type')
    expect(session.regenerate(['usrname'])).type.toRaiseError("Did you mean '\"username\"'?")
  })

  test('while the right keys compile', () => {
    expect(session.get('username')).type.toBe<string | undefined>()
    expect(session.get('data')).type.toBe<number[] | undefined>()
    expect([...session.keys()]).type.toBe<Array<'username' | 'data'>>()
  })
})
