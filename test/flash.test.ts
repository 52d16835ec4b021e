/**
 * Flash messages: `request.session.flash()` queues `[category, message]` pairs in
 * the session under `_flashes`, and `request.session.getFlashedMessages()` returns
 * and consumes them, as Flask does.
 */
import t from 'tap'
import { build, carry, setCookies } from './helpers/build.js'

type App = Awaited<ReturnType<typeof build>>

/** An app whose `/flash` queues three messages in two categories. */
async function flashApp (): Promise<App> {
  return build({}, (app) => {
    app.get('/flash', async (request) => {
      request.session.flash('Hello World')
      request.session.flash('Careful', 'warning')
      request.session.flash('Oops', 'error')
      return 'ok'
    })
    app.get('/messages', async (request) => request.session.getFlashedMessages())
    app.get('/with-categories', async (request) => request.session.getFlashedMessages({ withCategories: true }))
  })
}

t.test('getFlashedMessages returns the queued messages in order', async (t) => {
  const app = await flashApp()
  const flashed = await app.inject('/flash')
  t.equal(setCookies(flashed).length, 1, 'queueing a message sets the cookie')
  t.same((await app.inject({ url: '/messages', cookies: carry(flashed) })).json(), ['Hello World', 'Careful', 'Oops'])
})

t.test('reading the messages consumes them: the next request sees none', async (t) => {
  const app = await flashApp()
  const flashed = await app.inject('/flash')
  const read = await app.inject({ url: '/messages', cookies: carry(flashed) })
  t.same(read.json(), ['Hello World', 'Careful', 'Oops'])
  t.equal(read.cookies[0]?.maxAge, 0, 'a session that held only flashes is deleted')
  t.same((await app.inject('/messages')).json(), [])
})

t.test('reading the messages re-issues the cookie without them, keeping the data', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => {
      request.session.set('username', 'ada')
      request.session.flash('Welcome, ada')
      return 'ok'
    })
    app.get('/messages', async (request) => ({ messages: request.session.getFlashedMessages(), username: request.session.get('username') }))
  })
  const login = await app.inject('/login')
  const read = await app.inject({ url: '/messages', cookies: carry(login) })
  t.same(read.json(), { messages: ['Welcome, ada'], username: 'ada' })
  t.equal(setCookies(read).length, 1)
  t.notOk(read.cookies[0]?.maxAge === 0, 'the cookie is re-issued, not deleted')
  const decoded = await app.sessions.decode(carry(read).session)
  t.same(decoded?.toJSON(), { username: 'ada' })
  t.same((await app.inject({ url: '/messages', cookies: carry(read) })).json(), { messages: [], username: 'ada' })
})

t.test('withCategories returns [category, message] pairs, with "message" as the default category', async (t) => {
  const app = await flashApp()
  const flashed = await app.inject('/flash')
  t.same((await app.inject({ url: '/with-categories', cookies: carry(flashed) })).json(), [
    ['message', 'Hello World'],
    ['warning', 'Careful'],
    ['error', 'Oops']
  ])
})

t.test('categoryFilter returns only those categories but consumes every message, as Flask does', async (t) => {
  const app = await build({}, (app) => {
    app.get('/flash', async (request) => {
      request.session.flash('Hello World')
      request.session.flash('Careful', 'warning')
      request.session.flash('Oops', 'error')
      return 'ok'
    })
    app.get('/errors', async (request) => request.session.getFlashedMessages({ categoryFilter: ['error', 'warning'] }))
    app.get('/errors-with-categories', async (request) =>
      request.session.getFlashedMessages({ categoryFilter: ['error'], withCategories: true }))
    app.get('/empty-filter', async (request) => request.session.getFlashedMessages({ categoryFilter: [] }))
    app.get('/messages', async (request) => request.session.getFlashedMessages())
  })
  const flashed = await app.inject('/flash')
  const errors = await app.inject({ url: '/errors', cookies: carry(flashed) })
  t.same(errors.json(), ['Careful', 'Oops'], 'in queue order')
  t.equal(errors.cookies[0]?.maxAge, 0, 'the hidden message is consumed too')
  t.same((await app.inject('/messages')).json(), [])
  t.same((await app.inject({ url: '/errors-with-categories', cookies: carry(flashed) })).json(), [['error', 'Oops']])
  t.same((await app.inject({ url: '/empty-filter', cookies: carry(flashed) })).json(), ['Hello World', 'Careful', 'Oops'],
    'an empty filter keeps every category')
})

t.test('calling getFlashedMessages twice in one request returns the same messages', async (t) => {
  const app = await build({}, (app) => {
    app.get('/flash', async (request) => { request.session.flash('Zap'); request.session.flash('Zip', 'info'); return 'ok' })
    app.get('/twice', async (request) => ({
      first: request.session.getFlashedMessages(),
      second: request.session.getFlashedMessages(),
      third: request.session.getFlashedMessages({ withCategories: true, categoryFilter: ['info'] })
    }))
  })
  const flashed = await app.inject('/flash')
  t.same((await app.inject({ url: '/twice', cookies: carry(flashed) })).json(), {
    first: ['Zap', 'Zip'],
    second: ['Zap', 'Zip'],
    third: [['info', 'Zip']]
  })
})

t.test('a message flashed after reading is kept for the next request', async (t) => {
  const app = await build({}, (app) => {
    app.get('/flash', async (request) => { request.session.flash('first'); return 'ok' })
    app.get('/read-then-flash', async (request) => {
      const read = request.session.getFlashedMessages()
      request.session.flash('second')
      return { read, again: request.session.getFlashedMessages() }
    })
    app.get('/messages', async (request) => request.session.getFlashedMessages())
  })
  const flashed = await app.inject('/flash')
  const res = await app.inject({ url: '/read-then-flash', cookies: carry(flashed) })
  t.same(res.json(), { read: ['first'], again: ['first'] })
  t.same((await app.inject({ url: '/messages', cookies: carry(res) })).json(), ['second'])
})

t.test('flash sets modified, even after modified was set to false', async (t) => {
  const app = await build({}, (app) => {
    app.get('/flash', async (request) => {
      const before = request.session.modified
      request.session.flash('Zap')
      const afterFirst = request.session.modified
      request.session.modified = false
      const reset = request.session.modified
      request.session.flash('Zip')
      return { before, afterFirst, reset, afterSecond: request.session.modified, messages: request.session.getFlashedMessages() }
    })
  })
  const res = await app.inject('/flash')
  t.same(res.json(), { before: false, afterFirst: true, reset: false, afterSecond: true, messages: ['Zap', 'Zip'] })
})

t.test('flash turns its message into a string, and the flash queue never shows among the session keys', async (t) => {
  const app = await build({}, (app) => {
    app.get('/flash', async (request) => {
      request.session.flash(42 as unknown as string, 'number')
      return { size: request.session.size, keys: [...request.session.keys()], json: request.session.toJSON() }
    })
    app.get('/messages', async (request) => request.session.getFlashedMessages({ withCategories: true }))
  })
  const flashed = await app.inject('/flash')
  t.same(flashed.json(), { size: 0, keys: [], json: {} })
  t.same((await app.inject({ url: '/messages', cookies: carry(flashed) })).json(), [['number', '42']])
})

t.test('a request that does not read the flashes leaves them queued', async (t) => {
  const app = await build({}, (app) => {
    app.get('/flash', async (request) => { request.session.flash('later'); return 'ok' })
    app.get('/other', async (request) => { request.session.set('counter', 1); return 'ok' })
    app.get('/messages', async (request) => request.session.getFlashedMessages())
  })
  const flashed = await app.inject('/flash')
  const other = await app.inject({ url: '/other', cookies: carry(flashed) })
  t.same((await app.inject({ url: '/messages', cookies: carry(other) })).json(), ['later'])
})

t.test('the plugin decorates no request.flash or getFlashedMessages, so @fastify/flash can own request.flash', async (t) => {
  const app = await build({}, (app) => {
    t.equal(app.hasRequestDecorator('flash'), false)
    t.equal(app.hasRequestDecorator('getFlashedMessages'), false)
    // What @fastify/flash (registered by @fastify/passport) does: no FST_ERR_DEC_ALREADY_PRESENT.
    const theirs = function (this: { session: { set: (k: 'value', v: unknown) => void } }, type: string, message: string): void {
      this.session.set('value', { [type]: [message] })
    }
    app.decorateRequest('flash', theirs as never)
    app.get('/both', async (request) => {
      (request as unknown as { flash: (type: string, message: string) => void }).flash('info', 'theirs')
      request.session.flash('ours')
      return { value: request.session.get('value'), ours: request.session.getFlashedMessages() }
    })
  })
  t.same((await app.inject('/both')).json(), { value: { info: ['theirs'] }, ours: ['ours'] })
})
