/**
 * Flask's session cookie (format 'flask'). Not written yet.
 */
import type { CookieCodec } from './types.js'

/** Builds the Flask codec for the given secrets (SECRET_KEY, then SECRET_KEY_FALLBACKS). */
export function flaskCodec (_secrets: readonly Buffer[]): CookieCodec {
  throw new Error('not implemented')
}
