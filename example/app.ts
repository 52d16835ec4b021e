/**
 * The session example of Flask's quickstart, ported to Fastify:
 * https://flask.palletsprojects.com/en/stable/quickstart/#sessions
 *
 * On top of the quickstart: a "remember me" box that makes the session
 * permanent, a flash message after login (Flask's "Message Flashing"
 * pattern), and a list kept in the session, changed in place, which shows
 * that nested changes are saved without setting `modified` by hand.
 */
import formbody from '@fastify/formbody'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
// In your app: import typedSession, { type TypedSessionOptions } from 'fastify-typed-session'
import typedSession, { type SessionStore, type TypedSessionOptions } from '../lib/index.js'

// The session's keys and value types: `request.session` is typed from these.
declare module '../lib/index.js' {
  interface SessionData {
    username: string
    items: string[]
  }
}

/** Options of `buildApp()`. */
export interface ExampleOptions {
  /** The session key or keys (the plugin's `secret` option). */
  secret: TypedSessionOptions['secret']
  /** Fastify's logger option. @default no logger */
  logger?: FastifyServerOptions['logger']
  /** A server-side store (the plugin's `store` option). @default none: the session lives in the cookie */
  store?: SessionStore
}

/** The longest username, in characters. */
export const MAX_NAME = 64
/** The longest list item, in characters. */
export const MAX_ITEM = 100
/** The largest list, in bytes of JSON: it keeps the cookie below the 4 KB a browser keeps. */
export const MAX_LIST_BYTES = 2000

interface LoginBody { username?: string, remember?: string }
interface ListBody { item?: string }

const loginSchema = {
  body: { type: 'object', properties: { username: { type: 'string' }, remember: { type: 'string' } } }
}
const listSchema = {
  body: { type: 'object', properties: { item: { type: 'string' } } }
}

/** Escapes text for HTML content and quoted attribute values. */
export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** Sends a page: the flashed messages (shown once, then gone), then the body. */
export function page (request: FastifyRequest, reply: FastifyReply, title: string, body: string): FastifyReply {
  // Flask's "Message Flashing" pattern: the layout template shows the messages.
  const flashes = request.session.getFlashedMessages({ withCategories: true })
    .map(([category, message]) => `<li class="${escapeHtml(category)}">${escapeHtml(message)}</li>`)
    .join('')
  return reply.type('text/html; charset=utf-8').send(`<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>${title}</title>
${flashes === '' ? '' : `<ul class="flashes">${flashes}</ul>\n`}${body}
`)
}

/** Builds the example app (not started: call `listen()` or `inject()`). */
export function buildApp ({ secret, logger, store }: ExampleOptions): FastifyInstance {
  const app = Fastify(logger === undefined ? {} : { logger })
  app.register(formbody)
  app.register(typedSession, store === undefined ? { secret } : { secret, store })

  // Quickstart, "Sessions": index() says who is logged in.
  app.get('/', async (request, reply) => {
    const username = request.session.get('username')
    const body = username === undefined
      ? '<p>You are not logged in</p>\n<p><a href="/login">Log in</a> | <a href="/list">Your list</a></p>'
      : `<p>Logged in as ${escapeHtml(username)}</p>\n<p><a href="/list">Your list</a> | <a href="/logout">Log out</a></p>`
    return page(request, reply, 'Home', body)
  })

  // Quickstart, "Sessions": login() on GET shows the form (plus "remember me").
  app.get('/login', async (request, reply) => {
    return page(request, reply, 'Log in', `<form method="post" action="/login">
<p><label>Username <input type="text" name="username" maxlength="${MAX_NAME}" required autofocus></label></p>
<p><label><input type="checkbox" name="remember" value="1"> Remember me</label></p>
<p><button type="submit">Log in</button></p>
</form>
<p><a href="/">Home</a></p>`)
  })

  // Quickstart, "Sessions": login() on POST stores the username and redirects to the index.
  // "Remember me" is Flask's `session.permanent = True` (PERMANENT_SESSION_LIFETIME, 31 days);
  // the flash is Flask's "Message Flashing" pattern.
  app.post<{ Body: LoginBody }>('/login', { schema: loginSchema }, async (request, reply) => {
    const username = (request.body.username ?? '').trim()
    if (username === '' || username.length > MAX_NAME) {
      request.session.flash(`Please enter a username of 1 to ${MAX_NAME} characters`, 'error')
      return reply.redirect('/login')
    }
    // A new identity on login (in store mode, a new session id against fixation),
    // carrying over only the list made before it: nothing else from the anonymous session.
    await request.session.regenerate(['items'])
    request.session.set('username', username)
    request.session.permanent = request.body.remember !== undefined
    request.session.flash('You were logged in')
    return reply.redirect('/')
  })

  // Quickstart, "Sessions": logout() removes the username from the session if it's there.
  app.get('/logout', async (request, reply) => {
    request.session.pop('username', undefined)
    // Ours: forget the rest too (the list, unread flashes), so the session's cookie is deleted.
    request.session.clear()
    return reply.redirect('/')
  })

  // Flask API docs, `session.modified`: a list kept in the session.
  app.get('/list', async (request, reply) => {
    const items = request.session.get('items', [])
    const list = items.length === 0
      ? '<p>The list is empty.</p>'
      : `<ol>\n${items.map((item) => `<li>${escapeHtml(item)}</li>`).join('\n')}\n</ol>`
    return page(request, reply, 'Your list', `<h1>Your list</h1>
${list}
<form method="post" action="/list">
<p><label>Item <input type="text" name="item" maxlength="${MAX_ITEM}" required autofocus></label>
<button type="submit">Add</button></p>
</form>
<p><a href="/">Home</a></p>`)
  })

  // Flask API docs, `session.modified`: Flask misses `session['items'].append(item)` unless
  // the view sets `session.modified = True`. Here the in-place change is saved as it is.
  app.post<{ Body: ListBody }>('/list', { schema: listSchema }, async (request, reply) => {
    const item = (request.body.item ?? '').trim()
    const items = request.session.get('items', [])
    if (item === '' || item.length > MAX_ITEM) {
      request.session.flash(`Please enter an item of 1 to ${MAX_ITEM} characters`, 'error')
    } else if (Buffer.byteLength(JSON.stringify([...items, item])) > MAX_LIST_BYTES) {
      request.session.flash('The list is full: a session cookie holds about 4 KB', 'error')
    } else {
      if (!request.session.has('items')) request.session.set('items', [])
      request.session.get('items')!.push(item)
    }
    return reply.redirect('/list')
  })

  return app
}
