/**
 * `@fastify/csrf-protection` 8 with `sessionPlugin: '@fastify/secure-session'`
 * on this plugin (the default signed cookie): the token round trip, a
 * missing and a wrong token, `generateCsrf({ userInfo })` and
 * `generateCsrf({ path })`. Then csrf-protection's own shipped cases for
 * that mode, run with this plugin in secure-session's place.
 */
import csrf from '@fastify/csrf-protection'
import formbody from '@fastify/formbody'
import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { FastifyInstance, FastifyRequest, LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { build } from './helpers/build.js'
import { browser } from './helpers/jar.js'

declare module '../lib/index.js' {
  interface SessionData {
    /** csrf-protection's secret (its `sessionKey`). */
    _csrf: string
    username: string
  }
}

const execFileAsync = promisify(execFile)
/**
 * The children run csrf-protection's files through tsx, outside tap's
 * coverage: @tapjs/processinfo puts its NODE_OPTIONS and
 * `_TAPJS_PROCESSINFO_*` variables back into a spawn's env unless the env
 * sets them, and the coverage of lib that a tsx child writes does not map
 * onto tap's own sources (it emptied whole files of the report).
 */
const childEnv: NodeJS.ProcessEnv = { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' }
delete childEnv.NODE_V8_COVERAGE
const run = async (file: string, args: string[], options: { cwd: string, timeout?: number }): Promise<{ stdout: string }> =>
  await execFileAsync(file, args, { ...options, env: childEnv })
const here = dirname(fileURLToPath(import.meta.url))
const require = createRequire(import.meta.url)

/** An app with csrf-protection in secure-session mode, a form that issues a token and a protected POST. */
async function csrfApp (csrfOptions: Record<string, unknown> = {}, routes: (app: FastifyInstance) => void = () => {}): Promise<FastifyInstance> {
  return await build({}, (app) => {
    app.register(formbody)
    app.register(csrf, { sessionPlugin: '@fastify/secure-session', ...csrfOptions })
    app.after(() => {
      app.get('/form', async (_request, reply) => ({ token: reply.generateCsrf() }))
      app.post('/transfer', { preHandler: app.csrfProtection }, async () => ({ done: true }))
      routes(app)
    })
  })
}

function message (res: LightMyRequestResponse): string {
  return (res.json() as { message: string }).message
}

t.test('the token round trip: GET issues a token in the session, POST with it is accepted', async (t) => {
  const app = await csrfApp()
  t.teardown(() => app.close())
  const b = browser(app)
  const form = await b.get('/form')
  t.equal(form.statusCode, 200)
  const { token } = form.json() as { token: string }
  t.type(token, 'string')
  t.ok(b.cookies.has('session'), 'the secret went into the session cookie')
  t.same(form.cookies.map((c) => c.name), ['session'], 'no cookie of its own: the secret is in the session')
  const decoded = await app.sessions.decode(b.cookies.get('session') as string)
  t.type(decoded?.get('_csrf'), 'string', 'the session holds the secret under _csrf')

  const byHeader = await b.request({ method: 'POST', url: '/transfer', headers: { 'x-csrf-token': token } })
  t.equal(byHeader.statusCode, 200)
  t.same(byHeader.json(), { done: true })
  const byBody = await b.post('/transfer', { _csrf: token })
  t.equal(byBody.statusCode, 200)

  const again = await b.get('/form')
  const second = (again.json() as { token: string }).token
  t.not(second, token, 'each token is new')
  t.equal((await b.request({ method: 'POST', url: '/transfer', headers: { 'x-csrf-token': second } })).statusCode, 200)
})

t.test('a POST without a token is 403', async (t) => {
  const app = await csrfApp()
  t.teardown(() => app.close())
  const b = browser(app)
  await b.get('/form')
  const res = await b.post('/transfer')
  t.equal(res.statusCode, 403)
  t.equal(message(res), 'Invalid csrf token')
})

t.test('a POST without a session (no secret) is 403', async (t) => {
  const app = await csrfApp()
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: '/transfer', headers: { 'x-csrf-token': 'anything' } })
  t.equal(res.statusCode, 403)
  t.equal(message(res), 'Missing csrf secret')
})

t.test("a wrong token, or another session's token, is 403", async (t) => {
  const app = await csrfApp()
  t.teardown(() => app.close())
  const b = browser(app)
  const mine = (await b.get('/form')).json().token as string
  const other = browser(app)
  const theirs = (await other.get('/form')).json().token as string

  const wrong = await b.request({ method: 'POST', url: '/transfer', headers: { 'x-csrf-token': mine.slice(0, -2) + 'xx' } })
  t.equal(wrong.statusCode, 403)
  t.equal(message(wrong), 'Invalid csrf token')
  const foreign = await b.request({ method: 'POST', url: '/transfer', headers: { 'x-csrf-token': theirs } })
  t.equal(foreign.statusCode, 403)
  t.equal((await b.request({ method: 'POST', url: '/transfer', headers: { 'x-csrf-token': mine } })).statusCode, 200)
})

t.test('generateCsrf({ userInfo }): the token validates only for the user it was made for', async (t) => {
  const app = await csrfApp({
    getUserInfo: (request: FastifyRequest) => request.session.get('username') ?? '',
    csrfOpts: { hmacKey: 'a test hmac key' }
  }, (app) => {
    app.post<{ Body: { username: string } }>('/login', async (request, reply) => {
      request.session.set('username', request.body.username)
      return { token: reply.generateCsrf({ userInfo: request.body.username }) }
    })
  })
  t.teardown(() => app.close())
  const b = browser(app)
  const login = await b.post('/login', { username: 'ada' })
  t.equal(login.statusCode, 200, 'options({ userInfo }) is accepted')
  const { token } = login.json() as { token: string }
  t.equal((await b.post('/transfer', { _csrf: token })).statusCode, 200, 'accepted for ada')

  // The same session, now for another user: ada's token no longer validates.
  const other = await b.post('/login', { username: 'bob' })
  t.equal(other.statusCode, 200)
  const refused = await b.post('/transfer', { _csrf: token })
  t.equal(refused.statusCode, 403)
  t.equal(message(refused), 'Invalid csrf token')
  t.equal((await b.post('/transfer', { _csrf: (other.json() as { token: string }).token })).statusCode, 200, "bob's token is")
})

t.test('generateCsrf({ path }): the path goes on the session cookie that this response sets', async (t) => {
  const app = await csrfApp({}, (app) => {
    app.get('/scoped', async (_request, reply) => ({ token: reply.generateCsrf({ path: '/transfer' }) }))
  })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/scoped' })
  t.equal(res.statusCode, 200)
  const cookie = res.cookies.find((c) => c.name === 'session')
  t.equal(cookie?.path, '/transfer')
  const plain = await app.inject({ method: 'GET', url: '/form' })
  t.equal(plain.cookies.find((c) => c.name === 'session')?.path, '/', 'only that response')
  const post = await app.inject({
    method: 'POST',
    url: '/transfer',
    cookies: { session: cookie?.value as string },
    headers: { 'x-csrf-token': (res.json() as { token: string }).token }
  })
  t.equal(post.statusCode, 200)
})

t.test("sessionPlugin '@fastify/session' fails loudly: its request.session._csrf = secret throws a TypeError", async (t) => {
  const app = await build({}, (app) => {
    app.register(csrf, { sessionPlugin: '@fastify/session' })
    app.after(() => {
      app.get('/form', async (_request, reply) => ({ token: reply.generateCsrf() }))
    })
  })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/form' })
  t.equal(res.statusCode, 500, 'not a token whose secret is never saved')
  t.match(message(res), /"_csrf"/)
  t.equal(res.headers['set-cookie'], undefined)
})

/** The counts in a node:test TAP report's summary. */
function summary (stdout: string): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const [, name, n] of stdout.matchAll(/^# (tests|pass|fail|cancelled|skipped|todo) (\d+)$/gm)) counts[name as string] = Number(n)
  return counts
}

const shipped = join(dirname(require.resolve('@fastify/csrf-protection')), 'test')
const preload = join(here, 'helpers', 'csrf-shipped-preload.cjs')

/** Runs one of csrf-protection's own test files, with the preload, and returns its TAP report. */
async function runShipped (file: string, patterns: string[] = []): Promise<string> {
  const { stdout } = await run(process.execPath, [
    '--import', 'tsx',
    '--require', preload,
    '--test-reporter=tap',
    ...patterns.map((p) => `--test-name-pattern=${p}`),
    join(shipped, file)
  ], { cwd: shipped, timeout: 60_000 }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? String(err) }))
  return stdout
}

t.test("csrf-protection's own tests, with this plugin in secure-session's place", async (t) => {
  t.test('the preload gives the shim for @fastify/secure-session', async (t) => {
    const { stdout } = await run(process.execPath, [
      '--import', 'tsx', '--require', preload, '-e',
      "console.log(require('@fastify/secure-session')[Symbol.for('plugin-meta')].name)"
    ], { cwd: shipped })
    t.equal(stdout.trim(), 'secure-session-shim')
  })

  t.test("basic.test.js: the 'Fastify Secure Session' cases", async (t) => {
    // The cases of the other modes (@fastify/cookie, @fastify/session) do not involve this plugin.
    const report = await runShipped('basic.test.js', ['^Fastify Secure Session$', '^Token in ', '^Custom cookie options$'])
    t.match(report, /^ok \d+ - Fastify Secure Session$/m)
    t.match(report, /^ {4}ok \d+ - Custom cookie options$/m)
    t.same(summary(report), { tests: 13, pass: 7, fail: 0, cancelled: 0, skipped: 6, todo: 0 },
      'the parent and its 6 cases pass; the 6 tests of the other modes are skipped by name')
  })

  t.test('user-info.test.js: every case', async (t) => {
    const report = await runShipped('user-info.test.js')
    t.match(report, /^ok \d+ - SecureSession with User-Info$/m)
    t.same(summary(report), { tests: 9, pass: 9, fail: 0, cancelled: 0, skipped: 0, todo: 0 })
  })
})
