/**
 * `MemoryStore`: sessions in this process's memory, bounded, with LRU
 * eviction (through `lru-cache`) and expiry on the plugin's clock.
 *
 * It is for one process: development, tests, and single-process apps.
 * Sessions are lost on restart, and several processes (cluster mode, more
 * than one machine) each see their own sessions; use `RedisStore` there.
 */
import { LRUCache } from 'lru-cache'
import { clock } from '../clock.js'
import { FST_ERR_SESSION_INVALID_OPTION } from '../errors.js'
import { checkStoreOptions } from '../invalid-option.js'
import {
  byLastSeen, createdOf, kImmediate, kLog, logSkipped, userName, userOf, type DebugLog, type DestroyUserOptions,
  type ImmediateStore, type SessionStore, type StoreChange, type StoreRecord, type UserIndex, type UserIndexOptions, type UserSession
} from './types.js'

/** Options of `MemoryStore`. */
export interface MemoryStoreOptions extends UserIndexOptions {
  /**
   * The most sessions kept; the least recently used is evicted beyond it.
   * @default 10000
   */
  max?: number
}

// The name other stores give an option of this one, and what to write instead.
const RENAMED = new Map([['maxSize', 'max instead, the most sessions kept']])

/** A record, when it expires, and when it was last written or refreshed, in Unix seconds. */
interface Entry {
  record: Readonly<StoreRecord>
  expires: number
  seen: number
}

/** Each store's operations that answer at once (see `[kImmediate]`). */
const immediate = new WeakMap<MemoryStore, ImmediateStore>()

/** A bounded in-process session store, for one process. */
export class MemoryStore implements SessionStore, UserIndex {
  /** The logger of the app that registered the store (see `kLog`). @internal */
  [kLog]: DebugLog | undefined
  readonly #records: LRUCache<string, Entry>
  readonly #userKey: string | undefined
  readonly #users = new Map<string, Set<string>>()

  constructor (options: MemoryStoreOptions = {}) {
    checkStoreOptions('MemoryStore', options, ['max', 'userKey'], 'an object', RENAMED)
    const { max = 10000, userKey } = options
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new FST_ERR_SESSION_INVALID_OPTION('MemoryStore max', 'a positive whole number of sessions', String(max))
    }
    if (userKey !== undefined && (typeof userKey !== 'string' || userKey === '')) {
      throw new FST_ERR_SESSION_INVALID_OPTION('MemoryStore userKey', 'a non-empty string', String(userKey))
    }
    this.#userKey = userKey
    // Expiry is kept here rather than with lru-cache's TTL: one read of the
    // plugin's clock (which tests move) per call, in whole seconds.
    this.#records = new LRUCache({ max, dispose: (entry, id) => { this.#unindex(id, entry.record) } })
    immediate.set(this, {
      store: this,
      get: (id, now) => this.#get(id, now),
      set: (id, change, ttl, now) => { this.#set(id, change, ttl, now) },
      touch: (id, ttl, now) => { this.#touch(id, ttl, now) },
      destroy: (id) => { this.#destroy(id) },
      rename: (oldId, newId, record, ttl, now) => { this.#rename(oldId, newId, record, ttl, now) }
    })
  }

  /** The entry of a record that has not expired at `now`; an expired one is deleted. */
  #live (id: string, now: number): Entry | undefined {
    const entry = this.#records.get(id)
    if (entry === undefined || entry.expires >= now) return entry
    this.#records.delete(id)
    return undefined
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

  // A write replaces a record (never changes it), so the plugin, which only
  // reads them, is handed the record itself; `get()` hands out a copy.
  // Records are not frozen: a frozen object costs V8 more to copy and to
  // freeze than the copy that `get()` makes. Plain objects, not
  // Object.create(null): V8 keeps those in dictionary mode, slower to read
  // and to enumerate. No session key is `__proto__` (it is reserved).
  #get (id: string, now: number): Readonly<StoreRecord> | null {
    return this.#live(id, now)?.record ?? null
  }

  #set (id: string, change: StoreChange, ttl: number, now: number): void {
    const current = this.#live(id, now)
    if (current === undefined && !change.create) return
    // Object.assign, not a spread (here and below): a spread's inline cache
    // goes megamorphic as the records change map, and then copies every field
    // through V8's slow path (about 0.2k instructions more per save, counted).
    const record: StoreRecord = Object.assign({}, current?.record)
    for (const field of change.delete) delete record[field]
    Object.assign(record, change.set)
    if (current === undefined) {
      this.#records.set(id, { record, expires: now + ttl, seen: now })
    } else {
      // The entry stays (#live made it the most recently used); its record is replaced.
      this.#unindex(id, current.record)
      current.record = record
      current.expires = now + ttl
      current.seen = now
    }
    this.#index(id, record)
  }

  #touch (id: string, ttl: number, now: number): void {
    const entry = this.#live(id, now)
    if (entry === undefined) return
    entry.expires = now + ttl
    entry.seen = now
  }

  #destroy (id: string): void {
    this.#records.delete(id)
  }

  #rename (oldId: string, newId: string, record: StoreRecord, ttl: number, now: number): void {
    if (this.#live(oldId, now) === undefined) return // deleted or expired meanwhile: it stays ended
    this.#records.delete(oldId)
    const moved = Object.assign({}, record)
    this.#records.set(newId, { record: moved, expires: now + ttl, seen: now })
    this.#index(newId, moved)
  }

  /**
   * The same operations, answering at once: the plugin calls these, so a
   * request pays no promise. Undefined for a subclass that overrides any
   * of the promise methods (the plugin must go through its overrides). A
   * Proxy of a store is not the operations' `store`, so the plugin goes
   * through the Proxy.
   * @internal
   */
  get [kImmediate] (): ImmediateStore | undefined {
    const own = MemoryStore.prototype
    const plain = this.get === own.get && this.set === own.set && this.touch === own.touch &&
      this.destroy === own.destroy && this.rename === own.rename
    return plain ? immediate.get(this) : undefined
  }

  async get (id: string): Promise<StoreRecord | null> {
    const record = this.#get(id, clock.now())
    return record === null ? null : Object.assign({}, record)
  }

  async set (id: string, change: StoreChange, ttl: number): Promise<void> {
    this.#set(id, change, ttl, clock.now())
  }

  async touch (id: string, ttl: number): Promise<void> {
    this.#touch(id, ttl, clock.now())
  }

  async destroy (id: string): Promise<void> {
    this.#destroy(id)
  }

  async rename (oldId: string, newId: string, record: StoreRecord, ttl: number): Promise<void> {
    this.#rename(oldId, newId, record, ttl, clock.now())
  }

  /** The ids in a user's index (requires `userKey`); none for a user that no session can be indexed by. */
  #idsOf (user: unknown, method: string): string[] {
    if (this.#userKey === undefined) {
      throw new FST_ERR_SESSION_INVALID_OPTION('MemoryStore userKey', `a session key naming the user, to call ${method}`, 'undefined')
    }
    const name = userName(user)
    const ids = name === undefined ? undefined : this.#users.get(name)
    // A copy: deleting a record removes its id from the set.
    return ids === undefined ? [] : [...ids]
  }

  /** The session key that holds the user's id, or `undefined` without an index. */
  get userKey (): string | undefined {
    return this.#userKey
  }

  /**
   * Each live session of a user (requires `userKey`), the most recently
   * seen first. An expired one is deleted, which removes it from the index.
   * Listing does not count as a use: it leaves the sessions' places in
   * the LRU order as they were.
   */
  async listUser (user: string | number): Promise<UserSession[]> {
    const ids = this.#idsOf(user, 'listUser()')
    const now = clock.now()
    const sessions: UserSession[] = []
    for (const id of ids) {
      const entry = this.#records.peek(id) as Entry
      if (entry.expires < now) {
        this.#records.delete(id)
        continue
      }
      const created = createdOf(entry.record._created)
      // A record written without the plugin's creation time (through the store's own methods) is not a session to list.
      if (created !== undefined) sessions.push({ id, created, lastSeen: Math.max(entry.seen, created) })
      else logSkipped(this[kLog], JSON.stringify(String(user)), id, entry.record._created === undefined ? 'its session has no _created' : 'its _created is not a time')
    }
    return byLastSeen(sessions)
  }

  /**
   * Deletes every session of a user (requires `userKey`) but
   * `options.except`. Resolves to how many live sessions it deleted.
   */
  async destroyUser (user: string | number, options?: DestroyUserOptions): Promise<number> {
    const ids = this.#idsOf(user, 'destroyUser()')
    const except = options?.except
    const now = clock.now()
    let count = 0
    for (const id of ids) {
      if (id === except) continue
      // An expired record is still in the cache until it is read: it is not counted.
      if (this.#live(id, now) !== undefined) count++
      this.#records.delete(id)
    }
    return count
  }

  /** The number of sessions kept. */
  get size (): number {
    return this.#records.size
  }
}
