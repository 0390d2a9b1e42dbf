/**
 * The log's sequential reads, behind `iterate`, `iterateBatches` and `createReadStream`: a
 * {@link RecordCursor} over the local segments, or, for a tiered log, batches read through the
 * store below first (read-through.ts).
 */
// The default import: the bundle loads `stream` only when a read stream is made (scripts/bundle.mjs).
import stream, { type Readable } from 'node:stream'
import { invalidArgument } from '../errors.js'
import { RecordCursor } from './cursor.js'
import type { LogCore } from './log-core.js'
import type { IterateOptions } from './log-types.js'
import { batchesThroughBelow, flattenBatches, iterateStart } from './read-through.js'
import type { LogRecord } from './segment.js'

/** `iterate`: the records `options` name, in offset order; `firstOffset` is the log's (whole, for a tiered log). */
export function iterateRecords(core: LogCore, firstOffset: number, options: IterateOptions): AsyncIterableIterator<LogRecord> {
  const from = iterateStart(options, firstOffset)
  const below = core.below
  if (below) return flattenBatches(batchesThroughBelow(core, below, from, options))
  return new RecordCursor(core.cursorSource, from, options.to ?? Number.POSITIVE_INFINITY, options.follow ?? false, options.signal, options.gaps ?? 'stop', options.reuseBuffer === true)
}

/** `iterateBatches`: the same records as {@link iterateRecords}, a read block's worth at a time. */
export function iterateRecordBatches(core: LogCore, firstOffset: number, options: IterateOptions): AsyncIterableIterator<LogRecord[]> {
  if (core.below) return batchesThroughBelow(core, core.below, iterateStart(options, firstOffset), options)
  const cursor = iterateRecords(core, firstOffset, options) as RecordCursor
  return {
    next: () => cursor.nextMany(),
    return: async () => {
      await cursor.return()
      return { value: undefined, done: true }
    },
    [Symbol.asyncIterator]() {
      return this
    },
  }
}

/**
 * `createReadStream`: a Readable (objectMode) over the records `iterate(options)` yields. Refuses
 * `reuseBuffer`: the stream reads ahead into its buffer, so records would be overwritten before
 * the consumer sees them.
 */
export function readStreamOf<T>(options: IterateOptions, iterate: (options: IterateOptions) => AsyncIterable<T>): Readable {
  if (options.reuseBuffer !== undefined && options.reuseBuffer !== false) {
    throw invalidArgument('createReadStream cannot reuse one buffer (a stream reads ahead of its consumer): drop reuseBuffer, or use iterate({ reuseBuffer: true })')
  }
  return stream.Readable.from(iterate(options), { objectMode: true })
}
