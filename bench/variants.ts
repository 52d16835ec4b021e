/**
 * The benchmark's variants, one row each: how a server registers its
 * session and what its `/read` and `/write` routes do. A later format or
 * store is one more row here; the harness, the server and the report take
 * every row as it comes.
 *
 * Every variant answers the same three routes (`bench/server.ts`):
 *   GET /read       reads the counter from the session and returns it
 *   GET /write      increments the counter in the session and returns it;
 *                   `/write?by=N` adds N instead of 1 (see `step`)
 *   GET /untouched  ignores the session and returns "ok"
 *
 * The bare baseline is Fastify with no cookie handling at all: `/read`
 * returns the constant "1" (the value every other variant's `/read` finds
 * in its session), and `/write` increments a counter in a module-level
 * Map keyed by the raw Cookie header, a fake session id that costs one
 * Map lookup and no parsing or cryptography. So bare is the floor of
 * "answer the route and keep a counter per client".
 *
 * The peers are loaded with a computed specifier, so their type
 * declarations stay out of the project's type program: each one declares
 * its own `FastifyRequest.session`, and they would conflict with ours.
 */
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify'
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { createRequire } from 'node:module'
import type { TypedSessionOptions } from '../lib/index.js'
import type { Route } from './window.js'

declare module '../lib/index.js' {
  interface SessionData {
    counter: number
    /** `typed-signed-3chunks`'s incompressible text (see `PADDING`). */
    padding?: string
    /** The user of `typed-signed-user`'s and `typed-signed-revocation`'s sessions (see `withUser`). */
    userId?: string
  }
}

/** A route handler of a variant: returns the response body. */
export type Handler = (request: FastifyRequest, reply: FastifyReply) => string

/** What a variant's setup gives the server: its `/read` and `/write` handlers. */
export interface Handlers {
  read: Handler
  write: Handler
}

/** One row of the benchmark. */
export interface Variant {
  /** The name used on the command line (`--variants`) and in the table. */
  name: string
  /** What it is, for the report. */
  label: string
  /**
   * Where the counter lives: in the cookie (each `/write` answers with a new
   * cookie), or on the server (the cookie is an id, or there is none).
   */
  state: 'cookie' | 'server'
  /** A peer plugin: every variant's req/s is also given as a ratio to it. */
  peer: boolean
  /** This plugin: its ratios against the peers are reported. */
  ours: boolean
  /** The ratios against the peers and bare Fastify reported for this row. */
  targets?: Targets
  /** Needs a Redis server: the harness starts one and passes its URL in `REDIS_URL`. */
  redis?: boolean
  /**
   * A module the row needs that may not load here: an optional native addon
   * (`sodium-native` has no build for musl or for glibc before 2.33). A row
   * whose module does not load is left out of a run, saying so.
   */
  needs?: string
  /** Registers the variant's plugins on the app and returns its handlers. */
  setup: (app: FastifyInstance) => Promise<Handlers>
}

/** An ioredis client on `REDIS_URL`, connected before it is used, and closed with the app. */
async function redisClient (app: FastifyInstance): Promise<import('ioredis').Redis> {
  const { Redis } = await import('ioredis')
  const client = new Redis(process.env.REDIS_URL as string, { lazyConnect: true })
  await client.connect()
  app.addHook('onClose', async () => { await client.quit() })
  return client
}

/** Targets a row must meet, each measured in the same run as what it compares with. */
export interface Targets {
  /** Server CPU µs per request above bare Fastify, at most, per route. */
  excess?: Partial<Record<Route, number>>
  /**
   * req/s divided by another row's, at least, on these routes: a peer's,
   * or another row of this plugin's (the same row without an option, so
   * that `min: 0.95` reads "within 5% of it"). `min: 0` asks for the
   * ratio only, as a cost reported beside the other row.
   */
  ratios?: Array<{ peer: string, min: number, routes: Route[] }>
}

/** A 32-byte key used by every variant that needs one. */
const SECRET = 'fastify-typed-session bench key!'

/** The session API shared by the peer plugins. */
interface PeerSession {
  get: (key: string) => unknown
  set: (key: string, value: unknown) => void
}

function peerSession (request: FastifyRequest): PeerSession {
  return (request as unknown as { session: PeerSession }).session
}

async function load<T> (specifier: string): Promise<T> {
  return await import(specifier) as T
}

type AnyPlugin = { default: FastifyPluginCallback<Record<string, unknown>> }

function count (value: unknown): number {
  return typeof value === 'number' ? value : 0
}

/**
 * How much `/write` adds: 1, or N for `/write?by=N`. The harness uses `by`
 * only on the request that starts a session, so that no two sessions hold
 * the same counter. Two signed cookies with the same data made in the same
 * second are the same string, so sessions that all start at 1 would share
 * cookies across connections, and a cache of verified cookies would hit
 * where a real client's cookie would miss.
 */
export function step (request: FastifyRequest): number {
  const by = (request.query as { by?: string }).by
  return by === undefined ? 1 : Number(by)
}

/** The routes of a peer whose `request.session` has `get` and `set`. */
const PEER_HANDLERS: Handlers = {
  read: (request) => String(count(peerSession(request).get('counter'))),
  write: (request) => {
    const n = count(peerSession(request).get('counter')) + step(request)
    peerSession(request).set('counter', n)
    return String(n)
  }
}

/** The naive HMAC-SHA256 cookie session, in a few lines: decoded eagerly, on every request. */
async function naiveHmac (app: FastifyInstance): Promise<Handlers> {
  const { default: cookie } = await import('@fastify/cookie')
  await app.register(cookie)
  type Naive = { data: Record<string, unknown>, changed: boolean }
  const naive = (request: FastifyRequest): Naive => (request as unknown as { naive: Naive }).naive
  const sign = (payload: string): string => createHmac('sha256', SECRET).update(payload).digest('base64url')
  app.decorateRequest('naive', null)
  app.addHook('onRequest', (request, _reply, done) => {
    let data: Record<string, unknown> = {}
    const raw = request.cookies.naive
    const dot = raw === undefined ? -1 : raw.lastIndexOf('.')
    if (raw !== undefined && dot > 0) {
      const payload = raw.slice(0, dot)
      const given = Buffer.from(raw.slice(dot + 1))
      const expected = Buffer.from(sign(payload))
      if (given.length === expected.length && timingSafeEqual(given, expected)) {
        data = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>
      }
    }
    (request as unknown as { naive: Naive }).naive = { data, changed: false }
    done()
  })
  app.addHook('onSend', (request, reply, payload, done) => {
    const session = naive(request)
    if (session.changed) {
      const body = Buffer.from(JSON.stringify(session.data)).toString('base64url')
      reply.setCookie('naive', `${body}.${sign(body)}`, { path: '/', httpOnly: true, sameSite: 'lax' })
    }
    done(null, payload)
  })
  return {
    read: (request) => String(count(naive(request).data.counter)),
    write: (request) => {
      const session = naive(request)
      const n = count(session.data.counter) + step(request)
      session.data.counter = n
      session.changed = true
      return String(n)
    }
  }
}

/** A row of this plugin: `typed-NAME`, registered with `options`. */
function typed (name: string, label: string, options: (app: FastifyInstance) => Promise<Partial<TypedSessionOptions>>, state: Variant['state'], targets: Targets, redis = false): Variant {
  return {
    name: `typed-${name}`,
    label: `this plugin, ${label}`,
    state,
    peer: false,
    ours: true,
    targets,
    redis,
    async setup (app) {
      const { default: typedSession } = await import('../lib/index.js')
      await app.register(typedSession, { secret: SECRET, ...await options(app) })
      return {
        read: (request) => String(request.session.get('counter') ?? 0),
        write: (request) => {
          const n = (request.session.get('counter') ?? 0) + step(request)
          request.session.set('counter', n)
          return String(n)
        }
      }
    }
  }
}

/**
 * The session schema of `typed-signed-schema`: a TypeBox object of five
 * keys, the counter that the routes use and four optional keys of the
 * kinds an app keeps (an object, a string union, a string, a number), with
 * no other key allowed. The sessions hold only the counter, as
 * `typed-signed`'s do, so the two rows differ by the schema's checks alone.
 * TypeBox is loaded by this row only: the other rows' servers, and their
 * heaps, stay as they are.
 */
export async function benchSchema (): Promise<object> {
  const { Type } = await import('typebox')
  return Type.Object({
    counter: Type.Integer({ minimum: 0 }),
    user: Type.Optional(Type.Object({ id: Type.String(), name: Type.String() }, { additionalProperties: false })),
    role: Type.Optional(Type.Union([Type.Literal('admin'), Type.Literal('editor'), Type.Literal('viewer')])),
    theme: Type.Optional(Type.String({ maxLength: 32 })),
    lastSeen: Type.Optional(Type.Number())
  }, { additionalProperties: false })
}

/**
 * A row whose `/write` first calls `start` on a session that has no
 * counter yet (the harness's first `/write`, which starts the session).
 */
function onSessionStart (variant: Variant, start: (request: FastifyRequest) => void): Variant {
  return {
    ...variant,
    async setup (app) {
      const { read, write } = await variant.setup(app)
      return {
        read,
        write: (request, reply) => {
          if (request.session.get('counter') === undefined) start(request)
          return write(request, reply)
        }
      }
    }
  }
}

/** A row whose sessions are permanent from their start, so that `/read` refreshes them as `refreshAfter` says. */
function permanentSessions (variant: Variant): Variant {
  return onSessionStart(variant, (request) => { request.session.permanent = true })
}

/**
 * The length of `typed-signed-3chunks`'s padding: random base64, which
 * the signed format's deflate cannot shrink, so that the sealed value is
 * about 10,000 characters, in the middle of three chunks of about 4,040
 * at the default `maxCookieSize` (two hold up to about 8,090, three up to
 * about 12,130), whatever digits the counter has.
 */
export const PADDING = 10_000

/**
 * A row whose `/write` also puts `PADDING` characters of random base64 in
 * the session when it starts: each session has its own, as real data would be.
 */
function padded (variant: Variant): Variant {
  return onSessionStart(variant, (request) => { request.session.set('padding', randomBytes(PADDING * 3 / 4).toString('base64')) })
}

/**
 * A row whose `/write` also puts a user id in the session when it starts
 * (the harness's first `/write`): 12 random characters, so that each
 * session, as each connection, has a user of its own.
 */
function withUser (variant: Variant): Variant {
  return onSessionStart(variant, (request) => { request.session.set('userId', randomBytes(9).toString('base64url')) })
}

/** The rows. Add a format or a store of this plugin as one more row. */
export const VARIANTS: readonly Variant[] = [
  {
    name: 'bare',
    label: 'bare Fastify (no cookies)',
    state: 'server',
    peer: false,
    ours: false,
    async setup () {
      const counters = new Map<string, number>()
      return {
        read: () => '1',
        write: (request) => {
          const id = request.headers.cookie ?? ''
          const n = (counters.get(id) ?? 0) + step(request)
          counters.set(id, n)
          return String(n)
        }
      }
    }
  },
  {
    name: 'cookie-signed',
    label: '`@fastify/cookie` signed cookie',
    state: 'cookie',
    peer: true,
    ours: false,
    async setup (app) {
      const { default: cookie } = await import('@fastify/cookie')
      await app.register(cookie, { secret: SECRET })
      const read = (request: FastifyRequest): number => {
        const raw = request.cookies.counter
        if (raw === undefined) return 0
        const unsigned = request.unsignCookie(raw)
        return unsigned.valid ? Number(unsigned.value) : 0
      }
      return {
        read: (request) => String(read(request)),
        write: (request, reply) => {
          const n = read(request) + step(request)
          reply.setCookie('counter', String(n), { signed: true, path: '/', httpOnly: true, sameSite: 'lax' })
          return String(n)
        }
      }
    }
  },
  {
    name: 'secure-session',
    label: '`@fastify/secure-session`',
    state: 'cookie',
    peer: true,
    ours: false,
    needs: 'sodium-native',
    async setup (app) {
      const { default: secureSession } = await load<AnyPlugin>('@fastify/secure-session')
      await app.register(secureSession, { key: Buffer.from(SECRET), cookie: { path: '/', httpOnly: true, sameSite: 'lax' } })
      return PEER_HANDLERS
    }
  },
  {
    name: 'fastify-session',
    label: '`@fastify/session` (memory store)',
    state: 'server',
    peer: true,
    ours: false,
    async setup (app) {
      const { default: cookie } = await import('@fastify/cookie')
      const { default: session } = await load<AnyPlugin>('@fastify/session')
      await app.register(cookie)
      await app.register(session, { secret: SECRET, cookie: { secure: false, path: '/', httpOnly: true, sameSite: 'lax' } })
      return PEER_HANDLERS
    }
  },
  {
    name: 'naive-hmac',
    label: 'naive HMAC-SHA256 JSON cookie (reference)',
    state: 'cookie',
    peer: true,
    ours: false,
    setup: naiveHmac
  },
  {
    name: 'fastify-session-redis',
    label: '`@fastify/session` with `connect-redis` (ioredis)',
    state: 'server',
    peer: true,
    ours: false,
    redis: true,
    async setup (app) {
      const { default: cookie } = await import('@fastify/cookie')
      const { default: session } = await load<AnyPlugin>('@fastify/session')
      const { default: RedisStore } = await load<{ default: new (options: object) => object }>('connect-redis')
      await app.register(cookie)
      await app.register(session, {
        secret: SECRET,
        store: new RedisStore({ client: await redisClient(app) }),
        cookie: { secure: false, path: '/', httpOnly: true, sameSite: 'lax' }
      })
      return PEER_HANDLERS
    }
  },
  // Issue 3.
  typed('signed', "`format: 'signed'`", async () => ({ format: 'signed' }), 'cookie', {
    excess: { read: 3, write: 7, untouched: 1.5 },
    ratios: [{ peer: 'secure-session', min: 1.3, routes: ['read', 'write'] }]
  }),
  // Issue 25: sessions that carry a user id, without revocation (the cost of
  // the id, beside typed-signed) and with it on RedisStore (within 5% on
  // /read of the same sessions without it).
  withUser(typed('signed-user', "`format: 'signed'`, sessions holding the counter and a user id (`userId`, 12 characters)",
    async () => ({ format: 'signed' }), 'cookie', {
      ratios: [{ peer: 'typed-signed', min: 0, routes: ['read', 'write'] }]
    })),
  withUser(typed('signed-revocation', "`format: 'signed'`, `revocation` on `RedisStore` (`cacheSeconds: 5`, `userKey: 'userId'`), `typed-signed-user`'s sessions",
    async (app) => {
      const { RedisStore } = await import('../lib/index.js')
      return { format: 'signed', revocation: { store: new RedisStore({ client: await redisClient(app) }), userKey: 'userId', cacheSeconds: 5 } }
    }, 'cookie', {
      ratios: [{ peer: 'typed-signed-user', min: 0.95, routes: ['read'] }, { peer: 'typed-signed-user', min: 0, routes: ['write'] }]
    }, true)),
  // Issue 24: a session spanning three chunks, its cost given beside typed-signed.
  padded(typed('signed-3chunks', `\`format: 'signed'\`, \`maxChunks: 4\`, sessions of three cookies (the counter and ${PADDING.toLocaleString('en-US')} characters of random base64 set when the session starts)`,
    async () => ({ format: 'signed', maxChunks: 4 }), 'cookie', {
      ratios: [{ peer: 'typed-signed', min: 0, routes: ['read', 'write'] }]
    })),
  // Issue 23: the same sessions as typed-signed's, checked against a schema
  // of five keys on load (once per cookie value) and on each save.
  typed('signed-schema', "`format: 'signed'` with a `schema` of five keys (a TypeBox object; the sessions hold only the counter, as `typed-signed`'s)",
    async () => ({ format: 'signed', schema: await benchSchema() }), 'cookie', {
      ratios: [{ peer: 'typed-signed', min: 0.95, routes: ['read'] }, { peer: 'typed-signed', min: 0.9, routes: ['write'] }]
    }),
  // Issue 24: maxChunks 4 with typed-signed's one-cookie sessions (the
  // chunk lookup is skipped unless the cookie's head says it is chunked),
  // within 3% of typed-signed on /read and /write.
  typed('signed-chunks4', "`format: 'signed'`, `maxChunks: 4` (the sessions hold only the counter, in one cookie, as `typed-signed`'s)",
    async () => ({ format: 'signed', maxChunks: 4 }), 'cookie', {
      ratios: [{ peer: 'typed-signed', min: 0.97, routes: ['read', 'write'] }]
    }),
  // Issue 4.
  typed('encrypted', "`format: 'encrypted'`", async () => ({ format: 'encrypted' }), 'cookie', {
    ratios: [{ peer: 'secure-session', min: 1.2, routes: ['write'] }]
  }),
  typed('flask', "`format: 'flask'`", async () => ({ format: 'flask' }), 'cookie', {}),
  // Issue 5.
  typed('memory', '`MemoryStore`', async () => {
    const { MemoryStore } = await import('../lib/index.js')
    return { store: new MemoryStore() }
  }, 'server', { ratios: [{ peer: 'fastify-session', min: 2, routes: ['read', 'write'] }] }),
  typed('redis', '`RedisStore` (ioredis)', async (app) => {
    const { RedisStore } = await import('../lib/index.js')
    return { store: new RedisStore({ client: await redisClient(app) }) }
  }, 'server', { ratios: [{ peer: 'fastify-session-redis', min: 1.3, routes: ['write'] }] }, true),
  // Issue 25: a permanent session's /read, re-issued on every response
  // (refreshAfter 0, as Flask does) or once a minute (refreshAfter 60, at
  // least 1.3x the req/s), in signed-cookie mode and on RedisStore.
  permanentSessions(typed('signed-permanent', "`format: 'signed'`, permanent sessions (re-issued on every response)",
    async () => ({ format: 'signed' }), 'cookie', {})),
  permanentSessions(typed('signed-refresh60', "`format: 'signed'`, permanent sessions, `refreshAfter: 60`",
    async () => ({ format: 'signed', refreshAfter: 60 }), 'cookie', {
      ratios: [{ peer: 'typed-signed-permanent', min: 1.3, routes: ['read'] }]
    })),
  permanentSessions(typed('redis-permanent', '`RedisStore` (ioredis), permanent sessions (re-issued, and their TTL extended, on every response)', async (app) => {
    const { RedisStore } = await import('../lib/index.js')
    return { store: new RedisStore({ client: await redisClient(app) }) }
  }, 'server', {}, true)),
  permanentSessions(typed('redis-refresh60', '`RedisStore` (ioredis), permanent sessions, `refreshAfter: 60`', async (app) => {
    const { RedisStore } = await import('../lib/index.js')
    return { store: new RedisStore({ client: await redisClient(app) }), refreshAfter: 60 }
  }, 'server', { ratios: [{ peer: 'typed-redis-permanent', min: 1.3, routes: ['read'] }] }, true))
]

/**
 * The order in which the variants take turns within a round: each row of
 * this plugin that has targets sits next to the rows they compare it with
 * (`bare` for the CPU excess, then the peers of its ratios), so that the
 * windows of a compared pair run back to back; the other rows follow in
 * the table's order. `typed-signed` goes between bare and
 * `@fastify/secure-session`, the two rows it is compared with. A row whose
 * first partner is already placed goes right after it, so the last such
 * row of the table sits closest: `typed-signed-chunks4` (within 3%, the
 * narrowest criterion of the run, and the machine drifts over seconds),
 * then `typed-signed-schema` (5% and 10%), then `typed-signed-3chunks`
 * (a ratio without a criterion, first of the three in the table, beside
 * `typed-signed`), then `typed-signed-user` and, right after its
 * partner, `typed-signed-revocation` (within 5%), placed first as they
 * come first in the table, all between `typed-signed` and
 * `@fastify/secure-session`, whereas `typed-signed`'s criteria against
 * the peer leave room for windows in between.
 */
export function runOrder (variants: readonly Variant[]): Variant[] {
  const order: Variant[] = []
  const place = (variant: Variant | undefined): void => {
    if (variant !== undefined && !order.includes(variant)) order.push(variant)
  }
  const named = (name: string): Variant | undefined => variants.find((v) => v.name === name)
  for (const variant of variants) {
    const targets = variant.targets ?? {}
    const partners = [...(targets.excess === undefined ? [] : ['bare']), ...(targets.ratios ?? []).map((r) => r.peer)]
    if (partners.length === 0) continue
    const first = named(partners[0] as string)
    if (first !== undefined && order.includes(first) && !order.includes(variant)) {
      order.splice(order.indexOf(first) + 1, 0, variant)
    } else {
      place(first)
      place(variant)
    }
    for (const partner of partners.slice(1)) place(named(partner))
  }
  for (const variant of variants) place(variant)
  return order
}

/** Whether a module loads in this process. */
function loads (specifier: string): boolean {
  try {
    createRequire(import.meta.url)(specifier)
    return true
  } catch {
    return false
  }
}

/**
 * Finds the rows named in a comma-separated list, in the table's order, or
 * all of them. A row whose `needs` does not load is an error when it was
 * named, and is left out of "all" with a line on stderr.
 */
export function selectVariants (names: string | undefined): Variant[] {
  const all = names === undefined || names === ''
  const wanted = all ? VARIANTS.map((v) => v.name) : names.split(',').map((name) => name.trim())
  for (const name of wanted) {
    if (!VARIANTS.some((v) => v.name === name)) {
      throw new Error(`Unknown variant ${JSON.stringify(name)}; expected one of ${VARIANTS.map((v) => v.name).join(', ')}`)
    }
  }
  const chosen = VARIANTS.filter((v) => wanted.includes(v.name))
  const missing = chosen.filter((v) => v.needs !== undefined && !loads(v.needs))
  for (const variant of missing) {
    const why = `${variant.name} needs ${variant.needs as string}, which is not installed or does not load here`
    if (!all) throw new Error(`The variant ${why}`)
    process.stderr.write(`Skipping ${why}\n`)
  }
  return chosen.filter((v) => !missing.includes(v))
}
