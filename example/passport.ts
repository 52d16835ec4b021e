/**
 * `@fastify/passport` on this plugin's session: a username and password
 * login (passport-local), a page only a logged-in user sees, and logout.
 *
 * Passport's two plugins are registered at the root, as its README shows,
 * after the session plugin: `initialize()` (which brings `@fastify/flash`
 * for `request.flash`) and `secureSession()` (which restores the user from
 * the session on each request). Passport keeps the user's id in the session
 * under the key `passport`; a login starts the session afresh (a new id in
 * store mode), keeping none of the keys set before it.
 */
// First: @fastify/passport's types bring in @fastify/secure-session's request.session, and TypeScript keeps the first one it reads.
// In your app: import typedSession, { type SessionStore, type TypedSessionOptions } from 'fastify-typed-session'
import typedSession, { type SessionStore, type TypedSessionOptions } from '../lib/index.js'
import formbody from '@fastify/formbody'
import { Authenticator } from '@fastify/passport'
import Fastify, { type FastifyInstance } from 'fastify'
import { Strategy as LocalStrategy } from 'passport-local'

declare module '../lib/index.js' {
  interface SessionData {
    /** What the serializer below stores: the user's id. */
    passport: string
  }
}

declare module 'fastify' {
  interface PassportUser {
    id: string
    username: string
  }
}

/** A user, as the app's database would return it. */
interface User {
  id: string
  username: string
  password: string
}

/** The app's users. A real app looks them up in its database and checks a password hash. */
export const users = new Map<string, User>([
  ['1', { id: '1', username: 'ada', password: 'lovelace' }]
])

function findByName (username: string): User | undefined {
  for (const user of users.values()) if (user.username === username) return user
  return undefined
}

function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** Options of `build()`. */
export interface PassportExampleOptions {
  /** The session key or keys (the plugin's `secret` option). */
  secret: TypedSessionOptions['secret']
  /** A server-side store (the plugin's `store` option). @default none: the session lives in the cookie */
  store?: SessionStore
}

/** Builds the app (not started: call `listen()` or `inject()`). */
export function build ({ secret, store }: PassportExampleOptions): FastifyInstance {
  const app = Fastify()
  // One Authenticator per app; `import fastifyPassport from '@fastify/passport'` is a shared one.
  // A login keeps only the listed keys of the session: `flash` (@fastify/flash's messages)
  // is listed so that the successFlash queued just before it reaches the next page.
  const passport = new Authenticator({ clearSessionIgnoreFields: ['flash'] })

  app.register(formbody)
  app.register(typedSession, store === undefined ? { secret } : { secret, store })
  app.register(passport.initialize())
  app.register(passport.secureSession())

  passport.use('local', new LocalStrategy((username, password, done) => {
    const user = findByName(username)
    done(null, user !== undefined && user.password === password ? { id: user.id, username: user.username } : false)
  }))
  passport.registerUserSerializer(async (user: { id: string }) => user.id)
  // A user who no longer exists is logged out (null).
  passport.registerUserDeserializer(async (id: string) => {
    const user = users.get(id)
    return user === undefined ? null : { id: user.id, username: user.username }
  })

  // The login form, with passport's failure message (`reply.flash`, from @fastify/flash)
  // and the session's own flashed messages.
  app.get('/login', async (request, reply) => {
    const messages = [...reply.flash('error') as string[], ...request.session.getFlashedMessages()]
    return reply.type('text/html; charset=utf-8').send(`<!doctype html>
<title>Log in</title>
${messages.map((m) => `<p class="flash">${escapeHtml(m)}</p>`).join('\n')}
<form method="post" action="/login">
<p><label>Username <input name="username" required></label></p>
<p><label>Password <input name="password" type="password" required></label></p>
<p><button type="submit">Log in</button></p>
</form>`)
  })

  app.post('/login', {
    preValidation: passport.authenticate('local', {
      successRedirect: '/',
      successFlash: 'Welcome back',
      failureRedirect: '/login',
      failureFlash: 'Invalid username or password'
    })
  }, async () => {})

  // Only for a logged-in user.
  app.get('/', async (request, reply) => {
    const user = request.user
    if (user == null) return reply.redirect('/login')
    const messages = reply.flash('success') as string[]
    return reply.type('text/html; charset=utf-8').send(`<!doctype html>
<title>Home</title>
${messages.map((m) => `<p class="flash">${escapeHtml(m)}</p>`).join('\n')}
<p>Logged in as ${escapeHtml(user.username)}</p>
<form method="post" action="/logout"><button type="submit">Log out</button></form>`)
  })

  app.post('/logout', async (request, reply) => {
    await request.logOut()
    request.session.flash('You were logged out')
    return reply.redirect('/login')
  })

  return app
}
