'use strict'
/**
 * Stands in for `@fastify/secure-session` when `@fastify/csrf-protection`'s
 * own test files run against this plugin (test/csrf-protection.test.ts): a
 * plugin that takes secure-session's options and registers
 * fastify-typed-session with the same meaning. It maps `key` (a Buffer, a
 * base64 string or an array of them) or `secret` to `secret`, and
 * `cookieName` and `cookie` as they are; `salt` has no role, because this
 * plugin takes a secret as key material itself. Any other option is refused,
 * so that a case never runs on a setting it did not ask for.
 */
const fp = require('fastify-plugin')
const { fastifyTypedSession } = require('../../lib/index.ts')

const mapped = new Set(['key', 'secret', 'salt', 'cookieName', 'cookie'])

function keyOf (key) {
  return typeof key === 'string' ? Buffer.from(key, 'base64') : key
}

module.exports = fp(async function secureSessionShim (fastify, options) {
  for (const name of Object.keys(options)) {
    if (!mapped.has(name)) throw new Error(`the secure-session shim does not map the option ${name}`)
  }
  const secret = options.key === undefined
    ? options.secret
    : Array.isArray(options.key) ? options.key.map(keyOf) : keyOf(options.key)
  await fastify.register(fastifyTypedSession, {
    secret,
    ...(options.cookieName === undefined ? {} : { cookieName: options.cookieName }),
    ...(options.cookie === undefined ? {} : { cookie: options.cookie })
  })
}, { fastify: '5.x', name: 'secure-session-shim' })
