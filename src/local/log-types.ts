/**
 * The local log's public option and result types, and the attachment port through which the
 * layers above it (the worker ring today, tiered storage next) plug into one open log.
 */
import type { SeglogError } from '../errors.js'
import type { LogRecord } from './segment.js'
import type { SealedSegment } from './segment-set.js'
import type { LogClock } from './options.js'
import type { FileSystem } from '../io/file-system.js'

/** Where {@link Log.iterate} starts and stops, and whether it waits for new records. */
export interface IterateOptions {
  /** First offset to yield; default the log's first offset. Offsets deleted by retention are skipped. */
  from?: number
  /** Stop before this offset (exclusive); default: the end (or never, with `follow`). */
  to?: number
  /** Keep waiting for new records at the end instead of finishing. */
  follow?: boolean
  /** Ends the iteration (cleanly, without an error) when aborted. */
  signal?: AbortSignal
  /**
   * What to do on reaching offsets a repair could not save (see {@link Log.gaps}): `'stop'`
   * (default) rejects with `ERR_OFFSET_LOST` naming the range in `details.from`/`details.to`;
   * `'skip'` goes on with the first offset after the range.
   */
  gaps?: 'stop' | 'skip'
  /**
   * Read the whole scan into one buffer instead of a fresh 256 KiB block per read. Each record's
   * `data` (and a value its codec decodes without copying) is then valid only until the
   * iterator's next step: the next record from `iterate`, the next array from `iterateBatches`.
   * Copy what you keep (`copyRecord`). It saves the allocation and the first-touch page faults of
   * fresh memory, about a fifth of a scan's CPU in `npm run bench`'s W3. Default `false`: a view
   * stays valid for as long as you hold it. A tiered log's records read from the store are fresh
   * either way. `createReadStream` refuses it (a stream reads ahead of its consumer).
   */
  reuseBuffer?: boolean
}

/** Result of {@link Log.appendBatch}: the offsets of its first and last records. */
export interface AppendBatchResult {
  first: number
  last: number
}

/**
 * Something attached to one open log by a layer above it (composition root), e.g. the worker
 * ring. The log tells it when a segment is sealed, fails it with the log's error, and closes it
 * first on close (an attachment may still append while it drains).
 *
 * @internal
 */
export interface LogAttachment {
  /** A segment was sealed (its data written, its index file written). Must not throw or block. */
  segmentSealed?(segment: SealedSegment): void
  /** Stops; with `error` (the log failed) pending and later work fails with it. */
  close(error?: SeglogError): Promise<void>
}

/**
 * Where records below the local log's first offset come from (a tiered log's store): point reads
 * and iteration of offsets the local disk no longer holds, as records of the same shape.
 *
 * @internal
 */
export interface ReadBelow {
  /** The first offset held below (the whole log's first offset) as last known; undefined when nothing is. */
  firstOffset(): number | undefined
  /**
   * Offsets below this have left the whole log (whole-log retention of a tiered log; 0 without):
   * reads below it find nothing and iterators skip to it, even while a local copy still waits
   * for deletion.
   */
  retainedFrom(): number
  /** The record at `offset` (its data a copy), or undefined when not held. */
  read(offset: number): Promise<LogRecord | undefined>
  /** Records from `from` (or the first held) up to `to` (exclusive), in order. */
  iterate(from: number, to: number, signal: AbortSignal | undefined): AsyncIterableIterator<LogRecord>
}

/**
 * What a layer above (tiered storage) may do with one open, writable log, besides attaching.
 *
 * @internal
 */
export interface LogHooks {
  /** The sealed segments (all but the active one), oldest first. */
  sealedSegments(): { base: number; end: number; path: string; bytes: number }[]
  /** Seals the active segment when it holds records (through the exclusive gate); whether it did. */
  rollActive(): Promise<boolean>
  /** Resolves once every record below `offset` is on stable storage locally. */
  waitDurable(offset: number): Promise<void>
  /** Something changed that may let retention delete more: apply it soon. */
  scheduleRetention(): void
  /** Offsets below `offset` have left the whole log: local segments wholly below it are deleted soon (only those `mayDelete` allows). */
  retainFrom(offset: number): void
  /** Bytes of the active segment (written and buffered). */
  activeBytes(): number
  /** Fails the log with `error` (appends then reject with it). */
  fail(error: SeglogError): void
  /** Installs where offsets below the local first offset are read from. */
  setReadBelow(below: ReadBelow): void
  /** The local log's first offset (its oldest segment's base). */
  localFirstOffset(): number
  readonly clock: LogClock
  readonly fileSystem: FileSystem
}

/** The limits an attachment that appends must respect, so one oversized record cannot fail a shared batch. */
export interface LogLimits {
  maxRecordBytes: number
  maxBatchBytes: number
}

/** A copy of a record whose data no longer shares a read block. */
export function copyRecord(record: LogRecord): LogRecord {
  return { offset: record.offset, timestamp: record.timestamp, data: Buffer.from(record.data) }
}
