/**
 * fastify-typed-session: Flask's session model for Fastify 5.
 *
 * Registers `request.session` (opened in an `onRequest` hook, saved in an
 * `onSend` hook) and `app.sessions`. Flash messages are methods of the
 * session (`request.session.flash()`, `request.session.getFlashedMessages()`),
 * not request decorators: `request.flash` belongs to `@fastify/flash`, which
 * `@fastify/passport` registers. The steps, top to bottom: check the options, take
 * `@fastify/cookie`'s serializer (registering the plugin in a context of its
 * own if the app has not), build the codec and the policy, decorate, and add
 * the hooks.
 */
import fastifyCookie from '@fastify/cookie'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import fp from 'fastify-plugin'
import { encryptedCodec } from './codecs/encrypted.js'
import { flaskCodec } from './codecs/flask.js'
import { signedCodec } from './codecs/signed.js'
import { FST_ERR_SESSION_INVALID_OPTION } from './errors.js'
import { invalidOption } from './invalid-option.js'
import { CookieInterface, CookieWriter, runValidate, type SerializeCookie, type Validate } from './interface.js'
import { StoreInterface } from './store-interface.js'
import { normalizeOptions, type ResolvedOptions, type TypedSessionOptions } from './options.js'
import { Revocation } from './revocation.js'
import { compileSchema, DataRules } from './schema.js'
import type { CookieCodec } from './codecs/types.js'
import { Session, stateOf, type SessionData } from './session.js'
import type { SessionMode, SessionState } from './session-state.js'
import { kLog } from './stores/types.js'

export * from './errors.js'
export type { RevocationOptions, SessionCookieOptions, SessionFormat, SessionSecret, TypedSessionOptions } from './options.js'
export type { Session, SessionData } from './session.js'
export type { FlashFilter } from './flash.js'
export type { Flash } from './serialize.js'
export type { DestroyUserOptions, SessionStore, StoreChange, StoreRecord, UserIndex, UserIndexOptions, UserSession } from './stores/types.js'
export { MemoryStore, type MemoryStoreOptions } from './stores/memory.js'
export { RedisStore, type RedisStoreOptions } from './stores/redis.js'

/** Options of `app.sessions.encode()`. */
export interface EncodeOptions {
  /**
   * Make the session permanent.
   * @default false
   */
  permanent?: boolean
}

/** Sessions outside a request: in tests and WebSocket upgrades. */
export interface SessionTools {
  /** Returns a cookie value that carries `data`, as a response would set it. */
  encode (data: Partial<SessionData>, options?: EncodeOptions): Promise<string>
  /**
   * Returns the session in a cookie value, or `null` when it is not valid
   * (with `revocation`, also when its user was revoked after it was created).
   */
  decode (value: string): Promise<Session | null>
  /**
   * Ends every session of a user created until now (cookie mode with the
   * `revocation` option): on their next request they are empty, and their
   * cookie is deleted, in this process at once and in the others within
   * `cacheSeconds`. Resolves once a session created from then on is
   * accepted, so that a handler can call it and then `regenerate()` its
   * own session to stay logged in ("log out my other devices"). `user` is
   * the value of the sessions' `userKey`: a non-empty string or a number
   * (`42` and `'42'` are the same user); anything else rejects with
   * `FST_ERR_SESSION_INVALID_OPTION`, as does a call without the
   * `revocation` option. A store that fails rejects with
   * `FST_ERR_SESSION_STORE_UNAVAILABLE`.
   */
  revokeUser (user: string | number): Promise<void>
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's session, typed by `SessionData`. */
    session: Session<SessionData>
  }
  interface FastifyInstance {
    /** Sessions outside a request. */
    sessions: SessionTools
  }
  interface FastifyContextConfig {
    /**
     * `false`: the route never reads or sets the session cookie.
     * `'readonly'`: the route may read the session, but never sets its cookie
     * (a WebSocket route, `websocket: true`, is `'readonly'` by itself).
     * Writes throw `FST_ERR_SESSION_READONLY` in both.
     * @default undefined (read and write)
     */
    session?: false | 'readonly'
  }
}

/** The cookie format of the options, sealing values of their data version, opening values of up to `maxChunks` cookies. */
function codec ({ format, secrets, version, maxChunks }: ResolvedOptions): CookieCodec {
  if (format === 'signed') return signedCodec(secrets, version, maxChunks)
  return format === 'encrypted' ? encryptedCodec(secrets, undefined, version, maxChunks) : flaskCodec(secrets)
}

type ModeOf = (request: FastifyRequest) => SessionMode

/** Where the onRoute hook keeps a route's session mode, resolved once, in the route's config. */
const kMode = Symbol('fastify-typed-session.mode')
/** Marks a route that serves HTTP and WebSocket alike (`wsHandler`): its upgrade requests are read-only. */
const kUpgrade = Symbol('fastify-typed-session.upgrade')

interface RouteModes { [kMode]?: SessionMode | undefined, [kUpgrade]?: true }

function routeMode (request: FastifyRequest): SessionMode {
  const config = request.routeOptions.config as RouteModes
  if (config[kUpgrade] === true && isUpgrade(request)) return 'websocket'
  return config[kMode] ?? 'on'
}

/** A WebSocket upgrade request (RFC 6455 section 4.1: the Upgrade header names "websocket", in any case). */
function isUpgrade (request: FastifyRequest): boolean {
  const upgrade = request.headers.upgrade
  return typeof upgrade === 'string' && upgrade.toLowerCase() === 'websocket'
}

const plugin: FastifyPluginAsync<TypedSessionOptions> = async (fastify: FastifyInstance, given) => {
  const { options, warnings } = normalizeOptions(given)
  for (const warning of warnings) fastify.log.warn(warning)

  const serializeCookie = fastify.hasDecorator('serializeCookie') ? fastify.serializeCookie : await ownCookieSerializer(fastify)
  const writer = new CookieWriter(options, serializeCookie)
  const rules = new DataRules(options.version, options.schema === undefined ? undefined : compileSchema(fastify, options.schema), options.migrate)
  const policy = options.store === undefined
    ? new CookieInterface(options, codec(options), writer, rules)
    : new StoreInterface(options, options.store, writer, rules)
  const revocation = options.revocation === undefined ? undefined : new Revocation(options.revocation, options.maxAge)
  // A built-in store writes its debug lines (what it skips of a user's index) to the first app that registers it.
  const store = options.store as { [kLog]?: unknown } | undefined
  if (store !== undefined && kLog in store && store[kLog] === undefined) store[kLog] = fastify.log

  fastify.decorateRequest('session', null as unknown as Session)
  fastify.decorate('sessions', {
    async encode (data: Partial<SessionData>, { permanent = false }: EncodeOptions = {}): Promise<string> {
      return await policy.encode(data, permanent)
    },
    async decode (value: string): Promise<Session | null> {
      const session = await policy.decode(value, fastify.log)
      if (session === null || revocation === undefined) return session
      await revocation.check(stateOf(session))
      return session.new ? null : session
    },
    async revokeUser (user: string | number): Promise<void> {
      if (revocation === undefined) {
        throw invalidOption('revocation', "a revocation option, to call app.sessions.revokeUser() (in store mode, the store's destroyUser(user) ends a user's sessions)", undefined)
      }
      await revocation.revoke(user)
    }
  } satisfies SessionTools)

  // Until a route sets config.session, no request pays for reading its route options.
  let modeOf: ModeOf = () => 'on'
  fastify.addHook('onRoute', (route) => {
    const given: unknown = route.config?.session
    if (given !== undefined && given !== false && given !== 'readonly') {
      throw new FST_ERR_SESSION_INVALID_OPTION(`config.session of ${route.method} ${route.url}`, "false or 'readonly'",
        typeof given === 'string' ? JSON.stringify(given) : String(given))
    }
    // @fastify/websocket's options: an upgrade response has no onSend and carries no cookie, so a
    // `websocket: true` route is read-only, and so is the upgrade request of a route with a `wsHandler`
    // (its plain HTTP requests are answered by `handler`, and set cookies as usual).
    const ws = route as { websocket?: unknown, wsHandler?: unknown }
    const websocket = ws.websocket === true
    const upgrade = given !== false && !websocket && typeof ws.wsHandler === 'function'
    const mode: SessionMode | undefined = given === false ? 'off' : websocket ? 'websocket' : given === 'readonly' ? 'readonly' : undefined
    if (mode === undefined && !upgrade) return
    const modes: RouteModes = upgrade ? { [kMode]: mode, [kUpgrade]: true } : { [kMode]: mode }
    route.config = { ...route.config, ...modes } as NonNullable<typeof route.config>
    modeOf = routeMode
  })

  addHooks(fastify, policy, (request) => modeOf(request), options.validate, revocation)
}

/**
 * `@fastify/cookie`'s serializer, for an app that has not registered the
 * plugin: registered in a child context that holds no route, so the app
 * gets none of its decorators, and no request runs its `onSend` hook (which
 * serves `reply.setCookie`, which this plugin does not use). The app can
 * still register `@fastify/cookie` itself, before or after this plugin.
 */
async function ownCookieSerializer (fastify: FastifyInstance): Promise<SerializeCookie> {
  let serialize: SerializeCookie | undefined
  await fastify.register(async (own) => {
    await own.register(fastifyCookie, { hook: false })
    serialize = own.serializeCookie
  })
  return serialize as SerializeCookie
}

/** The session of a request whose onSend has not saved it yet, marking it saved. */
function unsaved (request: FastifyRequest): SessionState | undefined {
  const session = request.session
  // null when a hook before ours answered the request.
  if (session === null) return undefined
  const s = stateOf(session)
  if (s.saved) return undefined // onSend runs again for the error that a failed save sends
  s.saved = true
  return s
}

/**
 * The hooks of both modes. The session is opened in onRequest: at once in
 * cookie mode (nothing is verified until it is used, unless `revocation`
 * checks it before the handler runs), and in store mode once the store
 * has answered. It is saved in onSend. Without `validate` they are
 * callback hooks, so that a request whose open and save have nothing to
 * wait for (every request in cookie mode whose revocation answer is kept,
 * or on `MemoryStore`) pays no promise; a failure, at once or later,
 * becomes the error response.
 */
function addHooks (fastify: FastifyInstance, policy: CookieInterface | StoreInterface, modeOf: ModeOf, validate: Validate | undefined,
  revocation: Revocation | undefined): void {
  if (validate === undefined) {
    fastify.addHook('onRequest', (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
      const opened = policy.open(request, modeOf(request))
      if (opened instanceof Session) {
        request.session = opened
        const checked = revocation?.check(stateOf(opened))
        if (checked === undefined) done()
        else checked.then(() => { done() }, done)
      } else {
        opened.then((session) => {
          request.session = session
          done()
        }, done)
      }
    })
  } else {
    fastify.addHook('onRequest', async (request: FastifyRequest) => {
      request.session = await policy.open(request, modeOf(request))
      await revocation?.check(stateOf(request.session))
      await runValidate(validate, request, request.session)
    })
  }
  fastify.addHook('onSend', (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: Error | null, payload?: unknown) => void) => {
    const s = unsaved(request)
    let pending: Promise<void> | undefined
    try {
      pending = s === undefined ? undefined : policy.save(request, reply, s)
    } catch (err) {
      done(err as Error)
      return
    }
    if (pending === undefined) done(null, payload)
    else pending.then(() => { done(null, payload) }, done)
  })
}

/** The plugin. Register it with `app.register(typedSession, { secret })`. */
export const fastifyTypedSession = fp(plugin, { fastify: '5.x', name: 'fastify-typed-session' })
export default fastifyTypedSession
