/**
 * The store-mode policy: the cookie carries only a signed session id, and
 * the data lives in a `SessionStore`, one field per top-level key.
 *
 * The same rules as in cookie mode (see `interface.ts`), plus:
 * - a save writes only the fields that changed and deletes only the fields
 *   that were removed (merge by key), so concurrent requests that change
 *   different keys both keep their changes;
 * - the cookie is set only when the id or its expiry changes: a new
 *   session, `regenerate()`, an old key, a change of `permanent`, or a
 *   permanent session's refresh (which also extends the record's TTL);
 * - `clear()` deletes the record, so the session ends on every device;
 * - a store that fails gives `FST_ERR_SESSION_STORE_UNAVAILABLE` (503).
 */
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import { ownCopy, RecentValues } from './cache.js'
import { clock } from './clock.js'
import { signedIds, type SignedIds } from './codecs/signed.js'
import { FST_ERR_SESSION_STORE_UNAVAILABLE } from './errors.js'
import { addVaryCookie, logRejected, newState, requestCookie, type CookieWriter } from './interface.js'
import type { ResolvedOptions } from './options.js'
import type { DataRules } from './schema.js'
import { asFlashes, checkKey, FLASHES_KEY, MalformedValue, parse, stringifyContent, stringifyEntry, type SessionContent } from './serialize.js'
import { Session } from './session.js'
import type { SessionMode, SessionState } from './session-state.js'
import { kImmediate, type ImmediateStore, type SessionStore, type StoreChange, type StoreRecord, type UserIndex } from './stores/types.js'

const PERMANENT_FIELD = '_permanent'
const CREATED_FIELD = '_created'
/** The data version (the `version` option) that wrote the record; no field means 0. */
const VERSION_FIELD = '_version'
/**
 * When the record was last issued (written, or refreshed with its cookie),
 * in Unix seconds: kept only under `refreshAfter`, which it serves, so
 * that `refreshAfter` 0 keeps the records and store calls as they are.
 */
const ISSUED_FIELD = '_issued'
/** The verified-id cache holds 2^14 cookie values (see `RecentValues`). */
const VERIFIED_BITS = 14
/** The fields of a record that is not there yet: a new session's. */
const NO_FIELDS: Readonly<StoreRecord> = Object.freeze({})

/**
 * A store's operations, each given last the time the plugin read for the
 * step: the built-in store's immediate answers, or any store's promises.
 */
type Operations = {
  [K in keyof SessionStore]: (...args: [...Parameters<SessionStore[K]>, now: number]) => ReturnType<ImmediateStore[K]> | ReturnType<SessionStore[K]>
}

/** A store's own promise methods as operations: the time is not part of the `SessionStore` contract, so it is not passed on. */
function promised (store: SessionStore): Operations {
  return {
    get: (id) => store.get(id),
    set: (id, change, ttl) => store.set(id, change, ttl),
    touch: (id, ttl) => store.touch(id, ttl),
    destroy: (id) => store.destroy(id),
    rename: (oldId, newId, record, ttl) => store.rename(oldId, newId, record, ttl)
  }
}

/** The error of a store call that failed. */
function unavailable (what: string, err: unknown): Error {
  return new FST_ERR_SESSION_STORE_UNAVAILABLE(`${what} failed: ${(err as Error).message}`, { cause: err })
}

/** The fields of a save that differ from those of the record it was loaded from. */
class FieldDiff {
  readonly old: Readonly<StoreRecord>
  readonly set: StoreRecord = {}
  /** How many fields `set` holds. */
  changed = 0
  /** How many of the record's fields the save has (when all, none is deleted). */
  kept = 0

  constructor (old: Readonly<StoreRecord>) {
    this.old = old
  }

  /**
   * A field of the save kept as the record has it, without comparing;
   * false when the record has no such field (then it must be added).
   */
  keep (field: string): boolean {
    if (typeof this.old[field] !== 'string') return false // as in add()
    this.kept++
    return true
  }

  /** A field of the save, and its text. */
  add (field: string, text: string): void {
    const before = this.old[field]
    if (text !== before) {
      this.set[field] = text
      this.changed++
    }
    // A name such as `valueOf` finds Object.prototype's, which is no field.
    if (typeof before === 'string') this.kept++
  }
}

/** Empties a content that a rejected record had partly filled, and returns why it was rejected. */
function rejected (content: SessionContent, reason: string): string {
  content.data.clear()
  content.flashes = []
  return reason
}

const { hasOwnProperty } = Object.prototype

/** Whether a save of this content writes the field: the fields `#changes` adds. */
function saves (field: string, content: SessionContent, permanent: boolean, version: number, stamped: boolean): boolean {
  if (field === CREATED_FIELD) return true
  if (field === ISSUED_FIELD) return stamped
  if (field === PERMANENT_FIELD) return permanent
  if (field === VERSION_FIELD) return version > 0
  if (field === FLASHES_KEY) return content.flashes.length > 0
  return content.data.get(field) !== undefined
}

/** The text of a `version` as `#changes` writes it: a whole number, without sign or leading zero. */
const VERSION_TEXT = /^(?:0|[1-9]\d{0,9})$/

/** Reads a record's `_version` field; throws, so that the record is rejected, on anything `#changes` would not write. */
function readVersion (text: string): number {
  if (!VERSION_TEXT.test(text)) throw new MalformedValue(`the ${VERSION_FIELD} field is not a whole number`)
  return Number(text)
}

/**
 * Logs, at debug level, a session whose `userKey` value the store's index
 * leaves out: one that is neither a non-empty string nor a finite number
 * (what the stores index; tagged values such as NaN are not numbers there).
 */
function logUnindexed (request: FastifyRequest, data: Map<string, unknown>, userKey: string): void {
  const user = data.get(userKey)
  if (user === undefined || (typeof user === 'string' && user !== '') || (typeof user === 'number' && Number.isFinite(user) && !Object.is(user, -0))) return
  const what = user === '' ? 'an empty string' : typeof user === 'number' || user === null ? String(user) : Array.isArray(user) ? 'an array' : typeof user === 'object' ? 'an object' : `a ${typeof user}`
  const reason = `its ${JSON.stringify(userKey)} is ${what}, not a non-empty string or a number`
  request.log.debug({ reason }, `session left out of the user index: ${reason}`)
}

/** The reaction of a store call whose result is not needed. */
const nothing = (): undefined => undefined

/** The store-mode policy. */
export class StoreInterface {
  readonly #options: ResolvedOptions
  /** The store's operations: `MemoryStore`'s that answer at once if the store is one, else its promises. */
  readonly #operations: Operations
  readonly #immediate: boolean
  readonly #ids: SignedIds
  readonly #writer: CookieWriter
  readonly #rules: DataRules
  /** The store's `userKey`, when it keeps a user index: a save logs a session that the index leaves out. */
  readonly #userKey: string | undefined
  /** The session cookie's name and `=`, which `findCookie` looks for. */
  readonly #needle: string
  /**
   * Verified cookie values, so that a returning cookie skips the MAC. A
   * value pushed out is verified again: a store-mode cookie does not
   * change while its session lasts, so most requests find theirs.
   */
  readonly #verified = new RecentValues<{ id: string, keyIndex: number }>(VERIFIED_BITS)

  constructor (options: ResolvedOptions, store: SessionStore, writer: CookieWriter, rules: DataRules) {
    this.#options = options
    this.#rules = rules
    const immediate = (store as { [kImmediate]?: ImmediateStore })[kImmediate]
    this.#immediate = immediate?.store === store
    this.#operations = this.#immediate ? immediate as ImmediateStore : promised(store)
    this.#ids = signedIds(options.secrets)
    this.#writer = writer
    this.#needle = `${options.cookieName}=`
    const userKey = (store as Partial<UserIndex>).userKey
    this.#userKey = typeof userKey === 'string' ? userKey : undefined
  }

  /**
   * Calls the store, turning any failure (a rejection, or a throw) into
   * `FST_ERR_SESSION_STORE_UNAVAILABLE`; `then` handles the result in the
   * same reaction. A store that answers at once is handled at once, with
   * no promise unless it fails.
   */
  #call<R, T> (what: string, op: (store: Operations) => R | Promise<R>, then: (value: R) => T): T | Promise<T> {
    if (this.#immediate) {
      let value: R
      try {
        value = op(this.#operations) as R
      } catch (err) {
        return Promise.reject(unavailable(what, err))
      }
      // Outside the try: an error of `then` (a cookie too large) is not the store's.
      return then(value)
    }
    let pending: Promise<R>
    try {
      pending = op(this.#operations) as Promise<R>
    } catch (err) {
      pending = Promise.reject(err)
    }
    return pending.then(then, (err: unknown): never => { throw unavailable(what, err) }) as Promise<T>
  }

  #ttl (created: number, now: number): number {
    const { maxAge, absoluteTimeout } = this.#options
    return absoluteTimeout > 0 ? Math.max(1, Math.min(maxAge, created + absoluteTimeout - now)) : maxAge
  }

  #verify (cookie: string): { id: string, keyIndex: number } | string {
    let verified = this.#verified.get(cookie)
    if (verified === undefined) {
      const result = this.#ids.verify(cookie)
      if (typeof result === 'string') return result
      // Copies: views into the header would keep it alive, and compare slowly as the store's key.
      verified = { id: ownCopy(result.id), keyIndex: result.keyIndex }
      this.#verified.set(ownCopy(cookie), verified)
    }
    return verified
  }

  /**
   * Loads a record into a state, then calls `then` with the reason there
   * is no valid session (`undefined` when there is one): at once when the
   * cookie is rejected before the store is asked or the store answers at
   * once, else in the reaction to the store's promise, whose result is
   * returned as a promise.
   */
  #load<T> (s: SessionState, cookie: string, then: (reason: string | undefined) => T): T | Promise<T> {
    const verified = this.#verify(cookie)
    if (typeof verified === 'string') return then(verified)
    const now = clock.now()
    return this.#call('get', (store) => store.get(verified.id, now), (fields) => then(this.#fill(s, verified, fields, now)))
  }

  /** Fills a state from the record the store returned when asked at `now`. */
  #fill (s: SessionState, verified: { id: string, keyIndex: number }, fields: StoreRecord | null, now: number): string | undefined {
    if (fields === null) return 'there is no record for the id (it expired or was deleted)'
    // The new state's content, still empty, is filled in place; emptied again if the record is rejected.
    const content = s.content
    const { absoluteTimeout } = this.#options
    let created = 0
    let permanent = false
    let version = 0
    let issued = 0
    let size = 0
    try {
      // for…in rather than Object.keys: V8 reads each field through the loop's
      // own cache of the record's layout, and drops the own-property check,
      // which it does for hasOwnProperty.call but not for Object.hasOwn
      // (about 0.2k instructions more per request, counted).
      for (const field in fields) {
        if (!hasOwnProperty.call(fields, field)) continue // never an inherited field
        size++
        const text = fields[field] as string
        if (field === FLASHES_KEY) content.flashes = asFlashes(JSON.parse(text))
        else if (field === PERMANENT_FIELD) permanent = text === 'true'
        // Only the absolute timeout reads a loaded record's creation time: a save keeps the record's own field.
        else if (field === CREATED_FIELD) created = absoluteTimeout > 0 ? Number(text) : 0
        else if (field === VERSION_FIELD) version = readVersion(text)
        // Not checked: a time that is not a number makes the refresh due, which writes a good one.
        else if (field === ISSUED_FIELD) issued = Number(text)
        else content.data.set(field, parse(text))
      }
    } catch (err) {
      return rejected(content, `the record cannot be decoded (${(err as Error).message})`)
    }
    // Not `>`: a creation time that is not a number (NaN) is rejected too.
    if (absoluteTimeout > 0 && !(now - created <= absoluteTimeout)) {
      return rejected(content, `the session is older than absoluteTimeout (${absoluteTimeout} s)`)
    }
    const rules = this.#rules
    const record = { id: verified.id, fields, size }
    if (version !== rules.version) {
      // A newer version's record (a rollback) is left as it is; an older one that cannot be brought up to date is deleted.
      const upgraded = rules.upgrade(content, version)
      if (typeof upgraded === 'string') return version > rules.version ? rejected(content, upgraded) : this.#discard(s, record, upgraded)
      s.content = upgraded
      s.modified = true // saved under this version
    } else if (rules.checks) {
      const failure = rules.rejection(content.data)
      if (failure !== undefined) return this.#discard(s, record, failure)
    }
    // Taken only if a mutable value is handed out (see `Session`): most requests never need it.
    s.baseline = undefined
    s.isNew = false
    s.permanent = permanent
    s.created = created
    s.issued = issued
    s.renew = verified.keyIndex > 0
    s.record = record
    return undefined
  }

  /**
   * Rejects a record whose data cannot be used, as `validate` returning
   * `false` does: the session is empty, and its save deletes the record.
   */
  #discard (s: SessionState, record: NonNullable<SessionState['record']>, reason: string): string {
    rejected(s.content, reason)
    s.record = record
    s.cleared = true
    return reason
  }

  /**
   * Opens the request's session, loading its record from the store: a
   * promise when the store answers with one, the session itself otherwise.
   */
  open (request: FastifyRequest, mode: SessionMode): Session | Promise<Session> {
    const s = newState(mode, undefined, stringifyContent, request.log, this.#options.cookie)
    const cookie = mode === 'off' ? undefined : requestCookie(request, this.#needle)
    if (cookie === undefined) return new Session(s)
    s.cookie = cookie
    return this.#load(s, cookie, (reason) => {
      if (reason !== undefined) logRejected(request.log, reason)
      return new Session(s)
    })
  }

  /**
   * Serializes a session's content, field by field, against the fields of
   * the record it was loaded from (`size` of them): `set` holds each field
   * whose text is not the record's, and `delete` each field of the record
   * that the content no longer has; `undefined` when neither has any.
   * Against `NO_FIELDS`, `set` is the whole new record. `created` is
   * written only into a record that has no creation time yet.
   */
  #changes (content: SessionContent, permanent: boolean, created: number, old: Readonly<StoreRecord>, size: number): StoreChange | undefined {
    const diff = new FieldDiff(old)
    for (const [key, value] of content.data) {
      checkKey(key)
      if (value !== undefined) diff.add(key, stringifyEntry(key, value))
    }
    if (content.flashes.length > 0) diff.add(FLASHES_KEY, JSON.stringify(content.flashes))
    if (permanent) diff.add(PERMANENT_FIELD, 'true')
    const version = this.#rules.version
    if (version > 0) diff.add(VERSION_FIELD, String(version))
    // A loaded session's creation time is the one its record holds: kept, not written out again.
    if (!diff.keep(CREATED_FIELD)) diff.add(CREATED_FIELD, String(created))
    // The issue time is no change of its own: a write that has one stamps it (see `#write`).
    const stamped = this.#options.refreshAfter > 0
    if (stamped) diff.keep(ISSUED_FIELD)
    if (diff.kept === size) return diff.changed === 0 ? undefined : { set: diff.set, delete: [], create: size === 0 }
    // Some field of the record is not in the save: it is deleted. (A loop, not a
    // closure: one that captured the parameters would cost every call a context.)
    const deleted: string[] = []
    for (const field of Object.keys(old)) if (!saves(field, content, permanent, version, stamped)) deleted.push(field)
    return { set: diff.set, delete: deleted, create: false }
  }

  /** The new record of a session's content, created (and issued) at `created`: all its fields. */
  #record (content: SessionContent, permanent: boolean, created: number): StoreChange {
    // Never undefined: a new record has at least _created.
    const change = this.#changes(content, permanent, created, NO_FIELDS, 0) as StoreChange
    if (this.#options.refreshAfter > 0) change.set[ISSUED_FIELD] = String(created)
    return change
  }

  /**
   * Whether a refreshing session is due for its refresh: always with
   * `refreshAfter` 0, else once its record's last issue is `refreshAfter`
   * old (a record with no readable issue time, or a new session, is).
   */
  #due (s: SessionState): boolean {
    const after = this.#options.refreshAfter
    return after === 0 || !(clock.now() - s.issued < after)
  }

  /**
   * Saves the session: merges the changed keys into its record, and sets
   * the cookie when needed. Returns `undefined` when there is nothing to
   * wait for, so that a request that only read its session pays no promise.
   */
  save (request: FastifyRequest, reply: FastifyReply, s: SessionState): Promise<void> | undefined {
    if (s.mode !== 'on') {
      // A read-only route (and a WebSocket route) never sets the cookie; one that is off never reads it.
      if (s.mode !== 'off' && s.accessed) addVaryCookie(reply)
      return
    }
    const loaded = s.record
    const refresh = s.permanent && this.#options.refreshEachRequest && this.#due(s)
    // An untouched session needs the store only to refresh a permanent one,
    // or to delete one that validate rejected.
    // A migrated session is saved even when the route did not touch it.
    if (!s.accessed && !s.cleared && !s.modified && !(refresh && loaded !== undefined)) return
    addVaryCookie(reply)
    const changed = s.modified || s.regenerate || (s.exposed && s.serialize(s.content) !== s.baseline)
    if (!changed && !s.cleared && !refresh && !s.renew) return
    return this.#write(request, reply, s, loaded, changed, refresh)
  }

  /** Sets the cookie of a session's id. */
  #setCookie (request: FastifyRequest, reply: FastifyReply, s: SessionState, id: string, now: number): void {
    this.#writer.set(request, reply, this.#ids.sign(id), now, s)
  }

  /**
   * Writes the record and sets or deletes the cookie. Synchronous up to the
   * store call, so a save costs one store promise and one reaction on it;
   * `undefined` when nothing needs to wait (no write, or a store that
   * answers at once).
   */
  #write (request: FastifyRequest, reply: FastifyReply, s: SessionState,
    loaded: SessionState['record'], changed: boolean, refresh: boolean): Promise<void> | undefined {
    const now = clock.now()

    if (s.content.data.size === 0 && s.content.flashes.length === 0) {
      if (!(changed || s.cleared) || s.cookie === undefined) return
      if (loaded === undefined) {
        this.#writer.delete(request, reply, s)
        return
      }
      return this.#call('destroy', (store) => store.destroy(loaded.id, now), (): undefined => {
        s.id = null
        this.#writer.delete(request, reply, s)
      })
    }

    // Data that was loaded, and not changed, passed the schema then.
    if (changed) {
      this.#rules.assert(s.content.data)
      if (this.#userKey !== undefined) logUnindexed(request, s.content.data, this.#userKey)
    }

    // A session that replaced a rejected record (validate, the schema) is new too: it
    // gets its own id and creation time, and the rejected record is deleted as it moves.
    if (loaded === undefined || s.regenerate || s.isNew) {
      // A new session, or a new identity (regenerate), starts its absolute timeout now.
      const change = this.#record(s.content, s.permanent, now)
      const id = this.#ids.create()
      const ttl = this.#ttl(now, now)
      const setCookie = (): undefined => {
        s.id = id
        this.#setCookie(request, reply, s, id, now)
      }
      return loaded === undefined
        ? this.#call('set', (store) => store.set(id, change, ttl, now), setCookie)
        : this.#call('rename', (store) => store.rename(loaded.id, id, change.set, ttl, now), setCookie)
    }

    const id = loaded.id
    const ttl = this.#ttl(s.created, now)
    // Under refreshAfter, a refresh writes the record's issue time, which also sets its TTL.
    const stamp = this.#options.refreshAfter > 0
    let what = stamp ? 'set' : 'touch'
    let write = !refresh
      ? undefined
      : stamp
        ? (store: Operations) => store.set(id, { set: { [ISSUED_FIELD]: String(now) }, delete: [], create: false }, ttl, now)
        : (store: Operations) => store.touch(id, ttl, now)
    // The cookie changes with a refresh, an old key, or a change of permanent.
    let cookie = refresh || s.renew
    if (changed) {
      const change = this.#changes(s.content, s.permanent, s.created, loaded.fields, loaded.size)
      if (change !== undefined) {
        if (stamp) {
          change.set[ISSUED_FIELD] = String(now)
          // A write is an issue: it moves the record's expiry, and a refreshing session's cookie moves with it.
          if (s.permanent && this.#options.refreshEachRequest) cookie = true
        }
        what = 'set'
        write = (store: Operations) => store.set(id, change, ttl, now)
      }
      if (s.permanent !== (loaded.fields[PERMANENT_FIELD] === 'true')) cookie = true
    } // else a refresh, or an old key's cookie that only needs re-signing (save() returned early otherwise)
    const setCookie = cookie ? (): undefined => { this.#setCookie(request, reply, s, id, now) } : nothing
    return write === undefined ? setCookie() : this.#call(what, write, setCookie)
  }

  /** `app.sessions.encode`: creates a record and returns its signed id. */
  async encode (data: object, permanent: boolean): Promise<string> {
    const now = clock.now()
    const id = this.#ids.create()
    const content: SessionContent = { data: new Map(Object.entries(data)), flashes: [] }
    this.#rules.assert(content.data)
    const change = this.#record(content, permanent, now)
    await this.#call('set', (store) => store.set(id, change, this.#ttl(now, now), now), nothing)
    return this.#ids.sign(id)
  }

  /** `app.sessions.decode`: the session of a signed id, or `null`. */
  async decode (value: string, log: FastifyBaseLogger): Promise<Session | null> {
    const s = newState('on', value, stringifyContent, log, this.#options.cookie)
    return await this.#load(s, value, (reason) => {
      if (reason === undefined) return new Session(s)
      logRejected(log, reason)
      return null
    })
  }
}
