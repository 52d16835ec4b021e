/**
 * XChaCha20-Poly1305 for the encrypted format, as libsodium's `_ietf`
 * construction defines it (draft-irtf-cfrg-xchacha: an HChaCha20 subkey
 * from the key and the nonce's first 16 bytes, then RFC 8439's
 * ChaCha20-Poly1305 with the nonce's last 8 bytes), behind one small
 * interface with two backends that write the same bytes:
 *
 * - `noble`: `@noble/ciphers`, audited pure JavaScript. A dependency, so it
 *   is always there, on every platform Node runs on.
 * - `sodium-native`: libsodium, through a native addon that is an optional
 *   dependency. It is tried once, when the first encrypted codec is built
 *   (never by the other formats), and used if it loads; if it does not
 *   (no build for the platform, musl, an old glibc, not installed), noble
 *   is used, and nothing is said: the cookies are the same either way.
 *
 * The accelerator is worth having where it builds: noble takes about ten
 * times libsodium's time (8 µs against 0.8 to seal 128 bytes; the table is
 * in `encrypted.ts`), which callgrind counts as about 73k more instructions
 * per encrypted `/write` (163k against 90k; a `/read` of a known cookie
 * decrypts nothing).
 */
import { createRequire } from 'node:module'
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'

/** The name of a backend. */
export type AeadName = 'noble' | 'sodium-native'

/** XChaCha20-Poly1305 with a 32-byte key, a 24-byte nonce and a 16-byte tag after the ciphertext. */
export interface Aead {
  /** Which implementation this is. */
  readonly name: AeadName
  /**
   * Encrypts `plaintext` into `out`, 16 bytes longer (the ciphertext, then
   * the tag). `out` may start where `plaintext` starts (in place).
   */
  seal (out: Buffer, plaintext: Buffer, aad: Buffer, nonce: Buffer, key: Buffer): void
  /**
   * Decrypts `sealed` (ciphertext, then tag) into `out`, 16 bytes shorter,
   * and says whether the tag matched. `sealed` is left as it was, so the
   * next key of a rotation can try it.
   */
  open (out: Buffer, sealed: Buffer, aad: Buffer, nonce: Buffer, key: Buffer): boolean
}

/** `@noble/ciphers`'s XChaCha20-Poly1305: pure JavaScript, always available. */
export const noble: Aead = {
  name: 'noble',
  seal (out, plaintext, aad, nonce, key) {
    xchacha20poly1305(key, nonce, aad).encrypt(plaintext, out)
  },
  open (out, sealed, aad, nonce, key) {
    try {
      // noble checks the tag before it writes any of `out`, and throws when it does not match.
      xchacha20poly1305(key, nonce, aad).decrypt(sealed, out)
      return true
    } catch {
      return false
    }
  }
}

/** The two functions of `sodium-native` that the backend calls. */
interface Sodium {
  crypto_aead_xchacha20poly1305_ietf_encrypt (c: Buffer, m: Buffer, ad: Buffer, nsec: null, npub: Buffer, k: Buffer): number
  crypto_aead_xchacha20poly1305_ietf_decrypt (m: Buffer, nsec: null, c: Buffer, ad: Buffer, npub: Buffer, k: Buffer): number
}

/* c8 ignore start: runs only with the optional sodium-native addon
   installed. With it (as in CI), test/encrypted.test.ts runs each line
   here against noble; without it, none of them can run. */
function sodiumAead (sodium: Sodium): Aead {
  return {
    name: 'sodium-native',
    seal (out, plaintext, aad, nonce, key) {
      sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(out, plaintext, aad, null, nonce, key)
    },
    open (out, sealed, aad, nonce, key) {
      try {
        sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(out, null, sealed, aad, nonce, key)
        return true
      } catch {
        // sodium-native throws when the tag does not match (and zeroes `out`).
        return false
      }
    }
  }
}
/* c8 ignore stop */

/**
 * The backend that `load` gives: libsodium's when it returns
 * `sodium-native`, noble's when it throws.
 *
 * @internal Exported for tests, which pass a loader that fails.
 */
export function aeadFrom (load: () => unknown): Aead {
  let sodium: Sodium
  try {
    sodium = load() as Sodium
  } catch {
    return noble
  }
  return sodiumAead(sodium)
}

let chosen: Aead | undefined

/**
 * The backend the encrypted codec uses: `sodium-native` if it loads,
 * else noble. The addon is looked for on the first call only, with a
 * synchronous `require` from this package, so that it is never loaded by
 * a process that does not use the encrypted format.
 *
 * @internal
 */
export function defaultAead (): Aead {
  chosen ??= aeadFrom(() => createRequire(import.meta.url)('sodium-native'))
  return chosen
}
