/**
 * The harness's side of a benchmark server: start it as its own process,
 * read its CPU time from `/proc/<pid>/stat`, talk to it over HTTP outside
 * the timed windows, and stop it.
 */
import { execSync, spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { request as httpRequest, type Agent } from 'node:http'
import { createInterface } from 'node:readline'
import type { Variant } from './variants.js'

/** Clock ticks per second, the unit of the CPU times in `/proc/<pid>/stat`. */
export const CLK_TCK = Number(execSync('getconf CLK_TCK').toString().trim())

/** A running benchmark server. */
export interface Server {
  name: string
  /** Which of the variant's server processes this is, from 0 (see `--replicas` in `bench/run.ts`). */
  replica: number
  /** Where the variant keeps the counter (see `Variant.state`). */
  state: Variant['state']
  port: number
  pid: number
  child: ChildProcess
}

/** Starts `node [nodeArgs] script variant 0` as the variant's process number `replica`, and waits for the port it prints. */
export async function startServer (script: string, variant: Variant, nodeArgs: string[], replica = 0): Promise<Server> {
  const { name, state } = variant
  const child = spawn(process.execPath, [...nodeArgs, script, name, '0'], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => { reject(new Error(`The ${name} server exited with code ${String(code)} before listening`)) })
    lines.once('line', (line) => { resolve((JSON.parse(line) as { port: number }).port) })
  })
  child.removeAllListeners('exit')
  lines.close()
  return { name, replica, state, port, pid: child.pid as number, child }
}

/** Stops a server and waits for it to exit. */
export async function stopServer (server: Server): Promise<void> {
  const { child } = server
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
  child.kill('SIGTERM')
  await exited
}

/** The process's user plus system CPU time so far, in clock ticks (fields 14 and 15). */
export function cpuTicks (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Field 2 (the command) is in parentheses and may hold spaces; field 3 follows ") ".
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(fields[14 - 3]) + Number(fields[15 - 3])
}

/** The whole machine's CPU time so far, in clock ticks, from the first line of `/proc/stat`. */
export interface MachineTicks {
  /** Time the hypervisor ran something else while this machine's CPUs had work (field 8, steal). */
  steal: number
  /** All the fields: user, nice, system, idle, iowait, irq, softirq, steal. */
  total: number
}

/** Reads the machine's CPU times (see `MachineTicks`). */
export function machineTicks (): MachineTicks {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] as string
  // "cpu  user nice system idle iowait irq softirq steal guest guest_nice"; guest time is already in user.
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number)
  return { steal: fields[7] ?? 0, total: fields.reduce((sum, x) => sum + x, 0) }
}

/** A response read outside the timed windows. */
export interface Reply {
  status: number
  body: string
  setCookie: string[]
}

/** Sends one GET request, on a fresh connection unless an agent is given. */
export async function get (port: number, path: string, cookie?: string, agent?: Agent): Promise<Reply> {
  return await new Promise((resolve, reject) => {
    const headers = cookie === undefined ? {} : { cookie }
    const req = httpRequest({ host: '127.0.0.1', port, path, headers, agent: agent ?? false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body, setCookie: res.headers['set-cookie'] ?? [] }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/**
 * The Cookie header a browser would send next: the name=value pairs of
 * the Set-Cookie headers, or the one it sent when none was set.
 */
export function nextCookie (sent: string, setCookie: string | string[] | undefined): string {
  if (setCookie === undefined || setCookie.length === 0) return sent
  const list = Array.isArray(setCookie) ? setCookie : [setCookie]
  return list.map((header) => {
    const end = header.indexOf(';')
    return end < 0 ? header : header.slice(0, end)
  }).join('; ')
}

/** The server's heap after a full GC, in bytes, from its `/__heap` route. */
export async function heapUsed (port: number): Promise<number> {
  const reply = await get(port, '/__heap')
  return (JSON.parse(reply.body) as { heapUsed: number }).heapUsed
}
