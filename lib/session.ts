/**
 * The session object: a typed, dict-like view of the session's data, with
 * Flask's flags (`new`, `modified`, `accessed`, `permanent`).
 *
 * The data is loaded lazily: a route that never touches the session never
 * verifies its cookie. Changes are tracked two ways: every write through the
 * API sets `modified`, and once a mutable value has been handed out, the
 * session compares its serialization with the one it was loaded from, so an
 * in-place change such as `session.get('data')!.push(8)` is saved too.
 * Flash messages, `regenerate(keep)` and this response's cookie attributes
 * (`options()`) are members of the session as well.
 */
import type { FastifyBaseLogger } from 'fastify'
import { FST_ERR_SESSION_INVALID_OPTION, FST_ERR_SESSION_KEY_NOT_FOUND, FST_ERR_SESSION_READONLY } from './errors.js'
import { queueFlash, takeFlashes, type FlashFilter } from './flash.js'
import type { ResolvedOptions, SessionCookieOptions } from './options.js'
import type { Flash, SessionContent } from './serialize.js'

/**
 * The data a session holds. It starts empty; augment it in your app:
 * @example
 * declare module 'fastify-typed-session' {
 *   interface SessionData { username: string }
 * }
 */
export interface SessionData {}

/**
 * How a route may use its session: `'off'` and `'readonly'` from its
 * `config.session`, `'websocket'` for a WebSocket route (`websocket: true`),
 * which is read-only like `'readonly'`.
 */
export type SessionMode = 'on' | 'readonly' | 'off' | 'websocket'

/** Why a route's session is read-only, for `FST_ERR_SESSION_READONLY`. */
const READONLY_REASONS: Readonly<Record<Exclude<SessionMode, 'on'>, string>> = {
  off: 'config.session is false',
  readonly: "config.session is 'readonly'",
  websocket: 'a WebSocket route, whose upgrade response carries no cookie: a write would be lost'
}

/** The state shared by a session and the policy that opens and saves it. */
export interface SessionState {
  mode: SessionMode
  /** The cookie value the request brought, if any. */
  cookie: string | undefined
  /** Fills `content` and the flags from the cookie, the first time it is needed. */
  load: ((state: SessionState) => void) | undefined
  /** Where a rejected cookie is reported, at debug level. */
  log: FastifyBaseLogger
  serialize: (content: SessionContent) => string
  content: SessionContent
  /**
   * The serialized content as loaded (or as last marked unmodified), which
   * the save compares once a mutable value was handed out. Store mode
   * leaves it unset until the first such value is handed out.
   */
  baseline: string | undefined
  isNew: boolean
  permanent: boolean
  /**
   * When the session was created, in Unix seconds. In store mode it is
   * read from a loaded record only under `absoluteTimeout`, its one use
   * there (0 otherwise): a save keeps the record's own creation time.
   */
  created: number
  modified: boolean
  accessed: boolean
  /** A mutable value was handed out, so it may have changed in place. */
  exposed: boolean
  /** `clear()` was called. */
  cleared: boolean
  /** `regenerate()` was called. */
  regenerate: boolean
  /** The cookie was verified with an old key, so it moves to the current one. */
  renew: boolean
  /** The flashes this request consumed (Flask keeps them for the request). */
  flashesRead: Flash[] | undefined
  /** The session was saved (or its save failed): later onSend calls skip it. */
  saved: boolean
  /** Store mode: the id, fields and number of fields of the record the session was loaded from. */
  record: { id: string, fields: Readonly<Record<string, string>>, size: number } | undefined
  /**
   * The attributes of this response's Set-Cookie: the `cookie` option's
   * object itself (which the writer formats once), until `options()`
   * gives the response its own.
   */
  attributes: CookieAttributes
}

/** The session cookie's attributes, resolved. */
export type CookieAttributes = ResolvedOptions['cookie']

// RFC 6265 section 4.1.1: path-value and domain-value exclude CTLs and ";" (as the cookie option).
const ATTRIBUTE = /^[\x20-\x3a\x3c-\x7e]+$/

/** A value as an option error shows it (as at registration). */
function show (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'function') return 'a function'
  if (Buffer.isBuffer(value)) return `a Buffer of ${value.length} bytes`
  if (Array.isArray(value)) return `an array of ${value.length}`
  if (value !== null && typeof value === 'object') return 'an object'
  return String(value)
}

/**
 * The attributes `given` sets, checked as the `cookie` option is checked at
 * registration, applied over `base`. Names that are not cookie attributes
 * are ignored (`@fastify/csrf-protection` passes its `userInfo` here), and
 * so is a value of `undefined`. Throws `FST_ERR_SESSION_INVALID_OPTION`,
 * naming `${name} in ${where}`.
 */
export function applyAttributes (base: CookieAttributes, given: unknown, where: string): CookieAttributes {
  const invalid = (name: string, expected: string, value: unknown): Error =>
    new FST_ERR_SESSION_INVALID_OPTION(`${name} in ${where}`, expected, show(value))
  if (given === null || typeof given !== 'object' || Array.isArray(given)) throw invalid('attributes', 'an object of cookie attributes', given)
  const { path, domain, httpOnly, secure, sameSite, partitioned } = given as Record<string, unknown>
  const out = { ...base }
  for (const [name, value] of [['path', path], ['domain', domain]] as const) {
    if (value === undefined) continue
    if (typeof value !== 'string' || !ATTRIBUTE.test(value)) {
      throw invalid(name, 'a non-empty string of printable ASCII characters without ";"', value)
    }
    out[name] = value
  }
  for (const [name, value] of [['httpOnly', httpOnly], ['partitioned', partitioned]] as const) {
    if (value === undefined) continue
    if (typeof value !== 'boolean') throw invalid(name, 'a boolean', value)
    out[name] = value
  }
  if (secure !== undefined) {
    if (typeof secure !== 'boolean' && secure !== 'auto') throw invalid('secure', "true, false or 'auto'", secure)
    out.secure = secure
  }
  if (sameSite !== undefined) {
    const lower: unknown = typeof sameSite === 'string' ? sameSite.toLowerCase() : sameSite
    if (lower !== 'lax' && lower !== 'strict' && lower !== 'none' && lower !== false) {
      throw invalid('sameSite', "'lax', 'strict', 'none' or false", sameSite)
    }
    out.sameSite = lower
  }
  // Browsers drop SameSite=None and Partitioned cookies that are not Secure.
  if ((out.sameSite === 'none' || out.partitioned) && out.secure === false) {
    throw invalid('secure', `true or 'auto' with ${out.partitioned ? 'partitioned' : "sameSite 'none'"}`, out.secure)
  }
  return Object.freeze(out)
}

/*
 * The keys of T are written out as `keyof T & string` in every signature,
 * not through an alias: tsc then lists them in a typo's message
 * ('"usrname"' is not assignable to parameter of type '"username" | "data"'),
 * where an alias would show only its own name.
 */
type Value<T> = T[keyof T]

const kState = Symbol('fastify-typed-session.state')

function isMutable (value: unknown): boolean {
  return value !== null && typeof value === 'object'
}

/**
 * Notes that a mutable value was handed out, so that the save compares the
 * serialization with the baseline. A baseline not taken yet is taken now,
 * before the value can change in place.
 */
function expose (s: SessionState): void {
  if (s.exposed) return
  s.exposed = true
  if (s.baseline !== undefined) return
  try {
    s.baseline = s.serialize(s.content)
  } catch {
    // A value set through the API cannot be serialized: the session is modified, and its save fails.
  }
}

/**
 * `request.session`: the session of one request, keyed by `SessionData`.
 * As in a `Map`, iterating yields `[key, value]` entries. The permanent flag
 * and the flash queue are kept apart from the data. It takes no new
 * property: assigning a name it does not have (`session.user = x`) throws
 * a TypeError, since such a value would never be saved; use `set()`.
 */
export class Session<T extends object = SessionData> implements Iterable<[keyof T & string, Value<T>]> {
  readonly [kState]: SessionState

  /** @internal Sessions are made by the plugin; use `request.session`. */
  constructor (state: SessionState) {
    this[kState] = state
  }

  #read (): Map<string, unknown> {
    return accessState(this[kState]).content.data
  }

  #write (what: string): Map<string, unknown> {
    const s = this[kState]
    if (s.mode !== 'on') throw new FST_ERR_SESSION_READONLY(READONLY_REASONS[s.mode], what)
    return this.#read()
  }

  #expose<V> (value: V): V {
    if (isMutable(value)) expose(this[kState])
    return value
  }

  /** Returns the value at `key`, or `fallback` (default `undefined`) when there is none. */
  get<K extends keyof T & string> (key: K): T[K] | undefined
  get<K extends keyof T & string, D> (key: K, fallback: D): T[K] | D
  get (key: string, fallback?: unknown): unknown {
    const data = this.#read()
    return data.has(key) ? this.#expose(data.get(key)) : fallback
  }

  /** Sets the value at `key`. Setting `undefined` deletes the key. */
  set<K extends keyof T & string> (key: K, value: T[K]): this {
    const data = this.#write('set()')
    if (value === undefined) {
      this.delete(key)
      return this
    }
    data.set(key, value)
    this[kState].modified = true
    return this
  }

  /** Whether the session has a value at `key` (Flask's `key in session`). */
  has (key: keyof T & string): boolean {
    return this.#read().has(key)
  }

  /** Deletes the value at `key`. Returns whether there was one. */
  delete (key: keyof T & string): boolean {
    const deleted = this.#write('delete()').delete(key)
    if (deleted) this[kState].modified = true
    return deleted
  }

  /**
   * Removes the value at `key` and returns it. Without a fallback, a
   * missing key throws `FST_ERR_SESSION_KEY_NOT_FOUND` (Flask's KeyError).
   */
  pop<K extends keyof T & string> (key: K): T[K]
  pop<K extends keyof T & string, D> (key: K, fallback: D): T[K] | D
  pop (key: string, ...fallback: unknown[]): unknown {
    const data = this.#write('pop()')
    if (!data.has(key)) {
      if (fallback.length > 0) return fallback[0]
      throw new FST_ERR_SESSION_KEY_NOT_FOUND(JSON.stringify(key))
    }
    const value = data.get(key)
    data.delete(key)
    this[kState].modified = true
    return value
  }

  /** Returns the value at `key`, first setting it to `value` when there is none. */
  setDefault<K extends keyof T & string> (key: K, value: T[K]): T[K] {
    const data = this.#write('setDefault()')
    if (data.has(key)) return this.#expose(data.get(key) as T[K])
    this.set(key, value)
    return this.#expose(value)
  }

  /** Sets every key of `values`. */
  update (values: Partial<T>): void {
    this.#write('update()')
    for (const key of Object.keys(values) as Array<keyof T & string>) this.set(key, values[key] as T[keyof T & string])
  }

  /** Empties the session and makes it non-permanent: the cookie (or record) is deleted. */
  clear (): void {
    const data = this.#write('clear()')
    const s = this[kState]
    data.clear()
    s.content.flashes = []
    s.permanent = false
    s.cleared = true
    s.modified = true
  }

  /** The keys, in insertion order. */
  keys (): IterableIterator<keyof T & string> {
    return this.#read().keys() as IterableIterator<keyof T & string>
  }

  /** The values, in insertion order. */
  values (): IterableIterator<Value<T>> {
    const data = this.#read()
    expose(this[kState])
    return data.values() as IterableIterator<Value<T>>
  }

  /** The `[key, value]` entries, in insertion order. */
  entries (): IterableIterator<[keyof T & string, Value<T>]> {
    const data = this.#read()
    expose(this[kState])
    return data.entries() as IterableIterator<[keyof T & string, Value<T>]>
  }

  [Symbol.iterator] (): IterableIterator<[keyof T & string, Value<T>]> {
    return this.entries()
  }

  /** The number of keys. */
  get size (): number {
    return this.#read().size
  }

  /** The data as a plain object (for `JSON.stringify` and logging). */
  toJSON (): Partial<T> {
    const data = this.#read()
    expose(this[kState])
    return Object.fromEntries(data) as Partial<T>
  }

  /** `true` when the request brought no valid session. Read-only. */
  get new (): boolean {
    this.#read()
    return this[kState].isNew
  }

  /**
   * `true` after any change through the API, and after a value handed out
   * was changed in place. Set it to `true` to force a save; set it to
   * `false` to treat the current data as saved.
   */
  get modified (): boolean {
    const s = this[kState]
    if (s.modified) return true
    if (!s.exposed) return false
    try {
      return s.serialize(s.content) !== s.baseline
    } catch {
      return true // an unserializable value is a change, and fails the save
    }
  }

  set modified (value: boolean) {
    const s = this[kState]
    if (value) {
      this.#write('setting modified')
      s.modified = true
      return
    }
    this.#read()
    s.modified = false
    s.baseline = s.serialize(s.content)
    s.exposed = false
  }

  /** `true` once anything read or wrote the session on this request. Read-only. */
  get accessed (): boolean {
    return this[kState].accessed
  }

  /**
   * A permanent session's cookie lives for `maxAge` seconds; any other is a
   * browser-session cookie. Kept with the session.
   */
  get permanent (): boolean {
    this.#read()
    return this[kState].permanent
  }

  set permanent (value: boolean) {
    this.#write('setting permanent')
    const s = this[kState]
    if (s.permanent !== value) {
      s.permanent = value
      s.modified = true
    }
  }

  /**
   * Sets cookie attributes (`path`, `domain`, `sameSite`, `secure`,
   * `httpOnly`, `partitioned`) for this response's Set-Cookie only, over
   * the `cookie` option; later calls add to earlier ones. It does not by
   * itself make the response set the cookie, and it applies to a deleting
   * Set-Cookie too. Names that are not cookie attributes are ignored, as
   * `@fastify/secure-session` does; a bad value of a known one throws
   * `FST_ERR_SESSION_INVALID_OPTION`, as at registration.
   * @example request.session.options({ sameSite: 'strict', path: '/app' })
   */
  options (attributes: SessionCookieOptions): void {
    const s = this[kState]
    s.attributes = applyAttributes(s.attributes, attributes, 'session.options()')
  }

  /**
   * Queues a flash message for the next request that reads flashes
   * (Flask's `flash()`). Throws `FST_ERR_SESSION_READONLY` on a read-only route.
   * @param category The message's category. @default 'message'
   */
  flash (message: string, category = 'message'): void {
    this.#write('flash()')
    queueFlash(this[kState], message, category)
  }

  /**
   * Returns the queued flash messages (Flask's `get_flashed_messages()`),
   * and consumes them all, even those that `categoryFilter` hides. Later
   * calls in the same request return the same messages. On a read-only
   * route the messages are returned but not consumed.
   * @returns the messages, or `[category, message]` pairs with `withCategories: true`
   */
  getFlashedMessages (): string[]
  getFlashedMessages (options: FlashFilter & { withCategories: true }): Flash[]
  getFlashedMessages (options: FlashFilter & { withCategories?: false }): string[]
  getFlashedMessages (options: FlashFilter): string[] | Flash[]
  getFlashedMessages (options: FlashFilter = {}): string[] | Flash[] {
    this.#read()
    return takeFlashes(this[kState], options)
  }

  /**
   * Starts the session afresh under a new identity, against session
   * fixation: in store mode a new id (the old record is deleted), in cookie
   * mode a new cookie with a new creation time. Only the keys listed in
   * `keep` are carried over (none by default), as in `@fastify/session` and
   * express-session; `permanent` and the queued flashes are kept. Keys that
   * the session does not hold, and anything that is not an array of keys,
   * are skipped. To keep everything: `regenerate([...session.keys()])`.
   * Rejects with `FST_ERR_SESSION_READONLY` on a read-only route.
   * @param keep The keys to carry over. @default []
   */
  async regenerate (keep: ReadonlyArray<keyof T & string> = []): Promise<void> {
    const data = this.#write('regenerate()')
    const s = this[kState]
    const wanted = new Set<unknown>(Array.isArray(keep) ? keep : [])
    // In place, so that the kept keys keep their order (deleting while iterating a Map is safe).
    for (const key of data.keys()) if (!wanted.has(key)) data.delete(key)
    s.regenerate = true
    s.modified = true
  }
}

/**
 * The last link of a session's prototype chain before `Object.prototype`,
 * made once. Every member of the session is found before it, so only an
 * assignment to a name that the session does not have reaches its `set`
 * trap, which throws a TypeError: in sloppy code too (a CommonJS app
 * without 'use strict'), where an assignment to a non-extensible object
 * would be dropped silently. Reads of unknown names pass through to
 * `Object.prototype`, so code that probes for a member (`session.data`)
 * gets `undefined`, as from any object.
 *
 * The session itself stays an ordinary object, without
 * `Object.preventExtensions()`: that costs a runtime call on every
 * request (about 30 ns per session, measured), and the trap already
 * refuses every new name that an assignment can give it.
 */
const unknownMember: object = new Proxy({}, {
  set (_target, name): never {
    const shown = typeof name === 'symbol' ? name.toString() : JSON.stringify(name)
    throw new TypeError(`The session has no property ${shown}, and takes no new one (it would not be saved): ` +
      (typeof name === 'symbol' ? 'keep data with session.set(key, value)' : `use session.set(${shown}, value), with the key in SessionData`))
  }
})
Object.setPrototypeOf(Session.prototype, unknownMember)

// The read-only members throw on assignment in sloppy code too, where a getter without a setter is ignored silently.
for (const name of ['new', 'accessed', 'size']) {
  const { get } = Object.getOwnPropertyDescriptor(Session.prototype, name) as { get: () => unknown }
  Object.defineProperty(Session.prototype, name, {
    get,
    set (): never { throw new TypeError(`The session's ${name} is read-only`) },
    enumerable: false,
    configurable: false
  })
}
// Resolving a promise with a session looks up its `then`: found here, the lookup never
// reaches the proxy above, which would cost each resolution about 70 ns (measured).
Object.defineProperty(Session.prototype, 'then', { value: undefined })
// A method cannot be replaced: assigning one throws in strict code (sloppy code ignores it, as for any frozen object).
Object.freeze(Session.prototype)

/** @internal The state behind a session, for the policy and flashes. */
export function stateOf (session: { readonly [kState]: SessionState }): SessionState {
  return session[kState]
}

/** Loads the state if it is not loaded yet, without counting as access. */
export function loadState (s: SessionState): SessionState {
  if (s.load !== undefined) {
    const load = s.load
    s.load = undefined
    load(s)
  }
  return s
}

/** Marks the state accessed, and loads it. */
export function accessState (s: SessionState): SessionState {
  s.accessed = true
  return loadState(s)
}
