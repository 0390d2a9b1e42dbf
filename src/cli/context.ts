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
  /** `info`, `cat`, `tail`, `verify`: the store URL a local directory's tiered log ships to. */
  tier?: string
}
