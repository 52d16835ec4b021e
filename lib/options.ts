/**
 * The plugin's options, and `normalizeOptions()`, which checks them once at
 * registration and resolves them into a frozen object that the rest of the
 * code trusts. A bad option throws a coded error; nothing falls back to a
 * default silently.
 */
import type { FastifyRequest } from 'fastify'
import { applyCookieAttributes, COOKIE_ATTRIBUTE_NAMES, DEFAULT_COOKIE_ATTRIBUTES } from './cookie-attributes.js'
import { MAX_CHUNKS } from './codecs/chunk-field.js'
import { FST_ERR_SESSION_NO_SECRET, FST_ERR_SESSION_WEAK_SECRET } from './errors.js'
import { invalidOption as invalid, show } from './invalid-option.js'
import { cookieOptionHint, optionHint } from './option-hints.js'
import type { Migrate } from './schema.js'
import type { Session } from './session.js'
import type { SessionStore } from './stores/types.js'

/** A key: a string (its UTF-8 bytes) or a Buffer, of at least 32 bytes. */
export type SessionSecret = string | Buffer

/** The cookie formats. */
export type SessionFormat = 'signed' | 'encrypted' | 'flask'

/**
 * The attributes of the session cookie. Its lifetime is not one of them:
 * Expires and Max-Age come from the top-level `maxAge`, in seconds, and only
 * a permanent session's cookie has them.
 */
export interface SessionCookieOptions {
  /**
   * The cookie's Path (Flask's `SESSION_COOKIE_PATH` / `APPLICATION_ROOT`).
   * @default '/'
   */
  path?: string
  /**
   * The cookie's Domain. Unset, the cookie is host-only.
   * @default undefined
   */
  domain?: string
  /**
   * Hide the cookie from `document.cookie`.
   * @default true
   */
  httpOnly?: boolean
  /**
   * Send the cookie over HTTPS only. `'auto'` sets Secure when
   * `request.protocol` is `https` (set Fastify's `trustProxy` behind a proxy).
   * @default 'auto'
   */
  secure?: boolean | 'auto'
  /**
   * The SameSite attribute, in any capitalisation, or `false` for none.
   * @default 'lax'
   */
  sameSite?: 'lax' | 'strict' | 'none' | 'Lax' | 'Strict' | 'None' | 'LAX' | 'STRICT' | 'NONE' | false
  /**
   * The Partitioned attribute (CHIPS).
   * @default false
   */
  partitioned?: boolean
}

/** The options shared by both modes. */
interface CommonOptions {
  /**
   * The key, or keys for rotation: the first one signs or encrypts, and
   * every one verifies. Each key is at least 32 bytes; a string is one key
   * (its UTF-8 bytes), never split. Format `'flask'` accepts a shorter key
   * with a warning, because the Flask app decides its key.
   * Generate one with `npx fastify-typed-session secret`.
   * @example secret: [process.env.SESSION_SECRET!, process.env.OLD_SESSION_SECRET!]
   */
  secret: SessionSecret | SessionSecret[]
  /**
   * The session cookie's name.
   * @default 'session'
   */
  cookieName?: string
  /**
   * The session cookie's attributes (its lifetime is `maxAge`).
   * @default { path: '/', httpOnly: true, secure: 'auto', sameSite: 'lax', partitioned: false }
   */
  cookie?: SessionCookieOptions
  /**
   * The lifetime of a permanent session, in seconds (not milliseconds: a
   * value over ten years is refused), sent as Expires and Max-Age. Also the
   * oldest signature accepted, for every session, and in store mode the
   * record's TTL.
   * @default 2678400 (31 days)
   */
  maxAge?: number
  /**
   * The longest a session may live since it was created, in seconds,
   * however often it is refreshed. `0` turns it off. Format `'flask'`
   * refuses it, because Flask's cookie has no creation time.
   * @default 0
   */
  absoluteTimeout?: number
  /**
   * Re-issue a permanent session's cookie on every response
   * (Flask's `SESSION_REFRESH_EACH_REQUEST`; `rolling` in `@fastify/session`).
   * @default true
   */
  refreshEachRequest?: boolean
  /**
   * How old, in seconds, a refreshing session's last issue must be before
   * it is issued again: a permanent session with `refreshEachRequest` gets
   * a new cookie (Expires and Max-Age moved to `maxAge` from now), and in
   * store mode a longer TTL, only once its cookie is at least this old,
   * instead of on every response. The expiry the browser sees then lags
   * the last request by less than `refreshAfter`. A change to the session
   * is still written at once, and counts as an issue. In cookie mode a
   * request whose refresh is not due sends no Set-Cookie and seals
   * nothing (a cookie this process has not verified yet is verified
   * once, then cached); in store mode it makes no store call after the
   * load, and the record keeps its last issue time in a `_issued` field.
   * `0`: on every response, as Flask does, at no extra cost. Below
   * `maxAge`, and only with `refreshEachRequest` on.
   * @default 0
   * @example refreshAfter: 60
   */
  refreshAfter?: number
  /**
   * The largest Set-Cookie header value, in bytes; above it the response
   * fails with `FST_ERR_SESSION_TOO_LARGE`. `0` turns the check off.
   * @default 4093
   */
  maxCookieSize?: number
  /**
   * Runs when a valid session is loaded (not for a new one). Returning
   * `false` turns it into an empty new session.
   * @default undefined
   * @example validate: (session) => session.get('generation') === currentGeneration
   */
  validate?: (session: Session, request: FastifyRequest) => boolean | Promise<boolean>
  /**
   * A JSON Schema of the session's data (a TypeBox `Type.Object(...)` is
   * one), compiled once with Fastify's Ajv and the app's `ajv` options, but
   * with no coercion, no defaults and no removal of additional properties.
   * A loaded session whose data fails it becomes an empty new session (one
   * debug line says where it fails); a save whose data fails it throws
   * `FST_ERR_SESSION_INVALID_DATA`. Empty data always passes. A `Date`,
   * `Buffer`, `Map` or `Set` is described by `{ instanceof: 'Date' }` and
   * the like, a BigInt by `{ typeof: 'bigint' }`.
   * Derive the types from it: `interface SessionData extends Static<typeof Schema> {}`.
   * @default undefined
   */
  schema?: object
  /**
   * The version of the data's shape, a whole number kept with each session
   * it saves. A session of an older version is passed to `migrate`; one of
   * a newer version (after a rollback) becomes an empty new session.
   * Format `'flask'` refuses it, because a Flask app would not keep it.
   * @default 0
   */
  version?: number
  /**
   * Brings the data of a session written under an older `version` up to
   * this one, once: it receives the data as a plain object of its top-level
   * keys (a `Date` is a `Date`) and the version that wrote it, and returns
   * the new data, which is checked against `schema` and saved under the new
   * version. If it throws, the session is empty. Without it, older data is
   * kept as it is if it passes `schema`. Format `'flask'` refuses it.
   * @default undefined
   * @example migrate: (data, from) => from < 2 ? { ...data, user: { id: data.userId } } : data
   */
  migrate?: (data: Record<string, unknown>, fromVersion: number) => Record<string, unknown>
}

/** Cookie mode (the default): the cookie carries the session's data. */
export interface CookieModeOptions extends CommonOptions {
  /**
   * How the cookie carries the data: signed, encrypted, or readable and
   * writable by a Flask app.
   * @default 'signed'
   */
  format?: SessionFormat
  /**
   * The most cookies one session may span, 1 to 10, when its value does
   * not fit in one Set-Cookie of `maxCookieSize`: `cookieName`,
   * `cookieName.1`, … `cookieName.(maxChunks - 1)`, each header within
   * `maxCookieSize`. `1` never splits. Every chunk comes back in the
   * request's Cookie header, so mind the server's and proxies' header
   * limits. Format `'flask'` refuses a value above 1, and so does
   * `maxCookieSize: 0`.
   * @default 1
   */
  maxChunks?: number
  /**
   * Ends a user's sessions on demand, while their data stays in the
   * cookie: `app.sessions.revokeUser(user)` keeps a "not before" time for
   * the user in `store`, and a cookie whose session was created before it
   * is then treated like a bad cookie (an empty session, and the cookie
   * deleted). Formats `'signed'` and `'encrypted'` only.
   *
   * Its cost: a request that brings a cookie has it verified and parsed
   * before the handler runs, even on a route that never reads the
   * session, and the first request of each user within `cacheSeconds`
   * waits for one `store.get` (concurrent requests of one user share it);
   * the others pay a cache lookup. A store that fails or times out fails
   * those requests with `FST_ERR_SESSION_STORE_UNAVAILABLE` (503). The
   * cookie keeps its creation time to the millisecond (a few characters
   * more). Sessions without a user in `userKey` never reach the store.
   * @default undefined (off)
   * @example revocation: { store: new RedisStore({ client }), userKey: 'userId' }
   */
  revocation?: RevocationOptions
  /** No store: the data is in the cookie. */
  store?: undefined
}

/** The `revocation` option (cookie mode). */
export interface RevocationOptions {
  /**
   * Where each revoked user's "not before" time is kept, shared by every
   * process (a `RedisStore` when there are several): one record per
   * revoked user, at the id `revoked:` + user, expiring `maxAge` +
   * `cacheSeconds` after the revocation.
   */
  store: SessionStore
  /**
   * The session key that holds the user's id: a non-empty string, or a
   * number (`42` and `'42'` name the same user). A session whose value
   * there is anything else is never checked.
   */
  userKey: string
  /**
   * How long, in seconds, a process keeps the store's answer for a user
   * (whether or not the user was revoked) before it asks again: a
   * revocation reaches every process within this time (the process that
   * calls `revokeUser` at once). `0` asks on every request that brings a
   * user's cookie. Each process keeps the answers of up to 10,000 users;
   * beyond that, those seen least recently are asked again.
   * @default 5
   */
  cacheSeconds?: number
}

/** Store mode: the data is kept by a store, and the cookie carries only a signed session id. */
export interface StoreModeOptions extends CommonOptions {
  /**
   * A server-side store (`MemoryStore`, `RedisStore` or your own). Records
   * live for `maxAge` seconds.
   */
  store: SessionStore
  /** Store mode has no cookie format: the cookie is a signed session id. */
  format?: undefined
  /** The cookie carries only the signed session id, which always fits in one. */
  maxChunks?: 1
  /** Store mode has no `revocation`: `store.destroyUser(user)` ends a user's sessions. */
  revocation?: undefined
}

/**
 * Options of `fastify-typed-session`: cookie mode (`format`) or store mode
 * (`store`), never both.
 */
export type TypedSessionOptions = CookieModeOptions | StoreModeOptions

/** The options once checked: every value resolved, and frozen. */
export interface ResolvedOptions {
  readonly secrets: readonly Buffer[]
  readonly cookieName: string
  readonly cookie: Readonly<{
    path: string
    domain: string | undefined
    httpOnly: boolean
    secure: boolean | 'auto'
    sameSite: 'lax' | 'strict' | 'none' | false
    partitioned: boolean
  }>
  readonly maxAge: number
  readonly absoluteTimeout: number
  readonly refreshEachRequest: boolean
  readonly refreshAfter: number
  readonly format: SessionFormat
  readonly maxCookieSize: number
  readonly maxChunks: number
  readonly store: SessionStore | undefined
  readonly validate: TypedSessionOptions['validate'] | undefined
  readonly schema: object | undefined
  readonly version: number
  readonly migrate: Migrate | undefined
  readonly revocation: ResolvedRevocation | undefined
}

/** The `revocation` option once checked. */
export interface ResolvedRevocation {
  readonly store: SessionStore
  readonly userKey: string
  readonly cacheSeconds: number
}

const MIN_KEY_BYTES = 32
const OPTION_NAMES = new Set(['secret', 'cookieName', 'cookie', 'maxAge', 'absoluteTimeout', 'refreshEachRequest', 'refreshAfter',
  'format', 'maxCookieSize', 'maxChunks', 'store', 'validate', 'schema', 'version', 'migrate', 'revocation'])
/** The largest `version`: what six base36 digits hold, and more versions than any app needs. */
const MAX_VERSION = 2 ** 31 - 1
/** The longest `maxAge` or `absoluteTimeout` taken to be seconds: ten years. */
const MAX_SECONDS = 10 * 365 * 86400
// RFC 6265 section 4.1.1: a cookie name is an RFC 7230 token.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

function resolveSecrets (secret: unknown, format: SessionFormat): { secrets: Buffer[], weak: number[] } {
  if (secret === undefined || secret === null || secret === '' || (Array.isArray(secret) && secret.length === 0)) {
    throw new FST_ERR_SESSION_NO_SECRET(show(secret))
  }
  const list: unknown[] = Array.isArray(secret) ? secret : [secret]
  const weak: number[] = []
  const secrets = list.map((key, index) => {
    if (typeof key !== 'string' && !Buffer.isBuffer(key)) {
      throw invalid(`secret[${index}]`, 'a string or a Buffer of at least 32 bytes', key)
    }
    const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key)
    if (bytes.length < MIN_KEY_BYTES) {
      // Flask's app decides its own key, so format 'flask' only warns.
      if (format !== 'flask' || bytes.length === 0) throw new FST_ERR_SESSION_WEAK_SECRET(bytes.length, index)
      weak.push(index)
    }
    return bytes
  })
  return { secrets, weak }
}

function whole (name: string, value: unknown, fallback: number, unit: string, allowZero: boolean): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || (value === 0 && !allowZero)) {
    throw invalid(name, allowZero ? `a whole number of ${unit}, or 0 for off` : `a positive whole number of ${unit}`, value)
  }
  return value
}

function seconds (name: string, value: unknown, fallback: number, allowZero: boolean): number {
  const n = whole(name, value, fallback, 'seconds', allowZero)
  // A lifetime in milliseconds (@fastify/session's unit) would otherwise pass
  // as a session that lasts for decades.
  if (n > MAX_SECONDS) {
    throw invalid(name, `seconds, not milliseconds: at most ${MAX_SECONDS} (ten years), such as 2678400 for 31 days`, n)
  }
  return n
}

function bool (name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw invalid(name, 'a boolean', value)
  return value
}

function cookieName (value: unknown): string {
  if (value === undefined) return 'session'
  if (typeof value !== 'string' || !TOKEN.test(value)) {
    throw invalid('cookieName', "a non-empty token of letters, digits and !#$%&'*+-.^_`|~", value)
  }
  return value
}

/**
 * The `cookie` option: a name that is not an attribute is refused (with a
 * hint for another plugin's name), then the attributes are checked.
 */
function resolveCookie (cookie: unknown): ResolvedOptions['cookie'] {
  if (cookie !== null && typeof cookie === 'object' && !Array.isArray(cookie)) {
    for (const key of Object.keys(cookie)) {
      if (!COOKIE_ATTRIBUTE_NAMES.has(key)) {
        throw invalid(`cookie.${key}`, cookieOptionHint(key) ?? `one of ${[...COOKIE_ATTRIBUTE_NAMES].join(', ')}`, key)
      }
    }
  }
  return applyCookieAttributes(cookie === undefined ? {} : cookie, DEFAULT_COOKIE_ATTRIBUTES,
    (attribute) => attribute === undefined ? 'cookie' : `cookie.${attribute}`)
}

function isStore (value: unknown): value is SessionStore {
  if (value === null || typeof value !== 'object') return false
  const s = value as Record<string, unknown>
  return ['get', 'set', 'touch', 'destroy', 'rename'].every((m) => typeof s[m] === 'function')
}

/** The `schema`, `version` and `migrate` options, checked (the schema is compiled later, with the app's Ajv). */
function dataRules (o: Record<string, unknown>, format: SessionFormat):
Pick<ResolvedOptions, 'schema' | 'version' | 'migrate'> {
  const { schema, version = 0, migrate } = o
  if (schema !== undefined && (schema === null || typeof schema !== 'object' || Array.isArray(schema))) {
    throw invalid('schema', 'a JSON Schema object, such as TypeBox\'s Type.Object(...)', schema)
  }
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 0 || version > MAX_VERSION) {
    throw invalid('version', `a whole number from 0 to ${MAX_VERSION}`, version)
  }
  if (migrate !== undefined && typeof migrate !== 'function') throw invalid('migrate', 'a function', migrate)
  if (format === 'flask') {
    // A Flask app rewrites the cookie without the version, so a version could not be trusted.
    if (o.version !== undefined) throw invalid('version', "no version with format 'flask', whose cookie a Flask app rewrites without it", version)
    if (migrate !== undefined) throw invalid('migrate', "no migrate with format 'flask', whose cookie keeps no version", migrate)
  }
  if (migrate !== undefined && version === 0) {
    throw invalid('migrate', 'a version of 1 or more beside it: migrate runs on sessions written under an older version', migrate)
  }
  return { schema, version, migrate: migrate as Migrate | undefined }
}

/** The `maxChunks` option, checked against the format, the store and `maxCookieSize`. */
function maxChunks (value: unknown, format: SessionFormat, store: unknown, maxCookieSize: number): number {
  if (value === undefined) return 1
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_CHUNKS) {
    throw invalid('maxChunks', `a whole number from 1 to ${MAX_CHUNKS}`, value)
  }
  if (value === 1) return 1
  if (store !== undefined) throw invalid('maxChunks', '1 with a store: the cookie carries only the signed session id', value)
  if (format === 'flask') throw invalid('maxChunks', "1 with format 'flask', whose cookie a Flask app reads as one", value)
  if (maxCookieSize === 0) throw invalid('maxChunks', 'a maxCookieSize above 0 beside it: each chunk is cut to fit maxCookieSize', value)
  return value
}

/** The `refreshAfter` option, checked against `maxAge` and `refreshEachRequest`. */
function refreshAfter (value: unknown, maxAge: number, refreshEachRequest: boolean): number {
  const n = seconds('refreshAfter', value, 0, true)
  if (n === 0) return 0
  // Not due until the session has expired: it would never be refreshed.
  if (n >= maxAge) throw invalid('refreshAfter', `fewer seconds than maxAge (${maxAge}): a session not refreshed within maxAge expires`, n)
  if (!refreshEachRequest) throw invalid('refreshAfter', '0 with refreshEachRequest false, which never refreshes a session', n)
  return n
}

const REVOCATION_NAMES = ['store', 'userKey', 'cacheSeconds']

/** The `revocation` option, checked against the mode and the format. */
function revocation (value: unknown, format: SessionFormat, store: unknown): ResolvedRevocation | undefined {
  if (value === undefined) return undefined
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalid('revocation', 'an object { store, userKey, cacheSeconds }', value)
  }
  if (store !== undefined) throw invalid('revocation', "no revocation with a store: there the store's destroyUser(user) ends a user's sessions", value)
  // Without a creation time in the cookie, nothing says whether a session predates its user's revocation.
  if (format === 'flask') throw invalid('revocation', "no revocation with format 'flask', whose cookie has no creation time", value)
  const r = value as Record<string, unknown>
  for (const key of Object.keys(r)) {
    if (!REVOCATION_NAMES.includes(key)) throw invalid(`revocation.${key}`, `one of ${REVOCATION_NAMES.join(', ')}`, key)
  }
  if (!isStore(r.store)) throw invalid('revocation.store', 'a SessionStore (an object with get, set, touch, destroy and rename methods)', r.store)
  if (typeof r.userKey !== 'string' || r.userKey === '') {
    throw invalid('revocation.userKey', "a non-empty string: the session key that holds the user's id", r.userKey)
  }
  return Object.freeze({ store: r.store, userKey: r.userKey, cacheSeconds: seconds('revocation.cacheSeconds', r.cacheSeconds, 5, true) })
}

/** What `normalizeOptions` returns: the options, and the warnings to log. */
export interface Normalized {
  options: ResolvedOptions
  warnings: string[]
}

/**
 * Checks the options and resolves every default. Throws a coded error that
 * names the option, what was expected and what was given.
 */
export function normalizeOptions (given: unknown): Normalized {
  if (given === null || typeof given !== 'object') throw invalid('options', 'an object', given)
  const o = given as Record<string, unknown>
  for (const key of Object.keys(o)) {
    if (!OPTION_NAMES.has(key)) throw invalid(key, optionHint(key) ?? `one of ${[...OPTION_NAMES].join(', ')}`, key)
  }
  const format = o.format === undefined ? 'signed' : o.format
  if (format !== 'signed' && format !== 'encrypted' && format !== 'flask') {
    throw invalid('format', "'signed', 'encrypted' or 'flask'", format)
  }
  const { secrets, weak } = resolveSecrets(o.secret, format)
  const absoluteTimeout = seconds('absoluteTimeout', o.absoluteTimeout, 0, true)
  if (format === 'flask' && absoluteTimeout > 0) {
    throw invalid('absoluteTimeout', "0 with format 'flask', whose cookie has no creation time", absoluteTimeout)
  }
  const store = o.store
  if (store !== undefined && !isStore(store)) {
    throw invalid('store', 'a SessionStore (an object with get, set, touch, destroy and rename methods)', store)
  }
  if (store !== undefined && o.format !== undefined) {
    throw invalid('format', 'no format with a store: the cookie carries only the signed session id', format)
  }
  const validate = o.validate
  if (validate !== undefined && typeof validate !== 'function') throw invalid('validate', 'a function', validate)
  const { schema, version, migrate } = dataRules(o, format)
  const maxCookieSize = whole('maxCookieSize', o.maxCookieSize, 4093, 'bytes', true)
  // Checked in the order of the resolved object, so that the first bad option is the one an error names.
  const name = cookieName(o.cookieName)
  const cookie = resolveCookie(o.cookie)
  const maxAge = seconds('maxAge', o.maxAge, 2678400, false)
  const refreshEachRequest = bool('refreshEachRequest', o.refreshEachRequest, true)
  const options: ResolvedOptions = {
    secrets: Object.freeze(secrets),
    cookieName: name,
    cookie,
    maxAge,
    absoluteTimeout,
    refreshEachRequest,
    refreshAfter: refreshAfter(o.refreshAfter, maxAge, refreshEachRequest),
    format,
    maxCookieSize,
    maxChunks: maxChunks(o.maxChunks, format, store, maxCookieSize),
    store,
    validate: validate as ResolvedOptions['validate'],
    schema,
    version,
    migrate,
    revocation: revocation(o.revocation, format, store)
  }
  const warnings = weak.map((index) =>
    `secret[${index}] is shorter than 32 bytes; format 'flask' accepts it because the Flask app decides its key, but use a longer SECRET_KEY`)
  return { options: Object.freeze(options), warnings }
}
