/**
 * Just enough Markdown for the documentation tests: the Markdown files of the
 * repository, their fenced code blocks, their headings as GitHub's anchors,
 * and a check of their relative links (test/docs-links.test.ts, and
 * test/docs-code.test.ts for the blocks).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'

/** The folders that hold no documentation of ours: dependencies, build and test output. */
const SKIPPED = new Set(['node_modules', 'dist', '.tap', 'coverage', '.git', 'scratch', 'test-artifacts', join('bench', 'results')])

/** Every Markdown file under `root`, as a path relative to it with `/` separators, sorted. */
export function markdownFiles (root: string): string[] {
  const found: string[] = []
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = dir === '' ? entry.name : join(dir, entry.name)
      if (entry.isDirectory()) {
        if (!SKIPPED.has(path) && !SKIPPED.has(entry.name)) walk(path)
      } else if (entry.name.endsWith('.md')) {
        found.push(path.split(sep).join('/'))
      }
    }
  }
  walk('')
  return found.sort()
}

/** A Markdown line, with whether it is inside a fenced code block (the fences included). */
interface Line { text: string, number: number, code: boolean }

/** A fenced code block: its language, the line of its first line of code (1-based), and its code. */
export interface CodeBlock { lang: string, line: number, code: string }

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/

/** Splits Markdown into lines, marking those inside fenced code blocks; the code blocks too. */
function scan (markdown: string): { lines: Line[], blocks: CodeBlock[] } {
  const lines: Line[] = []
  const blocks: CodeBlock[] = []
  let open: { indent: number, fence: string, block: CodeBlock, body: string[] } | undefined
  markdown.split('\n').forEach((raw, index) => {
    const text = raw.replace(/\r$/, '')
    const number = index + 1
    if (open === undefined) {
      const fence = FENCE.exec(text)
      if (fence !== null) {
        const block = { lang: (fence[3] as string).toLowerCase(), line: number + 1, code: '' }
        open = { indent: (fence[1] as string).length, fence: fence[2] as string, block, body: [] }
      }
      lines.push({ text, number, code: open !== undefined })
      return
    }
    lines.push({ text, number, code: true })
    const close = /^\s*(`{3,}|~{3,})\s*$/.exec(text)
    if (close !== null && (close[1] as string)[0] === open.fence[0] && (close[1] as string).length >= open.fence.length) {
      open.block.code = open.body.map((l) => l + '\n').join('')
      blocks.push(open.block)
      open = undefined
      return
    }
    // A block indented in a list: its lines lose the fence's indentation.
    const indent = /^ */.exec(text)?.[0].length ?? 0
    open.body.push(text.slice(Math.min(indent, open.indent)))
  })
  return { lines, blocks }
}

/** The fenced code blocks of a Markdown text, in order (an unclosed block is dropped). */
export function codeBlocks (markdown: string): CodeBlock[] {
  return scan(markdown).blocks
}

/**
 * A heading's anchor as GitHub makes it: the text as it renders, lower-cased,
 * without the characters other than letters, digits, spaces, `-` and `_`,
 * with each space made a `-`.
 */
export function slug (heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link or image renders its text
    .replace(/<[^>]*>/g, '') // inline HTML renders no tag
  return text.trim().toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-')
}

/** The text of a heading line: `# Text`, or a line of text underlined with `===` or `---`. */
function headingText (line: Line, previous: Line | undefined): string | undefined {
  const atx = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line.text)
  if (atx !== null) return atx[1] as string
  const underlined = /^ {0,3}(?:=+|-+)\s*$/.test(line.text) && previous !== undefined && !previous.code
  return underlined && /^ {0,3}[^\s#>*+|-]/.test(previous.text) ? previous.text.trim() : undefined
}

/** The anchors of a Markdown text: its headings' slugs (a repeated one gets -1, -2...), and HTML ids and names. */
export function anchors (markdown: string): Set<string> {
  const found = new Set<string>()
  const occurrences = new Map<string, number>()
  const lines = scan(markdown).lines
  lines.forEach((line, i) => {
    if (line.code) return
    const heading = headingText(line, lines[i - 1])
    if (heading !== undefined) {
      const base = slug(heading)
      let name = base
      while (occurrences.has(name)) {
        const n = (occurrences.get(base) as number) + 1
        occurrences.set(base, n)
        name = `${base}-${n}`
      }
      occurrences.set(name, 0)
      found.add(name)
    }
    for (const html of line.text.matchAll(/<[a-z][^>]*\s(?:id|name)="([^"]+)"/gi)) found.add(html[1] as string)
  })
  return found
}

/** A link of a Markdown text: its destination and line (1-based). */
export interface Link { target: string, line: number }

/** The inline links and images, link definitions and HTML links and images of a Markdown text, outside code. */
export function links (markdown: string): Link[] {
  const found: Link[] = []
  for (const line of scan(markdown).lines) {
    if (line.code) continue
    const text = line.text.replace(/(`+)[^`]*?\1/g, '') // code spans hold no links
    for (const m of text.matchAll(/\]\(\s*(<[^>]*>|[^\s)]+)(?:\s+"[^"]*")?\s*\)/g)) {
      found.push({ target: (m[1] as string).replace(/^<(.*)>$/, '$1'), line: line.number })
    }
    for (const m of text.matchAll(/<(?:a|img)\s[^>]*\b(?:href|src)="([^"]+)"/gi)) found.push({ target: m[1] as string, line: line.number })
    const definition = /^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/.exec(text)
    if (definition !== null) found.push({ target: (definition[1] as string).replace(/^<(.*)>$/, '$1'), line: line.number })
  }
  return found
}

/**
 * The broken relative links of Markdown files under `root`, as
 * `file:line: message`: a target that does not exist, or an anchor that no
 * heading of the target makes. Links with a scheme (`https:`, `mailto:`) are
 * not followed. An anchor into a file other than Markdown must be a line
 * (`#L10` or `#L10-L20`), as GitHub shows source files.
 */
export function brokenLinks (root: string, files: string[]): string[] {
  const problems: string[] = []
  const anchorCache = new Map<string, Set<string>>()
  const anchorsOf = (path: string): Set<string> => {
    let set = anchorCache.get(path)
    if (set === undefined) {
      set = anchors(readFileSync(path, 'utf8'))
      anchorCache.set(path, set)
    }
    return set
  }
  for (const file of files) {
    const source = resolve(root, file)
    for (const { target, line } of links(readFileSync(source, 'utf8'))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue
      const where = `${file}:${line}`
      const hash = target.indexOf('#')
      let pathPart: string
      let anchor: string | undefined
      try {
        pathPart = decodeURI(hash === -1 ? target : target.slice(0, hash))
        anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1))
      } catch {
        problems.push(`${where}: ${target}: not a valid URL`)
        continue
      }
      const path = pathPart === ''
        ? source
        : pathPart.startsWith('/') ? join(root, pathPart) : resolve(dirname(source), pathPart)
      const shown = relative(root, path).split(sep).join('/')
      if (!existsSync(path)) {
        problems.push(`${where}: ${target}: no such file ${shown}`)
      } else if (anchor !== undefined) {
        if (statSync(path).isDirectory() || !path.endsWith('.md')) {
          if (!/^L\d+(?:-L\d+)?$/.test(anchor)) problems.push(`${where}: ${target}: ${shown} is not Markdown, so its only anchors are lines (#L10)`)
        } else if (!anchorsOf(path).has(anchor)) {
          problems.push(`${where}: ${target}: no heading of ${shown} has the anchor #${anchor}`)
        }
      }
    }
  }
  return problems
}
