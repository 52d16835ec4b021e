/**
 * A small cache of cookie values this process has just written, for the
 * next request of the same client: one table slot per value, no recency
 * list and no hashing of the whole string.
 *
 * Every value the plugin writes ends in a MAC or an AEAD tag (signed,
 * encrypted and Flask cookies, and store ids), which is uniformly random
 * to anyone without the key, so its last characters pick the slot. A
 * value whose slot another value has taken since is simply not found, and
 * is verified as if it had never been cached. A lookup compares the whole
 * string, so only the exact value that was put in is ever found.
 */

/** base64url digit values by character code; other characters count as 0. */
const DIGIT = new Uint8Array(128)
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'].entries()) {
  DIGIT[c.charCodeAt(0)] = i
}

/** The base64url digit at `at` in `value`: 0 past either end, or for another character. */
function digit (value: string, at: number): number {
  return DIGIT[value.charCodeAt(at) & 127] as number
}

/** A bounded cache keyed by the exact text of a cookie value. */
export class RecentValues<V> {
  readonly #keys: Array<string | undefined>
  readonly #values: Array<V | undefined>
  readonly #mask: number

  /** `bits`: the table holds 2^bits slots, at most 2^18. */
  constructor (bits: number) {
    const size = 2 ** bits
    this.#keys = new Array<string | undefined>(size).fill(undefined)
    this.#values = new Array<V | undefined>(size).fill(undefined)
    this.#mask = size - 1
  }

  /**
   * The slot: 18 bits from the three characters before the last (a tag's
   * last character may carry only 4 bits).
   */
  #slot (value: string): number {
    const n = value.length
    return (digit(value, n - 2) | digit(value, n - 3) << 6 | digit(value, n - 4) << 12) & this.#mask
  }

  /** The entry put in with exactly this text, unless another value has taken its slot since. */
  get (value: string): V | undefined {
    const slot = this.#slot(value)
    return this.#keys[slot] === value ? this.#values[slot] : undefined
  }

  /** Puts an entry in, in place of whatever held its slot. */
  set (value: string, entry: V): void {
    const slot = this.#slot(value)
    this.#keys[slot] = value
    this.#values[slot] = entry
  }
}
