/**
 * Key rotation: the first key signs, every key verifies, and a cookie
 * verified with an old key is re-issued with the first one.
 */
import type { FastifyInstance } from 'fastify'
import t from 'tap'
import type { TypedSessionOptions } from '../lib/index.js'
import { build, carry, freezeClock, OTHER_SECRET, SECRET, setCookies } from './helpers/build.js'

const NEW = SECRET
const OLD = OTHER_SECRET
const OLDER = 'an even older secret of 32 bytes'
const UNRELATED = 'an unrelated secret, 32 bytes ok'

function routes (app: FastifyInstance): void {
  app.get('/login', async (request) => {
    request.session.set('username', 'ada')
    request.session.permanent = (request.query as { permanent?: string }).permanent === '1'
    return 'ok'
  })
  app.get('/read', async (request) => ({ username: request.session.get('username') ?? null, new: request.session.new }))
  app.get('/untouched', async () => 'ok')
}

async function app (secret: TypedSessionOptions['secret'], logs?: Array<Record<string, unknown>>): Promise<FastifyInstance> {
  return build({ secret }, routes, logs)
}

t.test('[new, old] reads a cookie signed with old and re-issues it signed with new, which new alone accepts', async (t) => {
  const oldApp = await app(OLD)
  const rotating = await app([NEW, OLD])
  const newApp = await app(NEW)
  const login = await oldApp.inject('/login')

  const read = await rotating.inject({ url: '/read', cookies: carry(login) })
  t.same(read.json(), { username: 'ada', new: false })
  t.equal(setCookies(read).length, 1, 'the cookie is re-issued')
  t.not(carry(read).session, carry(login).session)
  t.equal(read.headers.vary, 'Cookie')

  t.same((await newApp.inject({ url: '/read', cookies: carry(read) })).json(), { username: 'ada', new: false })
  t.same((await newApp.inject({ url: '/read', cookies: carry(login) })).json(), { username: null, new: true },
    'the original cookie is not signed with new')
  t.same((await oldApp.inject({ url: '/read', cookies: carry(read) })).json(), { username: null, new: true },
    'the re-issued cookie is not signed with old')
})

t.test('a cookie signed with the first key is not re-issued by a read', async (t) => {
  const rotating = await app([NEW, OLD])
  const login = await rotating.inject('/login')
  const read = await rotating.inject({ url: '/read', cookies: carry(login) })
  t.same(read.json(), { username: 'ada', new: false })
  t.same(setCookies(read), [])
})

t.test('every key of the list verifies, not only the first two', async (t) => {
  const olderApp = await app(OLDER)
  const rotating = await app([NEW, OLD, OLDER])
  const newApp = await app(NEW)
  const read = await rotating.inject({ url: '/read', cookies: carry(await olderApp.inject('/login')) })
  t.same(read.json(), { username: 'ada', new: false })
  t.same((await newApp.inject({ url: '/read', cookies: carry(read) })).json(), { username: 'ada', new: false })
})

t.test('an app with only an unrelated key reads the cookie as an empty new session, with a debug line', async (t) => {
  const logs: Array<Record<string, unknown>> = []
  const rotating = await app([NEW, OLD])
  const unrelated = await app(UNRELATED, logs)
  const login = await rotating.inject('/login')
  const read = await unrelated.inject({ url: '/read', cookies: carry(login) })
  t.equal(read.statusCode, 200)
  t.same(read.json(), { username: null, new: true })
  t.same(setCookies(read), [])
  t.ok(logs.some((line) => line.level === 20 && line.reason === 'the signature does not match any key'))
})

t.test('an untouched permanent session signed with an old key is refreshed with the first key', async (t) => {
  const clock = freezeClock(1_700_000_000)
  t.teardown(clock.restore)
  const oldApp = await app(OLD)
  const rotating = await app([NEW, OLD])
  const newApp = await app(NEW)
  const login = await oldApp.inject('/login?permanent=1')
  clock.set(1_700_000_010)
  const untouched = await rotating.inject({ url: '/untouched', cookies: carry(login) })
  t.equal(setCookies(untouched).length, 1)
  t.equal(untouched.cookies[0]?.maxAge, 2678400, 'still permanent')
  t.same((await newApp.inject({ url: '/read', cookies: carry(untouched) })).json(), { username: 'ada', new: false })
})

t.test('a Buffer key and the string of the same bytes are the same key', async (t) => {
  const stringApp = await app(NEW)
  const bufferApp = await app([Buffer.from(NEW), Buffer.from(OLD)])
  const read = await bufferApp.inject({ url: '/read', cookies: carry(await stringApp.inject('/login')) })
  t.same(read.json(), { username: 'ada', new: false })
  t.same(setCookies(read), [], 'verified with the first key, so not re-issued')
})
