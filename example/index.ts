/**
 * `npm run example`: starts the example on http://127.0.0.1:3000.
 *
 *   PORT            the port (default 3000)
 *   SESSION_SECRET  the session key, 32 bytes or more; print one with
 *                   `npx fastify-typed-session secret`
 */
import { randomBytes } from 'node:crypto'
import { buildApp } from './app.js'

const port = Number(process.env.PORT || 3000)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a port number from 0 to 65535, received ${JSON.stringify(process.env.PORT)}`)
  process.exit(1)
}

const secret = process.env.SESSION_SECRET
const app = buildApp({ secret: secret || randomBytes(32), logger: true })
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
