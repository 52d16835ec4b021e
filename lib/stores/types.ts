/**
 * The contract between the plugin and a server-side store.
 *
 * A store keeps records by session id. A record is a map of field name to
 * serialized text: one field for each top-level session key (tagged JSON),
 * plus the plugin's own fields, whose names start with `_` (`_flashes`,
 * `_permanent`, `_created`). A store never needs to know the value types.
 *
 * Every method returns a Promise, and rejects when the store fails or times
 * out; the plugin turns that into `FST_ERR_SESSION_STORE_UNAVAILABLE` (503).
 * Every write is atomic: it applies whole, or not at all.
 */

/** A stored session: one serialized field per top-level key. */
export type StoreRecord = Record<string, string>

/** A merge-by-key change to a record. */
export interface StoreChange {
  /** Fields to write: the keys that are new or changed. */
  set: StoreRecord
  /** Fields to remove: the keys that were deleted. A field also in `set` is written. */
  delete: string[]
  /**
   * `true` when the session is new, so the record is created. When `false`,
   * the change applies only if the record still exists: a record deleted
   * meanwhile (by `clear()` on another device, or a revocation) stays deleted.
   */
  create: boolean
}

/** A server-side session store. */
export interface SessionStore {
  /**
   * Reads a record, or `null` when there is none (or it has expired). The
   * plugin never changes the object returned, and may keep it until the
   * request ends: a store that hands out a record it keeps, instead of a
   * copy, must replace that record on a write, never change it.
   */
  get (id: string): Promise<StoreRecord | null>
  /**
   * Applies a change to a record and sets its time to live, in seconds.
   * Fields that the change does not name are left as they are, so two
   * concurrent saves that change different keys both keep their changes.
   */
  set (id: string, change: StoreChange, ttl: number): Promise<void>
  /** Sets a record's time to live, in seconds, without rewriting its data. */
  touch (id: string, ttl: number): Promise<void>
  /** Deletes a record. */
  destroy (id: string): Promise<void>
  /**
   * Moves a session to a new id (`regenerate()`): writes `record` whole at
   * `newId` with the time to live, in seconds, and deletes `oldId`, in one
   * atomic step. When `oldId` no longer exists (a concurrent `clear()` or
   * revocation), it writes nothing: the session stays ended.
   */
  rename (oldId: string, newId: string, record: StoreRecord, ttl: number): Promise<void>
}

/**
 * The key of a built-in store's own operations that answer at once instead
 * of with a promise (`MemoryStore`'s), which the plugin uses when present,
 * so that a request on an in-process store pays no promise. Not part of
 * the `SessionStore` contract: other stores need not have it.
 * @internal
 */
export const kImmediate = Symbol('fastify-typed-session.immediate')

/**
 * `SessionStore`'s operations, answering at once, each given last the time
 * the plugin read for the step (`now`, in Unix seconds, from `clock.now()`),
 * so that a request reads the clock once to open and once to save instead
 * of again in each call. @internal
 */
export type ImmediateStore = {
  [K in keyof SessionStore]: (...args: [...Parameters<SessionStore[K]>, now: number]) => Awaited<ReturnType<SessionStore[K]>>
} & {
  /** The store they are the operations of: the plugin uses them only when it was given this very object. */
  readonly store: SessionStore
}

/**
 * The key under which a built-in store keeps the logger of the app that
 * registered it (the first one, when several do): the plugin sets it, and
 * the store writes there one debug line for each entry of a user's index
 * that it skips because it is damaged or was written by hand. A store used
 * without the plugin logs nothing. Not part of the `SessionStore` contract.
 * @internal
 */
export const kLog = Symbol('fastify-typed-session.log')

/** The part of a Fastify logger that a store writes to. @internal */
export interface DebugLog {
  debug (fields: object, message: string): void
}

/**
 * Writes a store's debug line about something of a user's index that it
 * skips: an entry (`id`), or the index itself (`id` null). An id shows its
 * first 8 characters only, so that a log never holds a whole session id,
 * which is a credential. @internal
 */
export function logSkipped (log: DebugLog | undefined, index: string, id: string | null, why: string): void {
  if (log === undefined) return
  const what = id === null ? 'the index' : `entry ${JSON.stringify(id.length > 8 ? id.slice(0, 8) + '...' : id)}`
  log.debug({ reason: 'damaged user index entry' }, `user index ${index}: ${what} skipped: ${why}`)
}

/** Options shared by the built-in stores. */
export interface UserIndexOptions {
  /**
   * A session key that holds the user's id (a non-empty string, or a
   * number). When set, the store keeps an index of each user's sessions
   * beside the records: `listUser(user)` lists them, and
   * `destroyUser(user)` deletes them (log out everywhere). A session whose
   * value there is anything else is left out of the index.
   * @default undefined (no index)
   */
  userKey?: string
}

/** A live session of a user, as `listUser()` lists it. */
export interface UserSession {
  /** The session's id: what `request.session.id` reads, and what `destroy()` and `except` take. */
  id: string
  /** When the session was created, in Unix seconds. */
  created: number
  /**
   * The last time the session was written or refreshed (its TTL extended),
   * in Unix seconds, on the plugin's clock (`Date.now()`); never before
   * `created`. A request that neither changes the session nor refreshes
   * it does not count.
   */
  lastSeen: number
}

/** Options of `destroyUser()`. */
export interface DestroyUserOptions {
  /**
   * The id of a session to keep, such as the current one
   * (`request.session.id`): "log out my other devices".
   * @default undefined (none is kept)
   */
  except?: string | undefined
}

/**
 * The sessions a user can see and end, which the built-in stores offer
 * with their `userKey` option. It is not part of `SessionStore`: a store
 * of your own need not have it. Each method rejects with
 * `FST_ERR_SESSION_INVALID_OPTION` when the store has no `userKey`. A
 * user that is not a non-empty string or a number has no sessions.
 */
export interface UserIndex {
  /**
   * The session key that holds the user's id (the `userKey` option), or
   * `undefined` when the store keeps no index. The plugin reads it to log a
   * session that the index leaves out.
   */
  readonly userKey: string | undefined
  /**
   * Each live session of a user, the most recently seen first. Sessions
   * that have expired are left out, and removed from the index. It reads
   * only the user's index and those sessions.
   */
  listUser (user: string | number): Promise<UserSession[]>
  /**
   * Deletes every session of a user, but `options.except`: logs the user
   * out everywhere, or everywhere else. Resolves to how many it deleted.
   */
  destroyUser (user: string | number, options?: DestroyUserOptions): Promise<number>
}

/**
 * The name a user is indexed by: the text of a non-empty string or of a
 * number, as `userOf()` reads it from a record. `undefined` for anything
 * else, which no session is indexed by.
 */
export function userName (user: unknown): string | undefined {
  if (typeof user === 'number') return String(user)
  return typeof user === 'string' && user !== '' ? user : undefined
}

/** Reads the user id out of a record's user field (tagged JSON), if any. */
export function userOf (text: string | undefined): string | undefined {
  if (text === undefined) return undefined
  try {
    return userName(JSON.parse(text))
  } catch {
    return undefined // another writer left something that is not JSON there
  }
}

/** A record's creation time (its `_created` field), or `undefined` when the field is not a whole number of seconds. */
export function createdOf (text: string | null | undefined): number | undefined {
  return typeof text === 'string' && /^\d{1,15}$/.test(text) ? Number(text) : undefined
}

/** Sorts listed sessions: the most recently seen first, then by id, so that a list reads the same on every call. */
export function byLastSeen (sessions: UserSession[]): UserSession[] {
  return sessions.sort((a, b) => b.lastSeen - a.lastSeen || (a.id < b.id ? -1 : 1))
}
