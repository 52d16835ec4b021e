import Fastify from 'fastify'
import typedSession from 'fastify-typed-session'

declare module 'fastify-typed-session' {
  interface SessionData {
    username: string
    visits: number
  }
}

const app = Fastify({ logger: true })
// Without SESSION_SECRET, registration fails with a message that says how to make one.
await app.register(typedSession, { secret: process.env.SESSION_SECRET! })

app.get('/', async (request) => {
  const visits = request.session.get('visits', 0) + 1
  request.session.set('visits', visits)
  const name = request.session.get('username') ?? 'stranger'
  return `Hello, ${name}: visit ${visits}`
})

app.post<{ Body: { username: string } }>('/login', {
  schema: { body: { type: 'object', required: ['username'], properties: { username: { type: 'string', minLength: 1 } } } }
}, async (request) => {
  await request.session.regenerate(['visits']) // a fresh session at login: keeps only `visits`
  request.session.set('username', request.body.username)
  return `Logged in as ${request.body.username}`
})

app.post('/logout', async (request) => {
  request.session.clear() // empties the session: the response deletes the cookie
  return 'Logged out'
})

await app.listen({ port: 3000 })
