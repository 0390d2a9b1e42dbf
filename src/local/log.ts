/**
 * The local log: one writer appends record batches to segment files with group commit; any
 * number of readers read by offset or iterate in order, in this process or (read-only) in others.
 */
import fs from 'node:fs'
import { Readable } from 'node:stream'
import { channels } from '../diagnostics.js'
import { invalidArgument, SeglogError } from '../errors.js'
import {
  BATCH_HEADER_BYTES, BatchHeader, BatchStatus, describeStatus, encodeBatch, forEachRecord, parseBatch, RECORD_HEADER_BYTES, sealBatch,
} from '../format/index.js'
import type { FileHandle, FileStat, FileSystem } from '../io/file-system.js'
import { writeCheckpoint } from './checkpoint.js'
import { codecFor, installCodec, type DecodedRecord, type LogEncoding } from './encoding.js'
import { DirectoryLock, lockHolder, reportLockHolder, type LockHolderReport } from './lock.js'
import { repairLocked, repairLog, type RepairOptions, type RepairReport } from './repair.js'
import { gapAt, mergeGaps, offsetLostError, writeGaps, type Gap } from './gaps.js'
import type { LogIdentity } from './identity.js'
import { resolveOptions, type LogClock, type LogOptions, type ResolvedOptions } from './options.js'
import { recover, type RecoveryReport } from './recovery.js'
import { scanSegment } from './scan.js'
import { type CursorSource, type CursorWatch, RecordCursor } from './cursor.js'
import { CursorRegistry } from './cursor-registry.js'
import { describeType, recordInputError } from './record-input.js'
import { beginTruncate, endTruncate, lowestCutSince, NO_TRUNCATIONS, readTruncations, type Truncations, writeTruncations } from './truncations.js'
import { corruptError, InconsistentIndexError, Segment, type LogRecord } from './segment.js'
import { SparseIndex } from './sparse-index.js'
import { applyIntent, recordIntent } from './truncate-intent.js'
import { verifyLog, type VerifyOptions, type VerifyReport } from './verify.js'
import { parseSegmentName } from './names.js'
import type { WorkerHandle } from '../threads/layout.js'

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
}

/** Result of {@link Log.appendBatch}: the offsets of its first and last records. */
export interface AppendBatchResult {
  first: number
  last: number
}

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

/** Hook for worker-thread appends: created lazily by {@link Log.workerHandle}. */
export interface WorkerBridge {
  handle(): unknown
  /** Stops the ring; with an error, producers' pending and later appends fail with it. */
  close(err?: SeglogError): Promise<void>
}

/** The log's limits a worker ring must respect, so one oversized record cannot fail a shared batch. */
export interface WorkerBridgeLimits {
  maxRecordBytes: number
  maxBatchBytes: number
}

type State = 'open' | 'closing' | 'closed' | 'failed'
type Resolve = (value: never) => void
type Reject = (reason: unknown) => void

/** Acknowledgements waiting for the fsync that covers offsets below `until`. */
interface AckGroup {
  until: number
  resolves: Resolve[]
  rejects: Reject[]
  values: unknown[]
}

interface SyncWaiter {
  until: number
  resolve: () => void
  reject: Reject
}

/** A batch opened by append() is sealed once it holds this much, to keep point reads cheap. */
const MAX_APPEND_BATCH_BYTES = 128 << 10
/** Write a (non-durable-critical) checkpoint after this much durable progress. */
const CHECKPOINT_EVERY_BYTES = 8 << 20
/** Sealed segments kept with their index in memory (each up to ~400 KiB at the defaults). */
const MAX_LOADED_SEALED_SEGMENTS = 16
/** A read-only read raced by this many truncates in another process gives up (with ERR_IO). */
const MAX_READ_RETRIES = 16

let bridgeFactory: ((log: Log, limits: WorkerBridgeLimits) => WorkerBridge) | undefined

/** Lets src/threads register itself without the local log importing it (layering). */
export function registerWorkerBridge(factory: (log: Log, limits: WorkerBridgeLimits) => WorkerBridge): void {
  bridgeFactory = factory
}

/**
 * A durable, ordered, append-only log on local disk.
 *
 * Records read through {@link Log.iterate} are zero-copy views into a read block of up to 1 MiB;
 * a view stays valid for as long as you hold it (it keeps its block alive), so copy records you
 * keep for long with {@link copyRecord} to let the block go. {@link Log.read} returns a copy.
 */
export class Log implements AsyncDisposable {
  /** What {@link Log.open} found and fixed. */
  readonly recovery: RecoveryReport

  private state: State = 'open'
  private failure: SeglogError | undefined
  private readonly fsys: FileSystem
  private segments: Segment[]
  private active: Segment
  private activeIndex: SparseIndex
  private writer: FileHandle | undefined
  private lock: DirectoryLock | undefined

  // Write buffer: complete batches plus at most one open batch, written at `active.size`.
  private buf: Buffer
  private used = 0
  private batchStart = -1
  private batchCount = 0
  private batchBase = 0
  private batchTimestamp = 0
  private flushScheduled = false

  private next: number
  private written: number
  private durable: number

  // Acknowledgements of records in the write buffer (sync: 'always' only).
  private ackResolves: Resolve[] = []
  private ackRejects: Reject[] = []
  private ackValues: unknown[] = []
  private readonly groups: AckGroup[] = []
  private readonly syncWaiters: SyncWaiter[] = []
  private syncing = false
  private syncAgain = false
  private activeSyncWanted = false
  private syncIdle: (() => void)[] = []
  private unsynced: FileHandle[] = []
  private dirDirty = false
  private checkpointPos = 0
  private checkpointBase = -1

  /**
   * Set while truncate(), deleteBefore() or close() changes files. Appends, reads, cursors and
   * every background job (timers, retention) wait for it or skip their turn (rule 18).
   */
  private exclusive: Promise<unknown> | undefined
  private dataWaiters: (() => void)[] = []
  private stopTimers: (() => void)[] = []
  private readonly clock: LogClock
  /** The truncate generation this process's state reflects (see truncations.ts). */
  private truncations: Truncations = NO_TRUNCATIONS
  /** Bumped whenever cursors must re-check the log: a truncate starts or ends, close, a reload. */
  private readonly watch: CursorWatch = { stamp: 0 }
  private readonly cursors = new CursorRegistry()
  /** Read-only: a reload of the directory after another process truncated, while it runs. */
  private reloading: Promise<void> | undefined
  private closing: Promise<void> | undefined
  private bridge: WorkerBridge | undefined
  private readonly cursorSource: CursorSource
  /** Point reads fetch this much from the index entry on: one interval plus a typical record. */
  private readonly readAheadBytes: number
  /** Sealed segments whose index is in memory, least recently loaded first. */
  private loadedSealed: Segment[] = []
  /** Holes recorded by repair (sorted): offsets lost to damage, between two segments. */
  private lostRanges: Gap[]
  /** This log's tag, carried by every batch it writes (0: a log created by format 1). */
  private readonly logTag: number
  private readonly logIdentity: LogIdentity | undefined
  private readonly flushTick = (): void => {
    this.flushScheduled = false
    if (this.state === 'open' || this.state === 'closing') this.writePendingSafe()
  }

  private constructor(readonly dir: string, private readonly options: ResolvedOptions, recovered: Awaited<ReturnType<typeof recover>>, lock: DirectoryLock | undefined) {
    this.fsys = options.fileSystem
    this.clock = options.clock
    this.lock = lock
    this.recovery = recovered.report
    this.lostRanges = recovered.gaps
    this.logIdentity = recovered.identity
    this.logTag = recovered.identity?.tag ?? 0
    this.segments = recovered.segments
    this.activeIndex = recovered.activeIndex
    this.active = this.segments[this.segments.length - 1] ?? new Segment(dir, recovered.nextOffset, 0, this.logTag)
    this.next = this.written = this.durable = recovered.nextOffset
    this.buf = Buffer.allocUnsafe(options.writeBufferBytes)
    this.cursorSource = this.makeCursorSource()
    this.readAheadBytes = Math.min(options.indexIntervalBytes + 512, 1 << 16)
    if (!options.readOnly) {
      this.writer = this.fsys.open(this.active.path, 'write')
      this.active.closeHandle()
      this.active.adoptHandle(this.writer)
      this.checkpointBase = this.active.base
      this.checkpointPos = this.active.size
    }
  }

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
  static async open(dir: string, options: LogOptions & { encoding?: LogEncoding } = {}): Promise<Log | TypedLog<unknown>> {
    if (typeof dir !== 'string' || dir.length === 0) throw invalidArgument('Log.open needs a directory path (string)')
    const resolved = resolveOptions(options)
    const codec = codecFor(options.encoding)
    const fsys = resolved.fileSystem
    let lock: DirectoryLock | undefined
    if (resolved.readOnly) {
      const stat = statLogDirectory(fsys, dir)
      if (!stat) {
        throw new SeglogError('ERR_NOT_FOUND', `${dir} does not exist yet; a read-only open needs an existing log. ` +
          'If a writer is about to create it, retry later; otherwise open it once without readOnly to create it', { details: { file: dir } })
      }
      if (fsys.lstat(dir)?.type === 'file') throw notADirectory(dir)
    } else {
      makeLogDirectory(fsys, dir)
      lock = DirectoryLock.acquire(dir, fsys)
    }
    let log: Log | undefined
    try {
      // Repair first, on the whole log: cut out damaged bytes anywhere, keep every intact batch.
      const repaired = resolved.repair ? await repairLocked(dir, { fileSystem: fsys }) : undefined
      const recovered = await recover(fsys, dir, resolved)
      if (repaired && !repaired.clean) recovered.report.repaired = repaired
      log = new Log(dir, resolved, recovered, lock)
      if (resolved.readOnly) {
        const disk = readTruncations(fsys, dir)
        // Damaged or mid-truncate: an impossible generation makes the first read reload (and wait).
        log.truncations = disk === 'damaged' ? { generation: -1, cuts: [] } : disk
      } else {
        await log.adoptTruncations()
      }
      log.startTimers()
      if (!resolved.readOnly) log.applyRetention()
      if (channels.recovery.hasSubscribers) channels.recovery.publish({ dir, report: recovered.report })
      if (codec) installCodec<IterateOptions>(log, Log.prototype, codec, dir)
      return log
    } catch (err) {
      if (log) await log.close().catch(() => undefined)
      lock?.release()
      if (err instanceof SeglogError) throw err
      throw new SeglogError('ERR_IO', `could not open the log in ${dir}: ${(err as Error).message}`, { cause: err })
    }
  }

  /** Checks every batch and index of the log in `dir` without opening it for writing. */
  static verify(dir: string, options: VerifyOptions = {}): Promise<VerifyReport> {
    return verifyLog(dir, options)
  }

  /**
   * Repairs the log in `dir` (not open for writing anywhere): cuts out damaged bytes, keeps every
   * intact batch at its offset, records lost ranges as gaps (see {@link Log.gaps}) and cuts a torn
   * tail; a damaged segment is copied aside first. Reports exactly what was lost. `dryRun` only
   * reports.
   */
  static repair(dir: string, options: RepairOptions = {}): Promise<RepairReport> {
    return repairLog(dir, options)
  }

  /**
   * Who holds the write lock on `dir` (pid, host, whether that process is alive), if anyone. A
   * `LOCK` file that names no owner (empty, torn, or written by something else) blocks writers, so
   * it is reported as held with `unknownOwner: true` and no pid or host; see docs/local-log.md for
   * how to clear it.
   */
  static lockHolder(dir: string): LockHolderReport | undefined {
    return reportLockHolder(dir)
  }

  /** Offset of the oldest record still stored (retention and deleteBefore move it). */
  get firstOffset(): number {
    return this.segments.length > 0 ? this.segments[0].base : this.next
  }

  /**
   * Offsets lost to damage that a repair cut out, as `[from, to)` ranges (empty for a healthy
   * log). Reads of them fail with `ERR_OFFSET_LOST`; every record outside them is intact.
   */
  get gaps(): readonly Gap[] {
    return this.lostRanges.filter((g) => g.from < this.next && this.segments.some((s) => s.base === g.to))
  }

  /**
   * The log's identity: a random 128-bit id (32 hex digits) chosen at creation, which every
   * segment is checked against. Undefined for a log created before identities (format 1).
   */
  get id(): string | undefined {
    return this.logIdentity?.id
  }

  /** Offset the next append will get. */
  get nextOffset(): number {
    return this.next
  }

  /** Every record below this offset is on stable storage (fdatasync done). */
  get durableOffset(): number {
    return this.durable
  }

  /** True once {@link Log.close} finished. */
  get closed(): boolean {
    return this.state === 'closed'
  }

  /** Segment files and their sizes (for inspection tools). */
  segmentsInfo(): { base: number; path: string; bytes: number }[] {
    return this.segments.map((s) => ({ base: s.base, path: s.path, bytes: s === this.active ? s.size + this.used : s.size }))
  }

  // ---------------------------------------------------------------- appends

  /**
   * Appends one record; resolves with its offset. Under `sync: 'always'` the promise resolves
   * only after the record is on stable storage; otherwise once it is accepted (see {@link SyncMode}).
   */
  append(data: Uint8Array | string): Promise<number> {
    // Checked first, before waiting or touching any state (rule 20): a bad record rejects only its own call.
    const bad = recordInputError(data, 'the record passed to append')
    if (bad) return Promise.reject(bad)
    if (this.exclusive) return this.exclusive.then(() => Log.prototype.append.call(this, data))
    if (this.state !== 'open' || !this.writer) return Promise.reject(this.unusable())
    const buf = this.buf
    const needHeader = this.batchStart < 0 || this.used - this.batchStart >= MAX_APPEND_BATCH_BYTES
    let len: number
    let bytes: Uint8Array | undefined
    if (typeof data === 'string') {
      const room = buf.length - this.used - BATCH_HEADER_BYTES - RECORD_HEADER_BYTES
      if (data.length * 3 <= room) {
        // Encoded into spare buffer space past `used`: nothing counts until `used` moves.
        len = buf.write(data, this.used + (needHeader ? BATCH_HEADER_BYTES : 0) + RECORD_HEADER_BYTES, 'utf8')
      } else {
        bytes = Buffer.from(data, 'utf8')
        len = bytes.byteLength
      }
    } else {
      bytes = data
      len = data.byteLength
    }
    if (len > this.options.maxRecordBytes) {
      return Promise.reject(new SeglogError('ERR_RECORD_TOO_LARGE',
        `record of ${len} bytes exceeds maxRecordBytes (${this.options.maxRecordBytes}); nothing was written. Split it, or raise maxRecordBytes`,
        { details: { bytes: len, limit: this.options.maxRecordBytes } }))
    }
    const need = (needHeader ? BATCH_HEADER_BYTES : 0) + RECORD_HEADER_BYTES + len
    if (this.used + need > buf.length) {
      if (bytes === undefined) bytes = Buffer.from(data as string, 'utf8')
      if (!this.writePendingSafe()) return Promise.reject(this.unusable())
      if (BATCH_HEADER_BYTES + need > this.buf.length) this.buf = Buffer.allocUnsafe(BATCH_HEADER_BYTES + need)
      return Log.prototype.append.call(this, bytes)
    }
    if (needHeader) {
      this.sealOpenBatch()
      this.batchStart = this.used
      this.batchBase = this.next
      this.batchCount = 0
      this.batchTimestamp = this.clock.now()
      this.used += BATCH_HEADER_BYTES
    }
    const at = this.used
    this.buf.writeUInt32LE(len, at)
    if (bytes !== undefined) this.buf.set(bytes, at + RECORD_HEADER_BYTES)
    const offset = this.next++
    const segPos = this.active.size
    this.activeIndex.maybeAdd(offset, segPos + at, segPos + this.batchStart, this.options.indexIntervalBytes)
    this.used = at + RECORD_HEADER_BYTES + len
    this.batchCount++
    return this.acknowledge(offset)
  }

  /**
   * The promise an append returns: under 'always' it waits for the fsync covering the record;
   * otherwise it resolves now. Also starts the write: at once when the segment is full, else on
   * the next event-loop turn, so that appends made together share one write.
   */
  private acknowledge<T>(value: T): Promise<T> {
    let ack: Promise<T>
    if (this.options.syncAlways) {
      ack = new Promise<T>((resolve, reject) => {
        this.ackResolves.push(resolve as Resolve)
        this.ackRejects.push(reject)
        this.ackValues.push(value)
      })
    } else {
      ack = Promise.resolve(value)
    }
    if (this.active.size + this.used >= this.options.segmentBytes) {
      // On failure the record is lost with the write buffer and the log is failed.
      if (!this.writePendingSafe() && !this.options.syncAlways) return Promise.reject(this.unusable())
    } else if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(this.flushTick)
    }
    return ack
  }

  /**
   * Appends records as one batch: after a crash either all of them are present or none.
   * Resolves with the offsets of the first and last record (durable under `sync: 'always'`).
   */
  appendBatch(records: readonly (Uint8Array | string)[]): Promise<AppendBatchResult> {
    if (!Array.isArray(records) || records.length === 0) {
      return Promise.reject(invalidArgument('appendBatch takes a non-empty array of Uint8Array or string records'))
    }
    const n = records.length
    // Every record is checked, and read exactly once, into our own array before any state changes
    // (rule 20): a getter or a record detached later cannot change what was checked.
    const items = new Array<Uint8Array>(n)
    let total = BATCH_HEADER_BYTES
    for (let i = 0; i < n; i++) {
      const r: unknown = records[i]
      const bad = recordInputError(r, `appendBatch record ${i}`)
      if (bad) return Promise.reject(bad)
      const bytes = typeof r === 'string' ? Buffer.from(r, 'utf8') : r as Uint8Array
      items[i] = bytes
      const len = bytes.byteLength
      if (len > this.options.maxRecordBytes) {
        return Promise.reject(new SeglogError('ERR_RECORD_TOO_LARGE',
          `record ${i} of ${len} bytes exceeds maxRecordBytes (${this.options.maxRecordBytes}); nothing was written`,
          { details: { index: i, bytes: len, limit: this.options.maxRecordBytes } }))
      }
      total += RECORD_HEADER_BYTES + len
    }
    if (total > this.options.maxBatchBytes) {
      return Promise.reject(new SeglogError('ERR_RECORD_TOO_LARGE',
        `batch of ${total} bytes exceeds maxBatchBytes (${this.options.maxBatchBytes}); nothing was written. Split it into smaller batches`,
        { details: { bytes: total, limit: this.options.maxBatchBytes } }))
    }
    return this.appendChecked(items, total)
  }

  private appendChecked(items: Uint8Array[], total: number): Promise<AppendBatchResult> {
    // Checked again after the wait: the caller may have transferred a buffer meanwhile.
    if (this.exclusive) return this.exclusive.then(() => Log.prototype.appendBatch.call(this, items))
    if (this.state !== 'open' || !this.writer) return Promise.reject(this.unusable())
    const n = items.length
    this.sealOpenBatch()
    if (this.used + total > this.buf.length) {
      if (!this.writePendingSafe()) return Promise.reject(this.unusable())
      if (total > this.buf.length) this.buf = Buffer.allocUnsafe(total)
    }
    const first = this.next
    const start = this.used
    const segPos = this.active.size
    const buf = this.buf
    const index = this.activeIndex
    const interval = this.options.indexIntervalBytes
    // The hot loop: positions relative to the buffer; an index entry every `interval` bytes.
    let due = index.dueAt(interval) - segPos
    let p = start + BATCH_HEADER_BYTES
    for (let i = 0; i < n; i++) {
      const bytes = items[i]
      const len = bytes.byteLength
      buf[p] = len
      buf[p + 1] = len >>> 8
      buf[p + 2] = len >>> 16
      buf[p + 3] = len >>> 24
      buf.set(bytes, p + RECORD_HEADER_BYTES)
      if (p >= due) {
        index.add(first + i, segPos + p, segPos + start)
        due = p + interval
      }
      p += RECORD_HEADER_BYTES + len
    }
    const timestamp = this.clock.now()
    sealBatch(this.buf, start, total, first, timestamp, n, this.logTag)
    if (timestamp > this.activeIndex.maxTimestamp) this.activeIndex.maxTimestamp = timestamp
    this.used = p
    this.next = first + n
    return this.acknowledge<AppendBatchResult>({ first, last: this.next - 1 })
  }

  /** Resolves once every record appended before the call is on stable storage. */
  async sync(): Promise<void> {
    while (this.exclusive) await this.exclusive
    if (this.state !== 'open' || !this.writer) throw this.unusable()
    if (!this.writePendingSafe()) throw this.unusable()
    await this.waitDurable(this.written)
  }

  private sealOpenBatch(): void {
    if (this.batchStart < 0) return
    sealBatch(this.buf, this.batchStart, this.used - this.batchStart, this.batchBase, this.batchTimestamp, this.batchCount, this.logTag)
    if (this.batchTimestamp > this.activeIndex.maxTimestamp) this.activeIndex.maxTimestamp = this.batchTimestamp
    this.batchStart = -1
  }

  /** Writes the buffer to the OS; on failure fails the log and returns false. */
  private writePendingSafe(): boolean {
    try {
      this.writePending()
      return true
    } catch (err) {
      this.fail(err)
      return false
    }
  }

  private writePending(): void {
    if (this.used === 0 || !this.writer) return
    this.sealOpenBatch()
    const bytes = this.used
    this.writer.write(this.buf, 0, bytes, this.active.size)
    this.active.size += bytes
    this.used = 0
    if (this.buf.length > this.options.writeBufferBytes) this.buf = Buffer.allocUnsafe(this.options.writeBufferBytes)
    const records = this.next - this.written
    this.written = this.next
    this.activeIndex.coveredBytes = this.active.size
    this.activeIndex.nextOffset = this.written
    if (channels.write.hasSubscribers) channels.write.publish({ dir: this.dir, records, bytes })
    if (this.ackResolves.length > 0) {
      this.groups.push({ until: this.written, resolves: this.ackResolves, rejects: this.ackRejects, values: this.ackValues })
      this.ackResolves = []
      this.ackRejects = []
      this.ackValues = []
    }
    if (this.options.syncAlways) this.requestSync()
    if (this.dataWaiters.length > 0) this.wakeReaders()
    if (this.active.size >= this.options.segmentBytes) this.roll()
  }

  // ---------------------------------------------------------------- group commit

  /**
   * Asks for an fsync round. `active` false (a roll under 'never' or an interval) syncs only the
   * sealed segments and the directory: fsyncing the file being appended to would make those
   * appends wait on it for nothing.
   */
  private requestSync(active = true): void {
    if (active) this.activeSyncWanted = true
    if (this.syncing) {
      this.syncAgain = true
      return
    }
    this.runSyncRound()
  }

  /** One fsync round: every file written since the last round, plus the directory if it changed. */
  private runSyncRound(): void {
    const writer = this.writer
    if (!writer) return
    this.syncing = true
    this.syncAgain = false
    const includeActive = this.activeSyncWanted || this.options.syncAlways
    this.activeSyncWanted = false
    const target = includeActive ? this.written : this.active.base
    const segment = this.active
    const position = includeActive ? this.active.size : 0
    const handles = this.unsynced
    this.unsynced = []
    const syncDir = this.dirDirty
    this.dirDirty = false
    const started = performance.now()
    const ops: Promise<void>[] = handles.map((h) => h.datasync())
    if (includeActive) ops.push(writer.datasync())
    if (syncDir) ops.push(this.fsys.syncDir(this.dir))
    Promise.all(ops).then(() => {
      for (const h of handles) closeQuietly(h)
      this.syncing = false
      if (this.state === 'failed' || this.state === 'closed') return this.settleIdle()
      if (target > this.durable) this.durable = target
      if (channels.fsync.hasSubscribers) {
        channels.fsync.publish({ dir: this.dir, durableOffset: this.durable, durationMs: performance.now() - started, files: ops.length })
      }
      this.resolveDurable()
      this.maybeCheckpoint(segment, position, target)
      const behind = this.written > this.durable && (this.groups.length > 0 || this.syncWaiters.length > 0)
      if (this.syncAgain || behind || this.unsynced.length > 0) this.runSyncRound()
      else this.settleIdle()
    }, (err: unknown) => {
      for (const h of handles) closeQuietly(h)
      this.syncing = false
      this.fail(err)
      this.settleIdle()
    })
  }

  private settleIdle(): void {
    if (this.syncing) return
    const idle = this.syncIdle
    this.syncIdle = []
    for (const fn of idle) fn()
  }

  /** Resolves when no fsync round is running. */
  private syncSettled(): Promise<void> {
    if (!this.syncing) return Promise.resolve()
    return new Promise((resolve) => this.syncIdle.push(resolve))
  }

  private resolveDurable(): void {
    const durable = this.durable
    while (this.groups.length > 0 && this.groups[0].until <= durable) {
      const g = this.groups.shift() as AckGroup
      for (let i = 0; i < g.resolves.length; i++) (g.resolves[i] as (v: unknown) => void)(g.values[i])
    }
    for (let i = 0; i < this.syncWaiters.length;) {
      if (this.syncWaiters[i].until <= durable) this.syncWaiters.splice(i, 1)[0].resolve()
      else i++
    }
  }

  private waitDurable(until: number): Promise<void> {
    if (until <= this.durable) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      this.syncWaiters.push({ until, resolve, reject })
      this.requestSync()
    })
  }

  /** A checkpoint is a hint for recovery; it is written only over data already fsynced. */
  private maybeCheckpoint(segment: Segment, position: number, nextOffset: number): void {
    if (segment.base === this.checkpointBase && position - this.checkpointPos < CHECKPOINT_EVERY_BYTES) return
    try {
      // Durable before the rename: a power cut must leave the old checkpoint or the new one, never
      // an empty one, or the next open reads every segment (rule 4). 40 bytes, once per roll or 8 MiB.
      writeCheckpoint(this.fsys, this.dir, { segmentBase: segment.base, position, nextOffset, clean: false }, true)
      this.checkpointBase = segment.base
      this.checkpointPos = position
    } catch {
      // Only a hint: without it recovery scans more of the last segment.
    }
  }

  private fail(cause: unknown): void {
    if (this.state === 'failed' || this.state === 'closed') return
    const error = cause instanceof SeglogError && cause.code === 'ERR_IO' ? cause : new SeglogError('ERR_IO',
      `a write or fsync failed in ${this.dir} (${(cause as Error)?.message ?? String(cause)}); the log no longer accepts writes. ` +
      'Close it and open it again: recovery keeps every record that was acknowledged as durable',
      { cause, details: { file: this.active.path } })
    this.failure = error
    this.state = 'failed'
    if (channels.failure.hasSubscribers) channels.failure.publish({ dir: this.dir, error })
    for (const reject of this.ackRejects) reject(error)
    this.ackResolves = []
    this.ackRejects = []
    this.ackValues = []
    this.used = 0
    this.batchStart = -1
    for (const g of this.groups.splice(0)) for (const reject of g.rejects) reject(error)
    for (const w of this.syncWaiters.splice(0)) w.reject(error)
    this.wakeReaders()
    // Worker appends fail at once too, rather than on their next batch.
    void this.bridge?.close(error).catch(() => undefined)
  }

  private unusable(): SeglogError {
    if (this.state === 'failed' && this.failure) return this.failure
    if (this.state === 'open' && this.options.readOnly) {
      return new SeglogError('ERR_READ_ONLY', `the log in ${this.dir} was opened with { readOnly: true }; open it without readOnly to write`)
    }
    return new SeglogError('ERR_CLOSED', `the log in ${this.dir} is closed; open it again with Log.open()`)
  }

  // ---------------------------------------------------------------- segments

  private roll(): void {
    const sealed = this.active
    const index = this.activeIndex
    index.coveredBytes = sealed.size
    index.nextOffset = this.written
    try {
      this.fsys.writeFile(sealed.indexPath, index.encode(), false)
    } catch {
      // Derived data: a missing index is rebuilt when the segment is next read.
    }
    const base = this.written
    const segment = new Segment(this.dir, base, 0, this.logTag)
    const handle = this.fsys.open(segment.path, 'create-new')
    if (this.writer) this.unsynced.push(this.writer)
    sealed.adoptHandle(undefined)
    this.activate(segment, handle)
    this.dirDirty = true
    if (channels.roll.hasSubscribers) channels.roll.publish({ dir: this.dir, sealed: sealed.path, base })
    this.requestSync(this.options.syncAlways)
    this.applyRetention()
  }

  /** Makes a freshly created, empty segment the active one, written through `handle`. */
  private activate(segment: Segment, handle: FileHandle): void {
    this.writer = handle
    segment.adoptHandle(handle)
    segment.index = new SparseIndex(segment.base)
    this.activeIndex = segment.index
    this.segments.push(segment)
    this.active = segment
  }

  /**
   * Deletes the oldest sealed segments that the retention options no longer keep. Runs only
   * between exclusive operations (its callers check the gate), never deletes the active segment.
   */
  private applyRetention(): void {
    const { maxBytes, maxAgeMs } = this.options.retention
    if (maxBytes === undefined && maxAgeMs === undefined) return
    const removed: string[] = []
    if (maxBytes !== undefined) {
      let total = 0
      for (const s of this.segments) total += s.size
      while (this.segments.length > 1 && this.segments[0] !== this.active && total > maxBytes) {
        total -= this.segments[0].size
        removed.push(this.deleteOldestSegment())
      }
    }
    if (maxAgeMs !== undefined) {
      const cutoff = this.clock.now() - maxAgeMs
      while (this.segments.length > 1 && this.segments[0] !== this.active) {
        const stat = this.fsys.stat(this.segments[0].path)
        if (!stat || stat.mtimeMs >= cutoff) break
        removed.push(this.deleteOldestSegment())
      }
    }
    if (removed.length > 0) {
      this.dirDirty = true
      if (channels.retention.hasSubscribers) channels.retention.publish({ dir: this.dir, files: removed, reason: 'retention' })
    }
  }

  /** The timer's turn: skipped while an exclusive operation runs (rule 18); the next tick retries. */
  private retentionTick(): void {
    if (this.state !== 'open' || this.exclusive) return
    try {
      this.applyRetention()
    } catch {
      // A segment that could not be deleted stays in the log (still readable); the next tick retries.
    }
  }

  /** Unlinks first and forgets the segment only then, so a failed unlink leaves a consistent log. */
  private deleteOldestSegment(): string {
    const segment = this.segments[0]
    if (segment === this.active || this.segments.length < 2) throw new Error('seglog bug: asked to delete the active segment')
    this.fsys.unlink(segment.path)
    this.segments.shift()
    this.loadedSealed = this.loadedSealed.filter((s) => s !== segment)
    closeSegmentQuietly(segment)
    try {
      this.fsys.unlink(segment.indexPath)
    } catch {
      // No index file (never sealed cleanly): nothing to remove.
    }
    return segment.path
  }

  /**
   * Runs `job` as the only operation changing files: it waits for the one before, and appends,
   * reads, cursors and background jobs wait for it (or skip their turn) until it finishes.
   */
  private async exclusively<T>(job: () => Promise<T>): Promise<T> {
    while (this.exclusive) await this.exclusive
    const run = job()
    const gate = run.then(() => undefined, () => undefined)
    this.exclusive = gate
    try {
      return await run
    } finally {
      if (this.exclusive === gate) this.exclusive = undefined
    }
  }

  /**
   * Deletes whole sealed segments whose records all lie below `offset`. Records at or above
   * `offset` are always kept; some below it may remain (deletion is by segment). Resolves with
   * the new first offset.
   */
  deleteBefore(offset: number): Promise<number> {
    return this.exclusively(async () => {
      if (this.state !== 'open' || !this.writer) throw this.unusable()
      checkOffset(offset, 'deleteBefore')
      const removed: string[] = []
      try {
        while (this.segments.length > 1 && this.segments[1].base <= offset) removed.push(this.deleteOldestSegment())
        if (removed.length > 0) await this.fsys.syncDir(this.dir)
      } catch (err) {
        this.fail(err)
        throw this.unusable()
      }
      if (removed.length > 0 && channels.retention.hasSubscribers) channels.retention.publish({ dir: this.dir, files: removed, reason: 'deleteBefore' })
      return this.firstOffset
    })
  }

  /**
   * Removes every record at or after `offset`; the next append gets `offset`. Crash-safe: once
   * it resolves the cut is durable, and a crash part-way is completed by the next open. Open
   * iterators that already handed out a removed record fail with `ERR_TRUNCATED`; the others
   * continue with what the log holds after the cut.
   */
  truncate(offset: number): Promise<void> {
    return this.exclusively(async () => {
      if (this.state !== 'open' || !this.writer) throw this.unusable()
      checkOffset(offset, 'truncate')
      await this.truncateNow(offset)
    })
  }

  private async truncateNow(offset: number): Promise<void> {
    if (offset < this.firstOffset || offset > this.next) {
      throw new SeglogError('ERR_OFFSET_OUT_OF_RANGE',
        `truncate(${offset}) is outside the log's offsets [${this.firstOffset}, ${this.next}]; nothing was changed`,
        { details: { offset } })
    }
    if (offset === this.next) return
    if (!this.writePendingSafe()) throw this.unusable()
    // The intent (and the checkpoint its replay writes) vouch for every byte before the cut: those
    // must be durable first, also under sync 'never' or an interval, or a power cut can leave
    // a checkpoint over torn data.
    await this.waitDurable(this.written)
    await this.syncSettled()
    if (this.state !== 'open') throw this.unusable()
    // Derived only now, after the last await before the change; the gate keeps every other job
    // (retention, rolls, deleteBefore) from changing the segment list until the truncate is done.
    const at = this.segmentIndexFor(offset)
    const segment = this.segments[at]
    const index = this.indexOf(at)
    // An offset past the end of a sealed segment lies in a gap a repair recorded: cut after that
    // segment, then start the new end at `offset` with the part of the gap below it still recorded.
    const gapFrom = this.lostAt(offset, at) ? index.nextOffset : undefined
    const cut = gapFrom !== undefined ? { position: segment.size, baseOffset: gapFrom, header: undefined, bytes: Buffer.alloc(0) } : this.locateBatch(segment, index, offset)
    let replacement: Buffer = Buffer.alloc(0)
    if (cut.header && cut.baseOffset < offset) {
      const records: Buffer[] = []
      forEachRecord(cut.bytes, 0, cut.header, (data, off) => {
        if (off < offset) records.push(Buffer.from(data))
      })
      replacement = encodeBatch(records, cut.baseOffset, cut.header.timestamp, this.logTag)
    }
    const intent = { segmentBase: segment.base, cutPosition: cut.position, nextOffset: gapFrom ?? offset, replacement }
    // Readers learn of the cut before any byte changes (an odd generation: wait), and again once it is done.
    const begun = beginTruncate(this.truncations, offset)
    this.truncations = begun
    this.watch.stamp++
    try {
      await writeTruncations(this.fsys, this.dir, begun)
      await recordIntent(this.fsys, this.dir, intent)
      const kept = this.segments.indexOf(segment)
      if (kept < 0) throw new Error(`the segment ${segment.path} left the log during truncate`)
      for (const s of this.segments.slice(kept)) closeSegmentQuietly(s)
      if (this.writer && this.active !== segment) closeQuietly(this.writer)
      for (const h of this.unsynced.splice(0)) closeQuietly(h)
      this.writer = undefined
      await applyIntent(this.fsys, this.dir, intent)
      this.segments = this.segments.slice(0, kept + 1)
      this.loadedSealed = this.loadedSealed.filter((s) => s !== segment && s.base < segment.base)
      this.active = segment
      segment.size = cut.position + replacement.length
      segment.forgetFrom(cut.position)
      index.truncateTo(intent.nextOffset, segment.size)
      segment.index = index
      this.activeIndex = index
      this.writer = this.fsys.open(segment.path, 'write')
      segment.adoptHandle(this.writer)
      this.next = this.written = this.durable = intent.nextOffset
      this.checkpointBase = segment.base
      this.checkpointPos = segment.size
      const keptGaps = this.lostRanges.filter((g) => g.to <= intent.nextOffset)
      if (gapFrom !== undefined && offset > gapFrom) await this.startAfterGap(keptGaps, gapFrom, offset)
      else if (keptGaps.length !== this.lostRanges.length) {
        this.lostRanges = keptGaps
        await writeGaps(this.fsys, this.dir, keptGaps)
      }
      const ended = endTruncate(begun)
      await writeTruncations(this.fsys, this.dir, ended)
      this.truncations = ended
      this.watch.stamp++
    } catch (err) {
      this.fail(err)
      throw this.unusable()
    }
  }

  /**
   * After a truncate into a recorded gap `[from, …)`: records `[from, to)` as lost and makes a new,
   * empty active segment at `to`, so the next append gets `to` as truncate() promises.
   */
  private async startAfterGap(kept: Gap[], from: number, to: number): Promise<void> {
    const gaps = mergeGaps(kept, [{ from, to }])
    await writeGaps(this.fsys, this.dir, gaps)
    this.lostRanges = gaps
    const segment = new Segment(this.dir, to, 0, this.logTag)
    const handle = this.fsys.open(segment.path, 'create-new')
    await this.fsys.syncDir(this.dir)
    this.active.adoptHandle(undefined)
    if (this.writer) closeQuietly(this.writer)
    this.activate(segment, handle)
    this.next = this.written = this.durable = to
    // The checkpoint names the sealed segment; the next round writes one for this segment.
    this.checkpointBase = -1
  }

  /** Finds the batch holding `offset` in `segment`: its position, header and bytes. */
  private locateBatch(segment: Segment, index: SparseIndex, offset: number): { position: number; baseOffset: number; header: BatchHeader; bytes: Buffer } {
    const handle = segment.handle(this.fsys)
    const i = index.floor(offset)
    let position = i < 0 ? 0 : index.batchPosAt(i)
    const header = new BatchHeader()
    const head = Buffer.allocUnsafe(BATCH_HEADER_BYTES)
    while (position < segment.size) {
      handle.read(head, 0, BATCH_HEADER_BYTES, position)
      const length = head.readUInt32LE(12)
      if (length < BATCH_HEADER_BYTES || position + length > segment.size) throw corruptError(segment.path, position, 'batch length runs past the segment')
      const bytes = Buffer.allocUnsafe(length)
      handle.read(bytes, 0, length, position)
      const status = parseBatch(bytes, 0, length, header, true)
      if (status !== BatchStatus.Ok) throw corruptError(segment.path, position, describeStatus(status))
      if (offset < header.baseOffset + header.count) return { position, baseOffset: header.baseOffset, header, bytes }
      position += length
    }
    throw corruptError(segment.path, position, `offset ${offset} not found in its segment`)
  }

  // ---------------------------------------------------------------- reads

  /**
   * The record at `offset`, or `undefined` when there is none: at or past {@link nextOffset},
   * or below {@link firstOffset} (deleted by retention). The returned data is a copy.
   * Throws `ERR_CORRUPT` if the stored batch fails its checksum.
   */
  read(offset: number): Promise<LogRecord | undefined> {
    // While a truncate rewrites files, the state to read from is being replaced: wait for it.
    if (this.exclusive) return this.exclusive.then(() => Log.prototype.read.call(this, offset))
    if (this.options.readOnly) return this.readFollowing(offset)
    try {
      return Promise.resolve(this.readNow(offset))
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /**
   * A read-only read, checked like a sequence lock against the writer's truncates: the truncate
   * generation must be even and unchanged from before the read to after it, or the result (or
   * error) may come from files the writer was rewriting, and the read is done again.
   */
  private async readFollowing(offset: number): Promise<LogRecord | undefined> {
    for (let attempt = 0; ; attempt++) {
      const pending = this.settle()
      if (pending) await pending
      const generation = this.truncations.generation
      let record: LogRecord | undefined
      try {
        record = this.readNow(offset)
      } catch (err) {
        if (attempt >= MAX_READ_RETRIES || !this.changedSince(generation)) throw err
        continue
      }
      if (!this.changedSince(generation)) return record
      if (attempt >= MAX_READ_RETRIES) {
        throw new SeglogError('ERR_IO', `the log in ${this.dir} was truncated ${MAX_READ_RETRIES} times while read(${offset}) ran; read again`,
          { details: { offset } })
      }
    }
  }

  private readNow(offset: number): LogRecord | undefined {
    this.checkReadable()
    checkOffset(offset, 'read')
    if (this.options.readOnly && offset >= this.next) this.refresh()
    if (offset >= this.next || offset < this.firstOffset) return undefined
    if (offset >= this.written && !this.writePendingSafe()) throw this.unusable()
    const at = this.segmentIndexFor(offset)
    const lost = this.lostAt(offset, at)
    if (lost) throw offsetLostError(offset, lost, this.dir)
    try {
      return this.segments[at].read(this.fsys, offset, this.indexOf(at), this.readAheadBytes)
    } catch (err) {
      if (!(err instanceof InconsistentIndexError)) throw err
      // The index is derived data that contradicts the segment: build it again from the batches.
      return this.segments[at].read(this.fsys, offset, this.rebuildIndexOf(at), this.readAheadBytes)
    }
  }

  /** Where sealed segment `at` must end: the next segment's base, or the start of a recorded gap before it. */
  private expectedEnd(at: number): number | undefined {
    const following = this.segments[at + 1]
    if (!following) return undefined
    const gap = this.lostRanges.find((g) => g.to === following.base)
    return gap ? gap.from : following.base
  }

  /** Replaces the index of segment `at` with one scanned from its verified batches. */
  private rebuildIndexOf(at: number): SparseIndex {
    const segment = this.segments[at]
    if (segment !== this.active) return segment.rebuildIndex(this.fsys, this.options.indexIntervalBytes, this.expectedEnd(at), !this.options.readOnly)
    // The active index also covers buffered records: write them first so the scan sees them all.
    if (!this.writePendingSafe()) throw this.unusable()
    const index = segment.rebuildIndex(this.fsys, this.options.indexIntervalBytes, undefined, false)
    this.activeIndex = index
    return index
  }

  /**
   * The recorded gap holding `offset` when it lies past the end of its (sealed) segment `at`.
   * A hole that no repair recorded is damage: ERR_CORRUPT.
   */
  private lostAt(offset: number, at: number): Gap | undefined {
    if (at >= this.segments.length - 1) return undefined
    const end = this.indexOf(at).nextOffset
    if (offset < end) return undefined
    const gap = gapAt(this.lostRanges, offset)
    if (gap) return gap
    const next = this.segments[at + 1]
    throw corruptError(this.segments[at].path, this.segments[at].size,
      `offsets ${end}…${next.base - 1} are missing between this segment and the next, and no repair recorded them`)
  }

  private checkReadable(): void {
    if (this.state === 'closed') throw this.unusable()
    if (this.state === 'failed' && this.failure) throw this.failure
  }

  private segmentIndexFor(offset: number): number {
    const segs = this.segments
    let lo = 0
    let hi = segs.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (segs[mid].base <= offset) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  private indexOf(at: number): SparseIndex {
    const segment = this.segments[at]
    if (segment === this.active) return this.activeIndex
    if (segment.index) return segment.index
    const index = segment.ensureIndex(this.fsys, this.options.indexIntervalBytes, this.expectedEnd(at), !this.options.readOnly)
    // Memory must not grow with the log: keep the indexes (and read handles) of a few sealed segments.
    this.loadedSealed.push(segment)
    if (this.loadedSealed.length > MAX_LOADED_SEALED_SEGMENTS) (this.loadedSealed.shift() as Segment).unload()
    return index
  }

  /**
   * Yields records in offset order. `data` is a zero-copy view into a read block of up to 1 MiB
   * and stays valid while referenced. With `follow`, waits at the end for new records (in another
   * process too, for a read-only log) until `signal` aborts or the log closes.
   */
  iterate(options: IterateOptions = {}): AsyncIterableIterator<LogRecord> {
    const from = options.from ?? this.firstOffset
    checkOffset(from, 'iterate from')
    if (options.to !== undefined) checkOffset(options.to, 'iterate to')
    if (options.gaps !== undefined && options.gaps !== 'stop' && options.gaps !== 'skip') throw invalidArgument(`iterate gaps must be 'stop' or 'skip'; got ${describeType(options.gaps)}`)
    return new RecordCursor(this.cursorSource, from, options.to ?? Number.POSITIVE_INFINITY, options.follow ?? false, options.signal, options.gaps ?? 'stop')
  }

  /**
   * Like {@link iterate}, but yields arrays of consecutive records: everything one read block
   * holds (up to 1 MiB). The fastest way to scan; the records are the same zero-copy views.
   */
  iterateBatches(options: IterateOptions = {}): AsyncIterableIterator<LogRecord[]> {
    const cursor = Log.prototype.iterate.call(this, options) as RecordCursor
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

  /** The cursor's narrow view of this log. */
  private makeCursorSource(): CursorSource {
    return {
    fsys: this.fsys,
    dir: this.dir,
    watch: this.watch,
    registry: this.cursors,
    generation: () => this.truncations.generation,
    lowestCutSince: (generation) => lowestCutSince(this.truncations, generation),
    settle: () => this.settle(),
    changedSince: (generation) => this.changedSince(generation),
    isClosed: () => this.state === 'closed',
    firstOffset: () => this.firstOffset,
    writtenOffset: () => this.written,
    assignedOffset: () => this.next,
    writeBuffered: () => {
      if (!this.writePendingSafe()) throw this.unusable()
    },
    checkReadable: () => this.checkReadable(),
    canFollow: () => this.state === 'open',
    refresh: () => this.refresh(),
    logTag: this.logTag,
    lostAt: (offset) => this.lostAt(offset, this.segmentIndexFor(offset)),
    lostError: (offset, gap) => offsetLostError(offset, gap, this.dir),
    segmentFor: (offset) => {
      const at = this.segmentIndexFor(offset)
      return { segment: this.segments[at], index: this.indexOf(at) }
    },
    rebuildIndex: (segment) => {
      const at = this.segments.indexOf(segment)
      if (at >= 0) this.rebuildIndexOf(at)
    },
    waitForData: (offset, signal) => this.waitForData(offset, signal),
    }
  }

  /** A Readable (objectMode) over {@link iterate}. */
  createReadStream(options: IterateOptions = {}): Readable {
    return Readable.from(this.iterate(options), { objectMode: true })
  }

  private waitForData(offset: number, signal: AbortSignal | undefined): Promise<void> {
    if (offset < this.written || this.state !== 'open') return Promise.resolve()
    if (this.options.readOnly) return this.waitForOtherProcess(offset, signal)
    return new Promise<void>((resolve) => {
      const onAbort = (): void => resolve()
      signal?.addEventListener('abort', onAbort, { once: true })
      this.dataWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      })
    })
  }

  /**
   * A read-only follower learns of another process's appends from directory change events, with
   * a poll as the fallback (events can be coalesced or unsupported, e.g. on network file systems).
   */
  private waitForOtherProcess(offset: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined
      let watcher: fs.FSWatcher | undefined
      let settled = false
      const done = (): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        watcher?.close()
        signal?.removeEventListener('abort', done)
        resolve()
      }
      const check = (): void => {
        if (settled) return
        clearTimeout(timer)
        try {
          if (this.changedSince(this.truncations.generation)) return done() // the cursor reloads and re-checks its position
          this.refresh()
        } catch {
          return done() // the cursor re-runs refresh and surfaces the error
        }
        if (this.written > offset || this.state !== 'open') return done()
        timer = setTimeout(check, this.options.followPollMs)
      }
      signal?.addEventListener('abort', done, { once: true })
      this.dataWaiters.push(done)
      try {
        watcher = fs.watch(this.dir, { persistent: false }, check)
        watcher.on('error', () => undefined)
      } catch {
        // No change events here: the poll alone will do.
      }
      timer = setTimeout(check, this.options.followPollMs)
    })
  }

  private wakeReaders(): void {
    const waiters = this.dataWaiters
    this.dataWaiters = []
    for (const w of waiters) w()
  }

  // ---------------------------------------------------------------- read-only following

  /**
   * For a read-only log: picks up what the writer (another process) added since the last look:
   * new batches at the end of the last segment, new segments, segments deleted by retention.
   */
  private refresh(): void {
    if (!this.options.readOnly) return
    const names = this.fsys.readdir(this.dir)
    const bases = names.map(parseSegmentName).filter((b): b is number => b !== undefined).sort((a, b) => a - b)
    if (bases.length === 0) return
    while (this.segments.length > 0 && this.segments[0].base < bases[0]) this.segments.shift()?.closeHandle()
    if (this.segments.length === 0) {
      // Everything we knew was deleted: start over from the oldest segment present.
      const seg = new Segment(this.dir, bases[0], 0, this.logTag)
      seg.index = new SparseIndex(bases[0])
      this.segments.push(seg)
      this.active = seg
      this.activeIndex = seg.index
      this.next = this.written = this.durable = bases[0]
    }
    for (;;) {
      const stat = this.fsys.stat(this.active.path)
      const size = stat?.size ?? this.active.size
      if (size > this.active.size) {
        const scan = scanSegment(this.active.handle(this.fsys), size, this.active.size, this.written,
          { index: this.activeIndex, indexIntervalBytes: this.options.indexIntervalBytes, tag: this.logTag })
        if (scan.stop === 'newer-version') {
          throw new SeglogError('ERR_FORMAT_VERSION', `${this.active.path} byte ${scan.validEnd}: ${scan.fault}; upgrade seglog`,
            { details: { file: this.active.path, position: scan.validEnd } })
        }
        if (scan.stop === 'corrupt') throw corruptError(this.active.path, scan.validEnd, scan.fault ?? 'damaged batch')
        // 'torn' here is usually a write in progress: take what is complete and look again later.
        this.active.size = scan.validEnd
        this.activeIndex.coveredBytes = scan.validEnd
        this.activeIndex.nextOffset = scan.nextOffset
        this.next = this.written = this.durable = scan.nextOffset
      }
      const newer = bases.find((b) => b > this.active.base)
      if (newer === undefined || newer !== this.written) return
      const seg = new Segment(this.dir, newer, 0, this.logTag)
      seg.index = new SparseIndex(newer)
      this.segments.push(seg)
      this.active = seg
      this.activeIndex = seg.index
    }
  }

  // ---------------------------------------------------------------- truncate generation

  /**
   * What must finish before this log's in-memory state may be read: an exclusive operation in
   * this process, or (read-only) a reload because the writer truncated. Undefined when nothing.
   */
  private settle(): Promise<void> | undefined {
    if (this.exclusive) return this.exclusive.then(() => undefined)
    if (!this.options.readOnly || this.state !== 'open') return undefined
    if (this.reloading) return this.reloading
    const disk = readTruncations(this.fsys, this.dir)
    if (disk !== 'damaged' && disk.generation === this.truncations.generation && disk.generation % 2 === 0) return undefined
    this.reloading = this.reload().finally(() => {
      this.reloading = undefined
    })
    return this.reloading
  }

  /** Read-only: true when the writer's truncate generation differs from `generation` (or is unreadable). */
  private changedSince(generation: number): boolean {
    if (!this.options.readOnly) return false
    const disk = readTruncations(this.fsys, this.dir)
    return disk === 'damaged' || disk.generation !== generation
  }

  /**
   * Read-only: reads the directory again after the writer truncated, once its truncate is done
   * (an odd generation means it is still changing files). A writer that died mid-truncate leaves
   * the generation odd: that is reported rather than waited on forever.
   */
  private async reload(): Promise<void> {
    for (;;) {
      const disk = readTruncations(this.fsys, this.dir)
      if (disk === 'damaged' || disk.generation % 2 === 1) {
        const holder = lockHolder(this.dir)
        if (!holder?.alive) {
          throw new SeglogError('ERR_IO', `a truncate of the log in ${this.dir} was interrupted (its writer is gone), so its files may be half-changed; ` +
            'open the log for writing once (that completes the truncate), then read again', { details: { file: this.dir } })
        }
        // The writer's truncate takes a few fsyncs; there is no event to wait on across processes.
        await new Promise<void>((resolve) => setTimeout(resolve, this.options.followPollMs))
        continue
      }
      if (this.state !== 'open') return
      const recovered = await recover(this.fsys, this.dir, this.options)
      if (this.changedSince(disk.generation) || this.state !== 'open') {
        for (const s of recovered.segments) closeSegmentQuietly(s)
        if (this.state !== 'open') return
        continue
      }
      for (const s of this.segments) closeSegmentQuietly(s)
      this.segments = recovered.segments
      this.activeIndex = recovered.activeIndex
      this.active = this.segments[this.segments.length - 1] ?? new Segment(this.dir, recovered.nextOffset, 0)
      this.loadedSealed = []
      this.next = this.written = this.durable = recovered.nextOffset
      this.truncations = disk
      this.watch.stamp++
      return
    }
  }

  /** Writable open: the generation on disk, made even and readable (a crash mid-truncate leaves it odd; recovery finished the cut). */
  private async adoptTruncations(): Promise<void> {
    const disk = readTruncations(this.fsys, this.dir)
    if (disk === 'damaged') {
      // The remembered cuts are lost: a fresh generation no reader holds makes every reader reload,
      // and lowestCutSince() answers 0 (fail) for cursors that cannot be checked.
      this.truncations = { generation: 2 * (1 + Math.floor(Math.random() * 2 ** 30)), cuts: [] }
      await writeTruncations(this.fsys, this.dir, this.truncations)
    } else if (disk.generation % 2 === 1) {
      this.truncations = endTruncate(disk)
      await writeTruncations(this.fsys, this.dir, this.truncations)
    } else {
      this.truncations = disk
    }
  }

  // ---------------------------------------------------------------- lifecycle

  /** Background jobs on the log's clock; each skips its turn while an exclusive operation runs (rule 18). */
  private startTimers(): void {
    if (this.options.readOnly) return
    if (this.options.syncIntervalMs > 0) {
      this.stopTimers.push(this.clock.every(this.options.syncIntervalMs, () => {
        if (this.state === 'open' && !this.exclusive && this.writePendingSafe() && this.written > this.durable) this.requestSync()
      }))
    }
    const { maxAgeMs } = this.options.retention
    if (maxAgeMs !== undefined) {
      this.stopTimers.push(this.clock.every(Math.min(Math.max(Math.floor(maxAgeMs / 4), 10), 60_000), () => this.retentionTick()))
    }
  }

  /**
   * Creates (once) the shared-memory ring through which worker threads append, and returns a
   * structured-cloneable handle for `LogWriter.connect()` in a worker.
   */
  workerHandle(): WorkerHandle {
    if (this.state !== 'open' || !this.writer) throw this.unusable()
    if (!bridgeFactory) throw new SeglogError('ERR_INVALID_ARGUMENT', 'worker-thread appends are not available in this build')
    if (!this.bridge) this.bridge = bridgeFactory(this, { maxRecordBytes: this.options.maxRecordBytes, maxBatchBytes: this.options.maxBatchBytes })
    return this.bridge.handle() as WorkerHandle
  }

  /**
   * Writes and fsyncs everything appended, records a clean-shutdown checkpoint and releases the
   * lock. Safe to call twice. After an I/O failure it releases everything and rethrows `ERR_IO`.
   */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose()
    return this.closing
  }

  /**
   * Always ends with every descriptor closed (cursors' too), the timers stopped and the lock
   * released; a failure on the way is reported as a SeglogError after that cleanup.
   */
  private async doClose(): Promise<void> {
    while (this.exclusive) await this.exclusive
    // Worker appends drain through appendBatch, so the ring closes before the log stops accepting.
    if (this.bridge) await this.bridge.close().catch(() => undefined)
    while (this.exclusive) await this.exclusive
    const wasFailed = this.state === 'failed'
    if (this.state === 'open') this.state = 'closing'
    // From here no truncate or deleteBefore can start (they see the state), and timers skip their turn.
    let release: () => void = () => undefined
    this.exclusive = new Promise<void>((resolve) => {
      release = resolve
    })
    let error: unknown
    try {
      if (!wasFailed && this.writer) await this.flushForClose()
    } catch (err) {
      error = err
      this.fail(err)
    }
    for (const stop of this.stopTimers.splice(0)) {
      try {
        stop()
      } catch {
        // A clock seam that fails to cancel: the tick finds the log closed and does nothing.
      }
    }
    this.cursors.closeAll()
    for (const s of this.segments) if (s !== this.active) closeSegmentQuietly(s)
    this.active.adoptHandle(undefined)
    if (this.writer) closeQuietly(this.writer)
    else closeSegmentQuietly(this.active)
    for (const h of this.unsynced.splice(0)) closeQuietly(h)
    this.writer = undefined
    try {
      this.lock?.release()
    } catch (err) {
      error ??= new SeglogError('ERR_IO', `the log in ${this.dir} is closed, but its LOCK file could not be removed (${(err as Error).message}); ` +
        'the next open reclaims it once this process has exited', { cause: err })
    }
    const failure = this.failure
    this.state = 'closed'
    this.watch.stamp++
    this.exclusive = undefined
    release()
    this.wakeReaders()
    if (error !== undefined || (wasFailed && failure)) throw failure ?? asSeglogError(error, this.dir)
  }

  /** The clean-close writes: everything appended made durable, index, clean checkpoint. */
  private async flushForClose(): Promise<void> {
    const writer = this.writer as FileHandle
    this.writePending()
    await this.syncSettled()
    if (this.state !== 'closing') return
    const segment = this.active
    await Promise.all([...this.unsynced.splice(0).map(async (h) => { await h.datasync(); h.close() }), writer.datasync()])
    this.durable = this.written
    this.resolveDurable()
    this.activeIndex.coveredBytes = segment.size
    this.activeIndex.nextOffset = this.written
    this.fsys.writeFile(segment.indexPath, this.activeIndex.encode(), false)
    writeCheckpoint(this.fsys, this.dir, { segmentBase: segment.base, position: segment.size, nextOffset: this.written, clean: true }, true)
    await this.fsys.syncDir(this.dir)
  }

  /** `await using log = await Log.open(...)` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}

function notADirectory(dir: string): SeglogError {
  return new SeglogError('ERR_INVALID_ARGUMENT', `${dir} exists but is not a directory; a log is a directory. ` +
    'Pass the path of a directory (an existing log, or a new path to create one); the file was not changed', { details: { file: dir } })
}

/** The directory's metadata, or undefined when it does not exist; a path through a file is the caller's mistake. */
function statLogDirectory(fsys: FileSystem, dir: string): FileStat | undefined {
  try {
    return fsys.stat(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException | undefined)?.code === 'ENOTDIR') throw notADirectory(dir)
    throw new SeglogError('ERR_IO', `could not look at the log directory ${dir}: ${(err as Error).message}; check the path's permissions, then retry`,
      { cause: err, details: { file: dir } })
  }
}

/** Creates the log's directory; a path that is (or runs through) a file is the caller's mistake, not an I/O failure. */
function makeLogDirectory(fsys: FileSystem, dir: string): void {
  try {
    fsys.mkdir(dir)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | undefined)?.code
    if (code === 'EEXIST' || code === 'ENOTDIR') throw notADirectory(dir)
    throw new SeglogError('ERR_IO', `could not create the log directory ${dir}: ${(err as Error).message}; check the path's permissions and free space, then retry`,
      { cause: err, details: { file: dir } })
  }
}

/** A copy of a record whose data no longer shares a read block. */
export function copyRecord(record: LogRecord): LogRecord {
  return { offset: record.offset, timestamp: record.timestamp, data: Buffer.from(record.data) }
}

function checkOffset(offset: unknown, what: string): asserts offset is number {
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw invalidArgument(`${what} needs a non-negative safe integer offset; got ${describeType(offset)}`)
  }
}


function asSeglogError(err: unknown, dir: string): SeglogError {
  if (err instanceof SeglogError) return err
  return new SeglogError('ERR_IO', `closing the log in ${dir} failed (${(err as Error)?.message ?? String(err)}); ` +
    'it is closed and its lock released: open it again, and recovery keeps every record acknowledged as durable', { cause: err })
}

function closeSegmentQuietly(segment: Segment): void {
  try {
    segment.closeHandle()
  } catch {
    // Its descriptor was closed already (it was the writer's): nothing left to release.
  }
}

function closeQuietly(handle: FileHandle): void {
  try {
    handle.close()
  } catch {
    // Closing after a failure: the descriptor is gone either way.
  }
}

