'use strict'
/**
 * Preloaded (`node --require`) into `@fastify/csrf-protection`'s own test
 * files: `require('@fastify/secure-session')` gets the shim that registers
 * this plugin (secure-session-shim.cjs). The files also load `proxyquire` and
 * `sinon`, which this project does not install: only the cookie-mode cases
 * use them, and test/csrf-protection.test.ts does not run those cases, so
 * when they are missing their require gets a module that throws if used
 * (sinon's `spy()` only builds the spy logger at load, and stays unused).
 * They make their key with `sodium-native`, an optional dependency here:
 * when it is missing, node:crypto makes the key (random-key.cjs).
 */
const Module = require('node:module')
const path = require('node:path')

const redirects = new Map([['@fastify/secure-session', path.join(__dirname, 'secure-session-shim.cjs')]])
const standIns = [['proxyquire', 'not-installed.cjs'], ['sinon', 'not-installed.cjs'], ['sodium-native', 'random-key.cjs']]
for (const [name, file] of standIns) {
  try {
    require.resolve(name)
  } catch {
    redirects.set(name, path.join(__dirname, file))
  }
}

const resolveFilename = Module._resolveFilename
Module._resolveFilename = function (request, ...rest) {
  return resolveFilename.call(this, redirects.get(request) ?? request, ...rest)
}
