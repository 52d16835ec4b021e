/**
 * A real `redis-server` for tests: started on a free 127.0.0.1 port with
 * persistence off, and stopped when the test ends.
 *
 * Without the binary (Debian's `redis-server` package), a test that uses
 * `needsRedis` is skipped, and under CI (`CI=true`) it fails instead.
 */
import { once } from 'node:events'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Cluster, Redis, type RedisOptions } from 'ioredis'
import { redisCommand } from './net.js'
import { findRedisBinary, MISSING, startRedisProcess } from './redis-process.js'

/** The part of a tap test that the helper uses. */
interface TestLike {
  teardown: (fn: () => Promise<void>) => void
}

const BINARY = findRedisBinary()

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
  const proc = await startRedisProcess((dir) => cluster
    ? ['--appendonly', 'no', '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-announce-ip', '127.0.0.1']
    : ['--appendonly', 'no'])
  const port = proc.port
  const clients: Array<Redis | Cluster> = []
  const errors: Error[] = []

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
    stop: async () => { await proc.exit('SIGTERM') },
    pause: proc.pause,
    resume: proc.resume,
    kill: async () => { await proc.exit('SIGKILL') },
    restart: proc.restart
  }
  t.teardown(async () => {
    await proc.remove()
    for (const client of clients) client.disconnect()
  })
  return server
}
