/**
 * A real `redis-server` for tests: started on a free 127.0.0.1 port with
 * persistence off, and stopped when the test ends.
 *
 * Without the binary (Debian's `redis-server` package), a test that uses
 * `needsRedis` is skipped, and under CI (`CI=true`) it fails instead.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { accessSync, constants } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Cluster, Redis, type RedisOptions } from 'ioredis'
import { freePort, redisCommand } from './net.js'

/** The part of a tap test that the helper uses. */
interface TestLike {
  teardown: (fn: () => Promise<void>) => void
}

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

const BINARY = findBinary()

/** Servers still running: killed when the test process exits, even if a teardown never ran. */
const running = new Set<ChildProcess>()
process.on('exit', () => { for (const proc of running) proc.kill('SIGKILL') })
const MISSING = 'redis-server is not installed: install the Debian package redis-server (apt-get install redis-server)'

/**
 * The options of a test that needs Redis: skipped when `redis-server` is
 * missing, except under CI, where `startRedis` then fails the test.
 */
export const needsRedis: { skip: string | false } = {
  skip: BINARY === undefined && process.env.CI !== 'true' ? MISSING : false
}

/** A running redis-server. */
export interface RedisServer {
  port: number
  url: string
  /** A connected ioredis client; it is closed when the test ends. Errors go to `errors`. */
  client: (options?: Omit<RedisOptions, 'replyMapping'>) => Promise<Redis>
  /** A connected ioredis Cluster client (for a server started with `cluster: true`). */
  cluster: () => Promise<Cluster>
  /** The `error` events of the clients, which would otherwise be printed. */
  errors: Error[]
  /** Stops the server (SIGTERM) and waits for it to exit. */
  stop: () => Promise<void>
  /** SIGSTOP: the server keeps its connections but answers nothing. */
  pause: () => void
  /** SIGCONT. */
  resume: () => void
  /** SIGKILL, and waits for the process to exit. Its data is lost (no persistence). */
  kill: () => Promise<void>
  /** Starts the server again on the same port. */
  restart: () => Promise<void>
}

/** Starts a redis-server; `cluster: true` makes it a one-node cluster that serves every slot. */
export async function startRedis (t: TestLike, { cluster = false } = {}): Promise<RedisServer> {
  if (BINARY === undefined) throw new Error(MISSING)
  const binary = BINARY
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'redis-test-'))
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir]
  if (cluster) args.push('--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-announce-ip', '127.0.0.1')
  const clients: Array<Redis | Cluster> = []
  const errors: Error[] = []
  let child: ChildProcess | undefined

  async function start (): Promise<void> {
    let output = ''
    const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    child = proc
    running.add(proc)
    proc.on('exit', () => { running.delete(proc) })
    proc.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
    proc.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
    for (let attempt = 0; ; attempt++) {
      if (proc.exitCode !== null || attempt === 250) {
        proc.kill('SIGKILL')
        throw new Error(`redis-server did not start on port ${port}:\n${output}`)
      }
      const reply = await redisCommand(port, 'PING').catch(() => '')
      if (reply.startsWith('+PONG')) return
      await sleep(20)
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
  if (cluster) {
    await redisCommand(port, 'CLUSTER ADDSLOTSRANGE 0 16383')
    while (!(await redisCommand(port, 'CLUSTER INFO')).includes('cluster_state:ok')) await sleep(20)
  }

  const watch = <C extends Redis | Cluster>(client: C): C => {
    clients.push(client)
    client.on('error', (err: Error) => { errors.push(err) })
    return client
  }
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    errors,
    async client (options = {}) {
      const client = watch(new Redis(port, '127.0.0.1', options))
      if (options.lazyConnect !== true) await once(client, 'ready')
      return client
    },
    async cluster () {
      const client = watch(new Cluster([{ host: '127.0.0.1', port }]))
      await once(client, 'ready')
      return client
    },
    stop: async () => { await exit('SIGTERM') },
    pause: () => { child?.kill('SIGSTOP') },
    resume: () => { child?.kill('SIGCONT') },
    kill: async () => { await exit('SIGKILL') },
    restart: async () => {
      await exit('SIGTERM')
      await start()
    }
  }
  t.teardown(async () => {
    await exit('SIGKILL')
    for (const client of clients) client.disconnect()
    await rm(dir, { recursive: true, force: true })
  })
  return server
}
