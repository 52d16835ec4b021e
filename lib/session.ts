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
import { applyCookieAttributes, type AttributeLabel } from './cookie-attributes.js'
import { FST_ERR_SESSION_KEY_NOT_FOUND, FST_ERR_SESSION_READONLY } from './errors.js'
import { queueFlash, takeFlashes, type FlashFilter } from './flash.js'
import { refuseNewProperties } from './non-extensible.js'
import type { SessionCookieOptions } from './options.js'
import type { Flash } from './serialize.js'
import { accessState, READONLY_REASONS, type SessionState } from './session-state.js'

/**
 * The data a session holds. It starts empty; augment it in your app:
 * @example
 * declare module 'fastify-typed-session' {
 *   interface SessionData { username: string }
 * }
 */
export interface SessionData {}

/*
 * The keys of T are written out as `keyof T & string` in every signature,
 * not through an alias: tsc then lists them in a typo's message
 * ('"usrname"' is not assignable to parameter of type '"username" | "data"'),
 * where an alias would show only its own name.
 */
type Value<T> = T[keyof T]

const kState = Symbol('fastify-typed-session.state')

/** How an error of `options()` names an attribute: `path in session.options()`. */
const inOptions: AttributeLabel = (attribute = 'attributes') => `${attribute} in session.options()`

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

  /**
   * Returns the value at `key`, or `fallback` (default `undefined`) when
   * there is none. A key the session holds is never `undefined` (setting
   * `undefined` deletes it), so an optional key's value comes with the
   * fallback's type, not with `undefined`.
   */
  get<K extends keyof T & string> (key: K): T[K] | undefined
  get<K extends keyof T & string, D> (key: K, fallback: D): Exclude<T[K], undefined> | D
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
  pop<K extends keyof T & string> (key: K): Exclude<T[K], undefined>
  pop<K extends keyof T & string, D> (key: K, fallback: D): Exclude<T[K], undefined> | D
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
  setDefault<K extends keyof T & string> (key: K, value: Exclude<T[K], undefined>): Exclude<T[K], undefined> {
    const data = this.#write('setDefault()')
    if (data.has(key)) return this.#expose(data.get(key) as Exclude<T[K], undefined>)
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

  /**
   * Store mode: the session's id, which `store.listUser()` lists and
   * `store.destroy()` and `destroyUser()`'s `except` take. `undefined` in
   * cookie mode, and for a session that has no record yet: a new one until
   * its save has written it. The save of a new session, or of one that
   * called `regenerate()`, makes it the new id (seen after the response's
   * onSend, as in an onResponse hook); until then `regenerate()` leaves it
   * the current record's, which the save moves to the new id, so
   * `destroyUser(user, { except: session.id })` right after `regenerate()`
   * spares this session. A save that deletes the record (`clear()`) makes
   * it `undefined`. Read-only.
   */
  get id (): string | undefined {
    const s = accessState(this[kState])
    if (s.id !== undefined) return s.id ?? undefined
    return s.isNew ? undefined : s.record?.id
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
    s.attributes = applyCookieAttributes(attributes, s.attributes, inOptions)
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

refuseNewProperties(Session.prototype, ['new', 'accessed', 'size', 'id'])

/** @internal The state behind a session, for the policy and flashes. */
export function stateOf (session: { readonly [kState]: SessionState }): SessionState {
  return session[kState]
}
