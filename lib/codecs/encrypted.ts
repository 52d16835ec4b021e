/**
 * The encrypted cookie: its holder can neither read nor change it.
 *
 *   value = HEAD "." BLOB
 *   HEAD  = "e2" ["p"]                  format e, version 2; p: permanent (cleartext, authenticated as AAD)
 *   BLOB  = b64url(NONCE || CT || TAG)  canonical base64url without padding
 *   NONCE = 24 random bytes             a fresh one for every value
 *   CT, TAG = XChaCha20-Poly1305(K, NONCE, aad = HEAD, PT)   libsodium's _ietf construction
 *   PT    = CREATED || ISSUED || body || 0x80 || 0x00...     padded to a multiple of 32 bytes
 *   CREATED, ISSUED = 5-byte big-endian Unix seconds (creation of the session, sealing of this value)
 *   K     = HKDF-SHA256(secret, info = "fastify-typed-session encrypted v2"), one per secret
 *
 * The cipher: XChaCha20-Poly1305 from sodium-native. `bench/encrypted-choice.ts`
 * measured (tinybench, median µs per operation, the lower of two runs;
 * Node 20.20 on 2 x64 cores shared with other work, load average 5 to 6;
 * padded plaintexts of 128 B and 1 KB):
 *
 *                                          128 B seal / open   1 KB seal / open
 *   AES-256-GCM, node:crypto                   3.6 / 3.5          4.3 / 4.1
 *   ChaCha20-Poly1305, node:crypto             5.3 / 4.9          6.2 / 6.0
 *   XChaCha20-Poly1305, sodium-native          1.0 / 1.0          1.6 / 1.6
 *   version 1: salt, HMAC key, AES-256-GCM     8.3 / 6.5         14.5 / 7.1
 *   @fastify/secure-session (JSON, secretbox)  2.0 / 2.5          4.1 / 4.4
 *   nonce: randombytes_buf(24) 0.54, copied from a pool 0.14, crypto.randomBytes(24) 2.0
 *   version 1's per-cookie key: one HMAC-SHA256 2.2, hkdfSync 10.6
 *   this codec, ~100 B body: seal 1.7, open 1.8; ~1 KB body: seal 2.7, open 2.9
 *   this codec, a value from an old key (one failed decryption first): open 8.7
 *   the signed codec, ~100 B body: seal 2.6, open 3.4; ~1 KB body: seal 15.2, open 6.5
 *
 * An earlier run, on version 1 of this codec, gave AES-256-GCM 5.5 / 5.4,
 * sodium-native 1.8 / 1.2 and the whole version 1 codec 7.2 / 6.8 (~100 B).
 * node:crypto pays mostly per call (it builds a cipher object each time);
 * libsodium encrypts straight into a Buffer it is given, so this codec
 * allocates no Buffer memory per value, only a few views and strings. A
 * failed decryption costs more because sodium-native throws: that happens
 * only for a tampered value or once per client after a key rotation.
 *
 * Nonces. A random 192-bit nonce under one key repeats with probability
 * about n²/2^193 after n values: 2^-129 after 2^32 (4.3 billion) cookies,
 * 2^-97 after 2^48 (281 trillion). A repeat would expose the XOR of two
 * plaintexts and allow forgeries under that nonce, so it has to be out of
 * reach, and it is: no per-cookie key is needed. (Version 1 derived one
 * from a 128-bit salt because GCM's 96-bit nonce is not enough: 2^-33
 * after 2^32 values, NIST SP 800-38D's cap.) XChaCha20 itself turns the
 * first 128 bits of the nonce into a fresh subkey with HChaCha20, so each
 * value is still encrypted under its own key. Nonces are drawn from a pool
 * filled by libsodium's CSPRNG; each is used once, and the pool refills
 * before any byte is reused. K is derived with an info string of its own,
 * so it is never the signed format's or the session ids' key.
 *
 * Size. The plaintext is padded to a 32-byte bucket (ISO/IEC 7816-4: 0x80,
 * then zeros), so the length tells only the size within 32 bytes. The body
 * is never compressed: compressing before encrypting makes the length depend
 * on the content, so an attacker who can put text into a session (a search
 * term, a username) beside a secret (a CSRF token) could learn the secret
 * from the cookie's length, as in CRIME. Padding alone does not stop that.
 * A session too large uncompressed must use the signed format or a store.
 * The overhead is 40 bytes (nonce and tag) and the head: a session of up to
 * 21 bytes of body gives a value of 99 or 100 characters.
 *
 * Times. The creation and issue times are inside the plaintext, so they are
 * authenticated and also hidden (the cookie does not tell when its user
 * logged in). The policy in `interface.ts` checks them after `open`.
 */
import sodium from 'sodium-native'
import { parseContent, stringifyContent } from '../serialize.js'
import { Scratch, writeUtf8 } from './bytes.js'
import { deriveKeys } from './mac.js'
import { MAX_VALUE_LENGTH, type CookieCodec, type Envelope } from './types.js'

const INFO = 'fastify-typed-session encrypted v2'
const NONCE = 24
const TAG = 16
const TIMES = 10
const BUCKET = 32
const HEAD = Buffer.from('e2')
const HEAD_PERMANENT = Buffer.from('e2p')
/** No legitimate cookie is larger; a longer value is refused before any work. */
/** The most bytes a value of MAX_VALUE_LENGTH base64url characters decodes to. */
const MAX_BLOB = MAX_VALUE_LENGTH / 4 * 3

// Nonces are copied out of a pool: one CSPRNG call per 256 cookies instead
// of one each (0.1 µs against 0.5). The pool is refilled once used up.
const pool = Buffer.allocUnsafe(NONCE * 256)
let poolAt = pool.length

/** The most bytes a sealed body of `bytes` UTF-8 bytes takes: nonce, times, body, padding (1 to 32 bytes) and tag. */
function room (bytes: number): number {
  return NONCE + TIMES + bytes + BUCKET + TAG
}

/** Builds the encrypted codec for the given secrets (the first one encrypts). */
export function encryptedCodec (secrets: readonly Buffer[]): CookieCodec {
  const keys = deriveKeys(secrets, INFO)
  const sealKey = keys[0] as Buffer
  // Scratch space, reused because seal and open run synchronously to the
  // end: `blob` holds NONCE || CT || TAG (built by seal, decoded by open),
  // `plain` the plaintext that open decrypts into. Decryption is not done
  // in place, because libsodium zeroes its output when the tag does not
  // match, and the next key of a rotation needs the ciphertext intact.
  // Their views are made once per length: a view is an object, and most
  // sessions use a few sizes.
  const blob = Buffer.alloc(MAX_BLOB)
  const nonce = blob.subarray(0, NONCE)
  const afterNonce = new Scratch(blob.subarray(NONCE))
  const plain = new Scratch(MAX_BLOB)

  return {
    stringify: stringifyContent,
    parse: parseContent,

    seal (body, permanent, created, issued) {
      let out = blob
      let length: number
      if (room(body.length * 3) <= blob.length) {
        // The body fits however long its UTF-8 is: written at once, without measuring it first.
        length = writeUtf8(body, blob, NONCE + TIMES)
      } else {
        length = Buffer.byteLength(body)
        // A session too large for the scratch space gets a buffer of its own
        // (and a value that `open` refuses as too long, as any cookie that large).
        if (room(length) > blob.length) out = Buffer.allocUnsafe(room(length))
        out.write(body, NONCE + TIMES, 'utf8')
      }
      // At least one byte of padding (the 0x80 marker), up to the next bucket.
      const padded = Math.ceil((TIMES + length + 1) / BUCKET) * BUCKET
      const size = NONCE + padded + TAG
      out[NONCE + TIMES + length] = 0x80
      for (let j = NONCE + TIMES + length + 1; j < NONCE + padded; j++) out[j] = 0
      if (poolAt === pool.length) {
        sodium.randombytes_buf(pool)
        poolAt = 0
      }
      for (let i = 0; i < NONCE; i++) out[i] = pool[poolAt + i] as number
      poolAt += NONCE
      out.writeUIntBE(created, NONCE, 5)
      out.writeUIntBE(issued, NONCE + 5, 5)
      // Encrypted in place: libsodium allows the ciphertext to start where the plaintext does.
      const own = out === blob
      sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        own ? afterNonce.view(padded + TAG) : out.subarray(NONCE, size),
        own ? afterNonce.view(padded) : out.subarray(NONCE, NONCE + padded),
        permanent ? HEAD_PERMANENT : HEAD, null, own ? nonce : out.subarray(0, NONCE), sealKey)
      return `${permanent ? 'e2p' : 'e2'}.${out.toString('base64url', 0, size)}`
    },

    open (value): Envelope | string {
      if (value.length > MAX_VALUE_LENGTH) return 'the value is too long'
      const permanent = value.startsWith('e2p.')
      if (!permanent && !value.startsWith('e2.')) return 'the value is malformed'
      const text = value.slice(permanent ? 4 : 3)
      const size = blob.write(text, 'base64url')
      if (size < NONCE + BUCKET + TAG || (size - NONCE - TAG) % BUCKET !== 0) return 'the value is malformed'
      // Re-encoding refuses any other text for the same bytes: padding,
      // characters outside base64url, changed unused trailing bits.
      if (blob.toString('base64url', 0, size) !== text) return 'the value is not canonical base64url'
      const head = permanent ? HEAD_PERMANENT : HEAD
      const sealed = afterNonce.view(size - NONCE)
      const plaintext = plain.view(size - NONCE - TAG)
      let keyIndex = 0
      for (; keyIndex < keys.length; keyIndex++) {
        try {
          sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(plaintext, null, sealed, head, nonce, keys[keyIndex] as Buffer)
          break
        } catch {
          // sodium-native throws when the tag does not match: try the next key.
        }
      }
      if (keyIndex === keys.length) return 'the value does not decrypt with any key'
      let end = plaintext.length - 1
      while (end > TIMES && plaintext[end] === 0) end--
      // Only our own seal can get here, but the padding is held to one form too.
      if (plaintext[end] !== 0x80 || plaintext.length - end > BUCKET) return 'the padding is malformed'
      return {
        body: plaintext.toString('utf8', TIMES, end),
        permanent,
        created: plaintext.readUIntBE(0, 5),
        issued: plaintext.readUIntBE(5, 5),
        keyIndex
      }
    },

    claimsPermanent (value) {
      return value.startsWith('e2p.')
    }
  }
}
