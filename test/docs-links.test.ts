/**
 * Every relative link of the Markdown files resolves: the file exists, and
 * its anchor is one of the target's headings as GitHub makes them. Links
 * with a scheme (https:, mailto:) are not followed; the `repository`,
 * `homepage` and `bugs` fields of package.json let the registry's page
 * resolve the relative ones.
 */
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import t from 'tap'
import { anchors, brokenLinks, codeBlocks, links, markdownFiles, slug } from './helpers/markdown.js'

const ROOT = resolve(import.meta.dirname, '..')

t.test('every relative link and anchor of the Markdown files resolves', async (t) => {
  const files = markdownFiles(ROOT)
  for (const file of ['README.md', 'BENCHMARKS.md']) t.ok(files.includes(file), `${file} is checked`)
  t.notOk(files.some((file) => /^(?:node_modules|dist|\.tap|coverage|bench\/results)\//.test(file)), 'output and dependencies are not')
  t.same(brokenLinks(ROOT, files), [], 'no broken link (file:line)')
})

t.test('package.json names the repository, its homepage and its issues, so that relative links resolve on the registry', async (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>
  t.match(pkg.repository, { type: 'git', url: /^git\+https:\/\/github\.com\/[\w.-]+\/[\w.-]+\.git$/ })
  t.match(pkg.homepage, /^https:\/\/github\.com\/[\w.-]+\/[\w.-]+#readme$/)
  t.match(pkg.bugs, { url: /^https:\/\/github\.com\/[\w.-]+\/[\w.-]+\/issues$/ })
})

t.test('a heading becomes the anchor GitHub makes of it', async (t) => {
  t.equal(slug('Quick start'), 'quick-start')
  t.equal(slug('Typing your session'), 'typing-your-session')
  t.equal(slug('`app.sessions`: tests without a browser'), 'appsessions-tests-without-a-browser')
  t.equal(slug('RedisStore (ioredis 5 or 6)'), 'redisstore-ioredis-5-or-6')
  t.equal(slug("What's `session.permanent`? Flask's PERMANENT_SESSION_LIFETIME"), 'whats-sessionpermanent-flasks-permanent_session_lifetime')
  t.equal(slug('Cookie or store — which one'), 'cookie-or-store--which-one', 'each space is a hyphen')
  t.equal(slug('[Stores](docs/stores.md) and <code>merge</code>'), 'stores-and-merge', 'a link or a tag renders its text')
  t.equal(slug('Ünïcode 2.0'), 'ünïcode-20')
  t.same([...anchors('# A\n## A\n### A #\n```md\n# A\n```\nA <a id="custom"></a>\n# A-1\n')],
    ['a', 'a-1', 'a-2', 'custom', 'a-1-1'], 'a repeated heading gets -1, -2; code is no heading; an HTML id is an anchor')
  t.same([...anchors('Setext one\n==========\n\nSetext two\n---\n\n- a list item\n---\n\n---\n')],
    ['setext-one', 'setext-two'], 'a line underlined with = or - is a heading; a rule after a list item or a blank line is not')
})

t.test('links are found in text and definitions, not in code', async (t) => {
  const markdown = [
    'See [one](a.md) and ![two](img/b.png "title"), `[no](c.md)`.',
    '```md',
    '[no](d.md)',
    '```',
    '[ref]: <e f.md#x>',
    '    ~~~ts',
    '    const x = 1',
    '    ~~~',
    '<p><a href="g.md#y">g</a> <img src="h.png" alt=""></p>'
  ].join('\n')
  t.same(links(markdown), [{ target: 'a.md', line: 1 }, { target: 'img/b.png', line: 1 }, { target: 'e f.md#x', line: 5 },
    { target: 'g.md#y', line: 9 }, { target: 'h.png', line: 9 }])
  t.same(codeBlocks(markdown), [{ lang: 'md', line: 3, code: '[no](d.md)\n' }, { lang: 'ts', line: 7, code: 'const x = 1\n' }],
    'an indented block loses its indentation')
  t.same(codeBlocks('```ts\nnever closed\n'), [], 'an unclosed block is not a block')
})

t.test('the checker reports a missing file and a missing anchor, with file and line', async (t) => {
  const dir = t.testdir({
    'README.md': [
      '# Title',
      '',
      '## Quick start',
      '',
      '[good](docs/guide.md#the-guide) [self](#quick-start) [dir](docs) [code](lib.ts#L3-L5) [web](https://example.com/x.md#nope)',
      '[missing file](docs/nope.md)',
      '',
      '[missing anchor](docs/guide.md#no-such-heading) [bad line](lib.ts#top)',
      '[missing own anchor](#quick-stop)',
      '[root](/docs/guide.md) [escaped](docs/a%20b.md)',
      '<a href="docs/gone.md">html</a> [malformed](docs/%E0%A4%A.md)'
    ].join('\n'),
    'lib.ts': 'export {}\n',
    docs: { 'guide.md': '# The guide\n\n[up](../README.md#title) [up wrong](../README.md#titles)\n', 'a b.md': '# A\n' }
  })
  t.same(brokenLinks(dir, ['README.md', 'docs/guide.md']), [
    'README.md:6: docs/nope.md: no such file docs/nope.md',
    'README.md:8: docs/guide.md#no-such-heading: no heading of docs/guide.md has the anchor #no-such-heading',
    'README.md:8: lib.ts#top: lib.ts is not Markdown, so its only anchors are lines (#L10)',
    'README.md:9: #quick-stop: no heading of README.md has the anchor #quick-stop',
    'README.md:11: docs/%E0%A4%A.md: not a valid URL',
    'README.md:11: docs/gone.md: no such file docs/gone.md',
    'docs/guide.md:3: ../README.md#titles: no heading of README.md has the anchor #titles'
  ])
  t.same(markdownFiles(dir), ['README.md', 'docs/a b.md', 'docs/guide.md'])
})
