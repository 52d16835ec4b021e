/**
 * Scenario 1, cookie mode under load: `duration` seconds of mixed `/read`
 * and `/write` at `connections` connections, each carrying its own
 * sessions' cookies.
 *
 * Checks: no request fails; every counter, read back at the end, is the
 * number of writes acknowledged for it (each answer was also checked on
 * the way); the server's heap, after a full GC, grows by less than 30 MB
 * from the end of the warm-up (a sixth of the run, at most 10 s) to the end.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { mixedLoad, readBack } from '../mixed.js'
import { startServer } from '../process.js'
import { int, mb, type ScenarioResult, type Settings } from '../report.js'

const HEAP_LIMIT = 30 * 1024 * 1024
const SAMPLE_EVERY = 10_000

export async function cookieLoad (settings: Settings): Promise<ScenarioResult> {
  const { duration, connections, log } = settings
  const server = await startServer()
  const warmup = Math.min(10, duration / 6) * 1000
  const start = performance.now()
  const until = start + duration * 1000
  log(`scenario 1: ${duration} s of mixed load at ${connections} connections, cookie mode`)
  const load = mixedLoad(server.port, connections, until, false)

  await sleep(warmup)
  const first = await server.heap()
  const samples = [first.heapUsed]
  while (performance.now() + SAMPLE_EVERY < until) {
    await sleep(SAMPLE_EVERY)
    samples.push((await server.heap()).heapUsed)
  }
  const result = await load
  const elapsed = (performance.now() - start) / 1000
  const last = await server.heap()
  samples.push(last.heapUsed)
  log(`scenario 1: reading back ${int(result.chains.length)} sessions`)
  const back = await readBack(server.port, connections, result.chains)
  const running = server.exited() === undefined
  const stats = await server.stop()
  const growth = last.heapUsed - first.heapUsed
  const serverErrors = Object.entries(stats.errors)

  return {
    name: 'Scenario 1: cookie mode under load',
    figures: [
      ['load', `${duration} s at ${connections} connections (warm-up ${(warmup / 1000).toFixed(1)} s)`],
      ['requests', `${int(result.requests)} (${int(result.requests / elapsed)} req/s): ${int(result.reads)} reads, ` +
        `${int(result.writes)} writes, ${int(result.creates)} new sessions`],
      ['2xx', int(result.ok)],
      ['errors', `${int(result.errors + result.unavailable.length)}${result.samples.length > 0 ? `, e.g. ${result.samples.join('; ')}` : ''}`],
      ['server errors', serverErrors.length === 0 ? 'none' : serverErrors.map(([code, n]) => `${code} × ${n}`).join(', ')],
      ['sessions read back', `${int(back.sessions)}: ${int(back.exact)} exact, ${int(back.lost)} lost, ${int(back.errors)} errors` +
        `${back.samples.length > 0 ? `, e.g. ${back.samples.join('; ')}` : ''}`],
      ['acknowledged writes', int(result.chains.reduce((sum, chain) => sum + chain.acked, 0))],
      ['heap after GC', `${mb(first.heapUsed)} at the end of the warm-up, ${mb(last.heapUsed)} at the end: growth ${mb(growth)}`],
      ['heap samples', samples.map(mb).join(', ')],
      ['server RSS', mb(last.rss)]
    ],
    checks: [
      {
        name: 'zero errors',
        pass: result.errors === 0 && result.unavailable.length === 0 && back.errors === 0 && serverErrors.length === 0 && result.ok === result.requests,
        detail: `${int(result.ok)} of ${int(result.requests)} requests answered 2xx; ` +
          `${int(result.errors + result.unavailable.length)} failed or answered a wrong value; ${int(back.errors)} failed read-backs`
      },
      {
        name: 'every counter ends exactly where the requests put it',
        pass: back.sessions > 0 && back.exact === back.sessions && back.errors === 0,
        detail: `${int(back.exact)} of ${int(back.sessions)} sessions hold exactly their acknowledged writes`
      },
      {
        name: 'heap growth under 30 MB from the end of the warm-up to the end',
        pass: growth < HEAP_LIMIT,
        detail: `${mb(growth)}`
      },
      {
        name: 'the server survives',
        pass: running,
        detail: running ? 'it ran to the end and stopped when asked' : 'it exited during the run'
      }
    ]
  }
}
