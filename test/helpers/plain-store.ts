/**
 * A store of one's own, as a user of the plugin would write it: an object
 * with SessionStore's methods and nothing else.
 */
import type { SessionStore } from '../../lib/index.js'

/**
 * A store that hands on only SessionStore's five methods (get, set, touch,
 * destroy, rename) to `inner`, so the plugin sees no listUser, destroyUser
 * or userKey, and no MemoryStore fast path.
 */
export function plainStore (inner: SessionStore): SessionStore {
  return {
    get: async (id) => await inner.get(id),
    set: async (id, change, ttl) => { await inner.set(id, change, ttl) },
    touch: async (id, ttl) => { await inner.touch(id, ttl) },
    destroy: async (id) => { await inner.destroy(id) },
    rename: async (oldId, newId, record, ttl) => { await inner.rename(oldId, newId, record, ttl) }
  }
}
