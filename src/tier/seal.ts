/**
 * The seal object's content: the sparse index of a segment (the same encoding as a local
 * `.index` file, docs/FORMAT.md "Index file"), always built here from the segment's verified
 * bytes rather than copied from the local index, which is derived data that may be stale; then a
 * 20-byte trailer naming the log tag of the segment's batches and the CRC32C of the whole data
 * object (docs/FORMAT.md, "Seal trailer"). Seals shipped before the trailer existed are still
 * read: they just carry neither check.
 */
import { SeglogError } from '../errors.js'
import { BATCH_HEADER_BYTES, BatchHeader, BatchStatus, crc32c, describeStatus, parseBatch, RECORD_HEADER_BYTES } from '../format/index.js'
import { SparseIndex } from '../local/sparse-index.js'

/** 'SLTR' read as a little-endian u32. */
const TRAILER_MAGIC = 0x52544c53
const TRAILER_VERSION = 1
/** Bytes of the seal trailer: magic, version (+3 zero bytes), tag, data CRC32C, trailer CRC32C. */
export const SEAL_TRAILER_BYTES = 20

/** A decoded seal object: the segment's sparse index, and (trailer) its batches' tag and the data object's CRC32C. */
export class Seal {
  constructor(
    readonly index: SparseIndex,
    /** Log tag of every batch of the data object; undefined for a seal shipped without a trailer. */
    readonly tag: number | undefined,
    /** CRC32C of the whole data object; undefined for a seal shipped without a trailer. */
    readonly dataCrc: number | undefined,
  ) {}
}

/** The seal object of a segment: its index, then the trailer. */
export function encodeSeal(index: SparseIndex, tag: number, dataCrc: number): Buffer {
  const body = index.encode()
  const out = Buffer.alloc(body.length + SEAL_TRAILER_BYTES)
  body.copy(out, 0)
  const t = body.length
  out.writeUInt32LE(TRAILER_MAGIC, t)
  out.writeUInt8(TRAILER_VERSION, t + 4)
  out.writeUInt32LE(tag >>> 0, t + 8)
  out.writeUInt32LE(dataCrc >>> 0, t + 12)
  out.writeUInt32LE(crc32c(out.subarray(t, t + 16)), t + 16)
  return out
}

/**
 * Decodes a seal object for a data object of `size` bytes starting at `base`: an index followed
 * by a valid trailer, or (shipped by an earlier version) an index alone. Undefined when neither.
 */
export function decodeSeal(buf: Buffer, base: number, size: number): Seal | undefined {
  if (buf.length > SEAL_TRAILER_BYTES) {
    const t = buf.length - SEAL_TRAILER_BYTES
    if (buf.readUInt32LE(t) === TRAILER_MAGIC && buf.readUInt8(t + 4) === TRAILER_VERSION && buf.readUInt32LE(t + 16) === crc32c(buf.subarray(t, t + 16))) {
      const index = SparseIndex.decode(buf.subarray(0, t), base, size)
      if (index !== undefined) return new Seal(index, buf.readUInt32LE(t + 8), buf.readUInt32LE(t + 12))
    }
  }
  const index = SparseIndex.decode(buf, base, size)
  return index === undefined ? undefined : new Seal(index, undefined, undefined)
}

/** One sparse-index entry per this many bytes of a shipped segment, by default. */
export const DEFAULT_REMOTE_INDEX_INTERVAL = 256 << 10

/** What a verified segment holds. */
export interface IndexedSegment {
  index: SparseIndex
  /** Offset after its last record. */
  end: number
  /** Newest batch timestamp. */
  maxTimestamp: number
  /** The log tag every batch carries (0 for an empty segment, which is never shipped). */
  tag: number
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
  let tag: number | undefined
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
    // The seal names one tag for the whole segment, which remote reads check every batch against.
    tag ??= header.tag
    if (header.tag !== tag) {
      throw remoteCorrupt(source, pos, `batch of another log (tag 0x${header.tag.toString(16).padStart(8, '0')}, the segment's first batch has 0x${tag.toString(16).padStart(8, '0')})`, 'the segment cannot be shipped; run Log.verify() on the local log')
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
  return { index, end: expected, maxTimestamp, tag: tag ?? 0 }
}
