/** The journal's public value types: what reads yield, what flush and compaction report. */
import type { SeglogError } from '../errors.js'
import type { JournalCursor } from './cursor.js'

/** Message published on `channels.journalFlush` (`seglog:journal:flush`), one per flush attempt that ends. */
export interface FlushMessage {
  journal: string
  /** Sequence number claimed (undefined when the flush failed before claiming one). */
  seq: number | undefined
  key: string | undefined
  events: number
  bytes: number
  /** Create-only PUTs lost to other writers before this one won. */
  conflicts: number
  durationMs: number
  error: SeglogError | undefined
}

/** Message published on `channels.journalCompact` (`seglog:journal:compact`), one per compaction or retention run. */
export interface CompactMessage {
  journal: string
  /** Merged objects written: key, how many objects they replace, bytes. */
  merged: { key: string; objects: number; bytes: number }[]
  /** Objects deleted (covered originals, superseded merges, retained-away batches). */
  deleted: number
  durationMs: number
}

/** What {@link Journal.flush} made durable (the events durable since the call, in order). */
export interface FlushResult {
  /** Sequence number of the last batch written. */
  seq: number
  /** Cursor of the first event made durable. */
  first: JournalCursor
  /** Cursor of the last event made durable. */
  last: JournalCursor
  /** How many events were made durable. */
  events: number
}

/** Options of {@link Journal.read}. */
export interface ReadOptions {
  /** Start after this cursor (exclusive). Default: the beginning. */
  after?: JournalCursor
  /** Keep polling for new batches until `signal` aborts or the journal closes. */
  follow?: boolean
  /** Stops a follow (the iterator then ends without error); also aborts the store calls under way. */
  signal?: AbortSignal
  /**
   * Also yield this journal's buffered, not yet flushed events at the end (`durable: false`).
   * Default true without `follow`; always false with `follow`.
   */
  pending?: boolean
}

/** Options of {@link Journal.iterate}: {@link ReadOptions} plus an end. */
export interface JournalIterateOptions extends ReadOptions {
  /** Stop after this cursor (inclusive); buffered events are then not yielded. */
  to?: JournalCursor
}

/** One event read from a journal. */
export interface JournalEntry<T> {
  /**
   * Resume point: pass it as `after` to continue behind this event. For a pending event it is the
   * cursor of the last durable event before it (resuming re-reads it once flushed).
   */
  cursor: JournalCursor
  value: T
  /** Milliseconds since the epoch when the batch was flushed. */
  timestamp: number
  /** False for buffered events not yet in the store. */
  durable: boolean
}

/** What `compact()` did. */
export interface CompactResult {
  merged: { key: string; objects: number; bytes: number }[]
  deleted: string[]
}
