/**
 * The log's failure state machine: open → closing → closed, or open/closing → failed → closed.
 * A failed write or fsync fails the log once; every later write gets that same error.
 */
import { channels } from '../diagnostics.js'
import { SeglogError } from '../errors.js'

export type LogStateName = 'open' | 'closing' | 'closed' | 'failed'

export class LogState {
  name: LogStateName = 'open'
  failure: SeglogError | undefined

  constructor(private readonly dir: string, private readonly readOnly: boolean) {}

  get open(): boolean {
    return this.name === 'open'
  }

  /** Failed or closed: nothing more is written. */
  get stopped(): boolean {
    return this.name === 'failed' || this.name === 'closed'
  }

  /**
   * Moves to 'failed' with an ERR_IO naming `file`; returns the error, or undefined when the log
   * had already failed or closed (the caller then has nothing to propagate).
   */
  fail(cause: unknown, file: string): SeglogError | undefined {
    if (this.stopped) return undefined
    // ERR_CONFLICT: a layer above (tiered storage) found that another writer extended this log's remote copy.
    const error = cause instanceof SeglogError && (cause.code === 'ERR_IO' || cause.code === 'ERR_CONFLICT') ? cause : new SeglogError('ERR_IO',
      `a write or fsync failed in ${this.dir} (${(cause as Error)?.message ?? String(cause)}); the log no longer accepts writes. ` +
      'Close it and open it again: recovery keeps every record that was acknowledged as durable',
      { cause, details: { file } })
    this.failure = error
    this.name = 'failed'
    if (channels.failure.hasSubscribers) channels.failure.publish({ dir: this.dir, error })
    return error
  }

  /** Why a write cannot proceed now. */
  unusable(): SeglogError {
    if (this.name === 'failed' && this.failure) return this.failure
    if (this.name === 'open' && this.readOnly) {
      return new SeglogError('ERR_READ_ONLY', `the log in ${this.dir} was opened with { readOnly: true }; open it without readOnly to write`)
    }
    return new SeglogError('ERR_CLOSED', `the log in ${this.dir} is closed; open it again with Log.open()`)
  }

  /** Throws when the log can no longer be read (closed, or failed: its error). */
  checkReadable(): void {
    if (this.name === 'closed') throw this.unusable()
    if (this.name === 'failed' && this.failure) throw this.failure
  }
}
