/**
 * A sparse offset index for one segment: every ~indexIntervalBytes of log data, one entry
 * (offset relative to the segment base, file position of that record, file position of its batch).
 * It is derived data: always rebuilt from the segment when missing, stale or damaged.
 *
 * File layout (little-endian): the file envelope (src/format/envelope.ts: magic 'SGIX', crc32c,
 * version 1), then u32 entry count, u64 segment size covered, u64 next offset after the segment's
 * last record, u64 largest batch timestamp; then `count` entries of 3 × u32.
 */
import { allocEnvelope, checkEnvelope, envelopeHeaderBytes, readU64, sealEnvelope, writeU64, type EnvelopeKind } from '../format/index.js'
import type { FileHandle, FileSystem } from '../io/file-system.js'
import { invariantViolated } from '../invariant.js'
import { InconsistentIndexError } from './batch-errors.js'

/** The index file's envelope. Derived data: a damaged or newer index is rebuilt, never an error. */
export const INDEX_ENVELOPE: EnvelopeKind = {
  name: 'index',
  magic: 0x58494753, // 'SGIX'
  version: 1,
  remedy: 'It is rebuilt from its segment',
}
export const INDEX_HEADER_BYTES = 40
const ENTRY_WORDS = 3
/**
 * Entries decoded lazily (see {@link SparseIndex.decode}) are checked in blocks of this many, each
 * the first time a lookup lands in it: a point read pays for 256 entries, not for the whole index.
 */
const CHECK_BLOCK_SHIFT = 8
const CHECK_BLOCK = 1 << CHECK_BLOCK_SHIFT

export class SparseIndex {
  /** Entries as flat triples; grown by doubling. */
  private entries: Uint32Array
  count = 0
  /** Segment bytes this index covers. */
  coveredBytes = 0
  /** Offset after the last record covered. */
  nextOffset: number
  /** Largest batch timestamp covered (ms), 0 when empty. */
  maxTimestamp = 0
  /** File position of the last indexed record, so the next entry lands one interval later. */
  private lastIndexedPos = -Infinity
  /**
   * Lazy decode: entries below `decodedCount` came from the file and are checked block by block
   * on first use; a block's byte is 1 once checked. Undefined when every entry is checked (entries
   * added in this process are checked by {@link add}).
   */
  private unchecked: Uint8Array | undefined
  private decodedCount = 0
  /** The file's header, which bounds its entries (the live fields move as appends come in). */
  private decodedCovered = 0
  private decodedNext = 0
  private file = ''
  /**
   * Entries [0, from) not read yet (see {@link SparseIndex.decodeDeferred}): read from the file on
   * first use, which must still start with `header` and end with the last block read at open.
   */
  private deferred: { load: () => Buffer | undefined; header: Buffer; from: number } | undefined

  constructor(readonly base: number, capacity = 64) {
    this.entries = new Uint32Array(capacity * ENTRY_WORDS)
    this.nextOffset = base
  }

  /** Called for each record as it is written or scanned, in order. */
  maybeAdd(offset: number, recordPos: number, batchPos: number, intervalBytes: number): void {
    if (recordPos - this.lastIndexedPos < intervalBytes) return
    this.add(offset, recordPos, batchPos)
  }

  /** File position from which the next record gets an entry (hot loops test this themselves). */
  dueAt(intervalBytes: number): number {
    return this.lastIndexedPos + intervalBytes
  }

  /** Adds an entry; the caller has checked {@link dueAt}. */
  add(offset: number, recordPos: number, batchPos: number): void {
    const rel = offset - this.base
    if (!(rel >= 0 && rel <= 0xffffffff && (this.count === 0 || rel > this.entries[(this.count - 1) * ENTRY_WORDS]))) {
      throw invariantViolated('index entries increase in offset, within the segment', { base: this.base, offset, count: this.count })
    }
    if (!(recordPos > this.lastIndexedPos && recordPos <= 0xffffffff && batchPos >= 0 && batchPos <= recordPos)) {
      throw invariantViolated('index entries increase in position, each record inside its batch', { offset, recordPos, batchPos, last: this.lastIndexedPos })
    }
    this.lastIndexedPos = recordPos
    if ((this.count + 1) * ENTRY_WORDS > this.entries.length) {
      const grown = new Uint32Array(this.entries.length * 2)
      grown.set(this.entries)
      this.entries = grown
    }
    const i = this.count * ENTRY_WORDS
    this.entries[i] = offset - this.base
    this.entries[i + 1] = recordPos
    this.entries[i + 2] = batchPos
    this.count++
  }

  /**
   * The last entry at or before `offset`, as an index into the entries, or -1 when `offset`
   * precedes every entry.
   *
   * Interpolation first, then binary search: entries are spread about evenly over the offsets
   * (one per interval of bytes), so a guess from the offsets lands at or next to the answer. A
   * plain binary search over a large index costs a cache miss at almost every one of its ~15
   * steps, which was most of a warm point read's time outside the `pread`.
   */
  floor(offset: number): number {
    if (this.deferred !== undefined) this.loadDeferred()
    const e = this.entries
    const rel = offset - this.base
    let hi = this.count - 1
    if (hi < 0 || e[0] > rel) return -1
    if (e[hi * ENTRY_WORDS] <= rel) return this.checked(hi)
    // From here on: e[lo] <= rel < e[hi].
    let lo = 0
    for (let step = 0; step < 3 && hi - lo > 8; step++) {
      const a = e[lo * ENTRY_WORDS]
      let mid = lo + Math.floor((rel - a) * (hi - lo) / (e[hi * ENTRY_WORDS] - a))
      if (mid <= lo) mid = lo + 1
      else if (mid >= hi) mid = hi - 1
      if (e[mid * ENTRY_WORDS] <= rel) lo = mid
      else hi = mid
    }
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1
      if (e[mid * ENTRY_WORDS] <= rel) lo = mid
      else hi = mid
    }
    // The search keeps e[lo] <= rel < e[hi] whatever the other entries hold, so an unchecked
    // entry it passed over can only make it land earlier; the one it returns is checked.
    return this.checked(lo)
  }

  /** The first entry whose record position is at or after `position`, or `count` when none is. */
  firstAtOrAfterPos(position: number): number {
    if (this.deferred !== undefined) this.loadDeferred()
    let lo = 0
    let hi = this.count
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.entries[mid * ENTRY_WORDS + 1] < position) lo = mid + 1
      else hi = mid
    }
    return lo < this.count ? this.checked(lo) : lo
  }

  /**
   * Entry `i`, once the block holding it has passed the checks an eager decode makes (throws
   * {@link InconsistentIndexError}, which readers answer by rebuilding the index, when it fails).
   */
  private checked(i: number): number {
    const unchecked = this.unchecked
    if (unchecked !== undefined && i < this.decodedCount && unchecked[i >>> CHECK_BLOCK_SHIFT] === 0) this.checkBlock(i >>> CHECK_BLOCK_SHIFT)
    return i
  }

  /**
   * Checks every entry not checked yet; false (and nothing changed) when one fails. For what uses
   * entries without a lookup: truncate (it cuts the index by its entries) and verify.
   */
  checkAll(): boolean {
    try {
      if (this.deferred !== undefined) this.loadDeferred()
    } catch (err) {
      if (err instanceof InconsistentIndexError) return false
      throw err
    }
    const unchecked = this.unchecked
    if (unchecked === undefined) return true
    try {
      for (let b = 0; b < unchecked.length; b++) if (unchecked[b] === 0) this.checkBlock(b)
    } catch (err) {
      if (err instanceof InconsistentIndexError) return false
      throw err
    }
    return true
  }

  private checkBlock(b: number): void {
    const e = this.entries
    const from = b << CHECK_BLOCK_SHIFT
    const to = Math.min(from + CHECK_BLOCK, this.decodedCount)
    const bad = firstBadEntry(e, from, to, this.base, this.decodedCovered, this.decodedNext)
    if (bad >= 0) {
      throw new InconsistentIndexError(this.file, `index entry ${bad} (offset ${this.base + e[bad * ENTRY_WORDS]}, byte ${e[bad * ENTRY_WORDS + 1]}) ` +
        'is out of order or outside its segment')
    }
    const unchecked = this.unchecked as Uint8Array
    unchecked[b] = 1
    if (unchecked.every((x) => x === 1)) this.unchecked = undefined
  }

  offsetAt(i: number): number { return this.base + this.entries[i * ENTRY_WORDS] }
  recordPosAt(i: number): number { return this.entries[i * ENTRY_WORDS + 1] }
  batchPosAt(i: number): number { return this.entries[i * ENTRY_WORDS + 2] }

  /** Drops every entry for records at or after `offset` (used by truncate). */
  truncateTo(offset: number, coveredBytes: number): void {
    if (!(offset >= this.base && coveredBytes >= 0)) throw invariantViolated('an index is cut inside its segment', { base: this.base, offset, coveredBytes })
    // truncate() rebuilds an index that fails its checks before it changes anything.
    if (!this.checkAll()) throw invariantViolated('an index is checked before it is cut', { base: this.base, offset })
    while (this.count > 0 && this.offsetAt(this.count - 1) >= offset) this.count--
    if (this.count > 0 && !(this.recordPosAt(this.count - 1) < coveredBytes)) {
      throw invariantViolated('the entries kept by a cut lie inside the bytes it keeps', { offset, coveredBytes, recordPos: this.recordPosAt(this.count - 1) })
    }
    this.lastIndexedPos = this.count > 0 ? this.recordPosAt(this.count - 1) : -Infinity
    this.coveredBytes = coveredBytes
    this.nextOffset = offset
  }

  /** Throws {@link InconsistentIndexError} when a deferred body turns out damaged (see {@link SparseIndex.decodeDeferred}). */
  encode(): Buffer {
    if (this.deferred !== undefined) this.loadDeferred()
    const body = this.count * ENTRY_WORDS * 4
    const buf = allocEnvelope(INDEX_ENVELOPE, INDEX_HEADER_BYTES - envelopeHeaderBytes(INDEX_ENVELOPE) + body)
    buf.writeUInt32LE(this.count, 12)
    writeU64(buf, 16, this.coveredBytes)
    writeU64(buf, 24, this.nextOffset)
    writeU64(buf, 32, this.maxTimestamp)
    Buffer.from(this.entries.buffer, this.entries.byteOffset, body).copy(buf, INDEX_HEADER_BYTES)
    return sealEnvelope(buf)
  }

  /**
   * Reads the entries left in the file at open. The whole file is checked as {@link decode} checks
   * it, and must still hold what open read (header and last block): otherwise
   * {@link InconsistentIndexError}, which readers answer by rebuilding the index.
   */
  private loadDeferred(): void {
    const d = this.deferred as NonNullable<SparseIndex['deferred']>
    const buf = d.load()
    const bodyBytes = d.from * ENTRY_WORDS * 4
    const tail = Buffer.from(this.entries.buffer, this.entries.byteOffset + bodyBytes, (this.decodedCount - d.from) * ENTRY_WORDS * 4)
    if (!buf || buf.length !== INDEX_HEADER_BYTES + this.decodedCount * ENTRY_WORDS * 4 || !d.header.equals(buf.subarray(0, INDEX_HEADER_BYTES)) ||
      !tail.equals(buf.subarray(INDEX_HEADER_BYTES + bodyBytes)) || checkEnvelope(buf, INDEX_ENVELOPE)) {
      throw new InconsistentIndexError(this.file, 'the index file is damaged, or changed since the log was opened')
    }
    new Uint8Array(this.entries.buffer, this.entries.byteOffset, bodyBytes).set(buf.subarray(INDEX_HEADER_BYTES, INDEX_HEADER_BYTES + bodyBytes))
    this.deferred = undefined
    // The last block was checked at open without the entry before it: check that junction now.
    if (firstBadEntry(this.entries, d.from, d.from + 1, this.base, this.decodedCovered, this.decodedNext) >= 0) {
      this.deferred = d
      throw new InconsistentIndexError(this.file, `index entry ${d.from} is out of order with the entry before it`)
    }
  }

  /**
   * As {@link decode} with `lazyFile`, reading only the header and the last block of entries now
   * (two small reads instead of the whole file: about 370 KB for a full segment at the defaults);
   * the other entries are read on first use (a lookup, a cut, {@link encode}). Only for a writer
   * holding the lock: nothing else changes the file between the two reads (this process rewrites
   * it only through {@link encode}, which reads the rest first).
   */
  static decodeDeferred(fsys: FileSystem, file: string, base: number, segmentSize: number): SparseIndex | undefined {
    let handle: FileHandle
    try {
      handle = fsys.open(file, 'read')
    } catch {
      return undefined
    }
    try {
      const size = handle.size()
      const header = Buffer.allocUnsafe(INDEX_HEADER_BYTES)
      if (size < INDEX_HEADER_BYTES || handle.read(header, 0, INDEX_HEADER_BYTES, 0) !== INDEX_HEADER_BYTES) return undefined
      const count = header.readUInt32LE(12)
      const blocks = (count + CHECK_BLOCK - 1) >>> CHECK_BLOCK_SHIFT
      if (size !== INDEX_HEADER_BYTES + count * ENTRY_WORDS * 4 || header.readUInt32LE(0) !== INDEX_ENVELOPE.magic >>> 0 || header[8] !== INDEX_ENVELOPE.version) return undefined
      const covered = readU64(header, 16)
      const nextOffset = readU64(header, 24)
      const maxTimestamp = readU64(header, 32)
      if (covered !== segmentSize || nextOffset < base || maxTimestamp < 0) return undefined
      if (blocks <= 1) {
        const whole = Buffer.allocUnsafe(size)
        whole.set(header)
        if (handle.read(whole, INDEX_HEADER_BYTES, size - INDEX_HEADER_BYTES, INDEX_HEADER_BYTES) !== size - INDEX_HEADER_BYTES) return undefined
        return SparseIndex.decode(whole, base, segmentSize)
      }
      const index = new SparseIndex(base, count + (count >>> 2))
      const from = (blocks - 1) << CHECK_BLOCK_SHIFT
      const e = index.entries
      const tailBytes = (count - from) * ENTRY_WORDS * 4
      if (handle.read(new Uint8Array(e.buffer, from * ENTRY_WORDS * 4, tailBytes), 0, tailBytes, INDEX_HEADER_BYTES + from * ENTRY_WORDS * 4) !== tailBytes) return undefined
      if (firstBadEntry(e, from, count, base, covered, nextOffset) >= 0) return undefined
      index.deferred = { load: () => fsys.readFile(file), header, from }
      index.unchecked = new Uint8Array(blocks)
      index.unchecked[blocks - 1] = 1
      index.decodedCount = count
      index.decodedCovered = covered
      index.decodedNext = nextOffset
      index.file = file
      index.count = count
      index.coveredBytes = covered
      index.nextOffset = nextOffset
      index.maxTimestamp = maxTimestamp
      index.lastIndexedPos = e[(count - 1) * ENTRY_WORDS + 1]
      return index
    } finally {
      handle.close()
    }
  }

  /**
   * Decodes an index file for a segment of `segmentSize` bytes. Returns undefined, so the caller
   * rebuilds, when anything is off: magic, version, checksum, length, a size that does not match
   * the segment, or entries that are not strictly increasing and inside the segment.
   *
   * With `lazyFile` (the index file's path, for errors), only the envelope, the header and the
   * last block of entries are checked now; every other block is checked the first time a lookup
   * lands in it, and a failure then throws {@link InconsistentIndexError}, which readers answer by
   * rebuilding the index (as they do for an index that contradicts its batches). Opening a log
   * decodes its active segment's index this way: checking some 30,000 entries in a loop that runs
   * before the JIT has optimised it cost 2–11 ms of every open.
   */
  static decode(buf: Buffer | undefined, base: number, segmentSize: number, lazyFile?: string): SparseIndex | undefined {
    if (!buf || buf.length < INDEX_HEADER_BYTES) return undefined
    const count = buf.readUInt32LE(12)
    // Length before checksum: a stale index of another size costs no CRC pass.
    if (buf.length !== INDEX_HEADER_BYTES + count * ENTRY_WORDS * 4 || checkEnvelope(buf, INDEX_ENVELOPE)) return undefined
    const covered = readU64(buf, 16)
    const nextOffset = readU64(buf, 24)
    const maxTimestamp = readU64(buf, 32)
    if (covered !== segmentSize || nextOffset < base || maxTimestamp < 0) return undefined
    // Room to grow: the active segment's index keeps receiving entries after it is loaded.
    const index = new SparseIndex(base, Math.max(count + (count >>> 2), 64))
    const src = index.entries
    new Uint8Array(src.buffer, 0, count * ENTRY_WORDS * 4).set(buf.subarray(INDEX_HEADER_BYTES))
    const blocks = (count + CHECK_BLOCK - 1) >>> CHECK_BLOCK_SHIFT
    if (lazyFile !== undefined && blocks > 1) {
      // The last block now: appends continue from the last entry.
      const last = blocks - 1
      if (firstBadEntry(src, last << CHECK_BLOCK_SHIFT, count, base, covered, nextOffset) >= 0) return undefined
      index.unchecked = new Uint8Array(blocks)
      index.unchecked[last] = 1
      index.decodedCount = count
      index.decodedCovered = covered
      index.decodedNext = nextOffset
      index.file = lazyFile
    } else if (firstBadEntry(src, 0, count, base, covered, nextOffset) >= 0) {
      return undefined
    }
    index.count = count
    index.coveredBytes = covered
    index.nextOffset = nextOffset
    index.maxTimestamp = maxTimestamp
    index.lastIndexedPos = count > 0 ? src[(count - 1) * 3 + 1] : -Infinity
    return index
  }
}

/**
 * The first of entries [from, to) that is not strictly after the entry before it (in offset and
 * in position), names a batch after its record, or lies outside the segment the header describes;
 * -1 when all pass.
 */
function firstBadEntry(e: Uint32Array, from: number, to: number, base: number, covered: number, nextOffset: number): number {
  let prevRel = from > 0 ? e[(from - 1) * ENTRY_WORDS] : -1
  let prevPos = from > 0 ? e[(from - 1) * ENTRY_WORDS + 1] : -1
  for (let i = from, w = from * ENTRY_WORDS; i < to; i++, w += ENTRY_WORDS) {
    const rel = e[w]
    const recordPos = e[w + 1]
    if (rel <= prevRel || recordPos <= prevPos || e[w + 2] > recordPos || recordPos >= covered || base + rel >= nextOffset) return i
    prevRel = rel
    prevPos = recordPos
  }
  return -1
}
