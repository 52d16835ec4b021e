/**
 * Scenario 2, Redis mode under the same load, with faults: at a quarter of
 * the run Redis is paused (SIGSTOP) for 2 s; at six tenths it is killed
 * (SIGKILL), and restarted on the same port 2 s later. Redis runs with its
 * append-only file (`appendfsync always`), so the kill loses no write that
 * it acknowledged. The server's RedisStore has a 1 s timeout, shorter
 * than the pause, so requests stuck in the pause do get their 503.
 *
 * An outage lasts from the fault to the first 2xx of a request sent after
 * the fault that was answered after Redis returned. Checks:
 * - every request that failed got the store's 503 (with its code) and was
 *   in flight during an outage; nothing else failed;
 * - the server process survives, and the only error it saw is the store's;
 * - every session is read back at the end: none is lost or corrupted, the
 *   sessions written before the first outage included. Each counter is
 *   its acknowledged writes plus the writes that got a 503 yet were
 *   applied (Redis ran them just before the timeout fired, or ran them and
 *   was killed before it answered); those are never more than the writes
 *   whose 503 left their outcome unknown, and are reported;
 * - the service recovers within 1 s of Redis returning (a timing check).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { mixedLoad, readBack, type LoadResult } from '../mixed.js'
import { startServer } from '../process.js'
import { startRedis } from '../redis.js'
import { int, ms, type ScenarioResult, type Settings } from '../report.js'

const PAUSE = 2000
const DOWN = 2000
const RECOVERY = 1000
/** The store's timeout, in seconds: shorter than the pause, so that requests stuck in it get their 503. */
const TIMEOUT = 1

interface Outage {
  name: string
  /** When the fault began, and when Redis was back (resumed, or answering PING after the restart). */
  from: number
  back: number
  /** The end of the first 2xx of a request sent after `from`, answered after `back`. */
  recovered: number | undefined
  unavailable: number
  /** Writes that got a 503 in this outage, and that Redis applied anyway. */
  phantom: number
  /** The longest a 503 of this outage took. */
  slowest: number
}

/** The end of the first 2xx of a request sent after `from` and answered after `back`. */
function recovery (result: LoadResult, from: number, back: number): number | undefined {
  let first: number | undefined
  for (let i = 0; i < result.oks.length; i += 2) {
    const start = result.oks[i] as number
    const end = result.oks[i + 1] as number
    if (start >= from && end >= back && (first === undefined || end < first)) first = end
  }
  return first
}

async function until (time: number): Promise<void> {
  const wait = time - performance.now()
  if (wait > 0) await sleep(wait)
}

export async function redisFaults (settings: Settings): Promise<ScenarioResult> {
  const { duration, connections, log } = settings
  if (duration < 8) throw new Error(`Scenario 2 needs a duration of 8 s or more, for its two outages; received ${duration}`)
  const redis = await startRedis({ persist: true })
  try {
    const server = await startServer({ port: redis.port, timeout: TIMEOUT })
    const start = performance.now()
    const end = start + duration * 1000
    log(`scenario 2: ${duration} s of mixed load at ${connections} connections, Redis mode, with a pause and a kill`)
    const load = mixedLoad(server.port, connections, end, true)

    await until(start + duration * 250)
    const pausedAt = performance.now()
    redis.pause()
    log('scenario 2: Redis paused (SIGSTOP)')
    await sleep(PAUSE)
    redis.resume()
    const resumedAt = performance.now()
    log('scenario 2: Redis resumed (SIGCONT)')

    await until(start + duration * 600)
    const killedAt = performance.now()
    await redis.kill()
    log('scenario 2: Redis killed (SIGKILL)')
    await sleep(DOWN)
    await redis.restart()
    const restartedAt = performance.now()
    log('scenario 2: Redis restarted on the same port')

    const result = await load
    const elapsed = (performance.now() - start) / 1000
    const outages: Outage[] = [
      { name: 'pause', from: pausedAt, back: resumedAt, recovered: recovery(result, pausedAt, resumedAt), unavailable: 0, phantom: 0, slowest: 0 },
      { name: 'kill', from: killedAt, back: restartedAt, recovered: recovery(result, killedAt, restartedAt), unavailable: 0, phantom: 0, slowest: 0 }
    ]
    let stray = 0
    for (const failed of result.unavailable) {
      const outage = outages.find((o) => failed.start <= (o.recovered ?? Infinity) && failed.end >= o.from)
      if (outage === undefined) {
        stray++
        continue
      }
      outage.unavailable++
      outage.slowest = Math.max(outage.slowest, failed.end - failed.start)
    }
    const firstOutage = pausedAt
    const early = result.chains.filter((chain) => chain.created < firstOutage)

    log(`scenario 2: reading back ${int(result.chains.length)} sessions`)
    const back = await readBack(server.port, connections, result.chains)
    const inOutage = (time: number): Outage | undefined => outages.find((o) => time >= o.from && time <= (o.recovered ?? Infinity))
    for (const chain of result.chains) {
      for (const time of chain.phantomAt) {
        const outage = inOutage(time)
        if (outage !== undefined) outage.phantom++
      }
    }
    const earlyIntact = early.filter((chain) => chain.intact === true).length
    const running = server.exited() === undefined
    const stats = await server.stop()
    const records = Number((await redis.command('DBSIZE')).slice(1))
    const serverErrors = Object.entries(stats.errors)
    const otherErrors = serverErrors.filter(([code]) => code !== 'FST_ERR_SESSION_STORE_UNAVAILABLE')
    const recoveries = outages.map((o) => o.recovered === undefined ? undefined : o.recovered - o.back)

    return {
      name: 'Scenario 2: Redis mode under load, with Redis paused, then killed and restarted',
      figures: [
        ['load', `${duration} s at ${connections} connections; store timeout ${TIMEOUT} s; Redis with appendfsync always`],
        ['faults', `SIGSTOP at ${((pausedAt - start) / 1000).toFixed(1)} s for ${PAUSE / 1000} s; ` +
          `SIGKILL at ${((killedAt - start) / 1000).toFixed(1)} s, restarted ${DOWN / 1000} s later, ` +
          `answering again (its append-only file loaded) ${((restartedAt - killedAt) / 1000).toFixed(1)} s after the kill`],
        ['requests', `${int(result.requests)} (${int(result.requests / elapsed)} req/s): ${int(result.reads)} reads, ` +
          `${int(result.writes)} writes, ${int(result.creates)} new sessions`],
        ['2xx', int(result.ok)],
        ...outages.map((o): [string, string] => [`503 in the ${o.name}`,
          `${int(o.unavailable)} (the slowest took ${ms(o.slowest)}), ${int(o.phantom)} of them writes that Redis applied anyway; ` +
          `recovered ${o.recovered === undefined ? 'never' : `${ms(o.recovered - o.back)} after Redis returned`}`]),
        ['503 outside the outages', int(stray)],
        ['503 messages', Object.entries(result.messages).sort((a, b) => b[1] - a[1]).map(([m, n]) => `${int(n)} × ${m}`).join('; ')],
        ['other errors', `${int(result.errors)}${result.samples.length > 0 ? `, e.g. ${result.samples.join('; ')}` : ''}`],
        ['server errors', serverErrors.length === 0 ? 'none' : serverErrors.map(([code, n]) => `${code} × ${int(n)}`).join(', ')],
        ['ioredis client', `${int(stats.redisErrors)} error events, ${int(stats.reconnects)} reconnection attempts`],
        ['writes of unknown outcome', `${int(result.unknownOutcome)} writes got a 503 after they may have reached Redis`],
        ['sessions read back', `${int(back.sessions)}: ${int(back.exact)} exactly their acknowledged writes, ` +
          `${int(back.withPhantom)} with ${int(back.phantom)} more (503'd writes that Redis applied), ` +
          `${int(back.lost)} lost, ${int(back.errors)} errors${back.samples.length > 0 ? `, e.g. ${back.samples.join('; ')}` : ''}`],
        ['sessions written before the first outage', `${int(early.length)}, ${int(earlyIntact)} intact`],
        ['Redis records at the end', int(records)]
      ],
      checks: [
        {
          name: 'requests in the outages get 503 with FST_ERR_SESSION_STORE_UNAVAILABLE, and no other error',
          pass: result.errors === 0 && stray === 0 && outages.every((o) => o.unavailable > 0),
          detail: `${outages.map((o) => `${int(o.unavailable)} in the ${o.name}`).join(', ')}, ${int(stray)} outside them, ` +
            `${int(result.errors)} other errors`
        },
        {
          name: 'the process survives',
          pass: running && otherErrors.length === 0,
          detail: `${running ? 'it ran to the end and stopped when asked' : 'it exited during the run'}; ` +
            `errors other than the store's: ${otherErrors.length === 0 ? 'none' : otherErrors.map(([code, n]) => `${code} × ${n}`).join(', ')}`
        },
        {
          name: 'no session is lost or corrupted, those written before the outage included',
          pass: back.sessions > 0 && back.lost === 0 && back.errors === 0 && early.length > 0 && earlyIntact === early.length,
          detail: `${int(back.sessions)} sessions read back, ${int(back.lost)} lost, ${int(back.errors)} errors; ` +
            `${int(earlyIntact)} of ${int(early.length)} written before the first outage intact`
        },
        {
          name: 'every counter is its acknowledged writes, plus only writes whose 503 left their outcome unknown',
          pass: back.errors === 0 && back.phantom <= result.unknownOutcome,
          detail: `${int(back.phantom)} applied writes got a 503, of ${int(result.unknownOutcome)} of unknown outcome`
        },
        {
          name: 'the service recovers after each outage',
          pass: recoveries.every((r) => r !== undefined),
          detail: outages.map((o, i) => `${o.name}: ${recoveries[i] === undefined ? 'never' : 'yes'}`).join(', ')
        },
        {
          name: 'the service recovers within 1 s of Redis returning',
          pass: recoveries.every((r) => r !== undefined && r <= RECOVERY),
          detail: outages.map((o, i) => `${o.name}: ${recoveries[i] === undefined ? 'never' : ms(recoveries[i] as number)}`).join(', '),
          timing: true
        }
      ]
    }
  } finally {
    await redis.stop()
  }
}
