/**
 * The Fastify half of the example: the account page, moved from the Flask
 * site (flask_app.py) to Fastify. Format 'flask' makes the session cookie
 * Flask's own, so the login made on Flask holds here, and what this app
 * writes (the visit counter, a flash, a logout) holds on Flask.
 */
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
// In your app: import typedSession, { type TypedSessionOptions } from 'fastify-typed-session'
import typedSession, { type TypedSessionOptions } from '../../lib/index.js'
import { escapeHtml, page } from '../app.js'

// The keys that both apps use. Flask's `session["visits"]` is a Python int: a number here.
declare module '../../lib/index.js' {
  interface SessionData {
    username: string
    visits: number
  }
}

/** Options of `buildApp()`. */
export interface InteropOptions {
  /** Flask's SECRET_KEY, then its SECRET_KEY_FALLBACKS. */
  secret: TypedSessionOptions['secret']
  /** Where the Flask app answers, for links and redirects. */
  flaskUrl: string
}

/** Builds the Fastify half (not started: call `listen()` or `inject()`). */
export function buildApp ({ secret, flaskUrl }: InteropOptions, fastifyOptions: FastifyServerOptions = {}): FastifyInstance {
  const app = Fastify(fastifyOptions)
  app.register(typedSession, {
    secret,
    format: 'flask',
    // Flask's PERMANENT_SESSION_LIFETIME, in seconds (31 days in flask_app.py).
    maxAge: 31 * 86400
  })

  app.get('/', async (request, reply) => {
    const username = request.session.get('username')
    if (username === undefined) {
      return page(request, reply, 'Account (Fastify)',
        `<p>You are not logged in</p>\n<p><a href="${flaskUrl}/login">Log in (Flask)</a></p>`)
    }
    const visits = request.session.get('visits', 0) + 1
    request.session.set('visits', visits)
    return page(request, reply, 'Account (Fastify)', `<p>Fastify: logged in as ${escapeHtml(username)}</p>
<p>Visits, counted by both apps: ${visits}</p>
<p>Remembered: ${request.session.permanent ? 'yes' : 'no'}</p>
<p><a href="${flaskUrl}/">Home (Flask)</a> | <a href="/logout">Log out (Fastify)</a></p>`)
  })

  // A logout here logs the user out of Flask too: the cookie is theirs in common.
  app.get('/logout', async (request, reply) => {
    request.session.clear()
    request.session.flash('You were logged out by Fastify')
    return reply.redirect(`${flaskUrl}/`)
  })

  return app
}
