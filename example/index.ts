/**
 * `npm run example`: starts the example on http://127.0.0.1:3000.
 *
 *   PORT            the port (default 3000)
 *   SESSION_SECRET  the session key, 32 bytes or more; print one with
 *                   `npx fastify-typed-session secret`
 *   SESSION_STORE   unset: the session lives in the cookie; `memory`: in a
 *                   MemoryStore indexed by username, which adds the
 *                   "your devices" page (log in from two browsers to see it)
 */
import { randomBytes } from 'node:crypto'
import { MemoryStore } from 'fastify-typed-session'
import { buildApp } from './app.js'

const port = Number(process.env.PORT || 3000)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a port number from 0 to 65535, received ${JSON.stringify(process.env.PORT)}`)
  process.exit(1)
}

const mode = process.env.SESSION_STORE || 'cookie'
if (mode !== 'cookie' && mode !== 'memory') {
  console.error(`SESSION_STORE must be unset or memory, received ${JSON.stringify(process.env.SESSION_STORE)}`)
  process.exit(1)
}
// `userKey` indexes the sessions by the username that /login sets, for the devices page.
const store = mode === 'memory' ? new MemoryStore({ userKey: 'username' }) : undefined

const secret = process.env.SESSION_SECRET
const app = buildApp({ secret: secret || randomBytes(32), logger: true, ...(store === undefined ? {} : { store }) })
if (!secret) {
  app.log.warn('SESSION_SECRET is not set, so the example uses a random development key: ' +
    'sessions will not survive a restart. Set SESSION_SECRET=$(npx fastify-typed-session secret) to keep them')
}

try {
  await app.listen({ host: '127.0.0.1', port })
} catch (err) {
  app.log.error(err)
  process.exit(1)
}
