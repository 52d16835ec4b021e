/**
 * The TypeScript blocks of the Markdown files compile, with the project's
 * strict options and `fastify-typed-session` resolved to this repository's
 * `lib/`; and the README's quick start is example/minimal.ts, byte for byte.
 *
 * Each block is a module of its own: it imports or declares what it uses
 * (`app`, `request`...). The blocks of one Markdown file share only their
 * `declare module` augmentations, so a block can use the `SessionData` keys
 * that a block above it declares. A block that shows a mistake on purpose
 * marks it with `// @ts-expect-error`.
 */
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import t from 'tap'
import { isTypeScript, typecheckBlocks } from './helpers/code-blocks.js'
import { codeBlocks, markdownFiles } from './helpers/markdown.js'

const ROOT = resolve(import.meta.dirname, '..')

// One tsc run over every block: about ten seconds on a busy machine.
t.setTimeout(300_000)

t.test('every TypeScript block of the Markdown files compiles', async (t) => {
  const files = markdownFiles(ROOT)
  t.ok(files.includes('README.md'))
  const { blocks, errors } = typecheckBlocks(files.map((file) => ({ file, markdown: readFileSync(join(ROOT, file), 'utf8') })))
  t.ok(blocks > 0, `${blocks} blocks checked`)
  t.same(errors, [], 'no block has a compile error (file:line:column)')
})

t.test('the checker reports a block that does not compile, at its line in its Markdown file', async (t) => {
  const first = [
    '# One',
    '',
    '```ts',
    "import typedSession from 'fastify-typed-session'",
    "declare module 'fastify-typed-session' { interface SessionData { shown: number } }",
    'export const plugin = typedSession',
    '```',
    '',
    'A block without imports is a module too, so top-level await works:',
    '',
    '```typescript',
    'await Promise.resolve()',
    '```',
    '',
    '```ts',
    "import Fastify from 'fastify'",
    'const app = Fastify()',
    "app.get('/', async (request) => request.session.get('shown', 0) + 1) // declared by the block above",
    "app.get('/bad', async (request) => { request.session.set('shown', 'zero') })",
    '```',
    '',
    '```js',
    'const notChecked = = 1',
    '```'
  ].join('\n')
  const second = [
    '~~~ts',
    "import Fastify from 'fastify'",
    "import 'fastify-typed-session'",
    'const app = Fastify()',
    "app.get('/', async (request) => request.session.get('shown')) // not declared in this file",
    '~~~'
  ].join('\n')
  const { blocks, errors } = typecheckBlocks([{ file: 'one.md', markdown: first }, { file: 'two.md', markdown: second }])
  t.equal(blocks, 4, 'the ts and typescript blocks, not the js one')
  t.equal(errors.length, 2, errors.join('\n'))
  t.match(errors[0], /^one\.md:19:\d+: TS\d+ /, 'a wrong value type, at its line')
  t.match(errors[1], /^two\.md:5:\d+: TS\d+ .*"shown"/, "another file's SessionData keys do not leak in")
})

t.test("the README's quick start is example/minimal.ts, byte for byte", async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const lines = readme.split('\n')
  const start = lines.findIndex((line) => /^## Quick start\s*$/.test(line)) + 1
  t.ok(start > 0, 'the README has a "## Quick start" section')
  const next = lines.findIndex((line, i) => i >= start && /^## /.test(line))
  const end = next === -1 ? lines.length + 1 : next + 1
  const block = codeBlocks(readme).find((b) => isTypeScript(b.lang) && b.line > start && b.line < end)
  t.ok(block, 'the section has a TypeScript block')
  t.equal(block?.code, readFileSync(join(ROOT, 'example', 'minimal.ts'), 'utf8'))
})
