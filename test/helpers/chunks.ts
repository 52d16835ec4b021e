/**
 * Helpers for the chunked-cookie tests: an app whose routes set, read and
 * clear a session, incompressible data, and Set-Cookie parsing.
 */
import { createHash } from 'node:crypto'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { TypedSessionOptions } from '../../lib/index.js'
import { build, setCookies } from './build.js'

/** `n` printable ASCII characters that deflate cannot shrink much, the same on every run. */
export function noise (n: number, seed = 'noise'): string {
  let out = ''
  for (let i = 0; out.length < n; i++) {
    for (const byte of createHash('sha256').update(`${seed} ${i}`).digest()) {
      const c = 32 + (byte % 95)
      if (c !== 34 && c !== 92 && out.length < n) out += String.fromCharCode(c)
    }
  }
  return out
}

/** What the next `/set` writes. */
export const next: { data: Record<string, unknown>, permanent: boolean } = { data: {}, permanent: false }

/**
 * An app with: `/set` (replaces the session with `next`), `/get` (reads it),
 * `/clear`, `/touch` (a write of the same data: refreshes nothing new),
 * `/untouched` (never uses the session) and `/readonly`.
 */
export async function chunkApp (options: Partial<TypedSessionOptions>, logs?: Array<Record<string, unknown>>): Promise<FastifyInstance> {
  return await build(options, (app) => {
    app.get('/set', async (request) => {
      request.session.clear()
      request.session.update(next.data as never)
      request.session.permanent = next.permanent
      return 'ok'
    })
    app.get('/get', async (request) => ({ new: request.session.new, data: request.session.toJSON() }))
    app.get('/clear', async (request) => {
      request.session.clear()
      return 'ok'
    })
    app.get('/untouched', async () => 'ok')
    app.get('/readonly', { config: { session: 'readonly' } }, async (request) => ({ new: request.session.new }))
  }, logs)
}

/** A Set-Cookie header, taken apart. */
export interface Parsed {
  name: string
  value: string
  /** Everything after the value, from its `;`. */
  attributes: string
  header: string
}

/** Every Set-Cookie header of a response, taken apart, in order. */
export function parsed (res: LightMyRequestResponse): Parsed[] {
  return setCookies(res).map((header) => {
    const eq = header.indexOf('=')
    const semi = header.indexOf(';')
    const end = semi < 0 ? header.length : semi
    return { name: header.slice(0, eq), value: header.slice(eq + 1, end), attributes: header.slice(end), header }
  })
}

/** The Cookie header a browser would send after this response: the cookies it set, not the ones it deleted. */
export function cookieHeader (res: LightMyRequestResponse): string {
  return parsed(res).filter((c) => !c.attributes.includes('Max-Age=0')).map((c) => `${c.name}=${c.value}`).join('; ')
}

/** The "session cookie rejected" debug lines in a log. */
export function rejections (logs: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return logs.filter((line) => typeof line.msg === 'string' && line.msg.startsWith('session cookie rejected'))
}
