/**
 * The `schema`, `version` and `migrate` options: what a session's data must
 * look like, and how data written by older code is brought up to date.
 *
 * The schema is compiled once, at registration, by `@fastify/ajv-compiler`
 * (the compiler behind Fastify's route validation) with the app's own `ajv`
 * options (its plugins, formats and keywords) and its shared schemas
 * (`app.addSchema`), but with nothing that rewrites data: no type coercion,
 * no defaults, no removal of additional properties. A session is checked,
 * never changed by the check.
 *
 * Ajv sees the data with its tagged values decoded: a `Date` is a `Date`,
 * not its JSON text. JSON Schema has no type for them, so two keywords (the
 * ones `ajv-keywords` defines, added unless the app's Ajv already has them)
 * describe them:
 *
 *   { instanceof: 'Date' }     also 'Buffer', 'Uint8Array', 'Map' and 'Set', or an array of them
 *   { typeof: 'bigint' }       any `typeof` answer, or an array of them
 *
 * With TypeBox: `Type.Unsafe<Date>({ instanceof: 'Date' })`.
 */
import AjvCompiler from '@fastify/ajv-compiler'
import type { FastifyInstance } from 'fastify'
import { FST_ERR_SESSION_INVALID_DATA } from './errors.js'
import { invalidOption } from './invalid-option.js'
import { stringifyContent, type SessionContent } from './serialize.js'

/** The `migrate` option: data of an older `version`, as a plain object of its top-level keys, brought to this one. */
export type Migrate = (data: Record<string, unknown>, fromVersion: number) => Record<string, unknown>

/** The part of an Ajv instance that the keywords use. */
interface AjvKeywords {
  getKeyword: (name: string) => unknown
  addKeyword: (definition: object) => unknown
}

/** One of Ajv's errors. */
interface AjvError {
  instancePath: string
  keyword: string
  params: Record<string, unknown>
  message?: string
}

/** A compiled schema: true when the data passes, with the first error in `errors` when it does not. */
interface Validator {
  (data: unknown): boolean
  errors?: AjvError[] | null
  $async?: unknown
}

/** The classes of the tagged values, by the names `instanceof` takes. */
const CLASSES: Readonly<Record<string, (value: unknown) => boolean>> = {
  Date: (value) => value instanceof Date,
  Buffer: (value) => Buffer.isBuffer(value),
  Uint8Array: (value) => value instanceof Uint8Array,
  Map: (value) => value instanceof Map,
  Set: (value) => value instanceof Set
}
const TYPEOF = ['undefined', 'string', 'number', 'object', 'function', 'boolean', 'symbol', 'bigint']

/** A keyword whose value is one name of `names`, or an array of them, and whose test is the test of any of them. */
function nameKeyword (keyword: string, names: readonly string[], test: (name: string) => (value: unknown) => boolean): object {
  const name = { enum: names }
  return {
    keyword,
    metaSchema: { anyOf: [name, { type: 'array', items: name, minItems: 1 }] },
    compile (given: string | string[]) {
      const tests = (Array.isArray(given) ? given : [given]).map(test)
      return (value: unknown) => tests.some((t) => t(value))
    }
  }
}

/** Adds `instanceof` and `typeof` to an Ajv instance that has no keyword of that name yet. */
function taggedKeywords (ajv: AjvKeywords): AjvKeywords {
  if (ajv.getKeyword('instanceof') === false) {
    ajv.addKeyword(nameKeyword('instanceof', Object.keys(CLASSES), (name) => CLASSES[name] as (value: unknown) => boolean))
  }
  if (ajv.getKeyword('typeof') === false) {
    // eslint-disable-next-line valid-typeof -- `name` is one of TYPEOF, which the keyword's meta-schema enforces
    ajv.addKeyword(nameKeyword('typeof', TYPEOF, (name) => (value) => typeof value === name))
  }
  return ajv
}

/** Fastify's `ajv` server option. */
interface ServerAjvOptions {
  customOptions?: Record<string, unknown>
  plugins?: unknown[]
}

/**
 * The app's `ajv` server option, which Fastify keeps under a symbol of its
 * own (`fastify.options`) on the root instance; `{}` when it is not found.
 */
export function serverAjvOptions (fastify: object): ServerAjvOptions {
  for (let o: object | null = fastify; o !== null; o = Object.getPrototypeOf(o) as object | null) {
    const symbol = Object.getOwnPropertySymbols(o).find((s) => s.description === 'fastify.options')
    if (symbol !== undefined) return ((o as Record<symbol, { ajv?: ServerAjvOptions }>)[symbol]?.ajv) ?? {}
  }
  return {}
}

/** Escapes a property name for a JSON Pointer (RFC 6901). */
function pointer (name: unknown): string {
  return '/' + String(name).replaceAll('~', '~0').replaceAll('/', '~1')
}

/**
 * Where and why data fails: the path of the failing value as a JSON
 * Pointer (`/` for the whole object), the keyword and Ajv's message. A
 * missing or extra property is named itself, not its parent.
 */
function describeError (error: AjvError): string {
  let path = error.instancePath
  if (error.keyword === 'required') path += pointer(error.params.missingProperty)
  else if (error.keyword === 'additionalProperties') path += pointer(error.params.additionalProperty)
  const message = error.message === undefined ? '' : `: ${error.message}`
  return `${path === '' ? '/' : path} (${error.keyword}${message})`
}

/**
 * Compiles the `schema` option with Fastify's validator stack. Throws
 * `FST_ERR_SESSION_INVALID_OPTION`, with Ajv's message, when it does not compile.
 */
export function compileSchema (fastify: FastifyInstance, schema: object): Validator {
  const { customOptions = {}, plugins = [] } = serverAjvOptions(fastify)
  const build = AjvCompiler()(fastify.getSchemas() as Record<string, object>, {
    customOptions: { ...customOptions, coerceTypes: false, useDefaults: false, removeAdditional: false },
    plugins: [...plugins, taggedKeywords] as never
  })
  let validate: Validator
  try {
    validate = build({ schema }) as unknown as Validator
  } catch (err) {
    throw invalidOption('schema', `a JSON Schema that Ajv compiles (Ajv says: ${(err as Error).message})`, schema)
  }
  if (validate.$async === true) throw invalidOption('schema', 'a synchronous JSON Schema, without $async', schema)
  return validate
}

/** The data as a plain object of its top-level keys, as the schema and `migrate` see it; an undefined value is left out, as a save does. */
function plainObject (data: Map<string, unknown>): Record<string, unknown> {
  const object: Record<string, unknown> = {}
  for (const [key, value] of data) if (value !== undefined) object[key] = value
  return object
}

/** Whether the data holds no value that a save would keep. */
function isEmpty (data: Map<string, unknown>): boolean {
  for (const value of data.values()) if (value !== undefined) return false
  return true
}

/** What a value is, for a debug line: a kind, never its content. */
function kind (value: unknown): string {
  if (value === null || value === undefined) return String(value)
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return value instanceof Promise ? 'a Promise' : 'an object that is not plain'
  return `a ${typeof value}`
}

/**
 * The `schema`, `version` and `migrate` options, as the policies of both
 * modes apply them: on load, on save and on migration.
 */
export class DataRules {
  /** The data version of this code: kept with each session it saves. */
  readonly version: number
  readonly #validate: Validator | undefined
  readonly #migrate: Migrate | undefined

  constructor (version: number, validate: Validator | undefined, migrate: Migrate | undefined) {
    this.version = version
    this.#validate = validate
    this.#migrate = migrate
  }

  /** Whether there is a schema to check data against. */
  get checks (): boolean {
    return this.#validate !== undefined
  }

  /**
   * Why the data fails the schema (path and keyword), or `undefined` when
   * it passes or there is no schema. Empty data always passes: it is what
   * every rejected session becomes.
   */
  failure (data: Map<string, unknown>): string | undefined {
    const validate = this.#validate
    if (validate === undefined || isEmpty(data) || validate(plainObject(data))) return undefined
    return describeError((validate.errors as AjvError[])[0] as AjvError)
  }

  /** Why loaded data is rejected for failing the schema, as the debug line says it; `undefined` when it passes. */
  rejection (data: Map<string, unknown>): string | undefined {
    const failure = this.failure(data)
    return failure === undefined ? undefined : `the data fails the schema at ${failure}`
  }

  /** Checks the data of a save: throws `FST_ERR_SESSION_INVALID_DATA`, naming the path, when it fails the schema. */
  assert (data: Map<string, unknown>): void {
    const failure = this.failure(data)
    if (failure !== undefined) throw new FST_ERR_SESSION_INVALID_DATA(failure)
  }

  /**
   * Brings the content of a session written under another version up to
   * this one, or says why it is rejected. A newer version than this code's
   * is never read (a rollback). From an older one, `migrate` (when given)
   * turns its data into new data, which must be a plain object of values a
   * session can keep and pass the schema.
   */
  upgrade (content: SessionContent, from: number): SessionContent | string {
    if (from > this.version) return `the session was written under version ${from}, newer than this code's ${this.version}`
    let data = content.data
    const migrate = this.#migrate
    if (migrate !== undefined) {
      let result: unknown
      try {
        result = migrate(plainObject(data), from)
        const proto: unknown = result !== null && typeof result === 'object' ? Object.getPrototypeOf(result) : undefined
        if (proto !== Object.prototype && proto !== null) return `migrate returned ${kind(result)} for version ${from}, not a plain object`
        // Read here, in the try: a getter or a Proxy in the result may throw as migrate itself may.
        data = new Map()
        for (const [key, value] of Object.entries(result as object)) if (value !== undefined) data.set(key, value)
      } catch (err) {
        return `migrate threw for version ${from} (${(err as Error).message})`
      }
    }
    const failure = this.failure(data)
    if (failure !== undefined) {
      return migrate === undefined
        ? `the data of version ${from} fails the schema at ${failure}`
        : `the data migrated from version ${from} fails the schema at ${failure}`
    }
    const upgraded = { data, flashes: content.flashes }
    try {
      stringifyContent(upgraded) // a value the session could not save, or a reserved key
    } catch (err) {
      return `the data migrated from version ${from} cannot be kept (${(err as Error).message})`
    }
    return upgraded
  }
}
