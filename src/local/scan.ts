/**
 * Walks a segment file batch by batch from a position, verifying each checksum and that offsets
 * are contiguous, and says why it stopped. Used by recovery (the tail), verify (everything) and
 * followers in other processes (what the writer added since).
 *
 * A stop before the end of the file is a torn tail only when nothing valid follows it. When a
 * valid batch exists anywhere after the fault, the fault is corruption: truncating there would
 * drop good data, so the caller must fail with ERR_CORRUPT (or repair, and say what it dropped).
 */
import { BATCH_HEADER_BYTES, BatchHeader, BatchStatus, describeStatus, parseBatch, RECORD_HEADER_BYTES } from '../format/index.js'
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
  /** First valid batch found after the fault (corruption only). */
  validAfter?: { position: number; baseOffset: number }
}

export interface ScanOptions {
  /** Adds an entry per interval for every record scanned. */
  index?: SparseIndex
  indexIntervalBytes?: number
  /** Skips checksum checks (used only to rebuild an index over already-verified bytes). */
  verify?: boolean
}

/** Scans `[start, fileSize)` of `handle`, expecting the batch at `start` to begin at `expectedOffset`. */
export function scanSegment(handle: FileHandle, fileSize: number, start: number, expectedOffset: number, options: ScanOptions = {}): ScanResult {
  const header = new BatchHeader()
  const index = options.index
  const interval = options.indexIntervalBytes ?? 4096
  const verify = options.verify ?? true
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
    if (status === BatchStatus.Ok && header.baseOffset !== result.nextOffset) status = BatchStatus.BadStructure
    if (status !== BatchStatus.Ok) {
      result.validEnd = pos
      if (status === BatchStatus.NewerVersion) {
        result.stop = 'newer-version'
        result.fault = `batch format version ${header.version} is newer than this seglog reads`
        return result
      }
      result.fault = status === BatchStatus.BadStructure && header.baseOffset !== result.nextOffset && header.count > 0
        ? `batch offset ${header.baseOffset} where ${result.nextOffset} was expected`
        : describeStatus(status)
      const after = findValidBatch(handle, fileSize, pos + 1)
      if (after) {
        result.stop = 'corrupt'
        result.validAfter = after
      } else {
        result.stop = 'torn'
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

/** The first position at or after `from` holding a batch with a valid checksum, if any. */
export function findValidBatch(handle: FileHandle, fileSize: number, from: number): { position: number; baseOffset: number } | undefined {
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
      if (length >= BATCH_HEADER_BYTES && pos + length <= fileSize) {
        const inBlock = i + length <= len
        const candidate = inBlock ? view : readAt(handle, pos, length)
        if (parseBatch(candidate, inBlock ? i : 0, inBlock ? len : length, header, true) === BatchStatus.Ok) {
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
