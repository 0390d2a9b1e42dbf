/**
 * Checks a record handed to `append`/`appendBatch` before the log changes any state (rule 20):
 * a bad record must reject its own call and leave every record before and after intact.
 */
import { invalidArgument, SeglogError } from './errors.js'
import { BATCH_HEADER_BYTES, RECORD_HEADER_BYTES } from './format/index.js'

const EMPTY = new Uint8Array(0)
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * True when `view` cannot be read: its ArrayBuffer was transferred (detached) or shrunk under it.
 * Such a view reports 0 bytes, and copying from it throws; `set` is the very call that would.
 */
export function isUnreadable(view: Uint8Array): boolean {
  if (view.byteLength !== 0) return false
  try {
    EMPTY.set(view)
    return false
  } catch {
    return true
  }
}

function hasLoneSurrogate(text: string): boolean {
  const wellFormed = (text as string & { isWellFormed?: () => boolean }).isWellFormed
  return wellFormed ? !wellFormed.call(text) : LONE_SURROGATE.test(text)
}

/** Why `data` cannot be a record (`what` names it in the message), or undefined when it can. */
export function recordInputError(data: unknown, what: string): SeglogError | undefined {
  if (typeof data === 'string') {
    if (!hasLoneSurrogate(data)) return undefined
    const at = LONE_SURROGATE.exec(data)?.index ?? 0
    return invalidArgument(`${what} is a string with a lone UTF-16 surrogate at index ${at}; UTF-8 cannot hold it, so it would be stored ` +
      'changed. Fix the string, or append Buffer.from(text) yourself if replacing it with U+FFFD is acceptable; nothing was written')
  }
  if (data instanceof Uint8Array) {
    if (!isUnreadable(data)) return undefined
    return invalidArgument(`${what} is a Uint8Array whose ArrayBuffer was transferred (detached) or shrunk, so its bytes cannot be read; ` +
      'append a copy made before the transfer; nothing was written')
  }
  return invalidArgument(`${what} must be a Uint8Array, Buffer or string; got ${describeType(data)}`)
}

export function describeType(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'number') return String(value)
  if (typeof value === 'object') return `an object (${(value as object).constructor?.name ?? 'Object'})`
  return typeof value
}

/** Checks an offset argument: a non-negative safe integer, or ERR_INVALID_ARGUMENT naming `what`. */
export function checkOffset(offset: unknown, what: string): asserts offset is number {
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw invalidArgument(`${what} needs a non-negative safe integer offset; got ${describeType(offset)}`)
  }
}

/** ERR_RECORD_TOO_LARGE: `what` (a record or a batch) is over the limit named `option`; nothing was written. */
export function tooLargeError(what: string, limit: number, option: 'maxRecordBytes' | 'maxBatchBytes', details: { index?: number; bytes: number }, advice: string): SeglogError {
  return new SeglogError('ERR_RECORD_TOO_LARGE', `${what} exceeds ${option} (${limit}); nothing was written${advice}`, { details: { ...details, limit } })
}

/**
 * Checks appendBatch's records before any state changes (rule 20): each is read exactly once
 * into our own array, so a getter or a record detached later cannot change what was checked.
 * Returns the records as bytes and the batch's size with its header, or the error to reject with.
 */
export function checkBatchInput(records: unknown, maxRecordBytes: number, maxBatchBytes: number): { items: Uint8Array[]; total: number } | SeglogError {
  if (!Array.isArray(records) || records.length === 0) return invalidArgument('appendBatch takes a non-empty array of Uint8Array or string records')
  const n = records.length
  const items = new Array<Uint8Array>(n)
  let total = BATCH_HEADER_BYTES
  for (let i = 0; i < n; i++) {
    const r: unknown = records[i]
    let bytes: Uint8Array
    // The common case, a readable non-empty Uint8Array, is settled without the full check: its
    // message (built per record) and the detached-buffer probe showed up in profiles of W1.
    if (r instanceof Uint8Array && r.byteLength !== 0) {
      bytes = r
    } else {
      const bad = recordInputError(r, `appendBatch record ${i}`)
      if (bad) return bad
      bytes = typeof r === 'string' ? Buffer.from(r, 'utf8') : r as Uint8Array
    }
    items[i] = bytes
    const len = bytes.byteLength
    if (len > maxRecordBytes) return tooLargeError(`record ${i} of ${len} bytes`, maxRecordBytes, 'maxRecordBytes', { index: i, bytes: len }, '')
    total += RECORD_HEADER_BYTES + len
  }
  if (total > maxBatchBytes) return tooLargeError(`batch of ${total} bytes`, maxBatchBytes, 'maxBatchBytes', { bytes: total }, '. Split it into smaller batches')
  return { items, total }
}
