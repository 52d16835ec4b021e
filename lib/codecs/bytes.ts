/**
 * Byte-level helpers for building cookie values in reused scratch buffers,
 * in JS rather than through a Buffer's `write` and `toString`: inside a
 * loaded server each call into C++ cost about 0.4 µs, more than the JS
 * loops below take for a cookie-sized string (see BENCHMARKS.md).
 */

/** Strings up to this length are copied to bytes in JS when they are ASCII: cheaper than a call into C++. */
const JS_COPY_MAX = 256

/**
 * A scratch buffer, grown when a use needs more, with exact-length views
 * of its start kept for reuse (`crypto.hash` and the ciphers take a message
 * as a whole buffer). Its users run synchronously to the end, so no call
 * sees another's bytes.
 */
export class Scratch {
  buffer: Buffer
  #views: Array<Buffer | undefined> = []

  /** `from`: a byte count, for a new zeroed buffer of that size; or a Buffer (a region of a larger one) to hand out views of. */
  constructor (from: number | Buffer) {
    this.buffer = typeof from === 'number' ? Buffer.alloc(from) : from
  }

  /**
   * Makes room for `size` bytes. Call it before writing: it may replace
   * `buffer`, keeping only its first `keep` bytes.
   */
  reserve (size: number, keep = 0): Buffer {
    if (size > this.buffer.length) {
      const next = Buffer.alloc(size * 2)
      next.set(this.buffer.subarray(0, keep))
      this.buffer = next
      this.#views = []
    }
    return this.buffer
  }

  /** The first `length` bytes, as a view that is made once per length. */
  view (length: number): Buffer {
    let view = this.#views[length]
    if (view === undefined) {
      view = this.buffer.subarray(0, length)
      this.#views[length] = view
    }
    return view
  }
}

/**
 * Writes `text` as UTF-8 into `out` at `at` and returns the number of
 * bytes. `out` must have room for 3 bytes per UTF-16 unit of `text`.
 */
export function writeUtf8 (text: string, out: Buffer, at: number): number {
  const n = text.length
  if (n <= JS_COPY_MAX) {
    let i = 0
    for (; i < n; i++) {
      const c = text.charCodeAt(i)
      if (c > 127) break
      out[at + i] = c
    }
    if (i === n) return n
  }
  return out.write(text, at)
}

/** The base64url alphabet, by digit value. */
const ALPHABET = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_', 'latin1')

/** Writes the base64url text (no padding) of `source[0, n)` into `out` at `at`; returns the end. */
export function writeBase64url (source: Uint8Array, n: number, out: Uint8Array, at: number): number {
  const A = ALPHABET
  let i = 0
  for (; i + 2 < n; i += 3) {
    const v = (source[i] as number) << 16 | (source[i + 1] as number) << 8 | (source[i + 2] as number)
    out[at++] = A[v >> 18] as number
    out[at++] = A[v >> 12 & 63] as number
    out[at++] = A[v >> 6 & 63] as number
    out[at++] = A[v & 63] as number
  }
  if (n - i === 1) {
    const v = source[i] as number
    out[at++] = A[v >> 2] as number
    out[at++] = A[(v & 3) << 4] as number
  } else if (n - i === 2) {
    const v = (source[i] as number) << 8 | (source[i + 1] as number)
    out[at++] = A[v >> 10] as number
    out[at++] = A[v >> 4 & 63] as number
    out[at++] = A[(v & 15) << 2] as number
  }
  return at
}

/** Writes an ASCII string into `out` at `at`; returns the end. */
export function writeAscii (text: string, out: Uint8Array, at: number): number {
  for (let i = 0; i < text.length; i++) out[at++] = text.charCodeAt(i)
  return at
}

/** The length of the base64url text (no padding) of `n` bytes. */
export function base64urlLength (n: number): number {
  return Math.ceil(n * 4 / 3)
}
