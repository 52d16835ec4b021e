/**
 * Turns the measured windows into the report: medians over the rounds with
 * their spread (min–max), the CPU excess over bare Fastify and the req/s
 * ratios to bare and to each peer, each computed round by round (so both
 * sides come from the same round) before taking the median, and the pairs
 * that each row of this plugin is compared in (its `targets` in
 * `bench/variants.ts`: a peer, bare Fastify, or another row of this
 * plugin, such as the same row without a schema). A (variant, route) with
 * any invalid window is reported as INVALID, never with numbers.
 */
import type { Variant } from './variants.js'
import type { Route, Window } from './window.js'

/** The re-run rule for windows with high steal (see `measure` in `bench/run.ts`), and what it did. */
export interface StealRule {
  /** Percent of the machine's CPU time. */
  max: number
  retries: number
  /** Windows run again. */
  reruns: number
  /** Windows kept over the limit, after the retries. */
  kept: number
}

/** What the report says about the run besides the numbers. */
export interface RunInfo {
  node: string
  cpu: string
  command: string
  date: string
  rounds: number
  /** Server processes per variant, taking the rounds in turn. */
  replicas: number
  duration: number
  connections: number
  warmup: number
  steal: StealRule
  loadBefore: string
  loadAfter: string
  /** Each variant's heap after the run, in bytes, after a full GC (the largest of its processes). */
  heap: Record<string, number>
}

/** A median with its spread. */
export interface Stat {
  median: number
  min: number
  max: number
}

/** The summary of one (variant, route). */
export interface Row {
  variant: string
  route: Route
  valid: boolean
  windows: number
  rps: Stat | undefined
  p99: Stat | undefined
  cpuUs: Stat | undefined
  /** Server CPU µs per request over bare, round by round. */
  overBare: Stat | undefined
  /** req/s divided by bare's and each peer's, round by round. */
  ratios: Record<string, Stat | undefined>
}

/** The median of some values, with their min and max; undefined when there are none. */
export function stat (values: number[]): Stat | undefined {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number }
}

/**
 * Pairs two variants' windows of one route by round: `value(a's, b's)` for
 * each round that has both; undefined when either side is invalid.
 */
export function pairedValues (windows: Window[], a: string, b: string, route: Route, value: (x: Window, y: Window) => number): number[] | undefined {
  const mine = windows.filter((w) => w.variant === a && w.route === route)
  const theirs = windows.filter((w) => w.variant === b && w.route === route)
  if (mine.length === 0 || theirs.length === 0 || [...mine, ...theirs].some((w) => w.problems.length > 0)) return undefined
  const values: number[] = []
  for (const x of mine) {
    const y = theirs.find((w) => w.round === x.round)
    if (y !== undefined) values.push(value(x, y))
  }
  return values
}

/** A round's req/s ratio: the first variant's req/s over the other's. */
const rpsRatio = (x: Window, y: Window): number => x.rps / y.rps
/** A round's CPU excess: the first variant's server CPU µs per request minus the other's. */
const cpuOver = (x: Window, y: Window): number => x.cpuUs - y.cpuUs

/** The median (and spread) of `pairedValues`. */
function paired (windows: Window[], a: string, b: string, route: Route, value: (x: Window, y: Window) => number): Stat | undefined {
  const values = pairedValues(windows, a, b, route, value)
  return values === undefined ? undefined : stat(values)
}

/** Summarises the windows, one row per (route, variant). */
export function summarise (windows: Window[], variants: Variant[], routes: readonly Route[]): Row[] {
  const rows: Row[] = []
  const others = ['bare', ...variants.filter((v) => v.peer).map((v) => v.name)]
  for (const route of routes) {
    for (const variant of variants) {
      const mine = windows.filter((w) => w.variant === variant.name && w.route === route)
      const valid = mine.length > 0 && mine.every((w) => w.problems.length === 0)
      const ratios: Row['ratios'] = {}
      for (const other of others) {
        if (other !== variant.name) ratios[other] = paired(windows, variant.name, other, route, rpsRatio)
      }
      rows.push({
        variant: variant.name,
        route,
        valid,
        windows: mine.length,
        rps: valid ? stat(mine.map((w) => w.rps)) : undefined,
        p99: valid ? stat(mine.map((w) => w.p99)) : undefined,
        cpuUs: valid ? stat(mine.map((w) => w.cpuUs)) : undefined,
        overBare: variant.name === 'bare' ? undefined : paired(windows, variant.name, 'bare', route, cpuOver),
        ratios
      })
    }
  }
  return rows
}

const int = (x: number): string => Math.round(x).toLocaleString('en-US')
const one = (x: number): string => x.toFixed(1)
const two = (x: number): string => x.toFixed(2)

function cell (s: Stat | undefined, format: (x: number) => string, valid: boolean, spread = true): string {
  if (!valid) return '**INVALID**'
  if (s === undefined) return '–'
  return spread && s.min !== s.max ? `${format(s.median)} (${format(s.min)}–${format(s.max)})` : format(s.median)
}

/** One pair that a row of this plugin is compared in (`targets` in `bench/variants.ts`), on one route. */
export interface Target {
  variant: string
  route: Route
  /** The variant its windows are paired with, round by round: bare, a peer, or another row of this plugin. */
  other: string
  /** What is measured, as the tables name it: "/write req/s ÷ secure-session". */
  name: string
  /** The per-round value, from the variant's window and the other's. */
  value: (mine: Window, other: Window) => number
  /** Writes a value's number (its unit follows the median in the tables). */
  number: (value: number) => string
  unit: string
}

/** The compared pairs of these variants on these routes, route by route within each variant. */
export function targetsOf (variants: readonly Variant[], routes: readonly Route[]): Target[] {
  const targets: Target[] = []
  for (const variant of variants) {
    const { excess = {}, ratios = [] } = variant.targets ?? {}
    for (const route of routes) {
      if (excess[route] !== undefined) {
        targets.push({
          variant: variant.name,
          route,
          other: 'bare',
          name: `/${route} CPU over bare`,
          value: cpuOver,
          number: one,
          unit: ' µs'
        })
      }
      for (const { peer } of ratios.filter((r) => r.routes.includes(route))) {
        targets.push({
          variant: variant.name,
          route,
          other: peer,
          name: `/${route} req/s ÷ ${peer}`,
          value: rpsRatio,
          number: two,
          unit: '×'
        })
      }
    }
  }
  return targets
}

function targetLines (windows: Window[], variants: Variant[], routes: readonly Route[]): string[] {
  return targetsOf(variants, routes).map((target) => {
    const s = paired(windows, target.variant, target.other, target.route, target.value)
    const { number, unit } = target
    const measured = s === undefined ? 'n/a' : `${number(s.median)}${unit} (${number(s.min)}–${number(s.max)})`
    return `| ${target.variant} | ${target.name} | ${measured} |`
  })
}

/** Writes the report in markdown. */
export function markdown (info: RunInfo, windows: Window[], variants: Variant[], routes: readonly Route[]): string {
  const rows = summarise(windows, variants, routes)
  const others = ['bare', ...variants.filter((v) => v.peer).map((v) => v.name)].filter((n) => variants.some((v) => v.name === n))
  const out: string[] = [
    '# Benchmark results',
    '',
    `- Node ${info.node}, ${info.cpu}; date ${info.date}`,
    `- Command: \`${info.command}\``,
    `- ${info.rounds} interleaved rounds × ${info.duration} s per route per variant, ${info.connections} connections; ${info.replicas} server ${info.replicas === 1 ? 'process' : 'processes'} per variant, round r measuring process (r − 1) mod ${info.replicas}; ${info.warmup} s warm-up per route per process; medians over the rounds, (min–max) in brackets`,
    `- Steal: a window during which the hypervisor took more than ${info.steal.max}% of the machine's CPU time is run again, up to ${info.steal.retries} times: ${info.steal.reruns} re-run, ${info.steal.kept} kept over the limit; the kept windows' steal, median (min–max): ${cell(stat(windows.map((w) => w.steal)), one, true)}%`,
    `- Load average before / after: ${info.loadBefore} / ${info.loadAfter}`,
    '',
    '## Per variant and route',
    '',
    '| variant | route | req/s | p99 ms | server CPU µs/req | CPU µs over bare | valid windows |',
    '|---|---|---|---|---|---|---|'
  ]
  for (const row of rows) {
    const valid = row.valid ? `${row.windows}/${row.windows}` : `**INVALID** (${windows.filter((w) => w.variant === row.variant && w.route === row.route && w.problems.length > 0).length} of ${row.windows} failed)`
    out.push(`| ${row.variant} | /${row.route} | ${cell(row.rps, int, row.valid)} | ${cell(row.p99, String, row.valid, false)} | ${cell(row.cpuUs, one, row.valid)} | ${row.variant === 'bare' ? '–' : cell(row.overBare, one, row.valid)} | ${valid} |`)
  }
  out.push('', '## req/s ratios (each round against the same round, median and min–max)', '',
    `| variant | route | ${others.map((o) => `÷ ${o}`).join(' | ')} |`,
    `|---|---|${others.map(() => '---|').join('')}`)
  for (const row of rows) {
    out.push(`| ${row.variant} | /${row.route} | ${others.map((o) => o === row.variant ? '–' : cell(row.ratios[o], (x) => `${two(x)}×`, row.valid)).join(' | ')} |`)
  }
  const targets = targetLines(windows, variants, routes)
  if (targets.length > 0) {
    out.push('', '## Against the peers and bare Fastify, round by round (median and min–max)', '',
      '| variant | measure | median (min–max) |', '|---|---|---|', ...targets)
  }
  out.push('', '## Server heap after the run (after a full GC; the largest of each variant\'s processes)', '', '| variant | heapUsed MB |', '|---|---|')
  for (const variant of variants) {
    const heap = info.heap[variant.name]
    out.push(`| ${variant.name} | ${heap === undefined ? '–' : (heap / 2 ** 20).toFixed(1)} |`)
  }
  out.push('', '## Variants', '')
  for (const variant of variants) out.push(`- \`${variant.name}\`: ${variant.label}`)
  const invalid = windows.filter((w) => w.problems.length > 0)
  if (invalid.length > 0) {
    out.push('', '## INVALID windows', '')
    for (const w of invalid) out.push(`- ${w.variant} /${w.route}, round ${w.round}: ${w.problems.join('; ')}`)
  }
  return out.join('\n') + '\n'
}
