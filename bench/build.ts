/**
 * Compiles `lib/` and `bench/` to plain JavaScript under
 * `bench/results/build-<pid>/`, keeping their relative layout, so that the
 * servers run as precompiled JS: no TypeScript loader, no loader thread,
 * no source maps in the measured processes. It is also a snapshot, so a
 * file edited during a run does not change a server between rounds.
 *
 * Each file is compiled on its own (`transpileModule`), as tsc would emit
 * it with the project's target and `verbatimModuleSyntax`; type checking
 * is `npm run typecheck`'s job. The directory is the harness's own (several
 * runs may share the repository) and is removed when the run ends.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

/** The repository's root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
/** Where the compiled files go (git-ignored, with the results; inside the repository, so `node_modules` resolves). */
export const BUILD_DIR = join(ROOT, 'bench', 'results', `build-${process.pid}`)

function sources (dir: string): string[] {
  const files: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (entry.name !== 'results') files.push(...sources(path))
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
      files.push(path)
    }
  }
  return files
}

/** Compiles the files and returns the path of the compiled server. */
export function buildServer (): string {
  rmSync(BUILD_DIR, { recursive: true, force: true })
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    verbatimModuleSyntax: true,
    sourceMap: false
  }
  for (const file of [...sources(join(ROOT, 'lib')), ...sources(join(ROOT, 'bench'))]) {
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), { compilerOptions: options, fileName: file })
    const out = join(BUILD_DIR, relative(ROOT, file)).replace(/\.ts$/, '.js')
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, outputText)
  }
  return join(BUILD_DIR, 'bench', 'server.js')
}

/** Removes the compiled files. */
export function removeBuild (): void {
  rmSync(BUILD_DIR, { recursive: true, force: true })
}
