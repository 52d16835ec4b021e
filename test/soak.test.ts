/**
 * The soak (`npm run soak`, soak/run.ts), short, as a correctness check:
 * scenarios 1 and 2 for 10 s each, and scenario 3 with 5,000 sessions. Each
 * must pass every check it makes, except that the timing check ("recovers
 * within 1 s") is only reported: here the test asserts that the service
 * recovers, not how fast.
 *
 * The soak runs as `npm run soak` does, in a child process kept out of
 * this suite's coverage, as in test/bench.test.ts: the env sets
 * `_TAPJS_PROCESSINFO_COVERAGE_=0` and drops NODE_V8_COVERAGE.
 */
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { needsRedis } from './helpers/redis.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

// Three runs of 10 to 20 s each, on a machine that may be busy.
t.setTimeout(240_000)

interface Check { name: string, pass: boolean, detail: string, timing?: boolean }
interface Result { name: string, figures: Array<[string, string]>, checks: Check[] }
interface Run { code: number | null, stdout: string, stderr: string, results: Result[] }

/** Runs the soak with `args`, outside tap's coverage, and reads its JSON results. */
async function soak (t: Test, args: string[]): Promise<Run> {
  const json = join(t.testdir(), 'soak.json')
  const env: NodeJS.ProcessEnv = { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' }
  delete env.NODE_V8_COVERAGE
  const child = spawn(process.execPath, ['--import', 'tsx', 'soak/run.ts', '--skip-timing', '--json', json, ...args], { cwd: ROOT, env })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const code = await new Promise<number | null>((resolve) => { child.on('close', resolve) })
  let results: Result[] = []
  try {
    results = (JSON.parse(readFileSync(json, 'utf8')) as { results: Result[] }).results
  } catch {}
  return { code, stdout, stderr, results }
}

/** Asserts that the run passed every check named, with no other check, and printed them. */
function passes (t: Test, run: Run, heading: RegExp, names: string[], timing: string[] = []): void {
  t.equal(run.code, 0, 'the soak exits with 0, which it does only when every enforced check passes', { stdout: run.stdout, stderr: run.stderr })
  t.equal(run.results.length, 1, 'one scenario ran')
  const checks = run.results[0]?.checks ?? []
  t.same(checks.map((c) => c.name).sort(), [...names, ...timing].sort(), 'the scenario made exactly the expected checks')
  for (const name of names) {
    const check = checks.find((c) => c.name === name)
    t.equal(check?.pass, true, name, { detail: check?.detail })
  }
  for (const name of timing) {
    t.equal(checks.find((c) => c.name === name)?.timing, true, `"${name}" is a timing check, reported but not asserted here`)
  }
  t.match(run.stdout, heading, 'the scenario printed its heading')
  for (const [label, value] of run.results[0]?.figures ?? []) {
    t.ok(run.stdout.includes(`${label}`) && run.stdout.includes(value), `the figure "${label}" was printed`)
  }
  t.match(run.stdout, /^All \d+ checks passed\.$/m, 'the soak printed its verdict')
}

t.test('scenario 1: 10 s of mixed reads and writes in cookie mode, with no error, every counter exact and a bounded heap', async (t) => {
  const run = await soak(t, ['--scenarios', '1', '--duration', '10'])
  passes(t, run, /^== Scenario 1: cookie mode under load$/m, [
    'zero errors',
    'every counter ends exactly where the requests put it',
    'heap growth under 30 MB from the end of the warm-up to the end',
    'the server survives'
  ])
})

t.test('scenario 2: 10 s of load in Redis mode through a pause and a kill of Redis: 503s only in the outages, nothing lost, and recovery', needsRedis, async (t) => {
  const run = await soak(t, ['--scenarios', '2', '--duration', '10'])
  passes(t, run, /^== Scenario 2: Redis mode under load, with Redis paused, then killed and restarted$/m, [
    'requests in the outages get 503 with FST_ERR_SESSION_STORE_UNAVAILABLE, and no other error',
    'the process survives',
    'no session is lost or corrupted, those written before the outage included',
    'every counter is its acknowledged writes, plus only writes whose 503 left their outcome unknown',
    'the service recovers after each outage'
  ], ['the service recovers within 1 s of Redis returning'])
})

t.test('scenario 3: 5,000 distinct sessions are created and read back in cookie mode and in Redis mode', needsRedis, async (t) => {
  const run = await soak(t, ['--scenarios', '3', '--sessions', '5000'])
  passes(t, run, /^== Scenario 3: 5,000 distinct sessions, in cookie mode and in Redis mode$/m, [
    'cookie mode: every session is created',
    'cookie mode: every session is distinct',
    'cookie mode: every session is read back with its own data, nothing lost',
    'Redis mode: every session is created',
    'Redis mode: every session is distinct',
    'Redis mode: every session is read back with its own data, nothing lost',
    'Redis mode: Redis holds one record per session'
  ])
})

t.test('the soak refuses a bad flag, naming it', async (t) => {
  const run = await soak(t, ['--scenarios', '4'])
  t.equal(run.code, 2, 'it exits with 2')
  t.match(run.stderr, /--scenarios lists 1, 2 or 3/)
})
