/**
 * The session object (DESIGN.md section 3): every member, driven through
 * `app.inject()`, with the cookie carried from one response to the next.
 */
import fastifyCookie from '@fastify/cookie'
import Fastify, { type LightMyRequestResponse } from 'fastify'
import { createRequire } from 'node:module'
import t from 'tap'
import typedSession, { MemoryStore } from '../lib/index.js'
import { build, carry, freezeClock, permanentLogin, SECRET, sessionCookie, setCookies } from './helpers/build.js'

/** The JSON body of a response. */
function json (res: LightMyRequestResponse): Record<string, unknown> {
  return res.json<Record<string, unknown>>()
}

t.test('get returns the value, undefined for a missing key, and the fallback when one is given', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    app.get('/read', async (request) => ({
      username: request.session.get('username'),
      missing: request.session.get('counter') === undefined,
      fallback: request.session.get('counter', 7),
      presentWithFallback: request.session.get('username', 'nobody')
    }))
  })
  const login = await app.inject('/login')
  const read = await app.inject({ url: '/read', cookies: carry(login) })
  t.same(json(read), { username: 'ada', missing: true, fallback: 7, presentWithFallback: 'ada' })
})

t.test('set stores a typed value for the next request, and setting undefined deletes the key', async (t) => {
  const app = await build({}, (app) => {
    app.get('/set', async (request) => {
      request.session.set('counter', 1).set('nested', { list: ['a'], when: new Date(0) })
      request.session.set('value', 'gone soon')
      return 'ok'
    })
    app.get('/unset', async (request) => {
      request.session.set('value', undefined)
      return { has: request.session.has('value'), modified: request.session.modified }
    })
    app.get('/read', async (request) => ({
      counter: request.session.get('counter'),
      list: request.session.get('nested')?.list,
      when: request.session.get('nested')?.when instanceof Date,
      has: request.session.has('value')
    }))
  })
  const set = await app.inject('/set')
  t.same(json(await app.inject({ url: '/read', cookies: carry(set) })), { counter: 1, list: ['a'], when: true, has: true })
  const unset = await app.inject({ url: '/unset', cookies: carry(set) })
  t.same(json(unset), { has: false, modified: true })
  t.same(json(await app.inject({ url: '/read', cookies: carry(unset) })), { counter: 1, list: ['a'], when: true, has: false })
})

t.test('has says whether a key is present', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    app.get('/has', async (request) => ({ username: request.session.has('username'), counter: request.session.has('counter') }))
  })
  t.same(json(await app.inject('/has')), { username: false, counter: false })
  const login = await app.inject('/login')
  t.same(json(await app.inject({ url: '/has', cookies: carry(login) })), { username: true, counter: false })
})

t.test('delete returns whether there was a value, and only a real deletion re-issues the cookie', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.update({ username: 'ada', counter: 1 }); return 'ok' })
    app.get('/delete/counter', async (request) => ({ deleted: request.session.delete('counter') }))
    app.get('/delete/data', async (request) => ({ deleted: request.session.delete('data') }))
    app.get('/read', async (request) => request.session.toJSON())
  })
  const login = await app.inject('/login')
  const missing = await app.inject({ url: '/delete/data', cookies: carry(login) })
  t.same(json(missing), { deleted: false })
  t.same(setCookies(missing), [], 'deleting a missing key changes nothing')
  const deleted = await app.inject({ url: '/delete/counter', cookies: carry(login) })
  t.same(json(deleted), { deleted: true })
  t.same(json(await app.inject({ url: '/read', cookies: carry(deleted) })), { username: 'ada' })
})

t.test('pop removes and returns a value, or returns the fallback for a missing key', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.update({ username: 'ada', counter: 3 }); return 'ok' })
    app.get('/pop', async (request) => ({
      counter: request.session.pop('counter'),
      fallback: request.session.pop('data', 'none'),
      undefinedFallback: request.session.pop('value', undefined) === undefined
    }))
    app.get('/read', async (request) => request.session.toJSON())
  })
  const login = await app.inject('/login')
  const pop = await app.inject({ url: '/pop', cookies: carry(login) })
  t.same(json(pop), { counter: 3, fallback: 'none', undefinedFallback: true })
  t.same(json(await app.inject({ url: '/read', cookies: carry(pop) })), { username: 'ada' })
})

t.test('pop of a missing key without a fallback answers 500 with FST_ERR_SESSION_KEY_NOT_FOUND', async (t) => {
  const app = await build({}, (app) => {
    app.get('/pop', async (request) => request.session.pop('username'))
  })
  const res = await app.inject('/pop')
  t.equal(res.statusCode, 500)
  t.equal(json(res).code, 'FST_ERR_SESSION_KEY_NOT_FOUND')
  t.match(json(res).message, /"username"/)
  t.same(setCookies(res), [])
})

t.test('setDefault returns the present value unchanged, or sets and returns the given one', async (t) => {
  const app = await build({}, (app) => {
    app.get('/default', async (request) => {
      const data = request.session.setDefault('data', [1])
      return { data, modified: request.session.modified }
    })
  })
  const first = await app.inject('/default')
  t.same(json(first), { data: [1], modified: true })
  const second = await app.inject({ url: '/default', cookies: carry(first) })
  t.same(json(second), { data: [1], modified: false })
  t.same(setCookies(second), [], 'a present value is not rewritten')
})

t.test('setDefault hands out the stored value itself, so an in-place change of it is saved', async (t) => {
  const app = await build({}, (app) => {
    app.get('/push', async (request) => {
      request.session.setDefault('data', []).push(8)
      return request.session.get('data')
    })
  })
  const first = await app.inject('/push')
  t.same(first.json(), [8])
  const second = await app.inject({ url: '/push', cookies: carry(first) })
  t.same(second.json(), [8, 8])
})

t.test('update sets every key it is given', async (t) => {
  const app = await build({}, (app) => {
    app.get('/update', async (request) => {
      request.session.set('counter', 1)
      request.session.update({ username: 'ada', counter: 2 })
      return 'ok'
    })
    app.get('/read', async (request) => request.session.toJSON())
  })
  const update = await app.inject('/update')
  t.same(json(await app.inject({ url: '/read', cookies: carry(update) })), { counter: 2, username: 'ada' })
})

t.test('clear empties a permanent session, makes it non-permanent and deletes its cookie', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => {
      request.session.set('username', 'ada')
      request.session.permanent = true
      request.session.flash('hello')
      return 'ok'
    })
    app.get('/logout', async (request) => {
      request.session.clear()
      return { size: request.session.size, permanent: request.session.permanent, flashes: request.session.getFlashedMessages() }
    })
  })
  const login = await app.inject('/login')
  const logout = await app.inject({ url: '/logout', cookies: carry(login) })
  t.same(json(logout), { size: 0, permanent: false, flashes: [] })
  const [deletion] = logout.cookies
  t.equal(logout.cookies.length, 1)
  t.equal(deletion?.name, 'session')
  t.equal(deletion?.value, '')
  t.equal(deletion?.maxAge, 0)
})

t.test('clear on a request without a cookie sets no cookie', async (t) => {
  const app = await build({}, (app) => {
    app.get('/logout', async (request) => { request.session.clear(); return 'ok' })
  })
  const res = await app.inject('/logout')
  t.same(setCookies(res), [])
})

t.test('clear then set starts a new session that holds only the new value', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.update({ username: 'ada', counter: 5 }); return 'ok' })
    app.get('/switch', async (request) => {
      request.session.clear()
      request.session.set('username', 'grace')
      return 'ok'
    })
    app.get('/read', async (request) => request.session.toJSON())
  })
  const login = await app.inject('/login')
  const switched = await app.inject({ url: '/switch', cookies: carry(login) })
  t.same(json(await app.inject({ url: '/read', cookies: carry(switched) })), { username: 'grace' })
})

t.test('the dict views list the data only, never the flash queue or the permanent flag', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => {
      request.session.update({ username: 'ada', counter: 2 })
      request.session.permanent = true
      request.session.flash('welcome')
      return 'ok'
    })
    app.get('/views', async (request) => {
      const session = request.session
      return {
        keys: [...session.keys()],
        values: [...session.values()],
        entries: [...session.entries()],
        iterated: [...session],
        size: session.size,
        json: session.toJSON(),
        stringified: JSON.stringify(session),
        permanent: session.permanent
      }
    })
  })
  const login = await app.inject('/login')
  t.same(json(await app.inject({ url: '/views', cookies: carry(login) })), {
    keys: ['username', 'counter'],
    values: ['ada', 2],
    entries: [['username', 'ada'], ['counter', 2]],
    iterated: [['username', 'ada'], ['counter', 2]],
    size: 2,
    json: { username: 'ada', counter: 2 },
    stringified: '{"username":"ada","counter":2}',
    permanent: true
  })
})

t.test('the dict views hand out stored values, so an in-place change through them is saved', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('nested', { list: ['a'] }); return 'ok' })
    app.get('/values', async (request) => {
      for (const value of request.session.values()) (value as { list: string[] }).list.push('b')
      return 'ok'
    })
    app.get('/entries', async (request) => {
      for (const [, value] of request.session) (value as { list: string[] }).list.push('c')
      return 'ok'
    })
    app.get('/json', async (request) => {
      request.session.toJSON().nested?.list.push('d')
      return 'ok'
    })
    app.get('/read', async (request) => request.session.get('nested'))
  })
  let res = await app.inject('/login')
  for (const url of ['/values', '/entries', '/json']) {
    res = await app.inject({ url, cookies: carry(res) })
  }
  t.same((await app.inject({ url: '/read', cookies: carry(res) })).json(), { list: ['a', 'b', 'c', 'd'] })
})

t.test('new is true without a cookie or with a bad one, and false with a valid cookie', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    app.get('/new', async (request) => ({ new: request.session.new }))
  })
  t.same(json(await app.inject('/new')), { new: true }, 'no cookie')
  const login = await app.inject('/login')
  const value = carry(login).session
  t.same(json(await app.inject({ url: '/new', cookies: { session: value } })), { new: false }, 'a valid cookie')
  const [head, , created, issued, sig] = value.split('.')
  const forged = [head, Buffer.from('{"username":"eve"}').toString('base64url'), created, issued, sig].join('.')
  t.same(json(await app.inject({ url: '/new', cookies: { session: forged } })), { new: true }, 'a tampered cookie')
  t.same(json(await app.inject({ url: '/new', cookies: { session: 'garbage' } })), { new: true }, 'a malformed cookie')
})

t.test('modified is false for an untouched or only read session, and true after a change through the API', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    app.get('/untouched', async (request) => ({ modified: request.session.modified }))
    app.get('/read', async (request) => {
      request.session.get('username')
      return { modified: request.session.modified }
    })
    app.get('/write', async (request) => {
      request.session.set('counter', 1)
      return { modified: request.session.modified }
    })
  })
  const login = await app.inject('/login')
  const cookies = carry(login)
  t.same(json(await app.inject({ url: '/untouched', cookies })), { modified: false })
  t.same(json(await app.inject({ url: '/read', cookies })), { modified: false })
  t.same(json(await app.inject({ url: '/write', cookies })), { modified: true })
})

t.test('a nested in-place change is saved without setting modified by hand', async (t) => {
  const app = await build({}, (app) => {
    app.get('/set', async (request) => { request.session.set('data', [1, 2]); return 'ok' })
    app.get('/append', async (request) => {
      const before = request.session.modified
      request.session.get('data')?.push(8)
      return { before, after: request.session.modified }
    })
    app.get('/read', async (request) => request.session.get('data'))
  })
  const set = await app.inject('/set')
  const append = await app.inject({ url: '/append', cookies: carry(set) })
  t.same(json(append), { before: false, after: true })
  t.equal(setCookies(append).length, 1, 'the changed session is re-issued')
  t.same((await app.inject({ url: '/read', cookies: carry(append) })).json(), [1, 2, 8])
})

t.test('reading a mutable value without changing it does not re-issue the cookie', async (t) => {
  const app = await build({}, (app) => {
    app.get('/set', async (request) => { request.session.set('nested', { list: ['a'], when: new Date(5) }); return 'ok' })
    app.get('/read', async (request) => {
      const nested = request.session.get('nested')
      return { list: nested?.list, modified: request.session.modified }
    })
  })
  const set = await app.inject('/set')
  const read = await app.inject({ url: '/read', cookies: carry(set) })
  t.same(json(read), { list: ['a'], modified: false })
  t.same(setCookies(read), [])
})

t.test('setting modified to true forces a save of an unchanged session', async (t) => {
  const clock = freezeClock(1_700_000_000)
  t.teardown(clock.restore)
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    app.get('/touch', async (request) => { request.session.modified = true; return { modified: request.session.modified } })
    app.get('/read', async (request) => request.session.get('username'))
  })
  const login = await app.inject('/login')
  clock.set(1_700_000_100)
  t.same(setCookies(await app.inject({ url: '/read', cookies: carry(login) })), [], 'without it, nothing is saved')
  const touch = await app.inject({ url: '/touch', cookies: carry(login) })
  t.same(json(touch), { modified: true })
  t.equal(setCookies(touch).length, 1)
  t.not(carry(touch).session, carry(login).session, 'the cookie is signed again')
  t.equal((await app.inject({ url: '/read', cookies: carry(touch) })).body, 'ada')
})

t.test('setting modified to false after a change means the change is not saved', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    app.get('/discard', async (request) => {
      request.session.set('username', 'grace')
      request.session.modified = false
      return { modified: request.session.modified }
    })
    app.get('/discard-nested', async (request) => {
      request.session.setDefault('data', []).push(1)
      request.session.modified = false
      return { modified: request.session.modified }
    })
    app.get('/read', async (request) => request.session.toJSON())
  })
  const fresh = await app.inject('/discard')
  t.same(json(fresh), { modified: false })
  t.same(setCookies(fresh), [], 'a new session sets no cookie')
  const login = await app.inject('/login')
  const discard = await app.inject({ url: '/discard', cookies: carry(login) })
  t.same(setCookies(discard), [], 'a loaded session is not re-issued')
  const discardNested = await app.inject({ url: '/discard-nested', cookies: carry(login) })
  t.same(json(discardNested), { modified: false })
  t.same(setCookies(discardNested), [])
  t.same(json(await app.inject({ url: '/read', cookies: carry(login) })), { username: 'ada' })
})

t.test('a value changed in place into one that cannot be kept counts as modified and fails the response', async (t) => {
  const app = await build({}, (app) => {
    app.get('/set', async (request) => { request.session.set('value', { ok: true }); return 'ok' })
    app.get('/break', async (request) => {
      const value = request.session.get('value') as Record<string, unknown>
      value.fn = () => 1
      return { modified: request.session.modified }
    })
  })
  const set = await app.inject('/set')
  const res = await app.inject({ url: '/break', cookies: carry(set) })
  t.equal(res.statusCode, 500)
  t.equal(json(res).code, 'FST_ERR_SESSION_UNSERIALIZABLE')
  t.match(json(res).message, /"value"/)
  t.same(setCookies(res), [])
})

t.test('accessed is false until something reads or writes the session', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    app.get('/untouched', async (request) => ({ accessed: request.session.accessed }))
    app.get('/read', async (request) => {
      const before = request.session.accessed
      request.session.has('username')
      return { before, after: request.session.accessed }
    })
    app.get('/write', async (request) => {
      request.session.set('counter', 1)
      return { accessed: request.session.accessed }
    })
  })
  const login = await app.inject('/login')
  const cookies = carry(login)
  t.same(json(await app.inject({ url: '/untouched', cookies })), { accessed: false })
  t.same(json(await app.inject({ url: '/read', cookies })), { before: false, after: true })
  t.same(json(await app.inject({ url: '/write' })), { accessed: true })
})

t.test('permanent is kept with the session, and only a real change of it re-issues the cookie', async (t) => {
  const app = await build({ refreshEachRequest: false }, (app) => {
    app.get('/login', permanentLogin)
    app.get('/permanent', async (request) => ({ permanent: request.session.permanent }))
    app.get('/again', async (request) => { request.session.permanent = true; return { modified: request.session.modified } })
    app.get('/forget', async (request) => { request.session.permanent = false; return { modified: request.session.modified } })
  })
  t.same(json(await app.inject('/permanent')), { permanent: false }, 'a new session is not permanent')
  const login = await app.inject('/login')
  t.equal(login.cookies[0]?.maxAge, 2678400)
  t.same(json(await app.inject({ url: '/permanent', cookies: carry(login) })), { permanent: true })
  const again = await app.inject({ url: '/again', cookies: carry(login) })
  t.same(json(again), { modified: false })
  t.same(setCookies(again), [])
  const forget = await app.inject({ url: '/forget', cookies: carry(login) })
  t.same(json(forget), { modified: true })
  t.equal(forget.cookies[0]?.maxAge, undefined, 'the re-issued cookie is a browser-session cookie')
  t.same(json(await app.inject({ url: '/permanent', cookies: carry(forget) })), { permanent: false })
})

t.test('regenerate re-issues the cookie with a new value and a new creation time, keeping the listed keys', async (t) => {
  const clock = freezeClock(1_700_000_000)
  t.teardown(clock.restore)
  const app = await build({ absoluteTimeout: 100 }, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada').set('counter', 1); return 'ok' })
    app.get('/regenerate', async (request) => {
      await request.session.regenerate(['username'])
      return { modified: request.session.modified, keys: [...request.session.keys()] }
    })
    app.get('/read', async (request) => request.session.get('username') ?? 'nobody')
  })
  const login = await app.inject('/login')
  clock.set(1_700_000_050)
  const regenerated = await app.inject({ url: '/regenerate', cookies: carry(login) })
  t.same(json(regenerated), { modified: true, keys: ['username'] })
  t.equal(setCookies(regenerated).length, 1)
  t.not(carry(regenerated).session, carry(login).session)
  t.same((await app.sessions.decode(carry(regenerated).session))?.toJSON(), { username: 'ada' }, 'only the listed key is carried over')
  t.equal((await app.inject({ url: '/read', cookies: carry(regenerated) })).body, 'ada')
  clock.set(1_700_000_120)
  t.equal((await app.inject({ url: '/read', cookies: carry(login) })).body, 'nobody', 'the old cookie is past absoluteTimeout')
  t.equal((await app.inject({ url: '/read', cookies: carry(regenerated) })).body, 'ada', 'the new one counts from regenerate()')
})

t.test('regenerate() keeps no key by default, but keeps permanent and the queued flashes', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => {
      request.session.set('username', 'ada').set('counter', 1)
      request.session.permanent = true
      request.session.flash('welcome', 'info')
      return 'ok'
    })
    app.get('/regenerate', async (request) => {
      await request.session.regenerate()
      return { size: request.session.size, permanent: request.session.permanent }
    })
    app.get('/read', async (request) => ({
      username: request.session.get('username') ?? null,
      permanent: request.session.permanent,
      flashes: request.session.getFlashedMessages({ withCategories: true })
    }))
  })
  const login = await app.inject('/login')
  const regenerated = await app.inject({ url: '/regenerate', cookies: carry(login) })
  t.same(json(regenerated), { size: 0, permanent: true })
  t.not(carry(regenerated).session, carry(login).session)
  t.equal(regenerated.cookies[0]?.maxAge, 2678400, 'still a permanent cookie')
  t.same(json(await app.inject({ url: '/read', cookies: carry(regenerated) })),
    { username: null, permanent: true, flashes: [['info', 'welcome']] })
})

t.test('regenerate() of a session left with nothing deletes its cookie (a logout, as @fastify/passport does it)', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('value', { user: 'ada' }); return 'ok' })
    app.get('/logout', async (request) => {
      request.session.set('value', undefined)
      await request.session.regenerate()
      return 'ok'
    })
    app.get('/regenerate-empty', async (request) => { await request.session.regenerate(); return 'ok' })
  })
  const logout = await app.inject({ url: '/logout', cookies: carry(await app.inject('/login')) })
  t.equal(setCookies(logout).length, 1)
  t.match(setCookies(logout)[0], /^session=; Max-Age=0;/)
  t.same(setCookies(await app.inject('/regenerate-empty')), [], 'a new empty session that regenerates sets no cookie')
})

t.test('regenerate with keys that are not in the session, duplicates, an empty list or junk keeps nothing else, and never throws', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => {
      request.session.set('username', 'ada').set('counter', 1).set('data', [1])
      return 'ok'
    })
    app.get('/regenerate/:case', async (request) => {
      const keep: Record<string, unknown> = {
        missing: ['nested', 'value'],
        mixed: ['value', 'counter', 'nope', 'counter', 'counter'],
        empty: [],
        string: 'username',
        object: { 0: 'username', length: 1 },
        set: new Set(['username']),
        null: null,
        items: [1, null, undefined, {}, ['username'], 'toString', '__proto__'],
        all: ['data', 'username', 'counter']
      }
      await request.session.regenerate(keep[(request.params as { case: string }).case] as never)
      return { keys: [...request.session.keys()], size: request.session.size }
    })
  })
  const login = carry(await app.inject('/login'))
  const expected: Record<string, string[]> = {
    missing: [], mixed: ['counter'], empty: [], string: [], object: [], set: [], null: [], items: [], all: ['username', 'counter', 'data']
  }
  for (const [name, keys] of Object.entries(expected)) {
    const res = await app.inject({ url: `/regenerate/${name}`, cookies: login })
    t.equal(res.statusCode, 200, name)
    t.same(json(res), { keys, size: keys.length }, `${name} keeps ${keys.join(', ') || 'nothing'}`)
    const cookie = res.cookies[0]
    if (keys.length === 0) {
      t.equal(cookie?.maxAge, 0, `${name}: the emptied session's cookie is deleted`)
    } else {
      t.same((await app.sessions.decode(carry(res).session))?.toJSON(),
        Object.fromEntries(keys.map((key) => [key, { username: 'ada', counter: 1, data: [1] }[key]])), `${name}: saved as kept`)
    }
  }
})

t.test('a nested value carried over by regenerate is still change-tracked, in this request and the next', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('data', [1]).set('username', 'ada'); return 'ok' })
    app.get('/regenerate', async (request) => {
      const data = request.session.get('data')
      await request.session.regenerate(['data'])
      data?.push(2)
      request.session.get('data')?.push(3)
      return 'ok'
    })
    app.get('/push', async (request) => { request.session.get('data')?.push(4); return 'ok' })
    app.get('/read', async (request) => ({ data: request.session.get('data') ?? null, username: request.session.get('username') ?? null }))
  })
  const regenerated = await app.inject({ url: '/regenerate', cookies: carry(await app.inject('/login')) })
  t.same(json(await app.inject({ url: '/read', cookies: carry(regenerated) })), { data: [1, 2, 3], username: null })
  const pushed = await app.inject({ url: '/push', cookies: carry(regenerated) })
  t.equal(setCookies(pushed).length, 1, 'an in-place change on the next request re-issues the cookie')
  t.same(json(await app.inject({ url: '/read', cookies: carry(pushed) })), { data: [1, 2, 3, 4], username: null })
})

/** The sloppy-mode helpers of test/fixtures/extensible/sloppy.cjs. */
const sloppy = createRequire(import.meta.url)('./fixtures/extensible/sloppy.cjs') as {
  sloppy: boolean
  assignUnknown: (session: unknown) => string
  assign: (session: unknown, name: string, value: unknown) => unknown
}

/** The TypeError of an assignment to a name the session does not have. */
const UNKNOWN = /^The session has no property "user", and takes no new one \(it would not be saved\): use session\.set\("user", value\), with the key in SessionData$/

t.test('assigning a property that the session does not have, or a method, throws a TypeError at once, a 500, and nothing else in the session is lost', async (t) => {
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    app.get('/junk', async (request) => {
      request.session.set('counter', 1);
      (request.session as unknown as Record<string, unknown>).user = { name: 'ada' }
      return 'not reached'
    })
    app.get('/caught', async (request) => {
      const session = request.session as unknown as Record<string | symbol, unknown>
      const errors: string[] = []
      for (const assign of [() => { session.user = 1 }, () => { session[Symbol('x')] = 1 }, () => { session.get = () => 'replaced' }]) {
        try { assign() } catch (err) { errors.push(`${(err as Error).constructor.name}: ${(err as Error).message}`) }
      }
      request.session.set('data', [1])
      return { errors, user: session.user ?? null, has: 'user' in session, get: request.session.get('username'), keys: [...request.session.keys()] }
    })
    app.get('/read', async (request) => request.session.toJSON())
  })
  const login = await app.inject('/login')
  const junk = await app.inject({ url: '/junk', cookies: carry(login) })
  t.equal(junk.statusCode, 500)
  t.match(junk.json(), { statusCode: 500, message: UNKNOWN })
  t.same(json(await app.inject({ url: '/read', cookies: carry(junk) })), { username: 'ada', counter: 1 },
    'the data set through the API, before and on the failed request, is saved')
  const caught = await app.inject({ url: '/caught', cookies: carry(junk) })
  t.equal(caught.statusCode, 200)
  const { errors, ...rest } = json(caught) as { errors: string[] }
  t.match(errors, [/^TypeError: The session has no property "user"/, /^TypeError: The session has no property Symbol\(x\), and takes no new one \(it would not be saved\): keep data with session\.set\(key, value\)$/, /^TypeError: Cannot assign to read only property 'get'/])
  t.same(rest, { user: null, has: false, get: 'ada', keys: ['username', 'counter', 'data'] }, 'the session works on after a caught TypeError')
  t.same(json(await app.inject({ url: '/read', cookies: carry(caught) })), { username: 'ada', counter: 1, data: [1] })
})

t.test('in sloppy code (CommonJS without use strict) too, an unknown property and a read-only member throw a TypeError, and the members that can be set still work', async (t) => {
  t.equal(sloppy.sloppy, true, 'the fixture runs in sloppy mode')
  const app = await build({}, (app) => {
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
    app.get('/junk', async (request) => sloppy.assignUnknown(request.session))
    app.get('/members', async (request) => {
      const results: Record<string, unknown> = {}
      for (const name of ['new', 'accessed', 'size', 'id']) {
        try {
          results[name] = sloppy.assign(request.session, name, 7)
        } catch (err) {
          results[name] = `${(err as Error).constructor.name}: ${(err as Error).message}`
        }
      }
      results.permanent = sloppy.assign(request.session, 'permanent', true)
      results.modified = sloppy.assign(request.session, 'modified', true)
      // A method cannot be replaced; sloppy code ignores the assignment, as it does for any frozen object.
      results.get = typeof sloppy.assign(request.session, 'get', 'replaced')
      return results
    })
    app.get('/read', async (request) => ({ data: request.session.toJSON(), permanent: request.session.permanent }))
  })
  const login = await app.inject('/login')
  const junk = await app.inject({ url: '/junk', cookies: carry(login) })
  t.equal(junk.statusCode, 500)
  t.match(junk.json(), { message: UNKNOWN })
  t.same(json(await app.inject({ url: '/read', cookies: carry(junk) })), { data: { username: 'ada', counter: 1 }, permanent: false })
  const members = await app.inject({ url: '/members', cookies: carry(login) })
  t.same(json(members), {
    new: "TypeError: The session's new is read-only",
    accessed: "TypeError: The session's accessed is read-only",
    size: "TypeError: The session's size is read-only",
    id: "TypeError: The session's id is read-only",
    permanent: true,
    modified: true,
    get: 'function'
  })
  t.same(json(await app.inject({ url: '/read', cookies: carry(members) })), { data: { username: 'ada' }, permanent: true })
})

t.test('id is the store-mode record\'s id: none for a new session until its save writes it, the new one once regenerate() is saved, none once clear() is', async (t) => {
  const store = new MemoryStore({ userKey: 'username' })
  const seen: Array<string | undefined> = []
  const app = await build({ store }, (app) => {
    app.addHook('onResponse', async (request) => { seen.push(request.session.id) })
    app.get('/login', async (request) => {
      const before = request.session.id
      request.session.set('username', 'ada')
      return { before: before ?? null, after: request.session.id ?? null }
    })
    app.get('/id', async (request) => ({ id: request.session.id ?? null, new: request.session.new }))
    app.get('/regenerate', async (request) => {
      const before = request.session.id
      await request.session.regenerate(['username'])
      return { before, after: request.session.id }
    })
    app.get('/logout', async (request) => {
      request.session.clear()
      return { id: request.session.id }
    })
  })
  const idOf = (res: LightMyRequestResponse): string => carry(res).session.split('.')[0] as string
  const afterSave = (): string | undefined => seen.at(-1)

  t.same(json(await app.inject('/id')), { id: null, new: true }, 'no cookie: no id')
  t.equal(afterSave(), undefined, 'nor after a save that wrote nothing')
  const login = await app.inject('/login')
  t.same(json(login), { before: null, after: null }, 'a new session has no id before its save')
  const first = idOf(login)
  t.equal(afterSave(), first, 'after the save, the id of the record it wrote')
  t.same((await store.listUser('ada')).map((s) => s.id), [first], 'which the store lists')
  t.same(json(await app.inject({ url: '/id', cookies: carry(login) })), { id: first, new: false }, 'a loaded session has its record\'s id')
  t.same(json(await app.inject({ url: '/id', cookies: { session: 'garbage' } })), { id: null, new: true }, 'a bad cookie has none')

  const regenerated = await app.inject({ url: '/regenerate', cookies: carry(login) })
  t.same(json(regenerated), { before: first, after: first }, 'regenerate() leaves the id until the save moves the record')
  const second = idOf(regenerated)
  t.not(second, first)
  t.equal(afterSave(), second, 'the save gives it the new id')
  t.same((await store.listUser('ada')).map((s) => s.id), [second])

  t.same(json(await app.inject({ url: '/logout', cookies: carry(regenerated) })), { id: second }, 'clear() leaves the id until the save deletes the record')
  t.equal(afterSave(), undefined, 'then there is none')
  t.same(await store.listUser('ada'), [])
})

t.test('id is that of the record a session written over a rejected one (validate) is saved to, and none once an untouched save deleted the rejected record', async (t) => {
  const store = new MemoryStore()
  const seen: Array<string | undefined> = []
  const app = await build({ store, validate: (session) => session.get('counter') !== 13 }, (app) => {
    app.addHook('onResponse', async (request) => { seen.push(request.session.id) })
    app.get('/thirteen', async (request) => { request.session.set('counter', 13); return 'ok' })
    app.get('/set', async (request) => {
      request.session.set('username', 'bob')
      return { new: request.session.new, id: request.session.id ?? null }
    })
    app.get('/untouched', async () => 'ok')
  })
  const thirteen = await app.inject('/thirteen')
  const id = carry(thirteen).session.split('.')[0] as string
  t.equal(seen.at(-1), id)
  const set = await app.inject({ url: '/set', cookies: carry(thirteen) })
  t.same(json(set), { new: true, id: null }, 'a rejected session is new, with no id')
  const saved = seen.at(-1) as string
  t.equal(saved, sessionCookie(set)?.split('.')[0] ?? id, 'its save gives it the id of the record in its cookie')
  t.match(await store.get(saved), { username: '"bob"' }, 'which holds the new data')
  t.equal(store.size, 1, 'and is the only record')

  const again = await app.inject('/thirteen')
  const other = carry(again).session.split('.')[0] as string
  await app.inject({ url: '/untouched', cookies: carry(again) })
  t.equal(seen.at(-1), undefined, 'the save deleted the rejected record: no id')
  t.equal(await store.get(other), null)
})

t.test('id is undefined in cookie mode, before and after a save', async (t) => {
  const seen: Array<string | undefined> = []
  const app = await build({}, (app) => {
    app.addHook('onResponse', async (request) => { seen.push(request.session.id) })
    app.get('/login', async (request) => { request.session.set('username', 'ada'); return { id: request.session.id ?? null } })
  })
  const login = await app.inject('/login')
  t.same(json(login), { id: null })
  t.same(json(await app.inject({ url: '/login', cookies: carry(login) })), { id: null })
  t.same(seen, [undefined, undefined])
})

t.test('a request answered before the session opens gets no session cookie and no error', async (t) => {
  const app = Fastify()
  app.addHook('onRequest', async (_request, reply) => reply.code(403).send('denied'))
  await app.register(typedSession, { secret: SECRET })
  app.get('/', async (request) => { request.session.set('username', 'ada'); return 'ok' })
  const res = await app.inject('/')
  t.equal(res.statusCode, 403)
  t.equal(res.body, 'denied')
  t.same(setCookies(res), [])
})

t.test('the plugin uses @fastify/cookie when the app registered it first', async (t) => {
  const app = Fastify()
  await app.register(fastifyCookie)
  await app.register(typedSession, { secret: SECRET })
  app.get('/login', async (request) => { request.session.set('username', 'ada'); return 'ok' })
  app.get('/read', async (request) => ({ username: request.session.get('username'), other: request.cookies.other }))
  const login = await app.inject('/login')
  const read = await app.inject({ url: '/read', cookies: { ...carry(login), other: 'x' } })
  t.same(json(read), { username: 'ada', other: 'x' })
})

t.test('without @fastify/cookie in the app, the plugin adds none of its decorators, and the app may register it afterwards', async (t) => {
  const app = Fastify()
  await app.register(typedSession, { secret: SECRET })
  t.notOk(app.hasDecorator('serializeCookie'), 'no instance decorator')
  t.notOk(app.hasRequestDecorator('cookies'), 'no request.cookies')
  t.notOk(app.hasReplyDecorator('setCookie'), 'no reply.setCookie')
  await app.register(fastifyCookie)
  app.get('/login', async (request, reply) => {
    request.session.set('username', 'ada')
    reply.setCookie('other', 'x', { path: '/' })
    return 'ok'
  })
  app.get('/read', async (request) => ({ username: request.session.get('username'), other: request.cookies.other }))
  const login = await app.inject('/login')
  t.match(setCookies(login), [/^session=[^;]+; Path=\/; HttpOnly; SameSite=Lax$/, /^other=x; Path=\/; SameSite=Lax$/],
    "the app's cookie and the session cookie, each with its own attributes")
  const read = await app.inject({ url: '/read', cookies: { ...carry(login), other: 'x' } })
  t.same(json(read), { username: 'ada', other: 'x' })
})
