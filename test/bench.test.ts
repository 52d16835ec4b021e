/**
 * The benchmark harness runs: a tiny real run (one round of about 1 s per
 * route per variant, 2 connections) in a child process, which must be
 * valid and report every variant and route, and a smaller one that shows
 * the rounds taking each variant's server processes in turn. It never
 * asserts speed.
 *
 * The child, and the servers it starts, are kept out of this suite's
 * coverage: what is asserted is the harness's own verdict on its run, and
 * its report. tap 21 collects a child's coverage through
 * @tapjs/processinfo, which puts its NODE_OPTIONS and `_TAPJS_PROCESSINFO_*`
 * variables back into every spawn's env unless the env sets them, so the
 * env sets `_TAPJS_PROCESSINFO_COVERAGE_=0` (and drops NODE_V8_COVERAGE).
 */
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { needsRedis, startRedis } from './helpers/redis.js'

// These real runs took 95 to 120 s of .taprc's 120 s per file in CI on a
// slower host, and once ran past it: this file gets five minutes.
t.setTimeout(300_000)

const ROOT = fileURLToPath(new URL('..', import.meta.url))
/** `@fastify/secure-session` needs the native addon sodium-native, an optional dependency of this package. */
const SODIUM = ((): boolean => {
  try {
    createRequire(import.meta.url)('sodium-native')
    return true
  } catch {
    return false
  }
})()
const VARIANTS = ['bare', 'cookie-signed', ...(SODIUM ? ['secure-session'] : []), 'fastify-session', 'fastify-session-redis', 'naive-hmac', 'typed-signed', 'typed-signed-schema', 'typed-signed-chunks4', 'typed-signed-3chunks', 'typed-encrypted', 'typed-flask', 'typed-memory', 'typed-redis',
  'typed-signed-permanent', 'typed-signed-refresh60', 'typed-redis-permanent', 'typed-redis-refresh60', 'typed-signed-user', 'typed-signed-revocation']
const ROUTES = ['read', 'write', 'untouched']

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs a script of `bench/` as its npm script does, outside tap's coverage. */
async function tool (script: string, args: string[]): Promise<Run> {
  return await node([script, ...args])
}

/** Runs Node with tsx and these arguments in the repository's root, outside tap's coverage. */
async function node (args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' }
  delete env.NODE_V8_COVERAGE
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const code = await new Promise<number | null>((resolve) => { child.on('close', resolve) })
  return { code, stdout, stderr }
}

/** Runs the harness as `npm run bench` does. */
async function harness (args: string[]): Promise<Run> {
  return await tool('bench/run.ts', args)
}

interface Window {
  variant: string
  replica: number
  round: number
  route: string
  requests: number
  steal: number
  problems: string[]
}

t.test('a tiny run of every variant and route is valid and reports each of them', async (t) => {
  const dir = t.testdir()
  const out = join(dir, 'latest.md')
  const json = join(dir, 'latest.json')
  // No re-runs for a window with high steal: a busy CI host must not stretch the run past the timeout.
  // Two processes per variant, so that starting them all at once is part of the run; round 1 measures the first.
  const run = await harness(['--rounds', '1', '--replicas', '2', '--duration', '1', '--connections', '2', '--warmup', '0', '--retries', '0', '--out', out, '--json', json])
  t.equal(run.code, 0, 'the harness exits with 0, which it does only when every window is valid', { stderr: run.stderr })
  if (!SODIUM) {
    t.match(run.stderr, /^Skipping secure-session needs sodium-native, which is not installed or does not load here$/m,
      'without the optional sodium-native accelerator, the @fastify/secure-session row is skipped, saying why')
  }

  const { windows } = JSON.parse(readFileSync(json, 'utf8')) as { windows: Window[] }
  t.same([...new Set(windows.map((w) => w.variant))].sort(), [...VARIANTS].sort(), 'every variant was measured')
  for (const variant of VARIANTS) {
    for (const route of ROUTES) {
      const mine = windows.filter((w) => w.variant === variant && w.route === route)
      t.same(mine.map((w) => w.replica), [0], `${variant} /${route} has one window, on its first process`)
      t.same(mine[0]?.problems, [], `${variant} /${route}: every response was 2xx and its body or counter was right`)
      t.ok((mine[0]?.requests ?? 0) > 0, `${variant} /${route} completed requests`)
    }
  }

  const table = readFileSync(out, 'utf8')
  t.equal(run.stdout, table, 'the report printed is the report written')
  t.notMatch(table, /INVALID/, 'no row is reported as invalid')
  for (const variant of VARIANTS) {
    for (const route of ROUTES) {
      // req/s, p99, CPU µs/req, CPU over bare, then 1 valid window of 1.
      const row = new RegExp(`^\\| ${variant} \\| /${route} \\| [\\d,]+ \\| [\\d.]+ \\| [\\d.]+ \\| (?:–|-?[\\d.]+) \\| 1/1 \\|$`, 'm')
      t.match(table, row, `the table has a row with numbers for ${variant} /${route}`)
    }
  }
  t.match(table, /^## Against the peers and bare Fastify, round by round \(median and min–max\)\n\n\| variant \| measure \| median \(min–max\) \|$/m,
    'the report has the table of compared pairs, with the columns of BENCHMARKS.md')
  t.match(table, /^\| typed-signed \| \/write CPU over bare \| -?[\d.]+ µs \(-?[\d.]+–-?[\d.]+\) \|$/m, 'a pair against bare Fastify gives its CPU excess')
  t.match(table, /^\| typed-memory \| \/write req\/s ÷ fastify-session \| [\d.]+× \([\d.]+–[\d.]+\) \|$/m, 'a pair against a peer gives its req/s ratio')
  for (const variant of ['typed-signed-schema', 'typed-signed-chunks4', 'typed-signed-3chunks']) {
    for (const route of ['read', 'write']) {
      t.match(table, new RegExp(`^\\| ${variant} \\| /${route} req/s ÷ typed-signed \\| [\\d.]+× \\([\\d.]+–[\\d.]+\\) \\|$`, 'm'),
        `a pair against another row of this plugin gives its req/s ratio: ${variant} on /${route}`)
    }
  }
  for (const [variant, partner] of [['typed-signed-refresh60', 'typed-signed-permanent'], ['typed-redis-refresh60', 'typed-redis-permanent'],
    ['typed-signed-revocation', 'typed-signed-user']]) {
    t.match(table, new RegExp(`^\\| ${variant} \\| /read req/s ÷ ${partner} \\| [\\d.]+× \\([\\d.]+–[\\d.]+\\) \\|$`, 'm'),
      `${variant} is compared with ${partner} on /read`)
  }
  t.notMatch(table, /\btargets?\b|\bissues?\b/i, 'the report speaks of measures, not of the project\'s targets or issues')
  t.match(table, /^- Command: `node --import tsx bench\/run\.ts --rounds 1 --replicas 2 /m, 'the report gives the command line')
  t.match(table, /^- 1 interleaved rounds × 1 s per route per variant, 2 connections; 2 server processes per variant, round r measuring process \(r − 1\) mod 2; /m,
    'the report says how the rounds are spread over the processes')
  t.match(table, /^- Node v\d+\.\d+\.\d+, .+, \d+ cores; date /m, 'the report gives the Node version and the CPU')
  t.match(table, /^- Steal: a window during which the hypervisor took more than 3% of the machine's CPU time is run again, up to 0 times: 0 re-run, \d+ kept over the limit; /m,
    'the report gives the steal rule and what it did')
  for (const w of windows) t.ok(w.steal >= 0 && w.steal <= 100, `${w.variant} /${w.route}: its steal is a share of the machine's CPU time`)
})

t.test('the rounds take each variant\'s server processes in turn', async (t) => {
  const dir = t.testdir()
  const json = join(dir, 'latest.json')
  const run = await harness(['--variants', 'bare,typed-signed', '--routes', 'read,write', '--rounds', '3', '--replicas', '2', '--duration', '0.5',
    '--connections', '2', '--warmup', '0', '--retries', '0', '--out', join(dir, 'latest.md'), '--json', json])
  t.equal(run.code, 0, 'every window is valid', { stderr: run.stderr })
  const { windows } = JSON.parse(readFileSync(json, 'utf8')) as { windows: Window[] }
  for (const variant of ['bare', 'typed-signed']) {
    for (const route of ['read', 'write']) {
      const mine = windows.filter((w) => w.variant === variant && w.route === route)
      t.same(mine.map((w) => [w.round, w.replica]), [[1, 0], [2, 1], [3, 0]], `${variant} /${route}: rounds 1, 2 and 3 measure processes 0, 1 and 0`)
    }
  }
})

/**
 * The opening lines of a probe script, which runs in a child process (so
 * that `bench/` stays out of this suite's coverage): it imports Fastify and
 * `VARIANTS` with the other `names` from `bench/variants.ts`, and defines
 * `appOf(name)`, which gives a Fastify app with the `/read` and `/write`
 * routes of the variant of that name, ready (as an inject would make it).
 */
function probeStart (names: string[]): string {
  return `
import Fastify from 'fastify'
const { ${['VARIANTS', ...names].join(', ')} } = await import('./bench/variants.ts')
async function appOf (name) {
  const app = Fastify()
  const { read, write } = await VARIANTS.find((v) => v.name === name).setup(app)
  app.get('/read', read)
  app.get('/write', write)
  await app.ready()
  return app
}
`
}

/**
 * What the schema row's test asks of `bench/variants.ts`, in a child
 * process (so that `bench/` stays out of this suite's coverage): the run
 * order, the schema's shape, and what each row's `/read` answers for
 * cookies that `typed-signed` seals (it has no schema, so it seals any data).
 */
const SCHEMA_PROBE = `${probeStart(['benchSchema', 'runOrder'])}
const apps = {}
for (const name of ['typed-signed', 'typed-signed-schema']) apps[name] = await appOf(name)
const signed = apps['typed-signed']
const schemaRow = apps['typed-signed-schema']
const data = {
  counter: { counter: 5 },
  fiveKeys: { counter: 7, user: { id: 'u1', name: 'Ada' }, role: 'editor', theme: 'dark', lastSeen: 1733356800000 },
  extraKey: { counter: 5, extra: 1 },
  notInteger: { counter: 1.5 },
  wrongRole: { counter: 5, role: 'root' }
}
const reads = {}
for (const [name, value] of Object.entries(data)) {
  const cookie = 'session=' + await signed.sessions.encode(value)
  reads[name] = {}
  for (const [row, app] of Object.entries(apps)) reads[name][row] = (await app.inject({ url: '/read', headers: { cookie } })).body
}
let refused = null
try { await schemaRow.sessions.encode({ counter: 1, theme: 3 }) } catch (err) { refused = err.code }
const first = await schemaRow.inject('/write?by=1')
const cookie = first.headers['set-cookie'].split(';')[0]
const second = await schemaRow.inject({ url: '/write', headers: { cookie } })
const schema = await benchSchema()
process.stdout.write(JSON.stringify({
  order: runOrder(VARIANTS).map((v) => v.name),
  keys: Object.keys(schema.properties).sort(),
  required: schema.required,
  additionalProperties: schema.additionalProperties,
  reads,
  refused,
  writes: [first.body, second.body, second.headers['set-cookie'] !== undefined]
}))
`

t.test('typed-signed-schema is typed-signed with a schema of five keys: the same cookies and routes, checked', async (t) => {
  const run = await node(['--input-type=module', '-e', SCHEMA_PROBE])
  t.equal(run.code, 0, 'the probe runs', { stderr: run.stderr })
  const probe = JSON.parse(run.stdout) as {
    order: string[]
    keys: string[]
    required: string[]
    additionalProperties: boolean
    reads: Record<string, Record<string, string>>
    refused: string | null
    writes: [string, string, boolean]
  }
  t.same(probe.keys, ['counter', 'lastSeen', 'role', 'theme', 'user'], 'the schema has five keys, the counter among them')
  t.same(probe.required, ['counter'], 'only the counter, which every session of the run holds, is required')
  t.equal(probe.additionalProperties, false, 'no other key is allowed')
  t.same(probe.reads.counter, { 'typed-signed': '5', 'typed-signed-schema': '5' },
    'a typed-signed cookie holding the counter reads the same in both rows: the same secret, format and routes')
  t.same(probe.reads.fiveKeys, { 'typed-signed': '7', 'typed-signed-schema': '7' }, 'data with all five keys passes the schema')
  for (const name of ['extraKey', 'notInteger', 'wrongRole']) {
    t.same(probe.reads[name], { 'typed-signed': name === 'notInteger' ? '1.5' : '5', 'typed-signed-schema': '0' },
      `data failing the schema (${name}) loads in typed-signed, and is an empty session in the schema row: the schema is checked`)
  }
  t.equal(probe.refused, 'FST_ERR_SESSION_INVALID_DATA', 'the schema row refuses to seal data that fails the schema')
  t.same(probe.writes, ['1', '2', true], 'its /write starts, continues and re-seals a session as typed-signed\'s does')
  t.same(probe.order.slice(0, 4), ['bare', 'typed-signed', 'typed-signed-chunks4', 'typed-signed-schema'],
    'the run order puts the schema row next to typed-signed, behind only typed-signed-chunks4, whose criterion is narrower')
  t.equal(probe.order[probe.order.indexOf('secure-session') + 1], 'typed-encrypted', 'and keeps typed-encrypted next to secure-session')
})

/**
 * What the revocation row's test asks of `bench/variants.ts`, in a child
 * process on the Redis in `REDIS_URL`: that `typed-signed-user` and
 * `typed-signed-revocation` start the same sessions (the counter and a
 * user id of their own), read each other's cookies, and that the second
 * checks them: a revoked user's session reads as a new one.
 */
const REVOCATION_PROBE = `${probeStart(['runOrder'])}
const apps = {}
for (const name of ['typed-signed-user', 'typed-signed-revocation']) apps[name] = await appOf(name)
const user = apps['typed-signed-user']
const revocation = apps['typed-signed-revocation']
const cookieOf = (res) => res.headers['set-cookie'].split(';')[0]
const first = cookieOf(await user.inject('/write?by=1'))
const other = cookieOf(await revocation.inject('/write?by=5'))
const users = []
for (const cookie of [first, other]) users.push((await user.sessions.decode(cookie.slice('session='.length))).get('userId'))
const reads = []
for (const cookie of [first, other]) {
  for (const app of [user, revocation]) reads.push((await app.inject({ url: '/read', headers: { cookie } })).body)
}
await revocation.sessions.revokeUser(users[0])
const after = []
for (const cookie of [first, other]) after.push((await revocation.inject({ url: '/read', headers: { cookie } })).body)
const order = runOrder(VARIANTS).map((v) => v.name)
process.stdout.write(JSON.stringify({
  users,
  reads,
  after,
  redis: VARIANTS.filter((v) => v.redis === true).map((v) => v.name),
  next: order[order.indexOf('typed-signed-user') + 1]
}))
for (const app of Object.values(apps)) await app.close()
`

t.test('typed-signed-revocation is typed-signed-user with revocation on Redis: the same sessions, checked', needsRedis, async (t) => {
  const redis = await startRedis(t)
  process.env.REDIS_URL = redis.url
  t.teardown(() => { delete process.env.REDIS_URL })
  const run = await node(['--input-type=module', '-e', REVOCATION_PROBE])
  t.equal(run.code, 0, 'the probe runs', { stderr: run.stderr })
  const probe = JSON.parse(run.stdout) as { users: string[], reads: string[], after: string[], redis: string[], next: string }
  t.equal(probe.users.length, 2)
  t.ok(probe.users.every((id) => /^[\w-]{12}$/.test(id)), 'each session starts with a user id of 12 characters')
  t.not(probe.users[0], probe.users[1], 'a user of its own')
  t.same(probe.reads, ['1', '1', '5', '5'], "each row reads the other's cookies: the same secret, format and routes")
  t.same(probe.after, ['0', '5'], "the revoked user's session is a new one in the revocation row; the other user's is kept")
  t.ok(probe.redis.includes('typed-signed-revocation'), 'the row asks the harness for a Redis')
  t.equal(probe.next, 'typed-signed-revocation', 'the run order puts the revocation row right after its partner')
})

/**
 * What the refreshAfter rows' test asks of `bench/variants.ts`, in a child
 * process on the Redis in `REDIS_URL`: each row's `/write` starts a
 * permanent session, its `/read` re-issues it on every response with
 * refreshAfter 0 and not with 60, and each 60 row is compared with its 0 row.
 */
const REFRESH_PROBE = `${probeStart(['runOrder'])}
const rows = {}
for (const name of ['typed-signed-permanent', 'typed-signed-refresh60', 'typed-redis-permanent', 'typed-redis-refresh60']) {
  const app = await appOf(name)
  const first = await app.inject('/write?by=1')
  const cookie = first.headers['set-cookie'].split(';')[0]
  const read1 = await app.inject({ url: '/read', headers: { cookie } })
  const write2 = await app.inject({ url: '/write', headers: { cookie } })
  const variant = VARIANTS.find((v) => v.name === name)
  rows[name] = {
    permanent: /; Max-Age=\\d+/.test(first.headers['set-cookie']),
    read: read1.body,
    readSets: read1.headers['set-cookie'] !== undefined,
    write: write2.body,
    targets: variant.targets,
    redis: variant.redis
  }
  await app.close()
}
const order = runOrder(VARIANTS).map((v) => v.name)
rows.after = ['typed-signed-permanent', 'typed-redis-permanent'].map((name) => order[order.indexOf(name) + 1])
process.stdout.write(JSON.stringify(rows))
`

t.test('the refreshAfter rows: permanent sessions, re-issued by /read with refreshAfter 0 and not with 60, each compared with its 0 row', needsRedis, async (t) => {
  const redis = await startRedis(t)
  process.env.REDIS_URL = redis.url
  t.teardown(() => { delete process.env.REDIS_URL })
  const run = await node(['--input-type=module', '-e', REFRESH_PROBE])
  t.equal(run.code, 0, 'the probe runs', { stderr: run.stderr })
  const rows = JSON.parse(run.stdout) as Record<string, { permanent: boolean, read: string, readSets: boolean, write: string, targets: unknown, redis: boolean }> & { after: string[] }
  for (const mode of ['signed', 'redis']) {
    const zero = rows[`typed-${mode}-permanent`]
    const sixty = rows[`typed-${mode}-refresh60`]
    t.same([zero?.permanent, sixty?.permanent], [true, true], `${mode}: /write starts a permanent session (Max-Age)`)
    t.same([zero?.read, sixty?.read, zero?.write, sixty?.write], ['1', '1', '2', '2'], `${mode}: /read and /write as in every row`)
    t.same([zero?.readSets, sixty?.readSets], [true, false], `${mode}: /read re-issues with refreshAfter 0, not with 60`)
    t.same(sixty?.targets, { ratios: [{ peer: `typed-${mode}-permanent`, min: 1.3, routes: ['read'] }] }, `${mode}: at least 1.3x on /read`)
    t.same([zero?.redis, sixty?.redis], [mode === 'redis', mode === 'redis'], `${mode}: a Redis only for the RedisStore rows`)
  }
  t.same(rows.after, ['typed-signed-refresh60', 'typed-redis-refresh60'], 'the run order puts each 60 row right after its 0 row')
})

/**
 * What the chunk rows' test asks of `bench/variants.ts` and of the bench
 * client's cookie jar (`nextCookie`), in a child process: each row's
 * Set-Cookie headers on a first and two chained `/write`s, and its `/read`
 * with the Cookie header that `nextCookie` makes of them.
 */
const CHUNKS_PROBE = `${probeStart(['PADDING', 'runOrder'])}
const { nextCookie } = await import('./bench/server-process.ts')
const rows = {}
for (const name of ['typed-signed', 'typed-signed-chunks4', 'typed-signed-3chunks']) {
  const app = await appOf(name)
  const variant = VARIANTS.find((v) => v.name === name)
  const sets = []
  const bodies = []
  let cookie = 'bench=probe'
  for (const url of ['/write?by=5', '/write', '/write']) {
    const res = await app.inject({ url, headers: { cookie } })
    const set = [res.headers['set-cookie'] ?? []].flat()
    sets.push(set)
    bodies.push(res.body)
    cookie = nextCookie(cookie, set)
  }
  const read1 = await app.inject({ url: '/read', headers: { cookie } })
  const other = await app.inject({ url: '/write?by=5', headers: { cookie: 'bench=other' } })
  const padding = [cookie, nextCookie('', other.headers['set-cookie'])].map((c) => app.sessions.decode(c.slice('session='.length)))
  rows[name] = {
    names: sets.map((set) => set.map((h) => h.slice(0, h.indexOf('=')))),
    longest: Math.max(...sets.flat().map((h) => h.length)),
    attributes: [...new Set(sets.flat().map((h) => h.slice(h.indexOf(';'))))],
    cookie: cookie.split('; ').map((pair) => pair.slice(0, pair.indexOf('='))),
    bodies,
    read: read1.body,
    padding: (await Promise.all(padding)).map((s) => s?.get('padding')?.length ?? 0),
    distinct: (await Promise.all(padding)).map((s) => s?.get('padding'))[0] !== (await Promise.all(padding)).map((s) => s?.get('padding'))[1],
    targets: variant.targets
  }
  await app.close()
}
const order = runOrder(VARIANTS).map((v) => v.name)
process.stdout.write(JSON.stringify({ rows, padding: PADDING, after: order[order.indexOf('typed-signed') + 1], empty: nextCookie('a=1', []), none: nextCookie('a=1', undefined) }))
`

t.test('typed-signed-chunks4 keeps typed-signed\'s one cookie; typed-signed-3chunks spans three, which the bench client carries back whole', async (t) => {
  const run = await node(['--input-type=module', '-e', CHUNKS_PROBE])
  t.equal(run.code, 0, 'the probe runs', { stderr: run.stderr })
  type Row = { names: string[][], longest: number, attributes: string[], cookie: string[], bodies: string[], read: string, padding: number[], distinct: boolean, targets: unknown }
  const probe = JSON.parse(run.stdout) as { rows: Record<string, Row>, padding: number, after: string, empty: string, none: string }
  const { 'typed-signed': signed, 'typed-signed-chunks4': four, 'typed-signed-3chunks': three } = probe.rows as Record<string, Row>
  for (const [name, row] of [['typed-signed', signed], ['typed-signed-chunks4', four]] as const) {
    t.same(row?.names, [['session'], ['session'], ['session']], `${name}: each /write sets one cookie`)
    t.same(row?.padding, [0, 0], `${name}: its sessions hold only the counter`)
  }
  t.same(four?.attributes, signed?.attributes, 'typed-signed-chunks4 sets the same cookie attributes as typed-signed')
  t.same(four?.targets, { ratios: [{ peer: 'typed-signed', min: 0.97, routes: ['read', 'write'] }] }, 'typed-signed-chunks4 is compared with typed-signed: within 3% on /read and /write')
  t.same(three?.names, Array(3).fill(['session', 'session.1', 'session.2']), 'typed-signed-3chunks: each /write sets three cookies')
  t.ok((three?.longest ?? Infinity) <= 4093, `typed-signed-3chunks: each Set-Cookie header is within maxCookieSize (${String(three?.longest)})`)
  t.equal(three?.attributes.length, 1, 'typed-signed-3chunks: its chunks carry the same attributes')
  t.same(three?.cookie, ['session', 'session.1', 'session.2'], 'nextCookie carries the three Set-Cookie headers back as one Cookie header')
  t.same(three?.padding, [probe.padding, probe.padding], `typed-signed-3chunks: each session holds the counter and ${probe.padding} characters of padding`)
  t.ok(three?.distinct, 'typed-signed-3chunks: two sessions have padding of their own')
  t.same(three?.targets, { ratios: [{ peer: 'typed-signed', min: 0, routes: ['read', 'write'] }] }, 'typed-signed-3chunks is reported beside typed-signed on /read and /write')
  for (const [name, row] of Object.entries(probe.rows)) {
    t.same([...row.bodies, row.read], ['5', '6', '7', '7'], `${name}: /write starts and continues the chain, /read reads the counter from the chained cookies`)
  }
  t.equal(probe.after, 'typed-signed-chunks4', 'the run order puts typed-signed-chunks4, the narrowest criterion, right after typed-signed')
  t.same([probe.empty, probe.none], ['a=1', 'a=1'], 'nextCookie keeps the Cookie header it sent when nothing is set')
})

/** A window of a made-up run, for the pooling tool. */
function made (variant: string, round: number, rps: number, problems: string[] = []): object {
  return { variant, replica: 0, route: 'write', round, requests: rps, duration: 1, rps, p99: 1, cpuUs: 1e6 / rps, steal: 0, problems }
}

t.test('bench:pool pools the rounds of several runs, with the same interval every time', async (t) => {
  const dir = t.testdir()
  const write = (name: string, windows: object[]): string => {
    const path = join(dir, name)
    writeFileSync(path, JSON.stringify({ windows }))
    return path
  }
  // typed-encrypted ÷ secure-session on /write: 1.1, 1.3 and 1.5 in one run, 1.2 and 1.4 in the other.
  const a = write('a.json', [100, 100, 100].flatMap((ss, i) => [made('secure-session', i + 1, ss), made('typed-encrypted', i + 1, [110, 130, 150][i] as number)]))
  const b = write('b.json', [made('secure-session', 1, 100), made('typed-encrypted', 1, 120), made('secure-session', 2, 100), made('typed-encrypted', 2, 140)])
  const first = await tool('bench/pool.ts', [a, b])
  t.equal(first.code, 0, 'it succeeds', { stderr: first.stderr })
  const row = /^\| typed-encrypted \| \/write req\/s ÷ secure-session \| 5 \| 1\.30× \((\d\.\d\d)–(\d\.\d\d)\) \|$/m.exec(first.stdout)
  t.ok(row, 'the row pools the 5 rounds of both runs, with their median 1.30', { stdout: first.stdout })
  const [low, high] = (row ?? []).slice(1).map(Number) as [number, number]
  t.ok(low >= 1.1 && low <= 1.3 && high >= 1.3 && high <= 1.5, `the interval ${low}–${high} holds the median, within the values`)
  t.ok(low < 1.3 && high > 1.3, `the interval ${low}–${high} is not a single point: the resamples vary`)
  t.match(first.stdout, /^\| typed-memory \| \/write req\/s ÷ fastify-session \| 0 \| n\/a \|$/m, 'a pair with no rounds says so')
  t.match(first.stdout, /^\| variant \| measure \| rounds \| median \(95% interval\) \|$/m, 'the table has the columns of BENCHMARKS.md\'s pooled table')
  t.equal((await tool('bench/pool.ts', [a, b])).stdout, first.stdout, 'the same runs give the same figures')

  const bad = write('bad.json', [made('secure-session', 1, 100), made('typed-encrypted', 1, 120, ['a wrong counter'])])
  const refused = await tool('bench/pool.ts', [a, bad])
  t.not(refused.code, 0, 'runs with an invalid window are refused')
  t.match(refused.stderr, /1 window\(s\) of these runs are invalid/, 'and the error says why')
})

t.test('the memory mode loads many distinct cookies and reports the heap growth', async (t) => {
  const dir = t.testdir()
  const run = await harness(['--memory', '--requests', '3000', '--baseline', '1000', '--sessions', '200', '--connections', '2',
    '--out', join(dir, 'latest.md')])
  t.equal(run.code, 0, 'the check passes', { stderr: run.stderr })
  const report = readFileSync(join(dir, 'memory.md'), 'utf8')
  t.equal(run.stdout, report, 'the report printed is the report written')
  t.match(report, /3,000 `\/read` requests over 200 distinct session cookies/)
  t.match(report, /^\| typed-signed \| [\d.]+ \| [\d.]+ \| [\d.]+ \| -?[\d.]+ \| 30 \| met \|$/m)
})
