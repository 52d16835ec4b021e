/**
 * Flask's quickstart session example, ported to Fastify
 * (https://flask.palletsprojects.com/en/stable/quickstart/#sessions), with a
 * "remember me" box (a permanent session), a flash message after login, a
 * list kept in the session and changed in place, and, in store mode, a
 * "your devices" page that lists the user's sessions and ends them.
 */
import formbody from '@fastify/formbody'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import typedSession, { type SessionStore, type TypedSessionOptions, type UserIndex, type UserSession } from 'fastify-typed-session'
import { Type, type Static } from 'typebox'

/** The longest username, in characters. */
export const MAX_NAME = 64
/** The longest list item, in characters. */
export const MAX_ITEM = 100
/** The largest list, in bytes of JSON: it keeps the cookie below the 4 KB a browser keeps. */
export const MAX_LIST_BYTES = 2000

/**
 * The session's keys and what their values may be: checked when a session
 * is loaded (one that fails is an empty session) and when it is saved. Both
 * keys are optional, because a visitor may make a list before logging in.
 */
export const SessionSchema = Type.Object({
  username: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_NAME })),
  items: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: MAX_ITEM })))
}, { additionalProperties: false })

// `request.session` is typed from the schema: the types and the check cannot drift apart.
declare module 'fastify-typed-session' {
  interface SessionData extends Static<typeof SessionSchema> {}
}

/** Options of `buildApp()`. */
export interface ExampleOptions {
  /** The plugin's `secret` option. */
  secret: TypedSessionOptions['secret']
  /** Fastify's `logger` option. @default no logger */
  logger?: FastifyServerOptions['logger']
  /**
   * The plugin's `store` option. With a store that has a user index
   * (`MemoryStore` or `RedisStore` given `userKey: 'username'`), the app
   * also serves the devices page, `/devices`; a built-in store without
   * `userKey` fails there with `FST_ERR_SESSION_INVALID_OPTION`.
   * @default none: the session lives in the cookie, and there is no device list
   */
  store?: SessionStore & Partial<UserIndex>
}

/** The schema of a form body of string fields: a repeated field gets a 400. */
const form = (fields: string[]) => ({ body: { type: 'object', properties: Object.fromEntries(fields.map((f) => [f, { type: 'string' }])) } })

/** Escapes text for HTML content and quoted attribute values. */
export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** Sends a page: the flashed messages (shown once, then gone), then the body. */
export function page (request: FastifyRequest, reply: FastifyReply, title: string, body: string): FastifyReply {
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

/** The store, when it has a user index (`listUser` and `destroyUser`), else `undefined`. */
function withUserIndex (store: ExampleOptions['store']): (SessionStore & UserIndex) | undefined {
  return typeof store?.listUser === 'function' && typeof store.destroyUser === 'function' ? store as SessionStore & UserIndex : undefined
}

/** A Unix time as a `<time>` element, in UTC to the second. */
function time (seconds: number): string {
  const iso = new Date(seconds * 1000).toISOString().slice(0, 19) + 'Z'
  return `<time datetime="${iso}">${iso.replace('T', ' ').replace('Z', ' UTC')}</time>`
}

/** One row of the devices page: the current device is marked, and each other one has its logout button. */
function deviceRow (session: UserSession, current: string | undefined): string {
  const action = session.id === current
    ? '<td><strong>this device</strong></td>'
    : `<td><form method="post" action="/devices/logout"><input type="hidden" name="id" value="${escapeHtml(session.id)}">` +
      '<button type="submit">Log out</button></form></td>'
  return `<tr><td>${time(session.created)}</td><td>${time(session.lastSeen)}</td>${action}</tr>`
}

/** Builds the example app (not started: call `listen()` or `inject()`). */
export function buildApp ({ secret, logger, store }: ExampleOptions): FastifyInstance {
  const app = Fastify(logger === undefined ? {} : { logger })
  app.register(formbody)
  app.register(typedSession, store === undefined ? { secret, schema: SessionSchema } : { secret, store, schema: SessionSchema })
  const devices = withUserIndex(store)

  app.get('/', async (request, reply) => {
    const username = request.session.get('username')
    const link = devices === undefined ? '' : ' | <a href="/devices">Your devices</a>'
    return page(request, reply, 'Home', username === undefined
      ? '<p>You are not logged in</p>\n<p><a href="/login">Log in</a> | <a href="/list">Your list</a></p>'
      : `<p>Logged in as ${escapeHtml(username)}</p>\n<p><a href="/list">Your list</a>${link} | <a href="/logout">Log out</a></p>`)
  })

  app.get('/login', async (request, reply) => page(request, reply, 'Log in', `<form method="post" action="/login">
<p><label>Username <input type="text" name="username" maxlength="${MAX_NAME}" required autofocus></label></p>
<p><label><input type="checkbox" name="remember" value="1"> Remember me</label></p>
<p><button type="submit">Log in</button></p>
</form>
<p><a href="/">Home</a></p>`))

  app.post<{ Body: { username?: string, remember?: string } }>('/login', { schema: form(['username', 'remember']) }, async (request, reply) => {
    const username = (request.body.username ?? '').trim()
    if (username === '' || username.length > MAX_NAME) {
      request.session.flash(`Please enter a username of 1 to ${MAX_NAME} characters`, 'error')
      return reply.redirect('/login')
    }
    // A new session at login (in store mode, a new id: no fixation), keeping only the list.
    await request.session.regenerate(['items'])
    request.session.set('username', username)
    // "Remember me": a cookie that lasts `maxAge` (31 days), not just the browser session.
    request.session.permanent = request.body.remember !== undefined
    request.session.flash('You were logged in')
    return reply.redirect('/')
  })

  app.get('/logout', async (request, reply) => {
    request.session.clear() // an empty session: the response deletes the cookie
    return reply.redirect('/')
  })

  app.get('/list', async (request, reply) => {
    const items = request.session.get('items') ?? []
    return page(request, reply, 'Your list', `<h1>Your list</h1>
${items.length === 0 ? '<p>The list is empty.</p>' : `<ol>\n${items.map((item) => `<li>${escapeHtml(item)}</li>`).join('\n')}\n</ol>`}
<form method="post" action="/list">
<p><label>Item <input type="text" name="item" maxlength="${MAX_ITEM}" required autofocus></label>
<button type="submit">Add</button></p>
</form>
<p><a href="/">Home</a></p>`)
  })

  app.post<{ Body: { item?: string } }>('/list', { schema: form(['item']) }, async (request, reply) => {
    const item = (request.body.item ?? '').trim()
    if (item === '' || item.length > MAX_ITEM) {
      request.session.flash(`Please enter an item of 1 to ${MAX_ITEM} characters`, 'error')
    } else if (Buffer.byteLength(JSON.stringify([...request.session.get('items') ?? [], item])) > MAX_LIST_BYTES) {
      request.session.flash('The list is full: a session cookie holds about 4 KB', 'error')
    } else {
      const items = request.session.get('items')
      // Changed in place, and saved: no `session.modified = True` as in Flask.
      if (items !== undefined) items.push(item)
      else request.session.set('items', [item])
    }
    return reply.redirect('/list')
  })

  // "Your devices": the sessions of the user logged in, from the store's user index
  // (`userKey: 'username'`). This example has no passwords, so whoever types a name is
  // that user; a real app lists the devices of an authenticated user the same way.
  app.get('/devices', async (request, reply) => {
    const username = request.session.get('username')
    if (username === undefined) {
      request.session.flash('Log in to see your devices', 'error')
      return reply.redirect('/login')
    }
    if (devices === undefined) {
      return page(request, reply, 'Your devices', `<h1>Your devices</h1>
<p>The device list needs a server-side store that indexes sessions by user (<code>MemoryStore</code> or
<code>RedisStore</code> with <code>userKey</code>). In cookie mode each session lives only in its browser's cookie,
so the server has no list of them. Try <code>SESSION_STORE=memory npm run example</code>.</p>
<p><a href="/">Home</a></p>`)
    }
    // The user's live sessions, the most recently seen first; `lastSeen` is in whole seconds, and this
    // device's own is the time of its last write or refresh before this request.
    const sessions = await devices.listUser(username)
    const others = sessions.some((session) => session.id !== request.session.id)
    reply.header('cache-control', 'no-store')
    return page(request, reply, 'Your devices', `<h1>Your devices</h1>
<p>Where ${escapeHtml(username)} is logged in:</p>
<table>
<thead><tr><th>Logged in</th><th>Last seen</th><th></th></tr></thead>
<tbody>
${sessions.map((session) => deviceRow(session, request.session.id)).join('\n')}
</tbody>
</table>
${others ? '<form method="post" action="/devices/logout-others"><p><button type="submit">Log out all other devices</button></p></form>\n' : ''}<p><a href="/">Home</a></p>`)
  })

  app.post<{ Body: { id?: string } }>('/devices/logout', { schema: form(['id']) }, async (request, reply) => {
    const username = request.session.get('username')
    if (username === undefined) return reply.redirect('/login')
    if (devices === undefined) return reply.redirect('/devices')
    const id = request.body.id ?? ''
    if (id === request.session.id) {
      request.session.clear() // this device: an ordinary logout
      return reply.redirect('/')
    }
    // An id from a form is no proof of ownership: end it only if it is one of this user's sessions.
    if ((await devices.listUser(username)).some((session) => session.id === id)) {
      await devices.destroy(id)
      request.session.flash('The device was logged out')
    } else {
      request.session.flash('That device is not one of yours, or it was already logged out', 'error')
    }
    return reply.redirect('/devices')
  })

  app.post('/devices/logout-others', async (request, reply) => {
    const username = request.session.get('username')
    if (username === undefined) return reply.redirect('/login')
    if (devices === undefined) return reply.redirect('/devices')
    // Every session of this user but this one; `destroyUser` checks that each is the user's.
    const ended = await devices.destroyUser(username, { except: request.session.id })
    request.session.flash(`${ended} other device${ended === 1 ? ' was' : 's were'} logged out`)
    return reply.redirect('/devices')
  })

  return app
}
