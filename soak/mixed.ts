/**
 * The mixed load of scenarios 1 and 2: each connection sends one request at
 * a time, half `/read` and half `/write`, over sessions of its own (it
 * starts a new one now and then), so it knows every counter's value at
 * every step and checks each answer against it.
 *
 * What a connection knows of a session (a `Chain`):
 * - `known`, the counter at the last 2xx answer about it;
 * - `pending`, the writes since then whose outcome is unknown. A write that
 *   got the store's 503 may still have been applied: Redis ran it just
 *   before the store's timeout fired, or ran it and was killed before it
 *   answered. Such a write is pending until the next 2xx shows the value.
 *   A 503 that says the load failed (`get failed`), or that the client was
 *   not connected (nothing was sent), is known not to have written.
 *
 * So a 2xx must show a value from `known` (+1 for a write) to that plus
 * `pending`. Below that range, a write was lost; above it, a write came
 * from nowhere. What the 2xx reveals of the pending writes is counted as
 * `phantom`: writes that got a 503 and were applied anyway.
 */
import type { Agent } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { connection, get, pool, type Reply } from './http.js'

/** The share of requests that start a new session. */
const NEW_SESSION = 0.01
/** The share of the other requests that are writes. */
const WRITES = 0.5
const STORE_CODE = 'FST_ERR_SESSION_STORE_UNAVAILABLE'
/** A 503 that no write can be behind: the load failed, or nothing was sent. */
const NOT_WRITTEN = /unavailable: (get failed|set failed: Redis is not connected)/
const SAMPLES = 10

/** A session of one connection, and what the connection knows of it. */
export interface Chain {
  label: string
  cookie: string
  /** When its first write was answered (ms of `performance.now()`). */
  created: number
  /** The counter at the last 2xx answer about the session. */
  known: number
  /** Writes since then that got a 503 and may have been applied. */
  pending: number
  /** When each of those got its 503 (ms of `performance.now()`). */
  pendingAt: number[]
  /** Writes acknowledged with a 2xx, the first one included. */
  acked: number
  /** Writes that got a 503 and were applied anyway, as a later answer showed. */
  phantom: number
  /** When those got their 503 (which of the pending writes was applied is unknown: the earliest are counted). */
  phantomAt: number[]
  /** Set by `readBack`: the session was read back, and its counter is its acknowledged and phantom writes. */
  intact?: boolean
}

/** The store's 503: when its request was sent and answered. */
export interface Outage503 { start: number, end: number }

/** What a load saw. */
export interface LoadResult {
  requests: number
  creates: number
  writes: number
  reads: number
  /** Requests answered with a 2xx. */
  ok: number
  /** `[start, end, start, end, …]` of every 2xx, in ms of `performance.now()`. */
  oks: number[]
  /** The store's 503s (in Redis mode only; in cookie mode they are errors). */
  unavailable: Outage503[]
  /** Writes that got a 503 and may have been applied. */
  unknownOutcome: number
  /** The messages of the store's 503s, with their counts (writes of unknown outcome apart). */
  messages: Record<string, number>
  /** Everything else that went wrong: a network error, another status, a wrong answer. */
  errors: number
  samples: string[]
  chains: Chain[]
}

interface Body { counter?: number | null, label?: string | null, code?: string, message?: string }

function parse (text: string): Body {
  try {
    return JSON.parse(text) as Body
  } catch {
    return {}
  }
}

/** Checks a 2xx answer about a chain, and moves the chain on; returns the problem, if any. */
function settle (chain: Chain, body: Body, write: boolean): string | undefined {
  if (body.label === null && body.counter === null) return 'the session is gone: the server answered with a new, empty session'
  if (body.label !== chain.label) return `the label is ${JSON.stringify(body.label)} instead of ${JSON.stringify(chain.label)}`
  const least = chain.known + (write ? 1 : 0)
  const counter = body.counter
  if (typeof counter !== 'number' || counter < least) return `the counter is ${String(counter)}, below ${least}: a write was lost`
  if (counter > least + chain.pending) return `the counter is ${counter}, above ${least + chain.pending}: a write came from nowhere`
  chain.phantom += counter - least
  chain.phantomAt.push(...chain.pendingAt.slice(0, counter - least))
  chain.known = counter
  chain.pending = 0
  chain.pendingAt = []
  if (write) chain.acked++
  return undefined
}

/** Runs the mixed load until `until` (ms of `performance.now()`). `store`: the store's 503 is expected. */
export async function mixedLoad (port: number, connections: number, until: number, store: boolean): Promise<LoadResult> {
  const result: LoadResult = {
    requests: 0, creates: 0, writes: 0, reads: 0, ok: 0, oks: [], unavailable: [], unknownOutcome: 0, messages: {}, errors: 0, samples: [], chains: []
  }
  const fail = (problem: string): void => {
    result.errors++
    if (result.samples.length < SAMPLES) result.samples.push(problem)
  }

  async function run (c: number, agent: Agent): Promise<void> {
    const mine: Chain[] = []
    let made = 0
    while (performance.now() < until) {
      const chain = mine.length === 0 || Math.random() < NEW_SESSION ? undefined : mine[Math.floor(Math.random() * mine.length)] as Chain
      const write = chain === undefined || Math.random() < WRITES
      const label = `c${c}-${made}`
      const path = chain === undefined ? `/write?label=${label}` : write ? '/write' : '/read'
      const what = chain === undefined ? 'create' : write ? 'write' : 'read'
      result.requests++
      if (chain === undefined) result.creates++
      else if (write) result.writes++
      else result.reads++
      let reply: Reply
      try {
        reply = await get(agent, port, path, chain?.cookie)
      } catch (err) {
        fail(`${what}: ${(err as Error).message}`)
        await sleep(10)
        continue
      }
      const body = parse(reply.body)
      if (reply.status === 503 && body.code === STORE_CODE && store) {
        result.unavailable.push({ start: reply.start, end: reply.end })
        const unknown = chain !== undefined && write && !NOT_WRITTEN.test(body.message ?? '')
        if (unknown) {
          chain.pending++
          chain.pendingAt.push(reply.end)
          result.unknownOutcome++
        }
        const message = `${unknown ? 'a write of unknown outcome: ' : ''}${String(body.message).replace(/^The session store is unavailable: /, '')}`
        result.messages[message] = (result.messages[message] ?? 0) + 1
        continue
      }
      if (reply.status !== 200) {
        fail(`${what}: status ${reply.status}: ${reply.body.slice(0, 200)}`)
        continue
      }
      result.ok++
      result.oks.push(reply.start, reply.end)
      if (chain === undefined) {
        if (body.counter !== 1 || body.label !== label) fail(`create: the answer is ${reply.body}`)
        else if (reply.cookie === undefined || reply.cookie === '') fail('create: no session cookie was set')
        else {
          made++
          const created: Chain = { label, cookie: reply.cookie, created: reply.end, known: 1, pending: 0, pendingAt: [], acked: 1, phantom: 0, phantomAt: [] }
          mine.push(created)
          result.chains.push(created)
        }
        continue
      }
      const problem = settle(chain, body, write)
      if (problem !== undefined) fail(`${what} of ${chain.label}: ${problem}`)
      if (reply.cookie !== undefined) {
        // The cookie carries the data in cookie mode, so each write sets it; in store mode, the id never changes.
        if (store || !write) fail(`${what} of ${chain.label}: an unexpected Set-Cookie (${reply.cookie.slice(0, 20)}…)`)
        chain.cookie = reply.cookie
      } else if (write && !store) {
        fail(`write of ${chain.label}: no new session cookie`)
      }
    }
  }

  await Promise.all(Array.from({ length: connections }, async (_, c) => {
    const agent = connection()
    try {
      await run(c, agent)
    } finally {
      agent.destroy()
    }
  }))
  return result
}

/** What reading every session back found. */
export interface ReadBack {
  sessions: number
  /** Sessions whose counter is the number of writes acknowledged with a 2xx. */
  exact: number
  /** Sessions whose counter also counts writes that got a 503 (and were applied anyway). */
  withPhantom: number
  /** Writes that got a 503 and were applied anyway, over all sessions. */
  phantom: number
  /** Sessions missing, or whose counter is below what was acknowledged. */
  lost: number
  errors: number
  samples: string[]
}

/** Reads every chain's session back, and checks its counter against every answer the load got. */
export async function readBack (port: number, connections: number, chains: Chain[]): Promise<ReadBack> {
  const found: ReadBack = { sessions: chains.length, exact: 0, withPhantom: 0, phantom: 0, lost: 0, errors: 0, samples: [] }
  const fail = (problem: string): void => {
    found.errors++
    if (found.samples.length < SAMPLES) found.samples.push(problem)
  }
  await pool(chains.length, connections, async (agent, i) => {
    const chain = chains[i] as Chain
    let reply: Reply
    try {
      reply = await get(agent, port, '/read', chain.cookie)
    } catch (err) {
      fail(`read back ${chain.label}: ${(err as Error).message}`)
      return
    }
    if (reply.status !== 200) {
      fail(`read back ${chain.label}: status ${reply.status}: ${reply.body.slice(0, 200)}`)
      return
    }
    const body = parse(reply.body)
    const problem = settle(chain, body, false)
    if (problem !== undefined) {
      if (/lost|label|gone/.test(problem)) found.lost++
      fail(`read back ${chain.label}: ${problem}`)
      return
    }
    // Every write is +1, so the counter is the acknowledged writes plus the phantom ones.
    if (chain.known !== chain.acked + chain.phantom) {
      fail(`read back ${chain.label}: the counter ${chain.known} is not ${chain.acked} acknowledged + ${chain.phantom} phantom writes`)
      return
    }
    chain.intact = true
    found.phantom += chain.phantom
    if (chain.phantom === 0) found.exact++
    else found.withPhantom++
  })
  return found
}
