/**
 * The local log's facade: one writer appends record batches to segment files with group commit;
 * any number of readers read by offset or iterate in order, in this process or (read-only) in
 * others. Each job lives in its own module (see docs/ARCHITECTURE.md, "local/ — writing"); this
 * class checks arguments, holds the modules, and wires them: the write-out of the append buffer,
 * the roll, failure propagation, the exclusive gate around truncate/deleteBefore/close.
 */
import { Readable } from 'node:stream'
import { channels } from '../diagnostics.js'
import { invalidArgument, SeglogError } from '../errors.js'
import { BATCH_HEADER_BYTES, RECORD_HEADER_BYTES } from '../format/index.js'
import type { FileSystem } from '../io/file-system.js'
import { invariantViolated } from '../invariant.js'
import { AppendBuffer, NO_ROOM, TOO_LARGE } from './append-buffer.js'
import { writeCheckpointAsync } from './checkpoint.js'
import { type CursorSource, type CursorWatch, RecordCursor } from './cursor.js'
import { CursorRegistry } from './cursor-registry.js'
import { makeCursorSource } from './cursor-source.js'
import { codecFor, installCodec, type LogEncoding } from './encoding.js'
import { ExclusiveGate } from './exclusive-gate.js'
import { Follower } from './follower.js'
import type { Gap } from './gaps.js'
import { GroupCommitter } from './group-commit.js'
import type { LogIdentity } from './identity.js'
import type { DirectoryLock, LockHolderReport } from './lock.js'
import { LogState } from './log-state.js'
import { lockHolder, repairLog, verifyLog } from './log-tools.js'
import type { AppendBatchResult, IterateOptions, LogAttachment, LogLimits } from './log-types.js'
import { claimDirectory, recoverDirectory } from './open-log.js'
import { resolveOptions, type LogClock, type LogOptions, type ResolvedOptions } from './options.js'
import { readFollowing, readNow, type PointReadHost } from './point-read.js'
import { ReaderSync } from './reader-sync.js'
import { checkOffset, describeType, recordInputError } from '../record-input.js'
import type { RecoveredLog, RecoveryReport } from './recovery.js'
import type { RepairOptions, RepairReport } from './repair.js'
import { deleteSegmentsBefore, Retention } from './retention.js'
import type { LogRecord } from './segment.js'
import { SegmentSet } from './segment-set.js'
import { truncateLog, type TruncateHost } from './truncate.js'
import type { VerifyOptions, VerifyReport } from './verify.js'

/**
 * A durable, ordered, append-only log on local disk (the public `Log` adds worker-thread appends).
 *
 * Records read through {@link LocalLog.iterate} are zero-copy views into a read block of up to
 * 1 MiB; a view stays valid for as long as you hold it (it keeps its block alive), so copy records
 * you keep for long with {@link copyRecord} to let the block go. {@link LocalLog.read} returns a copy.
 */
export class LocalLog implements AsyncDisposable {
  /** What {@link Log.open} found and fixed. */
  readonly recovery: RecoveryReport
  private readonly fsys: FileSystem
  private readonly clock: LogClock
  private readonly identity: LogIdentity | undefined
  private readonly state: LogState
  private readonly segs: SegmentSet
  private readonly buffer: AppendBuffer
  private readonly committer: GroupCommitter
  private readonly gate = new ExclusiveGate()
  private readonly follower: Follower
  private readonly readers: ReaderSync
  private readonly retention: Retention
  /** Bumped whenever cursors must re-check the log: a truncate starts or ends, close, a reload. */
  private readonly watch: CursorWatch = { stamp: 0 }
  private readonly cursors = new CursorRegistry()
  private readonly reads: PointReadHost
  private readonly cursorSource: CursorSource
  private readonly truncates: TruncateHost
  private readonly attachments = new Map<string, LogAttachment>()
  private readonly stopTimers: (() => void)[] = []
  private lock: DirectoryLock | undefined
  private closing: Promise<void> | undefined
  private flushScheduled = false
  private readonly flushTick = (): void => {
    this.flushScheduled = false
    if (this.state.name === 'open' || this.state.name === 'closing') this.writeOutSafe()
  }

  protected constructor(readonly dir: string, private readonly options: ResolvedOptions, recovered: RecoveredLog, lock: DirectoryLock | undefined) {
    const fsys = this.fsys = options.fileSystem
    this.clock = options.clock
    this.lock = lock
    this.recovery = recovered.report
    this.identity = recovered.identity
    const tag = recovered.identity?.tag ?? 0
    this.state = new LogState(dir, options.readOnly)
    this.segs = new SegmentSet({ fsys, dir, tag, indexIntervalBytes: options.indexIntervalBytes, readOnly: options.readOnly }, recovered)
    this.buffer = new AppendBuffer({ bufferBytes: options.writeBufferBytes, maxRecordBytes: options.maxRecordBytes, indexIntervalBytes: options.indexIntervalBytes, tag, clock: options.clock },
      recovered.nextOffset, this.segs)
    this.committer = new GroupCommitter({
      fsys, dir, syncAlways: options.syncAlways, writer: () => this.segs.writer, active: () => this.segs.active, stopped: () => this.state.stopped, fail: (e) => this.fail(e),
    }, recovered.nextOffset)
    const isOpen = (): boolean => this.state.open
    this.readers = new ReaderSync({
      fsys, dir, options, isOpen,
      install: (r) => {
        this.segs.replace(r)
        this.setEnd(r.nextOffset)
        this.watch.stamp++
      },
    })
    this.follower = new Follower({
      fsys, dir, readOnly: options.readOnly, pollMs: options.followPollMs, isOpen, written: () => this.committer.written,
      truncated: () => this.readers.changedSince(this.readers.truncations.generation), refresh: () => this.refresh(),
    })
    this.retention = new Retention({
      dir, segments: this.segs, clock: options.clock, blocked: () => (this.state.open ? this.gate.current : 'never'), deleted: () => this.committer.markDirDirty(),
    }, options.retention)
    const flush = (): void => {
      if (!this.writeOutSafe()) throw this.state.unusable()
    }
    this.reads = {
      fsys, dir, readOnly: options.readOnly, readAheadBytes: Math.min(options.indexIntervalBytes + 512, 1 << 16), segments: this.segs, readers: this.readers,
      checkReadable: () => this.state.checkReadable(), firstOffset: () => this.firstOffset, assigned: () => this.buffer.next, written: () => this.committer.written,
      flush, refresh: () => this.refresh(), settle: () => this.settle(),
    }
    this.truncates = {
      fsys, dir, tag, segments: this.segs, committer: this.committer, readers: this.readers, watch: this.watch, flush, isOpen,
      firstOffset: () => this.firstOffset, nextOffset: () => this.buffer.next, unusable: () => this.state.unusable(), fail: (e) => this.fail(e), setEnd: (end) => this.setEnd(end),
    }
    this.cursorSource = makeCursorSource({
      ...this.reads, tag, watch: this.watch, registry: this.cursors, state: this.state, follower: this.follower, truncations: () => this.readers.truncations,
    })
    if (!options.readOnly) {
      this.segs.openWriter()
      this.committer.checkpointAt(this.segs.active.base, this.segs.active.size)
    }
  }

  /** Opens a log as an instance of the calling class (see the public `Log.open`). */
  protected static async openLog(dir: string, options: LogOptions & { encoding?: LogEncoding } = {}): Promise<LocalLog> {
    if (typeof dir !== 'string' || dir.length === 0) throw invalidArgument('Log.open needs a directory path (string)')
    const resolved = resolveOptions(options)
    const codec = codecFor(options.encoding)
    const lock = claimDirectory(dir, resolved)
    let log: LocalLog | undefined
    try {
      const recovered = await recoverDirectory(dir, resolved)
      log = new this(dir, resolved, recovered, lock)
      if (resolved.readOnly) log.readers.startReadOnly()
      else await log.readers.startWritable()
      log.startTimers()
      if (!resolved.readOnly) log.applyRetentionAtOpen()
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

  /** Checks every batch and index of the log in `dir` without opening it for writing (alias of {@link verifyLog}). */
  static verify(dir: string, options: VerifyOptions = {}): Promise<VerifyReport> {
    return verifyLog(dir, options)
  }

  /** Repairs the log in `dir` (alias of {@link repairLog}, which says what it does). */
  static repair(dir: string, options: RepairOptions = {}): Promise<RepairReport> {
    return repairLog(dir, options)
  }

  /** Who holds the write lock on `dir`, if anyone (alias of {@link lockHolder}). */
  static lockHolder(dir: string): LockHolderReport | undefined {
    return lockHolder(dir)
  }

  /** Offset of the oldest record still stored (retention and deleteBefore move it). */
  get firstOffset(): number {
    return this.segs.firstBase ?? this.buffer.next
  }

  /**
   * Offsets lost to damage that a repair cut out, as `[from, to)` ranges (empty for a healthy
   * log). Reads of them fail with `ERR_OFFSET_LOST`; every record outside them is intact.
   */
  get gaps(): readonly Gap[] {
    return this.segs.gaps.filter((g) => g.from < this.buffer.next && this.segs.segments.some((s) => s.base === g.to))
  }

  /**
   * The log's identity: a random 128-bit id (32 hex digits) chosen at creation, which every
   * segment is checked against. Undefined for a log created before identities (format 1).
   */
  get id(): string | undefined {
    return this.identity?.id
  }

  /** Offset the next append will get. */
  get nextOffset(): number {
    return this.buffer.next
  }

  /** Every record below this offset is on stable storage (fdatasync done). */
  get durableOffset(): number {
    return this.committer.durable
  }

  /** True once {@link LocalLog.close} finished. */
  get closed(): boolean {
    return this.state.name === 'closed'
  }

  /** Segment files and their sizes (for inspection tools). */
  segmentsInfo(): { base: number; path: string; bytes: number }[] {
    const active = this.segs.active
    return this.segs.segments.map((s) => ({ base: s.base, path: s.path, bytes: s === active ? s.size + this.buffer.used : s.size }))
  }

  /**
   * Appends one record; resolves with its offset. Under `sync: 'always'` the promise resolves
   * only after the record is on stable storage; otherwise once it is accepted (see {@link SyncMode}).
   */
  append(data: Uint8Array | string): Promise<number> {
    // Checked first, before waiting or touching any state (rule 20): a bad record rejects only its own call.
    const bad = recordInputError(data, 'the record passed to append')
    if (bad) return Promise.reject(bad)
    if (this.gate.current) return this.gate.current.then(() => LocalLog.prototype.append.call(this, data))
    if (!this.state.open || !this.segs.writer) return Promise.reject(this.state.unusable())
    let offset = this.buffer.add(data, this.segs.active.size)
    if (offset < 0) {
      const len = this.buffer.lastLength
      if (offset === TOO_LARGE) return Promise.reject(tooLarge(`record of ${len} bytes`, len, this.options.maxRecordBytes, 'maxRecordBytes', { bytes: len }))
      if (!this.writeOutSafe()) return Promise.reject(this.state.unusable())
      this.buffer.reserve(BATCH_HEADER_BYTES + RECORD_HEADER_BYTES + len)
      offset = this.buffer.add(data, this.segs.active.size)
      if (offset === NO_ROOM) throw invariantViolated('an emptied buffer reserved for a record holds it', { bytes: len })
    }
    return this.acknowledge(offset)
  }

  /**
   * The promise an append returns (see {@link GroupCommitter.ack}). Also starts the write: at once
   * when the segment is full, else on the next event-loop turn, so that appends made together share one write.
   */
  private acknowledge<T>(value: T): Promise<T> {
    const ack = this.committer.ack(value)
    if (this.segs.active.size + this.buffer.used >= this.options.segmentBytes) {
      // On failure the record is lost with the write buffer and the log is failed.
      if (!this.writeOutSafe() && !this.options.syncAlways) return Promise.reject(this.state.unusable())
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
      if (len > this.options.maxRecordBytes) return Promise.reject(tooLarge(`record ${i} of ${len} bytes`, len, this.options.maxRecordBytes, 'maxRecordBytes', { index: i, bytes: len }))
      total += RECORD_HEADER_BYTES + len
    }
    if (total > this.options.maxBatchBytes) return Promise.reject(tooLarge(`batch of ${total} bytes`, total, this.options.maxBatchBytes, 'maxBatchBytes', { bytes: total }))
    return this.appendChecked(items, total)
  }

  private appendChecked(items: Uint8Array[], total: number): Promise<AppendBatchResult> {
    // Checked again after the wait: the caller may have transferred a buffer meanwhile.
    if (this.gate.current) return this.gate.current.then(() => LocalLog.prototype.appendBatch.call(this, items))
    if (!this.state.open || !this.segs.writer) return Promise.reject(this.state.unusable())
    this.buffer.seal()
    if (!this.buffer.fits(total)) {
      if (!this.writeOutSafe()) return Promise.reject(this.state.unusable())
      this.buffer.reserve(total)
    }
    const first = this.buffer.addBatch(items, total, this.segs.active.size)
    return this.acknowledge<AppendBatchResult>({ first, last: this.buffer.next - 1 })
  }

  /** Resolves once every record appended before the call is on stable storage. */
  async sync(): Promise<void> {
    await this.gate.idle()
    if (!this.state.open || !this.segs.writer) throw this.state.unusable()
    if (!this.writeOutSafe()) throw this.state.unusable()
    await this.committer.waitDurable(this.committer.written)
  }

  /** Writes the append buffer to the OS; on failure fails the log and returns false. */
  private writeOutSafe(): boolean {
    try {
      this.writeOut()
      return true
    } catch (err) {
      this.fail(err)
      return false
    }
  }

  /** Append buffer → active segment file; then the committer takes the acks, readers wake, a full segment rolls. */
  private writeOut(): void {
    const { buffer, segs } = this
    if (buffer.used === 0 || !segs.writer) return
    buffer.seal()
    const bytes = buffer.used
    const active = segs.active
    segs.writer.write(buffer.buf, 0, bytes, active.size)
    active.size += bytes
    buffer.written()
    const records = buffer.next - this.committer.written
    segs.activeIndex.coveredBytes = active.size
    segs.activeIndex.nextOffset = buffer.next
    if (channels.write.hasSubscribers) channels.write.publish({ dir: this.dir, records, bytes })
    this.committer.wroteTo(buffer.next)
    this.follower.wake()
    if (active.size >= this.options.segmentBytes) this.roll()
  }

  private roll(): void {
    const { sealed, writer } = this.segs.roll(this.committer.written)
    if (writer) this.committer.addUnsynced(writer)
    this.committer.markDirDirty()
    if (channels.roll.hasSubscribers) channels.roll.publish({ dir: this.dir, sealed: sealed.path, base: sealed.end })
    this.committer.requestSync(this.options.syncAlways)
    for (const a of this.attachments.values()) a.segmentSealed?.(sealed)
    this.retention.schedule()
  }

  private fail(cause: unknown): void {
    const error = this.state.fail(cause, this.segs.active.path)
    if (!error) return
    this.committer.failAll(error)
    this.buffer.discard()
    this.follower.wake()
    // Worker appends (any attachment) fail at once too, rather than on their next batch.
    for (const a of this.attachments.values()) void a.close(error).catch(() => undefined)
  }

  /** Every offset counter is `end` (after a truncate, or a read-only reload or refresh). */
  private setEnd(end: number): void {
    this.buffer.next = end
    this.committer.resetTo(end)
  }

  /** At open, before any append: the limits applied at once (a segment that cannot be judged stays). */
  private applyRetentionAtOpen(): void {
    try {
      this.retention.apply()
    } catch {
      // The next roll or tick retries.
    }
  }

  /**
   * Deletes whole sealed segments whose records all lie below `offset`. Records at or above
   * `offset` are always kept; some below it may remain (deletion is by segment). Resolves with
   * the new first offset.
   */
  deleteBefore(offset: number): Promise<number> {
    return this.gate.run(async () => {
      if (!this.state.open || !this.segs.writer) throw this.state.unusable()
      checkOffset(offset, 'deleteBefore')
      try {
        await deleteSegmentsBefore(this.dir, this.fsys, this.segs, offset)
      } catch (err) {
        this.fail(err)
        throw this.state.unusable()
      }
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
    return this.gate.run(async () => {
      if (!this.state.open || !this.segs.writer) throw this.state.unusable()
      checkOffset(offset, 'truncate')
      await truncateLog(this.truncates, offset)
    })
  }

  /**
   * The record at `offset`, or `undefined` when there is none: at or past {@link nextOffset},
   * or below {@link firstOffset} (deleted by retention). The returned data is a copy.
   * Throws `ERR_CORRUPT` if the stored batch fails its checksum.
   */
  read(offset: number): Promise<LogRecord | undefined> {
    // While a truncate rewrites files, the state to read from is being replaced: wait for it.
    if (this.gate.current) return this.gate.current.then(() => LocalLog.prototype.read.call(this, offset))
    if (this.options.readOnly) return readFollowing(this.reads, offset)
    try {
      return Promise.resolve(readNow(this.reads, offset))
    } catch (err) {
      return Promise.reject(err)
    }
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
    const cursor = LocalLog.prototype.iterate.call(this, options) as RecordCursor
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

  /** A Readable (objectMode) over {@link iterate}. */
  createReadStream(options: IterateOptions = {}): Readable {
    return Readable.from(this.iterate(options), { objectMode: true })
  }

  /** Read-only: picks up what the writer (another process) appended since the last look. */
  private refresh(): void {
    if (!this.options.readOnly) return
    const end = this.segs.refresh(this.committer.written)
    if (end !== undefined) this.setEnd(end)
  }

  /** What must finish before this log's in-memory state may be read: an exclusive operation, or (read-only) a reload. */
  private settle(): Promise<void> | undefined {
    if (this.gate.current) return this.gate.current.then(() => undefined)
    return this.readers.settle()
  }

  /** Background jobs on the log's clock; each skips its turn while an exclusive operation runs (rule 18). */
  private startTimers(): void {
    if (this.options.readOnly) return
    if (this.options.syncIntervalMs > 0) {
      this.stopTimers.push(this.clock.every(this.options.syncIntervalMs, () => {
        if (this.state.open && !this.gate.current && this.writeOutSafe() && this.committer.written > this.committer.durable) this.committer.requestSync()
      }))
    }
    const tickMs = this.retention.tickMs
    if (tickMs !== undefined) this.stopTimers.push(this.clock.every(tickMs, () => this.retention.tick()))
  }

  /** The limits an attachment that appends must respect. */
  protected get limits(): LogLimits {
    return { maxRecordBytes: this.options.maxRecordBytes, maxBatchBytes: this.options.maxBatchBytes }
  }

  /**
   * The attachment under `key`, created on first use (the log must be open for writing). The
   * log closes it first on close() and with its error when it fails.
   */
  protected attachment<T extends LogAttachment>(key: string, create: () => T): T {
    if (!this.state.open || !this.segs.writer) throw this.state.unusable()
    let found = this.attachments.get(key)
    if (!found) {
      found = create()
      this.attachments.set(key, found)
    }
    return found as T
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
    await this.gate.idle()
    // Attachments (worker appends) drain through appendBatch, so they close before the log stops accepting.
    for (const a of this.attachments.values()) await a.close().catch(() => undefined)
    await this.gate.idle()
    const wasFailed = this.state.name === 'failed'
    if (this.state.name === 'open') this.state.name = 'closing'
    // From here no truncate or deleteBefore can start (they see the state), and timers skip their turn.
    const release = this.gate.hold()
    let error: unknown
    try {
      if (!wasFailed && this.segs.writer) await this.flushForClose()
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
    this.segs.closeAll()
    this.committer.dropUnsynced()
    try {
      this.lock?.release()
    } catch (err) {
      error ??= new SeglogError('ERR_IO', `the log in ${this.dir} is closed, but its LOCK file could not be removed (${(err as Error).message}); ` +
        'the next open reclaims it once this process has exited', { cause: err })
    }
    const failure = this.state.failure
    this.state.name = 'closed'
    this.watch.stamp++
    release()
    this.follower.close()
    if (error !== undefined || (wasFailed && failure)) throw failure ?? asSeglogError(error, this.dir)
  }

  /** The clean-close writes: everything appended made durable, index, clean checkpoint. */
  private async flushForClose(): Promise<void> {
    this.writeOut()
    await this.committer.flushForClose()
    if (this.state.name !== 'closing') return
    const segment = this.segs.active
    const index = this.segs.activeIndex
    const written = this.committer.written
    index.coveredBytes = segment.size
    index.nextOffset = written
    this.fsys.writeFile(segment.indexPath, index.encode(), false)
    await writeCheckpointAsync(this.fsys, this.dir, { segmentBase: segment.base, position: segment.size, nextOffset: written, clean: true })
    await this.fsys.syncDir(this.dir)
  }

  /** `await using log = await Log.open(...)` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}

function tooLarge(what: string, bytes: number, limit: number, option: string, details: { index?: number; bytes: number }): SeglogError {
  const advice = option === 'maxBatchBytes' ? 'Split it into smaller batches' : details.index === undefined ? 'Split it, or raise maxRecordBytes' : ''
  return new SeglogError('ERR_RECORD_TOO_LARGE', `${what} exceeds ${option} (${limit}); nothing was written${advice ? `. ${advice}` : ''}`,
    { details: { ...details, bytes, limit } })
}

function asSeglogError(err: unknown, dir: string): SeglogError {
  if (err instanceof SeglogError) return err
  return new SeglogError('ERR_IO', `closing the log in ${dir} failed (${(err as Error)?.message ?? String(err)}); ` +
    'it is closed and its lock released: open it again, and recovery keeps every record acknowledged as durable', { cause: err })
}
