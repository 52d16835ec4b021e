/**
 * Type-checks the TypeScript blocks of Markdown texts with the real `tsc`
 * and this repository's tsconfig.json (strict options, and the `paths` entry
 * that makes `fastify-typed-session` this repository's `lib/`).
 *
 * Each block becomes a module of its own (`export {}` is added to a block
 * with no import or export, so top-level `await` works). The blocks of one
 * Markdown file form one project, so the `SessionData` keys that one block
 * declares serve the blocks after it, as a reader reads them; the files are
 * separate projects, checked in one `tsc --build` run.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative, resolve, sep } from 'node:path'
import { codeBlocks } from './markdown.js'

const ROOT = resolve(import.meta.dirname, '..', '..')
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
// tsc runs outside tap's process tracking and coverage: it is none of this repository's code.
const ENV = Object.fromEntries(Object.entries(process.env)
  .filter(([name]) => !/^(?:_TAPJS_|NODE_V8_COVERAGE$|NODE_OPTIONS$)/.test(name)))

/** A Markdown text to check: its name (for the report) and its content. */
export interface Doc { file: string, markdown: string }

/** The result of a check: how many blocks were checked, and each error as `file:line:column: TSnnnn message`. */
export interface BlockCheck { blocks: number, errors: string[] }

/** Whether a code block is TypeScript. */
export function isTypeScript (lang: string): boolean {
  return lang === 'ts' || lang === 'typescript'
}

/** Type-checks the TypeScript blocks of `docs`, in a temporary folder under test-artifacts/ (so that node_modules applies). */
export function typecheckBlocks (docs: Doc[]): BlockCheck {
  mkdirSync(join(ROOT, 'test-artifacts'), { recursive: true })
  const work = mkdtempSync(join(ROOT, 'test-artifacts', 'docs-code-'))
  try {
    /** Where each block file came from: the Markdown file, and the line its code starts on. */
    const origin = new Map<string, { file: string, line: number }>()
    const projects: string[] = []
    docs.forEach((doc, d) => {
      const blocks = codeBlocks(doc.markdown).filter((b) => isTypeScript(b.lang))
      if (blocks.length === 0) return
      const dir = join(work, `doc-${d}`)
      mkdirSync(dir)
      const names = blocks.map((block, b) => {
        const name = `block-${b + 1}.ts`
        const module = /^\s*(?:import|export)\b/m.test(block.code) ? '' : '\nexport {}\n'
        writeFileSync(join(dir, name), block.code + module)
        origin.set(relative(ROOT, join(dir, name)).split(sep).join('/'), { file: doc.file, line: block.line })
        return name
      })
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
        extends: relative(dir, join(ROOT, 'tsconfig.json')).split(sep).join('/'),
        compilerOptions: { noEmit: true, declaration: false, declarationMap: false, sourceMap: false },
        files: names,
        include: []
      }, null, 2))
      projects.push(dir)
    })
    if (projects.length === 0) return { blocks: 0, errors: [] }
    const run = spawnSync(process.execPath, [TSC, '--build', '--pretty', 'false', ...projects], { cwd: ROOT, encoding: 'utf8', env: ENV })
    const errors: string[] = []
    let last: string | undefined
    for (const text of run.stdout.split('\n')) {
      const diagnostic = /^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/.exec(text)
      if (diagnostic !== null) {
        const from = origin.get((diagnostic[1] as string).split(sep).join('/'))
        const where = from === undefined
          ? `${diagnostic[1] as string}:${diagnostic[2] as string}:${diagnostic[3] as string}`
          : `${from.file}:${from.line + Number(diagnostic[2]) - 1}:${diagnostic[3] as string}`
        last = `${where}: ${diagnostic[4] as string} ${diagnostic[5] as string}`
        errors.push(last)
      } else if (text.startsWith('  ') && last !== undefined) {
        errors[errors.length - 1] += `\n${text}` // the rest of a message on several lines
      } else if (text.trim() !== '') {
        errors.push(text) // an error with no position, from tsc or its configuration
        last = undefined
      }
    }
    if (run.status !== 0 && errors.length === 0) errors.push(`tsc exited with ${String(run.status)}: ${run.stderr}`)
    return { blocks: origin.size, errors }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}
