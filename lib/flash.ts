/**
 * Flash messages, as in Flask: queued in the session under `_flashes` as
 * `[category, message]` pairs, and consumed by the first read of a request.
 */
import type { FastifyRequest } from 'fastify'
import { FST_ERR_SESSION_READONLY } from './errors.js'
import type { Flash } from './serialize.js'
import { accessState, stateOf } from './session.js'

/** Options of `request.getFlashedMessages()`. */
export interface FlashFilter {
  /** Return `[category, message]` pairs instead of messages. */
  withCategories?: boolean
  /** Return only the messages of these categories (the others are consumed too, as in Flask). */
  categoryFilter?: readonly string[]
}

/** Queues a message for the next request that reads flashes. */
export function flash (this: FastifyRequest, message: string, category = 'message'): void {
  const session = this.session
  const s = stateOf(session)
  if (s.mode !== 'on') {
    throw new FST_ERR_SESSION_READONLY(s.mode === 'off' ? 'false' : "'readonly'", 'flash()')
  }
  session.modified = true
  s.content.flashes.push([category, String(message)])
}

/**
 * Returns the queued messages and consumes them all, even those that the
 * filter hides. Later calls in the same request return the same messages.
 * On a read-only route the messages are returned but not consumed.
 */
export function getFlashedMessages (this: FastifyRequest): string[]
export function getFlashedMessages (this: FastifyRequest, options: FlashFilter & { withCategories: true }): Flash[]
export function getFlashedMessages (this: FastifyRequest, options: FlashFilter & { withCategories?: false }): string[]
export function getFlashedMessages (this: FastifyRequest, options: FlashFilter): string[] | Flash[]
export function getFlashedMessages (this: FastifyRequest, options: FlashFilter = {}): string[] | Flash[] {
  const session = this.session
  const s = stateOf(session)
  let flashes = s.flashesRead
  if (flashes === undefined) {
    accessState(s)
    flashes = s.content.flashes
    if (s.mode === 'on' && flashes.length > 0) {
      s.content.flashes = []
      s.modified = true
    }
    s.flashesRead = flashes
  }
  const filter = options.categoryFilter
  const kept = filter === undefined || filter.length === 0 ? flashes : flashes.filter(([category]) => filter.includes(category))
  return options.withCategories === true ? kept.map(([c, m]): Flash => [c, m]) : kept.map(([, m]) => m)
}
