/**
 * Tagged JSON: JSON, plus the value types that a session keeps with their type.
 * Used by the signed and encrypted cookies and by the stores.
 *
 *   Date       {"~d": 1700000000123}          milliseconds since the epoch
 *   Buffer     {"~b": "AAEC"}                 base64url; a Uint8Array comes back as a Buffer
 *   BigInt     {"~n": "123456789012345678901"}
 *   Map        {"~m": [[key, value], ...]}
 *   Set        {"~s": [value, ...]}
 *   number     {"~f": "NaN" | "Infinity" | "-Infinity" | "-0"}
 *   undefined  {"~u": 0}                      in an array; an undefined property is left out, as in JSON
 *   escape     {"~o": {"~x": ...}}            a user object whose only key starts with "~"
 *
 * A tag is an object with exactly one key that starts with "~". Any user
 * object of that shape is wrapped in "~o", so it comes back unchanged.
 * Decoding is strict: an unknown tag, a non-canonical tag value or a
 * `__proto__`/`constructor` key rejects the whole text.
 */
import { FST_ERR_SESSION_UNSERIALIZABLE } from './errors.js'

/** Why a value cannot be serialized; the caller adds the session key. */
export class UnserializableValue extends Error {}

/** Why a text is not valid tagged JSON. */
export class MalformedValue extends Error {}

/** Keys that would reach an object's prototype if they were ever assigned: never written, never read. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor'])
const BIGINT_TEXT = /^-?(?:0|[1-9]\d*)$/
/** The largest time a Date holds, in milliseconds from the epoch (ECMA-262 TimeClip). */
const MAX_DATE = 8.64e15
const SPECIAL_NUMBERS: Record<string, number> = { NaN, Infinity, '-Infinity': -Infinity, '-0': -0 }

function isTagLike (keys: string[]): boolean {
  return keys.length === 1 && (keys[0] as string).charCodeAt(0) === 126 // '~'
}

function describe (value: object): string {
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name
  return typeof name === 'string' && name !== '' ? `an instance of ${name}` : 'an object with a foreign prototype'
}

function encodeNumber (value: number): unknown {
  if (Number.isFinite(value)) return Object.is(value, -0) ? { '~f': '-0' } : value
  return { '~f': String(value) }
}

function encodeObject (value: object, stack: object[]): unknown {
  if (stack.includes(value)) throw new UnserializableValue('it contains a cycle')
  stack.push(value)
  try {
    if (Array.isArray(value)) return encodeArray(value, stack)
    if (value instanceof Date) {
      const ms = value.getTime()
      if (Number.isNaN(ms)) throw new UnserializableValue('it is an invalid Date')
      return { '~d': ms }
    }
    if (value instanceof Uint8Array) {
      if (Buffer.isBuffer(value) || value.constructor === Uint8Array) {
        return { '~b': Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64url') }
      }
      throw new UnserializableValue(describe(value))
    }
    if (value instanceof Map) {
      const pairs: unknown[] = []
      for (const [k, v] of value) pairs.push([encode(k, stack), encode(v, stack)])
      return { '~m': pairs }
    }
    if (value instanceof Set) {
      const items: unknown[] = []
      for (const v of value) items.push(encode(v, stack))
      return { '~s': items }
    }
    const proto = Object.getPrototypeOf(value)
    if (proto !== Object.prototype && proto !== null) throw new UnserializableValue(describe(value))
    return encodePlain(value as Record<string, unknown>, stack)
  } finally {
    stack.pop()
  }
}

function encodeArray (value: unknown[], stack: object[]): unknown[] {
  let out: unknown[] | undefined
  for (let i = 0; i < value.length; i++) {
    const item = value[i]
    const tagged = item === undefined ? { '~u': 0 } : encode(item, stack)
    if (tagged !== item && out === undefined) out = value.slice(0, i)
    if (out !== undefined) out.push(tagged)
  }
  return out ?? value
}

function encodePlain (value: Record<string, unknown>, stack: object[]): unknown {
  const keys = Object.keys(value)
  let out: Record<string, unknown> | undefined
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string
    if (FORBIDDEN_KEYS.has(key)) throw new UnserializableValue(`it has the key ${JSON.stringify(key)}`)
    const item = value[key]
    const tagged = item === undefined ? item : encode(item, stack)
    if ((tagged !== item || item === undefined) && out === undefined) {
      out = {}
      for (let j = 0; j < i; j++) out[keys[j] as string] = value[keys[j] as string]
    }
    if (out !== undefined && tagged !== undefined) out[key] = tagged
  }
  const plain = out ?? value
  return isTagLike(out === undefined ? keys : Object.keys(out)) ? { '~o': plain } : plain
}

/**
 * Turns a value into its JSON-ready tagged form. Returns the value itself
 * when it needs no tag, so plain JSON data is not copied.
 */
export function encode (value: unknown, stack?: object[]): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      return encodeNumber(value)
    case 'bigint':
      return { '~n': value.toString() }
    case 'object':
      // The stack of enclosing objects (for cycles) is made only for an object.
      return value === null ? null : encodeObject(value, stack ?? [])
    default:
      throw new UnserializableValue(`it is a ${typeof value}`)
  }
}

function decodeTag (tag: string, inner: unknown, inArray: boolean): unknown {
  switch (tag) {
    case '~d':
      // The encoder writes only valid Dates, and never -0.
      if (typeof inner === 'number' && Number.isSafeInteger(inner) && Math.abs(inner) <= MAX_DATE && !Object.is(inner, -0)) {
        return new Date(inner)
      }
      break
    case '~b':
      if (typeof inner === 'string') {
        const bytes = Buffer.from(inner, 'base64url')
        if (bytes.toString('base64url') === inner) return bytes
      }
      break
    case '~n':
      if (typeof inner === 'string' && BIGINT_TEXT.test(inner) && inner !== '-0') return BigInt(inner)
      break
    case '~m':
      if (Array.isArray(inner)) {
        const map = new Map(inner.map((pair) => {
          if (!Array.isArray(pair) || pair.length !== 2) throw new MalformedValue('a Map entry is not a pair')
          return [decode(pair[0], false), decode(pair[1], false)]
        }))
        if (map.size === inner.length) return map // a key written twice is not canonical
      }
      break
    case '~s':
      if (Array.isArray(inner)) {
        const set = new Set(inner.map((item) => decode(item, false)))
        if (set.size === inner.length) return set // an item written twice is not canonical
      }
      break
    case '~f':
      if (typeof inner === 'string' && Object.hasOwn(SPECIAL_NUMBERS, inner)) return SPECIAL_NUMBERS[inner]
      break
    case '~u':
      if (inner === 0 && inArray) return undefined
      break
    case '~o':
      if (inner !== null && typeof inner === 'object' && !Array.isArray(inner) && isTagLike(Object.keys(inner))) {
        return decodePlain(inner as Record<string, unknown>)
      }
      break
  }
  throw new MalformedValue(`bad tag ${JSON.stringify(tag)}`)
}

function decodePlain (value: Record<string, unknown>): Record<string, unknown> {
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) throw new MalformedValue(`forbidden key ${JSON.stringify(key)}`)
    const item = value[key]
    if (item !== null && typeof item === 'object') value[key] = decode(item, false)
    else if (Object.is(item, -0)) throw new MalformedValue('a bare -0')
  }
  return value
}

/**
 * Turns parsed tagged JSON back into values, in place. Throws
 * `MalformedValue` on anything the encoder would not have written.
 */
export function decode (value: unknown, inArray: boolean): unknown {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && Object.is(value, -0)) throw new MalformedValue('a bare -0')
    return value
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = decode(value[i], true)
    return value
  }
  const keys = Object.keys(value)
  if (isTagLike(keys)) {
    const tag = keys[0] as string
    return decodeTag(tag, (value as Record<string, unknown>)[tag], inArray)
  }
  return decodePlain(value as Record<string, unknown>)
}

/** Serializes one value to tagged JSON text. */
export function stringify (value: unknown): string {
  return JSON.stringify(encode(value))
}

/** Parses tagged JSON text. Throws `MalformedValue` or `SyntaxError`. */
export function parse (text: string): unknown {
  const first = text.charCodeAt(0)
  if ((first >= 48 && first <= 57) || first === 45) { // a digit or '-'
    // A finite number, written as JavaScript and JSON write it, is read
    // without JSON.parse (a call into V8's C++ runtime). Any other text
    // that Number() accepts ('-0', '1e3', '0x10') is not written that way,
    // so it is left to JSON.parse, which rejects or reads it as before.
    const n = Number(text)
    if (String(n) === text && Number.isFinite(n)) return n
  }
  return decode(JSON.parse(text), false)
}

/** A flash message, as Flask keeps it: `[category, message]`. */
export type Flash = [category: string, message: string]

/** The part of a session that the cookie body or a store record carries. */
export interface SessionContent {
  data: Map<string, unknown>
  flashes: Flash[]
}

/** The reserved key under which flashes are kept, in Flask's layout. */
export const FLASHES_KEY = '_flashes'

/**
 * Top-level keys a session may not use, in every format and store: the
 * plugin's own fields (`_flashes`; `_permanent` in Flask's cookie and the
 * stores; `_created`, `_version` and `_issued` in the stores) and the forbidden keys.
 */
export const RESERVED_KEYS: ReadonlySet<string> = new Set([FLASHES_KEY, '_permanent', '_created', '_version', '_issued', ...FORBIDDEN_KEYS])

/** Throws `FST_ERR_SESSION_UNSERIALIZABLE` for a reserved top-level key. */
export function checkKey (key: string): void {
  if (RESERVED_KEYS.has(key)) throw new FST_ERR_SESSION_UNSERIALIZABLE(JSON.stringify(key), 'the key is reserved')
}

/**
 * Serializes one top-level session value. A value that cannot be kept
 * throws `FST_ERR_SESSION_UNSERIALIZABLE`, naming its key.
 */
export function stringifyEntry (key: string, value: unknown): string {
  // A number that needs no tag (encodeNumber's rule) is its own JSON
  // text, which String() gives without JSON.stringify, a call into C++.
  if (typeof value === 'number' && encodeNumber(value) === value) return String(value)
  try {
    return JSON.stringify(encode(value))
  } catch (err) {
    /* c8 ignore next - encode only throws UnserializableValue */
    if (!(err instanceof UnserializableValue)) throw err
    throw new FST_ERR_SESSION_UNSERIALIZABLE(JSON.stringify(key), err.message)
  }
}

/**
 * Serializes a session's data and flashes into one JSON object text, with
 * the flashes under `_flashes`.
 */
export function stringifyContent (content: SessionContent): string {
  let out = '{'
  for (const [key, value] of content.data) {
    checkKey(key)
    if (value === undefined) continue
    if (out.length > 1) out += ','
    out += JSON.stringify(key) + ':' + stringifyEntry(key, value)
  }
  if (content.flashes.length > 0) {
    if (out.length > 1) out += ','
    out += '"_flashes":' + JSON.stringify(content.flashes)
  }
  return out + '}'
}

/** Checks that a parsed value is a flash queue. */
export function asFlashes (value: unknown): Flash[] {
  if (Array.isArray(value) && value.length > 0 && value.every((f) => Array.isArray(f) && f.length === 2 &&
      typeof f[0] === 'string' && typeof f[1] === 'string')) {
    return value as Flash[]
  }
  throw new MalformedValue('bad flash queue')
}

/** Parses the text written by `stringifyContent`. Throws on anything else. */
export function parseContent (text: string): SessionContent {
  const parsed: unknown = JSON.parse(text)
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new MalformedValue('the session is not an object')
  }
  const data = new Map<string, unknown>()
  let flashes: Flash[] = []
  for (const key of Object.keys(parsed)) {
    const value = (parsed as Record<string, unknown>)[key]
    if (key === FLASHES_KEY) flashes = asFlashes(value)
    else if (FORBIDDEN_KEYS.has(key)) throw new MalformedValue(`forbidden key ${JSON.stringify(key)}`)
    else data.set(key, decode(value, false))
  }
  return { data, flashes }
}
