/**
 * The chunk field of a cookie value's head: how a value too long for one
 * cookie is split over `cookieName`, `cookieName.1`, … `cookieName.(N-1)`
 * (the `maxChunks` option).
 *
 *   HEAD   = the codec's head, then CHUNKS when the value is split
 *   CHUNKS = "-" COUNT "-" LENGTH
 *   COUNT  = N, how many cookies: one base36 digit, "2" to "a" (10)
 *   LENGTH = L, base36 without leading zeros, 1 to MAX_VALUE_LENGTH: every
 *            chunk but the last is exactly L characters, the last 1 to L
 *
 * A value in one cookie has no chunk field, so it reads as it always did.
 * The head is covered by the MAC (signed) or is the AAD (encrypted), so N
 * and L are authenticated: chunks whose concatenation is a valid value but
 * that were split at other points, or that are fewer or more than N, never
 * verify. The reader (`../chunks.ts`) checks the chunks against N and L
 * before joining them; the codec checks the joined length again.
 */
import { MAX_VALUE_LENGTH } from './types.js'

/** The most cookies one session may span: COUNT is one digit up to "a". */
export const MAX_CHUNKS = 10

/** The chunk field, to end a codec's HEAD pattern: its groups are COUNT and LENGTH. */
export const CHUNK_FIELD = '(?:-([2-9a])-([1-9a-z][0-9a-z]{0,2}))?'

const FIELD = new RegExp(`^${CHUNK_FIELD}$`)

/** How the policy wants a value split: given to `seal` when `maxChunks` is above 1. */
export interface ChunkPlan {
  /** The longest value that still goes in one cookie, with no chunk field. */
  readonly single: number
  /** L: the length of every chunk but the last. */
  readonly length: number
}

/**
 * The chunk field for a value of `length` characters without it: `''`
 * when the value fits in one cookie. Otherwise N counts the field itself.
 * A count above 35 writes two digits, which no reader accepts; the policy
 * refuses such a value as too large before it is sent.
 */
export function chunkField (length: number, plan: ChunkPlan | undefined): string {
  if (plan === undefined || length <= plan.single) return ''
  const l = plan.length.toString(36)
  return `-${Math.ceil((length + 3 + l.length) / plan.length).toString(36)}-${l}`
}

/** N and L, as a head states them. */
export interface ChunkLayout {
  /** N, 2 to 10. */
  readonly count: number
  /** L, 1 to MAX_VALUE_LENGTH. */
  readonly length: number
}

/**
 * Reads the chunk field of a head's COUNT and LENGTH groups: `undefined`
 * when there is none, the reason when L is out of range or the value's
 * length does not match N and L, or more than `maxChunks` cookies are
 * claimed. Used by the codecs, on the whole joined value.
 */
export function checkLayout (count: string | undefined, length: string | undefined, valueLength: number, maxChunks: number): string | undefined {
  if (count === undefined) return valueLength > MAX_VALUE_LENGTH ? 'the value is too long' : undefined
  const n = parseInt(count, 36)
  const l = parseInt(length as string, 36)
  if (n > maxChunks) return `the value says ${n} chunks, more than maxChunks (${maxChunks})`
  if (l > MAX_VALUE_LENGTH || valueLength > n * l || valueLength <= (n - 1) * l) return 'the value does not match its chunk layout'
  return undefined
}

/**
 * The chunk layout a head (the text before a value's first `.`) states, or
 * why its chunk field is malformed. The head's other parts are the codec's
 * to check; this reads only what follows its first `-`.
 */
export function readLayout (head: string): ChunkLayout | string {
  const match = FIELD.exec(head.slice(head.indexOf('-')))
  if (match?.[1] === undefined) return 'the chunk field is malformed'
  const length = parseInt(match[2] as string, 36)
  if (length > MAX_VALUE_LENGTH) return 'the chunk length is too long'
  return { count: parseInt(match[1], 36), length }
}
