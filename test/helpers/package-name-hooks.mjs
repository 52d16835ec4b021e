/**
 * A module resolution hook (see package-name.cjs): inside this repository,
 * outside node_modules, the name `fastify-typed-session` is `lib/index.ts`.
 */
const ROOT = new URL('../../', import.meta.url).href
const LIB = new URL('lib/index.ts', ROOT).href

export async function resolve (specifier, context, next) {
  const parent = context.parentURL ?? ''
  if (specifier === 'fastify-typed-session' && parent.startsWith(ROOT) && !parent.includes('/node_modules/')) {
    return { url: LIB, shortCircuit: true }
  }
  return next(specifier, context)
}
