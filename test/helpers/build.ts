/**
 * Shared test helpers: an app with the plugin registered, cookie helpers
 * and a controllable clock.
 */
import Fastify, { type FastifyInstance, type FastifyRequest, type LightMyRequestResponse } from 'fastify'
import typedSession, { type TypedSessionOptions } from '../../lib/index.js'
import { clock } from '../../lib/interface.js'

/** A 32-byte key for tests. */
export const SECRET = 'a test secret that is 32 bytes+!'
/** Another 32-byte key, for rotation tests. */
export const OTHER_SECRET = 'another test secret of 32 bytes!'

declare module '../../lib/index.js' {
  interface SessionData {
    username: string
    counter: number
    data: number[]
    nested: { list: string[], when?: Date }
    value: unknown
  }
}

/** A `/login` handler: logs `ada` in, in a permanent session. */
export async function permanentLogin (request: FastifyRequest): Promise<string> {
  request.session.set('username', 'ada')
  request.session.permanent = true
  return 'ok'
}

/** Builds an app with the plugin; `routes` adds the routes before `ready()`. */
export async function build (
  options: Partial<TypedSessionOptions> = {},
  routes: (app: FastifyInstance) => void = () => {},
  logs?: Array<Record<string, unknown>>
): Promise<FastifyInstance> {
  const app = Fastify(logs === undefined
    ? {}
    : {
        logger: {
          level: 'trace',
          stream: { write: (line: string) => { logs.push(JSON.parse(line) as Record<string, unknown>) } }
        }
      })
  await app.register(typedSession, { secret: SECRET, ...options })
  routes(app)
  await app.ready()
  return app
}

/** The session cookie's value set by a response, if any. */
export function sessionCookie (res: LightMyRequestResponse, name = 'session'): string | undefined {
  return res.cookies.find((c) => c.name === name)?.value
}

/** Every Set-Cookie header of a response, as an array. */
export function setCookies (res: LightMyRequestResponse): string[] {
  const header = res.headers['set-cookie']
  return header === undefined ? [] : Array.isArray(header) ? header : [header]
}

/** Runs `fn` with the plugin's clock set to `seconds` (Unix seconds), then restores it. */
export async function atTime<R> (seconds: number, fn: () => Promise<R>): Promise<R> {
  const original = clock.now
  clock.now = () => seconds
  try {
    return await fn()
  } finally {
    clock.now = original
  }
}

/** Sets the plugin's clock for the rest of a test; returns the function that restores it. */
export function freezeClock (seconds: number): { set: (s: number) => void, restore: () => void } {
  const original = clock.now
  let now = seconds
  clock.now = () => now
  return { set: (s) => { now = s }, restore: () => { clock.now = original } }
}

/** The cookies a browser would send next: the session cookie a response set. Throws when it set none. */
export function carry (res: LightMyRequestResponse): { session: string } {
  const value = sessionCookie(res)
  if (value === undefined || value === '') throw new Error(`expected a session cookie, got ${JSON.stringify(setCookies(res))}`)
  return { session: value }
}
