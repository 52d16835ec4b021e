/**
 * `MemoryStore`: sessions in this process's memory, bounded, with LRU
 * eviction and expiry (through `lru-cache`).
 *
 * It is for one process: development, tests, and single-process apps.
 * Sessions are lost on restart, and several processes (cluster mode, more
 * than one machine) each see their own sessions; use `RedisStore` there.
 */
import { LRUCache } from 'lru-cache'
import { clock } from '../clock.js'
import { FST_ERR_SESSION_INVALID_OPTION } from '../errors.js'
import { userOf, type SessionStore, type StoreChange, type StoreRecord, type UserIndexOptions } from './types.js'

/** Options of `MemoryStore`. */
export interface MemoryStoreOptions extends UserIndexOptions {
  /**
   * The most sessions kept; the least recently used is evicted beyond it.
   * @default 10000
   */
  max?: number
}

/** A bounded in-process session store, for one process. */
export class MemoryStore implements SessionStore {
  readonly #records: LRUCache<string, Readonly<StoreRecord>>
  readonly #userKey: string | undefined
  readonly #users = new Map<string, Set<string>>()

  constructor ({ max = 10000, userKey }: MemoryStoreOptions = {}) {
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new FST_ERR_SESSION_INVALID_OPTION('MemoryStore max', 'a positive whole number of sessions', String(max))
    }
    if (userKey !== undefined && (typeof userKey !== 'string' || userKey === '')) {
      throw new FST_ERR_SESSION_INVALID_OPTION('MemoryStore userKey', 'a non-empty string', String(userKey))
    }
    this.#userKey = userKey
    this.#records = new LRUCache({
      max,
      // Expiry follows the plugin's clock, so that tests can move time; read
      // it on every check, rather than lru-cache's copy cached for 1 ms.
      perf: { now: () => clock.now() * 1000 },
      ttlResolution: 0,
      dispose: (record, id) => { this.#unindex(id, record) }
    })
  }

  #index (id: string, record: Readonly<StoreRecord>): void {
    if (this.#userKey === undefined) return
    const user = userOf(record[this.#userKey])
    if (user === undefined) return
    let ids = this.#users.get(user)
    if (ids === undefined) this.#users.set(user, ids = new Set())
    ids.add(id)
  }

  #unindex (id: string, record: Readonly<StoreRecord>): void {
    if (this.#userKey === undefined) return
    const user = userOf(record[this.#userKey])
    const ids = user === undefined ? undefined : this.#users.get(user)
    if (ids === undefined) return
    ids.delete(id)
    if (ids.size === 0) this.#users.delete(user as string)
  }

  // Records are frozen objects, replaced (never changed) by a write, so a
  // read hands out the record itself instead of a copy. Plain objects, not
  // Object.create(null): V8 keeps those in dictionary mode, slower to read
  // and to enumerate. No session key is `__proto__` (it is reserved).
  async get (id: string): Promise<StoreRecord | null> {
    return this.#records.get(id) ?? null
  }

  async set (id: string, change: StoreChange, ttl: number): Promise<void> {
    const current = this.#records.get(id)
    if (current === undefined && !change.create) return
    const record: StoreRecord = { ...current }
    for (const field of change.delete) delete record[field]
    Object.assign(record, change.set)
    Object.freeze(record)
    // Replacing the entry runs dispose on the old one, which unindexes it.
    this.#records.set(id, record, { ttl: ttl * 1000 })
    this.#index(id, record)
  }

  async touch (id: string, ttl: number): Promise<void> {
    const record = this.#records.get(id)
    if (record !== undefined) this.#records.set(id, record, { ttl: ttl * 1000, noDisposeOnSet: true })
  }

  async destroy (id: string): Promise<void> {
    this.#records.delete(id)
  }

  async rename (oldId: string, newId: string, record: StoreRecord, ttl: number): Promise<void> {
    if (!this.#records.delete(oldId)) return // deleted meanwhile: it stays deleted
    const moved = Object.freeze({ ...record })
    this.#records.set(newId, moved, { ttl: ttl * 1000 })
    this.#index(newId, moved)
  }

  /** Deletes every session of a user (requires `userKey`). Returns how many. */
  async destroyUser (user: string | number): Promise<number> {
    if (this.#userKey === undefined) {
      throw new FST_ERR_SESSION_INVALID_OPTION('MemoryStore userKey', 'a session key naming the user, to call destroyUser()', 'undefined')
    }
    let count = 0
    for (const id of [...(this.#users.get(String(user)) ?? [])]) {
      // An expired record is still in the cache until it is read: it is not counted.
      if (this.#records.has(id)) count++
      this.#records.delete(id)
    }
    return count
  }

  /** The number of sessions kept. */
  get size (): number {
    return this.#records.size
  }
}
