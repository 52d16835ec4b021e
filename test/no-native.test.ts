/**
 * No native addon is needed: with `sodium-native` made unloadable (as on
 * musl, an old glibc, or an install without optional dependencies), the
 * package loads and serves every format, the encrypted one on its pure-JS
 * backend, and only the encrypted format ever tries to load the addon.
 *
 * A child process runs with a `--require` preload that makes
 * `require('sodium-native')` throw MODULE_NOT_FOUND (through
 * `Module._resolveFilename`) and an ESM resolve hook that does the same for
 * `import`, each writing a line to a log for every attempt. The child
 * registers the plugin once per format, writes a session and reads it
 * back, and prints what it saw and how many attempts the log held after
 * each step. It is kept out of this suite's coverage, as in bench.test.ts.
 */
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import t from 'tap'
import { encryptedCodec } from '../lib/codecs/encrypted.js'
import { SECRET } from './helpers/build.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

const PRELOAD = `'use strict'
const Module = require('node:module')
const { appendFileSync } = require('node:fs')
const blocked = (request) => request === 'sodium-native' || request.startsWith('sodium-native/')
const resolveFilename = Module._resolveFilename
Module._resolveFilename = function (request, ...rest) {
  if (blocked(request)) {
    // One line per attempt: tsx retries a failed request with file extensions, which are blocked but not counted.
    if (request === 'sodium-native') appendFileSync(process.env.NO_NATIVE_LOG, 'require ' + request + '\\n')
    const error = new Error("Cannot find module '" + request + "'")
    error.code = 'MODULE_NOT_FOUND'
    throw error
  }
  return resolveFilename.call(this, request, ...rest)
}
const hooks = \`
import { appendFileSync } from 'node:fs'
export async function resolve (specifier, context, next) {
  if (specifier === 'sodium-native' || specifier.startsWith('sodium-native/')) {
    if (specifier === 'sodium-native') appendFileSync(process.env.NO_NATIVE_LOG, 'import ' + specifier + '\\\\n')
    const error = new Error("Cannot find package '" + specifier + "'")
    error.code = 'ERR_MODULE_NOT_FOUND'
    throw error
  }
  return next(specifier, context)
}
\`
Module.register('data:text/javascript,' + encodeURIComponent(hooks))
`

/** The child's own script, in JavaScript: it loads the package from the sources through tsx. */
function childScript (): string {
  const lib = (path: string): string => JSON.stringify(pathToFileURL(join(ROOT, 'lib', path)).href)
  return `
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
const log = process.env.NO_NATIVE_LOG
const attempts = () => readFileSync(log, 'utf8').split('\\n').filter(Boolean)
const out = { steps: [] }
try {
  createRequire(import.meta.url)('sodium-native')
  out.probe = 'loaded'
} catch (error) {
  out.probe = error.code
}
try {
  await import('sodium-native')
  out.probeImport = 'loaded'
} catch (error) {
  out.probeImport = error.code
}
// The probes' own attempts are not the package's.
const probes = attempts().length
const { default: Fastify } = await import('fastify')
const { default: session, MemoryStore } = await import(${lib('index.ts')})
out.steps.push({ name: 'import', attempts: attempts().slice(probes) })
const formats = [
  ['signed', { format: 'signed' }],
  ['flask', { format: 'flask' }],
  ['store', { store: new MemoryStore() }],
  ['encrypted', { format: 'encrypted' }]
]
for (const [name, options] of formats) {
  const app = Fastify()
  await app.register(session, { secret: ${JSON.stringify(SECRET)}, ...options })
  app.get('/write', async (request) => { request.session.set('username', 'ada'); return 'written' })
  app.get('/read', async (request) => request.session.get('username') ?? 'nobody')
  await app.ready()
  const written = await app.inject('/write')
  const cookie = written.cookies.find((c) => c.name === 'session')?.value
  const read = await app.inject({ url: '/read', cookies: cookie === undefined ? {} : { session: cookie } })
  out.steps.push({ name, status: [written.statusCode, read.statusCode], cookie, read: read.body, attempts: attempts().slice(probes) })
  await app.close()
}
const { encryptedCodec } = await import(${lib('codecs/encrypted.ts')})
out.backend = encryptedCodec([Buffer.from(${JSON.stringify(SECRET)})]).backend
out.last = attempts().slice(probes)
console.log(JSON.stringify(out))
`
}

interface Step {
  name: string
  status?: [number, number]
  cookie?: string
  read?: string
  attempts: string[]
}

t.test('with sodium-native unloadable, every format serves sessions, and only the encrypted one tries the addon', async (t) => {
  const dir = t.testdir({ 'attempts.log': '' })
  const preload = join(dir, 'no-sodium.cjs')
  writeFileSync(preload, PRELOAD)
  const env: NodeJS.ProcessEnv = { ...process.env, NO_NATIVE_LOG: join(dir, 'attempts.log'), _TAPJS_PROCESSINFO_COVERAGE_: '0' }
  delete env.NODE_V8_COVERAGE
  delete env.NODE_OPTIONS
  const child = spawn(process.execPath, ['--require', preload, '--import', 'tsx', '--input-type=module', '--eval', childScript()], { cwd: ROOT, env })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const code = await new Promise<number | null>((resolve) => { child.on('close', resolve) })
  t.equal(code, 0, 'the child ran to the end', { stderr })

  const out = JSON.parse(stdout) as { probe: string, probeImport: string, steps: Step[], backend: string, last: string[] }
  t.equal(out.probe, 'MODULE_NOT_FOUND', 'require(\'sodium-native\') fails in the child')
  t.equal(out.probeImport, 'ERR_MODULE_NOT_FOUND', 'and so does import(\'sodium-native\')')
  const step = (name: string): Step => out.steps.find((s) => s.name === name) as Step
  t.same(step('import').attempts, [], 'importing the package does not try to load sodium-native')

  const shapes: Record<string, RegExp> = {
    signed: /^2\.[A-Za-z0-9_-]+\.[0-9a-z]+\.[0-9a-z]+\.[A-Za-z0-9_-]{43}$/,
    flask: /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/,
    store: /^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/,
    encrypted: /^e2\.[A-Za-z0-9_-]+$/
  }
  for (const [name, shape] of Object.entries(shapes)) {
    const s = step(name)
    t.same(s.status, [200, 200], `${name}: both requests answer 200`)
    t.match(s.cookie, shape, `${name}: the write sets a cookie of the format`)
    t.equal(s.read, 'ada', `${name}: the next request reads the session back`)
  }
  for (const name of ['signed', 'flask', 'store']) {
    t.same(step(name).attempts, [], `${name}: registering and serving never tried to load sodium-native`)
  }
  t.same(step('encrypted').attempts, ['require sodium-native'], 'the encrypted format tried it once, with require')
  t.equal(out.backend, 'noble', 'and encrypts with @noble/ciphers')
  t.same(out.last, ['require sodium-native'], 'a later encrypted codec does not try again')

  // The child's cookie is the same format as this process's, whichever backend runs here.
  const here = encryptedCodec([Buffer.from(SECRET)])
  t.match(here.open(step('encrypted').cookie as string), { body: /"username":"ada"/, keyIndex: 0 },
    `a cookie sealed by noble in the child opens here, on ${here.backend}`)
})
