/**
 * The signed cookie: readable by its holder, but not changeable.
 *
 *   value   = HEAD "." PAYLOAD "." CREATED "." ISSUED "." SIG
 *   HEAD    = "2" ["p"] ["z"] ["m"] ["v" VERSION] [CHUNKS]
 *             format version 2; p: permanent; z: PAYLOAD is deflated;
 *             m: CREATED is in milliseconds (written when the creation time
 *             has a fraction of a second: the `revocation` option);
 *             VERSION: base36 of the `version` option that wrote it, left out for 0;
 *             CHUNKS: how a value longer than one cookie is split (`chunk-field.ts`)
 *   PAYLOAD = b64url(body)  |  b64url(deflateRaw(body))
 *   CREATED = base36(Unix seconds the session was created)  |  with m, base36(Unix ms), not a whole second
 *   ISSUED  = base36(Unix seconds this value was signed)
 *   SIG     = b64url(HMAC-SHA256(K, HEAD "." PAYLOAD "." CREATED "." ISSUED))
 *   K       = HKDF-SHA256(secret, info = "fastify-typed-session signed v2"), one per secret
 *
 * Every part is covered by SIG, so the permanent flag in HEAD can be read
 * before verifying (it only decides whether verifying is needed at all).
 * A value of any other version is refused as malformed. The MAC and its
 * cost: `mac.ts`.
 */
import { randomBytes } from 'node:crypto'
import { deflateRawSync, inflateRawSync } from 'node:zlib'
import { parseContent, stringifyContent } from '../serialize.js'
import { base64urlLength, Scratch, writeAscii, writeBase64url, writeUtf8 } from './bytes.js'
import { CHUNK_FIELD, checkLayout, chunkField } from './chunk-field.js'
import { deriveKeys, hmacSha256, MESSAGE_AT, type Mac } from './mac.js'
import { MAX_VALUE_LENGTH, type CookieCodec, type Envelope } from './types.js'

const INFO = 'fastify-typed-session signed v2'
const HEAD = new RegExp(`^2p?(z?)(m?)(?:v([1-9a-z][0-9a-z]{0,5}))?${CHUNK_FIELD}$`)
const SECONDS = /^[1-9a-z][0-9a-z]{0,8}$/
const SIG = /^[A-Za-z0-9_-]{43}$/
/** Bodies shorter than this are never worth deflating. */
const COMPRESS_FROM = 128
/** The most a deflated payload may inflate to. */
const MAX_BODY = 1 << 20

/** The UTF-8 bytes of the body being sealed. */
const utf8 = new Scratch(1024)

function readSeconds (text: string): number | undefined {
  return SECONDS.test(text) ? parseInt(text, 36) : undefined
}

/** `n.toString(36)`, remembering the last answer: a value's times repeat from one seal to the next. */
function base36Memo (): (n: number) => string {
  let last = -1
  let text = ''
  return (n) => {
    if (n !== last) {
      last = n
      text = n.toString(36)
    }
    return text
  }
}

/** The head's suffix for a data version: none for 0, else "v" and its base36 digits. */
export function versionSuffix (version: number): string {
  return version === 0 ? '' : `v${version.toString(36)}`
}

/**
 * Builds the signed codec for the given secrets (the first one signs),
 * sealing values of data version `version` (the `version` option), and
 * opening values split over up to `maxChunks` cookies (the `maxChunks` option).
 */
export function signedCodec (secrets: readonly Buffer[], version = 0, maxChunks = 1): CookieCodec {
  const macs = deriveKeys(secrets, INFO).map(hmacSha256)
  const maxLength = maxChunks * MAX_VALUE_LENGTH
  const signer = macs[0] as Mac
  const suffix = versionSuffix(version)

  const createdText = base36Memo()
  const issuedText = base36Memo()

  return {
    stringify: stringifyContent,
    parse: parseContent,

    // The signed part is written by hand straight into the signer's buffer,
    // after its pad block, and made a string once: each call into C++ (a
    // Buffer's write or toString) cost about 0.4 µs inside a loaded server.
    seal (body, permanent, created, issued, plan) {
      let n = writeUtf8(body, utf8.reserve(body.length * 3), 0)
      let source: Uint8Array = utf8.buffer // after the write, which may replace the buffer
      let head = permanent ? '2p' : '2'
      if (body.length >= COMPRESS_FROM) {
        const deflated = deflateRawSync(utf8.view(n))
        if (base64urlLength(deflated.length) < base64urlLength(n)) {
          source = deflated
          n = deflated.length
          head += 'z'
        }
      }
      // A creation time with a fraction of a second is kept to the millisecond.
      const whole = Number.isInteger(created)
      if (!whole) head += 'm'
      if (suffix !== '') head += suffix
      const times = `.${createdText(whole ? created : Math.round(created * 1000))}.${issuedText(issued)}`
      // The value's length is known before signing: the chunk field can be part of what is signed.
      if (plan !== undefined) head += chunkField(head.length + base64urlLength(n) + times.length + 45, plan)
      const out = signer.room(head.length + 1 + base64urlLength(n) + times.length)
      let at = writeAscii(head, out, MESSAGE_AT)
      out[at++] = 46 // '.'
      at = writeBase64url(source, n, out, at)
      at = writeAscii(times, out, at)
      return `${out.toString('latin1', MESSAGE_AT, at)}.${signer.signRoom(at - MESSAGE_AT)}`
    },

    open (value): Envelope | string {
      if (value.length > maxLength) return 'the value is too long'
      const parts = value.split('.')
      if (parts.length !== 5) return 'the value is malformed'
      const [head, payload, createdText, issuedText, sig] = parts as [string, string, string, string, string]
      let created = readSeconds(createdText)
      const issued = readSeconds(issuedText)
      const headMatch = HEAD.exec(head)
      if (headMatch === null || created === undefined || issued === undefined || !SIG.test(sig)) {
        return 'the value is malformed'
      }
      if (headMatch[2] === 'm') {
        // A whole second is written in seconds: one text for each value.
        if (created % 1000 === 0) return 'the value is malformed'
        created /= 1000
      }
      const layout = checkLayout(headMatch[4], headMatch[5], value.length, maxChunks)
      if (layout !== undefined) return layout
      const signed = value.slice(0, value.length - 44)
      let keyIndex = -1
      for (let i = 0; i < macs.length; i++) {
        if ((macs[i] as Mac).verify(signed, sig)) {
          keyIndex = i
          break
        }
      }
      if (keyIndex < 0) return 'the signature does not match any key'
      let body: string
      try {
        const bytes = Buffer.from(payload, 'base64url')
        body = (headMatch[1] === 'z' ? inflateRawSync(bytes, { maxOutputLength: MAX_BODY }) : bytes).toString('utf8')
      } catch {
        return 'the payload cannot be inflated'
      }
      const versionText = headMatch[3]
      return { body, permanent: head.charCodeAt(1) === 112, created, issued, keyIndex, version: versionText === undefined ? 0 : parseInt(versionText, 36) }
    },

    claimsPermanent (value) {
      return value.charCodeAt(1) === 112 // '2p...'
    }
  }
}

/**
 * A store-mode cookie: the session id and its signature.
 *
 *   value = ID "." SIG
 *   ID    = b64url(32 random bytes)                 256 bits, from crypto.randomBytes
 *   SIG   = b64url(HMAC-SHA256(K, ID))
 *   K     = HKDF-SHA256(secret, info = "fastify-typed-session id v2"), one per secret
 */
export interface SignedIds {
  /** A new random id. */
  create (): string
  /** The cookie value for an id, signed with the first key. */
  sign (id: string): string
  /** The id in a cookie value and the index of the key that verified it, or the reason it was rejected. */
  verify (value: string): { id: string, keyIndex: number } | string
}

const ID = /^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/

/** Builds the signer of store-mode session ids (the first secret signs). */
export function signedIds (secrets: readonly Buffer[]): SignedIds {
  const macs = deriveKeys(secrets, 'fastify-typed-session id v2').map(hmacSha256)
  return {
    create: () => randomBytes(32).toString('base64url'),
    sign: (id) => `${id}.${(macs[0] as Mac).sign(id)}`,
    verify (value) {
      if (!ID.test(value)) return 'the value is malformed'
      const id = value.slice(0, 43)
      const tag = value.slice(44)
      for (let i = 0; i < macs.length; i++) {
        if ((macs[i] as Mac).verify(id, tag)) return { id, keyIndex: i }
      }
      return 'the signature does not match any key'
    }
  }
}
