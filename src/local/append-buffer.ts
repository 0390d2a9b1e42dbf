/**
 * The append buffer: frames records into the write buffer as batches (the open batch that
 * append() grows, whole batches from appendBatch()), assigns offsets, and adds the active
 * segment's index entries as it goes (one index-due check for both paths). It does no I/O: the
 * log writes `buf[0, used)` at the end of the active segment and then calls {@link written}.
 */
import { BATCH_HEADER_BYTES, RECORD_HEADER_BYTES, sealBatch } from '../format/index.js'
import { invariantViolated } from '../invariant.js'
import type { LogClock } from './options.js'
import type { SparseIndex } from './sparse-index.js'

/** A batch opened by append() is sealed once it holds this much, to keep point reads cheap. */
export const MAX_APPEND_BATCH_BYTES = 128 << 10
/** {@link AppendBuffer.add}: the buffer has no room; write it out, {@link AppendBuffer.reserve}, retry. */
export const NO_ROOM = -1
/** {@link AppendBuffer.add}: the record is over maxRecordBytes ({@link AppendBuffer.lastLength} says how long). */
export const TOO_LARGE = -2
/**
 * {@link AppendBuffer.tryAddBatch}: the batch is not the common case (a record that is not
 * non-empty bytes or is over a limit, or no room left): nothing changed; take the checked path.
 */
export const CHECKED_PATH = -3

export interface AppendBufferConfig {
  /** The buffer's usual size; a larger one grown for a big record shrinks back after the write. */
  readonly bufferBytes: number
  readonly maxRecordBytes: number
  readonly indexIntervalBytes: number
  /** The log's tag, carried by every batch. */
  readonly tag: number
  readonly clock: LogClock
}

export class AppendBuffer {
  buf: Buffer
  /** Bytes framed and not yet written out. */
  used = 0
  /** Offset the next record gets. */
  next: number
  /** Byte length of the record the last {@link add} looked at (for its error message). */
  lastLength = 0
  private batchStart = -1
  private batchCount = 0
  private batchBase = 0
  private batchTimestamp = 0
  /** Index entries met while framing a batch in one pass, as (record number, buffer position) pairs: added once the batch is whole. */
  private pendingIndex: Int32Array = new Int32Array(256)

  /** `segments.activeIndex`: the active segment's index (the segment set replaces it on roll and truncate). */
  constructor(private readonly config: AppendBufferConfig, next: number, private readonly segments: { readonly activeIndex: SparseIndex }) {
    this.buf = Buffer.allocUnsafe(config.bufferBytes)
    this.next = next
  }

  /**
   * Frames one record into the open batch (opening one when needed) at segment position
   * `segPos + used`. Returns its offset, or {@link NO_ROOM} / {@link TOO_LARGE} with nothing changed.
   */
  add(data: Uint8Array | string, segPos: number): number {
    if (typeof data !== 'string') return this.addBytes(data, segPos)
    const head = this.needsBatch() ? BATCH_HEADER_BYTES : 0
    const room = this.buf.length - this.used - BATCH_HEADER_BYTES - RECORD_HEADER_BYTES
    // Encoded into spare buffer space past `used`, where it would be framed: nothing counts until `used` moves.
    if (data.length * 3 > room) return this.addBytes(Buffer.from(data, 'utf8'), segPos)
    const len = this.buf.write(data, this.used + head + RECORD_HEADER_BYTES, 'utf8')
    this.lastLength = len
    if (len > this.config.maxRecordBytes) return TOO_LARGE
    return this.frame(head === 0 ? this.used : this.openBatch(), len, segPos)
  }

  /** {@link add} for bytes: the hot path of append(). */
  addBytes(data: Uint8Array, segPos: number): number {
    const len = data.byteLength
    this.lastLength = len
    if (len > this.config.maxRecordBytes) return TOO_LARGE
    const opens = this.needsBatch()
    if (this.used + (opens ? BATCH_HEADER_BYTES : 0) + RECORD_HEADER_BYTES + len > this.buf.length) return NO_ROOM
    const at = opens ? this.openBatch() : this.used
    this.buf.set(data, at + RECORD_HEADER_BYTES)
    return this.frame(at, len, segPos)
  }

  /** True when the next record starts a batch: none is open, or the open one is full. */
  private needsBatch(): boolean {
    return this.batchStart < 0 || this.used - this.batchStart >= MAX_APPEND_BATCH_BYTES
  }

  /** Seals the open batch and opens one at `used`, its header reserved; returns where its first record goes. */
  private openBatch(): number {
    this.seal()
    this.batchStart = this.used
    this.batchBase = this.next
    this.batchCount = 0
    this.batchTimestamp = this.config.clock.now()
    return (this.used += BATCH_HEADER_BYTES)
  }

  /** Takes the record whose `len` bytes lie at `at + RECORD_HEADER_BYTES` (room checked) into the open batch. */
  private frame(at: number, len: number, segPos: number): number {
    const buf = this.buf
    buf[at] = len
    buf[at + 1] = len >>> 8
    buf[at + 2] = len >>> 16
    buf[at + 3] = len >>> 24
    const offset = this.next++
    const index = this.segments.activeIndex
    if (segPos + at >= index.dueAt(this.config.indexIntervalBytes)) index.add(offset, segPos + at, segPos + this.batchStart)
    this.used = at + RECORD_HEADER_BYTES + len
    this.batchCount++
    if (this.used > buf.length) throw invariantViolated('append buffer holds what it framed', { used: this.used, length: buf.length })
    return offset
  }

  /**
   * Checks and frames `records` as one batch in a single pass, the common case of appendBatch:
   * every record a non-empty Uint8Array within the limits, read once, and the whole batch fitting
   * in the buffer's free space. Framing goes into the free space past `used`, which counts for
   * nothing until the batch is whole; so at the first record that is anything else it returns
   * {@link CHECKED_PATH} with the buffer, the open batch and the index as they were (rule 20),
   * and the caller takes the checked path, which reports the error or makes room. Otherwise it
   * seals the open batch and this one and returns the first offset.
   */
  tryAddBatch(records: readonly unknown[], segPos: number, maxBatchBytes: number): number {
    const n = records.length
    const buf = this.buf
    const start = this.used
    const limit = Math.min(buf.length, start + maxBatchBytes)
    const maxRecordBytes = this.config.maxRecordBytes
    const interval = this.config.indexIntervalBytes
    let due = this.segments.activeIndex.dueAt(interval) - segPos
    let pending = this.pendingIndex
    let entries = 0
    let p = start + BATCH_HEADER_BYTES
    for (let i = 0; i < n; i++) {
      const r = records[i]
      if (!(r instanceof Uint8Array)) return CHECKED_PATH
      const len = r.byteLength
      const end = p + RECORD_HEADER_BYTES + len
      // Empty covers a detached buffer too: the checked path tells the two apart.
      if (len === 0 || len > maxRecordBytes || end > limit) return CHECKED_PATH
      buf[p] = len
      buf[p + 1] = len >>> 8
      buf[p + 2] = len >>> 16
      buf[p + 3] = len >>> 24
      buf.set(r, p + RECORD_HEADER_BYTES)
      if (p >= due) {
        if (entries * 2 === pending.length) pending = this.growPendingIndex()
        pending[entries * 2] = i
        pending[entries * 2 + 1] = p
        entries++
        due = p + interval
      }
      p = end
    }
    // Whole and in bounds: from here on state changes. The open batch's header lies before `start`.
    this.seal()
    const first = this.next
    const index = this.segments.activeIndex
    for (let k = 0; k < entries; k++) index.add(first + pending[k * 2], segPos + pending[k * 2 + 1], segPos + start)
    return this.sealFramed(start, p - start, first, n, index)
  }

  private growPendingIndex(): Int32Array {
    const grown = new Int32Array(this.pendingIndex.length * 2)
    grown.set(this.pendingIndex)
    this.pendingIndex = grown
    return grown
  }

  /**
   * Frames `items` (checked already; `total` bytes with the batch header) as one batch after
   * sealing the open one. The caller made room ({@link reserve}). Returns the first offset.
   */
  addBatch(items: readonly Uint8Array[], total: number, segPos: number): number {
    this.seal()
    const start = this.used
    if (start + total > this.buf.length) throw invariantViolated('a batch is framed only into room made for it', { used: start, total, length: this.buf.length })
    const n = items.length
    const first = this.next
    const buf = this.buf
    const index = this.segments.activeIndex
    const interval = this.config.indexIntervalBytes
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
    if (p !== start + total) throw invariantViolated('a framed batch has the length it was checked for', { framed: p - start, total })
    return this.sealFramed(start, total, first, n, index)
  }

  /**
   * Frames `n` records as one batch after sealing the open one, record k being
   * `source[at[k], at[k] + lengths[k])`, all in one region of `source` that is copied with one
   * `set` and then compacted in place (a move per record, no allocation per record). `total` is
   * the framed size with the batch header; the caller checked that the records lie in order with
   * room to compact ({@link runBytes}) and made room for `max(total, BATCH_HEADER_BYTES +
   * RECORD_HEADER_BYTES + runBytes)`. Returns the first offset.
   */
  addRun(source: Uint8Array, at: Int32Array, lengths: Int32Array, n: number, total: number, segPos: number): number {
    this.seal()
    const start = this.used
    const base = at[0]
    const span = at[n - 1] + lengths[n - 1] - base
    const buf = this.buf
    let p = start + BATCH_HEADER_BYTES
    const dataAt = p + RECORD_HEADER_BYTES
    if (dataAt + span > buf.length || start + total > buf.length) throw invariantViolated('a run is copied only into room made for it', { used: start, total, span, length: buf.length })
    buf.set(source.subarray(base, base + span), dataAt)
    const first = this.next
    const index = this.segments.activeIndex
    const interval = this.config.indexIntervalBytes
    let due = index.dueAt(interval) - segPos
    for (let i = 0; i < n; i++) {
      const len = lengths[i]
      const from = dataAt + at[i] - base
      // Never behind its destination: each record moves down over bytes already consumed.
      if (from < p + RECORD_HEADER_BYTES) throw invariantViolated('a run compacts downwards', { record: i, from, to: p + RECORD_HEADER_BYTES })
      buf[p] = len
      buf[p + 1] = len >>> 8
      buf[p + 2] = len >>> 16
      buf[p + 3] = len >>> 24
      if (from !== p + RECORD_HEADER_BYTES) buf.copyWithin(p + RECORD_HEADER_BYTES, from, from + len)
      if (p >= due) {
        index.add(first + i, segPos + p, segPos + start)
        due = p + interval
      }
      p += RECORD_HEADER_BYTES + len
    }
    if (p !== start + total) throw invariantViolated('a framed run has the length it was checked for', { framed: p - start, total })
    return this.sealFramed(start, total, first, n, index)
  }

  /** Seals the batch just framed at `start` (its header, timestamp and checksum) and takes its records into the buffer's counts. */
  private sealFramed(start: number, total: number, first: number, n: number, index: SparseIndex): number {
    const timestamp = this.config.clock.now()
    sealBatch(this.buf, start, total, first, timestamp, n, this.config.tag)
    if (timestamp > index.maxTimestamp) index.maxTimestamp = timestamp
    this.used = start + total
    this.next = first + n
    return first
  }

  /** True when `bytes` more fit without a write-out. */
  fits(bytes: number): boolean {
    return this.used + bytes <= this.buf.length
  }

  /** Makes the (empty) buffer hold at least `bytes`. */
  reserve(bytes: number): void {
    if (this.used !== 0) throw invariantViolated('the buffer grows only when empty', { used: this.used })
    if (bytes > this.buf.length) this.buf = Buffer.allocUnsafe(bytes)
  }

  /** Seals the open batch so `buf[0, used)` is whole batches, ready to write. */
  seal(): void {
    if (this.batchStart < 0) return
    sealBatch(this.buf, this.batchStart, this.used - this.batchStart, this.batchBase, this.batchTimestamp, this.batchCount, this.config.tag)
    const index = this.segments.activeIndex
    if (this.batchTimestamp > index.maxTimestamp) index.maxTimestamp = this.batchTimestamp
    this.batchStart = -1
  }

  /** `buf[0, used)` was written out: empty the buffer (shrinking one grown for a big record). */
  written(): void {
    if (this.batchStart >= 0) throw invariantViolated('only sealed batches are written out', { batchStart: this.batchStart })
    this.used = 0
    if (this.buf.length > this.config.bufferBytes) this.buf = Buffer.allocUnsafe(this.config.bufferBytes)
  }

  /** Drops what is buffered (the log failed: those records were never acknowledged as durable). */
  discard(): void {
    this.used = 0
    this.batchStart = -1
  }
}
