/**
 * `@fastify/passport` 4 on this plugin, through the example app
 * (example/passport.ts): `passport.initialize()` and
 * `passport.secureSession()` at the root, a passport-local login, a
 * protected page and logout, in cookie mode and in store mode.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { build, users } from '../example/passport.js'
import { MemoryStore } from '../lib/index.js'
import { SECRET } from './helpers/build.js'
import { browser, type Browser } from './helpers/jar.js'

declare module '../lib/index.js' {
  interface SessionData {
    note: string
  }
}

/** The example app, plus two routes that write and read a key the app does not know. */
function app (store: MemoryStore | undefined): FastifyInstance {
  const app = store === undefined ? build({ secret: SECRET }) : build({ secret: SECRET, store })
  app.post('/note', async (request) => {
    request.session.set('note', 'set before login')
    request.session.flash('queued before login')
    return 'ok'
  })
  app.get('/note', async (request) => ({
    note: request.session.get('note') ?? null,
    isNew: request.session.new
  }))
  return app
}

async function logIn (b: Browser, password = 'lovelace'): Promise<LightMyRequestResponse> {
  return await b.post('/login', { username: 'ada', password })
}

/** The flash paragraphs of the login page. */
function flashes (res: LightMyRequestResponse): string[] {
  return [...res.body.matchAll(/<p class="flash">(.*?)<\/p>/g)].map((m) => m[1] as string)
}

for (const mode of ['cookie', 'store'] as const) {
  t.test(`${mode} mode`, async (t) => {
    const start = (t: Test): { app: FastifyInstance, b: Browser } => {
      const store = mode === 'store' ? new MemoryStore() : undefined
      const a = app(store)
      t.teardown(() => a.close())
      return { app: a, b: browser(a) }
    }

    t.test('the app boots with passport.initialize() and passport.secureSession() at the root', async (t) => {
      const { app } = start(t)
      await app.ready()
      t.ok(app.hasRequestDecorator('session'))
      t.ok(app.hasRequestDecorator('flash'), "@fastify/flash's request.flash")
      t.ok(app.hasReplyDecorator('flash'), "@fastify/flash's reply.flash")
      t.ok(app.hasRequestDecorator('logIn'))
    })

    t.test('the protected page redirects to /login before login', async (t) => {
      const { b } = start(t)
      const res = await b.get('/')
      t.equal(res.statusCode, 302)
      t.equal(res.headers.location, '/login')
    })

    t.test('a login persists across requests: the session cookie carries the user', async (t) => {
      const { b } = start(t)
      const login = await logIn(b)
      t.equal(login.statusCode, 302)
      t.equal(login.headers.location, '/')
      t.ok(b.cookies.has('session'), 'the login set the session cookie')
      for (let i = 0; i < 3; i++) {
        const res = await b.get('/')
        t.equal(res.statusCode, 200)
        t.match(res.body, '<p>Logged in as ada</p>')
        t.same(flashes(res), i === 0 ? ['Welcome back'] : [], "passport's successFlash, once: it survives the login's fresh session")
      }
      const page = await b.get('/note')
      t.equal(page.json().isNew, false)
    })

    t.test('a wrong password is refused, with passport\'s flash message shown once', async (t) => {
      const { b } = start(t)
      const res = await logIn(b, 'wrong')
      t.equal(res.statusCode, 302)
      t.equal(res.headers.location, '/login')
      const form = await b.get('/login')
      t.same(flashes(form), ['Invalid username or password'])
      t.same(flashes(await b.get('/login')), [], 'consumed by the first read')
      const home = await b.get('/')
      t.equal(home.statusCode, 302, 'not logged in')
    })

    t.test('clearSessionOnLogin: the keys set before login are gone after it, the queued flash is kept', async (t) => {
      const { b } = start(t)
      t.equal((await b.post('/note')).statusCode, 200)
      t.equal((await b.get('/note')).json().note, 'set before login')
      await logIn(b)
      const after = await b.get('/note')
      t.equal(after.json().note, null, 'the pre-login key was dropped')
      t.equal((await b.get('/')).statusCode, 200, 'logged in')
      t.same(flashes(await b.get('/login')), ['queued before login'], 'session.flash() survives the login')
    })

    t.test('logout leaves no user: the protected page redirects again', async (t) => {
      const { b } = start(t)
      await logIn(b)
      t.equal((await b.get('/')).statusCode, 200)
      const out = await b.post('/logout')
      t.equal(out.statusCode, 302)
      t.equal(out.headers.location, '/login')
      const home = await b.get('/')
      t.equal(home.statusCode, 302)
      t.equal(home.headers.location, '/login')
      t.same(flashes(await b.get('/login')), ['You were logged out'])
    })

    t.test('an unknown username is refused the same way', async (t) => {
      const { b } = start(t)
      const res = await b.post('/login', { username: 'nobody', password: 'lovelace' })
      t.equal(res.headers.location, '/login')
      t.same(flashes(await b.get('/login')), ['Invalid username or password'])
      t.equal((await b.get('/')).statusCode, 302)
    })

    t.test("passport's request.flash and the session's flash() coexist in one session", async (t) => {
      const { b } = start(t)
      await b.post('/note') // session.flash('queued before login')
      await logIn(b, 'wrong') // request.flash('error', ...) from failureFlash
      t.same(flashes(await b.get('/login')), ['Invalid username or password', 'queued before login'])
      t.same(flashes(await b.get('/login')), [])
    })

    t.test('a user who no longer exists is logged out by secureSession()', async (t) => {
      const { b } = start(t)
      users.set('2', { id: '2', username: 'grace', password: 'hopper' })
      t.teardown(() => { users.delete('2') })
      await b.post('/login', { username: 'grace', password: 'hopper' })
      t.match((await b.get('/')).body, 'Logged in as grace')
      users.delete('2')
      t.equal((await b.get('/')).statusCode, 302)
    })

    if (mode === 'store') {
      t.test('the pre-login session id is dead after login', async (t) => {
        const { app, b } = start(t)
        await b.post('/note')
        const oldCookie = b.cookies.get('session') as string
        const before = await app.sessions.decode(oldCookie)
        t.equal(before?.get('note'), 'set before login', 'the pre-login record is there')
        await logIn(b)
        t.not(b.cookies.get('session'), oldCookie, 'a new cookie')
        t.equal(await app.sessions.decode(oldCookie), null, 'the pre-login record is gone')
        const replay = await b.request({ method: 'GET', url: '/note', cookies: { session: oldCookie } })
        t.same(replay.json(), { note: null, isNew: true }, 'the old cookie opens a new, empty session')
        const home = await b.request({ method: 'GET', url: '/', cookies: { session: oldCookie } })
        t.equal(home.statusCode, 302, 'and it is not logged in')
      })

      t.test('after logout the logged-in session id is dead too', async (t) => {
        const { b } = start(t)
        await logIn(b)
        const loggedIn = b.cookies.get('session') as string
        await b.post('/logout')
        const home = await b.request({ method: 'GET', url: '/', cookies: { session: loggedIn } })
        t.equal(home.statusCode, 302)
      })
    }
  })
}
