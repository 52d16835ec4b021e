/**
 * The soak's server, run by the soak in its own process (forked, with
 * `--expose-gc`): `server.ts cookie` or `server.ts redis PORT TIMEOUT`, where
 * TIMEOUT is the RedisStore's `timeout`, in seconds.
 *
 * Routes (each answers JSON):
 *   GET /write[?label=L]  adds 1 to the session's counter (and sets its label): {counter, label}
 *   GET /read             {counter, label}, or nulls when the session is new
 *   GET /create?label=L   a session that holds only the label: {label}
 *
 * Over IPC it says `{type: 'listening', port}` once it listens on 127.0.0.1,
 * answers `{type: 'heap'}` with its heap after a full GC, and answers
 * `{type: 'stop'}` with its error counts, then closes and exits.
 *
 * In Redis mode, the ioredis client reconnects with a backoff capped at
 * 500 ms (ioredis's default grows to 2 s between attempts, which after a
 * long outage would delay the recovery by up to 2 s).
 */
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { once } from 'node:events'
import typedSession, { RedisStore } from '../lib/index.js'

declare module '../lib/index.js' {
  interface SessionData {
    counter: number
    label: string
  }
}

/** A message from the soak. */
export type ToServer = { type: 'heap' } | { type: 'stop' }

/** A message to the soak. */
export type FromServer =
  | { type: 'listening', port: number }
  | { type: 'heap', heapUsed: number, rss: number }
  | { type: 'stopped', errors: Record<string, number>, redisErrors: number, reconnects: number }

const [mode, redisPort, timeout] = process.argv.slice(2)
if (mode !== 'cookie' && mode !== 'redis') throw new Error(`Expected the mode cookie or redis, received ${JSON.stringify(mode)}`)
const exposed = (globalThis as { gc?: () => void }).gc
if (exposed === undefined) throw new Error('Run the soak server with --expose-gc')
const gc: () => void = exposed
async function send (message: FromServer): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    process.send?.(message, undefined, undefined, (err) => { if (err === null) resolve(); else reject(err) })
  })
}

const secret = 'soak-secret-soak-secret-soak-secret-0123456789'
const app = Fastify({ logger: false })
let client: Redis | undefined
let redisErrors = 0
let reconnects = 0
if (mode === 'cookie') {
  await app.register(typedSession, { secret })
} else {
  client = new Redis({
    host: '127.0.0.1',
    port: Number(redisPort),
    retryStrategy: (times) => Math.min(times * 50, 500)
  })
  // Expected during the outages; counted, and reported when the soak stops.
  client.on('error', () => { redisErrors++ })
  client.on('reconnecting', () => { reconnects++ })
  await once(client, 'ready')
  await app.register(typedSession, { secret, store: new RedisStore({ client, timeout: Number(timeout ?? 2) }) })
}

/** Errors by code: the soak checks that the store's 503 is the only one. */
const errors: Record<string, number> = {}
app.addHook('onError', async (_request, _reply, err) => {
  const code = (err as { code?: string }).code ?? err.name
  errors[code] = (errors[code] ?? 0) + 1
})

interface Query { label?: string }

app.get<{ Querystring: Query }>('/write', async (request) => {
  const { session } = request
  const counter = session.get('counter', 0) + 1
  session.set('counter', counter)
  if (request.query.label !== undefined) session.set('label', request.query.label)
  return { counter, label: session.get('label') ?? null }
})

app.get('/read', async (request) => {
  const { session } = request
  return { counter: session.get('counter') ?? null, label: session.get('label') ?? null }
})

app.get<{ Querystring: Query }>('/create', async (request) => {
  request.session.set('label', request.query.label ?? '')
  return { label: request.session.get('label') }
})

const address = await app.listen({ host: '127.0.0.1', port: 0 })
await send({ type: 'listening', port: Number(new URL(address).port) })

async function answer (message: ToServer): Promise<void> {
  if (message.type === 'heap') {
    gc()
    gc()
    const { heapUsed, rss } = process.memoryUsage()
    await send({ type: 'heap', heapUsed, rss })
    return
  }
  await app.close()
  client?.disconnect()
  await send({ type: 'stopped', errors, redisErrors, reconnects })
  process.exit(0)
}
process.on('message', (message: ToServer) => {
  answer(message).catch((err: unknown) => {
    console.error(err)
    process.exit(1)
  })
})
// The soak is gone: stop too.
process.on('disconnect', () => { process.exit(0) })
