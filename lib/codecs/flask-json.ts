/**
 * Flask's tagged JSON (`flask.json.tag`), read and written from Node.
 *
 *   tuple     {" t": [item, ...]}             read as an Array; never written except for flashes
 *   bytes     {" b": "AP8="}                  standard base64 with padding; Buffer and Uint8Array
 *   Markup    {" m": "<b>x</b>"}               read as a string
 *   UUID      {" u": "12345678123456781234567812345678"}   read as a dashed lowercase string
 *   datetime  {" d": "Tue, 02 Jan 2024 03:04:05 GMT"}      Date, in whole seconds
 *   escape    {" di": {" t__": value}}        a dict whose only key is a tag name
 *
 * Numbers follow Python's json: an integer that a JS number cannot hold
 * exactly is a BigInt, and NaN, Infinity, -Infinity and -0.0 are bare
 * tokens. `JSON.parse` cannot do either, so this module has its own small
 * parser. It untags each object as soon as it is closed, bottom-up, exactly
 * like Python's `json.loads(text, object_hook=untag)`.
 *
 * What Flask's JSON cannot carry (Map, Set, class instances, functions,
 * symbols, cycles, Dates outside the years 1 to 9999) throws
 * `UnserializableValue`; nothing is silently dropped.
 */
import { FORBIDDEN_KEYS, MalformedValue, UnserializableValue } from '../serialize.js'

/** The tag names Flask registers. A dict whose only key is one of them is escaped with `" di"`. */
export const TAGS: ReadonlySet<string> = new Set([' di', ' t', ' b', ' m', ' u', ' d'])

/**
 * The deepest nesting of JS containers written. Python's json gives up near
 * 1000 JSON levels, and a tag can add two (`" di"`), so what is written here
 * always reads back, in Flask and in `parseFlaskJson`.
 */
export const MAX_DEPTH = 128
/** The deepest nesting of JSON levels read, as Python's json (about 1000). */
export const MAX_PARSE_DEPTH = 1000

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y
/** A string body without escapes or control characters is its own value. */
// eslint-disable-next-line no-control-regex -- JSON refuses raw control characters in a string
const PLAIN_STRING = /^[^\\\x00-\x1f]*$/
const HTTP_DATE = /^(Sun|Mon|Tue|Wed|Thu|Fri|Sat), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const UUID_HEX = /^[0-9a-f]{32}$/i
/** The range of Python's datetime: 0001-01-01 to 9999-12-31. */
const MIN_TIME = -62135596800000
const MAX_TIME = 253402300799999

function isPlainObject (value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function describe (value: object): string {
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name
  return typeof name === 'string' && name !== '' ? `an instance of ${name}` : 'an object with a foreign prototype'
}

/**
 * Formats a Date as Werkzeug's `http_date` does. The milliseconds are
 * dropped (floored to the second), as Flask drops a datetime's microseconds.
 */
export function httpDate (date: Date): string {
  return date.toUTCString()
}

/** A Date used only to turn a checked calendar date into its time value, with the calendar's own rules. */
const calendar = new Date(0)

/**
 * Parses the HTTP date that `httpDate` (or Flask) writes. Throws on anything
 * else: a field out of range (31 Feb, 24:00:00, second 60), year 0 (Python
 * has none), or a weekday that is not the date's. The fields are checked
 * directly rather than by formatting the result and comparing it with the
 * text, which took twice as long; a session of Flask dates pays this on
 * every load.
 */
export function parseHttpDate (text: string): Date {
  const m = HTTP_DATE.exec(text)
  if (m !== null) {
    const day = Number(m[2])
    const year = Number(m[4])
    const hours = Number(m[5])
    const minutes = Number(m[6])
    const seconds = Number(m[7])
    if (year >= 1 && hours < 24 && minutes < 60 && seconds < 60) {
      // setUTCFullYear, not Date.UTC: Date.UTC maps the years 0 to 99 to 1900 to 1999.
      const midnight = calendar.setUTCFullYear(year, MONTHS.indexOf(m[3] as string), day)
      // Day 00, or a day past the month's end (31 Apr, 29 Feb 2100), rolls over into another date.
      if (calendar.getUTCDate() === day && WEEKDAYS[calendar.getUTCDay()] === m[1]) {
        return new Date(midnight + ((hours * 60 + minutes) * 60 + seconds) * 1000)
      }
    }
  }
  throw new MalformedValue(`bad date ${JSON.stringify(text)}`)
}

function writeNumber (value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return 'Infinity'
  if (value === -Infinity) return '-Infinity'
  if (Object.is(value, -0)) return '-0.0'
  const text = String(value)
  // An integer beyond 2^53 is written as a float, so that Python (and this
  // parser) reads it back as a float, not as an int that would become a BigInt.
  return Number.isSafeInteger(value) || !Number.isInteger(value) || text.includes('e') ? text : text + '.0'
}

function writeObject (value: object, stack: object[]): string {
  if (stack.includes(value)) throw new UnserializableValue('it contains a cycle')
  if (stack.length >= MAX_DEPTH) throw new UnserializableValue(`it is nested more than ${MAX_DEPTH} levels deep`)
  stack.push(value)
  try {
    if (Array.isArray(value)) {
      let out = '['
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i]
        // As in JSON.stringify, an undefined item (or a hole) becomes null.
        out += (i > 0 ? ',' : '') + (item === undefined ? 'null' : writeFlaskValue(item, stack))
      }
      return out + ']'
    }
    if (value instanceof Date) {
      const ms = value.getTime()
      if (Number.isNaN(ms)) throw new UnserializableValue('it is an invalid Date')
      if (ms < MIN_TIME || ms > MAX_TIME) throw new UnserializableValue('it is a Date outside the years 1 to 9999 that Python supports')
      return `{" d":"${httpDate(value)}"}`
    }
    if (value instanceof Uint8Array && (Buffer.isBuffer(value) || value.constructor === Uint8Array)) {
      return `{" b":"${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')}"}`
    }
    if (value instanceof Map || value instanceof Set) {
      throw new UnserializableValue(`it is a ${value instanceof Map ? 'Map' : 'Set'}, which Flask's JSON cannot carry (use an object or an array)`)
    }
    if (!isPlainObject(value)) throw new UnserializableValue(describe(value))
    return writePlain(value, stack)
  } finally {
    stack.pop()
  }
}

function writePlain (value: Record<string, unknown>, stack: object[]): string {
  let out = ''
  let count = 0
  let only = ''
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) throw new UnserializableValue(`it has the key ${JSON.stringify(key)}`)
    const item = value[key]
    if (item === undefined) continue // as in JSON.stringify
    const text = writeFlaskValue(item, stack)
    out += (count > 0 ? ',' : '') + JSON.stringify(key) + ':' + text
    if (count++ === 0) only = key
  }
  // Flask's TagDict: a dict whose only key is a tag name is escaped, its key suffixed with "__".
  if (count === 1 && TAGS.has(only)) return `{" di":{${JSON.stringify(only + '__')}${out.slice(JSON.stringify(only).length)}}}`
  return '{' + out + '}'
}

/**
 * Writes a value as Flask's tagged JSON text. Throws `UnserializableValue`
 * for what Flask's JSON cannot carry. `undefined` is the caller's to skip.
 */
export function writeFlaskValue (value: unknown, stack: object[] = []): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'number':
      return writeNumber(value)
    case 'bigint':
      return value.toString()
    case 'object':
      return value === null ? 'null' : writeObject(value, stack)
    default:
      throw new UnserializableValue(`it is ${typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`}`)
  }
}

/** Turns one closed object into the value its tag stands for (Flask's `untag`). */
function untag (value: Record<string, unknown>): unknown {
  const keys = Object.keys(value)
  if (keys.length !== 1 || !TAGS.has(keys[0] as string)) return value
  const tag = keys[0] as string
  const inner = value[tag]
  switch (tag) {
    case ' t':
      if (Array.isArray(inner)) return inner
      break
    case ' b':
      if (typeof inner === 'string') {
        const bytes = Buffer.from(inner, 'base64')
        if (bytes.toString('base64') === inner) return bytes
      }
      break
    case ' m':
      if (typeof inner === 'string') return inner
      break
    case ' u':
      if (typeof inner === 'string' && UUID_HEX.test(inner)) {
        const hex = inner.toLowerCase()
        return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
      }
      break
    case ' d':
      if (typeof inner === 'string') return parseHttpDate(inner)
      break
    default: { // ' di'
      const innerKeys = isPlainObject(inner) ? Object.keys(inner) : []
      const key = innerKeys[0]
      if (innerKeys.length === 1 && key !== undefined && key.endsWith('__') && TAGS.has(key.slice(0, -2))) {
        return { [key.slice(0, -2)]: (inner as Record<string, unknown>)[key] }
      }
    }
  }
  throw new MalformedValue(`bad tag ${JSON.stringify(tag)}`)
}

/** A recursive-descent reader of one JSON text (a class, so that no closure is made per parse). */
class Reader {
  pos = 0
  readonly text: string
  readonly untagTop: boolean

  constructor (text: string, untagTop: boolean) {
    this.text = text
    this.untagTop = untagTop
  }

  fail (what: string): never {
    throw new MalformedValue(`${what} at position ${this.pos}`)
  }

  skipSpace (): void {
    for (;;) {
      const c = this.text.charCodeAt(this.pos)
      if (c !== 32 && c !== 10 && c !== 13 && c !== 9) return
      this.pos++
    }
  }

  expect (word: string): void {
    if (!this.text.startsWith(word, this.pos)) this.fail('unexpected token')
    this.pos += word.length
  }

  string (): string {
    // Find the closing quote (one not preceded by an odd run of backslashes),
    // then let JSON.parse do the escapes and refuse control characters.
    const text = this.text
    let from = this.pos + 1
    for (;;) {
      const quote = text.indexOf('"', from)
      if (quote < 0) this.fail('unterminated string')
      let slash = quote - 1
      while (text.charCodeAt(slash) === 92) slash--
      if ((quote - 1 - slash) % 2 === 0) {
        const start = this.pos
        this.pos = quote + 1
        const raw = text.slice(start + 1, quote)
        return PLAIN_STRING.test(raw) ? raw : JSON.parse(text.slice(start, this.pos)) as string
      }
      from = quote + 1
    }
  }

  number (): number | bigint {
    NUMBER.lastIndex = this.pos
    const m = NUMBER.exec(this.text)
    if (m === null) return this.fail('unexpected token')
    this.pos = NUMBER.lastIndex
    const n = Number(m[0])
    if (m[1] !== undefined || m[2] !== undefined) return n // a float
    // A Python int: exact as a number when safe, a BigInt beyond. Python has no int -0.
    return Number.isSafeInteger(n) ? n + 0 : BigInt(m[0])
  }

  object (depth: number): unknown {
    this.pos++
    const out: Record<string, unknown> = {}
    const top = depth === 0 && !this.untagTop ? new Map<string, unknown>() : undefined
    this.skipSpace()
    if (this.text.charCodeAt(this.pos) === 125) {
      this.pos++
    } else {
      for (;;) {
        this.skipSpace()
        if (this.text.charCodeAt(this.pos) !== 34) this.fail('expected a key')
        const key = this.string()
        if (FORBIDDEN_KEYS.has(key)) this.fail(`forbidden key ${JSON.stringify(key)}`)
        this.skipSpace()
        this.expect(':')
        const value = this.value(depth + 1)
        if (top === undefined) out[key] = value
        else top.set(key, value)
        this.skipSpace()
        const c = this.text.charCodeAt(this.pos++)
        if (c === 125) break
        if (c !== 44) this.fail('expected , or }')
      }
    }
    return top ?? untag(out)
  }

  array (depth: number): unknown[] {
    this.pos++
    const out: unknown[] = []
    this.skipSpace()
    if (this.text.charCodeAt(this.pos) === 93) {
      this.pos++
      return out
    }
    for (;;) {
      out.push(this.value(depth + 1))
      this.skipSpace()
      const c = this.text.charCodeAt(this.pos++)
      if (c === 93) return out
      if (c !== 44) this.fail('expected , or ]')
    }
  }

  value (depth: number): unknown {
    if (depth > MAX_PARSE_DEPTH) this.fail(`nested more than ${MAX_PARSE_DEPTH} levels deep`)
    this.skipSpace()
    switch (this.text.charCodeAt(this.pos)) {
      case 123: return this.object(depth)
      case 91: return this.array(depth)
      case 34: return this.string()
      case 116: this.expect('true'); return true
      case 102: this.expect('false'); return false
      case 110: this.expect('null'); return null
      case 78: this.expect('NaN'); return NaN
      case 73: this.expect('Infinity'); return Infinity
      default:
        if (this.text.startsWith('-Infinity', this.pos)) {
          this.pos += 9
          return -Infinity
        }
        return this.number()
    }
  }
}

/**
 * Parses JSON as Python's `json.loads` does, untagging Flask's tags.
 * With `untagTop` false an outermost object is returned as a Map, not
 * untagged, and in the text's key order (a session body, whose keys are the
 * session's keys; a JS object would move integer-like keys first).
 * Throws `MalformedValue` or `SyntaxError`.
 */
export function parseFlaskJson (text: string, untagTop = true): unknown {
  const reader = new Reader(text, untagTop)
  const value = reader.value(0)
  reader.skipSpace()
  if (reader.pos !== text.length) reader.fail('extra data')
  return value
}
