/**
 * The example app with its sessions in Redis: run several of these on
 * different ports, behind one load balancer, and they share every session.
 *
 *   node --import tsx example/redis.ts
 *
 *   REDIS_URL       the Redis server (default redis://127.0.0.1:6379)
 *   PORT            the port (default 3000)
 *   SESSION_SECRET  the session key, 32 bytes or more; print one with
 *                   `npx fastify-typed-session secret`. Every process behind
 *                   the load balancer needs the same one.
 */
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { Redis } from 'ioredis'
import { RedisStore } from 'fastify-typed-session'
import { buildApp } from './app.js'

const port = Number(process.env.PORT || 3000)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`PORT must be a port number from 0 to 65535, received ${JSON.stringify(process.env.PORT)}`)
  process.exit(1)
}
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379'

const client = new Redis(redisUrl)
// `userKey` keeps an index of each user's sessions: /devices lists them and logs them out.
const store = new RedisStore({ client, userKey: 'username' })
const secret = process.env.SESSION_SECRET
const app = buildApp({ secret: secret || randomBytes(32), logger: true, store })
if (!secret) {
  app.log.warn('SESSION_SECRET is not set, so the example uses a random development key: ' +
    'sessions will not survive a restart, nor work across processes. Set SESSION_SECRET=$(npx fastify-typed-session secret)')
}
app.addHook('onClose', async () => { await client.quit() })

try {
  // Connect before serving: while the client is not ready, a request that needs its session gets a 503.
  await once(client, 'ready')
} catch (err) {
  app.log.error({ err }, `Cannot connect to Redis at ${redisUrl}; set REDIS_URL`)
  process.exit(1)
}
// From here on, the client's errors are the app's to log; ioredis reconnects on its own,
// and meanwhile requests that need a session get a 503 within the store's timeout.
client.on('error', (err) => { app.log.warn({ err }, 'Redis connection error') })

try {
  await app.listen({ host: '127.0.0.1', port })
} catch (err) {
  app.log.error(err)
  process.exit(1)
}
