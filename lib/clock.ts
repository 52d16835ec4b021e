/**
 * The clock, in Unix seconds. Everything that needs the time reads
 * `clock.now()`, so tests replace it instead of sleeping.
 */
export const clock = { now: (): number => Math.floor(Date.now() / 1000) }
