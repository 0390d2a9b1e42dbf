/**
 * The local log's facade: one writer appends record batches to segment files with group commit;
 * any number of readers read by offset or iterate in order, in this process or (read-only) in
 * others. It checks arguments and calls the log's modules (wired in log-core.ts; see
 * docs/ARCHITECTURE.md, "local/ — writing"). The public `Log` (src/log.ts) extends it.
 */
import type { Readable } from 'node:stream'
import { channels } from '../diagnostics.js'
import { invalidArgument, SeglogError } from '../errors.js'
import { checkOffset, recordInputError } from '../record-input.js'
import { addRecord, appendBatchBytes, appendRun } from './append-paths.js'
import { codecFor, installCodec, type LogEncoding } from './encoding.js'
import type { Gap } from './gaps.js'
import type { DirectoryLock, LockHolderReport } from './lock.js'
import { LogCore } from './log-core.js'
import { logHooks } from './log-hooks.js'
import { iterateRecordBatches, iterateRecords, readStreamOf } from './log-iteration.js'
import { lockHolder, repairLog, verifyLog } from './log-tools.js'
import type { AppendBatchResult, IterateOptions, LogAttachment, LogHooks, LogLimits } from './log-types.js'
import { claimDirectory, recoverDirectory } from './open-log.js'
import { resolveOptions, type LogOptions, type ResolvedOptions } from './options.js'
import { readLocalNow, readWaiting } from './read-paths.js'
import type { RecoveryReport } from './recovery.js'
import type { RepairOptions, RepairReport } from './repair.js'
import { deleteSegmentsBefore } from './retention.js'
import type { LogRecord } from './segment.js'
import { truncateLog } from './truncate.js'
import type { VerifyOptions, VerifyReport } from './verify.js'

/**
 * A durable, ordered, append-only log on local disk (the public `Log` adds worker-thread appends).
 *
 * Records read through {@link LocalLog.iterate} are zero-copy views into a read block of 256 KiB
 * (or one batch, when a batch is larger); a view stays valid for as long as you hold it (it keeps its block alive), so copy records
 * you keep for long with {@link copyRecord} to let the block go. {@link LocalLog.read} returns a copy.
 */
export class LocalLog implements AsyncDisposable {
  /** What {@link Log.open} found and fixed. */
  readonly recovery: RecoveryReport
  private readonly core: LogCore
  private closing: Promise<void> | undefined

  protected constructor(readonly dir: string, core: LogCore, recovery: RecoveryReport) {
    this.core = core
    this.recovery = recovery
  }

  /** Opens a log as an instance of the calling class (see the public `Log.open`). */
  protected static async openLog(dir: string, options: LogOptions & { encoding?: LogEncoding } = {},
    internal: Pick<ResolvedOptions, 'initialOffset' | 'mayDelete' | 'truncateRefusal'> = {}): Promise<LocalLog> {
    if (typeof dir !== 'string' || dir.length === 0) throw invalidArgument('Log.open needs a directory path (string)')
    const resolved: ResolvedOptions = { ...resolveOptions(options), ...internal }
    const codec = codecFor(options.encoding)
    const lock = await claimDirectory(dir, resolved)
    let log: LocalLog | undefined
    try {
      const recovered = await recoverDirectory(dir, resolved)
      log = new this(dir, new LogCore(dir, resolved, recovered, lock), recovered.report)
      await log.core.start()
      if (channels.recovery.hasSubscribers) channels.recovery.publish({ dir, report: recovered.report })
      if (codec) installCodec<IterateOptions>(log, LocalLog.prototype, codec, dir)
      return log
    } catch (err) {
      if (log) await log.close().catch(() => undefined)
      lock?.release()
      if (err instanceof SeglogError) throw err
      throw new SeglogError('ERR_IO', `could not open the log in ${dir}: ${(err as Error).message}`, { cause: err })
    }
  }

  /** The write lock (tests drop it to leave the log as a killed process would). */
  private get lock(): DirectoryLock | undefined {
    return this.core.lock
  }

  /** Checks every batch and index of the log in `dir` without opening it for writing (alias of {@link verifyLog}). */
  static verify(dir: string, options: VerifyOptions = {}): Promise<VerifyReport> {
    return verifyLog(dir, options)
  }

  /** Repairs the log in `dir`, which must not be open for writing anywhere (alias of {@link repairLog}, which says what it does). */
  static repair(dir: string, options: RepairOptions = {}): Promise<RepairReport> {
    return repairLog(dir, options)
  }

  /** Who holds the write lock on `dir`, if anyone (alias of {@link lockHolder}). */
  static lockHolder(dir: string): LockHolderReport | undefined {
    return lockHolder(dir)
  }

  /**
   * Offset of the oldest record still stored (retention and deleteBefore move it); for a tiered
   * log, the whole log's, the store's records included.
   */
  get firstOffset(): number {
    const below = this.core.below
    if (below === undefined) return this.core.firstOffset
    const held = below.firstOffset()
    const first = held === undefined ? this.core.firstOffset : Math.min(held, this.core.firstOffset)
    // Whole-log retention may have moved past both for a moment (local deletion comes next), never past the end.
    return Math.min(Math.max(first, below.retainedFrom()), this.core.buffer.next)
  }

  /**
   * Offsets lost to damage that a repair cut out, as `[from, to)` ranges (empty for a healthy
   * log). Reads of them fail with `ERR_OFFSET_LOST`; every record outside them is intact.
   */
  get gaps(): readonly Gap[] {
    const { segs, buffer } = this.core
    return segs.gaps.filter((g) => g.from < buffer.next && segs.segments.some((s) => s.base === g.to))
  }

  /**
   * The log's identity: a random 128-bit id (32 hex digits) chosen at creation, which every
   * segment is checked against. Undefined for a log created before identities (format 1).
   */
  get id(): string | undefined {
    return this.core.identity?.id
  }

  /** Offset the next append will get. */
  get nextOffset(): number {
    return this.core.buffer.next
  }

  /** Every record below this offset is on stable storage (fdatasync done). */
  get durableOffset(): number {
    return this.core.committer.durable
  }

  /** True once {@link LocalLog.close} finished. */
  get closed(): boolean {
    return this.core.state.name === 'closed'
  }

  /** Segment files and their sizes (for inspection tools). */
  segmentsInfo(): { base: number; path: string; bytes: number }[] {
    const { segs, buffer } = this.core
    return segs.segments.map((s) => ({ base: s.base, path: s.path, bytes: s === segs.active ? s.size + buffer.used : s.size }))
  }

  /**
   * Appends one record; resolves with its offset. Under `sync: 'always'` the promise resolves
   * only after the record is on stable storage; otherwise once it is accepted (see {@link SyncMode}).
   */
  append(data: Uint8Array | string): Promise<number> {
    const core = this.core
    // The common case first: non-empty bytes (so readable) on a log that can append now. A record
    // that does not fit leaves everything as it was (add's codes) and takes the path below.
    if (data instanceof Uint8Array && data.byteLength !== 0 && core.gate.current === undefined && core.state.open && core.segs.writer) {
      const offset = core.buffer.addBytes(data, core.segs.active.size)
      if (offset >= 0) return core.acknowledge(offset)
    }
    // Checked first, before waiting or touching any state (rule 20): a bad record rejects only its own call.
    const bad = recordInputError(data, 'the record passed to append')
    if (bad) return Promise.reject(bad)
    if (core.gate.current) return core.gate.current.then(() => LocalLog.prototype.append.call(this, data))
    const offset = addRecord(this.core, data)
    if (typeof offset !== 'number') return Promise.reject(offset)
    return core.acknowledge(offset)
  }

  /**
   * Appends one record without a promise, for callers that pipeline many appends: returns its
   * offset at once. The record is written on the next event-loop turn (or at once when the segment
   * is full) and made durable by the log's `sync` policy like any other; under `sync: 'always'`
   * the group commit fsyncs it without being asked. To know it is on stable storage, await
   * {@link LocalLog.sync} (it resolves once every record appended before the call is durable) or
   * compare the offset with {@link LocalLog.durableOffset}.
   *
   * Throws, with nothing written: `ERR_INVALID_ARGUMENT` and `ERR_RECORD_TOO_LARGE` for a bad
   * record, `ERR_CLOSED`/`ERR_READ_ONLY`/`ERR_IO` when the log cannot append, and `ERR_BUSY` while
   * an exclusive operation (`truncate`, `deleteBefore`) runs, since this call cannot wait for it.
   * A write or fsync that fails later fails the log: the next `sync()` (and every later call)
   * rejects with `ERR_IO`, and records not yet durable are not acknowledged.
   *
   * @example
   * ```ts
   * for (const r of records) log.appendNoWait(r)
   * await log.sync() // every record above is durable now
   * ```
   */
  appendNoWait(data: Uint8Array | string): number {
    const core = this.core
    // The common case first, as in append().
    if (data instanceof Uint8Array && data.byteLength !== 0 && core.gate.current === undefined && core.state.open && core.segs.writer) {
      const offset = core.buffer.addBytes(data, core.segs.active.size)
      if (offset >= 0) {
        if (!core.scheduleWriteOut()) throw core.state.unusable()
        return offset
      }
    }
    const bad = recordInputError(data, 'the record passed to appendNoWait')
    if (bad) throw bad
    if (!core.state.open || !core.segs.writer) throw core.state.unusable()
    if (core.gate.current) {
      throw new SeglogError('ERR_BUSY', `appendNoWait cannot wait for the exclusive operation (truncate, deleteBefore or a tiered roll) running on the log in ${this.dir}; ` +
        'nothing was written: await that call (or use append(), which waits for it) and append again')
    }
    const offset = addRecord(this.core, data)
    if (typeof offset !== 'number') throw offset
    if (!core.scheduleWriteOut()) throw core.state.unusable()
    return offset
  }

  /**
   * Appends records as one batch: after a crash either all of them are present or none.
   * Resolves with the offsets of the first and last record (durable under `sync: 'always'`).
   */
  appendBatch(records: readonly (Uint8Array | string)[]): Promise<AppendBatchResult> {
    return appendBatchBytes(this.core, records)
  }

  /** Resolves once every record appended before the call is on stable storage. */
  async sync(): Promise<void> {
    const core = this.core
    await core.gate.idle()
    if (!core.state.open || !core.segs.writer) throw core.state.unusable()
    if (!core.writeOutSafe()) throw core.state.unusable()
    await core.committer.waitDurable(core.committer.written)
  }

  /**
   * Deletes whole sealed segments whose records all lie below `offset`. Records at or above
   * `offset` are always kept; some below it may remain (deletion is by segment). Resolves with
   * the new first offset.
   */
  deleteBefore(offset: number): Promise<number> {
    const core = this.core
    return core.gate.run(async () => {
      if (!core.state.open || !core.segs.writer) throw core.state.unusable()
      checkOffset(offset, 'deleteBefore')
      try {
        await deleteSegmentsBefore(this.dir, core.fsys, core.segs, offset, core.options.mayDelete)
      } catch (err) {
        core.fail(err)
        throw core.state.unusable()
      }
      return core.firstOffset
    })
  }

  /**
   * Removes every record at or after `offset`; the next append gets `offset`. Crash-safe: once
   * it resolves the cut is durable, and a crash part-way is completed by the next open. Open
   * iterators that already handed out a removed record fail with `ERR_TRUNCATED`; the others
   * continue with what the log holds after the cut.
   */
  truncate(offset: number): Promise<void> {
    const core = this.core
    return core.gate.run(async () => {
      if (!core.state.open || !core.segs.writer) throw core.state.unusable()
      checkOffset(offset, 'truncate')
      const refused = core.options.truncateRefusal?.(offset)
      if (refused) throw refused
      await truncateLog(core.truncates, offset)
    })
  }

  /**
   * The record at `offset`, or `undefined` when there is none: at or past {@link nextOffset},
   * or below {@link firstOffset} (deleted by retention). The returned data is a copy.
   * Waits for a running `truncate`/`deleteBefore` first. For a tiered log, records below the
   * local first offset are fetched from the store.
   * Throws `ERR_CORRUPT` if the stored batch fails its checksum.
   */
  read(offset: number): Promise<LogRecord | undefined> {
    return readWaiting(this.core, offset, (again) => LocalLog.prototype.read.call(this, again))
  }

  /**
   * {@link read} without a promise: the record at `offset` now, or `undefined` when there is
   * none. The data is a copy, as from `read()`, and the record is the one `read()` would give at
   * this moment: after a `truncate` resolved, never a record from before it (also on a read-only
   * handle after the writer's truncate). The fastest point read (no promise, no microtask).
   *
   * Because it cannot wait, it throws where `read()` would wait or fetch, and reads nothing:
   * `ERR_BUSY` while a `truncate`, `deleteBefore` or tiered roll runs, or while a read-only handle
   * reloads after the writer truncated (the reload is started: call again later, or await `read()`);
   * `ERR_OFFSET_OUT_OF_RANGE` (with `details.localFirstOffset`) for a tiered log's record that
   * lies in the object store only; `ERR_CLOSED` once `close()` was called. Otherwise it fails as
   * `read()` does (`ERR_CORRUPT`, `ERR_OFFSET_LOST`, `ERR_INVALID_ARGUMENT`, the log's `ERR_IO`).
   *
   * @example
   * ```ts
   * const r = log.readSync(offset) // { offset, timestamp, data } | undefined
   * ```
   */
  readSync(offset: number): LogRecord | undefined {
    return readLocalNow(this.core, offset)
  }

  /**
   * Yields records in offset order. `data` is a zero-copy view into a read block of 256 KiB (or
   * into one batch, when a batch is larger) and stays valid while referenced. With `follow`, waits at the end for new records (in another
   * process too, for a read-only log) until `signal` aborts or the log closes.
   */
  iterate(options: IterateOptions = {}): AsyncIterableIterator<LogRecord> {
    return iterateRecords(this.core, this.firstOffset, options)
  }

  /**
   * Like {@link iterate}, but yields arrays of consecutive records: what one read block holds
   * (256 KiB), cut after the batch that passes 1,024 records. The fastest way to scan; the
   * records are the same zero-copy views.
   */
  iterateBatches(options: IterateOptions = {}): AsyncIterableIterator<LogRecord[]> {
    return iterateRecordBatches(this.core, this.firstOffset, options)
  }

  /** A Readable (objectMode) over {@link iterate}. */
  createReadStream(options: IterateOptions = {}): Readable {
    return readStreamOf(options, (o) => this.iterate(o))
  }

  /**
   * What the worker ring drains into: this log's appendBatch, plus the run path that copies
   * records straight from the ring's memory (see {@link RecordSink}).
   */
  protected get recordSink(): RecordSink {
    const isClosed = (): boolean => this.closed
    return {
      appendBatch: (records) => appendBatchBytes(this.core, records),
      appendRun: (source, at, lengths, count) => appendRun(this.core, source, at, lengths, count),
      get closed() {
        return isClosed()
      },
    }
  }

  /** The limits an attachment that appends must respect. */
  protected get limits(): LogLimits {
    return { maxRecordBytes: this.core.options.maxRecordBytes, maxBatchBytes: this.core.options.maxBatchBytes }
  }

  /**
   * The attachment under `key`, created on first use (the log must be open for writing). The
   * log tells it of sealed segments, closes it first on close() and with its error when it fails.
   */
  protected attachment<T extends LogAttachment>(key: string, create: () => T): T {
    const core = this.core
    if (!core.state.open || !core.segs.writer) throw core.state.unusable()
    let found = core.attachments.get(key)
    if (!found) {
      found = create()
      core.attachments.set(key, found)
    }
    return found as T
  }

  /** What a layer above (tiered storage) may do with this open log; see {@link LogHooks}. */
  protected get hooks(): LogHooks {
    return logHooks(this.core)
  }

  /**
   * Writes and fsyncs everything appended, records a clean-shutdown checkpoint and releases the
   * lock. Safe to call twice. After an I/O failure it releases everything and rethrows `ERR_IO`.
   */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.core.close()
    return this.closing
  }

  /** `await using log = await Log.open(...)` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}

/**
 * Where a batch of records can be appended from: the log's `appendBatch`, and `appendRun`, which
 * takes `count` records lying in order in one region of `source` (record k is
 * `source[at[k], at[k] + lengths[k])`) and copies that region with one copy. `at` and `lengths`
 * are read during the call only; `source` must stay unchanged until the promise settles.
 */
export interface RecordSink {
  appendBatch(records: Uint8Array[]): Promise<AppendBatchResult>
  appendRun(source: Uint8Array, at: Int32Array, lengths: Int32Array, count: number): Promise<AppendBatchResult>
  readonly closed: boolean
}
