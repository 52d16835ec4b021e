/**
 * What a soak scenario reports: its figures, and its checks, each passed or
 * failed. Timing checks are reported as information only under
 * `--skip-timing` (in `npm test`, where the machine's speed is unknown).
 */

/** The soak's settings, from its flags. */
export interface Settings {
  /** Seconds of load in scenarios 1 and 2. */
  duration: number
  connections: number
  /** Sessions created in scenario 3, in each mode. */
  sessions: number
  skipTiming: boolean
  /** Prints a progress line. */
  log: (line: string) => void
}

export interface Check {
  name: string
  pass: boolean
  /** The figures that decided it. */
  detail: string
  /** A check on time, reported but not enforced under `--skip-timing`. */
  timing?: boolean
}

export interface ScenarioResult {
  name: string
  figures: Array<[string, string]>
  checks: Check[]
}

const MB = 1024 * 1024

export function mb (bytes: number): string {
  const text = (bytes / MB).toFixed(1)
  return `${text === '-0.0' ? '0.0' : text} MB`
}

export function int (n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

export function ms (n: number): string {
  return `${Math.round(n)} ms`
}

/** A check that failed only on time, under `--skip-timing`. */
export function waived (check: Check, settings: Pick<Settings, 'skipTiming'>): boolean {
  return check.timing === true && settings.skipTiming
}

/** The scenario's report, as printed. */
export function format (result: ScenarioResult, settings: Pick<Settings, 'skipTiming'>): string {
  const width = Math.max(...result.figures.map(([label]) => label.length))
  const lines = [`== ${result.name}`]
  for (const [label, value] of result.figures) lines.push(`  ${label.padEnd(width)}  ${value}`)
  lines.push('  checks:')
  for (const check of result.checks) {
    const verdict = check.pass ? 'PASS' : waived(check, settings) ? 'INFO' : 'FAIL'
    lines.push(`  [${verdict}] ${check.name}: ${check.detail}`)
  }
  return lines.join('\n') + '\n'
}
