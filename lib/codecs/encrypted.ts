/**
 * The encrypted cookie (format 'encrypted'). Not written yet.
 */
import type { CookieCodec } from './types.js'

/** Builds the encrypted codec for the given secrets (the first one encrypts). */
export function encryptedCodec (_secrets: readonly Buffer[]): CookieCodec {
  throw new Error('not implemented')
}
