import t from 'tap'
import { MemoryStore, type TypedSessionOptions } from '../lib/index.js'
import { build, sessionCookie } from './helpers/build.js'

const MODES: Array<[string, () => Partial<TypedSessionOptions>]> = [
  ['signed', () => ({ format: 'signed' })],
  ['encrypted', () => ({ format: 'encrypted' })],
  ['flask', () => ({ format: 'flask' })],
  ['store', () => ({ store: new MemoryStore() })]
]

for (const [mode, options] of MODES) {
  t.test(`${mode}: a reserved top-level key fails the response with FST_ERR_SESSION_UNSERIALIZABLE naming it, and is never dropped silently`, async (t) => {
    const app = await build(options(), (app) => {
      app.get('/set/:key', async (request) => {
        request.session.set('username', 'ada')
        request.session.set((request.params as { key: string }).key as 'value', 1)
        return 'ok'
      })
    })
    for (const key of ['_flashes', '_permanent', '_created', 'constructor']) {
      const res = await app.inject(`/set/${key}`)
      t.equal(res.statusCode, 500, key)
      t.equal(res.json().code, 'FST_ERR_SESSION_UNSERIALIZABLE', key)
      t.match(res.json().message, `"${key}"`, `the message names ${key}`)
      t.equal(sessionCookie(res), undefined, 'no cookie is set')
    }
  })
}

t.test('with maxCookieSize 0, a value longer than any codec accepts still fails with FST_ERR_SESSION_TOO_LARGE', async (t) => {
  const app = await build({ maxCookieSize: 0, format: 'encrypted' }, (app) => {
    app.get('/big/:n', async (request) => {
      request.session.set('value', 'x'.repeat(Number((request.params as { n: string }).n)))
      return 'ok'
    })
    app.get('/get', async (request) => String((request.session.get('value') as string | undefined)?.length ?? 0))
  })
  const fits = await app.inject('/big/5000')
  t.equal(fits.statusCode, 200, 'a 5 KB session passes with the check off')
  const back = await app.inject({ url: '/get', cookies: { session: sessionCookie(fits) as string } })
  t.equal(back.body, '5000', 'and is read back')
  const tooBig = await app.inject('/big/7000')
  t.equal(tooBig.statusCode, 500)
  t.equal(tooBig.json().code, 'FST_ERR_SESSION_TOO_LARGE')
  t.match(tooBig.json().message, /"value"/)
  t.equal(sessionCookie(tooBig), undefined)
})
