/**
 * Flask's session cookie (format 'flask'): itsdangerous's URL-safe timed
 * serializer, so that a Flask app with the same SECRET_KEY reads and writes
 * the same session.
 *
 *   value   = PAYLOAD "." TS "." SIG
 *   PAYLOAD = b64(json)  |  "." b64(zlib(json))   zlib when shorter than the JSON length minus 1
 *                                                 (tried from 128 bytes of JSON; Flask tries always)
 *   TS      = b64(Unix seconds, big-endian, leading zero bytes removed)
 *   SIG     = b64(HMAC-SHA1(DK, PAYLOAD "." TS))
 *   DK      = HMAC-SHA1(key = secret, message = "cookie-session"), one per secret
 *   b64     = base64url without padding
 *   json    = Flask's tagged JSON (flask-json.ts) of the session dict, with
 *             `_permanent: true` for a permanent session and `_flashes` as
 *             a list of `(category, message)` tuples
 *
 * The first secret is SECRET_KEY (it signs); the others are
 * SECRET_KEY_FALLBACKS (they verify). Flask's cookie has no creation time,
 * so `created` is the signing time.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { deflateSync, inflateSync } from 'node:zlib'
import { FST_ERR_SESSION_UNSERIALIZABLE } from '../errors.js'
import { checkKey, FLASHES_KEY, MalformedValue, UnserializableValue, type Flash, type SessionContent } from '../serialize.js'
import { parseFlaskJson, TAGS, writeFlaskValue } from './flask-json.js'
import { MAX_VALUE_LENGTH, type CookieCodec, type Envelope } from './types.js'

const SALT = 'cookie-session'
const PERMANENT_KEY = '_permanent'
/** base64url of an HMAC-SHA1 (20 bytes), without padding. */
const SIG_LENGTH = 27
const B64URL = /^[A-Za-z0-9_-]*$/
const PERMANENT_CLAIM = /"_permanent"\s*:\s*true/
/**
 * Flask tries zlib on every cookie. Below this many bytes of JSON it rarely
 * wins, and it costs more than the rest of a seal, so it is not tried: both
 * forms are valid for Flask, which reads either.
 */
const COMPRESS_FROM = 128
/** No legitimate cookie is larger; a longer value is refused before any work. */
const MAX_BODY = 1 << 20
/** Inflating happens before any verification here, so it is bounded tighter. */
const MAX_CLAIM_BODY = 1 << 16
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Derives itsdangerous's signing key from each secret (key derivation `hmac`). */
export function deriveFlaskKeys (secrets: readonly Buffer[]): Buffer[] {
  return secrets.map((secret) => createHmac('sha1', secret).update(SALT).digest())
}

/** Encodes Unix seconds as itsdangerous does: big-endian, without leading zero bytes. */
export function encodeTimestamp (seconds: number): string {
  const bytes: number[] = []
  for (let n = seconds; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256)
  return Buffer.from(bytes).toString('base64url')
}

/** Decodes a timestamp written by `encodeTimestamp`; `undefined` when it is not canonical. */
function decodeTimestamp (text: string): number | undefined {
  if (!B64URL.test(text)) return undefined
  const bytes = Buffer.from(text, 'base64url')
  if (bytes.length === 0 || bytes.length > 6 || bytes[0] === 0 || bytes.toString('base64url') !== text) return undefined
  return bytes.readUIntBE(0, bytes.length)
}

function decodePayload (payload: string, maxOutputLength: number): string {
  const compressed = payload.charCodeAt(0) === 46 // '.'
  const text = compressed ? payload.slice(1) : payload
  if (!B64URL.test(text) || text.length % 4 === 1) throw new MalformedValue('the payload is not base64url')
  const bytes = Buffer.from(text, 'base64url')
  return utf8.decode(compressed ? inflateSync(bytes, { maxOutputLength }) : bytes)
}

function readFlashes (value: unknown): Flash[] {
  if (Array.isArray(value) && value.every((f) => Array.isArray(f) && f.length === 2 &&
      typeof f[0] === 'string' && typeof f[1] === 'string')) {
    return value as Flash[]
  }
  throw new MalformedValue('bad flash queue')
}

/**
 * Reads a session dict. From Flask (`fromFlask`), the outer object is
 * untagged too and `_permanent` is taken out; a body (written by
 * `stringifyFlask`) has no `_permanent` and an untagged outer object.
 */
function readContent (text: string, fromFlask: boolean): { content: SessionContent, permanent: boolean } {
  const parsed = parseFlaskJson(text, fromFlask)
  let entries: Iterable<[string, unknown]>
  if (parsed instanceof Map) entries = parsed as Map<string, unknown>
  else if (parsed !== null && typeof parsed === 'object' && Object.getPrototypeOf(parsed) === Object.prototype) entries = Object.entries(parsed)
  else throw new MalformedValue('the session is not an object')
  const data = new Map<string, unknown>()
  let flashes: Flash[] = []
  let permanent = false
  for (const [key, value] of entries) {
    if (key === FLASHES_KEY) {
      flashes = readFlashes(value)
    } else if (key === PERMANENT_KEY) {
      if (!fromFlask || typeof value !== 'boolean') throw new MalformedValue('bad _permanent')
      permanent = value
    } else {
      data.set(key, value)
    }
  }
  return { content: { data, flashes }, permanent }
}

/**
 * Writes a session's content as a body: a JSON object of the session's
 * keys in Flask's tagged JSON, with the flashes under `_flashes` as tuples.
 * The outer object is never escaped with `" di"`; `seal` does that.
 */
export function stringifyFlask (content: SessionContent): string {
  let out = '{'
  for (const [key, value] of content.data) {
    checkKey(key)
    if (value === undefined) continue
    let text: string
    try {
      text = writeFlaskValue(value)
    } catch (err) {
      /* c8 ignore next - writeFlaskValue only throws UnserializableValue */
      if (!(err instanceof UnserializableValue)) throw err
      throw new FST_ERR_SESSION_UNSERIALIZABLE(JSON.stringify(key), err.message)
    }
    out += (out.length > 1 ? ',' : '') + JSON.stringify(key) + ':' + text
  }
  if (content.flashes.length > 0) {
    out += (out.length > 1 ? ',' : '') + '"_flashes":['
    out += content.flashes.map(([category, message]) => `{" t":[${JSON.stringify(category)},${JSON.stringify(message)}]}`).join(',')
    out += ']'
  }
  return out + '}'
}

/** Parses a body written by `stringifyFlask`. Throws on anything else. */
export function parseFlask (body: string): SessionContent {
  return readContent(body, false).content
}

/** Turns a body into the JSON that Flask reads: `_permanent` added, or a lone tag-named key escaped. */
function flaskJson (body: string, permanent: boolean): string {
  if (permanent) return body === '{}' ? '{"_permanent":true}' : '{"_permanent":true,' + body.slice(1)
  // Flask's TagDict applies to the session dict itself when its only key is a tag name.
  if (body.startsWith('{" ')) {
    const { data, flashes } = parseFlask(body)
    const key = data.keys().next().value as string
    if (data.size === 1 && flashes.length === 0 && TAGS.has(key)) {
      const prefix = JSON.stringify(key)
      return `{" di":{${JSON.stringify(key + '__')}${body.slice(1 + prefix.length)}}`
    }
  }
  return body
}

/** Builds the Flask codec for the given secrets (SECRET_KEY, then SECRET_KEY_FALLBACKS). */
export function flaskCodec (secrets: readonly Buffer[]): CookieCodec {
  const keys = deriveFlaskKeys(secrets)
  const signKey = keys[0] as Buffer
  const mac = (key: Buffer, text: string): string => createHmac('sha1', key).update(text).digest('base64url')

  return {
    stringify: stringifyFlask,
    parse: parseFlask,

    seal (body, permanent, _created, issued) {
      const json = Buffer.from(flaskJson(body, permanent))
      let payload = json.toString('base64url')
      if (json.length >= COMPRESS_FROM) {
        // itsdangerous's rule: the zlib format (not raw deflate), when shorter than the JSON length minus 1.
        const compressed = deflateSync(json)
        if (compressed.length < json.length - 1) payload = '.' + compressed.toString('base64url')
      }
      const signed = `${payload}.${encodeTimestamp(issued)}`
      return `${signed}.${mac(signKey, signed)}`
    },

    open (value): Envelope | string {
      if (value.length > MAX_VALUE_LENGTH) return 'the value is too long'
      const sigAt = value.lastIndexOf('.')
      const given = Buffer.from(value.slice(sigAt + 1))
      if (sigAt < 0 || given.length !== SIG_LENGTH) return 'the value is malformed'
      const signed = value.slice(0, sigAt)
      let keyIndex = -1
      for (let i = 0; i < keys.length; i++) {
        // Comparing the canonical base64url text also refuses a signature
        // whose unused trailing bits were changed.
        if (timingSafeEqual(Buffer.from(mac(keys[i] as Buffer, signed)), given)) {
          keyIndex = i
          break
        }
      }
      if (keyIndex < 0) return 'the signature does not match any key'
      const tsAt = signed.lastIndexOf('.')
      if (tsAt < 0) return 'the timestamp is missing'
      const issued = decodeTimestamp(signed.slice(tsAt + 1))
      if (issued === undefined) return 'the timestamp is malformed'
      // Flask answers 500 to a signed payload it cannot decode; here it is an empty session.
      try {
        const { content, permanent } = readContent(decodePayload(signed.slice(0, tsAt), MAX_BODY), true)
        return { body: stringifyFlask(content), permanent, created: issued, issued, keyIndex, version: 0 }
      } catch (err) {
        return `the payload cannot be decoded (${(err as Error).message})`
      }
    },

    claimsPermanent (value) {
      const end = value.lastIndexOf('.', value.lastIndexOf('.') - 1)
      if (end < 1) return false
      try {
        return PERMANENT_CLAIM.test(decodePayload(value.slice(0, end), MAX_CLAIM_BODY))
      } catch (err) {
        // Too large to look into before verifying: claim it, and let verification decide.
        return (err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE'
      }
    }
  }
}
