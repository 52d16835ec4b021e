/**
 * The words of `FST_ERR_SESSION_INVALID_OPTION`: how an option error shows
 * the value it received. Registration and `session.options()` build their
 * errors here, so that the same bad value reads the same in both.
 */
import { FST_ERR_SESSION_INVALID_OPTION } from './errors.js'

/**
 * A value as an option error shows it: a string quoted, a Buffer or an
 * array by its length, a function or another object by its kind, and
 * anything else as `String()` gives it.
 */
export function show (value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'function') return 'a function'
  if (Buffer.isBuffer(value)) return `a Buffer of ${value.length} bytes`
  if (Array.isArray(value)) return `an array of ${value.length}`
  if (value !== null && typeof value === 'object') return 'an object'
  return String(value)
}

/**
 * `FST_ERR_SESSION_INVALID_OPTION` (a TypeError) for the option `name`:
 * what was expected, and the value received, as `show()` gives it.
 */
export function invalidOption (name: string, expected: string, value: unknown): Error {
  return new FST_ERR_SESSION_INVALID_OPTION(name, expected, show(value))
}

/**
 * Checks the options of a store's constructor: an object (else `notObject`
 * says what was expected), naming only `names`. Any other name is refused
 * with the fix where there is one: `ttl`, which stores elsewhere take, is
 * the plugin's `maxAge` here, and `renamed` gives the store's own.
 */
export function checkStoreOptions (store: string, options: unknown, names: readonly string[], notObject: string,
  renamed: ReadonlyMap<string, string> = new Map()): void {
  if (options === null || typeof options !== 'object') throw invalidOption(`${store} options`, notObject, options)
  for (const name of Object.keys(options)) {
    if (names.includes(name)) continue
    const fix = name === 'ttl' ? 'no ttl: the plugin gives each record its TTL, its maxAge option in seconds' : renamed.get(name)
    const all = `${names.slice(0, -1).join(', ')} and ${names[names.length - 1] as string}`
    throw invalidOption(`${store} ${name}`, fix === undefined ? `one of ${names.join(', ')}` : `${fix} (the options are ${all})`, name)
  }
}
