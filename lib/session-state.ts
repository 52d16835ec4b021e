/**
 * The state behind a session: what the session object reads and writes,
 * and what the policy that opens and saves it (cookie or store mode) fills
 * in and reads back. Loading is lazy: `load` runs the first time the state
 * is needed, so a route that never touches the session never verifies its
 * cookie.
 */
import type { FastifyBaseLogger } from 'fastify'
import type { CookieAttributes } from './cookie-attributes.js'
import type { Flash, SessionContent } from './serialize.js'

/**
 * How a route may use its session: `'off'` and `'readonly'` from its
 * `config.session`, `'websocket'` for a WebSocket route (`websocket: true`),
 * which is read-only like `'readonly'`.
 */
export type SessionMode = 'on' | 'readonly' | 'off' | 'websocket'

/** Why a route's session is read-only, for `FST_ERR_SESSION_READONLY`. */
export const READONLY_REASONS: Readonly<Record<Exclude<SessionMode, 'on'>, string>> = {
  off: 'config.session is false',
  readonly: "config.session is 'readonly'",
  websocket: 'a WebSocket route, whose upgrade response carries no cookie: a write would be lost'
}

/** The state shared by a session and the policy that opens and saves it. */
export interface SessionState {
  mode: SessionMode
  /** The cookie value the request brought, if any. */
  cookie: string | undefined
  /** Fills `content` and the flags from the cookie, the first time it is needed. */
  load: ((state: SessionState) => void) | undefined
  /** Where a rejected cookie is reported, at debug level. */
  log: FastifyBaseLogger
  serialize: (content: SessionContent) => string
  content: SessionContent
  /**
   * The serialized content as loaded (or as last marked unmodified), which
   * the save compares once a mutable value was handed out. Store mode
   * leaves it unset until the first such value is handed out.
   */
  baseline: string | undefined
  isNew: boolean
  permanent: boolean
  /**
   * When the session was created, in Unix seconds. In store mode it is
   * read from a loaded record only under `absoluteTimeout`, its one use
   * there (0 otherwise): a save keeps the record's own creation time.
   */
  created: number
  /**
   * When the session's cookie (in store mode, its record) was last issued,
   * in Unix seconds, as its cookie or record says; 0 for a new session, and
   * in store mode when `refreshAfter` is 0, the one thing that reads it.
   */
  issued: number
  modified: boolean
  accessed: boolean
  /** A mutable value was handed out, so it may have changed in place. */
  exposed: boolean
  /** `clear()` was called. */
  cleared: boolean
  /** `regenerate()` was called. */
  regenerate: boolean
  /** The cookie was verified with an old key, so it moves to the current one. */
  renew: boolean
  /** The flashes this request consumed (Flask keeps them for the request). */
  flashesRead: Flash[] | undefined
  /** The session was saved (or its save failed): later onSend calls skip it. */
  saved: boolean
  /**
   * Store mode: the id a save gave the session when it is not the loaded
   * record's (a new record, or `regenerate()`), or `null` once a save
   * deleted the record. Unset until then: `Session.id` reads `record`.
   */
  id?: string | null
  /** Store mode: the id, fields and number of fields of the record the session was loaded from. */
  record: { id: string, fields: Readonly<Record<string, string>>, size: number } | undefined
  /**
   * The attributes of this response's Set-Cookie: the `cookie` option's
   * object itself (which the writer formats once), until `options()`
   * gives the response its own.
   */
  attributes: CookieAttributes
}

/** Loads the state if it is not loaded yet, without counting as access. */
export function loadState (s: SessionState): SessionState {
  if (s.load !== undefined) {
    const load = s.load
    s.load = undefined
    load(s)
  }
  return s
}

/** Marks the state accessed, and loads it. */
export function accessState (s: SessionState): SessionState {
  s.accessed = true
  return loadState(s)
}
