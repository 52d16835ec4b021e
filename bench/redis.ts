/**
 * A redis-server for the benchmark's Redis rows: started on a free
 * 127.0.0.1 port with persistence off, and stopped when the run ends.
 * Its URL reaches the servers through `REDIS_URL`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, connect } from 'node:net'

/** A running redis-server. */
export interface RedisServer {
  url: string
  stop: () => Promise<void>
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => { resolve(port) })
    })
  })
}

async function answers (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('error', () => { resolve(false) })
    socket.once('data', (data) => { socket.destroy(); resolve(data.toString().startsWith('+PONG')) })
    socket.write('PING\r\n')
  })
}

/** Starts redis-server (Debian's `redis-server` package) and waits until it answers PING. */
export async function startRedis (): Promise<RedisServer> {
  const port = await freePort()
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  const failed = new Promise<never>((_resolve, reject) => {
    child.once('error', (err) => { reject(new Error(`redis-server could not start (install the Debian package redis-server): ${err.message}`)) })
  })
  for (let i = 0; i < 100; i++) {
    if (await Promise.race([answers(port), failed])) {
      return {
        url: `redis://127.0.0.1:${port}`,
        stop: async () => {
          if (child.exitCode !== null) return
          const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
          child.kill('SIGTERM')
          await exited
        }
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  child.kill('SIGKILL')
  throw new Error(`redis-server did not answer on port ${port}`)
}
