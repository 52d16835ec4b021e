/**
 * What to write instead of another session plugin's option name. A user
 * migrating from `@fastify/secure-session`, `@fastify/session`,
 * iron-session, cookie-session or express-session meets these names first,
 * so the error for such an option says what takes its place here, or that
 * nothing needs to.
 */
import { COOKIE_ATTRIBUTE_NAMES } from './cookie-attributes.js'

const SAME_KEY = 'a key of at least 32 bytes, or an array of keys for rotation (the first signs, every one verifies)'

const OPTION_HINTS: ReadonlyMap<string, string> = new Map([
  ['key', `secret instead (@fastify/secure-session's key): ${SAME_KEY}; a string is read as UTF-8, so pass a base64 key as Buffer.from(key, 'base64')`],
  ['salt', 'no salt (@fastify/secure-session stretched secret with salt): secret is used as a key, never stretched, so give a random one of at least 32 bytes, from `npx fastify-typed-session secret`'],
  ['password', `secret instead (iron-session's password): ${SAME_KEY}`],
  ['keys', `secret instead (cookie-session's keys): ${SAME_KEY}`],
  ['ttl', "maxAge instead, in seconds: the lifetime of a permanent session, and in store mode the record's TTL"],
  ['expiry', "maxAge instead, in seconds (@fastify/secure-session's expiry)"],
  ['expires', 'maxAge instead, in seconds: a permanent session\'s cookie gets Expires and Max-Age from it'],
  ['cookieOptions', 'cookie instead (the cookieOptions of @fastify/secure-session and iron-session) for the attributes, and the top-level maxAge, in seconds, for the lifetime'],
  ['rolling', "refreshEachRequest instead (@fastify/session's rolling): it re-issues a permanent session's cookie on every response"],
  ['saveUninitialized', "nothing in its place (@fastify/session's saveUninitialized): a new session that stays empty never sets a cookie, as with saveUninitialized: false"],
  ['resave', "nothing in its place (express-session's resave): a session is written when it changed, and a permanent one is refreshed as refreshEachRequest says"],
  ['name', "cookieName instead (express-session's name)"],
  ['sessionName', "nothing in its place (@fastify/secure-session's sessionName): the session is always request.session"],
  ['idGenerator', 'nothing in its place (@fastify/session\'s idGenerator): a session id is 32 random bytes from node:crypto'],
  ['algorithm', "nothing in its place (@fastify/session's algorithm): format decides how the cookie is signed or encrypted"],
  ...[...COOKIE_ATTRIBUTE_NAMES].map((name) => [name, `cookie.${name} instead: the cookie's attributes go in the option cookie`] as const)
])

const COOKIE_HINTS: ReadonlyMap<string, string> = new Map([
  ['maxAge', "the top-level maxAge instead, in seconds (@fastify/session's cookie.maxAge is in milliseconds)"],
  ['expires', "the top-level maxAge instead, in seconds: a permanent session's cookie gets Expires and Max-Age from it"],
  ['signed', 'nothing in its place: the cookie is always signed or encrypted, as format says']
])

/**
 * What to write instead of the top-level option `name`, when another
 * session plugin (or a cookie attribute put at the top level) uses that
 * name; `undefined` for any other name.
 */
export function optionHint (name: string): string | undefined {
  return OPTION_HINTS.get(name)
}

/**
 * What to write instead of `cookie[name]`, when another session plugin
 * takes that name among its cookie options; `undefined` for any other name.
 */
export function cookieOptionHint (name: string): string | undefined {
  return COOKIE_HINTS.get(name)
}
