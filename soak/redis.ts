/**
 * A real `redis-server` for the soak, on a free 127.0.0.1 port, that the
 * soak can pause (SIGSTOP), resume, kill (SIGKILL) and restart on the same
 * port.
 *
 * `persist: true` turns on the append-only file with `appendfsync always`,
 * as an operator who must not lose sessions runs it: Redis writes every
 * change to the file before it answers, so a SIGKILL loses no write that
 * was acknowledged. (`test/helpers/redis.ts` runs without persistence, and
 * takes a tap test; this one runs outside tap.)
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { accessSync, constants } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort, redisCommand } from '../test/helpers/net.js'

function findBinary (): string | undefined {
  const candidates = ['/usr/bin/redis-server', ...(process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'redis-server'))]
  return candidates.find((path) => {
    try {
      accessSync(path, constants.X_OK)
      return true
    } catch {
      return false
    }
  })
}

export const MISSING = 'redis-server is not installed: install the Debian package redis-server (apt-get install redis-server)'

/** Servers still running: killed when the soak exits, however it exits. */
const running = new Set<ChildProcess>()
process.on('exit', () => { for (const proc of running) proc.kill('SIGKILL') })

/** A running redis-server. */
export interface SoakRedis {
  port: number
  /** Sends one inline command (such as `DBSIZE`) on a new connection; resolves with the raw reply. */
  command: (text: string) => Promise<string>
  /** SIGSTOP: the server keeps its connections, but answers nothing. */
  pause: () => void
  /** SIGCONT. */
  resume: () => void
  /** SIGKILL, and waits for the process to exit. */
  kill: () => Promise<void>
  /** Starts the server again on the same port, with the same files; resolves once it answers PING. */
  restart: () => Promise<void>
  /** Stops the server and removes its directory. */
  stop: () => Promise<void>
}

/** Starts a redis-server; throws, naming the Debian package, when there is none. */
export async function startRedis ({ persist = false } = {}): Promise<SoakRedis> {
  const binary = findBinary()
  if (binary === undefined) throw new Error(MISSING)
  const port = await freePort()
  // tmpfs when there is one: the append-only file's fsync is then cheap, and a
  // killed process loses nothing that it wrote (only a machine crash would).
  const dir = await mkdtemp(join(process.platform === 'linux' ? '/dev/shm' : tmpdir(), 'redis-soak-'))
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir]
  args.push(...(persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']))
  let child: ChildProcess | undefined

  async function start (): Promise<void> {
    let output = ''
    const proc = spawn(binary as string, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    child = proc
    running.add(proc)
    proc.on('exit', () => { running.delete(proc) })
    proc.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
    proc.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
    for (let attempt = 0; ; attempt++) {
      if (proc.exitCode !== null || attempt === 500) {
        proc.kill('SIGKILL')
        throw new Error(`redis-server did not start on port ${port}:\n${output}`)
      }
      // PING answers -LOADING until the append-only file is loaded.
      const reply = await redisCommand(port, 'PING').catch(() => '')
      if (reply.startsWith('+PONG')) return
      await sleep(10)
    }
  }

  async function exit (signal: NodeJS.Signals): Promise<void> {
    const proc = child
    child = undefined
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return
    const exited = once(proc, 'exit')
    proc.kill('SIGCONT')
    proc.kill(signal)
    await exited
  }

  await start()
  return {
    port,
    command: async (text) => await redisCommand(port, text),
    pause: () => { child?.kill('SIGSTOP') },
    resume: () => { child?.kill('SIGCONT') },
    kill: async () => { await exit('SIGKILL') },
    restart: async () => {
      await exit('SIGTERM')
      await start()
    },
    stop: async () => {
      await exit('SIGKILL')
      await rm(dir, { recursive: true, force: true })
    }
  }
}
