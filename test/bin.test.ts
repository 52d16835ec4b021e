/**
 * The key generator: `npx fastify-typed-session secret` prints a new random
 * 32-byte key in base64url.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import t from 'tap'
import { main } from '../lib/bin.js'
import { build } from './helpers/build.js'

const ROOT = resolve(import.meta.dirname, '..')
const BIN = join(ROOT, 'dist', 'bin.js')
const KEY = /^[A-Za-z0-9_-]{43}$/

/** Runs `main` and collects what it prints. */
function run (args: string[]): { code: number, out: string[], err: string[] } {
  const out: string[] = []
  const err: string[] = []
  const code = main(args, (line) => out.push(line), (line) => err.push(line))
  return { code, out, err }
}

t.test('secret prints one base64url key of 43 characters that decodes to 32 bytes', async (t) => {
  const { code, out, err } = run(['secret'])
  t.equal(code, 0)
  t.equal(out.length, 1)
  t.same(err, [])
  const key = out[0] as string
  t.match(key, KEY)
  t.equal(Buffer.from(key, 'base64url').length, 32)
  t.equal(Buffer.from(key, 'base64url').toString('base64url'), key, 'canonical base64url')
})

t.test('two runs print different keys', async (t) => {
  const keys = new Set(Array.from({ length: 20 }, () => run(['secret']).out[0]))
  t.equal(keys.size, 20)
})

t.test('the printed key is accepted as the secret option', async (t) => {
  const app = await build({ secret: run(['secret']).out[0] as string })
  t.teardown(() => app.close())
  t.ok(app.sessions)
})

t.test('--help and -h print the usage and exit 0', async (t) => {
  for (const flag of ['--help', '-h']) {
    const { code, out, err } = run([flag])
    t.equal(code, 0, flag)
    t.same(err, [])
    t.match(out[0], /^Usage: fastify-typed-session secret\n/)
    t.match(out[0], 'SESSION_SECRET=$(npx fastify-typed-session secret)')
  }
})

t.test('bad arguments print the usage on stderr and exit 2', async (t) => {
  for (const args of [[], ['secrets'], ['secret', 'extra'], ['--secret'], ['help'], ['SECRET']]) {
    const { code, out, err } = run(args)
    t.equal(code, 2, JSON.stringify(args))
    t.same(out, [], 'nothing on stdout')
    t.match(err[0], /^Usage: fastify-typed-session secret/)
  }
})

/**
 * The built file is compiled output, not source: its runs stay out of this
 * suite's coverage (tap collects a child's coverage through these variables).
 */
const CHILD_ENV: NodeJS.ProcessEnv = { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' }
delete CHILD_ENV.NODE_V8_COVERAGE

t.test('the built bin runs in a child process, directly and through a symlink as npx does', async (t) => {
  t.setTimeout(120_000)
  if (!existsSync(BIN) || statSync(BIN).mtimeMs < statSync(join(ROOT, 'lib', 'bin.ts')).mtimeMs) {
    // The package's own build, which also marks the bin executable.
    const built = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8', env: CHILD_ENV })
    t.equal(built.status, 0, `npm run build: ${built.stdout}${built.stderr}`)
  }
  const first = spawnSync(process.execPath, [BIN, 'secret'], { encoding: 'utf8', env: CHILD_ENV })
  t.equal(first.status, 0)
  t.equal(first.stderr, '')
  t.match(first.stdout, /^[A-Za-z0-9_-]{43}\n$/)
  const second = spawnSync(process.execPath, [BIN, 'secret'], { encoding: 'utf8', env: CHILD_ENV })
  t.not(second.stdout, first.stdout, 'each run prints a new key')

  const bad = spawnSync(process.execPath, [BIN, 'nope'], { encoding: 'utf8', env: CHILD_ENV })
  t.equal(bad.status, 2)
  t.equal(bad.stdout, '')
  t.match(bad.stderr, /^Usage: fastify-typed-session secret/)

  const dir = mkdtempSync(join(tmpdir(), 'fts-bin-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const link = join(dir, 'fastify-typed-session')
  symlinkSync(BIN, link)
  const linked = spawnSync(link, ['secret'], { encoding: 'utf8', env: CHILD_ENV })
  t.equal(linked.status, 0, 'the shebang and the symlinked entry point work')
  t.match(linked.stdout, /^[A-Za-z0-9_-]{43}\n$/)

  // Imported rather than run, the module prints nothing.
  const imported = spawnSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(BIN)})`], { encoding: 'utf8', env: CHILD_ENV })
  t.equal(imported.status, 0)
  t.equal(imported.stdout, '')
})
