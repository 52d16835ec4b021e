/**
 * Flash messages, as in Flask: queued in the session under `_flashes` as
 * `[category, message]` pairs, and consumed by the first read of a request.
 * The session's `flash()` and `getFlashedMessages()` call these on their
 * state; they are not request decorators, because `request.flash` belongs
 * to `@fastify/flash` (which `@fastify/passport` registers).
 */
import type { Flash } from './serialize.js'
import type { SessionState } from './session-state.js'

/** Options of `session.getFlashedMessages()`. */
export interface FlashFilter {
  /**
   * Return `[category, message]` pairs instead of messages.
   * @default false
   */
  withCategories?: boolean
  /**
   * Return only the messages of these categories (the others are consumed
   * too, as in Flask). Empty or unset: every category.
   * @default undefined
   */
  categoryFilter?: readonly string[]
}

/** Queues a message in a loaded, writable state. */
export function queueFlash (s: SessionState, message: string, category: string): void {
  s.modified = true
  s.content.flashes.push([String(category), String(message)])
}

/**
 * Returns the messages of a loaded state, consuming them all (even those
 * that the filter hides) the first time in a request, unless the route is
 * read-only; later calls in the same request return the same messages.
 */
export function takeFlashes (s: SessionState, options: FlashFilter): string[] | Flash[] {
  let flashes = s.flashesRead
  if (flashes === undefined) {
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
