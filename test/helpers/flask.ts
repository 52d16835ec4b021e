/**
 * A real Flask for the interop tests: starts test/fixtures/flask/app.py (or
 * another Flask app) with Debian's python3-flask on a free loopback port,
 * and stops it when the test ends. Without Flask the tests fail under CI
 * (`CI=true`) and skip elsewhere, naming the package to install.
 */
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { freePort } from './net.js'

/** The interpreter that Debian's `python3-flask` installs Flask for. */
export const PYTHON = '/usr/bin/python3'
/** The Debian package that provides Flask for `PYTHON`. */
export const FLASK_PACKAGE = 'python3-flask'

const APP = fileURLToPath(new URL('../fixtures/flask/app.py', import.meta.url))
const START_TIMEOUT = 20000

/** What a Flask response carries that the tests look at. */
export interface FlaskResponse {
  status: number
  body: string
  /** The session cookie's value set by the response, `''` when it deletes it. */
  cookie: string | undefined
  /** The whole Set-Cookie header of the session cookie. */
  setCookie: string | undefined
  vary: string | null
}

/** A value with its Python type name, as the echo route describes it. */
export interface Described {
  type: string
  value?: unknown
}

/** What Flask's `/echo` route saw in the session. */
export interface FlaskEcho {
  session: { type: 'dict', value: Record<string, Described> }
  permanent: boolean
  flashes: Array<[string, string]>
}

/** Runtime settings of the Flask app (`POST /_config`). */
export interface FlaskConfig {
  secret_key?: string
  fallbacks?: string[]
  /** PERMANENT_SESSION_LIFETIME, in seconds. */
  lifetime?: number
  /** Seconds added to Flask's clock, when it signs and when it checks an age. */
  offset?: number
}

/** A running Flask app. */
export interface FlaskServer {
  url: string
  version: string
  get (path: string, cookie?: string): Promise<FlaskResponse>
  /** Posts a form. */
  post (path: string, form: Record<string, string>, cookie?: string): Promise<FlaskResponse>
  echo (cookie: string): Promise<FlaskEcho>
  configure (config: FlaskConfig): Promise<void>
}

/** The part of a tap test the helper uses. */
interface TestLike {
  fail (message: string): boolean
  test (name: string, extra: { skip: string }, fn: () => void): unknown
  teardown (fn: () => unknown): void
}

/** Flask's version under `PYTHON`, or why Flask cannot run here. */
export function probeFlask (): { version: string } | { missing: string } {
  const probe = spawnSync(PYTHON, ['-c', 'import flask; print(flask.__version__)'], { encoding: 'utf8' })
  if (probe.error === undefined && probe.status === 0) return { version: probe.stdout.trim() }
  const why = probe.error?.message ?? probe.stderr.trim().split('\n').pop()
  return { missing: `Flask is not available under ${PYTHON} (${why}); install the Debian package ${FLASK_PACKAGE} (apt-get install -y ${FLASK_PACKAGE})` }
}

async function request (url: string, cookie?: string, init: RequestInit = {}): Promise<FlaskResponse> {
  const headers: Record<string, string> = cookie === undefined ? {} : { cookie: `session=${cookie}` }
  const res = await fetch(url, { ...init, headers: { ...headers, ...(init.headers as Record<string, string>) }, redirect: 'manual' })
  const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('session='))
  return {
    status: res.status,
    body: await res.text(),
    cookie: setCookie?.slice('session='.length, setCookie.indexOf(';')),
    setCookie,
    vary: res.headers.get('vary')
  }
}

/** Options of `startFlask`. */
export interface StartOptions {
  /** The Flask app's file; it reads its port from `FLASK_PORT`. @default test/fixtures/flask/app.py */
  app?: string
  /** More environment variables for it. */
  env?: Record<string, string>
}

/**
 * Starts a Flask app and stops it at the end of `t`. Returns `null`, with
 * a skipped test (or a failure under CI), when Flask is missing.
 */
export async function startFlask (t: TestLike, { app = APP, env = {} }: StartOptions = {}): Promise<FlaskServer | null> {
  const probe = probeFlask()
  if ('missing' in probe) {
    if (process.env.CI === 'true') t.fail(probe.missing)
    else t.test('the Flask interop tests', { skip: probe.missing }, () => {})
    return null
  }
  const port = await freePort()
  const child = spawn(PYTHON, [app], {
    env: { ...process.env, FLASK_PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = once(child, 'exit')
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await exited
    }
  })

  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + START_TIMEOUT
  for (let up = false; !up;) {
    if (child.exitCode !== null) throw new Error(`Flask exited with code ${child.exitCode}:\n${output}`)
    if (Date.now() > deadline) throw new Error(`Flask did not answer on ${url} within ${START_TIMEOUT} ms:\n${output}`)
    try {
      await request(`${url}/`)
      up = true
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  return {
    url,
    version: probe.version,
    get: async (path, cookie) => request(url + path, cookie),
    post: async (path, form, cookie) => request(url + path, cookie, {
      method: 'POST',
      body: new URLSearchParams(form).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' }
    }),
    echo: async (cookie) => {
      const res = await request(`${url}/echo`, cookie)
      if (res.status !== 200) throw new Error(`Flask's /echo answered ${res.status}`)
      return JSON.parse(res.body) as FlaskEcho
    },
    configure: async (config) => {
      const res = await request(`${url}/_config`, undefined, {
        method: 'POST',
        body: JSON.stringify(config),
        headers: { 'content-type': 'application/json' }
      })
      if (res.status !== 200) throw new Error(`Flask's /_config answered ${res.status}: ${res.body}`)
    }
  }
}
