/**
 * Reads served from a point-read cache entry (batch-cache.ts): the record positions of a verified
 * batch, the record from kept bytes or from one exact `pread`, and the re-read that gives an
 * entry its bytes.
 */
import { BATCH_HEADER_BYTES, BatchHeader, BatchStatus, parseBatch, RECORD_HEADER_BYTES } from '../format/index.js'
import type { FileHandle } from '../io/file-system.js'
import { invariantViolated } from '../invariant.js'
import type { BatchCache, CachedBatch } from './batch-cache.js'
import { corruptError } from './batch-errors.js'
import type { LogRecord } from './segment.js'

/**
 * Where each record of a verified batch starts, relative to the batch (for the cache). The batch's
 * structure was checked, so its record lengths add up to its length exactly.
 */
export function recordPositions(buf: Buffer, at: number, header: BatchHeader, positions: Uint32Array): void {
  let p = BATCH_HEADER_BYTES
  for (let k = 0; k < header.count; k++) {
    if (!(p + RECORD_HEADER_BYTES <= header.length)) break
    positions[k] = p
    p += RECORD_HEADER_BYTES + ((buf[at + p] | buf[at + p + 1] << 8 | buf[at + p + 2] << 16 | buf[at + p + 3] << 24) >>> 0)
  }
  if (p !== header.length) throw invariantViolated('a verified batch\'s records fill it exactly', { count: header.count, length: header.length, walked: p })
}

/**
 * A copy of the record at `offset`, which `cached` holds: from its bytes when it keeps them, else
 * one read of exactly the record's payload, whose length follows from the verified positions.
 * A read served from the positions counts towards keeping the batch's bytes (PROMOTE_AFTER_HITS, batch-cache.ts).
 */
export function cachedRecord(handle: FileHandle, cache: BatchCache, cached: CachedBatch, offset: number, file: string, tag: number): LogRecord {
  const rel = offset - cached.baseOffset
  const positions = cached.positions
  const p = positions[rel]
  const bytes = cached.bytes
  if (bytes !== undefined) {
    const len = (bytes[p] | bytes[p + 1] << 8 | bytes[p + 2] << 16 | bytes[p + 3] << 24) >>> 0
    const dataAt = p + RECORD_HEADER_BYTES
    // Our own copy of a verified batch cannot change; checked anyway, as every length read is (rule 20).
    if (dataAt + len > bytes.length) throw corruptError(file, cached.position + p, `record length ${len} runs past its cached batch`)
    const data = Buffer.allocUnsafe(len)
    bytes.copy(data, 0, dataAt, dataAt + len)
    return { offset, timestamp: cached.timestamp, data }
  }
  // The record runs to where the next one starts (or its batch ends): lengths from the verified batch, none from this read.
  const len = (rel + 1 < positions.length ? positions[rel + 1] : cached.length) - p - RECORD_HEADER_BYTES
  const data = Buffer.allocUnsafe(len)
  if (len > 0 && handle.read(data, 0, len, cached.position + p + RECORD_HEADER_BYTES) !== len) {
    throw corruptError(file, cached.position + p, 'the file ends inside a verified record (changed underneath the reader)')
  }
  if (cache.earnedBytes(cached)) cache.keepBytes(cached, (into) => rereadBatch(handle, into, cached, tag))
  return { offset, timestamp: cached.timestamp, data }
}

const rereadHeader = new BatchHeader()

/**
 * Reads the batch `cached` describes into `into` (its length) and checks it is that batch still:
 * checksum and structure, log tag, header fields and every record position. False when not (the
 * file changed under a read-only handle; its truncate check then reloads): nothing is kept.
 */
function rereadBatch(handle: FileHandle, into: Buffer, cached: CachedBatch, tag: number): boolean {
  if (handle.read(into, 0, into.length, cached.position) !== into.length) return false
  const h = rereadHeader
  if (parseBatch(into, 0, into.length, h) !== BatchStatus.Ok) return false
  const positions = cached.positions
  if (h.length !== into.length || h.baseOffset !== cached.baseOffset || h.timestamp !== cached.timestamp || h.count !== positions.length || h.tag !== tag) return false
  let p = BATCH_HEADER_BYTES
  for (let k = 0; k < positions.length; k++) {
    if (positions[k] !== p) return false
    p += RECORD_HEADER_BYTES + ((into[p] | into[p + 1] << 8 | into[p + 2] << 16 | into[p + 3] << 24) >>> 0)
  }
  return p === into.length
}
