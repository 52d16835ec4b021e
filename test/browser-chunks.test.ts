/**
 * A session of several cookies in a real browser: headless Chromium logs
 * in (one cookie, `session`), grows its session to three chunks (`session`,
 * `session.1`, `session.2`, which the browser keeps with the same
 * attributes and sends back whole), shrinks it to one (the browser drops
 * `session.1` and `session.2`: the deletion cookies worked), grows it
 * again, and logs out (no session cookie left), with `maxChunks: 3` at the
 * default `maxCookieSize`, for the signed and the encrypted formats.
 *
 * Each app listens on a free 127.0.0.1 port. Cookies do not tell ports
 * apart, so the formats run one after the other in the file's one browser,
 * whose cookies are cleared in between.
 */
import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import Fastify from 'fastify'
import type { BrowserContext, Cookie, Page } from 'playwright-core'
import t, { type Test } from 'tap'
import typedSession from '../lib/index.js'
import { launchBrowser, needsChromium } from './helpers/browser.js'
import { SECRET } from './helpers/build.js'

// Chromium's start, and a walk of several pages, can be slow on a busy CI machine.
t.setTimeout(240_000)

/** Flask's PERMANENT_SESSION_LIFETIME, the plugin's default `maxAge`: 31 days, in seconds. */
const MAX_AGE = 2678400
/**
 * The length of one note, random base64url that the signed format's
 * deflate cannot shrink, so that each note adds about one cookie; the
 * encrypted format's value is 4/3 of its data.
 */
const NOTE = { signed: 3000, encrypted: 2200 }

let launched: Promise<BrowserContext> | undefined
/** The file's one browser, launched by the first test that needs it and closed when the file ends. */
async function browser (): Promise<BrowserContext> {
  launched ??= launchBrowser(t)
  return await launched
}

/**
 * An app with `maxChunks: 3` whose routes log in (a permanent session
 * holding the username), add a note (`?note=`, to the list `nested.list`),
 * keep only the first note, show the session as JSON, and log out.
 */
async function startApp (t: Test, format: 'signed' | 'encrypted'): Promise<string> {
  // The browser outlives the app, and keeps sockets open to it (some with no request yet): close them all.
  const app = Fastify({ forceCloseConnections: true })
  await app.register(typedSession, { secret: SECRET, format, maxChunks: 3 })
  app.get('/login', async (request) => {
    request.session.set('username', 'ada')
    request.session.permanent = true
    return 'logged in'
  })
  app.get('/note', async (request) => {
    const { note } = request.query as { note: string }
    const list = request.session.get('nested')?.list ?? []
    request.session.set('nested', { list: [...list, note] })
    return `${list.length + 1} notes`
  })
  app.get('/shrink', async (request) => {
    const list = request.session.get('nested')?.list ?? []
    request.session.set('nested', { list: list.slice(0, 1).map((note) => note.slice(0, 100)) })
    return 'shrunk'
  })
  app.get('/show', async (request, reply) => {
    const shown = JSON.stringify({ new: request.session.new, data: request.session.toJSON() })
    return await reply.type('text/html').send(`<!doctype html><pre id="data">${shown.replaceAll('&', '&amp;').replaceAll('<', '&lt;')}</pre>`)
  })
  app.get('/logout', async (request) => {
    request.session.clear()
    return 'logged out'
  })
  t.teardown(async () => { await app.close() })
  await app.listen({ host: '127.0.0.1', port: 0 })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

/** The browser's session cookies (`session` and `session.N`), by name. */
async function jar (context: BrowserContext): Promise<Map<string, Cookie>> {
  const cookies = (await context.cookies()).filter((cookie) => /^session(?:\.\d+)?$/.test(cookie.name))
  return new Map(cookies.map((cookie) => [cookie.name, cookie]))
}

/** What the page `/show` reads from the session. */
async function shown (page: Page, base: string): Promise<{ new: boolean, data: Record<string, unknown> }> {
  await page.goto(`${base}/show`)
  return JSON.parse(await page.locator('#data').innerText()) as { new: boolean, data: Record<string, unknown> }
}

/** Checks that the browser keeps exactly `names`, each with the attributes of the base cookie, permanent. */
async function keeps (t: Test, context: BrowserContext, names: string[], step: string): Promise<void> {
  const cookies = await jar(context)
  t.same([...cookies.keys()].sort(), names, `${step}: the browser keeps ${names.join(', ')}`)
  const base = cookies.get('session')
  t.ok(Math.abs((base?.expires ?? 0) - (Date.now() / 1000 + MAX_AGE)) < 60, `${step}: the session cookie expires 31 days from now`)
  t.match(base, { domain: '127.0.0.1', path: '/', httpOnly: true, secure: false, sameSite: 'Lax' }, `${step}: the session cookie is host-only, Path=/, HttpOnly, SameSite=Lax`)
  for (const name of names.slice(1)) {
    const { domain, path, expires, httpOnly, secure, sameSite } = cookies.get(name) as Cookie
    t.same({ domain, path, httpOnly, secure, sameSite },
      { domain: base?.domain, path: base?.path, httpOnly: base?.httpOnly, secure: base?.secure, sameSite: base?.sameSite },
      `${step}: ${name} has the same Domain, Path, HttpOnly, Secure and SameSite as session`)
    // The browser counts Max-Age from when it read each header: the same second, not the same microsecond.
    t.ok(Math.abs(expires - (base?.expires ?? 0)) < 1, `${step}: ${name} expires when session does (${expires} and ${String(base?.expires)})`)
  }
}

/** Login, three notes (one, two and three cookies), shrink to one cookie, three notes again, logout. */
async function walk (t: Test, format: 'signed' | 'encrypted'): Promise<void> {
  const base = await startApp(t, format)
  const context = await browser()
  await context.clearCookies()
  context.setDefaultTimeout(30_000)
  const page = await context.newPage()
  t.teardown(async () => { await page.close() })
  const notes = Array.from({ length: 6 }, () => randomBytes(NOTE[format] * 3 / 4).toString('base64url'))

  await page.goto(`${base}/login`)
  await keeps(t, context, ['session'], 'login')
  t.same(await shown(page, base), { new: false, data: { username: 'ada' } }, 'login: the page reads the session')

  const grow = async (from: number, kept: string[], step: string): Promise<void> => {
    for (let i = 0; i < 3; i++) {
      await page.goto(`${base}/note?note=${notes[from + i] as string}`)
      await keeps(t, context, ['session', 'session.1', 'session.2'].slice(0, i + 1), `${step}, note ${i + 1}`)
    }
    t.same(await shown(page, base), { new: false, data: { username: 'ada', nested: { list: [...kept, ...notes.slice(from, from + 3)] } } },
      `${step}: the page reads back the three chunks' data intact`)
  }
  await grow(0, [], 'grow')

  await page.goto(`${base}/shrink`)
  await keeps(t, context, ['session'], 'shrink')
  const first = (notes[0] as string).slice(0, 100)
  t.same(await shown(page, base), { new: false, data: { username: 'ada', nested: { list: [first] } } }, 'shrink: the page reads the one cookie\'s data')

  await grow(3, [first], 'grow again')

  await page.goto(`${base}/logout`)
  t.same([...(await jar(context)).keys()], [], 'logout: the browser has no session cookie, nor any chunk')
  t.same(await shown(page, base), { new: true, data: {} }, 'logout: the page finds a new, empty session')
}

for (const format of ['signed', 'encrypted'] as const) {
  t.test(`${format}: a browser logs in, grows the session to three cookies, shrinks it to one, grows it again and logs out`, needsChromium, async (t) => {
    await walk(t, format)
  })
}
