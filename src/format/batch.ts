/**
 * The record batch: the unit both tiers write, checksum and recover by.
 *
 * Layout (little-endian; see docs/FORMAT.md, which is normative):
 *
 *   0  u32 magic 'SEGL'        4  u32 crc32c of bytes [8, length)
 *   8  u8  version (1)         9  u8  attributes (0)     10 u16 reserved (0)
 *   12 u32 length (whole batch, header included)
 *   16 u64 baseOffset          24 u64 timestamp (ms since the epoch)
 *   32 u32 record count        36 u32 log tag (0: a log without identity)
 *   40 records: u32 length, then that many bytes, `count` times, filling the batch exactly.
 *
 * The version byte sits under the checksum, so a flipped version reads as corruption, while a
 * batch from a newer release (valid checksum, unknown version) reads as ERR_FORMAT_VERSION.
 */
import { crc32c } from './crc32c.js'

export const BATCH_MAGIC = 0x4c474553 // bytes 'S','E','G','L'
export const FORMAT_VERSION = 1
export const BATCH_HEADER_BYTES = 40
export const RECORD_HEADER_BYTES = 4
/** Hard cap on one batch, far above any configured limit; a larger length field is corruption. */
export const MAX_BATCH_BYTES = 1 << 30
/** Offsets and timestamps are stored as u64 but must stay safe integers in JavaScript. */
const TWO_32 = 0x1_0000_0000
const MAX_HI = 0x1f_ffff

/** Outcome of {@link parseBatch}. Numbers, not objects, so the scan loop allocates nothing. */
export const enum BatchStatus {
  Ok = 0,
  /** Fewer bytes available than the header or the length field asks for. */
  Incomplete = 1,
  /** No magic at this position. */
  BadMagic = 2,
  /** Magic present but the checksum does not match. */
  BadChecksum = 3,
  /** Checksum matches but the version is one this release does not know. */
  NewerVersion = 4,
  /** Checksum matches but the fields contradict each other (count, lengths, offsets). */
  BadStructure = 5,
}

/** Human words for a status, used in error messages and verify reports. */
export function describeStatus(status: BatchStatus): string {
  switch (status) {
    case BatchStatus.Ok: return 'ok'
    case BatchStatus.Incomplete: return 'incomplete batch (torn write)'
    case BatchStatus.BadMagic: return 'no batch magic'
    case BatchStatus.BadChecksum: return 'checksum mismatch'
    case BatchStatus.NewerVersion: return 'batch from a newer format version'
    case BatchStatus.BadStructure: return 'batch fields are inconsistent'
  }
}

/**
 * A reusable parse result. {@link parseBatch} fills it in place so scanning millions of batches
 * creates no garbage.
 */
export class BatchHeader {
  length = 0
  baseOffset = 0
  timestamp = 0
  count = 0
  version = 0
  /** The log tag (bytes 36–39): which log wrote this batch; 0 for logs without an identity. */
  tag = 0
  /** Offset one past the last record of this batch. */
  get nextOffset(): number { return this.baseOffset + this.count }
}

export function writeU64(buf: Uint8Array, pos: number, value: number): void {
  const view = buf as Buffer
  view.writeUInt32LE(value % TWO_32 >>> 0, pos)
  view.writeUInt32LE(Math.floor(value / TWO_32), pos + 4)
}

/** Reads a u64 that must be a safe integer; returns -1 when it is not. */
export function readU64(buf: Uint8Array, pos: number): number {
  const view = buf as Buffer
  const hi = view.readUInt32LE(pos + 4)
  if (hi > MAX_HI) return -1
  return hi * TWO_32 + view.readUInt32LE(pos)
}

/**
 * Parses and verifies the batch at `buf[pos]`, using at most `limit - pos` bytes.
 * With `verify` false the checksum and record walk are skipped (the caller already verified it).
 */
export function parseBatch(buf: Buffer, pos: number, limit: number, out: BatchHeader, verify = true): BatchStatus {
  const avail = limit - pos
  if (avail < BATCH_HEADER_BYTES) {
    return avail >= 4 && buf.readUInt32LE(pos) !== BATCH_MAGIC ? BatchStatus.BadMagic : BatchStatus.Incomplete
  }
  if (buf.readUInt32LE(pos) !== BATCH_MAGIC) return BatchStatus.BadMagic
  const length = buf.readUInt32LE(pos + 12)
  if (length > avail) {
    // A length beyond the cap cannot be a torn write of a real batch.
    return length > MAX_BATCH_BYTES || length < BATCH_HEADER_BYTES ? BatchStatus.BadChecksum : BatchStatus.Incomplete
  }
  if (length < BATCH_HEADER_BYTES) return BatchStatus.BadChecksum
  if (verify) {
    const stored = buf.readUInt32LE(pos + 4)
    if (crc32c(buf.subarray(pos + 8, pos + length)) !== stored) return BatchStatus.BadChecksum
  }
  const version = buf[pos + 8]
  out.version = version
  if (version !== FORMAT_VERSION) return BatchStatus.NewerVersion
  const baseOffset = readU64(buf, pos + 16)
  const timestamp = readU64(buf, pos + 24)
  const count = buf.readUInt32LE(pos + 32)
  if (baseOffset < 0 || timestamp < 0 || count === 0 || baseOffset + count > Number.MAX_SAFE_INTEGER) {
    return BatchStatus.BadStructure
  }
  if (verify) {
    // The records must tile the batch exactly; a checksum collision must not yield garbage views.
    let p = pos + BATCH_HEADER_BYTES
    const end = pos + length
    for (let i = 0; i < count; i++) {
      if (p + RECORD_HEADER_BYTES > end) return BatchStatus.BadStructure
      // Element loads rather than readUInt32LE: this loop runs for every record of every batch
      // read, often before the JIT has optimized it, where a library call per record costs most.
      p += RECORD_HEADER_BYTES + ((buf[p] | buf[p + 1] << 8 | buf[p + 2] << 16 | buf[p + 3] << 24) >>> 0)
    }
    if (p !== end) return BatchStatus.BadStructure
  }
  out.length = length
  out.baseOffset = baseOffset
  out.timestamp = timestamp
  out.count = count
  out.tag = buf.readUInt32LE(pos + 36)
  return BatchStatus.Ok
}

/**
 * Fills in the header of a batch whose records are already in `buf[pos + 40, pos + length)`,
 * checksum last. Used by the log's append buffer, which writes records in place. `tag` is the
 * writing log's tag (see docs/FORMAT.md, "Log identity"), 0 for a log without an identity.
 */
export function sealBatch(buf: Buffer, pos: number, length: number, baseOffset: number, timestamp: number, count: number, tag = 0): void {
  buf.writeUInt32LE(BATCH_MAGIC, pos)
  buf[pos + 8] = FORMAT_VERSION
  buf[pos + 9] = 0
  buf.writeUInt16LE(0, pos + 10)
  buf.writeUInt32LE(length, pos + 12)
  writeU64(buf, pos + 16, baseOffset)
  writeU64(buf, pos + 24, timestamp)
  buf.writeUInt32LE(count, pos + 32)
  buf.writeUInt32LE(tag, pos + 36)
  buf.writeUInt32LE(crc32c(buf.subarray(pos + 8, pos + length)), pos + 4)
}

/** Bytes a batch of these records takes. */
export function batchBytes(records: readonly Uint8Array[]): number {
  let n = BATCH_HEADER_BYTES
  for (const r of records) n += RECORD_HEADER_BYTES + r.byteLength
  return n
}

/** Encodes `records` as one standalone batch (the journal's binary codec uses this); `tag` as in {@link sealBatch}. */
export function encodeBatch(records: readonly Uint8Array[], baseOffset: number, timestamp: number, tag = 0): Buffer {
  const length = batchBytes(records)
  const buf = Buffer.allocUnsafe(length)
  let p = BATCH_HEADER_BYTES
  for (const r of records) {
    buf.writeUInt32LE(r.byteLength, p)
    buf.set(r, p + RECORD_HEADER_BYTES)
    p += RECORD_HEADER_BYTES + r.byteLength
  }
  sealBatch(buf, 0, length, baseOffset, timestamp, records.length, tag)
  return buf
}

/**
 * Calls `fn` with a zero-copy view of each record of a verified batch at `buf[pos]`.
 * The views share memory with `buf`.
 */
export function forEachRecord(buf: Buffer, pos: number, header: BatchHeader, fn: (data: Buffer, offset: number) => void): void {
  let p = pos + BATCH_HEADER_BYTES
  for (let i = 0; i < header.count; i++) {
    const len = buf.readUInt32LE(p)
    fn(buf.subarray(p + RECORD_HEADER_BYTES, p + RECORD_HEADER_BYTES + len), header.baseOffset + i)
    p += RECORD_HEADER_BYTES + len
  }
}
