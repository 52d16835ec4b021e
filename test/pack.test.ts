/**
 * Issue 2, "Done when": the packed tarball, installed into an empty folder
 * with `fastify` alone beside it, gives a consumer that augments
 * `SessionData` and compiles under `strict`, while a wrong key or value type
 * fails to compile. The tarball ships the built code and types only.
 *
 * The package is built and packed from a copy of its sources in a temporary
 * folder, so that this test never races other tests (or people) writing the
 * shared `dist/`.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import t from 'tap'

// Building, packing, installing and two compilations take a minute or more
// on a busy machine.
t.setTimeout(600_000)

const ROOT = resolve(import.meta.dirname, '..')
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm'

// The children run without tap's process tracking: the code they run is the
// packed copy, which must not count towards this repository's coverage.
const env = Object.fromEntries(Object.entries(process.env)
  .filter(([name]) => !/^(?:_TAPJS_|TAP_|NODE_V8_COVERAGE$|NODE_OPTIONS$)/.test(name)))
env.npm_config_update_notifier = 'false'

function run (command: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, encoding: 'utf8', env })
}

/** An assertion message: the command, and its output when it failed. */
function output (result: SpawnSyncReturns<string>): string {
  return result.status === 0 ? 'exit 0' : `exit ${String(result.status)}\n${result.stdout}\n${result.stderr}`
}

const work = mkdtempSync(join(tmpdir(), 'fts-pack-'))
t.teardown(() => rmSync(work, { recursive: true, force: true }))

// The sources that `npm run build` and `npm pack` read.
const source = join(work, 'package')
mkdirSync(source)
for (const name of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE', 'lib']) {
  if (existsSync(join(ROOT, name))) cpSync(join(ROOT, name), join(source, name), { recursive: true })
}
symlinkSync(join(ROOT, 'node_modules'), join(source, 'node_modules'), 'dir')

const built = run(process.execPath, [TSC, '-p', 'tsconfig.build.json'], source)
const packed = built.status === 0 ? run(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', work], source) : built
const pack = packed.status === 0
  ? (JSON.parse(packed.stdout) as Array<{ filename: string, files: Array<{ path: string }> }>)[0]
  : undefined

t.test('the package builds and packs', async (t) => {
  t.equal(built.status, 0, `tsc -p tsconfig.build.json: ${output(built)}`)
  t.equal(packed.status, 0, `npm pack: ${output(packed)}`)
  t.ok(pack?.filename.endsWith('.tgz'))
})

t.test('the tarball ships the built code and its types, and no tests or TypeScript sources', async (t) => {
  const files = (pack?.files ?? []).map((f) => f.path)
  for (const needed of ['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/bin.js', 'dist/codecs/signed.js', 'dist/session.d.ts']) {
    t.ok(files.includes(needed), `ships ${needed}`)
  }
  t.same(files.filter((f) => f.startsWith('test/') || f.includes('/test/')), [], 'no tests')
  t.same(files.filter((f) => f.startsWith('lib/')), [], 'no lib/ sources')
  t.same(files.filter((f) => /\.(?:c|m)?ts$/.test(f) && !/\.d\.(?:c|m)?ts$/.test(f)), [], 'no .ts file other than declarations')
  t.same(files.filter((f) => /^(?:example|bench|coverage|\.tap|\.ci|node_modules)\//.test(f)), [], 'no example, bench, coverage or CI files')
  t.same(files.filter((f) => f.endsWith('.tsbuildinfo') || f.startsWith('tsconfig')), [], 'no build configuration')
})

// A consumer project with the tarball and fastify alone.
const consumer = join(work, 'consumer')
mkdirSync(consumer)
writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }))
const installed = pack === undefined
  ? packed
  : run(NPM, ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, pack.filename), 'fastify@5'], consumer)

t.test('the tarball installs into an empty folder with fastify alone', async (t) => {
  t.equal(installed.status, 0, `npm install: ${output(installed)}`)
  t.ok(existsSync(join(consumer, 'node_modules', 'fastify-typed-session', 'dist', 'index.js')))
})

t.test('the installed package runs: a session set on one request is read on the next', async (t) => {
  writeFileSync(join(consumer, 'check.mjs'), `
import Fastify from 'fastify'
import typedSession, { fastifyTypedSession, FST_ERR_SESSION_TOO_LARGE } from 'fastify-typed-session'
const app = Fastify()
await app.register(typedSession, { secret: 'a secret of at least thirty-two bytes!' })
app.get('/login', async (request) => { request.session.set('user', 'ada'); return 'ok' })
app.get('/', async (request) => request.session.get('user') ?? 'nobody')
const login = await app.inject('/login')
const cookie = login.cookies.find((c) => c.name === 'session').value
const me = await app.inject({ url: '/', cookies: { session: cookie } })
console.log(JSON.stringify({ body: me.body, same: fastifyTypedSession === typedSession, code: new FST_ERR_SESSION_TOO_LARGE(1, 2, 'x').code }))
await app.close()
`)
  const result = run(process.execPath, ['check.mjs'], consumer)
  t.equal(result.status, 0, output(result))
  t.same(JSON.parse(result.stdout || '{}'), { body: 'ada', same: true, code: 'FST_ERR_SESSION_TOO_LARGE' })
})

t.test('the installed bin prints a new key', async (t) => {
  const result = run(join(consumer, 'node_modules', '.bin', 'fastify-typed-session'), ['secret'], consumer)
  t.equal(result.status, 0, output(result))
  t.match(result.stdout, /^[A-Za-z0-9_-]{43}\n$/)
})

const AUGMENT = `declare module 'fastify-typed-session' {
  interface SessionData {
    user: string
  }
}
`
const good = `import Fastify from 'fastify'
import typedSession, { type SessionData, type TypedSessionOptions } from 'fastify-typed-session'

${AUGMENT}
const options: TypedSessionOptions = { secret: process.env.SESSION_SECRET ?? 'a secret of at least thirty-two bytes!' }
const app = Fastify()
await app.register(typedSession, options)
app.get('/', async (request) => {
  const user: string | undefined = request.session.get('user')
  const named: string = request.session.get('user', 'nobody')
  request.session.set('user', named.toUpperCase())
  const data: Partial<SessionData> = request.session.toJSON()
  return { user, data, isNew: request.session.new }
})
await app.ready()
`
/** Wrong uses, each marked on the line where the compiler must refuse it. */
const bad: Record<string, string> = {
  'bad-key.ts': `import Fastify from 'fastify'
import typedSession from 'fastify-typed-session'

${AUGMENT}
const app = Fastify()
await app.register(typedSession, { secret: 'a secret of at least thirty-two bytes!' })
app.get('/', async (request) => {
  request.session.set('usr', 'ada') // ERROR
  return 'ok'
})
`,
  'bad-value.ts': `import Fastify from 'fastify'
import typedSession from 'fastify-typed-session'

${AUGMENT}
const app = Fastify()
await app.register(typedSession, { secret: 'a secret of at least thirty-two bytes!' })
app.get('/', async (request) => {
  request.session.set('user', 42) // ERROR
  return 'ok'
})
`,
  'bad-read.ts': `import Fastify from 'fastify'
import typedSession from 'fastify-typed-session'

${AUGMENT}
const app = Fastify()
await app.register(typedSession, { secret: 'a secret of at least thirty-two bytes!' })
app.get('/', async (request) => {
  const user: string = request.session.get('user') // ERROR
  return user
})
`
}

t.test('a consumer that augments SessionData compiles under strict, and wrong keys or value types do not', async (t) => {
  writeFileSync(join(consumer, 'good.ts'), good)
  for (const [name, text] of Object.entries(bad)) writeFileSync(join(consumer, name), text)
  // @types/node is what any TypeScript project on Node has; fastify's own
  // types need it. It is taken from this repository, not installed.
  const flags = ['--strict', '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
    '--typeRoots', join(ROOT, 'node_modules', '@types'), '--types', 'node']
  const result = run(process.execPath, [TSC, ...flags, 'good.ts', ...Object.keys(bad)], consumer)
  const errors = `${result.stdout}${result.stderr}`.split('\n').filter((line) => /error TS\d+/.test(line))
  t.same(errors.filter((line) => !Object.keys(bad).some((name) => line.startsWith(`${name}(`))), [],
    'no error in the good consumer or in the installed packages')
  for (const [name, text] of Object.entries(bad)) {
    const line = text.split('\n').findIndex((l) => l.endsWith('// ERROR')) + 1
    const found = errors.filter((e) => e.startsWith(`${name}(`))
    t.ok(found.length > 0, `${name} does not compile`)
    t.same(found.map((e) => e.slice(0, e.indexOf(','))), found.map(() => `${name}(${line}`), `${name}: the error is on the marked line`)
  }
  t.match(errors.join('\n'), /bad-key\.ts.*Argument of type '"usr"' is not assignable/)
  t.match(errors.join('\n'), /bad-value\.ts.*Argument of type 'number' is not assignable to parameter of type 'string'/)
  t.match(errors.join('\n'), /bad-read\.ts.*Type 'string \| undefined' is not assignable to type 'string'/)
})
