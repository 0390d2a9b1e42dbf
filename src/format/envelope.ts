/**
 * The file envelope: the header every small seglog file (and the journal's binary section header)
 * starts with, so that each kind checks magic, checksum and version the same way.
 *
 * Layout (little-endian; docs/FORMAT.md, "File envelope", is normative):
 *
 *   0 u32 magic (names the kind)   4 u32 crc32c of bytes [8, end of the envelope)
 *   versioned kinds:   8 u8 version   9 3 bytes reserved (0)   12 body
 *   unversioned kinds: 8 body (the journal's binary section header: its version lives in the batch)
 *
 * The envelope ends where the file ends; for a journal binary section it is the fixed 24-byte
 * section header. The version byte is under the checksum, so a flipped version reads as damage,
 * while an intact envelope from a newer release reads as ERR_FORMAT_VERSION. This describes the
 * byte layouts seglog has always written: no file changed when the helper was introduced.
 */
import { SeglogError } from '../errors.js'
import { crc32c } from './crc32c.js'

/** One kind of enveloped file. */
export interface EnvelopeKind {
  /** What the file holds, for errors (`details.kind`): 'index', 'checkpoint', 'gaps' … */
  readonly name: string
  /** u32 at byte 0. */
  readonly magic: number
  /** The version this release writes and reads; absent for a kind without a version byte. */
  readonly version?: number
  /** What to do about a damaged file of this kind, appended to the ERR_CORRUPT message. */
  readonly remedy: string
}

/** Bytes before the body: 12 for a versioned kind, 8 for an unversioned one. */
export function envelopeHeaderBytes(kind: EnvelopeKind): number {
  return kind.version === undefined ? 8 : 12
}

/**
 * A zeroed envelope of `bodyBytes` body bytes with magic and version written. Fill the body from
 * {@link envelopeHeaderBytes}, then {@link sealEnvelope}.
 */
export function allocEnvelope(kind: EnvelopeKind, bodyBytes: number): Buffer {
  const buf = Buffer.alloc(envelopeHeaderBytes(kind) + bodyBytes)
  buf.writeUInt32LE(kind.magic >>> 0, 0)
  if (kind.version !== undefined) buf[8] = kind.version
  return buf
}

/** Writes the checksum of a filled envelope; the last write, so a torn one never checks out. */
export function sealEnvelope(envelope: Buffer): Buffer {
  envelope.writeUInt32LE(crc32c(envelope.subarray(8)), 4)
  return envelope
}

/** Why an envelope was refused, and the byte (from the envelope's start) that shows it. */
export interface EnvelopeFault {
  reason: 'short' | 'magic' | 'checksum' | 'version' | 'newer-version'
  position: number
  /** The version byte found, for 'version' and 'newer-version'. */
  version?: number
}

/** Words for a fault, used in messages. */
export function describeFault(fault: EnvelopeFault, kind: EnvelopeKind): string {
  switch (fault.reason) {
    case 'short': return `shorter than the ${envelopeHeaderBytes(kind)}-byte ${kind.name} header`
    case 'magic': return `no ${kind.name} magic`
    case 'checksum': return `${kind.name} checksum mismatch`
    case 'version': return `${kind.name} format version ${fault.version ?? '?'} is older than any this seglog reads (${kind.version ?? '?'}), so the byte is damaged`
    case 'newer-version': return `${kind.name} format version ${fault.version ?? '?'} is newer than this seglog reads (${kind.version ?? '?'})`
  }
}

/**
 * Checks the envelope that fills `envelope` (pass a view when it is part of a larger buffer).
 * Returns the fault, or undefined when magic, checksum and version hold. Never throws, allocates
 * nothing: decoders of hint files (index, checkpoint) turn any fault into "rebuild".
 */
export function checkEnvelope(envelope: Buffer, kind: EnvelopeKind): EnvelopeFault | undefined {
  if (envelope.length < envelopeHeaderBytes(kind)) return { reason: 'short', position: envelope.length }
  if (envelope.readUInt32LE(0) !== kind.magic >>> 0) return { reason: 'magic', position: 0 }
  if (crc32c(envelope.subarray(8)) !== envelope.readUInt32LE(4)) return { reason: 'checksum', position: 4 }
  if (kind.version !== undefined && envelope[8] !== kind.version) {
    const version = envelope[8]
    return { reason: version > kind.version ? 'newer-version' : 'version', position: 8, version }
  }
  return undefined
}

/** Where an envelope was read from, for errors. */
export interface EnvelopeSource {
  /** File path or object key. */
  file: string
  /** Byte of `file` at which the envelope starts (0 for a whole file). */
  position?: number
}

/**
 * The error for `fault`: ERR_FORMAT_VERSION for an intact envelope from a newer release,
 * ERR_CORRUPT otherwise, with `details.kind` naming the file kind and `details.position` the byte.
 */
export function envelopeError(fault: EnvelopeFault, kind: EnvelopeKind, source: EnvelopeSource): SeglogError {
  const position = (source.position ?? 0) + fault.position
  const what = describeFault(fault, kind)
  if (fault.reason === 'newer-version') {
    return new SeglogError('ERR_FORMAT_VERSION', `${source.file} byte ${position}: ${what}; upgrade seglog to read it`,
      { details: { file: source.file, position, kind: kind.name, version: fault.version } })
  }
  return corruptFileError(kind, source, fault.position, what)
}

/**
 * ERR_CORRUPT for a file of `kind` whose envelope holds but whose body does not (a count that
 * does not match the length, fields out of order): `position` is the byte from the envelope's start.
 */
export function corruptFileError(kind: EnvelopeKind, source: EnvelopeSource, position: number, what: string): SeglogError {
  const at = (source.position ?? 0) + position
  return new SeglogError('ERR_CORRUPT', `${source.file} byte ${at}: ${what}. ${kind.remedy}`,
    { details: { file: source.file, position: at, kind: kind.name } })
}

/**
 * The body of the envelope that fills `envelope`, or a thrown {@link envelopeError}. The body is a
 * view: it shares memory with `envelope`.
 */
export function openEnvelope(envelope: Buffer, kind: EnvelopeKind, source: EnvelopeSource): Buffer {
  const fault = checkEnvelope(envelope, kind)
  if (fault) throw envelopeError(fault, kind, source)
  return envelope.subarray(envelopeHeaderBytes(kind))
}
