/**
 * The step after `tsc -p tsconfig.build.json`: makes the ESM build in `dist/`
 * loadable from CommonJS, and marks the bin executable.
 *
 * `dist/cjs/` is a CommonJS package scope (its own `package.json`) holding
 * - `index.js`, which loads the ESM entry through `require()` (Node 20.19+
 *   does that) and re-exports each of its exports by name, so one instance
 *   of the plugin runs however it is loaded. The names are written out, with
 *   `__esModule` and `exports.default`, because that is the CommonJS shape
 *   that TypeScript, arethetypeswrong and Node's named-export detection read
 *   as matching an `export default` in the declarations;
 * - a copy of every declaration file of `dist/`, the same text, which
 *   TypeScript reads as CommonJS declarations in this scope: a consumer
 *   compiled with `module: node16` in a CommonJS package gets the types
 *   (the ESM declarations alone give it TS1479).
 */
import { chmodSync, copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

const dist = resolve(import.meta.dirname, '..', 'dist')
const cjs = join(dist, 'cjs')

rmSync(cjs, { recursive: true, force: true })
for (const file of readdirSync(dist, { recursive: true, encoding: 'utf8' })) {
  if (!file.endsWith('.d.ts')) continue
  mkdirSync(dirname(join(cjs, file)), { recursive: true })
  copyFileSync(join(dist, file), join(cjs, file))
}

const names = Object.keys(await import(pathToFileURL(join(dist, 'index.js')).href)).sort()
writeFileSync(join(cjs, 'package.json'), '{ "type": "commonjs" }\n')
writeFileSync(join(cjs, 'index.js'), [
  "'use strict'",
  '// Written by scripts/build-cjs.mjs: the ESM entry, loaded through require().',
  "const entry = require('../index.js')",
  "Object.defineProperty(exports, '__esModule', { value: true })",
  ...names.map((name) => `exports.${name} = entry.${name}`),
  ''
].join('\n'))
chmodSync(join(dist, 'bin.js'), 0o755)
