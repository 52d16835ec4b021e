/**
 * A real `redis-server` process on a free 127.0.0.1 port, with persistence
 * off unless the caller's arguments turn it on, that can be paused
 * (SIGSTOP), resumed, killed (SIGKILL) and restarted on the same port.
 * Shared by the tests (`redis.ts`, with tap's teardown and ioredis
 * clients), the soak and the bench (`soak/redis.ts`).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { accessSync, constants } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort, redisCommand } from './net.js'

/** Why Redis cannot run here, naming the Debian package. */
export const MISSING = 'redis-server is not installed: install the Debian package redis-server (apt-get install redis-server)'

/** The redis-server binary, if there is one. */
export function findRedisBinary (): string | undefined {
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

/** Servers still running: killed when this process exits, however it exits. */
const running = new Set<ChildProcess>()
process.on('exit', () => { for (const proc of running) proc.kill('SIGKILL') })

/** A running redis-server process. */
export interface RedisProcess {
  port: number
  /** Its working directory (for the append-only file, or a cluster's config). */
  dir: string
  /** SIGSTOP: the server keeps its connections, but answers nothing. */
  pause: () => void
  /** SIGCONT. */
  resume: () => void
  /** Sends a signal (after SIGCONT, so that a paused server can exit), and waits for the process to exit. */
  exit: (signal: NodeJS.Signals) => Promise<void>
  /** Starts the server again on the same port, with the same files; resolves once it answers PING. */
  restart: () => Promise<void>
  /** Kills the server and removes its directory. */
  remove: () => Promise<void>
}

/**
 * Starts redis-server with `args(dir)` added to the port, bind and
 * no-snapshot arguments, in a new directory under `base`. Throws `MISSING`
 * when there is no binary.
 */
export async function startRedisProcess (args: (dir: string) => string[], base = tmpdir()): Promise<RedisProcess> {
  const binary = findRedisBinary()
  if (binary === undefined) throw new Error(MISSING)
  const port = await freePort()
  const dir = await mkdtemp(join(base, 'redis-'))
  const argv = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir, ...args(dir)]
  let child: ChildProcess | undefined

  async function start (): Promise<void> {
    let output = ''
    const proc = spawn(binary as string, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
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
      // PING answers -LOADING until an append-only file is loaded.
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
    dir,
    pause: () => { child?.kill('SIGSTOP') },
    resume: () => { child?.kill('SIGCONT') },
    exit,
    restart: async () => {
      await exit('SIGTERM')
      await start()
    },
    remove: async () => {
      await exit('SIGKILL')
      await rm(dir, { recursive: true, force: true })
    }
  }
}
