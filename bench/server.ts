/**
 * One benchmark server: `node bench/server.js VARIANT PORT` (the harness
 * runs it precompiled, see `bench/build.ts`). It listens on 127.0.0.1 with
 * the logger off, and prints one JSON line, `{"port":N}`, once it is ready
 * (PORT 0 picks a free port). It exits when its stdin closes (the harness
 * is gone) or on SIGTERM, through `process.exit` so that `--cpu-prof`
 * writes its profile.
 *
 * Routes: `/read`, `/write` and `/untouched` (see `bench/variants.ts`), and
 * `GET /__heap`, which answers `process.memoryUsage()` after a full GC when
 * the process runs with `--expose-gc`.
 */
import Fastify from 'fastify'
import { VARIANTS } from './variants.js'

const [name, portText = '0'] = process.argv.slice(2)
const variant = VARIANTS.find((v) => v.name === name)
if (variant === undefined) {
  throw new Error(`Unknown variant ${JSON.stringify(name)}; expected one of ${VARIANTS.map((v) => v.name).join(', ')}`)
}

const app = Fastify({ logger: false })
const { read, write } = await variant.setup(app)
app.get('/read', read)
app.get('/write', write)
app.get('/untouched', () => 'ok')
app.get('/__heap', () => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc !== undefined) gc()
  const { heapUsed, heapTotal, rss } = process.memoryUsage()
  return { heapUsed, heapTotal, rss, gc: gc !== undefined }
})

const address = await app.listen({ host: '127.0.0.1', port: Number(portText) })
process.stdout.write(JSON.stringify({ port: Number(new URL(address).port) }) + '\n')

const stop = (): void => { process.exit(0) }
process.on('SIGTERM', stop)
process.stdin.on('end', stop)
process.stdin.on('error', stop)
process.stdin.resume()
