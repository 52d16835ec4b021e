/**
 * The package as a consumer gets it: the tarball, installed into an empty
 * folder with `fastify` alone beside it.
 * - It ships the built code and types only, with the LICENSE, and installing
 *   it prints no install-script warning.
 * - arethetypeswrong and publint find no problem in it.
 * - It runs from ESM (`import`) and from CommonJS (`require()`, Node 20.19+),
 *   and its bin prints a key.
 * - Its types resolve for `node16` CommonJS, `node16` ESM and `bundler`
 *   consumers: each compiles with the real `tsc`, augments `SessionData`, and
 *   the two Node ones run. A wrong key or value type fails to compile.
 *
 * The package is built and packed from a clean copy of its sources in a
 * temporary folder, as `npm publish` does (`npm pack` runs the `prepack`
 * build), so that this test never races other tests (or people) writing the
 * shared `dist/`.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import t from 'tap'

// Building, packing, two linters, installing and five compilations take a
// minute or more on a busy machine.
t.setTimeout(600_000)

const ROOT = resolve(import.meta.dirname, '..')
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
const ATTW = join(ROOT, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js')
const PUBLINT = join(ROOT, 'node_modules', 'publint', 'src', 'cli.js')
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

// The sources that `npm run build` and `npm pack` read, with no `dist/`.
const source = join(work, 'package')
mkdirSync(source)
for (const name of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE', 'lib', 'scripts']) {
  cpSync(join(ROOT, name), join(source, name), { recursive: true })
}
symlinkSync(join(ROOT, 'node_modules'), join(source, 'node_modules'), 'dir')

// `npm pack` runs the `prepack` script, the build; with --json, the build's
// output goes to stderr and the report alone to stdout.
const packed = run(NPM, ['pack', '--json', '--pack-destination', work], source)
const pack = packed.status === 0
  ? (JSON.parse(packed.stdout) as Array<{ filename: string, files: Array<{ path: string }> }>)[0]
  : undefined
const tarball = join(work, pack?.filename ?? 'missing.tgz')

t.test('the package builds from a clean copy of its sources and packs', async (t) => {
  t.equal(packed.status, 0, `npm pack: ${output(packed)}`)
  t.ok(pack?.filename.endsWith('.tgz'))
  t.match(packed.stderr, /tsc -p tsconfig\.build\.json && node scripts\/build-cjs\.mjs/, 'the prepack build ran')
})

t.test('the tarball ships the built code and its types, and no tests or TypeScript sources', async (t) => {
  const files = (pack?.files ?? []).map((f) => f.path)
  for (const needed of ['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts', 'dist/bin.js', 'dist/codecs/signed.js', 'dist/session.d.ts',
    'dist/cjs/package.json', 'dist/cjs/index.js', 'dist/cjs/index.d.ts']) {
    t.ok(files.includes(needed), `ships ${needed}`)
  }
  const declarations = files.filter((f) => f.endsWith('.d.ts') && !f.startsWith('dist/cjs/'))
  t.same(declarations.filter((f) => !files.includes(f.replace(/^dist\//, 'dist/cjs/'))), [], 'every declaration file has its CommonJS copy')
  t.same(files.filter((f) => f.startsWith('dist/cjs/') && !f.endsWith('.d.ts')), ['dist/cjs/index.js', 'dist/cjs/package.json'],
    'dist/cjs/ holds no code but the wrapper')
  t.same(files.filter((f) => f.startsWith('test/') || f.includes('/test/')), [], 'no tests')
  t.same(files.filter((f) => f.startsWith('lib/')), [], 'no lib/ sources')
  t.same(files.filter((f) => /\.(?:c|m)?ts$/.test(f) && !/\.d\.(?:c|m)?ts$/.test(f)), [], 'no .ts file other than declarations')
  t.same(files.filter((f) => /^(?:example|bench|coverage|\.tap|\.ci|node_modules)\//.test(f)), [], 'no example, bench, coverage or CI files')
  t.same(files.filter((f) => f.endsWith('.tsbuildinfo') || f.startsWith('tsconfig') || f.startsWith('scripts/')), [], 'no build configuration or scripts')
  t.same(files.filter((f) => f.endsWith('.map')), [], 'no source maps')
})

t.test('arethetypeswrong finds no problem, under its strict profile, and each resolution mode gets its types', async (t) => {
  const result = run(process.execPath, [ATTW, tarball, '--format', 'json'], work)
  t.equal(result.status, 0, `attw: exit ${String(result.status)}\n${result.stderr}`)
  type Resolution = { resolution?: { fileName: string }, implementationResolution?: { fileName: string } }
  type Problem = { kind: string, fileName?: string, typesFileName?: string, moduleSpecifier?: string }
  const report = JSON.parse(result.stdout || '{}') as { analysis?: { problems: Problem[], entrypoints: Record<string, { resolutions: Record<string, Resolution> }> } }
  // Under any profile: the report's kind and file, not its resolution traces.
  t.same(report.analysis?.problems.map((p) => [p.kind, p.typesFileName ?? p.fileName, p.moduleSpecifier].filter(Boolean).join(' ')), [],
    'no problem of any kind')
  const resolutions = report.analysis?.entrypoints['.']?.resolutions ?? {}
  const files = Object.fromEntries(Object.entries(resolutions).map(([kind, r]) =>
    [kind, [r.resolution?.fileName, r.implementationResolution?.fileName].map((f) => f?.replace('/node_modules/fastify-typed-session/', ''))]))
  t.same(files, {
    node10: ['dist/cjs/index.d.ts', 'dist/cjs/index.js'],
    'node16-cjs': ['dist/cjs/index.d.ts', 'dist/cjs/index.js'],
    'node16-esm': ['dist/index.d.ts', 'dist/index.js'],
    bundler: ['dist/index.d.ts', 'dist/index.js']
  })
})

t.test('publint finds nothing to report, not even a suggestion', async (t) => {
  const result = run(process.execPath, [PUBLINT, 'run', tarball, '--strict'], work)
  t.equal(result.status, 0, `publint: ${output(result)}`)
  t.match(result.stdout, /^All good!$/m)
})

// A consumer project with the tarball and fastify alone.
const consumer = join(work, 'consumer')
mkdirSync(consumer)
writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }))
const installed = pack === undefined
  ? packed
  : run(NPM, ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, 'fastify@5'], consumer)
const manifest = join(consumer, 'node_modules', 'fastify-typed-session', 'package.json')

t.test('the tarball installs into an empty folder with fastify alone, with no install-script warning', async (t) => {
  t.equal(installed.status, 0, `npm install: ${output(installed)}`)
  t.ok(existsSync(join(consumer, 'node_modules', 'fastify-typed-session', 'dist', 'index.js')))
  // npm warns of a tarball's `prepare` too: it counts it among the install
  // scripts of a package that does not come from a registry.
  t.notMatch(installed.stderr, /install-scripts|install scripts/i, 'no install-script warning')
  t.notMatch(installed.stderr, /fastify-typed-session/, 'no warning names the package')
})

t.test('the installed package.json has no install script, and names its engines, licence and home', async (t) => {
  const installedPackage = JSON.parse(existsSync(manifest) ? readFileSync(manifest, 'utf8') : '{}') as Record<string, unknown>
  const scripts = Object.keys(installedPackage['scripts'] ?? {})
  t.same(scripts.filter((name) => ['preinstall', 'install', 'postinstall', 'prepare'].includes(name)), [])
  t.same(installedPackage['engines'], { node: '>=20.19' })
  t.equal(installedPackage['type'], 'module')
  t.equal(installedPackage['license'], 'MIT')
  t.same(installedPackage['repository'], { type: 'git', url: 'git+https://github.com/fastify-typed-session/fastify-typed-session.git' })
  t.equal(installedPackage['homepage'], 'https://github.com/fastify-typed-session/fastify-typed-session#readme')
  t.same(installedPackage['bugs'], { url: 'https://github.com/fastify-typed-session/fastify-typed-session/issues' })
  t.match(readFileSync(join(consumer, 'node_modules', 'fastify-typed-session', 'LICENSE'), 'utf8'),
    /^MIT License\n\nCopyright \(c\) 2026 fastify-typed-session contributors\n/)
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

t.test('a CommonJS app requires the installed package, registers it in Fastify and serves a session', async (t) => {
  writeFileSync(join(consumer, 'check.cjs'), `
const Fastify = require('fastify')
const typedSession = require('fastify-typed-session')
const { fastifyTypedSession, MemoryStore } = require('fastify-typed-session')
async function main () {
  const app = Fastify()
  await app.register(require('fastify-typed-session'), { secret: 'a secret of at least thirty-two bytes!' })
  app.get('/login', async (request) => { request.session.set('user', 'ada'); return 'ok' })
  app.get('/', async (request) => request.session.get('user') ?? 'nobody')
  const login = await app.inject('/login')
  const cookie = login.cookies.find((c) => c.name === 'session').value
  const me = await app.inject({ url: '/', cookies: { session: cookie } })
  const esm = await import('fastify-typed-session')
  console.log(JSON.stringify({
    body: me.body,
    sameAsDefault: fastifyTypedSession === typedSession.default,
    sameAsImport: fastifyTypedSession === esm.default && MemoryStore === esm.MemoryStore,
    names: Object.keys(esm).filter((name) => !(name in typedSession))
  }))
  await app.close()
}
main()
`)
  const result = run(process.execPath, ['check.cjs'], consumer)
  t.equal(result.status, 0, output(result))
  t.equal(result.stderr, '', 'no warning')
  t.same(JSON.parse(result.stdout || '{}'), { body: 'ada', sameAsDefault: true, sameAsImport: true, names: [] },
    'one instance of the plugin, with every export of the ESM entry')
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

/**
 * A consumer project that registers the plugin, augments `SessionData`, reads
 * a typed value, and refuses a key typo (`@ts-expect-error` fails the build if
 * the typo compiles). It prints the body of a request made with the cookie of
 * the one before, and whether its two ways of importing the plugin agree.
 */
function app (imports: string, agree: string): string {
  return `import Fastify from 'fastify'
${imports}

declare module 'fastify-typed-session' {
  interface SessionData {
    user: string
  }
}

async function main (): Promise<void> {
  const options: TypedSessionOptions = { secret: 'a secret of at least thirty-two bytes!' }
  const app = Fastify()
  await app.register(typedSession, options)
  app.get('/login', async (request) => {
    request.session.set('user', 'ada')
    return 'ok'
  })
  app.get('/', async (request) => {
    const user: string | undefined = request.session.get('user')
    // @ts-expect-error: SessionData has no key 'usr'
    request.session.get('usr')
    return user ?? 'nobody'
  })
  const login = await app.inject('/login')
  const cookie = login.cookies.find((c) => c.name === 'session')?.value ?? ''
  const me = await app.inject({ url: '/', cookies: { session: cookie } })
  console.log(JSON.stringify({ body: me.body, agree: ${agree} }))
  await app.close()
}

void main()
`
}

const ESM_IMPORTS = "import typedSession, { fastifyTypedSession, type TypedSessionOptions } from 'fastify-typed-session'"
const projects: Array<{ name: string, type?: 'module', compilerOptions: Record<string, unknown>, source: string, runs: boolean }> = [
  {
    name: 'node16-cjs',
    compilerOptions: { module: 'node16', moduleResolution: 'node16' },
    source: app(`import typedSession, { type TypedSessionOptions } from 'fastify-typed-session'
import typedSessionModule = require('fastify-typed-session')`,
    'typedSessionModule.default === typedSession && typedSessionModule.fastifyTypedSession === typedSession'),
    runs: true
  },
  {
    name: 'node16-esm',
    type: 'module',
    compilerOptions: { module: 'node16', moduleResolution: 'node16' },
    source: app(ESM_IMPORTS, 'fastifyTypedSession === typedSession'),
    runs: true
  },
  {
    name: 'bundler',
    type: 'module',
    compilerOptions: { module: 'esnext', moduleResolution: 'bundler', noEmit: true },
    source: app(ESM_IMPORTS, 'fastifyTypedSession === typedSession'),
    runs: false
  }
]

for (const project of projects) {
  t.test(`a ${project.name} TypeScript consumer compiles with no error${project.runs ? ', and runs' : ''}`, async (t) => {
    // Inside the consumer folder, so that its node_modules resolve; its own
    // package.json sets the module format of its files.
    const dir = join(consumer, project.name)
    mkdirSync(dir)
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: project.name, version: '1.0.0', private: true, type: project.type }))
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'es2022', strict: true, outDir: 'out', types: ['node'], ...project.compilerOptions },
      files: ['app.ts']
    }))
    writeFileSync(join(dir, 'app.ts'), project.source)
    const compiled = run(process.execPath, [TSC, '-p', '.', '--typeRoots', join(ROOT, 'node_modules', '@types')], dir)
    t.same(`${compiled.stdout}${compiled.stderr}`.split('\n').filter((line) => /error TS\d+/.test(line)), [], 'no error')
    t.equal(compiled.status, 0, output(compiled))
    if (!project.runs) return
    const ran = run(process.execPath, [join('out', 'app.js')], dir)
    t.equal(ran.status, 0, output(ran))
    t.same(JSON.parse(ran.stdout || '{}'), { body: 'ada', agree: true })
  })
}
