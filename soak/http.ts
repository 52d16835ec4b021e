/**
 * The soak's HTTP client: plain `node:http`, one keep-alive agent per
 * connection, so that each connection sends one request at a time and
 * knows the result of each before it sends the next.
 */
import { Agent, request } from 'node:http'

/** A response, with the session cookie it set and when it was sent and answered (`performance.now()`, ms). */
export interface Reply {
  status: number
  body: string
  /** The session cookie's new value, `''` when it was deleted, `undefined` when it was not set. */
  cookie: string | undefined
  start: number
  end: number
}

/** One connection: a keep-alive agent that holds a single socket. */
export function connection (): Agent {
  return new Agent({ keepAlive: true, maxSockets: 1 })
}

/** The session cookie's value in Set-Cookie headers. */
export function sessionCookie (headers: string[] | undefined): string | undefined {
  const header = headers?.find((h) => h.startsWith('session='))
  if (header === undefined) return undefined
  if (/;\s*Max-Age=0/i.test(header)) return ''
  const end = header.indexOf(';')
  return header.slice('session='.length, end < 0 ? undefined : end)
}

/** Sends `GET path` on the connection, with the session cookie when one is given. */
export async function get (agent: Agent, port: number, path: string, cookie?: string): Promise<Reply> {
  const start = performance.now()
  return await new Promise((resolve, reject) => {
    const headers = cookie === undefined ? {} : { cookie: `session=${cookie}` }
    const req = request({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body, cookie: sessionCookie(res.headers['set-cookie']), start, end: performance.now() })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** Runs `task(i)` for i from 0 to count - 1, `concurrency` at a time, each worker on its own connection. */
export async function pool (count: number, concurrency: number, task: (agent: Agent, i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, async () => {
    const agent = connection()
    try {
      while (next < count) await task(agent, next++)
    } finally {
      agent.destroy()
    }
  }))
}
