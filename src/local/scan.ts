/**
 * Walks a segment file batch by batch from a position, verifying each checksum and that offsets
 * are contiguous, and says why it stopped. Used by recovery (the tail), verify (everything) and
 * followers in other processes (what the writer added since).
 *
 * A stop before the end of the file is a torn tail only when no valid data follows it, by the rule
 * in {@link findDataAfterFault}. Otherwise the fault is corruption: truncating there would drop
 * good data, so the caller must fail with ERR_CORRUPT (or repair, keeping what follows).
 */
import { BATCH_HEADER_BYTES, BatchHeader, BatchStatus, describeStatus, MAX_BATCH_BYTES, parseBatch, readU64, RECORD_HEADER_BYTES } from '../format/index.js'
import type { FileHandle } from '../io/file-system.js'
import type { SparseIndex } from './sparse-index.js'

const BLOCK_BYTES = 1 << 20
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
  const header = new BatchHeader()
  const index = options.index
  const interval = options.indexIntervalBytes ?? 4096
  const verify = options.verify ?? true
  const tag = options.tag ?? 0
  const result: ScanResult = { stop: 'end', validEnd: start, nextOffset: expectedOffset, maxTimestamp: 0, batches: 0, records: 0 }
  let block = Buffer.allocUnsafe(Math.min(BLOCK_BYTES, Math.max(fileSize - start, BATCH_HEADER_BYTES)))
  let blockPos = start
  let blockLen = 0
  let pos = start
  while (pos < fileSize) {
    if (pos + BATCH_HEADER_BYTES > blockPos + blockLen || blockLen === 0) {
      blockPos = pos
      blockLen = handle.read(block, 0, Math.min(block.length, fileSize - pos), pos)
    }
    let rel = pos - blockPos
    let status = parseBatch(block, rel, blockLen, header, verify)
    if (status === BatchStatus.Incomplete && blockPos + blockLen < fileSize) {
      // The batch runs past this block: read it whole (its length is bounded by the file).
      const need = block.readUInt32LE(rel + 12)
      if (need > block.length) block = Buffer.allocUnsafe(Math.min(need, fileSize - pos))
      blockPos = pos
      blockLen = handle.read(block, 0, Math.min(block.length, fileSize - pos), pos)
      rel = 0
      status = parseBatch(block, 0, blockLen, header, verify)
    }
    if (status === BatchStatus.Ok && header.baseOffset !== result.nextOffset) {
      // A whole batch with a valid checksum cannot be a torn write: it is a misplaced (duplicated,
      // stale or misdirected) write, which is damage wherever it sits.
      result.validEnd = pos
      result.stop = 'corrupt'
      result.fault = `complete batch with a valid checksum carries offset ${header.baseOffset} where ${result.nextOffset} was expected (a misplaced or misdirected write)`
      result.damageEnd = pos + header.length
      result.validAfter = findValidBatch(handle, fileSize, pos + header.length, (_, base, t) => base >= result.nextOffset && t === tag)
      return result
    }
    if (status === BatchStatus.Ok && header.tag !== tag) {
      // Intact, in sequence, but written by another log: a segment (or part of one) copied in.
      result.validEnd = pos
      result.stop = 'corrupt'
      result.fault = `batch belongs to another log (log tag 0x${header.tag.toString(16).padStart(8, '0')}, this log's is 0x${tag.toString(16).padStart(8, '0')}); the segment was copied in from elsewhere`
      result.damageEnd = pos + header.length
      result.validAfter = findValidBatch(handle, fileSize, pos + header.length, (_, base, t) => base >= result.nextOffset && t === tag)
      return result
    }
    if (status !== BatchStatus.Ok) {
      result.validEnd = pos
      if (status === BatchStatus.NewerVersion) {
        result.stop = 'newer-version'
        result.fault = `batch format version ${header.version} is newer than this seglog reads`
        return result
      }
      result.fault = describeStatus(status)
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
    if (index) {
      let p = rel + BATCH_HEADER_BYTES
      for (let i = 0; i < header.count; i++) {
        index.maybeAdd(header.baseOffset + i, blockPos + p, pos, interval)
        p += RECORD_HEADER_BYTES + block.readUInt32LE(p)
      }
    }
    if (header.timestamp > result.maxTimestamp) result.maxTimestamp = header.timestamp
    result.batches++
    result.records += header.count
    result.nextOffset = header.baseOffset + header.count
    pos += header.length
    result.validEnd = pos
  }
  return result
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
    (at, base, t) => t === tag && (at >= claimedEnd ? base >= expected : base === successor && chainReaches(handle, fileSize, at, base, target)))
}

/**
 * True when contiguous valid batches from `position` (the first with base offset `base`) reach
 * at least `target`. A real successor hidden by a damaged length field is followed by the rest of
 * the log; a batch that merely sits inside a torn payload is followed by more of that payload.
 */
function chainReaches(handle: FileHandle, fileSize: number, position: number, base: number, target: number): boolean {
  const header = new BatchHeader()
  const head = Buffer.allocUnsafe(BATCH_HEADER_BYTES)
  let pos = position
  let expected = base
  while (pos < target) {
    if (handle.read(head, 0, BATCH_HEADER_BYTES, pos) !== BATCH_HEADER_BYTES) return false
    const length = head.readUInt32LE(12)
    if (length < BATCH_HEADER_BYTES || length > MAX_BATCH_BYTES || pos + length > fileSize) return false
    const batch = readAt(handle, pos, length)
    if (parseBatch(batch, 0, length, header, true) !== BatchStatus.Ok || header.baseOffset !== expected) return false
    expected += header.count
    pos += length
  }
  return true
}

/**
 * The first position at or after `from` holding a batch with a valid checksum that `accept`
 * takes (by its position and base offset), if any.
 */
export function findValidBatch(handle: FileHandle, fileSize: number, from: number,
  accept: (position: number, baseOffset: number, tag: number) => boolean = () => true): { position: number; baseOffset: number } | undefined {
  const header = new BatchHeader()
  const block = Buffer.allocUnsafe(BLOCK_BYTES)
  let blockPos = from
  while (blockPos < fileSize) {
    const len = handle.read(block, 0, Math.min(block.length, fileSize - blockPos), blockPos)
    if (len === 0) break
    const view = block.subarray(0, len)
    const last = blockPos + len >= fileSize
    let i = view.indexOf(MAGIC_BYTES, 0)
    while (i !== -1) {
      // A header cut by the block's end is looked at again in the next block (they overlap).
      if (i + 16 > len && !last) break
      const pos = blockPos + i
      const length = i + 16 <= len ? view.readUInt32LE(i + 12) : 0
      if (length >= BATCH_HEADER_BYTES && length <= MAX_BATCH_BYTES && pos + length <= fileSize) {
        const inBlock = i + length <= len
        const candidate = inBlock ? view : readAt(handle, pos, length)
        if (parseBatch(candidate, inBlock ? i : 0, inBlock ? len : length, header, true) === BatchStatus.Ok && accept(pos, header.baseOffset, header.tag)) {
          return { position: pos, baseOffset: header.baseOffset }
        }
      }
      i = view.indexOf(MAGIC_BYTES, i + 1)
    }
    if (last) break
    blockPos += len > BATCH_HEADER_BYTES ? len - BATCH_HEADER_BYTES : len
  }
  return undefined
}

function readAt(handle: FileHandle, pos: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length)
  handle.read(buf, 0, length, pos)
  return buf
}
