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
  /**
   * What the operation needs does not exist yet (a read-only open of a log directory nobody has
   * created). Not a programming error: retry once a writer has created it, or create it first.
   */
  | 'ERR_NOT_FOUND'
  /** An argument has the wrong type or value. */
  | 'ERR_INVALID_ARGUMENT'
  /** A write was attempted on a log or journal opened with `readOnly: true`. */
  | 'ERR_READ_ONLY'
  /**
   * `truncate()` removed records an open iterator had already handed out; start a new iterator
   * from the offset named in `details.truncatedAt`.
   */
  | 'ERR_TRUNCATED'
  /**
   * A call that cannot wait (`appendNoWait`, `readSync`) found an exclusive operation (truncate,
   * deleteBefore, a roll for tiered storage) running, or (`readSync` on a read-only handle) a
   * reload after the writer truncated; it changed and read nothing. Await that operation, or use
   * the waiting form (`append`, `read`), and call again.
   */
  | 'ERR_BUSY'

/** Facts any error may carry. */
export interface SeglogErrorDetails {
  /** The file (or object key) involved. */
  file?: string
  /** Byte position within {@link file}. */
  position?: number
  /** The offset involved. */
  offset?: number
  [key: string]: unknown
}

/**
 * The details each code carries, on top of {@link SeglogErrorDetails}. Narrow with
 * `isSeglogError(err, 'ERR_LOCKED')` to get `err.details.pid` typed as a number.
 */
export interface SeglogErrorDetailsByCode {
  ERR_CLOSED: SeglogErrorDetails
  /** `pid`/`host` of the holder when `LOCK` names one; `file` is the lock file. */
  ERR_LOCKED: SeglogErrorDetails & { pid?: number; host?: string }
  ERR_RECORD_TOO_LARGE: SeglogErrorDetails & { bytes?: number; limit?: number; index?: number }
  /** `file` and byte `position` of the damage; `kind` names what was damaged (index, gaps …). */
  ERR_CORRUPT: SeglogErrorDetails & { kind?: string }
  /** `version`: the format version found, when one was read. */
  ERR_FORMAT_VERSION: SeglogErrorDetails & { version?: number }
  ERR_OFFSET_OUT_OF_RANGE: SeglogErrorDetails
  /** The lost range `[from, to)` and the `offset` asked for. */
  ERR_OFFSET_LOST: SeglogErrorDetails & { from?: number; to?: number }
  ERR_IO: SeglogErrorDetails
  /** A tiered log fenced at open: `localEnd` (the local log's end) and `remoteEnd` (the store's). */
  ERR_CONFLICT: SeglogErrorDetails & { localEnd?: number; remoteEnd?: number }
  /** HTTP `status` when the store answered, whether the failure was `transient`, the `op` and `attempts`. */
  ERR_STORE: SeglogErrorDetails & { status?: number; transient?: boolean; op?: string; attempts?: number }
  ERR_NOT_FOUND: SeglogErrorDetails
  /** `option`: the dotted name of the option refused, when an option was. */
  ERR_INVALID_ARGUMENT: SeglogErrorDetails & { option?: string }
  ERR_READ_ONLY: SeglogErrorDetails
  /** The offset the iterator must restart from. */
  ERR_TRUNCATED: SeglogErrorDetails & { truncatedAt?: number }
  ERR_BUSY: SeglogErrorDetails
}

/** The details of an error with code `C`. */
export type SeglogErrorDetailsFor<C extends SeglogErrorCode> = SeglogErrorDetailsByCode[C]

/**
 * The structured-clone-safe form of a {@link SeglogError} (see {@link SeglogError.toJSON}): what to
 * send through `postMessage`, which drops an Error's name, code and details.
 */
export interface SeglogErrorData<C extends SeglogErrorCode = SeglogErrorCode> {
  name: 'SeglogError'
  code: C
  message: string
  details: SeglogErrorDetailsFor<C>
}

/**
 * Marks a SeglogError from any installed copy of seglog: `Symbol.for` gives every copy (and every
 * realm) the same symbol, where `instanceof` only knows one copy's class.
 */
const BRAND = Symbol.for('seglog.SeglogError')

const CODE_SHAPE = /^ERR_[A-Z_]+$/

/** The one error class seglog throws for conditions a caller can handle. */
export class SeglogError<C extends SeglogErrorCode = SeglogErrorCode> extends Error {
  /** Stable machine-readable code. */
  readonly code: C
  /** Facts about the failure, typed per code (see {@link SeglogErrorDetailsByCode}). */
  readonly details: SeglogErrorDetailsFor<C>

  constructor(code: C, message: string, options?: { cause?: unknown; details?: SeglogErrorDetailsFor<C> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'SeglogError'
    this.code = code
    this.details = options?.details ?? ({} as SeglogErrorDetailsFor<C>)
  }

  /**
   * The error as plain data (`name`, `code`, `message`, `details`) that survives `postMessage`,
   * structured cloning and `JSON.stringify`; {@link SeglogError.from} turns it back into an error.
   * The cause and stack are left out: they may hold values that cannot be cloned.
   */
  toJSON(): SeglogErrorData<C> {
    return { name: 'SeglogError', code: this.code, message: this.message, details: this.details }
  }

  /**
   * Rebuilds a SeglogError from {@link SeglogError.toJSON} output received from another thread or
   * process (or returns an error that already is one); undefined for anything else.
   */
  static from(value: unknown): SeglogError | undefined {
    if (isSeglogError(value)) return value
    if (typeof value !== 'object' || value === null) return undefined
    const v = value as Partial<Record<keyof SeglogErrorData, unknown>>
    if (v.name !== 'SeglogError' || typeof v.code !== 'string' || !CODE_SHAPE.test(v.code) || typeof v.message !== 'string') return undefined
    const details = typeof v.details === 'object' && v.details !== null ? { ...(v.details as SeglogErrorDetails) } : {}
    return new SeglogError(v.code as SeglogErrorCode, v.message, { details })
  }
}

// On the prototype, not in the class's declared type: two copies' SeglogError types stay
// structurally identical, and every instance (clones excepted) carries the brand.
Object.defineProperty(SeglogError.prototype, BRAND, { value: true, enumerable: false })

/**
 * True when `err` is a {@link SeglogError}, optionally with the given code (which narrows
 * `err.details`). Recognises errors from another installed copy of seglog (by a `Symbol.for`
 * brand, or by `name === 'SeglogError'` and an `ERR_*` code on an Error). A SeglogError sent
 * through `postMessage` arrives as a plain Error without name, code or details, which nothing can
 * recognise: send `err.toJSON()` and call {@link SeglogError.from} on the other side.
 */
export function isSeglogError<C extends SeglogErrorCode = SeglogErrorCode>(err: unknown, code?: C): err is SeglogError<C> {
  if (err instanceof SeglogError) return code === undefined || err.code === code
  if (typeof err !== 'object' || err === null) return false
  if (!(err instanceof Error) && Object.prototype.toString.call(err) !== '[object Error]') return false
  const e = err as { name?: unknown; code?: unknown } & Record<symbol, unknown>
  const shaped = e[BRAND] === true || (e.name === 'SeglogError' && typeof e.code === 'string' && CODE_SHAPE.test(e.code))
  return shaped && (code === undefined || e.code === code)
}

/** Shorthand used across modules for argument validation failures. */
export function invalidArgument(message: string): SeglogError<'ERR_INVALID_ARGUMENT'> {
  return new SeglogError('ERR_INVALID_ARGUMENT', message)
}
