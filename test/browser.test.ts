/**
 * The example app in a real browser: headless Chromium walks the Flask
 * docs' flow (log in, a flash shown once, an HttpOnly cookie, "remember
 * me", a list kept in the session, log out), first with the session in
 * the cookie, then with the session in Redis (a real redis-server).
 *
 * The app listens on a free 127.0.0.1 port. A screenshot of each logged-in
 * page goes to `test-artifacts/` (git-ignored).
 */
import { mkdir } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import type { BrowserContext, Cookie, Page } from 'playwright-core'
import t, { type Test } from 'tap'
import { buildApp } from '../example/app.js'
import { RedisStore, type SessionStore } from '../lib/index.js'
import { launchBrowser, needsChromium } from './helpers/browser.js'
import { SECRET } from './helpers/build.js'
import { needsRedis, startRedis } from './helpers/redis.js'

const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url))
/** Flask's PERMANENT_SESSION_LIFETIME, the plugin's default `maxAge`: 31 days, in seconds. */
const MAX_AGE = 2678400
const ITEMS = ['milk', 'eggs & <bread>', 'tea', 'a "quoted" item']

// Chromium's start, and a walk of several pages, can be slow on a busy CI machine.
t.setTimeout(240_000)

/** Starts the example app on a free loopback port; it is closed when the test ends. */
async function startApp (t: Test, store?: SessionStore): Promise<string> {
  const app = buildApp(store === undefined ? { secret: SECRET } : { secret: SECRET, store })
  t.teardown(async () => { await app.close() })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  return `http://127.0.0.1:${port}`
}

async function sessionCookie (context: BrowserContext): Promise<Cookie | undefined> {
  return (await context.cookies()).find((cookie) => cookie.name === 'session')
}

async function text (page: Page): Promise<string> {
  return await page.locator('body').innerText()
}

async function flashes (page: Page): Promise<string[]> {
  return await page.locator('ul.flashes li').allInnerTexts()
}

/** Checks of the server side, run at points of the walk. */
interface ServerChecks {
  /** After login, with the name logged in. */
  loggedIn: (t: Test, name: string) => Promise<void>
  /** After the list's appends, with the items. */
  listed: (t: Test, items: string[]) => Promise<void>
  /** After logout. */
  loggedOut: (t: Test) => Promise<void>
}

/** The Flask docs' flow, in a fresh browser profile, with or without "remember me". */
async function walk (t: Test, base: string, variant: string, remember: boolean, checks?: ServerChecks): Promise<void> {
  const context = await launchBrowser(t)
  context.setDefaultTimeout(30_000)
  const page = await context.newPage()
  const name = remember ? 'Grace' : 'Ada'

  // 1. Nobody is logged in, and no cookie is set.
  await page.goto(base + '/')
  t.match(await text(page), /You are not logged in/, '1. the index says nobody is logged in')
  t.equal(await sessionCookie(context), undefined, '1. a visit sets no session cookie')

  // 2. Log in through the form.
  await page.click('a[href="/login"]')
  t.equal(new URL(page.url()).pathname, '/login', '2. the link leads to the login page')
  await page.fill('input[name="username"]', name)
  if (remember) await page.check('input[name="remember"]')
  await Promise.all([page.waitForURL(base + '/'), page.click('button[type="submit"]')])

  // 3. The index shows the name, and the flash once.
  t.match(await text(page), new RegExp(`Logged in as ${name}`), '3. the index shows the name')
  t.same(await flashes(page), ['You were logged in'], '3. the flash message is shown after login')
  await checks?.loggedIn(t, name)
  await mkdir(ARTIFACTS, { recursive: true })
  await page.screenshot({ path: `${ARTIFACTS}browser-${variant}-${remember ? 'remembered' : 'session'}-logged-in.png`, fullPage: true })
  await page.reload()
  t.match(await text(page), new RegExp(`Logged in as ${name}`), '3. after a reload the user is still logged in')
  t.same(await flashes(page), [], '3. after a reload the flash message is gone: it was shown once only')

  // 4. The cookie is HttpOnly: the browser keeps it, and scripts cannot see it.
  const cookie = await sessionCookie(context)
  t.ok(cookie, '4. the browser keeps the session cookie')
  t.equal(cookie?.httpOnly, true, '4. the session cookie is HttpOnly')
  t.equal(cookie?.sameSite, 'Lax', '4. the session cookie is SameSite=Lax')
  const documentCookie = await page.evaluate<string>('document.cookie')
  t.notMatch(documentCookie, /session=/, '4. document.cookie does not show the session cookie')

  // 5. "Remember me": a cookie that lasts 31 days; without it, a browser-session cookie.
  if (remember) {
    const expected = Date.now() / 1000 + MAX_AGE
    t.ok(Math.abs((cookie?.expires ?? 0) - expected) < 60,
      `5. "remember me" gives a cookie that expires 31 days from now (expires ${String(cookie?.expires)}, expected about ${Math.round(expected)})`)
  } else {
    t.equal(cookie?.expires, -1, '5. without "remember me" the cookie is a browser-session cookie')
  }

  // 6. The list keeps every appended item.
  await page.click('a[href="/list"]')
  t.match(await text(page), /The list is empty/, '6. the list starts empty')
  for (let i = 0; i < ITEMS.length; i++) {
    await page.fill('input[name="item"]', ITEMS[i] as string)
    await Promise.all([page.waitForURL(base + '/list'), page.click('button[type="submit"]')])
    t.same(await page.locator('ol li').allInnerTexts(), ITEMS.slice(0, i + 1), `6. after ${i + 1} append(s) the list shows every item, in order`)
  }
  await page.goto(base + '/')
  await page.goto(base + '/list')
  t.same(await page.locator('ol li').allInnerTexts(), ITEMS, '6. the list is kept across pages')
  await checks?.listed(t, ITEMS)
  if (remember) {
    const kept = await sessionCookie(context)
    t.ok(Math.abs((kept?.expires ?? 0) - (Date.now() / 1000 + MAX_AGE)) < 60, '6. the remembered cookie still expires 31 days out')
  }

  // 7. Log out: the page says so, and the cookie is gone.
  await page.goto(base + '/')
  await Promise.all([page.waitForURL(base + '/'), page.click('a[href="/logout"]')])
  t.match(await text(page), /You are not logged in/, '7. after /logout the index says nobody is logged in')
  t.equal(await sessionCookie(context), undefined, '7. after /logout the browser has no session cookie')
  await page.goto(base + '/list')
  t.match(await text(page), /The list is empty/, '7. after /logout the list is gone too')
  await checks?.loggedOut(t)
}

t.test('in cookie mode, a browser walks the Flask docs\' flow', needsChromium, async (t) => {
  const base = await startApp(t)
  await t.test('without "remember me"', async (t) => { await walk(t, base, 'cookie', false) })
  await t.test('with "remember me"', async (t) => { await walk(t, base, 'cookie', true) })
})

const needsBoth = { skip: needsChromium.skip || needsRedis.skip }

t.test('with the sessions in Redis, a browser walks the Flask docs\' flow, and the data lives in Redis', needsBoth, async (t) => {
  const redis = await startRedis(t)
  const admin = await redis.client()
  const base = await startApp(t, new RedisStore({ client: await redis.client() }))
  /** The one session record in Redis. */
  const record = async (t: Test): Promise<Record<string, string>> => {
    const keys = await admin.keys('session:*')
    t.equal(keys.length, 1, 'Redis holds one session record')
    return await admin.hgetall(keys[0] as string)
  }
  const checks: ServerChecks = {
    loggedIn: async (t, name) => {
      t.equal((await record(t)).username, JSON.stringify(name), '3. the record in Redis holds the username')
    },
    listed: async (t, items) => {
      t.equal((await record(t)).items, JSON.stringify(items), '6. the record in Redis holds every item')
    },
    loggedOut: async (t) => {
      t.same(await admin.keys('session:*'), [], '7. after /logout no session record is left in Redis')
    }
  }
  await t.test('without "remember me"', async (t) => { await walk(t, base, 'redis', false, checks) })
  await t.test('with "remember me"', async (t) => { await walk(t, base, 'redis', true, checks) })
})
