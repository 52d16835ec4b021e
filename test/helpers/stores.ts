/**
 * Spy stores for tests: they record every call and pass it on to a
 * `MemoryStore`, through its promise methods or its immediate operations.
 */
import { MemoryStore, type SessionStore, type StoreChange, type StoreRecord } from '../../lib/index.js'
import { kImmediate, type ImmediateStore } from '../../lib/stores/types.js'

export type Call = [method: string, ...args: unknown[]]

/** A store that records every call and passes it on; `failing` methods reject; `beforeGet` can hold a load. */
export class SpyStore implements SessionStore {
  readonly calls: Call[] = []
  readonly failing = new Set<string>()
  beforeGet: () => Promise<void> = async () => {}
  constructor (readonly inner: MemoryStore = new MemoryStore()) {}

  record (method: string, ...args: unknown[]): void {
    this.calls.push([method, ...args])
    if (this.failing.has(method)) throw new Error(`connection lost in ${method}`)
  }

  writes (): Call[] {
    return this.calls.filter(([method]) => method !== 'get')
  }

  async get (id: string): Promise<StoreRecord | null> {
    await this.beforeGet()
    this.record('get', id)
    return await this.inner.get(id)
  }

  async set (id: string, change: StoreChange, ttl: number): Promise<void> {
    this.record('set', id, change, ttl)
    await this.inner.set(id, change, ttl)
  }

  async touch (id: string, ttl: number): Promise<void> {
    this.record('touch', id, ttl)
    await this.inner.touch(id, ttl)
  }

  async destroy (id: string): Promise<void> {
    this.record('destroy', id)
    await this.inner.destroy(id)
  }

  async rename (oldId: string, newId: string, record: StoreRecord, ttl: number): Promise<void> {
    this.record('rename', oldId, newId, record, ttl)
    await this.inner.rename(oldId, newId, record, ttl)
  }
}

/**
 * A spy whose calls go through immediate operations, as `MemoryStore`'s do;
 * its promise methods fail, to show that the plugin does not use them.
 */
export class ImmediateSpyStore extends SpyStore {
  readonly #inner = this.inner[kImmediate] as ImmediateStore
  readonly [kImmediate]: ImmediateStore = {
    store: this,
    get: (id, now) => { this.record('get', id); return this.#inner.get(id, now) },
    set: (id, change, ttl, now) => { this.record('set', id, change, ttl); this.#inner.set(id, change, ttl, now) },
    touch: (id, ttl, now) => { this.record('touch', id, ttl); this.#inner.touch(id, ttl, now) },
    destroy: (id, now) => { this.record('destroy', id); this.#inner.destroy(id, now) },
    rename: (oldId, newId, record, ttl, now) => {
      this.record('rename', oldId, newId, record, ttl)
      this.#inner.rename(oldId, newId, record, ttl, now)
    }
  }

  override async get (): Promise<never> { throw new Error('the promise method was called') }
}
