/**
 * The clock, in Unix seconds. Everything that needs the time reads
 * `clock.now()`, so tests replace it instead of sleeping.
 *
 * A request reads the time up to three times (opening, saving, and a
 * store's write), and `Date.now()` costs about 90 ns on the bench machine,
 * 1% of a `MemoryStore` `/write`. Whole seconds change once a second, so
 * the clock keeps the current second, and a timer moves it at the start
 * of each second, as Node's HTTP server does for its Date header:
 * - the timer is unref'd, so it keeps no process alive;
 * - it starts at the first read, and stops after a second with no read,
 *   so an idle process is not woken each second;
 * - a read is behind the wall clock only while the event loop is blocked
 *   past the start of a second, and by no more than the block: once the
 *   loop turns, the late timer runs before any more I/O is handled.
 */

/** The current second, or -1 while the timer is stopped. */
let second = -1
/** Whether the clock was read since the timer last ran. */
let read = false

function tick (): void {
  if (!read && second !== -1) {
    second = -1
    return
  }
  read = false
  const ms = Date.now()
  second = Math.floor(ms / 1000)
  setTimeout(tick, (second + 1) * 1000 - ms).unref()
}

export const clock = {
  now: (): number => {
    if (second === -1) tick()
    read = true
    return second
  }
}
