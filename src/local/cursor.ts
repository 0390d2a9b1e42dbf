/**
 * The sequential reader behind `Log.iterate()`. A hand-written async iterator rather than an
 * async generator: records inside an already-read block are handed out from a fast path that
 * only allocates the record and its view, which is what lets a scan run at millions of records
 * per second. Batches come from the one {@link BatchReader} (checksum, structure, contiguity, log
 * tag), reading fresh 256 KiB blocks, so a record view stays valid while referenced; with
 * `reuseBuffer` one buffer takes every read, and a view is valid until the next step.
 *
 * Record lengths are decoded with four element loads rather than `readUInt32LE`: the same speed
 * once optimized, and several times faster while the JIT has not optimized the loop yet, which is
 * most of a short scan.
 */
import { SeglogError } from '../errors.js'
import { BATCH_HEADER_BYTES, RECORD_HEADER_BYTES } from '../format/index.js'
import type { FileHandle } from '../io/file-system.js'
import { corruptError, InconsistentIndexError } from './batch-errors.js'
import { BatchRead, BatchReader, batchReadError } from './batch-reader.js'
import { CursorFile } from './cursor-registry.js'
import type { CursorSource } from './cursor-source.js'
import { RecordView } from './record-view.js'
import type { LogRecord, Segment } from './segment.js'

// The cursor's view of the log is declared in cursor-source.ts; log-core.ts imports it from here.

/**
 * Fresh blocks of 256 KiB, not 1 MiB: a block is garbage once the records it holds are dropped,
 * but V8 frees its memory only when it collects the block's ArrayBuffer object. A 1 MiB block
 * outlived two young-generation collections whenever that generation was small (as it is in a
 * process that loaded little code, e.g. through the bundle), was promoted, and its memory waited
 * for a full collection, which V8 starts only once about 64 MB of such memory piles up: a plain
 * `iterate()` scan held 66 MB of dead blocks (RSS +71 MB) against 4 MB with 256 KiB blocks (RSS
 * +9 MB), at the same CPU per record. It also bounds what one record a caller keeps holds alive.
 * A batch larger than a block still gets a block of its own size.
 */
export const READ_BLOCK_BYTES = 256 << 10
/** nextMany() stops after the batch that brings it past this many records (keeps the live set young). */
const MANY_RECORDS = 1024

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true }) as IteratorReturnResult<undefined>

export class RecordCursor implements AsyncIterableIterator<LogRecord> {
  private next_: number
  private finished = false
  /** The open segment file, registered with the log so its close() closes it too. */
  private readonly file = new CursorFile()
  private segment: Segment | undefined
  /** The truncate generation everything this cursor read belongs to. */
  private gen: number
  /** The log's watch stamp when this cursor last checked it. */
  private stamp: number
  /** A read-only read found the files changed under it: re-read the log's state first. */
  private stale = false
  /** The segment whose index this cursor already rebuilt once (a second mismatch is real damage). */
  private rebuiltIndexOf: Segment | undefined
  /**
   * Reads the current segment's batches, expecting each to continue the offsets (or, right after
   * a seek through the index, to hold the offset the index named). Records handed out are views
   * into its block: a fresh one per read, or (reuseBuffer) one refilled in place. The reader never
   * refills while a batch of records is handed out (`nextMany` stops where the block does).
   */
  private readonly reader: BatchReader
  // The batch being handed out: its block, next record, records left, offset and timestamp.
  private block: Buffer = Buffer.alloc(0)
  private rp = 0
  private left = 0
  private offset = 0
  private timestamp = 0

  constructor(private readonly source: CursorSource, private readonly from: number, private readonly to: number, private readonly follow: boolean, private readonly signal: AbortSignal | undefined,
    private readonly gaps: 'stop' | 'skip' = 'stop', reuseBuffer = false) {
    this.next_ = from
    this.gen = source.generation()
    this.stamp = source.watch.stamp
    this.reader = new BatchReader({ read: (buf, offset, length, position) => this.readAt(buf, offset, length, position) },
      { tag: source.logTag, blockBytes: READ_BLOCK_BYTES, freshBlocks: !reuseBuffer })
    source.registry.add(this, this.file)
  }

  private get handle(): FileHandle | undefined {
    return this.file.handle
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  next(): Promise<IteratorResult<LogRecord, undefined>> {
    if (this.left > 0 && this.offset < this.to && this.stamp === this.source.watch.stamp) {
      // Fast path: the next record is in the block already read and checked.
      const block = this.block
      const rp = this.rp
      const len = (block[rp] | block[rp + 1] << 8 | block[rp + 2] << 16 | block[rp + 3] << 24) >>> 0
      const start = rp + RECORD_HEADER_BYTES
      const record: LogRecord = { offset: this.offset, timestamp: this.timestamp, data: new RecordView(block.buffer, block.byteOffset + start, len) }
      this.rp = start + len
      this.left--
      this.next_ = ++this.offset
      return Promise.resolve({ value: record, done: false })
    }
    try {
      return this.advance()
    } catch (err) {
      this.close()
      return Promise.reject(err)
    }
  }

  /**
   * Every record available without another read (the rest of the current block), at least one,
   * or done. Hands out the same zero-copy views as {@link next}, for callers that want to skip
   * the per-record promise.
   */
  nextMany(): Promise<IteratorResult<LogRecord[], undefined>> {
    if (this.left > 0 && this.offset < this.to && this.stamp === this.source.watch.stamp) {
      try {
        return Promise.resolve({ value: this.drainBlock([]), done: false })
      } catch (err) {
        this.close()
        return Promise.reject(err)
      }
    }
    return this.next().then((first) => (first.done ? DONE : { value: this.drainBlock([first.value]), done: false }))
  }

  private drainBlock(out: LogRecord[]): LogRecord[] {
    const to = this.to
    for (;;) {
      const block = this.block
      let rp = this.rp
      let offset = this.offset
      const timestamp = this.timestamp
      let left = this.left
      const memory = block.buffer
      const base = block.byteOffset + RECORD_HEADER_BYTES
      while (left > 0 && offset < to) {
        const len = (block[rp] | block[rp + 1] << 8 | block[rp + 2] << 16 | block[rp + 3] << 24) >>> 0
        out.push({ offset, timestamp, data: new RecordView(memory, base + rp, len) })
        const start = rp + RECORD_HEADER_BYTES
        rp = start + len
        left--
        offset++
      }
      this.rp = rp
      this.left = left
      this.offset = offset
      this.next_ = offset
      if (offset >= to || !this.reader.buffered() || this.signal?.aborted || out.length >= MANY_RECORDS || this.stamp !== this.source.watch.stamp) return out
      if (this.takeBatch() !== Take.Records) return out
    }
  }

  return(): Promise<IteratorResult<LogRecord, undefined>> {
    this.close()
    return Promise.resolve(DONE)
  }

  private close(): void {
    if (this.finished) return
    this.finished = true
    this.left = 0
    this.file.close()
    this.source.registry.remove(this.file)
  }

  /**
   * After the log's watch stamp moved: fails if a truncate removed records this cursor already
   * handed out; otherwise forgets everything read before and continues from `next_` in the log
   * as it is now.
   */
  private resync(): void {
    const source = this.source
    const generation = source.generation()
    // A cursor that has handed out nothing (made before or while the truncate ran) reads `from`
    // on in the log as it is now; one that handed out a record the truncate removed cannot go on.
    if (generation !== this.gen) {
      const cut = source.lowestCutSince(this.gen)
      if (this.next_ > cut && this.next_ > this.from) {
        throw new SeglogError('ERR_TRUNCATED',
          `the log in ${source.dir} was truncated at offset ${cut} while this iterator was at offset ${this.next_}: the records it handed out ` +
          `from offset ${cut} on no longer exist, and later appends reuse those offsets. Start a new iterate({ from: ${cut} }) to read what the log holds now`,
          { details: { truncatedAt: cut, offset: this.next_ } })
      }
      this.gen = generation
    }
    // Blocks and segments read before may hold bytes that are gone: read again from `next_`.
    this.left = 0
    this.reader.reset()
    this.segment = undefined
    this.file.close()
    this.stale = false
    this.stamp = source.watch.stamp
  }

  /** Reads through the cursor's handle; for a read-only log, a read the writer raced is discarded. */
  private readAt(buf: Uint8Array, offset: number, length: number, position: number): number {
    const handle = this.handle
    if (!handle) return 0
    const got = handle.read(buf, offset, length, position)
    if (this.source.changedSince(this.gen)) {
      this.stale = true
      return 0
    }
    return got
  }

  private waited(): Promise<IteratorResult<LogRecord, undefined>> {
    if (this.source.isClosed()) {
      // Documented: a follower waiting at the end finishes when the log closes.
      this.close()
      return Promise.resolve(DONE)
    }
    return this.next()
  }

  private after(pending: Promise<void>): Promise<IteratorResult<LogRecord, undefined>> {
    return pending.then(() => this.next(), (err: unknown) => {
      this.close()
      throw err
    })
  }

  /** Slow path: moves to the next batch, block, segment, or waits for data. */
  private advance(): Promise<IteratorResult<LogRecord, undefined>> {
    const source = this.source
    let seeks = 0
    for (;;) {
      if (this.finished || this.next_ >= this.to || this.signal?.aborted) {
        this.close()
        return Promise.resolve(DONE)
      }
      if (this.stale || this.stamp !== source.watch.stamp) {
        const pending = source.settle()
        if (pending) return this.after(pending)
        if (this.follow && source.isClosed()) return this.waited()
        source.checkReadable()
        this.resync()
      }
      if (this.left > 0) return this.next()
      if (this.handle && this.takeBatch() === Take.Records) continue
      // The segment is used up as far as it is written: find where `next` lives now.
      if (this.follow && source.isClosed()) return this.waited()
      source.checkReadable()
      const pending = source.settle()
      if (pending) return this.after(pending)
      if (this.stale || this.stamp !== source.watch.stamp) continue
      source.refresh()
      if (this.stale || this.stamp !== source.watch.stamp) continue
      if (this.next_ < source.firstOffset()) this.next_ = source.firstOffset()
      if (this.next_ >= source.writtenOffset()) {
        if (this.next_ < source.assignedOffset()) {
          source.writeBuffered()
          continue
        }
        if (!this.follow || !source.canFollow()) {
          this.close()
          return Promise.resolve(DONE)
        }
        return source.waitForData(this.next_, this.signal).then(() => this.waited())
      }
      const lost = source.lostAt(this.next_)
      if (lost) {
        if (this.gaps === 'stop') throw source.lostError(this.next_, lost)
        this.next_ = lost.to
        continue
      }
      if (++seeks > 2) {
        const segment = this.segment as Segment
        throw corruptError(segment.path, this.reader.nextPosition, `offset ${this.next_} is written but cannot be read from its segment`)
      }
      this.seek(this.next_)
    }
  }

  /** Positions the cursor at the batch holding `offset`. */
  private seek(offset: number): void {
    const { segment, index } = this.source.segmentFor(offset)
    if (segment !== this.segment || !this.handle) {
      this.file.close()
      this.file.handle = this.source.fsys.open(segment.path, 'read')
      this.segment = segment
      // Blocks read from another file say nothing about this one.
      this.reader.reset()
    }
    let i: number
    try {
      i = index.floor(offset)
    } catch (err) {
      // An index decoded lazily found a damaged entry where the lookup landed: rebuild it once.
      if (!(err instanceof InconsistentIndexError) || this.rebuiltIndexOf === segment) throw err
      this.rebuiltIndexOf = segment
      this.source.rebuildIndex(segment)
      return this.seek(offset)
    }
    const position = i < 0 ? 0 : index.batchPosAt(i)
    // Without an entry the walk starts at the segment's first batch, which must begin at its base;
    // from an entry, the batch it names must hold the entry's offset.
    this.reader.seek(position, i < 0 ? segment.base : -1, i < 0 ? -1 : index.offsetAt(i))
    // Nothing readable at the position the index names: the segment ended before `offset`.
    if (position >= segment.size && index.nextOffset <= offset) throw corruptError(segment.path, position, `offset ${offset} is missing from its segment`)
  }

  /** Reads the next batch and sets up its records, or says there is none to hand out yet. */
  private takeBatch(): Take {
    const segment = this.segment as Segment
    const reader = this.reader
    const read = reader.next(segment.size)
    if (read !== BatchRead.Valid) return this.noBatch(read, segment)
    const header = reader.header
    const block = reader.bytes
    let rp = reader.at + BATCH_HEADER_BYTES
    let offset = header.baseOffset
    const end = offset + header.count
    // Skip records before the wanted offset (the index points at batch starts).
    while (offset < this.next_ && offset < end) {
      rp += RECORD_HEADER_BYTES + ((block[rp] | block[rp + 1] << 8 | block[rp + 2] << 16 | block[rp + 3] << 24) >>> 0)
      offset++
    }
    this.block = block
    this.rp = rp
    this.offset = offset
    this.left = end - offset
    this.timestamp = header.timestamp
    return Take.Records
  }

  /** Why {@link takeBatch} found no batch to hand out: wait, seek again, or fail. */
  private noBatch(read: BatchRead, segment: Segment): Take {
    // Nothing more written here, the written end falls inside this batch (a follower racing the
    // writer), or a read-only read raced a change: the caller finds where `next` lives now.
    if (read === BatchRead.End || read === BatchRead.Incomplete || this.stale) return Take.Partial
    // What the reader expected is unchanged by a read that was not valid.
    const reader = this.reader
    const expectedBase = reader.expectedBase
    const mustHold = reader.mustHold
    if ((read === BatchRead.Damaged || read === BatchRead.Misplaced) && this.reseekWithRebuiltIndex(mustHold)) return this.takeBatch()
    throw batchReadError(reader, read, segment.path, expectedBase, mustHold, `offset ${this.next_} is missing from its segment`)
  }

  /**
   * Right after a seek through the index (`mustHold` ≥ 0), a position that holds no batch, or a
   * batch without the offset the index named, may mean the index is wrong rather than the
   * segment: an index is derived data, and a valid checksum only says the file is intact (issue
   * 10, defect 7). Rebuild it once from the segment's verified batches and seek again; a second
   * mismatch is damage.
   */
  private reseekWithRebuiltIndex(mustHold: number): boolean {
    const segment = this.segment as Segment
    if (mustHold < 0 || this.rebuiltIndexOf === segment) return false
    this.rebuiltIndexOf = segment
    this.source.rebuildIndex(segment)
    this.seek(this.next_)
    return true
  }
}

const enum Take {
  /** A batch's records are ready. */
  Records,
  /** No whole batch to hand out here (yet). */
  Partial,
}
