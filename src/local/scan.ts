/**
 * Walks a segment file batch by batch from a position, verifying each checksum and that offsets
 * are contiguous, and says why it stopped. Used by recovery (the tail), verify (everything) and
 * followers in other processes (what the writer added since).
 *
 * A stop before the end of the file is a torn tail only when no valid data follows it, by the rule
 * in {@link findDataAfterFault}. Otherwise the fault is corruption: truncating there would drop
 * good data, so the caller must fail with ERR_CORRUPT (or repair, keeping what follows).
 */
import { BATCH_HEADER_BYTES, BatchStatus, describeStatus, MAX_BATCH_BYTES, readU64, RECORD_HEADER_BYTES } from '../format/index.js'
import type { FileHandle } from '../io/file-system.js'
import { BatchRead, BatchReader } from './batch-reader.js'
import type { SparseIndex } from './sparse-index.js'

const MAGIC_BYTES = Buffer.from('SEGL', 'latin1')

export type ScanStop =
  /** Reached the end of the file on a batch boundary. */
  | 'end'
  /** An incomplete or damaged batch with nothing valid after it. */
  | 'torn'
  /** A damaged batch with valid data after it. */
  | 'corrupt'
  /** A batch with a valid checksum from a newer format version. */
  | 'newer-version'

export interface ScanResult {
  stop: ScanStop
  /** Byte position after the last valid batch. */
  validEnd: number
  /** Offset after the last valid record. */
  nextOffset: number
  /** Largest batch timestamp seen. */
  maxTimestamp: number
  /** Valid batches and records seen. */
  batches: number
  records: number
  /** What was wrong at `validEnd`, when stop is not 'end'. */
  fault?: string
  /** The batch's format version, when stop is 'newer-version'. */
  version?: number
  /**
   * The first batch after the fault that counts as valid data under the torn-versus-corrupt rule
   * (see {@link findDataAfterFault}); absent for a torn tail.
   */
  validAfter?: { position: number; baseOffset: number }
  /** End of the damaged byte range that starts at `validEnd` (stop 'torn' or 'corrupt'). */
  damageEnd?: number
}

export interface ScanOptions {
  /** Adds an entry per interval for every record scanned. */
  index?: SparseIndex
  indexIntervalBytes?: number
  /** Skips checksum checks (used only to rebuild an index over already-verified bytes). */
  verify?: boolean
  /** The log's tag: a batch carrying another is foreign (copied in from another log). Default 0. */
  tag?: number
}

/** Scans `[start, fileSize)` of `handle`, expecting the batch at `start` to begin at `expectedOffset`. */
export function scanSegment(handle: FileHandle, fileSize: number, start: number, expectedOffset: number, options: ScanOptions = {}): ScanResult {
  const index = options.index
  const interval = options.indexIntervalBytes ?? 4096
  const tag = options.tag ?? 0
  const result: ScanResult = { stop: 'end', validEnd: start, nextOffset: expectedOffset, maxTimestamp: 0, batches: 0, records: 0 }
  const reader = new BatchReader(handle, { tag, verify: options.verify ?? true })
  const header = reader.header
  reader.seek(start, expectedOffset)
  for (;;) {
    const read = reader.next(fileSize)
    if (read === BatchRead.End) return result
    const pos = reader.position
    if (read === BatchRead.Valid) {
      if (index) {
        const bytes = reader.bytes
        let p = reader.at + BATCH_HEADER_BYTES
        const delta = pos - reader.at
        for (let i = 0; i < header.count; i++) {
          index.maybeAdd(header.baseOffset + i, delta + p, pos, interval)
          p += RECORD_HEADER_BYTES + bytes.readUInt32LE(p)
        }
      }
      if (header.timestamp > result.maxTimestamp) result.maxTimestamp = header.timestamp
      result.batches++
      result.records += header.count
      result.nextOffset = header.baseOffset + header.count
      result.validEnd = reader.nextPosition
      continue
    }
    result.validEnd = pos
    if (read === BatchRead.Misplaced || read === BatchRead.Foreign) {
      // A whole batch with a valid checksum cannot be a torn write: misplaced (duplicated, stale
      // or misdirected) or copied in from another log, it is damage wherever it sits.
      result.stop = 'corrupt'
      result.fault = read === BatchRead.Misplaced
        ? `complete batch with a valid checksum carries offset ${header.baseOffset} where ${result.nextOffset} was expected (a misplaced or misdirected write)`
        : `batch belongs to another log (log tag 0x${header.tag.toString(16).padStart(8, '0')}, this log's is 0x${tag.toString(16).padStart(8, '0')}); the segment was copied in from elsewhere`
      result.damageEnd = pos + header.length
      result.validAfter = findValidBatch(handle, fileSize, pos + header.length, (_, base, t) => base >= result.nextOffset && t === tag)
      return result
    }
    if (read === BatchRead.NewerVersion) {
      result.stop = 'newer-version'
      result.version = header.version
      result.fault = `batch format version ${header.version} is newer than this seglog reads`
      return result
    }
    result.fault = describeStatus(read === BatchRead.Incomplete ? BatchStatus.Incomplete : reader.status)
    const after = findDataAfterFault(handle, fileSize, pos, result.nextOffset, tag)
    if (after) {
      result.stop = 'corrupt'
      result.validAfter = after
      result.damageEnd = after.position
    } else {
      result.stop = 'torn'
      result.damageEnd = fileSize
    }
    return result
  }
}

/**
 * The torn-versus-corrupt rule (docs/FORMAT.md, "Torn tail versus corruption"). A scan stopped at
 * a bad batch at `position`, where offset `expected` was due. A torn write leaves a prefix of what
 * was written: the bytes after the tear are missing, so a real next batch cannot follow it, while
 * the torn batch's own payload may hold anything, seglog batches included. So what counts as
 * valid data after the fault:
 *
 * - When the bad batch's header is believable (magic, a length in [40, 2^30], base offset equal
 *   to `expected`, count ≥ 1), it claims `[position, position + length)`. Inside that range only
 *   the exact successor counts (a valid batch whose base offset is `expected + count`, followed by
 *   contiguous valid batches up to the claimed end or the end of the file: found when the damage
 *   hit the length field); from its claimed end on, any valid batch whose base offset is at least
 *   `expected`.
 * - Otherwise the header itself is damaged: any valid batch at least one minimal batch (44 bytes)
 *   further on whose base offset is at least `expected`.
 *
 * Returns that batch, or undefined when there is none: the fault is then a torn tail.
 */
export function findDataAfterFault(handle: FileHandle, fileSize: number, position: number, expected: number, tag = 0): { position: number; baseOffset: number } | undefined {
  const head = Buffer.alloc(BATCH_HEADER_BYTES)
  const got = handle.read(head, 0, Math.min(BATCH_HEADER_BYTES, fileSize - position), position)
  let claimedEnd = position + BATCH_HEADER_BYTES + RECORD_HEADER_BYTES
  let successor = -1
  if (got === BATCH_HEADER_BYTES && head.readUInt32LE(0) === MAGIC_BYTES.readUInt32LE(0)) {
    const length = head.readUInt32LE(12)
    const count = head.readUInt32LE(32)
    if (length >= BATCH_HEADER_BYTES && length <= MAX_BATCH_BYTES && readU64(head, 16) === expected && count >= 1) {
      claimedEnd = position + length
      successor = expected + count
    }
  }
  const target = Math.min(claimedEnd, fileSize)
  return findValidBatch(handle, fileSize, position + 1,
    (at, base, t) => t === tag && (at >= claimedEnd ? base >= expected : base === successor && chainReaches(handle, fileSize, at, base, target, tag)))
}

/**
 * True when contiguous valid batches from `position` (the first with base offset `base`) reach
 * at least `target`. A real successor hidden by a damaged length field is followed by the rest of
 * the log; a batch that merely sits inside a torn payload is followed by more of that payload.
 */
function chainReaches(handle: FileHandle, fileSize: number, position: number, base: number, target: number, tag: number): boolean {
  const reader = new BatchReader(handle, { tag, blockBytes: BATCH_HEADER_BYTES })
  reader.seek(position, base)
  while (reader.nextPosition < target) {
    if (reader.next(fileSize) !== BatchRead.Valid) return false
  }
  return true
}

/**
 * The first position at or after `from` holding a batch with a valid checksum that `accept`
 * takes (by its position, base offset and log tag), if any.
 */
export function findValidBatch(handle: FileHandle, fileSize: number, from: number,
  accept: (position: number, baseOffset: number, tag: number) => boolean = () => true): { position: number; baseOffset: number } | undefined {
  // Any tag: `accept` decides. The search runs over the reader's own block, so a candidate that
  // lies whole in it is checked in place.
  const reader = new BatchReader(handle)
  let blockPos = from
  while (blockPos < fileSize) {
    let len = reader.window(blockPos, fileSize)
    if (len === 0) break
    const last = blockPos + len >= fileSize
    let i = reader.blockBuffer().subarray(0, len).indexOf(MAGIC_BYTES, 0)
    while (i !== -1) {
      // A header cut by the block's end is looked at again in the next block (they overlap).
      if (i + 16 > len && !last) break
      const pos = blockPos + i
      if (reader.readAt(pos, fileSize) === BatchRead.Valid && accept(pos, reader.header.baseOffset, reader.header.tag)) {
        return { position: pos, baseOffset: reader.header.baseOffset }
      }
      // A candidate that ran past the block was read on its own: read the search block again.
      len = reader.window(blockPos, fileSize)
      if (len === 0) return undefined
      i = reader.blockBuffer().subarray(0, len).indexOf(MAGIC_BYTES, i + 1)
    }
    if (last) break
    blockPos += len > BATCH_HEADER_BYTES ? len - BATCH_HEADER_BYTES : len
  }
  return undefined
}
