/**
 * The soak's side of `soak/server.ts`: fork it with `--expose-gc`, wait for
 * its port, ask it for its heap, and stop it.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { FromServer, ToServer } from './server.js'

const SCRIPT = fileURLToPath(new URL('server.ts', import.meta.url))

/** What the server counted, reported when it stops. */
export interface ServerStats {
  /** Errors that reached Fastify, by code. */
  errors: Record<string, number>
  /** The ioredis client's `error` events. */
  redisErrors: number
  /** The ioredis client's reconnection attempts. */
  reconnects: number
}

/** A running soak server. */
export interface SoakServer {
  port: number
  /** The process's heap after a full GC, and its RSS, in bytes. */
  heap: () => Promise<{ heapUsed: number, rss: number }>
  /** `undefined` while it runs; how it exited otherwise. */
  exited: () => string | undefined
  /** Stops it; resolves with its counts, and rejects if it had already exited. */
  stop: () => Promise<ServerStats>
}

const children = new Set<ChildProcess>()
process.on('exit', () => { for (const child of children) child.kill('SIGKILL') })

/** In Redis mode: the server's port, and the store's timeout in seconds. */
export interface RedisTarget { port: number, timeout: number }

/** Forks the server, in cookie mode or with a RedisStore, and waits until it listens. */
export async function startServer (redis?: RedisTarget): Promise<SoakServer> {
  const mode = redis === undefined ? 'cookie' : 'redis'
  const args = redis === undefined ? [mode] : [mode, String(redis.port), String(redis.timeout)]
  const child = fork(SCRIPT, args, { execArgv: ['--import', 'tsx', '--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  children.add(child)
  let exit: string | undefined
  const exited = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      children.delete(child)
      exit = signal === null ? `exit code ${String(code)}` : `signal ${signal}`
      resolve()
    })
  })
  const next = async <T extends FromServer['type']>(type: T): Promise<Extract<FromServer, { type: T }>> => {
    return await new Promise((resolve, reject) => {
      const onMessage = (message: FromServer): void => {
        if (message.type !== type) return
        child.off('message', onMessage)
        resolve(message as Extract<FromServer, { type: T }>)
      }
      child.on('message', onMessage)
      exited.then(() => { reject(new Error(`The ${mode} server exited (${String(exit)}) while the soak waited for its "${type}" message`)) }, () => {})
    })
  }
  // A server that exited cannot answer: `next` rejects then, so a failed send needs no handling.
  const ask = (message: ToServer): void => { child.send(message, () => {}) }

  const { port } = await next('listening')
  return {
    port,
    heap: async () => {
      const reply = next('heap')
      ask({ type: 'heap' })
      const { heapUsed, rss } = await reply
      return { heapUsed, rss }
    },
    exited: () => exit,
    stop: async () => {
      const reply = next('stopped')
      ask({ type: 'stop' })
      const { errors, redisErrors, reconnects } = await reply
      await exited
      return { errors, redisErrors, reconnects }
    }
  }
}
