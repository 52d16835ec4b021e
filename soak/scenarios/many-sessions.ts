/**
 * Scenario 3, many sessions: `sessions` distinct sessions (100,000 by
 * default) created, each with its own label, then every one read back, in
 * cookie mode and in Redis mode.
 *
 * Checks, in each mode: every creation is answered with its label and a
 * cookie; the cookies are all different; every session read back holds its
 * own label; in Redis mode, Redis holds one record per session.
 */
import { get, pool, type Reply } from '../http.js'
import { startServer } from '../process.js'
import { startRedis, type SoakRedis } from '../redis.js'
import { int, mb, type Check, type ScenarioResult, type Settings } from '../report.js'

const SAMPLES = 10

interface Body { label?: string | null }

function labelOf (reply: Reply): string | null | undefined {
  try {
    return (JSON.parse(reply.body) as Body).label
  } catch {
    return undefined
  }
}

async function oneMode (settings: Settings, redis: SoakRedis | undefined): Promise<ScenarioResult> {
  const { sessions, connections, log } = settings
  const mode = redis === undefined ? 'cookie mode' : 'Redis mode'
  const server = await startServer(redis === undefined ? undefined : { port: redis.port, timeout: 2 })
  const cookies: string[] = new Array<string>(sessions).fill('')
  const samples: string[] = []
  let createErrors = 0
  let readErrors = 0
  const fail = (problem: string): void => { if (samples.length < SAMPLES) samples.push(problem) }

  log(`scenario 3: creating ${int(sessions)} sessions in ${mode}`)
  const created = performance.now()
  await pool(sessions, connections, async (agent, i) => {
    try {
      const reply = await get(agent, server.port, `/create?label=s${i}`)
      if (reply.status !== 200 || labelOf(reply) !== `s${i}` || reply.cookie === undefined || reply.cookie === '') {
        createErrors++
        fail(`create s${i}: status ${reply.status}, ${reply.body.slice(0, 100)}, cookie ${String(reply.cookie).slice(0, 20)}`)
        return
      }
      cookies[i] = reply.cookie
    } catch (err) {
      createErrors++
      fail(`create s${i}: ${(err as Error).message}`)
    }
  })
  const createSeconds = (performance.now() - created) / 1000
  const distinct = new Set(cookies.filter((cookie) => cookie !== '')).size
  const records = redis === undefined ? undefined : Number((await redis.command('DBSIZE')).slice(1))

  log(`scenario 3: reading back ${int(sessions)} sessions in ${mode}`)
  const read = performance.now()
  let found = 0
  await pool(sessions, connections, async (agent, i) => {
    const cookie = cookies[i] as string
    if (cookie === '') return
    try {
      const reply = await get(agent, server.port, '/read', cookie)
      if (reply.status === 200 && labelOf(reply) === `s${i}`) {
        found++
        return
      }
      readErrors++
      fail(`read s${i}: status ${reply.status}, ${reply.body.slice(0, 100)}`)
    } catch (err) {
      readErrors++
      fail(`read s${i}: ${(err as Error).message}`)
    }
  })
  const readSeconds = (performance.now() - read) / 1000
  const heap = await server.heap()
  await server.stop()

  const checks: Check[] = [
    {
      name: `${mode}: every session is created`,
      pass: createErrors === 0,
      detail: `${int(sessions - createErrors)} of ${int(sessions)} creations answered with their label and a cookie`
    },
    {
      name: `${mode}: every session is distinct`,
      pass: distinct === sessions,
      detail: `${int(distinct)} different cookies`
    },
    {
      name: `${mode}: every session is read back with its own data, nothing lost`,
      pass: found === sessions && readErrors === 0,
      detail: `${int(found)} of ${int(sessions)} read back with their label`
    }
  ]
  if (records !== undefined) {
    checks.push({ name: 'Redis mode: Redis holds one record per session', pass: records === sessions, detail: `${int(records)} records` })
  }
  return {
    name: mode,
    figures: [
      [`${mode}: created`, `${int(sessions)} in ${createSeconds.toFixed(1)} s (${int(sessions / createSeconds)} /s)`],
      [`${mode}: read back`, `${int(found)} in ${readSeconds.toFixed(1)} s (${int(sessions / readSeconds)} /s)`],
      ...(records === undefined ? [] : [[`${mode}: Redis records`, int(records)] as [string, string]]),
      [`${mode}: server heap after GC`, `${mb(heap.heapUsed)} (RSS ${mb(heap.rss)})`],
      ...(samples.length === 0 ? [] : [[`${mode}: problems`, samples.join('; ')] as [string, string]])
    ],
    checks
  }
}

export async function manySessions (settings: Settings): Promise<ScenarioResult> {
  const cookie = await oneMode(settings, undefined)
  const redis = await startRedis()
  let stored: ScenarioResult
  try {
    stored = await oneMode(settings, redis)
  } finally {
    await redis.stop()
  }
  return {
    name: `Scenario 3: ${int(settings.sessions)} distinct sessions, in cookie mode and in Redis mode`,
    figures: [...cookie.figures, ...stored.figures],
    checks: [...cookie.checks, ...stored.checks]
  }
}
