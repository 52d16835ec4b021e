/**
 * Codec micro-benchmarks: `npm run bench:codec [-- --time 1000 --codecs signed]`.
 *
 * For each codec and payload size, with tinybench:
 *   encode = stringify (tagged JSON) + seal (sign or encrypt) → cookie value
 *   decode = open (verify or decrypt) + parse → session content
 * This is the raw codec, without the plugin's cache of verified cookies.
 * A new format is one more row in CODECS. The payloads hold only values
 * that every format keeps exactly (Flask's has no Set, and keeps a date to
 * the second), so that each is checked to round-trip and the formats
 * carry the same data.
 */
import { isDeepStrictEqual, parseArgs } from 'node:util'
import { Bench } from 'tinybench'
import { noble } from '../lib/codecs/cipher.js'
import { encryptedCodec } from '../lib/codecs/encrypted.js'
import { flaskCodec } from '../lib/codecs/flask.js'
import { signedCodec } from '../lib/codecs/signed.js'
import type { CookieCodec } from '../lib/codecs/types.js'
import type { SessionContent } from '../lib/serialize.js'

/** One codec to measure. */
export interface CodecRow {
  name: string
  make: (secrets: readonly Buffer[]) => CookieCodec
}

/**
 * The codecs, one per `format`; the encrypted one twice: on the backend
 * the plugin would choose here (sodium-native when it loads), and on noble,
 * the pure-JS backend used where the addon does not load.
 */
export const CODECS: readonly CodecRow[] = [
  { name: 'signed', make: signedCodec },
  { name: 'encrypted', make: encryptedCodec },
  { name: 'encrypted-noble', make: (secrets) => encryptedCodec(secrets, noble) },
  { name: 'flask', make: flaskCodec }
]

const when = new Date('2025-01-02T03:04:05Z')

function item (i: number): Record<string, unknown> {
  return { sku: `SKU-${10000 + i}`, name: `Item number ${i} with a longer name`, qty: 1 + (i % 4), price: 9.99 + i, added: when }
}

/** Session contents of about 50 B, 500 B and 3 KB once serialized. */
export const PAYLOADS: ReadonlyArray<{ name: string, content: SessionContent }> = [
  {
    name: 'small',
    content: { data: new Map<string, unknown>([['username', 'ada'], ['counter', 42], ['csrf', 'a1b2c3']]), flashes: [] }
  },
  {
    name: 'medium',
    content: {
      data: new Map<string, unknown>([
        ['username', 'ada.lovelace@example.com'],
        ['userId', 1815],
        ['roles', ['admin', 'editor', 'viewer']],
        ['loggedInAt', when],
        ['preferences', { theme: 'dark', language: 'en-GB', timezone: 'Europe/London', pageSize: 50, beta: true }],
        ['recent', ['/reports/2024/q4', '/settings/profile', '/projects/analytical-engine', '/notes/bernoulli']],
        ['csrf', 'c2Vzc2lvbi1jc3JmLXRva2VuLWZvci1iZW5jaA']
      ]),
      flashes: [['message', 'Welcome back, Ada!'], ['info', 'Your report is ready.']]
    }
  },
  {
    name: 'large',
    content: {
      data: new Map<string, unknown>([
        ['username', 'ada.lovelace@example.com'],
        ['userId', 1815],
        ['cart', Array.from({ length: 24 }, (_, i) => item(i))],
        ['tags', ['notes', 'engine', 'bernoulli', 'poetry', 'science']],
        ['csrf', 'c2Vzc2lvbi1jc3JmLXRva2VuLWZvci1iZW5jaA']
      ]),
      flashes: []
    }
  }
]

const SECRETS = [Buffer.from('fastify-typed-session bench key!')]

function microseconds (bench: Bench, name: string): string {
  const result = bench.tasks.find((task) => task.name === name)?.result
  if (result === undefined || !('latency' in result)) return 'failed'
  return `${(result.latency.p50 * 1000).toFixed(2)} (${(result.latency.mean * 1000).toFixed(2)})`
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: { time: { type: 'string', default: '1000' }, codecs: { type: 'string' } },
    strict: true
  })
  const names = values.codecs?.split(',')
  const codecs = CODECS.filter((row) => names === undefined || names.includes(row.name))
  if (codecs.length === 0) throw new Error(`No codec matches ${JSON.stringify(values.codecs)}; expected ${CODECS.map((c) => c.name).join(', ')}`)
  const bench = new Bench({ time: Number(values.time), throws: true })
  const sizes: Array<[string, string, number, number]> = []
  const now = Math.floor(Date.now() / 1000)
  for (const { name, make } of codecs) {
    const codec = make(SECRETS)
    for (const payload of PAYLOADS) {
      const body = codec.stringify(payload.content)
      const value = codec.seal(body, false, now, now)
      const opened = codec.open(value)
      // A codec that does not round-trip would be measured doing the wrong work.
      if (typeof opened === 'string' || !isDeepStrictEqual(codec.parse(opened.body), payload.content)) {
        throw new Error(`The ${name} codec does not round-trip the ${payload.name} payload`)
      }
      sizes.push([name, payload.name, Buffer.byteLength(body), value.length])
      bench.add(`${name} ${payload.name} encode`, () => codec.seal(codec.stringify(payload.content), false, now, now))
      bench.add(`${name} ${payload.name} decode`, () => {
        const envelope = codec.open(value)
        if (typeof envelope === 'string') throw new Error(envelope)
        return codec.parse(envelope.body)
      })
    }
  }
  await bench.run()
  const out = [
    `Node ${process.version}; tinybench, ${values.time} ms per task; median µs per operation (mean in brackets)`,
    '',
    '| codec | payload | body B | cookie value B | encode µs | decode µs |',
    '|---|---|---|---|---|---|'
  ]
  for (const [codec, payload, body, value] of sizes) {
    out.push(`| ${codec} | ${payload} | ${body} | ${value} | ${microseconds(bench, `${codec} ${payload} encode`)} | ${microseconds(bench, `${codec} ${payload} decode`)} |`)
  }
  process.stdout.write(out.join('\n') + '\n')
}

await main()
