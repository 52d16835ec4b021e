/**
 * Loopback helpers shared by the test, soak and bench servers: a free
 * 127.0.0.1 port, and one inline command to a Redis-protocol server.
 */
import { once } from 'node:events'
import { createConnection, createServer } from 'node:net'

/** A port that was free on 127.0.0.1 a moment ago. */
export async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

/** Sends one inline command on a new connection; resolves with the reply's text. */
export async function redisCommand (port: number, text: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = createConnection({ port, host: '127.0.0.1' })
    let reply = ''
    socket.setEncoding('utf8')
    socket.on('connect', () => socket.write(text + '\r\n'))
    socket.on('data', (chunk: string) => {
      reply += chunk
      if (reply.endsWith('\r\n')) {
        socket.destroy()
        resolve(reply)
      }
    })
    socket.on('error', reject)
  })
}
