/**
 * `RedisStore`: sessions in Redis, shared by every process and machine.
 *
 *   prefix + id               a hash, one field per session key (tagged JSON)
 *                             plus the plugin's `_created`, `_permanent` and
 *                             `_flashes`; it expires with the session
 *   prefix + 'user:' + user   with `userKey`: a sorted set of the user's
 *                             session ids, each scored with the last time it
 *                             was written or refreshed (Unix seconds, on the
 *                             plugin's clock); it expires no sooner than the
 *                             latest of them
 *
 * Every write is one Lua script, so it applies whole or not at all, and a
 * save changes only the fields it names (merge by key). On Redis Cluster the
 * keys of one script must share a slot, and a user's sessions do not: there
 * each script touches the record alone, and the user index is updated by a
 * second command. `regenerate()` then deletes the old record before it
 * writes the new one, so a failure in between ends the session rather than
 * leaving the old id alive. `listUser()` and `destroyUser()` check each
 * record's user field, so an index that missed an update never lists or
 * deletes another user's session, and each entry they skip for damage
 * (written by hand) gets a debug line; they read the user's index and its
 * records only, never the keyspace (no KEYS or SCAN).
 *
 * Every call is bounded by `timeout`. Each write also carries its deadline
 * on Redis's clock, and a script that starts after it does nothing: a write
 * that Redis receives late (it was stopped, or too busy) cannot land after
 * the request got its 503.
 */
import { createHash } from 'node:crypto'
import { clock } from '../clock.js'
import { checkStoreOptions, invalidOption } from '../invalid-option.js'
import {
  byLastSeen, kLog, logSkipped, userName, userOf, type DebugLog, type DestroyUserOptions, type SessionStore, type StoreChange,
  type StoreRecord, type UserIndex, type UserIndexOptions, type UserSession
} from './types.js'

/**
 * The part of an ioredis `Redis` or `Cluster` client that the store uses.
 * Written out here, rather than imported from ioredis, so that the
 * package's types compile for apps that don't install ioredis.
 */
export interface RedisClient {
  readonly status: string
  readonly isCluster: boolean
  time (): Promise<Array<string | number>>
  evalsha (sha: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>
  eval (script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>
  hgetall (key: string): Promise<Record<string, string>>
}

/** Options of `RedisStore`. */
export interface RedisStoreOptions extends UserIndexOptions {
  /**
   * An ioredis `Redis` or `Cluster` client. Connect it before you serve:
   * a call made while its status is not `'ready'` fails at once. Its
   * `error` events are yours to log; the store never listens to them.
   */
  client: RedisClient
  /**
   * The prefix of every key.
   * @default 'session:'
   */
  prefix?: string
  /**
   * The longest a call may take, in seconds (fractions allowed, such as
   * `0.5`). A call that takes longer fails with a timeout error.
   * @default 2
   */
  timeout?: number
}

/**
 * A script's reply: status (0 too late, 1 done, 2 no record), Redis's time
 * in ms, old and new user fields, a count or a list, and what it skipped
 * (index, id or null, why), when it skipped anything.
 */
type Reply = [status: number, now: number, oldUser?: string | null | undefined, newUser?: string | null | undefined,
  result?: number | string | string[] | null, skipped?: Array<string | null>]

interface Script { lua: string, sha: string }

// ARGV of every script: deadline (Redis ms, 0 none), userKey ('' none), index here ('1'),
// ttl (ms), id, the time seen (Unix seconds); then the script's own. The index keys are
// derived from KEYS[1], so they carry any keyPrefix of the client.
const PRELUDE = `
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local deadline = tonumber(ARGV[1])
if deadline > 0 and now > deadline then return {0, now} end
local userKey, indexed, ttl, id, seen = ARGV[2], ARGV[3] == '1', ARGV[4], ARGV[5], ARGV[6]
local prefix = string.sub(KEYS[1], 1, #KEYS[1] - #id)
-- What the script skipped as damaged or written by hand, for the store's debug log: triples of
-- a user index's key, the entry's id (false for the index itself) and why.
local skipped = {}
local function skip (index, member, why)
  table.insert(skipped, index)
  table.insert(skipped, member)
  table.insert(skipped, why)
end
-- A script's reply; what it skipped comes sixth, when there is any.
local function reply (status, old, new, result)
  if #skipped == 0 then return {status, now, old, new, result} end
  return {status, now, old or false, new or false, result or false, skipped}
end
-- A record's user field: false when there is none, or the key is no hash (an index entry written by hand).
local function userField (key)
  if userKey == '' then return false end
  local text = redis.pcall('HGET', key, userKey)
  if type(text) ~= 'string' then return false end
  return text
end
-- userOf() of types.ts: a JSON non-empty string's value, or a JSON number's text (JSON.stringify(n) is String(n)).
local function userOf (text)
  if not text then return false end
  if tonumber(text) then return text end
  local ok, value = pcall(cjson.decode, text)
  if ok and type(value) == 'string' and value ~= '' then return value end
  return false
end
-- Makes a user's index a sorted set, if it is not one or none: a set (the index's earlier
-- form) keeps its ids, with no time seen yet; anything else (written by hand) is dropped.
local function normalize (index)
  local kind = redis.call('TYPE', index).ok
  if kind == 'zset' or kind == 'none' then return end
  local members = {}
  if kind == 'set' then members = redis.call('SMEMBERS', index) else skip(index, false, 'it was a ' .. kind .. ', not a sorted set, and is dropped') end
  local pttl = redis.call('PTTL', index)
  redis.call('DEL', index)
  for _, member in ipairs(members) do redis.call('ZADD', index, 0, member) end
  if pttl > 0 and #members > 0 then redis.call('PEXPIRE', index, pttl) end
end
-- A command on an index, which normalize() repairs first when the index is not a sorted set.
local function onIndex (command, index, ...)
  if type(redis.pcall(command, index, ...)) == 'table' then
    normalize(index)
    redis.call(command, index, ...)
  end
end
local function addTo (index, member)
  onIndex('ZADD', index, seen, member)
  if redis.call('PTTL', index) < tonumber(ttl) then redis.call('PEXPIRE', index, ttl) end
end
local function reindex (oldId, newId, oldText, newText)
  local old, new = userOf(oldText), userOf(newText)
  if old and (old ~= new or oldId ~= newId) then onIndex('ZREM', prefix .. 'user:' .. old, oldId) end
  if new then addTo(prefix .. 'user:' .. new, newId) end
end
-- Whether an id in a user's index names a session of the user. When it does not, it notes why,
-- unless the session has expired or was deleted, the usual way for an entry to go stale.
local function owns (index, member, user)
  if member == '' then
    skip(index, member, 'its id is empty')
    return false
  end
  local key = prefix .. member
  local text = redis.pcall('HGET', key, userKey)
  if type(text) == 'table' then
    skip(index, member, 'its key holds a ' .. redis.call('TYPE', key).ok .. ', not a session')
  elseif not text then
    if redis.call('EXISTS', key) == 1 then skip(index, member, 'its session names no user') end
  elseif userOf(text) == user then
    return true
  elseif userOf(text) then
    skip(index, member, "its session is another user's")
  else
    skip(index, member, "its session's user field is not a user id")
  end
  return false
end
-- What listUser() makes of an id in a user's index: the session's creation time, when it is the
-- user's and has one; false for a session of the user without one (written by hand: it stays in
-- the index, for destroyUser()); nil when it is no session of the user, to leave the index.
local function listed (index, member, user)
  if not owns(index, member, user) then return nil end
  local created = redis.call('HGET', prefix .. member, '_created')
  if created and #created <= 15 and string.match(created, '^%d+$') then return created end
  skip(index, member, created and 'its _created is not a time' or 'its session has no _created')
  return false
end
`

function script (body: string): Script {
  const lua = PRELUDE + body
  return { lua, sha: createHash('sha1').update(lua).digest('hex') }
}

// ARGV[7] '1' to create, ARGV[8] the number of fields to delete, then those fields, then field/value pairs.
const SET = script(`
local key = KEYS[1]
if ARGV[7] == '0' and redis.call('EXISTS', key) == 0 then return {2, now} end
local old = userField(key)
local n = tonumber(ARGV[8])
if n > 0 then redis.call('HDEL', key, unpack(ARGV, 9, 8 + n)) end
if #ARGV > 8 + n then redis.call('HSET', key, unpack(ARGV, 9 + n)) end
redis.call('PEXPIRE', key, ttl)
local new = userField(key)
if indexed then reindex(id, id, old, new) end
return reply(1, old, new)
`)

const TOUCH = script(`
if redis.call('PEXPIRE', KEYS[1], ttl) == 0 then return {2, now} end
local user = userField(KEYS[1])
if indexed then reindex(id, id, user, user) end
return reply(1, user, user)
`)

// ARGV[7]: '' or the user that the record must belong to (Cluster's destroyUser()).
const DESTROY = script(`
if ARGV[7] ~= '' and not owns(prefix .. 'user:' .. ARGV[7], id, ARGV[7]) then return reply(1, false, false, 0) end
local user = userField(KEYS[1])
local count = redis.call('DEL', KEYS[1])
if indexed then reindex(id, id, user, false) end
return reply(1, user, false, count)
`)

// KEYS[2] the new record; ARGV[7] the new id, then field/value pairs.
const RENAME = script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {2, now} end
local old = userField(KEYS[1])
redis.call('DEL', KEYS[1], KEYS[2])
if #ARGV > 7 then redis.call('HSET', KEYS[2], unpack(ARGV, 8)) end
redis.call('PEXPIRE', KEYS[2], ttl)
local new = userField(KEYS[2])
if indexed then reindex(id, ARGV[7], old, new) end
return reply(1, old, new)
`)

// The scripts below read a user's index, KEYS[1]: ARGV[5] is 'user:' .. user, so that
// prefix is the store's; ARGV[7] the user.

// Each live session's id, creation time and time seen; the index loses the others.
const LIST_USER = script(`
normalize(KEYS[1])
local list = {}
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #entries, 2 do
  local created = listed(KEYS[1], entries[i], ARGV[7])
  if created then
    table.insert(list, entries[i])
    table.insert(list, created)
    table.insert(list, entries[i + 1])
  elseif created == nil then
    redis.call('ZREM', KEYS[1], entries[i])
  end
end
return reply(1, false, false, list)
`)

// ARGV[8] the id of a session to keep ('' none).
const DESTROY_USER = script(`
normalize(KEYS[1])
local count = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if member ~= ARGV[8] then
    if owns(KEYS[1], member, ARGV[7]) then count = count + redis.call('DEL', prefix .. member) end
    redis.call('ZREM', KEYS[1], member)
  end
end
return reply(1, false, false, count)
`)

// Cluster only, where a user's records are in other slots than the index. The index's
// ids and their times seen, as a flat list.
const MEMBERS = script(`
normalize(KEYS[1])
return reply(1, false, false, redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES'))
`)

// Cluster only: KEYS[1] a record, ARGV[5] its id, ARGV[7] the user: listed() of it, with 1 for false
// (a session of the user to keep in the index) and false for nil (an id to remove from it).
const CREATED = script(`
local created = listed(prefix .. 'user:' .. ARGV[7], id, ARGV[7])
if created == nil then created = false elseif created == false then created = 1 end
return reply(1, false, false, created)
`)

// Cluster only: KEYS[1] a user's index, to which the id is added.
const INDEX = script(`
addTo(KEYS[1], id)
return reply(1, false, false)
`)

// Cluster only: KEYS[1] a user's index, ARGV[7] and on the ids to remove from it.
const UNINDEX = script(`
for i = 7, #ARGV do onIndex('ZREM', KEYS[1], ARGV[i]) end
return reply(1, false, false)
`)

const OPTION_NAMES = ['client', 'prefix', 'timeout', 'userKey']
/** The longest delay of a Node.js timer, in seconds. */
const MAX_TIMEOUT = 2147483

function invalid (name: string, expected: string, value: unknown): Error {
  return invalidOption(`RedisStore ${name}`, expected, value)
}

function isClient (value: unknown): value is RedisClient {
  const c = value as Record<string, unknown> | null
  return typeof c === 'object' && c !== null && typeof c.status === 'string' &&
    typeof c.evalsha === 'function' && typeof c.hgetall === 'function'
}

/** A session store in Redis (standalone, Sentinel or Cluster), through an ioredis client. */
export class RedisStore implements SessionStore, UserIndex {
  /** The logger of the app that registered the store (see `kLog`). @internal */
  [kLog]: DebugLog | undefined
  readonly #client: RedisClient
  readonly #prefix: string
  readonly #timeout: number
  readonly #userKey: string | undefined
  /** On a Cluster, the user index is updated by separate commands. */
  readonly #cluster: boolean
  /** Redis's clock minus `performance.now()`, in ms, estimated so that it errs early: it dates each write's deadline. */
  #offset: number | undefined

  constructor (options: RedisStoreOptions) {
    checkStoreOptions('RedisStore', options, OPTION_NAMES, 'an object with a client')
    const { client, prefix = 'session:', timeout = 2, userKey } = options
    if (!isClient(client)) throw invalid('client', 'an ioredis Redis or Cluster client', client)
    if (typeof prefix !== 'string') throw invalid('prefix', 'a string', prefix)
    if (typeof timeout !== 'number' || !(timeout > 0 && timeout <= MAX_TIMEOUT)) {
      throw invalid('timeout', `a number of seconds above 0 (fractions allowed), at most ${MAX_TIMEOUT}`, timeout)
    }
    if (userKey !== undefined && (typeof userKey !== 'string' || userKey === '')) {
      throw invalid('userKey', 'a non-empty string', userKey)
    }
    this.#client = client
    this.#prefix = prefix
    this.#timeout = timeout
    this.#userKey = userKey
    this.#cluster = client.isCluster
  }

  #key (id: string): string {
    return this.#prefix + id
  }

  #index (user: string): string {
    return this.#prefix + 'user:' + user
  }

  /** Runs `fn`, failing when the client is not ready or `timeout` passes. */
  #bounded<R> (fn: (deadline: number) => Promise<R>): Promise<R> {
    const status = this.#client.status
    // A command sent now would wait in ioredis's offline queue and run when
    // Redis is back, long after this request failed: fail at once instead.
    if (status !== 'ready') return Promise.reject(new Error(`Redis is not connected (the client's status is ${status})`))
    const ms = this.#timeout * 1000
    // One promise and one timer per call, settled by whichever comes first:
    // after a timeout, the call's own late failure is expected, and ignored.
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error(`Redis did not answer within ${this.#timeout} s`)) }, ms)
      fn(performance.now() + ms).then((value) => {
        clearTimeout(timer)
        resolve(value)
      }, (err: Error) => {
        clearTimeout(timer)
        reject(err)
      })
    })
  }

  /**
   * Runs a script with the common arguments; `deadline` is on our clock
   * (`performance.now()`), `seen` the plugin's (Unix seconds, 0 when the
   * script does not index).
   */
  async #eval (deadline: number, s: Script, keys: string[], ttl: number, id: string, extra: Array<string | number>, seen = 0): Promise<Reply> {
    const client = this.#client
    if (this.#offset === undefined) {
      const [seconds, micros] = await client.time()
      this.#offset = Number(seconds) * 1000 + Number(micros) / 1000 - performance.now()
    }
    const args = [...keys, Math.floor(deadline + this.#offset), this.#userKey ?? '', this.#cluster ? '0' : '1', ttl, id, seen, ...extra]
    let reply: Reply
    try {
      reply = await client.evalsha(s.sha, keys.length, ...args) as Reply
    } catch (err) {
      // Redis forgets scripts when it restarts: send the source, which caches it again.
      if (!(err as Error).message.startsWith('NOSCRIPT')) throw err
      reply = await client.eval(s.lua, keys.length, ...args) as Reply
    }
    // Measured when the reply arrives, so the offset errs early, never late.
    this.#offset = reply[1] - performance.now()
    const skipped = reply[5]
    if (skipped !== undefined) {
      for (let i = 0; i < skipped.length; i += 3) logSkipped(this[kLog], skipped[i] as string, skipped[i + 1] as string | null, skipped[i + 2] as string)
    }
    if (reply[0] === 0) throw new Error(`Redis received the write after the timeout (${this.#timeout} s), and did not apply it`)
    return reply
  }

  /** Cluster only: moves a session in the user index after its record changed. */
  async #reindex (deadline: number, oldId: string, newId: string, reply: Reply, ttl: number, seen: number): Promise<void> {
    if (!this.#cluster || this.#userKey === undefined) return
    const old = userOf(reply[2] ?? undefined)
    const current = userOf(reply[3] ?? undefined)
    if (old !== undefined && (old !== current || oldId !== newId)) await this.#eval(deadline, UNINDEX, [this.#index(old)], 0, 'user:' + old, [oldId])
    if (current !== undefined) await this.#eval(deadline, INDEX, [this.#index(current)], ttl, newId, [], seen)
  }

  get (id: string): Promise<StoreRecord | null> {
    return this.#bounded(() => this.#client.hgetall(this.#key(id)))
      .then((fields) => Object.keys(fields).length === 0 ? null : fields)
  }

  async set (id: string, change: StoreChange, ttl: number): Promise<void> {
    const seen = clock.now()
    const ms = Math.ceil(ttl * 1000)
    const args: Array<string | number> = [change.create ? '1' : '0', change.delete.length, ...change.delete]
    for (const field of Object.keys(change.set)) args.push(field, change.set[field] as string)
    await this.#bounded(async (deadline) => {
      const reply = await this.#eval(deadline, SET, [this.#key(id)], ms, id, args, seen)
      if (reply[0] === 1) await this.#reindex(deadline, id, id, reply, ms, seen)
    })
  }

  async touch (id: string, ttl: number): Promise<void> {
    const seen = clock.now()
    const ms = Math.ceil(ttl * 1000)
    await this.#bounded(async (deadline) => {
      const reply = await this.#eval(deadline, TOUCH, [this.#key(id)], ms, id, [], seen)
      if (reply[0] === 1) await this.#reindex(deadline, id, id, reply, ms, seen)
    })
  }

  /** Deletes a record. An id that is not a non-empty string names none: nothing is deleted. */
  async destroy (id: string): Promise<void> {
    if (typeof id !== 'string' || id === '') return
    await this.#bounded(async (deadline) => {
      await this.#reindex(deadline, id, id, await this.#eval(deadline, DESTROY, [this.#key(id)], 0, id, ['']), 0, 0)
    })
  }

  async rename (oldId: string, newId: string, record: StoreRecord, ttl: number): Promise<void> {
    const seen = clock.now()
    const ms = Math.ceil(ttl * 1000)
    const pairs: string[] = []
    for (const field of Object.keys(record)) pairs.push(field, record[field] as string)
    await this.#bounded(async (deadline) => {
      if (!this.#cluster) {
        await this.#eval(deadline, RENAME, [this.#key(oldId), this.#key(newId)], ms, oldId, [newId, ...pairs], seen)
        return
      }
      const removed = await this.#eval(deadline, DESTROY, [this.#key(oldId)], 0, oldId, [''])
      if (removed[4] === 0) return // deleted meanwhile: it stays deleted
      const written = await this.#eval(deadline, SET, [this.#key(newId)], ms, newId, ['1', 0, ...pairs])
      await this.#reindex(deadline, oldId, newId, [1, written[1], removed[2], written[3]], ms, seen)
    })
  }

  /** The index key and name of a user (requires `userKey`); `undefined` for a user that no session can be indexed by. */
  #user (user: unknown, method: string): { index: string, name: string } | undefined {
    if (this.#userKey === undefined) throw invalid('userKey', `a session key naming the user, to call ${method}`, undefined)
    const name = userName(user)
    return name === undefined ? undefined : { index: this.#index(name), name }
  }

  /** The session key that holds the user's id, or `undefined` without an index. */
  get userKey (): string | undefined {
    return this.#userKey
  }

  /**
   * Each live session of a user (requires `userKey`), the most recently
   * seen first. Ids whose record has expired, was deleted or is not the
   * user's are removed from the index; a record of the user whose
   * creation time is not a number (written by hand) is left out. Each
   * entry skipped for damage (all but the expired and deleted) gets a
   * debug line on the logger of the app that registered the store.
   */
  async listUser (user: string | number): Promise<UserSession[]> {
    const target = this.#user(user, 'listUser()')
    if (target === undefined) return []
    const { index, name } = target
    const flat = await this.#bounded(async (deadline): Promise<unknown> => {
      if (!this.#cluster) return (await this.#eval(deadline, LIST_USER, [index], 0, 'user:' + name, [name]))[4]
      const entries = (await this.#eval(deadline, MEMBERS, [index], 0, 'user:' + name, [name]))[4] as string[]
      const list: string[] = []
      const gone: string[] = []
      const ids = entries.filter((_, i) => i % 2 === 0)
      const replies = await Promise.all(ids.map(async (id) => await this.#eval(deadline, CREATED, [this.#key(id)], 0, id, [name])))
      replies.forEach((reply, i) => {
        const id = ids[i] as string
        if (typeof reply[4] === 'string') list.push(id, reply[4], entries[2 * i + 1] as string)
        else if (reply[4] !== 1) gone.push(id) // 1: a session of the user that is not listed, but stays indexed
      })
      if (gone.length > 0) await this.#eval(deadline, UNINDEX, [index], 0, 'user:' + name, gone)
      return list
    })
    const sessions: UserSession[] = []
    const list = flat as string[]
    for (let i = 0; i < list.length; i += 3) {
      const created = Number(list[i + 1]) // a whole number: the script skips the others
      const seen = Math.floor(Number(list[i + 2]))
      // A score that is no time (written by hand, or not seen since the index was a set) reads as the creation time.
      sessions.push({ id: list[i] as string, created, lastSeen: seen > created ? seen : created })
    }
    return byLastSeen(sessions)
  }

  /**
   * Deletes every session of a user (requires `userKey`) but
   * `options.except`: logs the user out everywhere, or everywhere else.
   * Resolves to how many sessions it deleted.
   */
  async destroyUser (user: string | number, options?: DestroyUserOptions): Promise<number> {
    const target = this.#user(user, 'destroyUser()')
    if (target === undefined) return 0
    const { index, name } = target
    const except = typeof options?.except === 'string' ? options.except : ''
    return await this.#bounded(async (deadline) => {
      if (!this.#cluster) return (await this.#eval(deadline, DESTROY_USER, [index], 0, 'user:' + name, [name, except]))[4] as number
      const entries = (await this.#eval(deadline, MEMBERS, [index], 0, 'user:' + name, [name]))[4] as string[]
      const ids = entries.filter((id, i) => i % 2 === 0 && id !== except)
      const replies = await Promise.all(ids.map(async (id) => await this.#eval(deadline, DESTROY, [this.#key(id)], 0, id, [name])))
      // Only the ids handled: a session added meanwhile stays in the index.
      if (ids.length > 0) await this.#eval(deadline, UNINDEX, [index], 0, 'user:' + name, ids)
      return replies.reduce((sum, reply) => sum + (reply[4] as number), 0)
    })
  }
}
