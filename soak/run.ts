/**
 * `npm run soak`: the plugin under sustained load and faults. Each scenario
 * prints its figures and checks; the script exits with 1 if any check
 * fails (or a scenario cannot run), and with 0 otherwise.
 *
 *   1  cookie mode under load             scenarios/cookie-load.ts
 *   2  Redis mode under load, with faults  scenarios/redis-faults.ts
 *   3  many sessions, in both modes        scenarios/many-sessions.ts
 *
 * Flags:
 *   --duration S      seconds of load in scenarios 1 and 2 (default 60)
 *   --connections N   connections (default 50)
 *   --scenarios LIST  which to run, such as 1,3 (default 1,2,3)
 *   --sessions N      sessions of scenario 3, in each mode (default 100000)
 *   --skip-timing     report timing checks without enforcing them
 *   --json FILE       also write the results as JSON
 *
 * Servers run in child processes, on 127.0.0.1 only; the load comes from
 * this process, over `node:http` keep-alive connections.
 */
import { writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { parseArgs } from 'node:util'
import { format, waived, type ScenarioResult, type Settings } from './report.js'
import { cookieLoad } from './scenarios/cookie-load.js'
import { manySessions } from './scenarios/many-sessions.js'
import { redisFaults } from './scenarios/redis-faults.js'

const SCENARIOS: Record<string, (settings: Settings) => Promise<ScenarioResult>> = {
  1: cookieLoad,
  2: redisFaults,
  3: manySessions
}

function usage (message: string): never {
  process.stderr.write(`${message}\nUsage: npm run soak -- [--duration S] [--connections N] [--scenarios 1,2,3] [--sessions N] [--skip-timing] [--json FILE]\n`)
  process.exit(2)
}

function positive (name: string, text: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n <= 0) usage(`--${name} must be a positive integer, received ${JSON.stringify(text)}`)
  return n
}

let values
try {
  values = parseArgs({
    options: {
      duration: { type: 'string', default: '60' },
      connections: { type: 'string', default: '50' },
      scenarios: { type: 'string', default: '1,2,3' },
      sessions: { type: 'string', default: '100000' },
      'skip-timing': { type: 'boolean', default: false },
      json: { type: 'string' }
    }
  }).values
} catch (err) {
  usage((err as Error).message)
}
const chosen = values.scenarios.split(',').map((s) => s.trim())
for (const name of chosen) {
  if (SCENARIOS[name] === undefined) usage(`--scenarios lists 1, 2 or 3, separated by commas; received ${JSON.stringify(values.scenarios)}`)
}
const settings: Settings = {
  duration: positive('duration', values.duration),
  connections: positive('connections', values.connections),
  sessions: positive('sessions', values.sessions),
  skipTiming: values['skip-timing'],
  log: (line) => { process.stderr.write(`# ${line}\n`) }
}

process.stdout.write([
  '# Soak',
  `- Command: \`node --import tsx soak/run.ts ${process.argv.slice(2).join(' ')}\``.replace(/ `$/, '`'),
  `- Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores; date ${new Date().toISOString()}`,
  ''
].join('\n') + '\n')

const results: ScenarioResult[] = []
let failed = 0
for (const name of chosen) {
  let result: ScenarioResult
  try {
    result = await (SCENARIOS[name] as (settings: Settings) => Promise<ScenarioResult>)(settings)
  } catch (err) {
    result = { name: `Scenario ${name}`, figures: [], checks: [{ name: 'the scenario runs', pass: false, detail: (err as Error).stack ?? String(err) }] }
  }
  results.push(result)
  process.stdout.write(format(result, settings) + '\n')
  failed += result.checks.filter((check) => !check.pass && !waived(check, settings)).length
}

const total = results.reduce((sum, result) => sum + result.checks.length, 0)
process.stdout.write(failed === 0 ? `All ${total} checks passed.\n` : `${failed} of ${total} checks FAILED.\n`)
if (values.json !== undefined) writeFileSync(values.json, JSON.stringify({ settings: { ...settings, log: undefined }, results }, null, 2) + '\n')
process.exit(failed === 0 ? 0 : 1)
