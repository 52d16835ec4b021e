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

/** Options shared by the built-in stores. */
export interface UserIndexOptions {
  /**
   * A session key that holds the user's id (a string or number). When set,
   * the store keeps an index of each user's sessions beside the records,
   * and `destroyUser(user)` deletes them all (log out everywhere).
   * @default undefined (no index)
   */
  userKey?: string
}

/** Reads the user id out of a record's user field (tagged JSON), if any. */
export function userOf (text: string | undefined): string | undefined {
  if (text === undefined) return undefined
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined
  } catch {
    return undefined // another writer left something that is not JSON there
  }
}
