/**
 * A real browser for tests: Debian's Chromium (`/usr/bin/chromium`), driven
 * by playwright-core, headless, with a fresh profile in a temp directory
 * that is removed when the test ends. Nothing is ever downloaded:
 * playwright-core has no browser of its own, and it is given this one.
 *
 * Without the binary (Debian's `chromium` package), a test that uses
 * `needsChromium` is skipped, and under CI (`CI=true`) it fails instead.
 */
import { accessSync, constants } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'

/** The part of a tap test that the helper uses. */
interface TestLike {
  teardown: (fn: () => Promise<void>) => void
}

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM = '/usr/bin/chromium'

function installed (): boolean {
  try {
    accessSync(CHROMIUM, constants.X_OK)
    return true
  } catch {
    return false
  }
}

const FOUND = installed()
const MISSING = `Chromium is not installed at ${CHROMIUM}: install the Debian package chromium (apt-get install chromium)`

/**
 * The options of a test that needs Chromium: skipped when it is missing,
 * except under CI, where `launchBrowser` then fails the test.
 */
export const needsChromium: { skip: string | false } = {
  skip: !FOUND && process.env.CI !== 'true' ? MISSING : false
}

/** The flags of the issue: quiet, headless-friendly, and nothing fetched in the background. */
export const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run'
]

/**
 * Launches headless Chromium with a fresh profile (`--user-data-dir`, which
 * playwright takes as the persistent context's directory). The browser is
 * closed, and its profile removed, when the test ends.
 */
export async function launchBrowser (t: TestLike): Promise<BrowserContext> {
  if (!FOUND) throw new Error(MISSING)
  const profile = await mkdtemp(join(tmpdir(), 'chromium-test-'))
  let context: BrowserContext
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      timeout: 60_000
    })
  } catch (err) {
    await rm(profile, { recursive: true, force: true })
    throw err
  }
  t.teardown(async () => {
    await context.close()
    await rm(profile, { recursive: true, force: true })
  })
  return context
}
