/**
 * Every coded error of fastify-typed-session, in one catalogue.
 *
 * Each constructor comes from `@fastify/error`, so instances carry a stable
 * `code`, a `statusCode` and, where an I/O failure is wrapped, the original
 * error as `cause`.
 */
import { createError } from '@fastify/error'

/** `secret` is missing. Thrown at registration. */
export const FST_ERR_SESSION_NO_SECRET = createError(
  'FST_ERR_SESSION_NO_SECRET',
  'Expected the option secret: a key of at least 32 bytes (string or Buffer) or an array of them, received %s; generate one with `npx fastify-typed-session secret`',
  500,
  TypeError
)

/** A key is shorter than 32 bytes. Thrown at registration. */
export const FST_ERR_SESSION_WEAK_SECRET = createError(
  'FST_ERR_SESSION_WEAK_SECRET',
  'Expected every key in secret to be at least 32 bytes, received a key of %d bytes at index %d; generate one with `npx fastify-typed-session secret`',
  500,
  RangeError
)

/** Any other bad option, naming it, what was expected and the value given. Thrown at registration. */
export const FST_ERR_SESSION_INVALID_OPTION = createError(
  'FST_ERR_SESSION_INVALID_OPTION',
  'Invalid option %s: expected %s, received %s',
  500,
  TypeError
)

/** `session.pop(key)` of a missing key, without a fallback (Flask's KeyError). */
export const FST_ERR_SESSION_KEY_NOT_FOUND = createError(
  'FST_ERR_SESSION_KEY_NOT_FOUND',
  'Session key %s not found, and no fallback was given',
  500
)

/**
 * A write to a session that the route forbids: by its `config.session`, or
 * because it is a WebSocket route (`websocket: true`), whose upgrade
 * response carries no cookie. The message says which.
 */
export const FST_ERR_SESSION_READONLY = createError(
  'FST_ERR_SESSION_READONLY',
  'The session is read-only on this route (%s), so %s is not allowed',
  500
)

/**
 * The Set-Cookie header would be larger than `maxCookieSize`, and with
 * `maxChunks` above 1, the value would need more cookies than it allows
 * (the third argument says how many, or is empty).
 */
export const FST_ERR_SESSION_TOO_LARGE = createError<'FST_ERR_SESSION_TOO_LARGE', 500, [size: number, limit: number, chunks: string, keys: string]>(
  'FST_ERR_SESSION_TOO_LARGE',
  'The session cookie would be %d bytes, more than maxCookieSize (%d bytes)%s; the largest keys are %s',
  500
)

/** A session value that cannot be kept: a function, a symbol, a class instance or a cycle. */
export const FST_ERR_SESSION_UNSERIALIZABLE = createError(
  'FST_ERR_SESSION_UNSERIALIZABLE',
  'The session value at key %s cannot be stored: %s',
  500
)

/**
 * A save whose data fails the `schema` option, naming the failing path and
 * keyword: a cast, or a JavaScript caller, wrote what the types forbid.
 */
export const FST_ERR_SESSION_INVALID_DATA = createError(
  'FST_ERR_SESSION_INVALID_DATA',
  'The session data fails the schema at %s, so it was not saved',
  500
)

/** The session store failed or timed out. The original error is the `cause`. */
export const FST_ERR_SESSION_STORE_UNAVAILABLE = createError(
  'FST_ERR_SESSION_STORE_UNAVAILABLE',
  'The session store is unavailable: %s',
  503
)
