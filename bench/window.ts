/**
 * One timed window: one route of one variant under autocannon load, with
 * the server's CPU time read before and after, and the checks that make
 * the window valid or not.
 *
 * The session cookie comes from a real first response: before the window,
 * a `/write` without a session gives the Cookie header that the load sends.
 * - `/read` and `/untouched` send that one cookie on every request, and
 *   every response must be a 2xx with the body "1" (or "ok").
 * - `/write` chains cookies, as a browser does. Each connection starts
 *   from its own session, made by its own first response with its own
 *   counter (`/write?by=N`, see `step` in `bench/variants.ts`), and every
 *   response's Set-Cookie becomes the next request's Cookie. Sending the
 *   same cookie again and again would not do: each response would write
 *   the counter 2 from the same old cookie, and a cache of verified
 *   cookies would hit on every request, which no real client allows. With
 *   chaining, each response must return its connection's previous counter
 *   plus one; after the window, one more sequential `/write` with each
 *   connection's last cookie must return that last counter plus one (a
 *   server-side counter may be one further ahead, from the request in
 *   flight when the window closed), and the number of checked increments
 *   must equal autocannon's count of 2xx responses.
 *
 * autocannon offers no per-connection state across requests (its request
 * context is reset after each pass over the request list), so the chaining
 * hooks each connection's own copy of the request in `setupClient`. That
 * relies on autocannon 8's `Client.requestIterator`, pinned in the lockfile.
 * A new cookie goes into that request's raw bytes directly, spliced into
 * the request autocannon built for the first cookie, instead of through
 * `client.setHeaders`: its request builder copies the whole option object
 * on every call, and a profile of the load client showed it taking a
 * quarter of the client's time on `/write` (about 10 µs per request). The
 * client shares the machine's two cores with the server, so that cost
 * capped every cookie variant's `/write` at about the same req/s.
 */
import { randomUUID } from 'node:crypto'
import autocannon from 'autocannon'
import { CLK_TCK, cpuTicks, get, machineTicks, nextCookie, type Server } from './server-process.js'

/** The routes every variant answers. */
export const ROUTES = ['read', 'write', 'untouched'] as const
export type Route = typeof ROUTES[number]

/** Reads a `--routes` list (`read,write`); throws on a name that is not a route. */
export function parseRoutes (list: string): Route[] {
  return list.split(',').map((name) => {
    const route = ROUTES.find((r) => r === name.trim())
    if (route === undefined) throw new Error(`Unknown route ${JSON.stringify(name.trim())}; expected ${ROUTES.join(', ')}`)
    return route
  })
}

/** The load's settings. */
export interface Load {
  /** Seconds. */
  duration: number
  connections: number
}

/** What one window measured, and why it is not valid when `problems` is not empty. */
export interface Window {
  variant: string
  /** Which of the variant's server processes was measured (`Server.replica`). */
  replica: number
  route: Route
  round: number
  /** Completed responses. */
  requests: number
  /** Seconds, as autocannon measured the window. */
  duration: number
  rps: number
  /** Milliseconds. */
  p99: number
  /** The server's user + system CPU time per completed response, in µs. */
  cpuUs: number
  /**
   * The share of the machine's CPU time, in percent, that the hypervisor
   * gave to other guests during the window (steal, from `/proc/stat`).
   */
  steal: number
  problems: string[]
}

/** The slice of autocannon 8's Client that the cookie chaining needs. */
interface ClientInternals {
  requestIterator?: { requests?: Array<{ onResponse?: unknown, requestBuffer?: Buffer }> }
}

type Headers = Record<string, string | string[] | undefined>

/** One `/write` connection's chain of cookies and counters. */
interface Chain {
  cookie: string
  last: number
  ok: number
}

function header (headers: Headers | undefined, name: string): string | string[] | undefined {
  if (headers === undefined) return undefined
  for (const key of Object.keys(headers)) if (key.toLowerCase() === name) return headers[key]
  return undefined
}

/** Starts a new session on the server, holding the counter `start`: a `/write?by=start` with a fresh fake id. */
async function newSession (server: Server, start: number, problems: string[]): Promise<string> {
  const sent = `bench=${randomUUID()}`
  const reply = await get(server.port, `/write?by=${start}`, sent)
  if (reply.status < 200 || reply.status > 299 || reply.body !== String(start)) {
    problems.push(`the first /write answered ${reply.status} ${JSON.stringify(reply.body)}, expected 2xx "${start}"`)
  }
  if (server.state === 'cookie' && reply.setCookie.length === 0) problems.push('the first /write set no cookie')
  return nextCookie(sent, reply.setCookie)
}

/** `/write` windows run so far by this process: each one's sessions start from counters of their own. */
let writeWindowsRun = 0

/** Runs one window and checks it. */
export async function runWindow (server: Server, route: Route, round: number, load: Load): Promise<Window> {
  const problems: string[] = []
  const url = `http://127.0.0.1:${server.port}/${route}`
  const options: autocannon.Options = { url, connections: load.connections, duration: load.duration }
  const chains: Chain[] = []
  let mismatched = 0

  if (route === 'write') {
    const serial = ++writeWindowsRun
    for (let i = 0; i < load.connections; i++) {
      // Counters a billion apart: no two connections, in any window (a
      // re-run one included), ever hold the same session data.
      const start = 1 + (serial * load.connections + i) * 1e9
      chains.push({ cookie: await newSession(server, start, problems), last: start, ok: 0 })
    }
    let next = 0
    options.setupClient = (client) => {
      const chain = chains[next++ % chains.length] as Chain
      const request = (client as unknown as ClientInternals).requestIterator?.requests?.[0]
      if (request === undefined) throw new Error('autocannon has no requestIterator: the cookie chaining needs autocannon 8')
      client.setHeaders({ cookie: chain.cookie })
      const built = request.requestBuffer?.toString('latin1') ?? ''
      const at = built.indexOf(chain.cookie)
      if (at < 0) throw new Error('autocannon built a request without the cookie')
      const head = built.slice(0, at)
      const tail = built.slice(at + chain.cookie.length)
      request.onResponse = (status: number, body: string, _context: object, headers: Headers | undefined) => {
        if (status < 200 || status > 299) return
        chain.ok++
        const n = Number(body)
        if (n !== chain.last + 1) mismatched++
        chain.last = n
        const cookie = nextCookie(chain.cookie, header(headers, 'set-cookie'))
        if (cookie !== chain.cookie) {
          chain.cookie = cookie
          request.requestBuffer = Buffer.from(head + cookie + tail, 'latin1')
        }
      }
    }
  } else {
    options.headers = { cookie: await newSession(server, 1, problems) }
    options.expectBody = route === 'read' ? '1' : 'ok'
  }

  const machineBefore = machineTicks()
  const before = cpuTicks(server.pid)
  const result = await autocannon(options)
  const after = cpuTicks(server.pid)
  const machineAfter = machineTicks()
  const elapsed = machineAfter.total - machineBefore.total

  const requests = result.requests.total
  if (requests === 0) problems.push('no request completed')
  if (result.non2xx > 0) problems.push(`${result.non2xx} responses were not 2xx`)
  if (result.errors > 0) problems.push(`${result.errors} errors (${result.timeouts} timeouts)`)
  if (result.mismatches > 0) problems.push(`${result.mismatches} bodies were not ${JSON.stringify(options.expectBody)}`)
  if (route === 'write') {
    if (mismatched > 0) problems.push(`${mismatched} /write responses did not return the previous counter + 1`)
    const checked = chains.reduce((sum, chain) => sum + chain.ok, 0)
    if (checked !== result['2xx']) problems.push(`${checked} increments were checked but autocannon counted ${result['2xx']} 2xx`)
    for (const chain of chains) {
      // One more /write, sequential, with the last cookie. With one request
      // in flight per connection when the window closed, a server-side
      // counter may be one ahead of the last response received.
      const reply = await get(server.port, '/write', chain.cookie)
      const found = Number(reply.body)
      const ahead = server.state === 'server' ? 1 : 0
      if (reply.status > 299 || !Number.isInteger(found) || found < chain.last + 1 || found > chain.last + 1 + ahead) {
        problems.push(`after the window, /write returned ${JSON.stringify(reply.body)} where the last /write had returned ${chain.last}`)
      }
    }
  }
  return {
    variant: server.name,
    replica: server.replica,
    route,
    round,
    requests,
    duration: result.duration,
    rps: requests / result.duration,
    p99: result.latency.p99,
    cpuUs: requests === 0 ? 0 : (after - before) / CLK_TCK * 1e6 / requests,
    steal: elapsed === 0 ? 0 : 100 * (machineAfter.steal - machineBefore.steal) / elapsed,
    problems
  }
}
