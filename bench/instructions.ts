/**
 * Instructions per request, counted by valgrind's callgrind: a figure
 * that does not move with the machine's load, for comparing two versions
 * of the code (run it before and after a change) where `npm run bench`'s
 * CPU times are too noisy to tell a few percent apart.
 *
 *   npm run bench:instructions [-- --variants bare,typed-signed --routes read,write,untouched --requests 3000 --warmup 20000]
 *
 * Each variant × route gets its own server process (the compiled server of
 * `bench/build.ts`) under `valgrind --tool=callgrind --instr-atstart=no`.
 * One keep-alive connection sends `--warmup` requests, untimed and
 * uncounted; then instrumentation is switched on (`callgrind_control -i
 * on`), `--requests` requests are sent one after another, and it is
 * switched off and dumped. The count is user-space instructions of the
 * whole server process (Node's HTTP, Fastify, V8's compiler and GC, and
 * the plugin) divided by the requests. `/write` chains cookies as in
 * `bench/window.ts`, and every response is checked: `/read` must answer
 * "1", `/write` the previous counter plus one, `/untouched` "ok". The
 * routes default to `/read` and `/write`.
 *
 * The warm-up is long because V8 is still compiling long after the first
 * few thousand requests: under valgrind, after 3,000 requests of warm-up,
 * bare Fastify's `/write` counted 90.0k instructions per request and
 * `typed-memory`'s 115.7k; after 20,000, 58.4k and 76.6k. A third of the
 * first count was V8 still warming up (compiling, and running code not
 * yet optimized), and how much of that fell in the counted requests moved
 * with any change to the code, so small differences between two versions
 * were lost in it.
 *
 * A variant that allocates much moves more from run to run, with where
 * its full GCs fall (secure-session's `/write` counted 160k in one run and
 * 199k in two others, after 3,000 of warm-up). Counts do not weigh an
 * instruction by its cost (a cache miss counts as one), so compare
 * versions with the same flags rather than reading the count as time.
 * Needs valgrind (Debian package `valgrind`); it takes about a minute and
 * a half per variant and route.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { Agent } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { buildServer, removeBuild } from './build.js'
import { get, nextCookie } from './server-process.js'
import { selectVariants } from './variants.js'
import { parseRoutes } from './window.js'

const { values: flags } = parseArgs({
  options: {
    variants: { type: 'string', default: 'bare,typed-signed' },
    routes: { type: 'string', default: 'read,write' },
    requests: { type: 'string', default: '3000' },
    warmup: { type: 'string', default: '20000' }
  },
  strict: true
})

const requests = Number(flags.requests)
const warmup = Number(flags.warmup)
if (!Number.isInteger(requests) || requests < 1 || !Number.isInteger(warmup) || warmup < 0) {
  throw new Error('--requests expects a whole number of at least 1, and --warmup one of at least 0')
}
const routes = parseRoutes(flags.routes)
if (spawnSync('valgrind', ['--version']).error !== undefined) {
  throw new Error('valgrind is not installed: install the Debian package valgrind (apt-get install -y valgrind)')
}

function control (pid: number, ...args: string[]): void {
  const result = spawnSync('callgrind_control', [...args, String(pid)], { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`callgrind_control ${args.join(' ')} failed: ${result.stderr}`)
}

/** Sends `count` requests one after another, checking each answer; returns the last cookie. */
async function send (port: number, agent: Agent, route: string, cookie: string, count: number, counter: { n: number }): Promise<string> {
  for (let i = 0; i < count; i++) {
    const reply = await get(port, `/${route}`, cookie, agent)
    if (route !== 'write') {
      const expected = route === 'read' ? '1' : 'ok'
      if (reply.status !== 200 || reply.body !== expected) throw new Error(`/${route} answered ${reply.status} ${JSON.stringify(reply.body)}`)
    } else {
      if (reply.status !== 200 || reply.body !== String(counter.n + 1)) {
        throw new Error(`/write answered ${reply.status} ${JSON.stringify(reply.body)}, expected ${counter.n + 1}`)
      }
      counter.n++
      cookie = nextCookie(cookie, reply.setCookie)
    }
  }
  return cookie
}

/** Counts the instructions per request of one variant on one route. */
async function count (script: string, variant: string, route: string, dir: string): Promise<number> {
  const child = spawn('valgrind', ['--tool=callgrind', '--smc-check=all', '--instr-atstart=no',
    `--callgrind-out-file=${join(dir, `${variant}.${route}.%p`)}`, process.execPath, script, variant, '0'],
  { stdio: ['pipe', 'pipe', 'ignore'] })
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once('exit', (code) => { reject(new Error(`the ${variant} server exited with code ${String(code)} before listening`)) })
      createInterface({ input: child.stdout }).once('line', (line) => { resolve((JSON.parse(line) as { port: number }).port) })
    })
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    const counter = { n: 1 }
    // A session of our own, holding 1, from a real first response.
    const first = await get(port, '/write?by=1', 'bench=instructions', agent)
    let cookie = nextCookie('bench=instructions', first.setCookie)
    cookie = await send(port, agent, route, cookie, warmup, counter)
    control(child.pid as number, '-i', 'on')
    await send(port, agent, route, cookie, requests, counter)
    control(child.pid as number, '-i', 'off')
    control(child.pid as number, '-d')
    agent.destroy()
  } finally {
    child.kill('SIGTERM')
    await exited
  }
  // The dump asked for above is part 1; the one at exit (with nothing counted) has no suffix.
  const dump = readdirSync(dir).find((f) => f.startsWith(`${variant}.${route}.`) && f.endsWith('.1'))
  if (dump === undefined) throw new Error(`callgrind wrote no dump for ${variant} /${route}`)
  const totals = /^totals: (\d+)$/m.exec(readFileSync(join(dir, dump), 'utf8'))
  if (totals === null) throw new Error(`no totals in ${dump}`)
  return Number(totals[1]) / requests
}

const dir = mkdtempSync(join(tmpdir(), 'callgrind-'))
try {
  const script = buildServer()
  const variants = selectVariants(flags.variants)
  const redis = variants.find((v) => v.redis === true)
  if (redis !== undefined) throw new Error(`${redis.name} needs a Redis server, which this count does not start; count it with npm run bench`)
  const rows: string[] = []
  const bare: Record<string, number> = {}
  for (const route of routes) {
    for (const variant of variants) {
      process.stderr.write(`counting ${variant.name} /${route}\n`)
      const perRequest = await count(script, variant.name, route, dir)
      if (variant.name === 'bare') bare[route] = perRequest
      const excess = bare[route] === undefined || variant.name === 'bare' ? undefined : Math.round(perRequest - bare[route])
      const over = excess === undefined ? '–' : `${excess < 0 ? '−' : '+'}${Math.abs(excess).toLocaleString('en')}`
      rows.push(`| ${variant.name} | /${route} | ${Math.round(perRequest).toLocaleString('en')} | ${over} |`)
    }
  }
  process.stdout.write([
    `Instructions per request (callgrind), ${requests} requests after ${warmup} of warm-up, Node ${process.version}`,
    '',
    '| variant | route | instructions/request | over bare |',
    '|---|---|---|---|',
    ...rows,
    ''
  ].join('\n'))
} finally {
  rmSync(dir, { recursive: true, force: true })
  removeBuild()
}
