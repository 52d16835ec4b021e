/**
 * A browser for `app.inject()`: it keeps every cookie the app sets (and
 * drops the ones it deletes), and sends them on the next request.
 */
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'

/** A cookie-keeping client of one app. */
export interface Browser {
  /** The cookies it holds, by name. */
  readonly cookies: Map<string, string>
  /** Sends a request with the held cookies, and keeps the ones the response sets. */
  request (options: InjectOptions): Promise<LightMyRequestResponse>
  get (url: string): Promise<LightMyRequestResponse>
  /** POSTs `form` as `application/x-www-form-urlencoded`. */
  post (url: string, form?: Record<string, string>): Promise<LightMyRequestResponse>
}

/** A browser with no cookies yet. */
export function browser (app: FastifyInstance): Browser {
  const cookies = new Map<string, string>()
  const request = async (options: InjectOptions): Promise<LightMyRequestResponse> => {
    const res = await app.inject({ ...options, cookies: { ...Object.fromEntries(cookies), ...options.cookies } })
    for (const c of res.cookies) {
      const expired = c.maxAge === 0 || (c.expires !== undefined && c.expires.getTime() <= Date.now())
      if (expired) cookies.delete(c.name)
      else cookies.set(c.name, c.value)
    }
    return res
  }
  return {
    cookies,
    request,
    get: async (url) => await request({ method: 'GET', url }),
    post: async (url, form = {}) => await request({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(form).toString()
    })
  }
}
