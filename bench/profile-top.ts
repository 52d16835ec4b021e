/**
 * Prints the top frames of a V8 CPU profile by self time, and by total
 * time for the frames of this plugin (compiled by the harness to
 * bench/results/build-<pid>/lib):
 *
 *   npm run bench -- --profile --variants typed-signed --routes read --rounds 1
 *   node --import tsx bench/profile-top.ts bench/results/profiles/CPU.*.cpuprofile [--top 25]
 *
 * (`--profile` starts the servers with `--cpu-prof`; each server writes its
 * profile when the harness stops it.)
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

function frameName (node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame
  const file = url === '' ? '' : ` ${url.replace(/^.*\/(?:node_modules|results\/build-\d+)\//, '').replace(/^file:\/\//, '')}:${lineNumber + 1}`
  return `${functionName === '' ? '(anonymous)' : functionName}${file}`
}

function top (times: Map<string, number>, total: number, count: number): string[] {
  return [...times.entries()].sort((a, b) => b[1] - a[1]).slice(0, count)
    .map(([name, us]) => `${(100 * us / total).toFixed(1).padStart(5)}%  ${name}`)
}

const { values, positionals } = parseArgs({ options: { top: { type: 'string', default: '25' } }, allowPositionals: true })
for (const file of positionals) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  let total = 0
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0
    const node = byId.get(id) as ProfileNode
    if (node.callFrame.functionName === '(idle)') return
    total += us
    self.set(frameName(node), (self.get(frameName(node)) ?? 0) + us)
    // Each frame once per sample, however deep the recursion.
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at) as ProfileNode
      // The hooks in index.js call done(), so the rest of the request runs
      // inside them: their total would be nearly everything.
      if (!/\/results\/build-\d+\/lib\//.test(frame.callFrame.url) || frame.callFrame.url.endsWith('/lib/index.js')) continue
      const name = frameName(frame)
      if (!seen.has(name)) inclusive.set(name, (inclusive.get(name) ?? 0) + us)
      seen.add(name)
    }
  })
  const count = Number(values.top)
  process.stdout.write([
    `${file}: ${(total / 1e6).toFixed(2)} s of non-idle samples`,
    '', 'Self time:', ...top(self, total, count),
    '', "Total time of this plugin's frames (but its hooks in index.js):", ...top(inclusive, total, count), ''
  ].join('\n'))
}
