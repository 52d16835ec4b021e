/**
 * The contract between the session policy and a cookie format. A codec
 * turns a session body into a cookie value and back; it never imports
 * `fastify`, never logs and never throws on a client's cookie.
 */
import type { SessionContent } from '../serialize.js'
import type { ChunkPlan } from './chunk-field.js'

/** No codec accepts a longer cookie value, so none is cached or issued beyond it either. */
export const MAX_VALUE_LENGTH = 8192

/** What a verified cookie carries, before its body is parsed. */
export interface Envelope {
  /** The serialized session content, as `stringify` wrote it. */
  body: string
  /** Whether the session is permanent. */
  permanent: boolean
  /**
   * When the session was created, in Unix seconds: with a fraction of a
   * second when the value keeps milliseconds (the `revocation` option).
   */
  created: number
  /** When this cookie value was signed, in Unix seconds. */
  issued: number
  /** The index of the key that verified it: above 0, an old key (rotation). */
  keyIndex: number
  /** The data version (the `version` option) of the code that wrote it: 0 when the format keeps none. */
  version: number
}

/** A cookie format. */
export interface CookieCodec {
  /** Serializes the content into a body. Throws `FST_ERR_SESSION_UNSERIALIZABLE`. */
  stringify (content: SessionContent): string
  /** Parses a verified body. Throws on anything `stringify` would not write. */
  parse (body: string): SessionContent
  /**
   * Signs (or encrypts) a body into a cookie value; `created` and `issued`
   * are Unix seconds, and a `created` with a fraction of a second is kept
   * to the millisecond. With a `plan` (the
   * `maxChunks` option above 1), a value longer than `plan.single` gets a
   * chunk field in its head, saying how it is split (`chunk-field.ts`).
   */
  seal (body: string, permanent: boolean, created: number, issued: number, plan?: ChunkPlan): string
  /** Verifies a cookie value. Returns the reason as a string when it is rejected. */
  open (value: string): Envelope | string
  /**
   * Says, without any cryptography, whether a cookie value claims to be
   * permanent. A false claim fails verification later, so the answer only
   * decides whether an untouched session needs opening at all.
   */
  claimsPermanent (value: string): boolean
}
