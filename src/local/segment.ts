/**
 * One segment file: its base offset, its size, its sparse index (loaded or rebuilt lazily for
 * sealed segments) and the point-read path. Sealed segments are never written again.
 */
import { BATCH_HEADER_BYTES, BatchHeader, RECORD_HEADER_BYTES } from '../format/index.js'
import type { FileHandle, FileSystem } from '../io/file-system.js'
import { invariantViolated } from '../invariant.js'
import { corruptError, InconsistentIndexError, newerVersionError } from './batch-errors.js'
import { BatchRead, BatchReader, batchReadError } from './batch-reader.js'
import { indexPath, segmentPath } from './names.js'
import { scanSegment } from './scan.js'
import { SparseIndex } from './sparse-index.js'

export { corruptError, InconsistentIndexError }

/** A record handed out by reads. */
export interface LogRecord {
  /** Its offset in the log. */
  offset: number
  /** Milliseconds since the epoch when its batch was formed (records appended together share it). */
  timestamp: number
  /** The payload. See the read methods for how long it stays valid. */
  data: Buffer
}

/** Batches already checked in this process (position → end and timestamp), bounded. */
interface VerifiedBatch {
  end: number
  timestamp: number
  baseOffset: number
  count: number
}
const MAX_VERIFIED_PER_SEGMENT = 16384
const NO_SOURCE = { read: (): number => 0 }
const MAX_KEPT_VERIFY_BYTES = 4 << 20

/**
 * Every entry of `index` whose record position lies inside the verified batch in `buf` (at file
 * `position`) must name this batch and one of its record boundaries, with that record's offset.
 */
function checkIndexAgainstBatch(index: SparseIndex, buf: Buffer, at: number, position: number, header: BatchHeader, file: string): void {
  const end = position + header.length
  let j = index.firstAtOrAfterPos(position)
  if (j >= index.count || index.recordPosAt(j) >= end) return
  let p = at + BATCH_HEADER_BYTES
  let offset = header.baseOffset
  const last = header.baseOffset + header.count
  for (; j < index.count && index.recordPosAt(j) < end; j++) {
    const want = at + index.recordPosAt(j) - position
    while (p < want && offset < last) {
      p += RECORD_HEADER_BYTES + buf.readUInt32LE(p)
      offset++
    }
    if (p !== want || offset >= last || index.offsetAt(j) !== offset || index.batchPosAt(j) !== position) {
      throw new InconsistentIndexError(file, `index entry ${j} (offset ${index.offsetAt(j)}, byte ${index.recordPosAt(j)}) is not a record of the batch at byte ${position}`)
    }
  }
}

export class Segment {
  readonly path: string
  readonly indexPath: string
  /** Valid bytes (for the active segment: bytes written so far). */
  size: number
  /** In memory for the active segment; loaded on first read for sealed ones. */
  index: SparseIndex | undefined
  private readHandle: FileHandle | undefined
  private verified = new Map<number, VerifiedBatch>()
  private scratch = Buffer.alloc(0)
  /** Reads each batch exactly (header, then body) into a kept buffer; a huge batch gets its own. */
  private readonly reader: BatchReader

  /** `logTag`: the tag every batch of this log carries (0 for a log without an identity). */
  constructor(readonly dir: string, readonly base: number, size: number, readonly logTag = 0) {
    this.path = segmentPath(dir, base)
    this.indexPath = indexPath(dir, base)
    this.size = size
    this.reader = new BatchReader(NO_SOURCE, { tag: logTag, blockBytes: BATCH_HEADER_BYTES, keepBytes: MAX_KEPT_VERIFY_BYTES })
  }

  handle(fsys: FileSystem): FileHandle {
    if (!this.readHandle) this.readHandle = fsys.open(this.path, 'read')
    return this.readHandle
  }

  /**
   * Reads through `handle` (the writer's, for the active segment) from now on. The previous
   * handle is not closed: it belongs to whoever passed it in.
   */
  adoptHandle(handle: FileHandle | undefined): void {
    this.readHandle = handle
  }

  closeHandle(): void {
    this.readHandle?.close()
    this.readHandle = undefined
  }

  /** Drops what this segment holds in memory (index, checked batches, read handle). */
  unload(): void {
    this.index = undefined
    this.verified.clear()
    this.closeHandle()
  }

  /** Forgets checked batches at or after `position` (after truncation). */
  forgetFrom(position: number): void {
    for (const pos of this.verified.keys()) if (pos >= position) this.verified.delete(pos)
  }

  private remember(position: number, batch: VerifiedBatch): void {
    if (this.verified.size >= MAX_VERIFIED_PER_SEGMENT) this.verified.clear()
    this.verified.set(position, batch)
  }

  /**
   * Loads the index of a sealed segment, or rebuilds it by scanning when the file is missing,
   * stale or damaged. Rebuilding verifies every batch; damage found then is ERR_CORRUPT.
   * `expectedNext` is the next segment's base: a sealed segment must end exactly there.
   */
  ensureIndex(fsys: FileSystem, intervalBytes: number, expectedNext: number | undefined, persist: boolean): SparseIndex {
    if (this.index) return this.index
    const loaded = SparseIndex.decode(fsys.readFile(this.indexPath), this.base, this.size)
    if (loaded && (expectedNext === undefined || loaded.nextOffset === expectedNext)) {
      this.verified.clear()
      this.index = loaded
      return loaded
    }
    return this.rebuildIndex(fsys, intervalBytes, expectedNext, persist)
  }

  /**
   * Builds the index again from the segment's bytes, every batch verified, and forgets what was
   * checked against the old one. Used when an index file is missing or stale, and when a read
   * finds an index whose entries contradict the batches they name (a checksum only says the
   * index file is intact, not that it describes this segment).
   */
  rebuildIndex(fsys: FileSystem, intervalBytes: number, expectedNext: number | undefined, persist: boolean): SparseIndex {
    const index = new SparseIndex(this.base)
    const scan = scanSegment(this.handle(fsys), this.size, 0, this.base, { index, indexIntervalBytes: intervalBytes, tag: this.logTag })
    if (scan.stop === 'newer-version') throw newerVersionError(this.path, scan.validEnd, scan.version ?? 0)
    if (scan.stop !== 'end') throw corruptError(this.path, scan.validEnd, scan.fault ?? 'damaged batch', 'in a sealed segment')
    if (expectedNext !== undefined && scan.nextOffset !== expectedNext) {
      throw corruptError(this.path, scan.validEnd, `segment ends at offset ${scan.nextOffset} but the next segment starts at ${expectedNext}`)
    }
    index.coveredBytes = this.size
    index.nextOffset = scan.nextOffset
    index.maxTimestamp = scan.maxTimestamp
    this.verified.clear()
    this.index = index
    if (persist) {
      try {
        fsys.writeFile(this.indexPath, index.encode(), false)
      } catch {
        // The index is derived data; failing to persist it only costs a rebuild next time.
      }
    }
    return index
  }

  /**
   * Reads the record at `offset` (which must lie in this segment, below its written end).
   * Returns a copy: point reads copy one small record rather than pin a read block.
   *
   * Nothing read from the index is trusted for bytes: the entry names a batch, which is verified
   * (checksum, structure) together with every index entry that points into it; the walk then moves
   * only over record boundaries of verified batches, each length bounded by its batch, and across
   * batches only when offsets continue. An index that contradicts its batches throws
   * {@link InconsistentIndexError} so the caller rebuilds it.
   */
  read(fsys: FileSystem, offset: number, index: SparseIndex, readAheadBytes: number): LogRecord {
    const handle = this.handle(fsys)
    // One read should usually reach from the index entry to the record: about one index interval.
    if (this.scratch.length !== readAheadBytes) this.scratch = Buffer.allocUnsafe(readAheadBytes)
    const scratch = this.scratch
    const i = index.floor(offset)
    const batchPos = i < 0 ? 0 : index.batchPosAt(i)
    let batch = this.verify(handle, batchPos, index)
    let current = i < 0 ? this.base : index.offsetAt(i)
    let start = i < 0 ? BATCH_HEADER_BYTES : index.recordPosAt(i)
    if (i < 0 && batch.baseOffset !== this.base) {
      throw new InconsistentIndexError(this.indexPath, `the segment's first batch starts at offset ${batch.baseOffset}, not at its base ${this.base}`)
    }
    if (current < batch.baseOffset || current >= batch.baseOffset + batch.count || start < batchPos + BATCH_HEADER_BYTES || start >= batch.end) {
      throw new InconsistentIndexError(this.indexPath, `index entry for offset ${current} does not match the batch at byte ${batchPos}`)
    }
    let avail = handle.read(scratch, 0, Math.min(batch.end - start, scratch.length), start)
    let p = 0
    for (;;) {
      if (start + p >= batch.end) {
        // Crossed into the next batch: check it, and that it continues the offsets, then go on.
        const position = batch.end
        const expected = batch.baseOffset + batch.count
        if (position >= this.size) throw corruptError(this.path, position, `record walk reached the end of the segment before offset ${offset}`)
        batch = this.verify(handle, position, index)
        if (batch.baseOffset !== expected) throw corruptError(this.path, position, `batch offset ${batch.baseOffset} where ${expected} was expected`)
        current = batch.baseOffset
        start = position + BATCH_HEADER_BYTES
        avail = handle.read(scratch, 0, Math.min(batch.end - start, scratch.length), start)
        p = 0
        continue
      }
      if (p + RECORD_HEADER_BYTES > avail) {
        start += p
        p = 0
        avail = handle.read(scratch, 0, Math.min(batch.end - start, scratch.length), start)
        // Never hand out bytes that were not read: the file is shorter than its verified batch.
        if (avail < RECORD_HEADER_BYTES) throw corruptError(this.path, start, 'the file ends inside a verified batch (changed underneath the reader)')
      }
      const len = scratch.readUInt32LE(p)
      const dataAt = start + p + RECORD_HEADER_BYTES
      // Bounded by the verified batch: a length that runs past it was not there when it was checked.
      if (dataAt + len > batch.end) throw corruptError(this.path, start + p, `record length ${len} runs past its batch (changed since it was verified)`)
      if (current === offset) {
        const data = Buffer.allocUnsafe(len)
        if (p + RECORD_HEADER_BYTES + len <= avail) scratch.copy(data, 0, p + RECORD_HEADER_BYTES, p + RECORD_HEADER_BYTES + len)
        else if (handle.read(data, 0, len, dataAt) !== len) {
          throw corruptError(this.path, start + p, 'the file ends inside a verified record (changed underneath the reader)')
        }
        return { offset, timestamp: batch.timestamp, data }
      }
      if (current > offset) throw corruptError(this.path, start + p, `record walk passed offset ${offset}`)
      p += RECORD_HEADER_BYTES + len
      current++
    }
  }

  /**
   * The batch at `position`, checking its checksum the first time this process touches it, and
   * checking that every entry of `index` pointing into it names a record boundary of this batch
   * with the right offset (so later walks may start from those entries).
   */
  private verify(handle: FileHandle, position: number, index: SparseIndex): VerifiedBatch {
    const known = this.verified.get(position)
    if (known) return known
    const reader = this.reader
    reader.source = handle
    // A point read trusts no bytes from an earlier one: the file may have been cut and rewritten since.
    reader.reset()
    const read = reader.readAt(position, this.size)
    if (read !== BatchRead.Valid) throw batchReadError(reader, read, this.path, -1, -1, 'batch header past the end of the segment')
    const header = reader.header
    checkIndexAgainstBatch(index, reader.bytes, reader.at, position, header, this.indexPath)
    const entry: VerifiedBatch = { end: position + header.length, timestamp: header.timestamp, baseOffset: header.baseOffset, count: header.count }
    if (!(entry.end <= this.size)) throw invariantViolated('a verified batch lies inside its segment', { position, end: entry.end, size: this.size })
    this.remember(position, entry)
    return entry
  }
}
