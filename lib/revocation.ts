/**
 * Revocation of cookie sessions (the `revocation` option): one "not before"
 * time per revoked user, kept in a `SessionStore`, and a cookie whose
 * session was created before its user's time is treated like a bad cookie.
 *
 *   id     = "revoked:" + user        a session id is 43 base64url characters, never with ":"
 *   record = { notBefore: <ms> }      the first Unix millisecond at which a created session is accepted
 *   ttl    = maxAge + cacheSeconds    by then no cookie from before it is accepted anyway (see `revoke`)
 *
 * Each process asks the store at most once per user per `cacheSeconds`,
 * and keeps the answer, "never revoked" included; concurrent requests of
 * one user share one lookup. A lookup's answer is kept from the moment it
 * was asked, so a revocation reaches every process within `cacheSeconds`.
 * Times are compared to the millisecond, on each server's clock: a
 * session created after `revokeUser` resolved is accepted, in the same
 * second too.
 */
import type { FastifyBaseLogger } from 'fastify'
import { LRUCache } from 'lru-cache'
import { FST_ERR_SESSION_STORE_UNAVAILABLE } from './errors.js'
import { clock, discard, msAt } from './interface.js'
import { invalidOption } from './invalid-option.js'
import type { ResolvedRevocation } from './options.js'
import { loadState, type SessionState } from './session-state.js'
import { userName } from './stores/types.js'

/** The store id of a user's record: `:` keeps it apart from every session id. */
const ID_PREFIX = 'revoked:'
/** The users whose answers a process keeps: beyond, the answer used longest ago goes first. */
const CACHE_SIZE = 10000
const NOT_BEFORE = /^\d{1,16}$/

/** The current time in Unix milliseconds, on the plugin's clock. */
function msNow (): number {
  return msAt(clock.now())
}

/** A store answer, kept until `until` (Unix ms). */
interface Answer {
  notBefore: number
  until: number
}

/** The error of a failed store call. */
function unavailable (what: string, err: unknown): Error {
  return new FST_ERR_SESSION_STORE_UNAVAILABLE(`${what} failed: ${(err as Error).message}`, { cause: err })
}

/** The revocation times of the users, as a process sees them. */
export class Revocation {
  readonly #store: ResolvedRevocation['store']
  readonly #userKey: string
  readonly #cacheMs: number
  readonly #ttl: number
  /** Each user's answer and until when it holds, least recently used first out. */
  readonly #answers = new LRUCache<string, Answer>({ max: CACHE_SIZE })
  /** The lookups in flight, one per user. */
  readonly #pending = new Map<string, Promise<number>>()

  constructor ({ store, userKey, cacheSeconds }: ResolvedRevocation, maxAge: number) {
    this.#store = store
    this.#userKey = userKey
    this.#cacheMs = cacheSeconds * 1000
    this.#ttl = maxAge + cacheSeconds
  }

  /**
   * Loads a session and checks it against its user's revocation: one
   * created before it is discarded (an empty session whose cookie the
   * save deletes). Returns `undefined` when that is done at once (no user,
   * or a kept answer), else a promise that settles once it is done, and
   * rejects with `FST_ERR_SESSION_STORE_UNAVAILABLE` when the store fails.
   */
  check (s: SessionState): Promise<void> | undefined {
    if (loadState(s).isNew) return undefined
    const user = userName(s.content.data.get(this.#userKey))
    if (user === undefined) return undefined
    const notBefore = this.#notBefore(user, s.log)
    if (typeof notBefore === 'number') {
      settle(s, notBefore)
      return undefined
    }
    return notBefore.then((time) => { settle(s, time) })
  }

  /** A user's "not before" time (0: never revoked): kept, or a lookup that others of the user share. */
  #notBefore (user: string, log: FastifyBaseLogger): number | Promise<number> {
    const now = msNow()
    const kept = this.#answers.get(user)
    if (kept !== undefined && kept.until > now) return kept.notBefore
    const pending = this.#pending.get(user)
    if (pending !== undefined) return pending
    const lookup = this.#lookup(user, log).then((notBefore) => {
      // A revocation made here meanwhile replaced this lookup, and its own answer is kept.
      if (this.#pending.get(user) === lookup) {
        this.#pending.delete(user)
        if (this.#cacheMs > 0) this.#answers.set(user, { notBefore, until: now + this.#cacheMs })
      }
      return notBefore
    }, (err: unknown): never => {
      if (this.#pending.get(user) === lookup) this.#pending.delete(user)
      throw unavailable('the revocation lookup', err)
    })
    this.#pending.set(user, lookup)
    return lookup
  }

  async #lookup (user: string, log: FastifyBaseLogger): Promise<number> {
    const record = await this.#store.get(ID_PREFIX + user)
    const text = record?.notBefore
    if (text === undefined) return 0
    if (!NOT_BEFORE.test(text)) {
      // Written by hand, or damaged: skipped, as a record that is not there.
      log.debug({ reason: 'malformed revocation record' }, `revocation record of a user skipped: its notBefore is not a time (${JSON.stringify(text.slice(0, 32))})`)
      return 0
    }
    return Number(text)
  }

  /**
   * `app.sessions.revokeUser`: every session of the user created until
   * now is rejected, here at once, and in every process within
   * `cacheSeconds`. Resolves once a session created from then on is
   * accepted (the next millisecond).
   */
  async revoke (user: unknown): Promise<void> {
    const name = userName(user)
    if (name === undefined) {
      throw invalidOption('user of revokeUser()', `a non-empty string or a number, as the sessions hold it in ${this.#userKey}`, user)
    }
    const notBefore = msNow() + 1
    try {
      // A cookie issued up to cacheSeconds after now, by a process that has not seen the
      // revocation yet, is accepted for maxAge after that: the record lasts as long.
      await this.#store.set(ID_PREFIX + name, { set: { notBefore: String(notBefore) }, delete: [], create: true }, this.#ttl)
    } catch (err) {
      throw unavailable('the revocation', err)
    }
    this.#pending.delete(name)
    this.#answers.set(name, { notBefore, until: msNow() + this.#cacheMs })
    // A timer counts from the event loop's cached time, so one may fire before the clock has
    // moved on; a clock that a test holds still never does, hence the bound.
    for (let i = 0; i < 3 && msNow() < notBefore; i++) await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

/** Discards a session created before `notBefore` (Unix ms), with one debug line. */
function settle (s: SessionState, notBefore: number): void {
  // A cookie without milliseconds says the second it was created in: taken as its start.
  if (Math.round(s.created * 1000) >= notBefore) return
  discard(s)
  s.log.debug({ reason: 'revoked' }, 'session cookie rejected: the session was created before its user was revoked')
}
