/**
 * Chunked cookies from a client that are not as we set them: each gives an
 * empty session and one debug line, never an error, and the response
 * deletes every cookie of the rejected set; the app keeps serving.
 */
import { request as httpRequest, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import typedSession from '../lib/index.js'
import { SECRET } from './helpers/build.js'
import { chunkApp, cookieHeader, next, noise, parsed, rejections } from './helpers/chunks.js'

const EXPIRED = '; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; HttpOnly; SameSite=Lax'

interface Fixture {
  app: FastifyInstance
  logs: Array<Record<string, unknown>>
  /** A valid three-chunk session: the base value and chunks 1 and 2. */
  a: string
  b: string
  c: string
  /** The same as a Cookie header. */
  valid: string
}

async function fixture (format: 'signed' | 'encrypted', maxChunks = 4): Promise<Fixture> {
  const logs: Array<Record<string, unknown>> = []
  const app = await chunkApp({ format, maxChunks }, logs)
  next.data = { username: noise(8500) }
  next.permanent = false
  const res = await app.inject('/set')
  const [a, b, c] = parsed(res).map((cookie) => cookie.value) as [string, string, string]
  return { app, logs, a, b, c, valid: cookieHeader(res) }
}

/**
 * Sends `cookie` to `/get` and checks the answer: 200, an empty new
 * session, one debug line with this reason, and the deletion of every
 * cookie of the set (`names`).
 */
async function rejected (t: Test, f: Fixture, cookie: string, reason: string | RegExp, names: string[]): Promise<void> {
  f.logs.length = 0
  const res = await f.app.inject({ url: '/get', headers: { cookie } })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { new: true, data: {} }, 'an empty session')
  const lines = rejections(f.logs)
  t.equal(lines.length, 1, 'one debug line')
  t.equal(lines[0]?.level, 20, 'at debug level')
  t.match(lines[0]?.reason, reason)
  t.same(parsed(res).map((c) => c.header).sort(), names.map((name) => `${name}=${EXPIRED}`).sort(), 'every cookie of the set is deleted')
  const after = await f.app.inject({ url: '/get', headers: { cookie: f.valid } })
  t.equal(after.json().new, false, 'the app keeps serving valid sessions')
}

for (const format of ['signed', 'encrypted'] as const) {
  t.test(`${format}: a chunk layout that is not the one we set is rejected before any cryptography`, async (t) => {
    const f = await fixture(format)
    t.teardown(() => f.app.close())
    const { a, b, c } = f
    const all = ['session', 'session.1', 'session.2']
    const length = a.length
    const l36 = length.toString(36)
    const field = `-3-${l36}.`
    t.ok(a.includes(field), 'the head says 3 chunks of L')

    await rejected(t, f, `session=${a}; session.2=${c}`, 'chunk 1 of 3 is missing', ['session', 'session.2'])
    await rejected(t, f, `session=${a}; session.1=${b}`, 'chunk 2 of 3 is missing', ['session', 'session.1'])
    await rejected(t, f, `${f.valid}; session.3=${c}`, 'the request brought chunk 3, beyond the 3 its head says', [...all, 'session.3'])
    await rejected(t, f, `${f.valid}; session.9=x`, 'the request brought chunk 9, beyond the 3 its head says', [...all, 'session.9'])
    await rejected(t, f, `${f.valid}; session.1=${b.slice(1)}x`, 'chunk 1 was sent with several values', all)
    await rejected(t, f, `session=${a}; session.1=${b}; session.2=`, `chunk 2 is 0 characters, not the ${length} its head says`, all)
    await rejected(t, f, `session=${a}${b.slice(0, 1)}; session.1=${b.slice(1)}; session.2=${c}`,
      `the first chunk is ${length + 1} characters, not the ${length} its head says`, all)
    await rejected(t, f, `session=${a}; session.1=${b.slice(0, -1)}; session.2=${b.slice(-1)}${c}`,
      `chunk 1 is ${length - 1} characters, not the ${length} its head says`, all)
    await rejected(t, f, `session=${a}; session.1=${c}; session.2=${b}`, `chunk 1 is ${c.length} characters, not the ${length} its head says`, all)
    await rejected(t, f, `session=${a}; session.1=${b}; session.2=${c}${b}`, `chunk 2 is ${c.length + length} characters, not the ${length} its head says`, all)
    for (const [name, bad] of [['zero', '-0-'], ['negative', '--1-'], ['not a number', '-x-'], ['eleven', '-b-'], ['two digits', '-10-']]) {
      await rejected(t, f, f.valid.replace('-3-', bad as string), 'the chunk field is malformed', all)
      t.pass(`a count that is ${name as string}`)
    }
    await rejected(t, f, f.valid.replace(field, '-3-.'), 'the chunk field is malformed', all)
    await rejected(t, f, f.valid.replace(field, '-3-zzz.'), 'the chunk length is too long', all)

    const logs: Array<Record<string, unknown>> = []
    const two = await chunkApp({ format, maxChunks: 2 }, logs)
    t.teardown(() => two.close())
    next.data = { counter: 1 }
    const small = cookieHeader(await two.inject('/set'))
    await rejected(t, { ...f, app: two, logs, valid: small }, f.valid, 'the cookie says 3 chunks, more than maxChunks (2)', all)
  })

  t.test(`${format}: chunks that pass the layout but were not sealed together fail verification`, async (t) => {
    const f = await fixture(format)
    t.teardown(() => f.app.close())
    const reason = format === 'signed' ? 'the signature does not match any key' : 'the value does not decrypt with any key'
    next.data = { username: noise(8500, 'another') }
    const other = parsed(await f.app.inject('/set')).map((c) => c.value) as [string, string, string]
    t.equal(other[0].length, f.a.length, 'the same L')
    await rejected(t, f, `session=${f.a}; session.1=${other[1]}; session.2=${f.c}`, reason, ['session', 'session.1', 'session.2'])
    // Four chunks: the two middle ones are both L long, so only the MAC or the tag sees them swapped.
    next.data = { username: noise(12000) }
    const four = parsed(await f.app.inject('/set')).map((c) => c.value) as [string, string, string, string]
    t.equal(four.length, 4)
    await rejected(t, f, `session=${four[0]}; session.1=${four[2]}; session.2=${four[1]}; session.3=${four[3]}`, reason,
      ['session', 'session.1', 'session.2', 'session.3'])
    // The head's L changed, with lengths that still match it: the MAC (or the AAD) covers it.
    const l = f.a.length
    const joined = f.a + f.b + f.c
    const forged = joined.replace(`-3-${l.toString(36)}.`, `-3-${(l + 1).toString(36)}.`)
    const cut = [forged.slice(0, l + 1), forged.slice(l + 1, 2 * l + 2), forged.slice(2 * l + 2)]
    await rejected(t, f, `session=${cut[0] as string}; session.1=${cut[1] as string}; session.2=${cut[2] as string}`, reason,
      ['session', 'session.1', 'session.2'])
  })
}

t.test('a rejected set is deleted on an untouched route when its layout is wrong, but never on a read-only route', async (t) => {
  const f = await fixture('signed')
  t.teardown(() => f.app.close())
  const broken = `session=${f.a}; session.2=${f.c}`
  const untouched = await f.app.inject({ url: '/untouched', headers: { cookie: broken } })
  t.same(parsed(untouched).map((c) => c.header), [`session=${EXPIRED}`, `session.2=${EXPIRED}`])
  t.equal(untouched.headers.vary, 'Cookie')
  const readonly = await f.app.inject({ url: '/readonly', headers: { cookie: broken } })
  t.same(readonly.json(), { new: true })
  t.same(parsed(readonly), [])
  // A set whose layout is right is not verified on a route that never uses it, so nothing is known against it.
  const forged = `session=${f.a}; session.1=${f.b.slice(0, -1)}A; session.2=${f.c}`
  t.same(parsed(await f.app.inject({ url: '/untouched', headers: { cookie: forged } })), [])
  next.data = { counter: 1 }
  const write = await f.app.inject({ url: '/set', headers: { cookie: broken } })
  t.same(parsed(write).map((c) => c.name), ['session', 'session.2'], 'a new session replaces the base and deletes the chunk')
  t.equal(parsed(write)[1]?.header, `session.2=${EXPIRED}`)
})

t.test('chunks are found in any order in the header, and a name that only ends with session.1 is another cookie', async (t) => {
  const f = await fixture('encrypted')
  t.teardown(() => f.app.close())
  const res = await f.app.inject({ url: '/get', headers: { cookie: `session.2=${f.c};session.1=${f.b}; mysession.1=x; session=${f.a}; other=1; my-session.3=y` } })
  t.same(res.json(), { new: false, data: next.data })
  t.same(rejections(f.logs), [])
  t.same(parsed(res), [])
})

t.test('chunk names beside a base cookie that is not chunked are not looked at', async (t) => {
  const f = await fixture('signed')
  t.teardown(() => f.app.close())
  next.data = { counter: 1 }
  const small = cookieHeader(await f.app.inject('/set'))
  const res = await f.app.inject({ url: '/get', headers: { cookie: `${small}; session.1=${f.b}; session.5=x` } })
  t.same(res.json(), { new: false, data: { counter: 1 } })
  t.same(rejections(f.logs), [])
})

t.test('twenty chunk cookies of 4 KB each: an empty session and one debug line, through inject and through a real server', async (t) => {
  const f = await fixture('signed', 10)
  t.teardown(() => f.app.close())
  let cookie = `session=${f.a}`
  for (let i = 1; i <= 20; i++) cookie += `; session.${i}=${Buffer.from(noise(3000, String(i))).toString('base64url').slice(0, 4000)}`
  t.ok(cookie.length > 80000)
  const all = ['session', ...Array.from({ length: 9 }, (_, i) => `session.${i + 1}`)]
  await rejected(t, f, cookie, 'chunk 1 is 4000 characters, not the 4051 its head says', all)

  const logs: Array<Record<string, unknown>> = []
  const app = Fastify({
    logger: { level: 'debug', stream: { write: (line: string) => { logs.push(JSON.parse(line) as Record<string, unknown>) } } },
    serverFactory: (handler) => createServer({ maxHeaderSize: 256 * 1024 }, handler)
  })
  await app.register(typedSession, { secret: SECRET, maxChunks: 10 })
  app.get('/get', async (request) => ({ new: request.session.new }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as AddressInfo
  const answer = await new Promise<{ status: number, body: string }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/get', headers: { cookie } }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d.toString() })
      res.on('end', () => { resolve({ status: res.statusCode as number, body }) })
    })
    req.on('error', reject)
    req.end()
  })
  t.same(answer, { status: 200, body: '{"new":true}' })
  t.equal(rejections(logs).length, 1)
})
