/**
 * Pools full runs: for each pair that a row of this plugin is compared in
 * (the `targets` of `bench/variants.ts`), the per-round values of every run given (a
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
 * down. The table has the shape of BENCHMARKS.md's pooled table.
 */
import { readFileSync } from 'node:fs'
import { pairedValues, stat, targetsOf } from './report.js'
import { VARIANTS } from './variants.js'
import { ROUTES, type Window } from './window.js'

const RESAMPLES = 5000

/** A small seeded generator (a linear congruential one): the same draws on every run. */
function generator (): () => number {
  let state = 1
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648
    return state / 2147483648
  }
}

function main (files: string[]): string {
  if (files.length === 0) throw new Error('Name the runs to pool: the --json files of `npm run bench`')
  const runs = files.map((file) => (JSON.parse(readFileSync(file, 'utf8')) as { windows: Window[] }).windows)
  const invalid = runs.flat().filter((w) => w.problems.length > 0).length
  if (invalid > 0) throw new Error(`${invalid} window(s) of these runs are invalid; pool valid runs only`)
  const lines = [
    `Pooled over ${files.length} run(s): ${files.join(', ')}`,
    '',
    '| variant | measure | rounds | median (95% interval) |',
    '|---|---|---|---|'
  ]
  const random = generator()
  for (const { variant, route, other, name, value, number, unit } of targetsOf(VARIANTS, ROUTES)) {
    // Each run's rounds paired as its report pairs them, then pooled.
    const values = runs.flatMap((windows) => pairedValues(windows, variant, other, route, value) ?? [])
    const median = stat(values)
    if (median === undefined) {
      lines.push(`| ${variant} | ${name} | 0 | n/a |`)
      continue
    }
    const medians: number[] = []
    for (let i = 0; i < RESAMPLES; i++) {
      medians.push((stat(values.map(() => values[Math.floor(random() * values.length)] as number)) as { median: number }).median)
    }
    medians.sort((a, b) => a - b)
    const low = medians[Math.floor(RESAMPLES * 0.025)] as number
    const high = medians[Math.ceil(RESAMPLES * 0.975) - 1] as number
    lines.push(`| ${variant} | ${name} | ${values.length} | ${number(median.median)}${unit} (${number(low)}–${number(high)}) |`)
  }
  return lines.join('\n') + '\n'
}

process.stdout.write(main(process.argv.slice(2)))
