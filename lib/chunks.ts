/**
 * Chunked session cookies (the `maxChunks` option above 1): a cookie value
 * too long for one Set-Cookie of `maxCookieSize` is split over `cookieName`,
 * `cookieName.1`, … `cookieName.(N-1)`, every chunk with the same
 * attributes, every header within `maxCookieSize`. The codec writes N and
 * L into the value's head (`codecs/chunk-field.ts`), where the MAC or the
 * AEAD covers them; this module cuts a sealed value into chunks, and puts
 * a request's chunks back together after checking them against N and L.
 *
 * A request pays for looking up chunk names only when its base cookie's
 * head says it is chunked. Chunk names that a response no longer uses are
 * deleted, with the same Path, Domain, Secure, SameSite and Partitioned.
 */
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import { MAX_CHUNKS, readLayout, type ChunkPlan } from './codecs/chunk-field.js'
import { MAX_VALUE_LENGTH, type CookieCodec } from './codecs/types.js'
import { FST_ERR_SESSION_TOO_LARGE } from './errors.js'
import { addVaryCookie, cookieAt, largestKeys, logRejected, type CookieWriter } from './interface.js'
import type { ResolvedOptions } from './options.js'
import type { SessionContent } from './serialize.js'
import type { SessionState } from './session-state.js'

/** The shortest chunk worth cutting: the first one must hold the whole head and its `.`. */
const MIN_CHUNK = 32

/** Whether a cookie value's head (the text before its first `.`) has a chunk field: a look at a dozen characters. */
export function isChunked (value: string): boolean {
  const dot = value.indexOf('.')
  return dot > 0 && value.lastIndexOf('-', dot) >= 0
}

/**
 * The chunk cookies `prefix` + 1 … 9 in a Cookie header (`prefix` is the
 * cookie's name and `.`), by index: `null` for a name sent with several
 * different values. Other names after the prefix are not chunks.
 */
export function findChunks (header: string, prefix: string): Array<string | null | undefined> {
  const found: Array<string | null | undefined> = []
  for (let at = cookieAt(header, prefix, 0); at >= 0; at = cookieAt(header, prefix, at + prefix.length)) {
    const from = at + prefix.length
    const index = header.charCodeAt(from) - 48
    if (index < 1 || index >= MAX_CHUNKS || header.charCodeAt(from + 1) !== 61) continue // not `prefix` 1-9 `=`
    const end = header.indexOf(';', from)
    const value = header.slice(from + 2, end < 0 ? undefined : end).trim()
    const seen = found[index]
    found[index] = seen === undefined || seen === value ? value : null
  }
  return found
}

/** A request's chunked cookie: the joined value, or why it is rejected, and the chunk indices it brought. */
export interface Joined {
  /** The whole value, when every chunk is where the head says. */
  value?: string
  /** Why the chunks are rejected, as the debug line says it. */
  reason?: string
  /** The chunk names (`cookieName.i`) the request brought, by `i`. */
  indices: number[]
}

/**
 * Puts a chunked value back together from its first chunk (the base
 * cookie's value) and the Cookie header: exactly the names `.1` to
 * `.(N-1)`, none beyond, each but the last exactly L characters long.
 */
export function joinChunks (header: string, first: string, prefix: string, maxChunks: number): Joined {
  const found = findChunks(header, prefix)
  const indices: number[] = []
  for (let i = 1; i < found.length; i++) if (found[i] !== undefined) indices.push(i)
  const layout = readLayout(first.slice(0, first.indexOf('.')))
  if (typeof layout === 'string') return { reason: layout, indices }
  const { count, length } = layout
  if (count > maxChunks) return { reason: `the cookie says ${count} chunks, more than maxChunks (${maxChunks})`, indices }
  if (first.length !== length) return { reason: `the first chunk is ${first.length} characters, not the ${length} its head says`, indices }
  let value = first
  for (let i = 1; i < count; i++) {
    const chunk = found[i]
    if (chunk === undefined) return { reason: `chunk ${i} of ${count} is missing`, indices }
    if (chunk === null) return { reason: `chunk ${i} was sent with several values`, indices }
    if (chunk.length === 0 || chunk.length > length || (i < count - 1 && chunk.length !== length)) {
      return { reason: `chunk ${i} is ${chunk.length} characters, not the ${length} its head says`, indices }
    }
    value += chunk
  }
  const beyond = indices.find((i) => i >= count)
  if (beyond !== undefined) return { reason: `the request brought chunk ${beyond}, beyond the ${count} its head says`, indices }
  return { value, indices }
}

/** Cuts a value into chunks of `length` characters, the last one 1 to `length`. */
export function cut (value: string, length: number): string[] {
  const chunks: string[] = []
  for (let at = 0; at < value.length; at += length) chunks.push(value.slice(at, at + length))
  return chunks
}

/** The chunk indices a chunked request brought, and whether its chunks were rejected before any cryptography. */
interface Brought {
  indices: number[]
  rejected: boolean
}

/** What a save did with the cookie, for the chunks to follow: nothing, deleted it, or set it in so many cookies. */
export const KEPT = -1

/** The chunking side of the cookie-mode policy, present when `maxChunks` is above 1. */
export class Chunks {
  readonly #options: ResolvedOptions
  readonly #codec: CookieCodec
  readonly #writer: CookieWriter
  /** The base name and `.`, which chunk names start with. */
  readonly #prefix: string
  /** The chunks of each request that brought a chunked cookie. */
  readonly #brought = new WeakMap<SessionState, Brought>()

  constructor (options: ResolvedOptions, codec: CookieCodec, writer: CookieWriter) {
    this.#options = options
    this.#codec = codec
    this.#writer = writer
    this.#prefix = `${options.cookieName}.`
  }

  /**
   * The whole value of a chunked cookie (`first` is the base cookie's
   * value), or `undefined` when its chunks are rejected (logged at debug
   * level). Remembers the chunk names the request brought, for `settle`.
   */
  join (s: SessionState, header: string, first: string, log: FastifyBaseLogger): string | undefined {
    const joined = joinChunks(header, first, this.#prefix, this.#options.maxChunks)
    this.#brought.set(s, { indices: joined.indices, rejected: joined.value === undefined })
    if (joined.reason !== undefined) logRejected(log, joined.reason)
    return joined.value
  }

  /** The plan for a value followed by these attributes (Expires, Max-Age, Path…): one cookie, else chunks of L. */
  #plan (attributes: string): ChunkPlan {
    const room = this.#options.maxCookieSize - this.#options.cookieName.length - attributes.length
    return { single: Math.min(room - 1, MAX_VALUE_LENGTH), length: Math.min(room - 3, MAX_VALUE_LENGTH) } // `=`, or `.i=`
  }

  /**
   * Seals a body and cuts the value into chunks that fit beside these
   * attributes. Throws `FST_ERR_SESSION_TOO_LARGE` when it needs more than
   * `maxChunks` cookies.
   */
  seal (body: string, permanent: boolean, created: number, issued: number, attributes: string, content: SessionContent): string[] {
    const plan = this.#plan(attributes)
    const value = this.#codec.seal(body, permanent, created, issued, plan)
    if (value.length <= plan.single) return [value]
    const needed = plan.length < MIN_CHUNK ? 0 : Math.ceil(value.length / plan.length)
    const { cookieName, maxCookieSize, maxChunks } = this.#options
    if (needed === 0 || needed > maxChunks) {
      const note = needed === 0
        ? `, and its attributes leave too little room to split it over maxChunks (${maxChunks}) cookies`
        : `, and it would need ${needed} cookies, more than maxChunks (${maxChunks})`
      throw new FST_ERR_SESSION_TOO_LARGE(cookieName.length + 1 + value.length + attributes.length, maxCookieSize, note, largestKeys(content))
    }
    return cut(value, plan.length)
  }

  /** Sets a session's cookie, in as many chunks as it takes; returns the whole value. */
  set (request: FastifyRequest, reply: FastifyReply, body: string, created: number, now: number, s: SessionState): { value: string, count: number } {
    const attributes = this.#writer.attributes(request, s.permanent, s.attributes, now)
    const chunks = this.seal(body, s.permanent, created, now, attributes, s.content)
    const name = this.#options.cookieName
    for (let i = 0; i < chunks.length; i++) reply.header('set-cookie', `${i === 0 ? name : this.#prefix + String(i)}=${chunks[i] as string}${attributes}`)
    return { value: chunks.join(''), count: chunks.length }
  }

  /**
   * After a save: deletes the chunk names the request brought that the
   * response no longer uses. `done` is what the save did: `KEPT`, or the
   * number of cookies it set (0 when it deleted the session). A session
   * whose chunks were rejected (before or after verification) and that was
   * not written loses its cookies: they could never be read.
   */
  settle (request: FastifyRequest, reply: FastifyReply, s: SessionState, done: number): void {
    const brought = this.#brought.get(s)
    if (brought === undefined) return
    let from = done
    if (done === KEPT) {
      // Never loaded: nothing is known against the chunks, which stay.
      const rejected = brought.rejected || (s.load === undefined && s.isNew)
      if (!rejected) return
      this.#writer.delete(request, reply, s)
      addVaryCookie(reply)
      from = 1
    }
    for (const i of brought.indices) if (i >= from) this.#writer.delete(request, reply, s, this.#prefix + String(i))
  }
}
