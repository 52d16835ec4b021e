/**
 * Which AEAD, which nonce source and which construction the encrypted codec
 * uses: a micro-benchmark of the candidates at our cookie sizes (a ~100-byte
 * and a ~1 KB session body), with tinybench. The figures are copied into the
 * comment at the top of `lib/codecs/encrypted.ts`.
 *
 *   node --import tsx bench/encrypted-choice.ts
 *
 * Rows:
 * - the AEADs alone, each way: AES-256-GCM and ChaCha20-Poly1305 from
 *   node:crypto, XChaCha20-Poly1305 from sodium-native (into preallocated
 *   Buffers, as the codec calls it);
 * - nonce and salt sources, and the per-cookie key derivations that
 *   version 1 of the format used (an HMAC or HKDF of a random salt);
 * - version 1's whole construction (HMAC-derived key, AES-256-GCM with a
 *   zero nonce), rebuilt here since the codec no longer contains it;
 * - `@fastify/secure-session`'s seal and open (JSON, secretbox, base64), the
 *   peer that issue 4 measures against;
 * - the encrypted and signed codecs as written (seal and open only, without
 *   the tagged-JSON step that `bench/codec.ts` includes).
 */
import {
  createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, randomFillSync,
  type CipherChaCha20Poly1305, type CipherGCM, type DecipherChaCha20Poly1305, type DecipherGCM
} from 'node:crypto'
import sodium from 'sodium-native'
import { Bench } from 'tinybench'
import { encryptedCodec } from '../lib/codecs/encrypted.js'
import { signedCodec } from '../lib/codecs/signed.js'

type Aead = 'aes-256-gcm' | 'chacha20-poly1305'

const key = randomBytes(32)
const zeroNonce = Buffer.alloc(12)
const aad = Buffer.from('e2p')
const sizes = { '128 B': 128, '1 KB': 1024 } // padded plaintext sizes (32-byte buckets)

function cipherOf (aead: Aead, k: Buffer): CipherGCM | CipherChaCha20Poly1305 {
  return aead === 'aes-256-gcm' ? createCipheriv(aead, k, zeroNonce) : createCipheriv(aead, k, zeroNonce, { authTagLength: 16 })
}

function decipherOf (aead: Aead, k: Buffer): DecipherGCM | DecipherChaCha20Poly1305 {
  return aead === 'aes-256-gcm' ? createDecipheriv(aead, k, zeroNonce) : createDecipheriv(aead, k, zeroNonce, { authTagLength: 16 })
}

function seal (aead: Aead, plaintext: Buffer, k: Buffer = key): Buffer {
  const cipher = cipherOf(aead, k)
  cipher.setAAD(aad, { plaintextLength: plaintext.length })
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
}

function open (aead: Aead, sealed: Buffer, k: Buffer = key): Buffer {
  const decipher = decipherOf(aead, k)
  decipher.setAAD(aad, { plaintextLength: sealed.length - 16 })
  decipher.setAuthTag(sealed.subarray(sealed.length - 16))
  return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()])
}

/** Version 1's per-cookie key: HMAC-SHA256(K, SALT). */
const v1Key = (salt: Buffer): Buffer => createHmac('sha256', key).update(salt).digest()

const bench = new Bench({ name: 'encrypted codec: candidates', time: 500, warmupTime: 100 })

for (const [label, size] of Object.entries(sizes)) {
  const plaintext = randomBytes(size)
  for (const aead of ['aes-256-gcm', 'chacha20-poly1305'] as const) {
    const sealed = seal(aead, plaintext)
    bench.add(`${aead} (node:crypto) seal ${label}`, () => { seal(aead, plaintext) })
    bench.add(`${aead} (node:crypto) open ${label}`, () => { open(aead, sealed) })
  }

  const xnonce = randomBytes(24)
  const xsealed = Buffer.alloc(size + 16)
  const xout = Buffer.alloc(size + 16)
  const xplain = Buffer.alloc(size)
  sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(xsealed, plaintext, aad, null, xnonce, key)
  bench.add(`xchacha20-poly1305 (sodium-native) seal ${label}`, () => {
    sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(xout, plaintext, aad, null, xnonce, key)
  })
  bench.add(`xchacha20-poly1305 (sodium-native) open ${label}`, () => {
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(xplain, null, xsealed, aad, xnonce, key)
  })

  const salt = randomBytes(16)
  const v1Sealed = Buffer.concat([salt, seal('aes-256-gcm', plaintext, v1Key(salt))])
  bench.add(`version 1 construction seal ${label} (salt, HMAC key, AES-256-GCM)`, () => {
    const s = randomBytes(16)
    Buffer.concat([s, seal('aes-256-gcm', plaintext, v1Key(s))])
  })
  bench.add(`version 1 construction open ${label}`, () => {
    open('aes-256-gcm', v1Sealed.subarray(16), v1Key(v1Sealed.subarray(0, 16)))
  })

  // @fastify/secure-session 8: JSON, secretbox, "CIPHERTEXT;NONCE" in base64.
  const message = JSON.stringify({ data: plaintext.toString('hex', 0, (size - 12) / 2) })
  const peerSeal = (): string => {
    const msg = Buffer.from(message)
    const n = Buffer.allocUnsafe(24)
    sodium.randombytes_buf(n)
    const cipher = Buffer.allocUnsafe(msg.length + 16)
    sodium.crypto_secretbox_easy(cipher, msg, n, key)
    return cipher.toString('base64') + ';' + n.toString('base64')
  }
  const peerCookie = peerSeal()
  bench.add(`secure-session seal ${label} (JSON, secretbox, base64)`, peerSeal)
  bench.add(`secure-session open ${label}`, () => {
    const [c, n] = peerCookie.split(';') as [string, string]
    const cipher = Buffer.from(c, 'base64')
    const msg = Buffer.allocUnsafe(cipher.length - 16)
    sodium.crypto_secretbox_open_easy(msg, cipher, Buffer.from(n, 'base64'), key)
    JSON.parse(msg.toString())
  })
}

const salt = randomBytes(16)
const out = Buffer.allocUnsafe(64)
const pool = Buffer.allocUnsafe(24 * 256)
let at = pool.length
bench
  .add('nonce: sodium.randombytes_buf(24 bytes)', () => { sodium.randombytes_buf(out.subarray(0, 24)) })
  .add('nonce: copied from a 6 KB randombytes_buf pool', () => {
    if (at === pool.length) {
      sodium.randombytes_buf(pool)
      at = 0
    }
    pool.copy(out, 0, at, (at += 24))
  })
  .add('nonce: crypto.randomBytes(24)', () => { randomBytes(24) })
  .add('nonce: copied from a 6 KB randomFillSync pool', () => {
    if (at === pool.length) {
      randomFillSync(pool)
      at = 0
    }
    pool.copy(out, 0, at, (at += 24))
  })
  .add('version 1 per-cookie key: HMAC-SHA256(K, salt)', () => { v1Key(salt) })
  .add('version 1 per-cookie key: hkdfSync(sha256, K, salt)', () => { hkdfSync('sha256', key, salt, 'x', 32) })

// The whole codec as written, beside the signed codec (one HMAC) for reference.
for (const [name, codec] of Object.entries({ encrypted: encryptedCodec([key]), signed: signedCodec([key]) })) {
  for (const [label, length] of Object.entries({ '100 B': 100, '1 KB': 1000 })) {
    const body = JSON.stringify({ username: 'ada', data: 'x'.repeat(length - 30) })
    const value = codec.seal(body, true, 1_700_000_000, 1_700_000_000)
    bench.add(`${name} codec seal ${label} body`, () => { codec.seal(body, true, 1_700_000_000, 1_700_000_000) })
    bench.add(`${name} codec open ${label} body`, () => { codec.open(value) })
  }
}
// Rotation: a value sealed under the old key, opened by a codec whose first key is new.
const rotated = encryptedCodec([randomBytes(32), key])
const old = encryptedCodec([key]).seal(JSON.stringify({ username: 'ada', data: 'x'.repeat(70) }), true, 1, 1)
bench.add('encrypted codec open 100 B body, old key (one failed decryption first)', () => { rotated.open(old) })

await bench.run()
console.log(bench.name, `(node ${process.version}, ${process.arch}; median latency is the figure quoted)`)
console.table(bench.table())
