/**
 * The session policy (Flask's SessionInterface): how a session is opened
 * from a request, and when its cookie is set, refreshed or deleted.
 *
 * Flask's rules: set the cookie when the session was modified, or when it
 * is permanent and refreshEachRequest is on; delete it when a session that
 * came with a cookie is emptied; add `Vary: Cookie` when it was accessed.
 * Ours: nested in-place changes count as modified, an old key's cookie is
 * re-issued with the current key, and a route that never touches a
 * non-permanent session does no cryptography at all.
 */
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import { LRUCache } from 'lru-cache'
import { ownCopy, RecentValues } from './cache.js'
import { Chunks, isChunked, KEPT } from './chunks.js'
import { clock } from './clock.js'
import { MAX_VALUE_LENGTH, type CookieCodec, type Envelope } from './codecs/types.js'
import { FST_ERR_SESSION_TOO_LARGE } from './errors.js'
import type { ResolvedOptions } from './options.js'
import type { DataRules } from './schema.js'
import { stringifyEntry, type SessionContent } from './serialize.js'
import type { CookieAttributes } from './cookie-attributes.js'
import { Session, stateOf } from './session.js'
import { loadState, type SessionMode, type SessionState } from './session-state.js'

export { clock }

/**
 * The time in Unix milliseconds within the second `now` (from
 * `clock.now()`): `Date.now()` kept inside that second, so that it agrees
 * with the plugin's clock, whether a test set it or the second turned
 * between the two reads.
 */
export function msAt (now: number): number {
  const start = now * 1000
  return Math.min(Math.max(Date.now(), start), start + 999)
}

/** How far in the future a signature may be dated (clock skew between servers). */
const MAX_SKEW = 60
/** Verified cookie values that clients brought, kept so that a returning cookie skips the MAC. */
const CACHE_SIZE = 10000
/**
 * Cookie values this process sealed (2^8 slots), kept apart so that a
 * client that writes on every request (each cookie coming back once, then
 * replaced) does not churn the verified cache. An entry is needed only
 * until its client's next request, and lives for about 256 seals: enough
 * for the requests in flight, and short enough that most entries die
 * young. With 1,024 slots, young-generation GC took 0.3 µs more per
 * encrypted /write (perf, one run each, under the bench's 10 connections,
 * which never use an entry older than a few dozen seals).
 */
const SEALED_BITS = 8
const EXPIRED = '; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT'

/** Adds `Cookie` to the Vary header once, keeping what is there. */
export function addVaryCookie (reply: FastifyReply): void {
  const vary = reply.getHeader('vary')
  if (vary === undefined) {
    reply.header('vary', 'Cookie')
    return
  }
  const text = Array.isArray(vary) ? vary.join(', ') : String(vary)
  if (!/(?:^|,)\s*(?:cookie|\*)\s*(?:,|$)/i.test(text)) reply.header('vary', `${text}, Cookie`)
}

/**
 * Finds the session cookie's value in a Cookie header, by `needle`: the
 * cookie's name followed by `=` (made once by each policy, not per request).
 * Returns `null` when the header carries several different values for it: a
 * sibling domain can plant a second cookie of the same name, and no rule
 * says which is ours.
 */
export function findCookie (header: string | undefined, needle: string): string | undefined | null {
  if (header === undefined) return undefined
  let found: string | undefined
  for (let at = cookieAt(header, needle, 0); at >= 0; at = cookieAt(header, needle, at + needle.length)) {
    const from = at + needle.length
    const end = header.indexOf(';', from)
    const value = header.slice(from, end < 0 ? undefined : end).trim()
    if (found !== undefined && found !== value) return null
    if (end < 0) return value // the last cookie: no other can follow
    found = value
  }
  return found
}

/**
 * Where `text` next starts a cookie's name in a Cookie header, from `from`
 * on: at the start, or after `;`, a space or a tab. -1 when it does not.
 */
export function cookieAt (header: string, text: string, from: number): number {
  for (;;) {
    const at = header.indexOf(text, from)
    if (at <= 0) return at
    const before = header.charCodeAt(at - 1)
    if (before === 59 || before === 32 || before === 9) return at
    from = at + text.length
  }
}

/** Logs, at debug level, why a session cookie (or its record) gives an empty session: one line per request. */
export function logRejected (log: FastifyBaseLogger, reason: string): void {
  log.debug({ reason }, `session cookie rejected: ${reason}`)
}

/**
 * The session cookie a request brought (`needle` as in `findCookie`):
 * `undefined` when there is none, it is empty, or the request sent several
 * (logged at debug level).
 */
export function requestCookie (request: FastifyRequest, needle: string): string | undefined {
  const cookie = findCookie(request.headers.cookie, needle)
  if (cookie === null) {
    request.log.debug({ reason: 'several values' }, 'session cookie rejected: the request sent several session cookies')
    return undefined
  }
  return cookie === '' ? undefined : cookie
}

/** A verified cookie's envelope, as the caches keep it. */
interface Verified extends Envelope {
  /**
   * With a schema: `true` once the data has passed it, or why it failed;
   * unset until the first load. Data of another version is not cached here.
   */
  checked?: true | string
  /**
   * The data, when every value is one that no handler can change in place
   * and that every format reads back as it was written (see `flatData`):
   * each request's session gets a copy of it instead of parsing the body.
   * `null` when the body must be parsed; unset until the first load.
   */
  flat?: ReadonlyArray<[string, unknown]> | null
}

/**
 * The entries of a session's data if it holds only strings, numbers,
 * booleans and null, and no flashes; `null` otherwise. These are the
 * values that no handler can change in place and that every format reads
 * back exactly as written (-0, NaN, ±Infinity and integers past 2^53
 * included). Objects can change in place, and a BigInt is not kept by
 * Flask's format, which reads a small one back as a number.
 */
function flatData (content: SessionContent): Array<[string, unknown]> | null {
  if (content.flashes.length > 0) return null
  for (const value of content.data.values()) {
    const type = typeof value
    if (!(type === 'string' || type === 'number' || type === 'boolean' || value === null)) return null
  }
  return [...content.data]
}

/** The `validate` option's function. */
export type Validate = NonNullable<ResolvedOptions['validate']>

/**
 * Runs `validate` on the request's session when it is a valid one (in
 * cookie mode this loads it); a `false` answer turns it into an empty new
 * session whose cookie (and record) the save then deletes.
 */
export async function runValidate (validate: Validate, request: FastifyRequest, session: Session): Promise<void> {
  const s = stateOf(session)
  if (s.cookie === undefined || loadState(s).isNew) return
  if ((await validate(session, request)) !== false) return
  discard(s)
  request.log.debug({ reason: 'validate' }, 'session rejected: validate returned false')
}

/** Turns a loaded session into an empty new one, whose cookie (and record) the save deletes. */
export function discard (s: SessionState): void {
  // The record stays known, so that the save deletes it.
  Object.assign(s, newState(s.mode, s.cookie, s.serialize, s.log, s.attributes), { cleared: true, accessed: s.accessed, record: s.record })
}

/** An empty new session's state, whose cookie has the given attributes (the `cookie` option's object). */
export function newState (mode: SessionMode, cookie: string | undefined, serialize: SessionState['serialize'], log: FastifyBaseLogger,
  attributes: CookieAttributes): SessionState {
  return {
    mode,
    cookie,
    load: undefined,
    log,
    serialize,
    content: { data: new Map(), flashes: [] },
    baseline: '{}',
    isNew: true,
    permanent: false,
    created: 0,
    issued: 0,
    modified: false,
    accessed: false,
    exposed: false,
    cleared: false,
    regenerate: false,
    renew: false,
    flashesRead: undefined,
    saved: false,
    record: undefined,
    attributes
  }
}

/** The cookie-mode policy: the session lives in the cookie. */
export class CookieInterface {
  readonly #options: ResolvedOptions
  readonly #codec: CookieCodec
  /**
   * Verified values, at most CACHE_SIZE of them and CACHE_SIZE × 4 KB of
   * value text in all: a chunked value is up to ten cookies long, so the
   * count alone would let the cache grow to 400 MB at maxChunks 10.
   */
  readonly #cache = new LRUCache<string, Verified>({ max: CACHE_SIZE, maxSize: CACHE_SIZE * 4096, sizeCalculation: (_, value) => value.length })
  readonly #sealed = new RecentValues<Verified>(SEALED_BITS)
  readonly #writer: CookieWriter
  readonly #rules: DataRules
  /** The session cookie's name and `=`, which `findCookie` looks for. */
  readonly #needle: string
  /** Present when `maxChunks` is above 1. */
  readonly #chunks: Chunks | undefined

  constructor (options: ResolvedOptions, codec: CookieCodec, writer: CookieWriter, rules: DataRules) {
    this.#options = options
    this.#codec = codec
    this.#writer = writer
    this.#rules = rules
    this.#needle = `${options.cookieName}=`
    this.#chunks = options.maxChunks > 1 ? new Chunks(options, codec, writer) : undefined
  }

  /** Checks a cookie value: its signature (or a cache hit) and its times. */
  verify (value: string): Verified | string {
    let envelope: Verified | undefined = this.#sealed.get(value) ?? this.#cache.get(value)
    if (envelope === undefined) {
      // A copy, so that the cached key and the body (a view into it) do not keep the request's header alive.
      const own = ownCopy(value)
      const opened = this.#codec.open(own)
      if (typeof opened === 'string') return opened
      // A creation time in milliseconds may fall later in the second it was signed in.
      if (opened.created >= opened.issued + 1) return 'the creation time is after the signing time'
      envelope = opened
      this.#cache.set(own, envelope)
    }
    const now = clock.now()
    const { maxAge, absoluteTimeout } = this.#options
    if (envelope.issued > now + MAX_SKEW) return 'the signature is dated in the future'
    if (now - envelope.issued > maxAge) return `the signature is older than maxAge (${maxAge} s)`
    if (absoluteTimeout > 0 && now - envelope.created > absoluteTimeout) {
      return `the session is older than absoluteTimeout (${absoluteTimeout} s)`
    }
    return envelope
  }

  /**
   * The lazy loader, one per policy: a closure made per request and holding
   * the request measured to keep requests alive past young-generation GCs.
   */
  readonly #loader = (s: SessionState): void => { this.#load(s) }

  #load (s: SessionState): void {
    const log = s.log
    const envelope = this.verify(s.cookie as string)
    if (typeof envelope === 'string') {
      logRejected(log, envelope)
      return
    }
    const flat = envelope.flat
    let content: SessionContent
    if (flat != null) {
      content = { data: new Map(flat), flashes: [] }
    } else {
      try {
        content = this.#codec.parse(envelope.body)
      } catch (err) {
        const reason = `the payload cannot be decoded (${(err as Error).message})`
        logRejected(log, reason)
        return
      }
      if (flat === undefined) envelope.flat = flatData(content)
    }
    const rules = this.#rules
    if (envelope.version !== rules.version) {
      const upgraded = rules.upgrade(content, envelope.version)
      if (typeof upgraded === 'string') {
        logRejected(log, upgraded)
        return
      }
      content = upgraded
      s.modified = true // saved under this version
    } else if (rules.checks) {
      // Checked once per cookie value: a returning cookie's data is what passed (or failed) before.
      const checked = envelope.checked ??= rules.rejection(content.data) ?? true
      if (checked !== true) {
        logRejected(log, checked)
        return
      }
    }
    s.content = content
    s.baseline = envelope.body
    s.isNew = false
    s.permanent = envelope.permanent
    s.created = envelope.created
    s.issued = envelope.issued
    s.renew = envelope.keyIndex > 0
  }

  /** Opens the request's session. Nothing is verified until the session is used. */
  open (request: FastifyRequest, mode: SessionMode): Session {
    const s = newState(mode, undefined, this.#codec.stringify, request.log, this.#options.cookie)
    const cookie = mode === 'off' ? undefined : requestCookie(request, this.#needle)
    if (cookie !== undefined) {
      s.cookie = cookie
      s.load = this.#loader
      // Only a cookie whose head says it is chunked costs a look for the other chunks.
      if (this.#chunks !== undefined && isChunked(cookie)) this.#join(s, request.headers.cookie as string, cookie)
    }
    return new Session(s)
  }

  /** Replaces a chunked cookie's first chunk with the whole value, or leaves a new session when the chunks are rejected. */
  #join (s: SessionState, header: string, first: string): void {
    const joined = (this.#chunks as Chunks).join(s, header, first, s.log)
    s.cookie = joined
    if (joined === undefined) s.load = undefined
  }

  /**
   * Sets, refreshes or deletes the cookie, and adds Vary, as the policy
   * says; then deletes the chunks the request brought and the response no
   * longer uses.
   */
  save (request: FastifyRequest, reply: FastifyReply, s: SessionState): undefined {
    if (s.mode !== 'on') {
      // A read-only route (and a WebSocket route) never sets the cookie; one that is off never reads it.
      if (s.mode !== 'off' && s.accessed) addVaryCookie(reply)
      return
    }
    const done = this.#save(request, reply, s)
    if (this.#chunks !== undefined) this.#chunks.settle(request, reply, s, done)
  }

  /** Saves a route's session: `KEPT` when no cookie was set or deleted, else how many cookies it set (0: deleted). */
  #save (request: FastifyRequest, reply: FastifyReply, s: SessionState): number {
    if (!s.accessed) {
      // An untouched session needs its cookie only to refresh a permanent one,
      // or to delete one that validate rejected. A loaded session (validate
      // loads it) knows whether it is permanent; an unloaded one asks its cookie.
      if (s.cookie === undefined) return KEPT
      const permanent = s.load === undefined ? s.permanent : this.#codec.claimsPermanent(s.cookie)
      // A session that validate loaded may also have been migrated, which is saved.
      if (!s.cleared && !s.modified && !(permanent && this.#options.refreshEachRequest && this.#due(s))) return KEPT
    }
    const content = loadState(s).content
    let body: string | undefined
    let changed = s.modified || s.regenerate
    if (!changed && s.exposed) {
      body = this.#codec.stringify(content)
      changed = body !== s.baseline
    }
    if (content.data.size === 0 && content.flashes.length === 0) {
      if ((changed || s.cleared) && s.cookie !== undefined) {
        this.#writer.delete(request, reply, s)
        addVaryCookie(reply)
        return 0
      }
      if (s.accessed) addVaryCookie(reply)
      return KEPT
    }
    let done = KEPT
    if (changed || s.renew || (s.permanent && this.#options.refreshEachRequest && this.#due(s))) {
      // Data that was loaded, and not changed, passed the schema then.
      if (changed) this.#rules.assert(content.data)
      body ??= this.#codec.stringify(content)
      const now = clock.now()
      const created = s.isNew || s.regenerate ? this.#createdAt(now) : s.created
      let value: string
      if (this.#chunks === undefined) {
        value = this.#codec.seal(body, s.permanent, created, now)
        this.#writer.set(request, reply, value, now, s)
        done = 1
      } else {
        ({ value, count: done } = this.#chunks.set(request, reply, body, created, now, s))
      }
      // A value we just sealed is verified by construction: its next request skips the MAC.
      this.#sealed.set(value, { body, permanent: s.permanent, created, issued: now, keyIndex: 0, version: this.#rules.version, flat: flatData(content), checked: true })
    }
    addVaryCookie(reply)
    return done
  }

  /**
   * Whether a refreshing session is due for its refresh: always with
   * `refreshAfter` 0, else once its cookie is `refreshAfter` old. An
   * unloaded session (an untouched route) is not loaded to know: its
   * verified cookie, found in the caches unless this process has not seen
   * it yet, says when it was issued, and loading waits until it is due.
   */
  #due (s: SessionState): boolean {
    const after = this.#options.refreshAfter
    if (after === 0) return true
    let issued = s.issued
    if (s.load !== undefined) {
      const envelope = this.verify(s.cookie as string)
      if (typeof envelope === 'string') {
        // Loading would give an empty session, which an untouched route keeps as it is.
        logRejected(s.log, envelope)
        return false
      }
      // An old key's cookie moves to the current one, as a loaded session's does.
      if (envelope.keyIndex > 0) return true
      issued = envelope.issued
    }
    return clock.now() - issued >= after
  }

  /**
   * The creation time of a session created in the second `now`: with
   * `revocation`, to the millisecond (a fraction of a second, which the
   * codecs keep), so that a session created after a revocation in the
   * same second is told apart from one created before it.
   */
  #createdAt (now: number): number {
    return this.#options.revocation === undefined ? now : msAt(now) / 1000
  }

  /**
   * `app.sessions.encode`: a cookie value for the given data. Split over
   * several cookies, it is the base cookie's value followed by the others,
   * as a Cookie header carries them: `A; session.1=B; session.2=C`.
   */
  encode (data: object, permanent: boolean): string {
    const content: SessionContent = { data: new Map(Object.entries(data)), flashes: [] }
    this.#rules.assert(content.data)
    const now = clock.now()
    const created = this.#createdAt(now)
    const body = this.#codec.stringify(content)
    if (this.#chunks === undefined) return this.#codec.seal(body, permanent, created, now)
    const chunks = this.#chunks.seal(body, permanent, created, now, this.#writer.attributes(undefined, permanent, this.#options.cookie, now), content)
    let value = chunks[0] as string
    for (let i = 1; i < chunks.length; i++) value += `; ${this.#options.cookieName}.${i}=${chunks[i] as string}`
    return value
  }

  /** `app.sessions.decode`: the session in a cookie value (as `encode` returns it), or `null`. */
  decode (value: string, log: FastifyBaseLogger): Session | null {
    const s = newState('on', value, this.#codec.stringify, log, this.#options.cookie)
    if (this.#chunks !== undefined && isChunked(value)) {
      const header = `${this.#options.cookieName}=${value}`
      const first = findCookie(header, this.#needle)
      if (first === null) {
        log.debug({ reason: 'several values' }, 'session cookie rejected: the value carries several session cookies')
        return null
      }
      this.#join(s, header, first as string)
      if (s.cookie === undefined) return null
    }
    this.#load(s)
    return s.isNew ? null : new Session(s)
  }
}

/** `@fastify/cookie`'s `serializeCookie`, which formats the cookie's attributes. */
export type SerializeCookie = (name: string, value: string, attrs: object) => string

/**
 * Writes the session cookie's Set-Cookie header: set, with expiry when
 * permanent, or delete. The attributes of the `cookie` option are
 * formatted once; a response whose session was given its own attributes
 * (`session.options()`) has them formatted for it.
 */
export class CookieWriter {
  readonly #options: ResolvedOptions
  readonly #serializeCookie: SerializeCookie
  readonly #attributes: { plain: string, secure: string }
  #expiresAt = 0
  #expires = ''

  constructor (options: ResolvedOptions, serializeCookie: SerializeCookie) {
    this.#options = options
    this.#serializeCookie = serializeCookie
    this.#attributes = { plain: this.#format(options.cookie, false), secure: this.#format(options.cookie, true) }
  }

  /** The attributes as they follow the value in the header (`; Path=/; …`), by @fastify/cookie. */
  #format (attributes: CookieAttributes, secure: boolean): string {
    const { path, domain, httpOnly, sameSite, partitioned } = attributes
    return this.#serializeCookie('x', '', { path, domain, httpOnly, secure, sameSite, partitioned }).slice(2)
  }

  /** The attributes after the value; without a request (`encode`), Secure unless it is off, the longer of the two. */
  #suffix (request: FastifyRequest | undefined, attributes: CookieAttributes): string {
    const secure = attributes.secure === true || (attributes.secure === 'auto' && (request === undefined || request.protocol === 'https'))
    if (attributes !== this.#options.cookie) return this.#format(attributes, secure)
    return secure ? this.#attributes.secure : this.#attributes.plain
  }

  /** Expires and Max-Age for a permanent session issued at `now`, formatted once per second. */
  #expiry (now: number): string {
    if (this.#expiresAt !== now) {
      this.#expiresAt = now
      this.#expires = `; Max-Age=${this.#options.maxAge}; Expires=${new Date((now + this.#options.maxAge) * 1000).toUTCString()}`
    }
    return this.#expires
  }

  /**
   * Everything a Set-Cookie header carries after the value: Expires and
   * Max-Age when permanent, then Path, Domain and the other attributes.
   */
  attributes (request: FastifyRequest | undefined, permanent: boolean, attributes: CookieAttributes, now: number): string {
    return permanent ? this.#expiry(now) + this.#suffix(request, attributes) : this.#suffix(request, attributes)
  }

  /**
   * Sets the cookie of a session. Throws `FST_ERR_SESSION_TOO_LARGE`,
   * naming its largest keys, when the header would exceed `maxCookieSize`.
   */
  set (request: FastifyRequest, reply: FastifyReply, value: string, now: number, s: SessionState): void {
    const { cookieName, maxCookieSize } = this.#options
    const header = `${cookieName}=${value}` + this.attributes(request, s.permanent, s.attributes, now)
    if (maxCookieSize > 0 && header.length > maxCookieSize) {
      throw new FST_ERR_SESSION_TOO_LARGE(header.length, maxCookieSize, '', largestKeys(s.content))
    }
    // Even with the check off, no codec would accept a longer value on the next request.
    if (value.length > MAX_VALUE_LENGTH) {
      throw new FST_ERR_SESSION_TOO_LARGE(header.length, MAX_VALUE_LENGTH + header.length - value.length, '', largestKeys(s.content))
    }
    reply.header('set-cookie', header)
  }

  /**
   * Deletes the cookie of a session (or the cookie `name`: a chunk), with
   * the same Path, Domain, Secure, SameSite and Partitioned.
   */
  delete (request: FastifyRequest, reply: FastifyReply, s: SessionState, name = this.#options.cookieName): void {
    reply.header('set-cookie', `${name}=${EXPIRED}${this.#suffix(request, s.attributes)}`)
  }
}

/** Names the largest keys of a session and their serialized sizes. */
export function largestKeys (content: SessionContent): string {
  const sizes: Array<[string, number]> = []
  for (const [key, value] of content.data) sizes.push([key, Buffer.byteLength(stringifyEntry(key, value))])
  if (content.flashes.length > 0) sizes.push(['_flashes', Buffer.byteLength(JSON.stringify(content.flashes))])
  sizes.sort((a, b) => b[1] - a[1])
  return sizes.slice(0, 3).map(([key, size]) => `${JSON.stringify(key)} (${size} bytes)`).join(', ')
}
