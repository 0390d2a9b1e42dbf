/**
 * Every failure a caller can act on is a {@link SeglogError} with a stable {@link SeglogErrorCode}.
 * Codes never change meaning between releases; messages may be reworded.
 */
export type SeglogErrorCode =
  /** The log or journal was closed; open it again. */
  | 'ERR_CLOSED'
  /** Another process (or another open handle in this process) holds the write lock. */
  | 'ERR_LOCKED'
  /** A record (or batch) exceeds the configured size limit; nothing was written. */
  | 'ERR_RECORD_TOO_LARGE'
  /** Stored bytes fail their checksum or structure; the message names the file and byte. */
  | 'ERR_CORRUPT'
  /** The data was written by a newer format version than this release reads. */
  | 'ERR_FORMAT_VERSION'
  /** An offset outside the range the operation accepts. */
  | 'ERR_OFFSET_OUT_OF_RANGE'
  /**
   * The offset was lost to damage that a repair cut out; `details.from`/`details.to` give the lost
   * range `[from, to)`. Records outside it are intact.
   */
  | 'ERR_OFFSET_LOST'
  /** A write or fsync failed; the log is failed and must be reopened to recover from disk. */
  | 'ERR_IO'
  /** An object-store precondition failed (the object exists, or changed underneath us). */
  | 'ERR_CONFLICT'
  /** The object store stayed unreachable or failing after every retry. */
  | 'ERR_STORE'
  /** An argument has the wrong type or value. */
  | 'ERR_INVALID_ARGUMENT'
  /** A write was attempted on a log or journal opened with `readOnly: true`. */
  | 'ERR_READ_ONLY'
  /**
   * `truncate()` removed records an open iterator had already handed out; start a new iterator
   * from the offset named in `details.truncatedAt`.
   */
  | 'ERR_TRUNCATED'

/** Extra, machine-readable facts attached to an error (file and byte for corruption, etc.). */
export interface SeglogErrorDetails {
  /** The file (or object key) involved. */
  file?: string
  /** Byte position within {@link file}. */
  position?: number
  /** The offset involved. */
  offset?: number
  [key: string]: unknown
}

/** The one error class seglog throws for conditions a caller can handle. */
export class SeglogError extends Error {
  /** Stable machine-readable code. */
  readonly code: SeglogErrorCode
  /** Facts about the failure (file, position, offset …). */
  readonly details: SeglogErrorDetails

  constructor(code: SeglogErrorCode, message: string, options?: { cause?: unknown; details?: SeglogErrorDetails }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'SeglogError'
    this.code = code
    this.details = options?.details ?? {}
  }
}

/** True when `err` is a {@link SeglogError}, optionally with the given code. */
export function isSeglogError(err: unknown, code?: SeglogErrorCode): err is SeglogError {
  return err instanceof SeglogError && (code === undefined || err.code === code)
}

/** Shorthand used across modules for argument validation failures. */
export function invalidArgument(message: string): SeglogError {
  return new SeglogError('ERR_INVALID_ARGUMENT', message)
}
