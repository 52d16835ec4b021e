#!/usr/bin/env node
/**
 * `npx fastify-typed-session secret`: prints a new random key, 32 random
 * bytes as base64url (43 characters), for the `secret` option.
 */
import { randomBytes } from 'node:crypto'
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const USAGE = `Usage: fastify-typed-session secret

Prints a new random key (32 random bytes, base64url) for the secret option,
for example: SESSION_SECRET=$(npx fastify-typed-session secret)`

/** Runs the command line; returns the exit code. */
export function main (args: readonly string[], out: (line: string) => void, err: (line: string) => void): number {
  if (args.length === 1 && args[0] === 'secret') {
    out(randomBytes(32).toString('base64url'))
    return 0
  }
  if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
    out(USAGE)
    return 0
  }
  err(USAGE)
  return 2
}

/* c8 ignore next 3 - the entry point, run by the bin test in a child process */
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2), console.log, console.error)
}
