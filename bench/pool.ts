/**
 * Pools full runs: for each target of this plugin's rows (the `targets`
 * of `bench/variants.ts`), the per-round values of every run given (a
 * req/s ratio, or CPU µs over bare, each against the other variant's
 * window of the same round, as the report pairs them), their median, and
 * a 95% bootstrap interval of that median: 5,000 resamples of the pooled
 * rounds, drawn with a fixed seed, so the same runs always give the same
 * figures.
 *
 *   npm run bench:pool -- bench/results/full-16.json bench/results/full-17.json bench/results/full-18.json
 *
 * One run's median moves with the few seconds its windows happened to
 * meet; pooling several runs' rounds shows how far the rounds pin a ratio
 * down, and the share of resamples on the wrong side of the limit says
 * how often a median of that many rounds would miss it.
 */
import { readFileSync } from 'node:fs'
import { pairedValues, stat } from './report.js'
import { VARIANTS } from './variants.js'
import type { Route, Window } from './window.js'

const RESAMPLES = 5000

/** One target's pooled rounds. */
interface Pooled {
  variant: string
  target: string
  limit: string
  values: number[]
  /** True when a value meets the limit. */
  meets: (value: number) => boolean
}

/** A small seeded generator (a linear congruential one): the same draws on every run. */
function generator (): () => number {
  let state = 1
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648
    return state / 2147483648
  }
}

/** The per-round values of `value(a's window, b's window)` on `route`, in every run. */
function rounds (runs: Window[][], a: string, b: string, route: Route, value: (x: Window, y: Window) => number): number[] {
  return runs.flatMap((windows) => pairedValues(windows, a, b, route, value) ?? [])
}

function targets (runs: Window[][]): Pooled[] {
  const pooled: Pooled[] = []
  for (const variant of VARIANTS) {
    const { excess = {}, ratios = [] } = variant.targets ?? {}
    for (const [route, limit] of Object.entries(excess) as Array<[Route, number]>) {
      pooled.push({
        variant: variant.name,
        target: `/${route} CPU over bare`,
        limit: `≤ ${limit} µs`,
        values: rounds(runs, variant.name, 'bare', route, (x, y) => x.cpuUs - y.cpuUs),
        meets: (value) => value <= limit
      })
    }
    for (const { peer, min, routes } of ratios) {
      for (const route of routes) {
        pooled.push({
          variant: variant.name,
          target: `/${route} req/s ÷ ${peer}`,
          limit: `≥ ${min.toFixed(2)}×`,
          values: rounds(runs, variant.name, peer, route, (x, y) => x.rps / y.rps),
          meets: (value) => value >= min
        })
      }
    }
  }
  return pooled
}

function main (files: string[]): string {
  if (files.length === 0) throw new Error('Name the runs to pool: the --json files of `npm run bench`')
  const runs = files.map((file) => (JSON.parse(readFileSync(file, 'utf8')) as { windows: Window[] }).windows)
  const invalid = runs.flat().filter((w) => w.problems.length > 0).length
  if (invalid > 0) throw new Error(`${invalid} window(s) of these runs are invalid; pool valid runs only`)
  const lines = [
    `Pooled over ${files.length} run(s): ${files.join(', ')}`,
    '',
    '| variant | target | limit | rounds | median (95% interval) | resamples missing the limit |',
    '|---|---|---|---|---|---|'
  ]
  const random = generator()
  for (const { variant, target, limit, values, meets } of targets(runs)) {
    const median = stat(values)
    if (median === undefined) {
      lines.push(`| ${variant} | ${target} | ${limit} | 0 | n/a | |`)
      continue
    }
    const medians: number[] = []
    for (let i = 0; i < RESAMPLES; i++) {
      medians.push((stat(values.map(() => values[Math.floor(random() * values.length)] as number)) as { median: number }).median)
    }
    medians.sort((a, b) => a - b)
    const low = medians[Math.floor(RESAMPLES * 0.025)] as number
    const high = medians[Math.ceil(RESAMPLES * 0.975) - 1] as number
    const missing = medians.filter((m) => !meets(m)).length
    const digits = target.includes('CPU') ? 1 : 2
    lines.push(`| ${variant} | ${target} | ${limit} | ${values.length} | ${median.median.toFixed(digits)} (${low.toFixed(digits)}–${high.toFixed(digits)}) | ${(100 * missing / RESAMPLES).toFixed(1)}% |`)
  }
  return lines.join('\n') + '\n'
}

process.stdout.write(main(process.argv.slice(2)))
