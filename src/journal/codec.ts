/**
 * Journal object format: an object is one or more *sections*, one per original flush, back to
 * back. Compaction concatenates sections byte for byte, so a section's bytes never change.
 *
 * jsonl section (text, one JSON value per line):
 *   {"seglog":1,"seq":42,"n":3,"ts":1700000000000,"bytes":57,"nonce":"0123456789abcdef","crc":123}\n
 *   <bytes> bytes: n lines, each JSON.stringify(value) + "\n"
 *   crc = crc32c(body, crc32c("<seq>:<n>:<ts>:<bytes>:<nonce>"))
 *
 * binary section: a 24-byte header in the unversioned file envelope (src/format/envelope.ts),
 *   0 u32 magic 'SGJB'   4 u32 crc32c of bytes [8, 24)   8 u64 seq   16 8-byte nonce
 *   24 one record batch of seglog's core format (encodeBatch), baseOffset = seq; the batch
 *   carries the version and its own checksum
 *
 * See docs/FORMAT.md, "Journal object format" (normative).
 */
import { SeglogError } from '../errors.js'
import { allocEnvelope, checkEnvelope, crc32c, decodeBatch, encodeBatch, envelopeError, envelopeHeaderBytes, readU64, sealEnvelope, writeU64, type EnvelopeKind } from '../format/index.js'

/** How a journal encodes events. */
export type JournalCodec = 'jsonl' | 'binary'

/** 'SGJB' little-endian. */
export const BINARY_SECTION_MAGIC = 0x424a4753
/** Bytes before the batch in a binary section. */
export const BINARY_SECTION_HEADER = 24
/** The binary section header's envelope: no version byte (the batch after it has one). */
export const BINARY_SECTION_ENVELOPE: EnvelopeKind = {
  name: 'journal section',
  magic: BINARY_SECTION_MAGIC,
  remedy: 'The journal object is damaged (restore it from a copy or delete it with deleteBefore)',
}
/** Longest jsonl header line accepted. */
const MAX_JSONL_HEADER = 512
const NL = 0x0a

/** One decoded section. */
export interface Section {
  /** The batch's sequence number. */
  seq: number
  /** Flush time, ms since the epoch. */
  timestamp: number
  /** The writer's random nonce, 16 hex digits. */
  nonce: string
  /** How the events are encoded. */
  codec: JournalCodec
  /** Decoded events: JSON values (jsonl) or Buffers (binary; views into the object). */
  values: unknown[]
  /** The section's exact bytes (a view into the object). */
  raw: Buffer
}

function corrupt(source: string, pos: number, what: string): SeglogError {
  return new SeglogError('ERR_CORRUPT', `${source} byte ${pos}: ${what}; the journal object is damaged (restore it from a copy or delete it with deleteBefore)`,
    { details: { file: source, position: pos } })
}

/** Encodes one jsonl section from already-stringified events. */
export function encodeJsonlSection(lines: readonly string[], seq: number, timestamp: number, nonce: Buffer): Buffer {
  return encodeJsonlEvents(lines.map((data) => ({ data, size: Buffer.byteLength(data) + 1 })), lines.length, seq, timestamp, nonce)
}

/**
 * Room left before the body for the header line, which is ASCII and at most 148 bytes (every
 * number 16 digits, the crc 10).
 */
const JSONL_HEADER_ROOM = 160

/**
 * Encodes one jsonl section from the first `count` of `events`, each already stringified with its
 * UTF-8 length + 1 (the newline) in `size`. The lines are written once, straight into the buffer
 * that is sent: a flush's object is built with one allocation and one UTF-8 pass, and the header
 * (which holds the body's checksum) is written last, into room left before the body. The result
 * is a view of that buffer (its bytes are exactly those of {@link encodeJsonlSection}).
 */
export function encodeJsonlEvents(events: readonly { data: string | Buffer; size: number }[], count: number, seq: number, timestamp: number, nonce: Buffer): Buffer {
  let bodyBytes = 0
  for (let i = 0; i < count; i++) bodyBytes += events[i].size
  // 4 spare bytes at the end: a line longer than its size then always writes more than its size
  // (a UTF-8 character is at most 4 bytes and is never written in part), even the last one.
  const buf = Buffer.allocUnsafe(JSONL_HEADER_ROOM + bodyBytes + 4)
  let at = JSONL_HEADER_ROOM
  for (let i = 0; i < count; i++) {
    const { data, size } = events[i]
    const n = typeof data === 'string' ? buf.write(data, at, buf.length - at, 'utf8') : data.copy(buf, at)
    // A size that does not match its line would cut the line or leave stale bytes: never send that.
    if (n !== size - 1) throw new SeglogError('ERR_INVALID_ARGUMENT', `jsonl event ${i} of batch ${seq} encodes to ${n} bytes but its size says ${size - 1}; nothing was written`)
    at += n
    buf[at++] = NL
  }
  const body = buf.subarray(JSONL_HEADER_ROOM, at)
  const hexNonce = nonce.toString('hex')
  const crc = crc32c(body, crc32c(Buffer.from(`${seq}:${count}:${timestamp}:${bodyBytes}:${hexNonce}`)))
  const header = `{"seglog":1,"seq":${seq},"n":${count},"ts":${timestamp},"bytes":${bodyBytes},"nonce":"${hexNonce}","crc":${crc}}\n`
  const start = JSONL_HEADER_ROOM - header.length
  if (start < 0) return Buffer.concat([Buffer.from(header), body]) // unreachable for safe integers
  buf.write(header, start, 'latin1')
  return buf.subarray(start, at)
}

/** Encodes one binary section around a core record batch. */
export function encodeBinarySection(records: readonly Uint8Array[], seq: number, timestamp: number, nonce: Buffer): Buffer {
  const header = allocEnvelope(BINARY_SECTION_ENVELOPE, BINARY_SECTION_HEADER - envelopeHeaderBytes(BINARY_SECTION_ENVELOPE))
  writeU64(header, 8, seq)
  nonce.copy(header, 16, 0, 8)
  return Buffer.concat([sealEnvelope(header), encodeBatch(records, seq, timestamp)])
}

function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
}

function decodeJsonl(buf: Buffer, pos: number, source: string, decodeValues: boolean): Section {
  const nl = buf.indexOf(NL, pos)
  if (nl < 0 || nl - pos > MAX_JSONL_HEADER) throw corrupt(source, pos, 'no jsonl section header line')
  let h: Record<string, unknown>
  try {
    h = JSON.parse(buf.toString('utf8', pos, nl)) as Record<string, unknown>
  } catch {
    throw corrupt(source, pos, 'unreadable jsonl section header')
  }
  if (typeof h !== 'object' || h === null) throw corrupt(source, pos, 'unreadable jsonl section header')
  if (typeof h.seglog === 'number' && h.seglog !== 1 && Number.isInteger(h.seglog) && h.seglog > 1) {
    throw new SeglogError('ERR_FORMAT_VERSION', `${source} byte ${pos}: journal section version ${h.seglog} is newer than this seglog reads (1); upgrade seglog`,
      { details: { file: source, position: pos } })
  }
  const { seq, n, ts, bytes, nonce, crc } = h
  if (h.seglog !== 1 || !isUint(seq) || !isUint(n) || n === 0 || !isUint(ts) || !isUint(bytes) || typeof nonce !== 'string' || !/^[0-9a-f]{16}$/.test(nonce) || !isUint(crc)) {
    throw corrupt(source, pos, 'bad jsonl section header fields')
  }
  const start = nl + 1
  const end = start + bytes
  if (end > buf.length) throw corrupt(source, pos, `section body of ${bytes} bytes runs past the end of the object`)
  const body = buf.subarray(start, end)
  if (crc32c(body, crc32c(Buffer.from(`${seq}:${n}:${ts}:${bytes}:${nonce}`))) !== crc) throw corrupt(source, pos, 'jsonl section checksum mismatch')
  if (body.length === 0 || body[body.length - 1] !== NL) throw corrupt(source, start, 'jsonl section body does not end with a newline')
  const values: unknown[] = []
  let count = 0
  let p = 0
  while (p < body.length) {
    const e = body.indexOf(NL, p)
    if (decodeValues) {
      try {
        values.push(JSON.parse(body.toString('utf8', p, e)))
      } catch {
        throw corrupt(source, start + p, 'invalid JSON line')
      }
    }
    count++
    p = e + 1
  }
  if (count !== n) throw corrupt(source, pos, `jsonl section has ${count} lines, header says ${n}`)
  return { seq, timestamp: ts, nonce, codec: 'jsonl', values, raw: buf.subarray(pos, end) }
}

function decodeBinary(buf: Buffer, pos: number, source: string, decodeValues: boolean): Section {
  if (buf.length - pos < BINARY_SECTION_HEADER) throw corrupt(source, pos, 'truncated binary section header')
  const fault = checkEnvelope(buf.subarray(pos, pos + BINARY_SECTION_HEADER), BINARY_SECTION_ENVELOPE)
  if (fault) throw envelopeError(fault, BINARY_SECTION_ENVELOPE, { file: source, position: pos })
  const seq = readU64(buf, pos + 8)
  if (seq < 0) throw corrupt(source, pos, 'sequence number out of range')
  const batch = decodeBatch(buf, pos + BINARY_SECTION_HEADER, source)
  if (batch.baseOffset !== seq) throw corrupt(source, pos, `batch says sequence ${batch.baseOffset}, section says ${seq}`)
  const end = pos + BINARY_SECTION_HEADER + batch.length
  return {
    seq, timestamp: batch.timestamp, nonce: buf.toString('hex', pos + 16, pos + 24), codec: 'binary',
    values: decodeValues ? batch.records : [], raw: buf.subarray(pos, end),
  }
}

/**
 * Decodes every section of a journal object. Throws `ERR_CORRUPT` (naming `source` and the byte)
 * or `ERR_FORMAT_VERSION`; never returns part of a damaged section.
 */
export function decodeSections(buf: Buffer, source: string, decodeValues = true): Section[] {
  const out: Section[] = []
  let pos = 0
  if (buf.length === 0) throw corrupt(source, 0, 'empty object')
  while (pos < buf.length) {
    const s = buf[pos] === 0x7b /* '{' */ ? decodeJsonl(buf, pos, source, decodeValues) : decodeBinary(buf, pos, source, decodeValues)
    out.push(s)
    pos += s.raw.length
  }
  return out
}
