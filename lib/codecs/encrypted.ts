/**
 * The encrypted cookie: its holder can neither read nor change it.
 *
 *   value = HEAD "." BLOB
 *   HEAD  = "e2" ["p"] ["m"] ["v" VERSION] [CHUNKS]
 *                                       format e, version 2; p: permanent; m: CREATED is in
 *                                       milliseconds; VERSION: base36 of the `version` option that
 *                                       wrote it, left out for 0; CHUNKS: how a value longer than
 *                                       one cookie is split (`chunk-field.ts`)
 *                                       (cleartext, authenticated as AAD)
 *   BLOB  = b64url(NONCE || CT || TAG)  canonical base64url without padding
 *   NONCE = 24 random bytes             a fresh one for every value
 *   CT, TAG = XChaCha20-Poly1305(K, NONCE, aad = HEAD, PT)   libsodium's _ietf construction
 *   PT    = CREATED || ISSUED || body || 0x80 || 0x00...     padded to a multiple of 32 bytes
 *   CREATED, ISSUED = 5-byte big-endian Unix seconds (creation of the session, sealing of this value);
 *                     with m, CREATED is 6-byte big-endian Unix ms, not a whole second (written when
 *                     the creation time has a fraction of a second: the `revocation` option)
 *   K     = HKDF-SHA256(secret, info = "fastify-typed-session encrypted v2"), one per secret
 *
 * The cipher: XChaCha20-Poly1305 from one of two backends (`cipher.ts`),
 * which write the same bytes: libsodium through the optional `sodium-native`
 * addon when it loads, else `@noble/ciphers` in pure JavaScript. Measured
 * with `bench/encrypted-choice.ts` (tinybench, median µs per operation, the
 * lower of two runs; Node 20.20 on two shared x64 cores; the cipher alone
 * on a padded plaintext of 128 B and 1 KB, the codec on a body of ~100 B
 * and ~1 KB):
 *
 *                                          128 B / ~100 B      1 KB / ~1 KB
 *                                          seal / open         seal / open
 *   XChaCha20-Poly1305, sodium-native        0.8 / 0.9           1.2 / 1.2
 *   XChaCha20-Poly1305, noble                7.9 / 8.9          14.3 / 14.6
 *   AES-256-GCM, node:crypto (for scale)     3.0 / 3.1           3.7 / 3.6
 *   this codec on sodium-native              1.4 / 1.5           1.9 / 2.4
 *   this codec on noble                      9.7 / 10.4         16.0 / 16.3
 *   @fastify/secure-session (secretbox)      2.0 / 2.1           3.5 / 3.7
 *   a value from an old key (one failed decryption first): open 7.5 on
 *   sodium-native (it throws), 25.0 on noble
 *
 * node:crypto has no XChaCha20, and its AEADs pay mostly per call (a cipher
 * object each time). Both backends encrypt straight into a Buffer they are
 * given, so this codec allocates no Buffer memory per value, only a few
 * views and strings. A value from an old key costs one failed decryption
 * per newer key first: that happens only once per client after a rotation.
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
 * filled by `crypto.randomFillSync`; each is used once, and the pool refills
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
import { randomFillSync } from 'node:crypto'
import { parseContent, stringifyContent } from '../serialize.js'
import { base64urlLength, Scratch, writeUtf8 } from './bytes.js'
import { CHUNK_FIELD, checkLayout, chunkField } from './chunk-field.js'
import { defaultAead, type Aead, type AeadName } from './cipher.js'
import { deriveKeys } from './mac.js'
import { versionSuffix } from './signed.js'
import { MAX_VALUE_LENGTH, type CookieCodec, type Envelope } from './types.js'

const INFO = 'fastify-typed-session encrypted v2'
const NONCE = 24
const TAG = 16
const TIMES = 10
/** With m: CREATED in 6 bytes (Unix ms). */
const TIMES_MS = 11
const BUCKET = 32
const HEAD = new RegExp(`^e2(p?)(m?)(?:v([1-9a-z][0-9a-z]{0,5}))?${CHUNK_FIELD}$`)
/** The most bytes a value of MAX_VALUE_LENGTH base64url characters decodes to. */
const MAX_BLOB = MAX_VALUE_LENGTH / 4 * 3

/** The most bytes a sealed body of `bytes` UTF-8 bytes takes: nonce, times, body, padding (1 to 32 bytes) and tag. */
function room (bytes: number): number {
  return NONCE + TIMES_MS + bytes + BUCKET + TAG
}

/** The encrypted codec, which also says which backend it encrypts with. */
export interface EncryptedCodec extends CookieCodec {
  /** The XChaCha20-Poly1305 implementation in use. */
  readonly backend: AeadName
}

/**
 * Builds the encrypted codec for the given secrets (the first one encrypts),
 * sealing values of data version `version` (the `version` option), and
 * opening values split over up to `maxChunks` cookies (the `maxChunks` option).
 *
 * @param aead - The XChaCha20-Poly1305 backend: by default `sodium-native`
 *   when it loads, else noble. Internal: tests pass one, to run the codec
 *   on each backend; the plugin passes `undefined`.
 */
export function encryptedCodec (secrets: readonly Buffer[], aead: Aead = defaultAead(), version = 0, maxChunks = 1): EncryptedCodec {
  const keys = deriveKeys(secrets, INFO)
  const sealKey = keys[0] as Buffer
  // The heads this codec seals with, as text and as the AAD's bytes.
  const suffix = versionSuffix(version)
  const heads = { plain: `e2${suffix}`, permanent: `e2p${suffix}`, plainMs: `e2m${suffix}`, permanentMs: `e2pm${suffix}` }
  const aads = {
    plain: Buffer.from(heads.plain),
    permanent: Buffer.from(heads.permanent),
    plainMs: Buffer.from(heads.plainMs),
    permanentMs: Buffer.from(heads.permanentMs)
  }
  // Scratch space, reused because seal and open run synchronously to the
  // end: `blob` holds NONCE || CT || TAG (built by seal, decoded by open),
  // `plain` the plaintext that open decrypts into. Decryption is not done
  // in place, because libsodium zeroes its output when the tag does not
  // match, and the next key of a rotation needs the ciphertext intact.
  // Their views are made once per length: a view is an object, and most
  // sessions use a few sizes.
  const maxLength = maxChunks * MAX_VALUE_LENGTH
  const blob = Buffer.alloc(maxChunks * MAX_BLOB)
  const nonce = blob.subarray(0, NONCE)
  const afterNonce = new Scratch(blob.subarray(NONCE))
  const plain = new Scratch(maxChunks * MAX_BLOB)
  // Nonces are copied out of a pool: one CSPRNG call per 256 cookies instead
  // of one each (0.1 µs against 2.0 for crypto.randomBytes(24)). The pool is
  // refilled once used up.
  const pool = Buffer.allocUnsafe(NONCE * 256)
  let poolAt = pool.length

  return {
    backend: aead.name,
    stringify: stringifyContent,
    parse: parseContent,

    seal (body, permanent, created, issued, plan) {
      // A creation time with a fraction of a second is kept to the millisecond.
      const whole = Number.isInteger(created)
      const times = whole ? TIMES : TIMES_MS
      let out = blob
      let length: number
      if (room(body.length * 3) <= blob.length) {
        // The body fits however long its UTF-8 is: written at once, without measuring it first.
        length = writeUtf8(body, blob, NONCE + times)
      } else {
        length = Buffer.byteLength(body)
        // A session too large for the scratch space gets a buffer of its own
        // (and a value that `open` refuses as too long, as any cookie that large).
        if (room(length) > blob.length) out = Buffer.allocUnsafe(room(length))
        out.write(body, NONCE + times, 'utf8')
      }
      // At least one byte of padding (the 0x80 marker), up to the next bucket.
      const padded = Math.ceil((times + length + 1) / BUCKET) * BUCKET
      const size = NONCE + padded + TAG
      out[NONCE + times + length] = 0x80
      for (let j = NONCE + times + length + 1; j < NONCE + padded; j++) out[j] = 0
      if (poolAt === pool.length) {
        randomFillSync(pool)
        poolAt = 0
      }
      for (let i = 0; i < NONCE; i++) out[i] = pool[poolAt + i] as number
      poolAt += NONCE
      if (whole) out.writeUIntBE(created, NONCE, 5)
      else out.writeUIntBE(Math.round(created * 1000), NONCE, 6)
      out.writeUIntBE(issued, NONCE + times - 5, 5)
      let head = whole ? (permanent ? heads.permanent : heads.plain) : (permanent ? heads.permanentMs : heads.plainMs)
      let aad = whole ? (permanent ? aads.permanent : aads.plain) : (permanent ? aads.permanentMs : aads.plainMs)
      if (plan !== undefined) {
        // The value's length is known before encrypting: the chunk field can be part of the AAD.
        const field = chunkField(head.length + 1 + base64urlLength(size), plan)
        if (field !== '') {
          head += field
          aad = Buffer.from(head)
        }
      }
      // Encrypted in place: both backends allow the ciphertext to start where the plaintext does.
      const own = out === blob
      aead.seal(
        own ? afterNonce.view(padded + TAG) : out.subarray(NONCE, size),
        own ? afterNonce.view(padded) : out.subarray(NONCE, NONCE + padded),
        aad, own ? nonce : out.subarray(0, NONCE), sealKey)
      return `${head}.${out.toString('base64url', 0, size)}`
    },

    open (value): Envelope | string {
      if (value.length > maxLength) return 'the value is too long'
      const dot = value.indexOf('.')
      const headText = value.slice(0, dot < 0 ? 0 : dot)
      const headMatch = HEAD.exec(headText)
      if (headMatch === null) return 'the value is malformed'
      const layout = checkLayout(headMatch[4], headMatch[5], value.length, maxChunks)
      if (layout !== undefined) return layout
      const permanent = headMatch[1] === 'p'
      const text = value.slice(dot + 1)
      const size = blob.write(text, 'base64url')
      if (size < NONCE + BUCKET + TAG || (size - NONCE - TAG) % BUCKET !== 0) return 'the value is malformed'
      // Re-encoding refuses any other text for the same bytes: padding,
      // characters outside base64url, changed unused trailing bits.
      if (blob.toString('base64url', 0, size) !== text) return 'the value is not canonical base64url'
      const head = headText === heads.plain ? aads.plain : headText === heads.permanent ? aads.permanent : Buffer.from(headText)
      const sealed = afterNonce.view(size - NONCE)
      const plaintext = plain.view(size - NONCE - TAG)
      let keyIndex = 0
      while (keyIndex < keys.length && !aead.open(plaintext, sealed, head, nonce, keys[keyIndex] as Buffer)) keyIndex++
      if (keyIndex === keys.length) return 'the value does not decrypt with any key'
      const ms = headMatch[2] === 'm'
      const times = ms ? TIMES_MS : TIMES
      let end = plaintext.length - 1
      while (end > times && plaintext[end] === 0) end--
      // Only our own seal can get here, but the padding is held to one form too.
      if (plaintext[end] !== 0x80 || plaintext.length - end > BUCKET) return 'the padding is malformed'
      let created = plaintext.readUIntBE(0, ms ? 6 : 5)
      if (ms) {
        // A whole second is written in seconds: one text for each value.
        if (created % 1000 === 0) return 'the creation time is malformed'
        created /= 1000
      }
      return {
        body: plaintext.toString('utf8', times, end),
        permanent,
        created,
        issued: plaintext.readUIntBE(times - 5, 5),
        keyIndex,
        version: headMatch[3] === undefined ? 0 : parseInt(headMatch[3], 36)
      }
    },

    claimsPermanent (value) {
      return value.startsWith('e2p')
    }
  }
}
