/**
 * A small cache keyed by cookie values: in cookie mode, the values this
 * process has just written, for the next request of the same client; in
 * store mode, the signed ids it has verified. No recency list and no
 * hashing of the whole string, which costs more than the lookup here.
 *
 * Every value the plugin writes ends in a MAC or an AEAD tag (signed,
 * encrypted and Flask cookies, and store ids), which is uniformly random
 * to anyone without the key, so its last characters pick two candidate
 * slots, and a new value takes the one written to longer ago. With one
 * slot per value, each new value pushed out another client's value when
 * their slots met: 3.4% of the bench's `/write` requests (10 clients, 256
 * slots) missed and were verified again. With two, a value is lost only
 * when both of its slots are taken by newer ones. A value that is not
 * found is verified as if it had never been cached, and a lookup compares
 * the whole string, so only the exact value that was put in is found.
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

/**
 * A copy of a cookie value (or a part of one) in a string of its own. V8
 * keeps a `slice()` of a long string as a view into that string, so a view
 * of a request's Cookie header keeps the whole header alive for as long as
 * a cache holds it (up to Node's 16 KB header limit per entry), and every
 * `===` on it, and every Map lookup by it, is compared in V8's runtime
 * rather than in its inline code. Cached keys and ids are copied once,
 * when they are put in. The copy goes through Latin-1, the characters a
 * header can carry (Node reads header bytes as Latin-1); a string with
 * any other character (one given to `app.sessions.decode`, not read from
 * a header) is returned as it is.
 */
export function ownCopy (value: string): string {
  const copy = Buffer.from(value, 'latin1').toString('latin1')
  return copy === value ? copy : value
}

/** A bounded cache keyed by the exact text of a cookie value. */
export class RecentValues<V> {
  readonly #keys: Array<string | undefined>
  readonly #values: Array<V | undefined>
  /** When each slot was last written, as a count of writes. */
  readonly #written: Float64Array
  readonly #mask: number
  #writes = 0

  /** `bits`: the table holds 2^bits slots, at most 2^18. */
  constructor (bits: number) {
    const size = 2 ** bits
    this.#keys = new Array<string | undefined>(size).fill(undefined)
    this.#values = new Array<V | undefined>(size).fill(undefined)
    this.#written = new Float64Array(size)
    this.#mask = size - 1
  }

  /**
   * A candidate slot: 18 bits from three characters, counted back from
   * `from` (a tag's last character may carry only 4 bits, so it is not used).
   */
  #slot (value: string, from: number): number {
    const n = value.length - from
    return (digit(value, n - 1) | digit(value, n - 2) << 6 | digit(value, n - 3) << 12) & this.#mask
  }

  /** The entry put in with exactly this text, unless newer values have taken both its slots since. */
  get (value: string): V | undefined {
    const first = this.#slot(value, 1)
    if (this.#keys[first] === value) return this.#values[first]
    const second = this.#slot(value, 4)
    return this.#keys[second] === value ? this.#values[second] : undefined
  }

  /** Puts an entry in, in place of whatever held the less recently written of its two slots. */
  set (value: string, entry: V): void {
    const first = this.#slot(value, 1)
    const second = this.#slot(value, 4)
    const slot = (this.#written[second] as number) < (this.#written[first] as number) ? second : first
    this.#keys[slot] = value
    this.#values[slot] = entry
    this.#written[slot] = ++this.#writes
  }
}
