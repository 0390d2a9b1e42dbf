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
import { invariantViolated } from '../invariant.js'

/** The index file's envelope. Derived data: a damaged or newer index is rebuilt, never an error. */
export const INDEX_ENVELOPE: EnvelopeKind = {
  name: 'index',
  magic: 0x58494753, // 'SGIX'
  version: 1,
  remedy: 'It is rebuilt from its segment',
}
export const INDEX_HEADER_BYTES = 40
const ENTRY_WORDS = 3

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
    const e = this.entries
    const rel = offset - this.base
    let hi = this.count - 1
    if (hi < 0 || e[0] > rel) return -1
    if (e[hi * ENTRY_WORDS] <= rel) return hi
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
    return lo
  }

  /** The first entry whose record position is at or after `position`, or `count` when none is. */
  firstAtOrAfterPos(position: number): number {
    let lo = 0
    let hi = this.count
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.entries[mid * ENTRY_WORDS + 1] < position) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  offsetAt(i: number): number { return this.base + this.entries[i * ENTRY_WORDS] }
  recordPosAt(i: number): number { return this.entries[i * ENTRY_WORDS + 1] }
  batchPosAt(i: number): number { return this.entries[i * ENTRY_WORDS + 2] }

  /** Drops every entry for records at or after `offset` (used by truncate). */
  truncateTo(offset: number, coveredBytes: number): void {
    if (!(offset >= this.base && coveredBytes >= 0)) throw invariantViolated('an index is cut inside its segment', { base: this.base, offset, coveredBytes })
    while (this.count > 0 && this.offsetAt(this.count - 1) >= offset) this.count--
    if (this.count > 0 && !(this.recordPosAt(this.count - 1) < coveredBytes)) {
      throw invariantViolated('the entries kept by a cut lie inside the bytes it keeps', { offset, coveredBytes, recordPos: this.recordPosAt(this.count - 1) })
    }
    this.lastIndexedPos = this.count > 0 ? this.recordPosAt(this.count - 1) : -Infinity
    this.coveredBytes = coveredBytes
    this.nextOffset = offset
  }

  encode(): Buffer {
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
   * Decodes an index file for a segment of `segmentSize` bytes. Returns undefined, so the caller
   * rebuilds, when anything is off: magic, version, checksum, length, a size that does not match
   * the segment, or entries that are not strictly increasing and inside the segment.
   */
  static decode(buf: Buffer | undefined, base: number, segmentSize: number): SparseIndex | undefined {
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
    let prevRel = -1
    let prevPos = -1
    for (let i = 0, w = 0; i < count; i++, w += ENTRY_WORDS) {
      const rel = src[w]
      const recordPos = src[w + 1]
      if (rel <= prevRel || recordPos <= prevPos || src[w + 2] > recordPos || recordPos >= covered || base + rel >= nextOffset) {
        return undefined
      }
      prevRel = rel
      prevPos = recordPos
    }
    index.count = count
    index.coveredBytes = covered
    index.nextOffset = nextOffset
    index.maxTimestamp = maxTimestamp
    index.lastIndexedPos = count > 0 ? src[(count - 1) * 3 + 1] : -Infinity
    return index
  }
}
