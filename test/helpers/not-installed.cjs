'use strict'
/**
 * What `require('proxyquire')` and `require('sinon')` get in csrf-protection's
 * own test files when those packages are not installed (see
 * csrf-shipped-preload.cjs): anything used beyond building an unused spy throws.
 */
function notInstalled () {
  throw new Error('this package is not installed: the case that uses it is not run against fastify-typed-session')
}

module.exports = notInstalled
module.exports.spy = () => notInstalled
module.exports.stub = notInstalled
