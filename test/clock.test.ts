/**
 * The plugin's clock: whole Unix seconds, kept by a timer that moves it at
 * the start of each second and stops when the clock is not read.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { clock } from '../lib/clock.js'

const wall = (): number => Math.floor(Date.now() / 1000)

/** The delays of the timers that the clock schedules, recorded from here on. */
function recordTimers (t: Test): number[] {
  const delays: number[] = []
  const original = globalThis.setTimeout
  globalThis.setTimeout = ((fn: () => void, ms: number) => {
    delays.push(ms)
    return original(fn, ms)
  }) as typeof globalThis.setTimeout
  t.teardown(() => { globalThis.setTimeout = original })
  return delays
}

t.test('the clock reads the wall clock in whole seconds, follows it across seconds, and sleeps when unread', async (t) => {
  const delays = recordTimers(t)
  const before = wall()
  const first = clock.now()
  t.ok(first >= before && first <= wall(), 'the first read is the current second')
  t.equal(delays.length, 1, 'and starts one timer')
  t.ok((delays[0] as number) >= 1 && (delays[0] as number) <= 1000, 'due at the start of the next second')

  // Read for a little over two seconds: the clock moves with the wall clock.
  const seen = new Set<number>()
  const until = Date.now() + 2200
  while (Date.now() < until) {
    const low = wall()
    const now = clock.now()
    t.ok(now >= low - 1 && now <= wall(), 'each read is the current second, or the one just ended while its timer was due')
    seen.add(now)
    await sleep(50)
  }
  t.ok(seen.size >= 2, 'the clock moved to the next second')
  const ticks = delays.length
  t.ok(ticks >= 3, 'the timer ran at each second while the clock was read')

  // Unread for two seconds: the timer runs once more, finds no read, and stops.
  await sleep(2100)
  const idle = delays.length
  t.ok(idle <= ticks + 1, 'at most one more timer after the reads stop')
  await sleep(1100)
  t.equal(delays.length, idle, 'no timer runs while the clock is not read')

  const low = wall()
  const again = clock.now()
  t.ok(again >= low && again <= wall(), 'a read after the pause is the current second')
  t.equal(delays.length, idle + 1, 'and starts the timer again')
})
