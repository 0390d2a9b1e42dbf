/**
 * The seal object's content: the sparse index of a segment (the same encoding as a local
 * `.index` file, docs/FORMAT.md "Index file"), always built here from the segment's verified
 * bytes rather than copied from the local index, which is derived data that may be stale.
 */
import { SeglogError } from '../errors.js'
import { BATCH_HEADER_BYTES, BatchHeader, BatchStatus, describeStatus, parseBatch, RECORD_HEADER_BYTES } from '../format/index.js'
import { SparseIndex } from '../local/sparse-index.js'

/** One sparse-index entry per this many bytes of a shipped segment, by default. */
export const DEFAULT_REMOTE_INDEX_INTERVAL = 256 << 10

/** What a verified segment holds. */
export interface IndexedSegment {
  index: SparseIndex
  /** Offset after its last record. */
  end: number
  /** Newest batch timestamp. */
  maxTimestamp: number
}

/** ERR_CORRUPT naming a stored object (or file) and the byte. */
export function remoteCorrupt(source: string, position: number, what: string, advice: string): SeglogError {
  return new SeglogError('ERR_CORRUPT', `${source} byte ${position}: ${what}; ${advice}`,
    { details: { file: source, position, kind: what } })
}

/**
 * Checks every batch of a whole segment (checksum, structure, offsets continuing from `base`)
 * and builds its sparse index. Damage is ERR_CORRUPT naming `source` and the byte, so a damaged
 * local segment is never shipped.
 */
export function indexSegmentBytes(bytes: Buffer, base: number, source: string, intervalBytes: number): IndexedSegment {
  const header = new BatchHeader()
  const index = new SparseIndex(base)
  let expected = base
  let maxTimestamp = 0
  let pos = 0
  while (pos < bytes.length) {
    const status = parseBatch(bytes, pos, bytes.length, header, true)
    if (status === BatchStatus.NewerVersion) {
      throw new SeglogError('ERR_FORMAT_VERSION', `${source} byte ${pos}: batch format version ${header.version} is newer than this seglog reads; upgrade seglog`,
        { details: { file: source, position: pos } })
    }
    if (status !== BatchStatus.Ok) throw remoteCorrupt(source, pos, describeStatus(status), 'the segment cannot be shipped; run Log.verify() on the local log')
    if (header.baseOffset !== expected) {
      throw remoteCorrupt(source, pos, `batch offset ${header.baseOffset} where ${expected} was expected`, 'the segment cannot be shipped; run Log.verify() on the local log')
    }
    let p = pos + BATCH_HEADER_BYTES
    for (let i = 0; i < header.count; i++) {
      index.maybeAdd(header.baseOffset + i, p, pos, intervalBytes)
      p += RECORD_HEADER_BYTES + bytes.readUInt32LE(p)
    }
    if (header.timestamp > maxTimestamp) maxTimestamp = header.timestamp
    expected = header.nextOffset
    pos += header.length
  }
  index.coveredBytes = bytes.length
  index.nextOffset = expected
  index.maxTimestamp = maxTimestamp
  return { index, end: expected, maxTimestamp }
}
