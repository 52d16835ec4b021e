'use strict'
/**
 * Makes `import ... from 'fastify-typed-session'` load this repository's
 * `lib/index.ts` under tap, as `tsc` and tsx already do through the `paths`
 * entry of tsconfig.json. The examples and the README's code import the
 * package by its name; without this, Node would resolve that name to the
 * package's own `exports`, which point at `dist/`: absent from a fresh clone,
 * and rebuilt under the tests by test/bin.test.ts.
 *
 * tap runs TypeScript through ts-node, which ignores `paths`, but preloads the
 * modules listed in the `ts-node.require` entry of tsconfig.json: this is one.
 * It registers the hook of package-name-hooks.mjs. ts-node resolves bare names
 * itself, without asking the hooks registered before its own, so this one is
 * registered just after: on the microtask that follows ts-node's registration.
 * ts-node preloads this module in its hooks thread too, where it does nothing.
 */
const { register } = require('node:module')
const { pathToFileURL } = require('node:url')
const { join } = require('node:path')
const { isMainThread } = require('node:worker_threads')

if (isMainThread) {
  const hooks = pathToFileURL(join(__dirname, 'package-name-hooks.mjs'))
  queueMicrotask(() => register(hooks))
}
