/**
 * `@fastify/oauth2` 8 with its state kept in this plugin's session, through
 * `generateStateFunction` (`session.set`) and `checkStateFunction`
 * (`session.pop`, so a state is used once), against a small fake OAuth
 * provider listening on a free loopback port, so that the whole flow runs:
 * the redirect to the authorize URL, then the callback and the token
 * exchange.
 */
import formbody from '@fastify/formbody'
import oauth2, { type OAuth2Namespace } from '@fastify/oauth2'
import { randomBytes } from 'node:crypto'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import t, { type Test } from 'tap'
import { build } from './helpers/build.js'
import { browser, type Browser } from './helpers/jar.js'

declare module '../lib/index.js' {
  interface SessionData {
    oauthState: string
    accessToken: string
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    fake: OAuth2Namespace
  }
}

/** The fake provider: a token endpoint that turns any code into a token, and counts its calls. */
async function provider (t: Test): Promise<{ base: string, exchanges: Array<Record<string, string>> }> {
  const exchanges: Array<Record<string, string>> = []
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(formbody)
  app.post<{ Body: Record<string, string> }>('/token', async (request) => {
    exchanges.push(request.body)
    return { access_token: `token-for-${request.body.code}`, token_type: 'Bearer', expires_in: 3600 }
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address')
  return { base: `http://127.0.0.1:${address.port}`, exchanges }
}

function queryState (request: FastifyRequest): unknown {
  return (request.query as Record<string, unknown>).state
}

/** The app: this plugin, then oauth2 with the state in the session, and its callback route. */
async function app (t: Test, providerBase: string, generateStateFunction?: (request: FastifyRequest) => string): Promise<FastifyInstance> {
  const app = await build({}, (app) => {
    app.register(oauth2, {
      name: 'fake',
      credentials: {
        client: { id: 'client-id', secret: 'client-secret' },
        auth: { authorizeHost: 'https://provider.example', authorizePath: '/authorize', tokenHost: providerBase, tokenPath: '/token' }
      },
      startRedirectPath: '/login/fake',
      callbackUri: 'http://localhost/login/fake/callback',
      generateStateFunction: generateStateFunction ?? ((request) => {
        const state = randomBytes(16).toString('base64url')
        request.session.set('oauthState', state)
        return state
      }),
      // pop: a state is good for one callback, whatever the outcome.
      checkStateFunction: (request) => {
        const expected = request.session.pop('oauthState', undefined)
        return expected !== undefined && expected === queryState(request)
      }
    })
    app.get('/login/fake/callback', async (request, reply) => {
      try {
        const { token } = await app.fake.getAccessTokenFromAuthorizationCodeFlow(request, reply)
        request.session.set('accessToken', token.access_token)
        return { loggedIn: true }
      } catch (err) {
        return await reply.code(403).send({ error: (err as Error).message })
      }
    })
  })
  t.teardown(() => app.close())
  return app
}

/** Follows the start route, and returns the state that the authorize URL carries. */
async function startFlow (t: Test, b: Browser): Promise<string> {
  const res = await b.get('/login/fake')
  t.equal(res.statusCode, 302)
  const location = new URL(res.headers.location as string)
  t.equal(location.origin + location.pathname, 'https://provider.example/authorize')
  t.equal(location.searchParams.get('client_id'), 'client-id')
  t.equal(location.searchParams.get('redirect_uri'), 'http://localhost/login/fake/callback')
  return location.searchParams.get('state') as string
}

t.test('the start route redirects to the authorize URL with the state kept in the session', async (t) => {
  const fake = await provider(t)
  const a = await app(t, fake.base)
  const b = browser(a)
  const state = await startFlow(t, b)
  t.match(state, /^[\w-]{22}$/)
  const session = await a.sessions.decode(b.cookies.get('session') as string)
  t.equal(session?.get('oauthState'), state)
})

t.test('the callback with the right state is accepted, exchanges the code, and uses the state up', async (t) => {
  const fake = await provider(t)
  const b = browser(await app(t, fake.base))
  const state = await startFlow(t, b)
  const res = await b.get(`/login/fake/callback?code=abc&state=${state}`)
  t.equal(res.statusCode, 200)
  t.same(res.json(), { loggedIn: true })
  t.equal(fake.exchanges.length, 1)
  t.equal(fake.exchanges[0]?.code, 'abc')

  const replay = await b.get(`/login/fake/callback?code=abc&state=${state}`)
  t.equal(replay.statusCode, 403, 'a state is good once')
  t.same(replay.json(), { error: 'Invalid state' })
  t.equal(fake.exchanges.length, 1)
})

t.test('a wrong state is rejected before any token request, and uses the state up', async (t) => {
  const fake = await provider(t)
  const b = browser(await app(t, fake.base))
  const state = await startFlow(t, b)
  const res = await b.get('/login/fake/callback?code=abc&state=forged')
  t.equal(res.statusCode, 403)
  t.same(res.json(), { error: 'Invalid state' })
  const late = await b.get(`/login/fake/callback?code=abc&state=${state}`)
  t.equal(late.statusCode, 403, 'the right state after a wrong one is refused too')
  t.equal(fake.exchanges.length, 0)
})

t.test('a missing state, or a callback without the session that started the flow, is rejected', async (t) => {
  const fake = await provider(t)
  const a = await app(t, fake.base)
  const b = browser(a)
  const state = await startFlow(t, b)
  const missing = await b.get('/login/fake/callback?code=abc')
  t.equal(missing.statusCode, 403)

  const stranger = browser(a)
  const state2 = await startFlow(t, b)
  const noSession = await stranger.get(`/login/fake/callback?code=abc&state=${state2}`)
  t.equal(noSession.statusCode, 403, "another browser cannot complete this browser's flow")
  t.not(state, state2)
  t.equal(fake.exchanges.length, 0)
})

t.test("oauth2's @fastify/session pattern, request.session.state = state, throws a TypeError instead of being dropped", async (t) => {
  const fake = await provider(t)
  let thrown: unknown
  const a = await app(t, fake.base, (request) => {
    const state = randomBytes(16).toString('base64url')
    try {
      // @ts-expect-error: `state` is not a member of the session; data goes through set().
      request.session.state = state
    } catch (err) {
      thrown = err
      throw err
    }
    return state
  })
  const res = await a.inject({ method: 'GET', url: '/login/fake' })
  t.type(thrown, TypeError)
  t.match((thrown as Error | undefined)?.message, /"state"/, 'naming the property')
  t.equal(res.statusCode, 500, 'no redirect with a state that would never be checked')
  t.equal(res.headers['set-cookie'], undefined, 'and no session cookie')
})
