/**
 * The wiring of one open log: builds its modules (append buffer, group committer, segment set,
 * retention, follower, reader sync, exclusive gate, failure state) and does the few things that
 * span them: the write-out of the append buffer into the active segment, the roll, failure
 * propagation, the timers, and the close sequence. The public facade (local-log.ts) checks
 * arguments and calls in here.
 */
import { channels } from '../diagnostics.js'
import { SeglogError } from '../errors.js'
import type { FileSystem } from '../io/file-system.js'
import { AppendBuffer } from './append-buffer.js'
import { InconsistentIndexError } from './batch-errors.js'
import { writeCheckpointAsync } from './checkpoint.js'
import type { CursorSource, CursorWatch } from './cursor-source.js'
import { CursorRegistry } from './cursor-registry.js'
import { makeCursorSource } from './cursor-source.js'
import { ExclusiveGate } from './exclusive-gate.js'
import { Follower } from './follower.js'
import { GroupCommitter } from './group-commit.js'
import type { LogIdentity } from './identity.js'
import type { DirectoryLock } from './lock.js'
import { LogState } from './log-state.js'
import { TRUNCATIONS_FILE } from './names.js'
import type { LogAttachment, ReadBelow } from './log-types.js'
import type { ResolvedOptions } from './options.js'
import type { PointReadHost } from './point-read.js'
import { ReaderSync } from './reader-sync.js'
import type { RecoveredLog } from './recovery.js'
import { Retention } from './retention.js'
import { SegmentSet } from './segment-set.js'
import type { SparseIndex } from './sparse-index.js'
import type { TruncateHost } from './truncate.js'

export class LogCore {
  readonly fsys: FileSystem
  readonly tag: number
  /** The log's identity (undefined for a log created by format 1). */
  readonly identity: LogIdentity | undefined
  readonly state: LogState
  readonly segs: SegmentSet
  readonly buffer: AppendBuffer
  readonly committer: GroupCommitter
  readonly gate = new ExclusiveGate()
  readonly follower: Follower
  readonly readers: ReaderSync
  readonly retention: Retention
  /** Bumped whenever cursors must re-check the log: a truncate starts or ends, close, a reload. */
  readonly watch: CursorWatch = { stamp: 0 }
  readonly cursors = new CursorRegistry()
  readonly reads: PointReadHost
  readonly truncates: TruncateHost
  readonly cursorSource: CursorSource
  readonly attachments = new Map<string, LogAttachment>()
  /** Set by a tiered log: where offsets below the local first offset are read from. */
  below: ReadBelow | undefined
  private readonly stopTimers: (() => void)[] = []
  /** Whether recovery's listing (writable) names the truncations file; true when there was no listing. */
  private readonly truncationsListed: boolean
  /** When the active segment got its first write (clock ms), for rollAfterMs; reset by open to now. */
  private activeSince = 0
  private flushScheduled = false
  /** What a clean open found on disk, while nothing has changed it (see {@link unchangedSinceOpen}). */
  private readonly asOpened: { index: SparseIndex; written: number; size: number; stamp: number } | undefined
  private readonly flushTick = (): void => {
    this.flushScheduled = false
    if (this.state.name === 'open' || this.state.name === 'closing') this.writeOutSafe()
  }

  constructor(readonly dir: string, readonly options: ResolvedOptions, recovered: RecoveredLog, readonly lock: DirectoryLock | undefined) {
    const fsys = this.fsys = options.fileSystem
    this.identity = recovered.identity
    this.truncationsListed = recovered.names?.includes(TRUNCATIONS_FILE) ?? true
    const tag = this.tag = recovered.identity?.tag ?? 0
    this.state = new LogState(dir, options.readOnly)
    this.segs = new SegmentSet({ fsys, dir, tag, indexIntervalBytes: options.indexIntervalBytes, readOnly: options.readOnly,
      readCacheBytes: options.readCacheBytes }, recovered)
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
      mayDelete: options.mayDelete,
    }, options.retention)
    const flush = (): void => {
      if (!this.writeOutSafe()) throw this.state.unusable()
    }
    const firstOffset = (): number => this.firstOffset
    this.reads = {
      fsys, dir, readOnly: options.readOnly, readAheadBytes: Math.min(options.indexIntervalBytes + 512, 1 << 16), segments: this.segs, readers: this.readers,
      checkReadable: () => this.state.checkReadable(), firstOffset, assigned: () => this.buffer.next, written: () => this.committer.written,
      flush, refresh: () => this.refresh(), settle: () => this.settle(),
    }
    this.truncates = {
      fsys, dir, tag, segments: this.segs, committer: this.committer, readers: this.readers, watch: this.watch, flush, isOpen, firstOffset,
      nextOffset: () => this.buffer.next, unusable: () => this.state.unusable(), fail: (e) => this.fail(e), setEnd: (end) => this.setEnd(end),
    }
    this.cursorSource = makeCursorSource({
      ...this.reads, tag, watch: this.watch, registry: this.cursors, state: this.state, follower: this.follower, truncations: () => this.readers.truncations,
    })
    if (!options.readOnly) {
      this.segs.openWriter()
      this.committer.checkpointAt(this.segs.active.base, this.segs.active.size)
      const report = recovered.report
      if (recovered.indexOnDisk === true && !report.replayedTruncate && report.removedFiles.length === 0 && !report.repaired) {
        this.asOpened = { index: this.segs.activeIndex, written: recovered.nextOffset, size: this.segs.active.size, stamp: this.watch.stamp }
      }
    }
  }

  get firstOffset(): number {
    return this.segs.firstBase ?? this.buffer.next
  }

  /** The open log's last steps: the truncate generation, the timers, retention, before any append. */
  async start(): Promise<void> {
    if (this.options.readOnly) {
      this.readers.startReadOnly()
      return
    }
    await this.readers.startWritable(this.truncationsListed)
    this.startTimers()
    try {
      this.retention.apply()
    } catch {
      // A segment that cannot be judged or deleted stays; the next roll or tick retries.
    }
  }

  /**
   * The promise an append returns (see {@link GroupCommitter.ack}). Also starts the write: at once
   * when the segment is full, else on the next event-loop turn, so that appends made together share one write.
   */
  acknowledge<T>(value: T, keepRoom = 0): Promise<T> {
    const ack = this.committer.ack(value)
    // On failure the record is lost with the write buffer and the log is failed (which rejects a queued ack).
    if (!this.scheduleWriteOut(keepRoom) && !this.options.syncAlways) return Promise.reject(this.state.unusable())
    return ack
  }

  /**
   * Starts the write of what was just added to the append buffer: at once when the segment is
   * full or fewer than `keepRoom` bytes are left in the buffer, else on the next event-loop turn.
   * Returns false when a write-out failed (the log is failed). The ack comes first: a write-out
   * hands the acks queued so far to the group commit, and one queued after it would wait for the next.
   */
  scheduleWriteOut(keepRoom = 0): boolean {
    if (this.segs.active.size + this.buffer.used >= this.options.segmentBytes || !this.buffer.fits(keepRoom)) return this.writeOutSafe()
    if (!this.flushScheduled) {
      this.flushScheduled = true
      setImmediate(this.flushTick)
    }
    return true
  }

  /** Writes the append buffer to the OS; on failure fails the log and returns false. */
  writeOutSafe(): boolean {
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
    if (active.size === 0) this.activeSince = this.options.clock.now()
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

  /**
   * Seals the active segment now when it holds records (a tiered log ships every record appended
   * so far); an empty active segment stays, so no empty segment is ever sealed. The caller makes
   * sure no exclusive operation runs. Returns whether a segment was sealed.
   */
  rollNow(): boolean {
    if (!this.writeOutSafe()) throw this.state.unusable()
    if (this.segs.active.size === 0) return false
    this.roll()
    return true
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

  fail(cause: unknown): void {
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

  /** Read-only: picks up what the writer (another process) appended since the last look. */
  private refresh(): void {
    if (!this.options.readOnly) return
    const end = this.segs.refresh(this.committer.written)
    if (end !== undefined) this.setEnd(end)
  }

  /** What must finish before this log's in-memory state may be read: an exclusive operation, or (read-only) a reload. */
  settle(): Promise<void> | undefined {
    if (this.gate.current) return this.gate.current.then(() => undefined)
    return this.readers.settle()
  }

  /** Background jobs on the log's clock; each skips its turn while an exclusive operation runs (rule 18). */
  private startTimers(): void {
    const clock = this.options.clock
    if (this.options.syncIntervalMs > 0) {
      this.stopTimers.push(clock.every(this.options.syncIntervalMs, () => {
        if (this.state.open && !this.gate.current && this.writeOutSafe() && this.committer.written > this.committer.durable) this.committer.requestSync()
      }))
    }
    const rollAfterMs = this.options.rollAfterMs
    if (rollAfterMs !== undefined) {
      // A segment already holding records at open counts from the open.
      this.activeSince = clock.now()
      this.stopTimers.push(clock.every(Math.min(Math.max(Math.floor(rollAfterMs / 4), 10), 60_000), () => {
        if (!this.state.open || this.gate.current || !this.segs.writer) return
        if (this.segs.active.size === 0 || clock.now() - this.activeSince < rollAfterMs) return
        try {
          this.rollNow()
        } catch {
          // The log has failed (rollNow failed it): nothing more to roll.
        }
      }))
    }
    const tickMs = this.retention.tickMs
    if (tickMs !== undefined) this.stopTimers.push(clock.every(tickMs, () => this.retention.tick()))
  }

  /**
   * Always ends with every descriptor closed (cursors' too), the timers stopped and the lock
   * released; a failure on the way is reported as a SeglogError after that cleanup.
   */
  async close(): Promise<void> {
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

  /** The clean-close writes: everything appended made durable, index, clean checkpoint (fsynced off the event loop). */
  private async flushForClose(): Promise<void> {
    this.writeOut()
    if (this.unchangedSinceOpen()) {
      await this.committer.closeUnchanged()
      return
    }
    await this.committer.flushForClose()
    if (this.state.name !== 'closing') return
    const segment = this.segs.active
    const index = this.segs.activeIndex
    const written = this.committer.written
    index.coveredBytes = segment.size
    index.nextOffset = written
    // An index whose entries, read on first use, turned out damaged is not written: the next open rebuilds it.
    const encoded = encodeOrUndefined(index)
    if (encoded) this.fsys.writeFile(segment.indexPath, encoded, false)
    await writeCheckpointAsync(this.fsys, this.dir, { segmentBase: segment.base, position: segment.size, nextOffset: written, clean: true })
    await this.fsys.syncDir(this.dir)
  }

  /**
   * Nothing was appended, truncated or rolled since an open that found a clean close: the segment,
   * its index file and the clean checkpoint on disk already hold what a clean close writes, so a
   * close after only reads writes nothing (it used to read and rewrite the whole active index and
   * fsync three files). Any change moves one of these: an append the written offset and size, a
   * truncate the watch stamp (even one re-appended to the same length), a roll or an index rebuilt
   * at runtime the index object.
   */
  private unchangedSinceOpen(): boolean {
    const at = this.asOpened
    return at !== undefined && this.state.name === 'closing' && at.index === this.segs.activeIndex && at.written === this.committer.written &&
      at.written === this.buffer.next && at.size === this.segs.active.size && at.stamp === this.watch.stamp
  }
}

function encodeOrUndefined(index: SparseIndex): Buffer | undefined {
  try {
    return index.encode()
  } catch (err) {
    if (err instanceof InconsistentIndexError) return undefined
    throw err
  }
}

function asSeglogError(err: unknown, dir: string): SeglogError {
  if (err instanceof SeglogError) return err
  return new SeglogError('ERR_IO', `closing the log in ${dir} failed (${(err as Error)?.message ?? String(err)}); ` +
    'it is closed and its lock released: open it again, and recovery keeps every record acknowledged as durable', { cause: err })
}
