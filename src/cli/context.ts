/** What every command gets from the entry point. */
import type { Output } from './ui.js'
import type { StoreOptions } from './target.js'

/** Per-run state shared by the commands. */
export interface CommandContext {
  /** Aborted on the first Ctrl-C (SIGINT) or SIGTERM. */
  signal: AbortSignal
  /** Data output (stdout). */
  out: Output
}

/** Options every TARGET-taking command accepts (see {@link StoreOptions}). */
export interface TargetOptions extends StoreOptions {
  json?: boolean
}

/** Parses a non-negative safe integer option value, or throws a message commander reports. */
export function parseCount(value: string, name: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be a non-negative integer, got "${value}"`)
  return n
}
