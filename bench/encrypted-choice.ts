/**
 * Which cipher backends, nonce source and MAC the cookie codecs use: a
 * micro-benchmark of the candidates at our cookie sizes (a ~100-byte and a
 * ~1 KB session body), with tinybench. The figures are copied into the
 * comments at the top of `lib/codecs/encrypted.ts` and `lib/codecs/mac.ts`.
 *
 *   node --import tsx bench/encrypted-choice.ts
 *
 * Rows:
 * - XChaCha20-Poly1305 alone, each way, on each backend of
 *   `lib/codecs/cipher.ts` (noble, and sodium-native when it loads), into
 *   preallocated Buffers as the codec calls them; AES-256-GCM and
 *   ChaCha20-Poly1305 from node:crypto for scale;
 * - nonce sources;
 * - HMAC-SHA256 of a signed cookie's text, computed as `lib/codecs/mac.ts`
 *   does and with `createHmac`;
 * - `@fastify/secure-session`'s seal and open (JSON, secretbox, base64), the
 *   peer that issue 4 measures against (it needs sodium-native);
 * - the encrypted codec on each backend and the signed codec, as written
 *   (seal and open only, without the tagged-JSON step that `bench/codec.ts`
 *   includes), and the encrypted codec opening a value from an old key.
 *
 * The rows that need the optional sodium-native accelerator are left out,
 * saying so, when it does not load.
 */
import {
  createCipheriv, createDecipheriv, createHmac, randomBytes, randomFillSync,
  type CipherChaCha20Poly1305, type CipherGCM, type DecipherChaCha20Poly1305, type DecipherGCM
} from 'node:crypto'
import { createRequire } from 'node:module'
import { Bench } from 'tinybench'
import { aeadFrom, noble, type Aead } from '../lib/codecs/cipher.js'
import { encryptedCodec } from '../lib/codecs/encrypted.js'
import { hmacSha256 } from '../lib/codecs/mac.js'
import { signedCodec } from '../lib/codecs/signed.js'

type NodeAead = 'aes-256-gcm' | 'chacha20-poly1305'

/** The parts of sodium-native that secure-session's rows call. */
interface Sodium {
  randombytes_buf (buffer: Buffer): void
  crypto_secretbox_easy (c: Buffer, m: Buffer, n: Buffer, k: Buffer): void
  crypto_secretbox_open_easy (m: Buffer, c: Buffer, n: Buffer, k: Buffer): boolean
}

const require = createRequire(import.meta.url)
let sodium: Sodium | undefined
try {
  sodium = require('sodium-native') as Sodium
} catch {
  console.log('sodium-native (the optional accelerator) is not installed or does not load here: its rows and secure-session\'s are left out\n')
}
const backends: Aead[] = sodium === undefined ? [noble] : [noble, aeadFrom(() => sodium)]

const key = randomBytes(32)
const zeroNonce = Buffer.alloc(12)
const aad = Buffer.from('e2p')
const sizes = { '128 B': 128, '1 KB': 1024 } // padded plaintext sizes (32-byte buckets)

function cipherOf (aead: NodeAead, k: Buffer): CipherGCM | CipherChaCha20Poly1305 {
  return aead === 'aes-256-gcm' ? createCipheriv(aead, k, zeroNonce) : createCipheriv(aead, k, zeroNonce, { authTagLength: 16 })
}

function decipherOf (aead: NodeAead, k: Buffer): DecipherGCM | DecipherChaCha20Poly1305 {
  return aead === 'aes-256-gcm' ? createDecipheriv(aead, k, zeroNonce) : createDecipheriv(aead, k, zeroNonce, { authTagLength: 16 })
}

function seal (aead: NodeAead, plaintext: Buffer, k: Buffer = key): Buffer {
  const cipher = cipherOf(aead, k)
  cipher.setAAD(aad, { plaintextLength: plaintext.length })
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
}

function open (aead: NodeAead, sealed: Buffer, k: Buffer = key): Buffer {
  const decipher = decipherOf(aead, k)
  decipher.setAAD(aad, { plaintextLength: sealed.length - 16 })
  decipher.setAuthTag(sealed.subarray(sealed.length - 16))
  return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()])
}

const bench = new Bench({ name: 'cookie codecs: candidates', time: 500, warmupTime: 100 })

for (const [label, size] of Object.entries(sizes)) {
  const plaintext = randomBytes(size)
  for (const aead of ['aes-256-gcm', 'chacha20-poly1305'] as const) {
    const sealed = seal(aead, plaintext)
    bench.add(`${aead} (node:crypto) seal ${label}`, () => { seal(aead, plaintext) })
    bench.add(`${aead} (node:crypto) open ${label}`, () => { open(aead, sealed) })
  }

  const xnonce = randomBytes(24)
  for (const backend of backends) {
    const xsealed = Buffer.alloc(size + 16)
    const xout = Buffer.alloc(size + 16)
    const xplain = Buffer.alloc(size)
    backend.seal(xsealed, plaintext, aad, xnonce, key)
    bench.add(`xchacha20-poly1305 (${backend.name}) seal ${label}`, () => { backend.seal(xout, plaintext, aad, xnonce, key) })
    bench.add(`xchacha20-poly1305 (${backend.name}) open ${label}`, () => { backend.open(xplain, xsealed, aad, xnonce, key) })
  }

  if (sodium !== undefined) {
    const s = sodium
    // @fastify/secure-session 8: JSON, secretbox, "CIPHERTEXT;NONCE" in base64.
    const message = JSON.stringify({ data: plaintext.toString('hex', 0, (size - 12) / 2) })
    const peerSeal = (): string => {
      const msg = Buffer.from(message)
      const n = Buffer.allocUnsafe(24)
      s.randombytes_buf(n)
      const cipher = Buffer.allocUnsafe(msg.length + 16)
      s.crypto_secretbox_easy(cipher, msg, n, key)
      return cipher.toString('base64') + ';' + n.toString('base64')
    }
    const peerCookie = peerSeal()
    bench.add(`secure-session seal ${label} (JSON, secretbox, base64)`, peerSeal)
    bench.add(`secure-session open ${label}`, () => {
      const [c, n] = peerCookie.split(';') as [string, string]
      const cipher = Buffer.from(c, 'base64')
      const msg = Buffer.allocUnsafe(cipher.length - 16)
      s.crypto_secretbox_open_easy(msg, cipher, Buffer.from(n, 'base64'), key)
      JSON.parse(msg.toString())
    })
  }
}

const out = Buffer.allocUnsafe(64)
const pool = Buffer.allocUnsafe(24 * 256)
let at = pool.length
bench
  .add('nonce: crypto.randomBytes(24)', () => { randomBytes(24) })
  .add('nonce: copied from a 6 KB randomFillSync pool', () => {
    if (at === pool.length) {
      randomFillSync(pool)
      at = 0
    }
    pool.copy(out, 0, at, (at += 24))
  })

// HMAC-SHA256 of a signed cookie's text (41 bytes), as the signed format and store-mode ids compute it.
const text = '2p.eyJ1c2VybmFtZSI6ImFkYSJ9.sdf3x2.sdf3x2'
const mac = hmacSha256(key)
const tag = mac.sign(text)
bench
  .add('HMAC-SHA256 sign: two crypto.hash, string outputs (mac.ts)', () => { mac.sign(text) })
  .add('HMAC-SHA256 verify: the same, timingSafeEqual (mac.ts)', () => { mac.verify(text, tag) })
  .add('HMAC-SHA256 sign: createHmac(key).update(text).digest(\'base64url\')', () => { createHmac('sha256', key).update(text).digest('base64url') })

// The whole codecs as written.
const codecs = {
  ...Object.fromEntries(backends.map((backend) => [`encrypted (${backend.name})`, encryptedCodec([key], backend)])),
  signed: signedCodec([key])
}
for (const [name, codec] of Object.entries(codecs)) {
  for (const [label, length] of Object.entries({ '100 B': 100, '1 KB': 1000 })) {
    const body = JSON.stringify({ username: 'ada', data: 'x'.repeat(length - 30) })
    const value = codec.seal(body, true, 1_700_000_000, 1_700_000_000)
    bench.add(`${name} codec seal ${label} body`, () => { codec.seal(body, true, 1_700_000_000, 1_700_000_000) })
    bench.add(`${name} codec open ${label} body`, () => { codec.open(value) })
  }
}
// Rotation: a value sealed under the old key, opened by a codec whose first key is new.
for (const backend of backends) {
  const rotated = encryptedCodec([randomBytes(32), key], backend)
  const old = encryptedCodec([key], backend).seal(JSON.stringify({ username: 'ada', data: 'x'.repeat(70) }), true, 1, 1)
  bench.add(`encrypted (${backend.name}) codec open 100 B body, old key (one failed decryption first)`, () => { rotated.open(old) })
}

await bench.run()
console.log(bench.name, `(node ${process.version}, ${process.arch}; median latency is the figure quoted)`)
console.table(bench.table())
