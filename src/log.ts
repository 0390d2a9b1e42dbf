/**
 * The composition root of the public `Log`: the local log (src/local/) plus the layers that plug
 * into one open log from above, here the worker-thread ring (src/threads/). Neither of those
 * imports the other; this module wires them, with no module-level state.
 */
import type { LogOptions } from './local/options.js'
import type { LogEncoding, DecodedRecord } from './local/encoding.js'
import { LocalLog } from './local/local-log.js'
import type { AppendBatchResult, IterateOptions } from './local/log-types.js'
import type { Readable } from 'node:stream'
import { createWorkerBridge, type WorkerHandle } from './threads/index.js'

export type { AppendBatchResult, IterateOptions } from './local/log-types.js'
export { copyRecord } from './local/log-types.js'

/** The methods an encoding changes; see {@link TypedLog}. */
type EncodedMethods = 'append' | 'appendBatch' | 'read' | 'iterate' | 'iterateBatches' | 'createReadStream'

/**
 * A log opened with `encoding: 'utf8'` (`V` is `string`) or `encoding: 'json'` (`V` is the type
 * you name, `Log.open<Order>(dir, { encoding: 'json' })`; the log does not check it at run time):
 * appends take values and reads give `{ offset, timestamp, data: V }`. Everything else is as on
 * {@link Log}. A value that cannot be encoded (a BigInt or a cycle in JSON, a non-string for
 * 'utf8') rejects with `ERR_INVALID_ARGUMENT` and nothing is written.
 */
export interface TypedLog<V> extends Omit<Log, EncodedMethods> {
  /** Encodes and appends one value; resolves with its offset (durability as {@link Log.append}). */
  append(value: V): Promise<number>
  /** Encodes every value first (any failure writes nothing), then appends them as one batch. */
  appendBatch(values: readonly V[]): Promise<AppendBatchResult>
  /** The record at `offset`, decoded; undefined past the end. */
  read(offset: number): Promise<DecodedRecord<V> | undefined>
  /** As {@link Log.iterate}, with decoded records. */
  iterate(options?: IterateOptions): AsyncIterableIterator<DecodedRecord<V>>
  /** As {@link Log.iterateBatches}, with decoded records. */
  iterateBatches(options?: IterateOptions): AsyncIterableIterator<DecodedRecord<V>[]>
  /** A Readable (objectMode) of decoded records. */
  createReadStream(options?: IterateOptions): Readable
}

/**
 * A durable, ordered, append-only log on local disk.
 *
 * Records read through {@link Log.iterate} are zero-copy views into a read block of up to 1 MiB;
 * a view stays valid for as long as you hold it (it keeps its block alive), so copy records you
 * keep for long with {@link copyRecord} to let the block go. {@link Log.read} returns a copy.
 */
export class Log extends LocalLog {
  /**
   * Opens (creating if needed) the log in `dir`, recovering from any crash: a torn last write is
   * cut off and reported in {@link Log.recovery}; damage followed by valid data fails with
   * `ERR_CORRUPT` unless `repair` is set. Throws `ERR_LOCKED` when another writer holds `dir`,
   * `ERR_NOT_FOUND` for a read-only open of a directory that does not exist (yet), and
   * `ERR_INVALID_ARGUMENT` when `dir` is a file. `encoding` (`'bytes'` default, `'utf8'`,
   * `'json'`) gives a {@link TypedLog} that encodes appends and decodes reads.
   */
  static open(dir: string, options: LogOptions & { encoding: 'utf8' }): Promise<TypedLog<string>>
  static open<V = unknown>(dir: string, options: LogOptions & { encoding: 'json' }): Promise<TypedLog<V>>
  static open(dir: string, options?: LogOptions & { encoding?: 'bytes' }): Promise<Log>
  static open(dir: string, options: LogOptions & { encoding?: LogEncoding } = {}): Promise<Log | TypedLog<unknown>> {
    return this.openLog(dir, options) as Promise<Log>
  }

  /**
   * Creates (once) the shared-memory ring through which worker threads append, and returns a
   * structured-cloneable handle for `LogWriter.connect()` in a worker.
   */
  workerHandle(): WorkerHandle {
    // The ring drains into this log's own appendBatch (checksummed batches, group commit).
    return this.attachment('worker-ring', () => createWorkerBridge(this, this.limits)).handle()
  }
}
