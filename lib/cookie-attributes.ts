/**
 * The session cookie's attributes: Path, Domain, HttpOnly, Secure, SameSite
 * and Partitioned (its lifetime is the top-level `maxAge`). One check serves
 * the `cookie` option at registration and `session.options()` on a
 * response, so both accept the same values and refuse the others with the
 * same words.
 */
import { invalidOption } from './invalid-option.js'
import type { ResolvedOptions } from './options.js'

/** The session cookie's attributes, resolved. */
export type CookieAttributes = ResolvedOptions['cookie']

/** The names of the cookie attributes, in the order an error lists them. */
export const COOKIE_ATTRIBUTE_NAMES: ReadonlySet<string> = new Set(['path', 'domain', 'httpOnly', 'secure', 'sameSite', 'partitioned'])

/** The attributes of a `cookie` option that sets none. */
export const DEFAULT_COOKIE_ATTRIBUTES: CookieAttributes = Object.freeze({
  path: '/',
  domain: undefined,
  httpOnly: true,
  secure: 'auto',
  sameSite: 'lax',
  partitioned: false
})

/**
 * Names a cookie attribute in an error message (`cookie.path` at
 * registration, `path in session.options()` on a response), or, called
 * without an argument, the object of attributes itself.
 */
export type AttributeLabel = (attribute?: string) => string

// RFC 6265 section 4.1.1: path-value and domain-value exclude CTLs and ";".
const ATTRIBUTE = /^[\x20-\x3a\x3c-\x7e]+$/

/** A boolean attribute's value, or `undefined` when it is not given. */
function flag (label: AttributeLabel, name: string, value: unknown): boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') throw invalidOption(label(name), 'a boolean', value)
  return value
}

/** A Path or Domain value, or `undefined` when it is not given. */
function text (label: AttributeLabel, name: string, value: unknown): string | undefined {
  if (value !== undefined && (typeof value !== 'string' || !ATTRIBUTE.test(value))) {
    throw invalidOption(label(name), 'a non-empty string of printable ASCII characters without ";"', value)
  }
  return value
}

/**
 * Checks the cookie attributes that `given` sets and returns them applied
 * over `base`, frozen. Only the known attributes are read: other names are
 * ignored (`@fastify/csrf-protection` passes its `userInfo` to
 * `session.options()`), and so is a value of `undefined`. `sameSite` is
 * taken in any capitalisation and resolved to lower case. Throws
 * `FST_ERR_SESSION_INVALID_OPTION`, naming the attribute with `label`, when
 * `given` is not an object, when a value is bad, or when the result has
 * SameSite=None or Partitioned without Secure.
 */
export function applyCookieAttributes (given: unknown, base: CookieAttributes, label: AttributeLabel): CookieAttributes {
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw invalidOption(label(), 'an object of cookie attributes', given)
  }
  const { path, domain, httpOnly, secure, sameSite, partitioned } = given as Record<string, unknown>
  const out = { ...base }
  if (secure !== undefined) {
    if (typeof secure !== 'boolean' && secure !== 'auto') throw invalidOption(label('secure'), "true, false or 'auto'", secure)
    out.secure = secure
  }
  if (sameSite !== undefined) {
    const lower: unknown = typeof sameSite === 'string' ? sameSite.toLowerCase() : sameSite
    if (lower !== 'lax' && lower !== 'strict' && lower !== 'none' && lower !== false) {
      throw invalidOption(label('sameSite'), "'lax', 'strict', 'none' or false", sameSite)
    }
    out.sameSite = lower
  }
  out.partitioned = flag(label, 'partitioned', partitioned) ?? out.partitioned
  out.path = text(label, 'path', path) ?? out.path
  out.domain = text(label, 'domain', domain) ?? out.domain
  out.httpOnly = flag(label, 'httpOnly', httpOnly) ?? out.httpOnly
  // Browsers drop SameSite=None and Partitioned cookies that are not Secure.
  if ((out.sameSite === 'none' || out.partitioned) && out.secure === false) {
    throw invalidOption(label('secure'), `true or 'auto' with ${out.partitioned ? 'partitioned' : "sameSite 'none'"}`, out.secure)
  }
  return Object.freeze(out)
}
