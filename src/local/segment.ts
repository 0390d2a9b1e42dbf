/**
 * One segment file: its base offset, its size, its sparse index (loaded or rebuilt lazily for
 * sealed segments) and the point-read path. Sealed segments are never written again.
 */
import { BATCH_HEADER_BYTES, BatchHeader, RECORD_HEADER_BYTES } from '../format/index.js'
import type { FileHandle, FileSystem } from '../io/file-system.js'
import { invariantViolated } from '../invariant.js'
import { corruptError, InconsistentIndexError, newerVersionError } from './batch-errors.js'
import { BatchCache } from './batch-cache.js'
import { BatchRead, BatchReader, batchReadError } from './batch-reader.js'
import { cachedRecord, recordPositions } from './cached-read.js'
import { indexPath, segmentPath } from './names.js'
import { scanSegment } from './scan.js'
import { SparseIndex } from './sparse-index.js'
import { VerifiedBatches } from './verified-batches.js'

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

/** Buffers up to this size are kept for the next cold read; a bigger batch gets its own. */
const MAX_KEPT_VERIFY_BYTES = 4 << 20
const NO_SOURCE = { read: (): number => 0 }

/**
 * Every entry of `index` whose record position lies inside the verified batch in `buf` (at file
 * `position`) must name this batch and one of its record boundaries, with that record's offset.
 * `first` is the first entry at or after `position`; returns the entry after the last one checked.
 */
function checkIndexAgainstBatch(index: SparseIndex, first: number, buf: Buffer, at: number, position: number, header: BatchHeader, file: string): number {
  const end = position + header.length
  let j = first
  if (j >= index.count || index.recordPosAt(j) >= end) return j
  let p = at + BATCH_HEADER_BYTES
  let offset = header.baseOffset
  const last = header.baseOffset + header.count
  for (; j < index.count && index.recordPosAt(j) < end; j++) {
    const want = at + index.recordPosAt(j) - position
    while (p < want && offset < last) {
      // Element loads, not readUInt32LE: cheap even before the JIT optimizes this cold-read loop.
      p += RECORD_HEADER_BYTES + ((buf[p] | buf[p + 1] << 8 | buf[p + 2] << 16 | buf[p + 3] << 24) >>> 0)
      offset++
    }
    if (p !== want || offset >= last || index.offsetAt(j) !== offset || index.batchPosAt(j) !== position) {
      throw new InconsistentIndexError(file, `index entry ${j} (offset ${index.offsetAt(j)}, byte ${index.recordPosAt(j)}) is not a record of the batch at byte ${position}`)
    }
  }
  return j
}

export class PointReadBuffers {
  private window = Buffer.alloc(0)
  private verifier: BatchReader | undefined
  /** Verified batches' bytes, kept for later reads (see batch-cache.ts). */
  readonly cache: BatchCache

  /** `logTag`: the tag every batch of the log carries; `cacheBytes`: the budget of {@link cache} (0: none). */
  constructor(readonly logTag: number, cacheBytes = 0) {
    this.cache = new BatchCache(cacheBytes)
  }

  /** The window buffer, `bytes` long. */
  scratch(bytes: number): Buffer {
    if (this.window.length !== bytes) this.window = Buffer.allocUnsafe(bytes)
    return this.window
  }

  /** Length of the window buffer last asked for. */
  get windowBytes(): number {
    return this.window.length
  }

  /**
   * The verifying reader: one read of a window from a batch's start, and a second of the whole
   * batch only when it is bigger than the window.
   */
  reader(windowBytes: number): BatchReader {
    if (!this.verifier) this.verifier = new BatchReader(NO_SOURCE, { tag: this.logTag, blockBytes: windowBytes, keepBytes: MAX_KEPT_VERIFY_BYTES })
    return this.verifier
  }
}

export class Segment {
  readonly path: string
  readonly indexPath: string
  private knownSize: number
  /** Set while the size is still to be read from the file (see {@link sizeFromFile}). */
  private sizeFrom: FileSystem | undefined
  /** In memory for the active segment; loaded on first read for sealed ones. */
  index: SparseIndex | undefined
  private readHandle: FileHandle | undefined
  /** Batches point reads verified, one slot per index entry. */
  readonly verified = new VerifiedBatches()

  /** `logTag`: the tag every batch of this log carries (0 for a log without an identity). */
  constructor(readonly dir: string, readonly base: number, size: number, readonly logTag = 0) {
    this.path = segmentPath(dir, base)
    this.indexPath = indexPath(dir, base)
    this.knownSize = size
  }

  /** Valid bytes (for the active segment: bytes written so far). */
  get size(): number {
    return this.sizeFrom === undefined ? this.knownSize : this.statSize(this.sizeFrom)
  }

  set size(bytes: number) {
    this.sizeFrom = undefined
    this.knownSize = bytes
  }

  /**
   * The size is the file's, read when first asked for. A writer's open uses this for its sealed
   * segments: only this process changes them (it holds the lock) and it sets the size whenever it
   * does, so the file says later what it says now, and an open of a log of many segments does
   * not stat every one.
   */
  sizeFromFile(fsys: FileSystem): void {
    this.sizeFrom = fsys
  }

  private statSize(fsys: FileSystem): number {
    this.size = fsys.stat(this.path)?.size ?? 0
    return this.knownSize
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
    this.verified.reset()
    this.closeHandle()
  }

  /** Forgets checked batches that reach past `position` (after truncation). */
  forgetFrom(position: number): void {
    this.verified.forgetFrom(position)
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
      this.verified.reset()
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
    this.verified.reset()
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
   *
   * I/O: a batch verified before costs one read of about one index interval from the entry on
   * (`readAheadBytes`); the first read into a batch verifies it and walks in the bytes that
   * verification read (one read, or two when the batch is bigger than the window).
   */
  read(fsys: FileSystem, offset: number, index: SparseIndex, readAheadBytes: number, buffers: PointReadBuffers): LogRecord {
    const handle = this.handle(fsys)
    const verified = this.verified
    verified.bind(index)
    // A cached batch holding the offset answers without the index: it stays cached only while
    // every entry naming it checks out against it (verified-batches.ts).
    const holding = verified.cachedHolding(offset)
    if (holding !== undefined) return cachedRecord(handle, buffers.cache, holding, offset, this.path, this.logTag)
    const scratch = buffers.scratch(readAheadBytes)
    const i = index.floor(offset)
    const batchPos = i < 0 ? 0 : index.batchPosAt(i)
    let current = i < 0 ? this.base : index.offsetAt(i)
    // The walk's position in the file, and the buffer holding file bytes [lo, hi) at buf[0 - bufPos …].
    let x = i < 0 ? BATCH_HEADER_BYTES : index.recordPosAt(i)
    let buf: Buffer = scratch
    let bufPos = 0
    let lo = 0
    let hi = 0
    // The batch being walked: where it ends, its offsets and timestamp.
    let end: number
    let batchBase: number
    let timestamp: number
    // A cached batch stays cached only while its slots are verified (verified-batches.ts), and every
    // entry naming it was checked against it then: so its table answers without the slot loads.
    // Offsets before the first entry are in the batch at 0, whose entry (if any) answers the same way.
    const cached = verified.cachedAt(batchPos)
    if (cached !== undefined) {
      if (i < 0 && cached.baseOffset !== this.base) {
        throw new InconsistentIndexError(this.indexPath, `the segment's first batch starts at offset ${cached.baseOffset}, not at its base ${this.base}`)
      }
      const rel = offset - cached.baseOffset
      if (rel >= 0 && rel < cached.positions.length) return cachedRecord(handle, buffers.cache, cached, offset, this.path, this.logTag)
      // The offset lies past this batch (in one no entry names): the walk goes on from its end.
      end = cached.end
      batchBase = cached.baseOffset
      timestamp = cached.timestamp
      x = end
      current = batchBase + cached.positions.length
    } else if (i >= 0 && verified.endAt(i) !== 0) {
      end = verified.endAt(i)
      batchBase = verified.baseAt(i)
      timestamp = verified.timestampAt(i)
    } else {
      const reader = this.verify(handle, batchPos, index, buffers)
      const header = reader.header
      end = batchPos + header.length
      batchBase = header.baseOffset
      timestamp = header.timestamp
      buf = reader.bytes
      bufPos = batchPos - reader.at
      lo = batchPos
      hi = end
      if (i < 0 && batchBase !== this.base) {
        throw new InconsistentIndexError(this.indexPath, `the segment's first batch starts at offset ${batchBase}, not at its base ${this.base}`)
      }
      if (current < batchBase || current >= batchBase + header.count || x < batchPos + BATCH_HEADER_BYTES || x >= end) {
        throw new InconsistentIndexError(this.indexPath, `index entry for offset ${current} does not match the batch at byte ${batchPos}`)
      }
    }
    for (;;) {
      if (x >= end) {
        // Crossed into the next batch: check it, and that it continues the offsets, then go on.
        const position = end
        if (position >= this.size) throw corruptError(this.path, position, `record walk reached the end of the segment before offset ${offset}`)
        const j = index.firstAtOrAfterPos(position)
        // A batch no index entry names has no slot, but may be cached: its entry exists only while it stays verified.
        const cached = verified.cachedAt(position)
        if (cached !== undefined) {
          if (cached.baseOffset !== current) throw corruptError(this.path, position, `batch offset ${cached.baseOffset} where ${current} was expected`)
          if (offset - current < cached.positions.length) return cachedRecord(handle, buffers.cache, cached, offset, this.path, this.logTag)
          end = cached.end
          batchBase = cached.baseOffset
          timestamp = cached.timestamp
          x = end
          current = batchBase + cached.positions.length
          continue
        } else if (j < index.count && index.batchPosAt(j) === position && verified.endAt(j) !== 0) {
          end = verified.endAt(j)
          batchBase = verified.baseAt(j)
          timestamp = verified.timestampAt(j)
        } else {
          const reader = this.verify(handle, position, index, buffers)
          end = position + reader.header.length
          batchBase = reader.header.baseOffset
          timestamp = reader.header.timestamp
          buf = reader.bytes
          bufPos = position - reader.at
          lo = position
          hi = end
        }
        if (batchBase !== current) throw corruptError(this.path, position, `batch offset ${batchBase} where ${current} was expected`)
        x = position + BATCH_HEADER_BYTES
        continue
      }
      if (x < lo || x + RECORD_HEADER_BYTES > hi) {
        // Only the scratch buffer is refilled: the bytes a verification read stay where they are.
        buf = scratch
        bufPos = x
        lo = x
        hi = x + handle.read(buf, 0, Math.min(this.size - x, buf.length), x)
        // Never hand out bytes that were not read: the file is shorter than its verified batch.
        if (hi - x < RECORD_HEADER_BYTES) throw corruptError(this.path, x, 'the file ends inside a verified batch (changed underneath the reader)')
      }
      const at = x - bufPos
      const len = (buf[at] | buf[at + 1] << 8 | buf[at + 2] << 16 | buf[at + 3] << 24) >>> 0
      const dataAt = x + RECORD_HEADER_BYTES
      // Bounded by the verified batch: a length that runs past it was not there when it was checked.
      if (dataAt + len > end) throw corruptError(this.path, x, `record length ${len} runs past its batch (changed since it was verified)`)
      if (current === offset) {
        const data = Buffer.allocUnsafe(len)
        if (dataAt + len <= hi) buf.copy(data, 0, dataAt - bufPos, dataAt - bufPos + len)
        else if (handle.read(data, 0, len, dataAt) !== len) {
          throw corruptError(this.path, x, 'the file ends inside a verified record (changed underneath the reader)')
        }
        return { offset, timestamp, data }
      }
      if (current > offset) throw corruptError(this.path, x, `record walk passed offset ${offset}`)
      x = dataAt + len
      current++
    }
  }

  /**
   * Reads and verifies the batch at `position` (checksum, structure, log tag) and checks that
   * every entry of `index` pointing into it names a record boundary of this batch with the right
   * offset, so later walks may start from those entries; then remembers it in their slots.
   * Returns `reader`, holding the batch's bytes until its next read.
   */
  private verify(handle: FileHandle, position: number, index: SparseIndex, buffers: PointReadBuffers): BatchReader {
    const reader = buffers.reader(buffers.windowBytes)
    reader.source = handle
    // A point read trusts no bytes from an earlier one: the file may have been cut and rewritten since.
    reader.reset()
    const read = reader.readAt(position, this.size)
    if (read !== BatchRead.Valid) throw batchReadError(reader, read, this.path, -1, -1, 'batch header past the end of the segment')
    const header = reader.header
    const end = position + header.length
    if (!(end <= this.size)) throw invariantViolated('a verified batch lies inside its segment', { position, end, size: this.size })
    const first = index.firstAtOrAfterPos(position)
    const last = checkIndexAgainstBatch(index, first, reader.bytes, reader.at, position, header, this.indexPath)
    this.verified.mark(first, last, end, header.baseOffset, header.timestamp)
    // Its positions only: copying its bytes into fresh memory costs more than the reads most batches get save (see PROMOTE_AFTER_HITS).
    if (buffers.cache.acceptsPositions(header.count)) {
      const bytes = reader.bytes
      const at = reader.at
      this.verified.keep(buffers.cache, position, undefined, header.length, header.baseOffset, header.timestamp, header.count,
        (positions) => recordPositions(bytes, at, header, positions))
    }
    return reader
  }
}
