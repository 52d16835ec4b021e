/**
 * The contract between the plugin and a server-side store. A store keeps
 * records by session id, each record a map of field name to serialized
 * text (one field per top-level session key), and never needs to know
 * the value types. Every method returns a Promise and rejects when the
 * store fails; the plugin turns that into `FST_ERR_SESSION_STORE_UNAVAILABLE`.
 */

/** A stored session: one serialized field per top-level key. */
export type StoreRecord = Record<string, string>

/** A merge-by-key change to a record. */
export interface StoreChange {
  /** Fields to write (new or changed keys). */
  set: StoreRecord
  /** Fields to remove (deleted keys). */
  delete: string[]
}

/** A server-side session store. */
export interface SessionStore {
  /** Reads a record, or `null` when there is none (or it expired). */
  get (id: string): Promise<StoreRecord | null>
  /**
   * Applies a change to a record atomically, creating it if needed, and
   * sets its time to live. Fields not named are left as they are, so two
   * concurrent saves that touch different keys both keep their changes.
   */
  set (id: string, change: StoreChange, ttlSeconds: number): Promise<void>
  /** Extends a record's time to live without rewriting its data. */
  touch (id: string, ttlSeconds: number): Promise<void>
  /** Deletes a record. */
  destroy (id: string): Promise<void>
}
