/**
 * The memory check (`npm run bench -- --memory`): after 2
 * million `/read` requests over 10,000 distinct session cookies, the
 * server's heap must be no more than 30 MB above what it was after the
 * first 100,000. It runs for `typed-signed` unless `--variants` names
 * others.
 *
 * The cookies come from real first responses: one `/write?by=N` per
 * session, so that session N holds the counter N and every cookie differs
 * (two signed sessions with the same data, made in the same second, would
 * be the same string). Every response must read its own session's
 * counter. The load gives each autocannon connection the whole list of cookies as
 * its request list (one request per cookie), each connection starting at
 * a different offset, so all 10,000 sessions keep coming back. Heap is
 * read from the server's `/__heap` route, after a full GC.
 */
import { Agent } from 'node:http'
import { randomUUID } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import autocannon from 'autocannon'
import { get, heapUsed, nextCookie, type Server } from './server-process.js'

/** The memory check's settings. */
export interface MemoryOptions {
  connections: number
  /** Total `/read` requests. */
  requests: number
  /** Distinct session cookies. */
  sessions: number
  /** Requests after which the reference heap is read. */
  baseline: number
  /** The most the heap may grow after the baseline, in MB. */
  limitMB: number
  command: string
  out: string
}

const MB = 2 ** 20

/** Makes `count` sessions, session i holding the counter i + 1, so that every cookie differs. */
async function makeSessions (server: Server, count: number, parallel: number): Promise<string[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: parallel })
  const cookies: string[] = []
  let made = 0
  const worker = async (): Promise<void> => {
    while (made < count) {
      const i = made++
      const sent = `bench=${randomUUID()}`
      const reply = await get(server.port, `/write?by=${i + 1}`, sent, agent)
      if (reply.status > 299 || reply.body !== String(i + 1)) {
        throw new Error(`/write?by=${i + 1} answered ${reply.status} ${JSON.stringify(reply.body)} on ${server.name}`)
      }
      cookies[i] = nextCookie(sent, reply.setCookie)
    }
  }
  await Promise.all(Array.from({ length: parallel }, worker))
  agent.destroy()
  return cookies
}

/** Sends `amount` `/read` requests spread over the cookies; returns the problems found. */
async function readLoad (server: Server, cookies: string[], amount: number, connections: number): Promise<string[]> {
  let wrong = 0
  // Each request checks its own answer: cookie i must read i + 1.
  const requests: autocannon.Request[] = cookies.map((cookie, i) => ({
    method: 'GET',
    path: '/read',
    headers: { cookie },
    onResponse: (status: number, body: string) => { if (status < 300 && body !== String(i + 1)) wrong++ }
  }))
  let next = 0
  const result = await autocannon({
    url: `http://127.0.0.1:${server.port}/read`,
    connections,
    amount,
    setupClient: (client) => {
      const offset = Math.floor(next++ * requests.length / connections)
      client.setRequests([...requests.slice(offset), ...requests.slice(0, offset)])
    }
  })
  const problems: string[] = []
  if (result.requests.total !== amount) problems.push(`${result.requests.total} responses instead of ${amount}`)
  if (result.non2xx > 0) problems.push(`${result.non2xx} responses were not 2xx`)
  if (result.errors > 0) problems.push(`${result.errors} errors`)
  if (wrong > 0) problems.push(`${wrong} responses did not read their own session's counter`)
  return problems
}

/** Runs the memory check on each server; returns whether every one passed. */
export async function runMemory (servers: Server[], options: MemoryOptions): Promise<boolean> {
  const { connections, requests, sessions, baseline, limitMB } = options
  const out = [
    '# Memory check',
    '',
    `- Node ${process.version}; date ${new Date().toISOString()}`,
    `- Command: \`${options.command}\``,
    `- ${requests.toLocaleString('en-US')} \`/read\` requests over ${sessions.toLocaleString('en-US')} distinct session cookies, ${connections} connections; heapUsed after a full GC`,
    '',
    '| variant | heap before load MB | after first ' + baseline.toLocaleString('en-US') + ' MB | after all MB | growth MB | limit MB | result |',
    '|---|---|---|---|---|---|---|'
  ]
  let passed = true
  for (const server of servers) {
    process.stderr.write(`memory: ${server.name}: making ${sessions} sessions\n`)
    const cookies = await makeSessions(server, sessions, connections)
    const problems: string[] = []
    if (new Set(cookies).size !== sessions) problems.push(`only ${new Set(cookies).size} distinct cookies`)
    const start = await heapUsed(server.port)
    process.stderr.write(`memory: ${server.name}: first ${baseline} requests\n`)
    problems.push(...await readLoad(server, cookies, baseline, connections))
    const first = await heapUsed(server.port)
    process.stderr.write(`memory: ${server.name}: ${requests - baseline} more requests\n`)
    problems.push(...await readLoad(server, cookies, requests - baseline, connections))
    const last = await heapUsed(server.port)
    const growth = (last - first) / MB
    const ok = problems.length === 0 && growth <= limitMB
    passed &&= ok
    const verdict = problems.length > 0 ? `**INVALID**: ${problems.join('; ')}` : ok ? 'met' : '**not met**'
    out.push(`| ${server.name} | ${(start / MB).toFixed(1)} | ${(first / MB).toFixed(1)} | ${(last / MB).toFixed(1)} | ${growth.toFixed(1)} | ${limitMB} | ${verdict} |`)
  }
  const report = out.join('\n') + '\n'
  process.stdout.write(report)
  mkdirSync(dirname(options.out), { recursive: true })
  writeFileSync(options.out, report)
  return passed
}
