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
import { redisCommand } from '../test/helpers/net.js'
import { MISSING, startRedisProcess } from '../test/helpers/redis-process.js'

export { MISSING }

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
  // tmpfs when there is one: the append-only file's fsync is then cheap, and a
  // killed process loses nothing that it wrote (only a machine crash would).
  const server = await startRedisProcess(() => persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'],
    process.platform === 'linux' ? '/dev/shm' : undefined)
  return {
    port: server.port,
    command: async (text) => await redisCommand(server.port, text),
    pause: server.pause,
    resume: server.resume,
    kill: async () => { await server.exit('SIGKILL') },
    restart: server.restart,
    stop: server.remove
  }
}
