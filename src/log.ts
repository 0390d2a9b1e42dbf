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
import { invalidArgument, SeglogError } from './errors.js'
import type { ObjectStore } from './objects/types.js'
import type { LogTier, ReadOnlyTier, TierOptions, TierState } from './tier/tiered-log.js'
import type { RemoteLog, RemoteLogOptions } from './tier/remote-log.js'

export type { TierOptions, TierState } from './tier/tiered-log.js'
export type { RemoteLog, RemoteLogOptions, RemoteIterateOptions, TierClock } from './tier/remote-log.js'

/**
 * Options of {@link Log.open}: the local log's, plus `tier` (tiered storage). With `tier`,
 * `retention` bounds the whole log, the store included (`tier.localRetention` bounds the disk),
 * and `readOnly` opens a reader that reads through the store and changes nothing.
 */
export interface TieredLogOptions extends LogOptions {
  /** Ship sealed segments to an object store, read through it, restore from it (docs/tiered.md). */
  tier?: TierOptions
}

/** The tier's code, loaded when a log first needs it (see src/tier/log-tier-entry.ts). */
let tierCode: Promise<typeof import('./tier/log-tier-entry.js')> | undefined
function loadTierCode(): Promise<typeof import('./tier/log-tier-entry.js')> {
  return (tierCode ??= import('./tier/log-tier-entry.js'))
}

export type { AppendBatchResult, IterateOptions } from './local/log-types.js'
export { copyRecord } from './local/log-types.js'

/** The methods an encoding changes; see {@link TypedLog}. */
type EncodedMethods = 'append' | 'appendNoWait' | 'appendBatch' | 'read' | 'readSync' | 'iterate' | 'iterateBatches' | 'createReadStream'

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
  /** Encodes and appends one value without a promise; returns its offset (as {@link Log.appendNoWait}). */
  appendNoWait(value: V): number
  /** Encodes every value first (any failure writes nothing), then appends them as one batch. */
  appendBatch(values: readonly V[]): Promise<AppendBatchResult>
  /** The record at `offset`, decoded; undefined past the end. */
  read(offset: number): Promise<DecodedRecord<V> | undefined>
  /** The record at `offset` now, decoded (as {@link Log.readSync}: throws where `read()` would wait). */
  readSync(offset: number): DecodedRecord<V> | undefined
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
 * Records read through {@link Log.iterate} are zero-copy views into a read block of 256 KiB;
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
  static open(dir: string, options: TieredLogOptions & { encoding: 'utf8' }): Promise<TypedLog<string>>
  static open<V = unknown>(dir: string, options: TieredLogOptions & { encoding: 'json' }): Promise<TypedLog<V>>
  static open(dir: string, options?: TieredLogOptions & { encoding?: 'bytes' }): Promise<Log>
  static open(dir: string, options: TieredLogOptions & { encoding?: LogEncoding } = {}): Promise<Log | TypedLog<unknown>> {
    if (typeof options === 'object' && options !== null && options.tier !== undefined) return this.openTiered(dir, options)
    return this.openLog(dir, options) as Promise<unknown> as Promise<Log>
  }

  /**
   * Opens a tiered log: lists the store first; a new directory continues the remote log at its
   * end (restore); a local log that ends before the store's end is fenced (ERR_CONFLICT, nothing
   * changed); then the tier ships every sealed segment not yet confirmed, in the background.
   * With `readOnly`, the directory is opened read-only and the store only read.
   */
  private static async openTiered(dir: string, options: TieredLogOptions & { encoding?: LogEncoding }): Promise<Log> {
    const { tier, ...local } = options
    const { planTier, ReadOnlyTier, fenceError, checkHeldSegments, LogTier } = await loadTierCode()
    const plan = await planTier(tier, local)
    if (local.readOnly === true) {
      // Reads only: the directory follows its writer, offsets below it come from the store; no
      // shipping, no retention (the writer applies both), nothing written or deleted anywhere.
      const log = await this.openLog(dir, local) as unknown as Log
      log.tier = new ReadOnlyTier(plan, log.hooks)
      log.tierReadOnly = true
      return log
    }
    const log = await this.openLog(dir, { ...local, retention: plan.options.localRetention }, plan.internal) as unknown as Log
    try {
      // A fork anywhere in what both hold: past the store's end (fenceError), or inside it (the seals' CRCs).
      const fenced = fenceError(plan, dir, log.nextOffset) ?? await checkHeldSegments(plan.options.store, plan.options.prefix, plan.catalog,
        log.hooks.sealedSegments(), { fileSystem: log.hooks.fileSystem, retry: plan.options.retry })
      if (fenced) throw fenced
      plan.tier = log.attachment('tier', () => new LogTier(plan, log.hooks))
      log.tier = plan.tier
    } catch (err) {
      await log.close().catch(() => undefined)
      throw err
    }
    return log
  }

  private tier: LogTier | ReadOnlyTier | undefined
  /** The tier is a {@link ReadOnlyTier} (a flag, not instanceof: the tier's classes load on first use). */
  private tierReadOnly = false

  /**
   * Resolves once every segment sealed before the call is confirmed in the store; with
   * `{ all: true }` it first seals the active segment (when it holds records), so every record
   * appended before the call is in the store. Rejects with `ERR_CONFLICT` when another writer has
   * extended the remote log, with the shipping error when shipping stopped, and with
   * `ERR_INVALID_ARGUMENT` on a log opened without `tier`. Store failures are retried meanwhile.
   */
  async syncTier(options: { all?: boolean } = {}): Promise<void> {
    const tier = this.requireTier('syncTier')
    if (this.tierReadOnly) throw new SeglogError('ERR_READ_ONLY', `syncTier ships segments, and the log in ${this.dir} was opened with { readOnly: true }; call it on the writer`)
    if (typeof options !== 'object' || options === null) throw invalidArgument('syncTier options must be an object')
    if (options.all !== undefined && typeof options.all !== 'boolean') throw invalidArgument('syncTier all must be true or false')
    await (tier as LogTier).sync(options.all === true)
  }

  /** How far shipping has come: `{ uploadedOffset, localFirstOffset, pendingSegments }` (throws on a log opened without `tier`). */
  get tierState(): TierState {
    return this.requireTier('tierState').state
  }

  private requireTier(what: string): LogTier | ReadOnlyTier {
    if (this.tier === undefined) {
      throw new SeglogError('ERR_INVALID_ARGUMENT', `${what} needs a tiered log, and the log in ${this.dir} was opened without tier; open it with { tier: { store, prefix } }`)
    }
    return this.tier
  }

  /**
   * Opens the log shipped under `prefix` of `store` read-only, with no local directory: read,
   * iterate, follow (polling the store) and close. See docs/tiered.md.
   */
  static openRemote(store: ObjectStore, prefix: string, options: RemoteLogOptions = {}): Promise<RemoteLog> {
    return loadTierCode().then(({ openRemoteLog }) => openRemoteLog(store, prefix, options))
  }

  /**
   * Creates (once) the shared-memory ring through which worker threads append, and returns a
   * structured-cloneable handle for `LogWriter.connect()` in a worker.
   */
  workerHandle(): WorkerHandle {
    // The ring drains into this log's own appendBatch (checksummed batches, group commit).
    return this.attachment('worker-ring', () => createWorkerBridge(this.recordSink, this.limits)).handle()
  }
}
