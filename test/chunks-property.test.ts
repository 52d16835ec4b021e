/**
 * Property: any session that fits in maxChunks cookies round-trips through
 * the chunked cookies, whatever its size, in both formats; one that does
 * not fit is refused with the number of cookies it would need, and that
 * number is what an app allowing 10 cookies uses for it.
 */
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import t from 'tap'
import { chunkApp, cookieHeader, next, noise, parsed } from './helpers/chunks.js'

for (const format of ['signed', 'encrypted'] as const) {
  t.test(`${format}: a session of any size round-trips through up to maxChunks cookies, or is refused saying how many it needs`, async (t) => {
    const apps = new Map([2, 4, 10].map((n) => [n, chunkApp({ format, maxChunks: n })]))
    t.teardown(async () => { for (const app of apps.values()) await (await app).close() })
    const counts = new Set<number>()
    let refused = 0
    await fc.assert(fc.asyncProperty(
      fc.nat({ max: 30000 }), fc.integer(), fc.string({ unit: 'binary', maxLength: 200 }), fc.array(fc.integer()), fc.boolean(), fc.constantFrom(2, 4),
      async (size, seed, text, list, permanent, maxChunks) => {
        next.data = { username: noise(size, String(seed)) + text, value: list }
        next.permanent = permanent
        const reference = await (await apps.get(10))!.inject('/set')
        const app = await apps.get(maxChunks)!
        const res = await app.inject('/set')
        const needed = reference.statusCode === 200 ? parsed(reference).length : 11
        if (needed > maxChunks) {
          refused++
          return res.statusCode === 500 && parsed(res).length === 0 &&
            (needed === 11 || res.json().message.includes(`it would need ${needed} cookies, more than maxChunks (${maxChunks})`))
        }
        const cookies = parsed(res)
        counts.add(cookies.length)
        const names = cookies.map((c) => c.name)
        const expected = Array.from({ length: cookies.length }, (_, i) => i === 0 ? 'session' : `session.${i}`)
        if (res.statusCode !== 200 || cookies.length !== needed || !isDeepStrictEqual(names, expected)) return false
        if (!cookies.every((c) => c.header.length <= 4093 && c.attributes === cookies[0]?.attributes)) return false
        const get = await app.inject({ url: '/get', headers: { cookie: cookieHeader(res) } })
        return isDeepStrictEqual(get.json(), { new: false, data: next.data })
      }), { numRuns: 80 })
    t.ok(counts.has(1) && counts.has(2) && counts.has(4), `one, two and four cookies were tried (${[...counts].sort().join(', ')})`)
    t.ok(refused > 0, `${refused} sessions too large were refused`)
  })
}
