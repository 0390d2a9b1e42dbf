/**
 * Log identity: a random 128-bit id chosen when a log is created, so that a segment copied in
 * from another log is recognised as foreign instead of being served as this log's data.
 *
 * The id lives in the `identity` file; every batch carries the log's 32-bit *tag* (derived from
 * the id, never 0) in bytes 36–39, under the batch checksum. Readers compare each batch's tag
 * with the log's. A log created before identities existed (format 1 without this file) has tag 0
 * in every batch and stays readable, without this check.
 *
 * Layout (32 bytes, little-endian): the file envelope (src/format/envelope.ts: magic 'SGID',
 * crc32c, version 1), then 16 bytes id, u32 tag.
 */
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { SeglogError } from '../errors.js'
import { allocEnvelope, checkEnvelope, corruptFileError, crc32c, envelopeError, envelopeHeaderBytes, sealEnvelope, type EnvelopeKind } from '../format/index.js'
import type { FileSystem } from '../io/file-system.js'
import { IDENTITY_FILE, IDENTITY_TMP_FILE } from './names.js'

/** The identity file's envelope. It never changes and cannot be rebuilt: damage is ERR_CORRUPT. */
export const IDENTITY_ENVELOPE: EnvelopeKind = {
  name: 'identity',
  magic: 0x44494753, // 'SGID'
  version: 1,
  remedy: 'It holds the log\'s identity, which every segment is checked against: restore it from a backup (it is 32 bytes and never changes)',
}
const IDENTITY_BYTES = 32

export interface LogIdentity {
  /** 32 hex digits. */
  id: string
  /** The tag every batch of this log carries (never 0). */
  tag: number
}

/** The tag of an id: its CRC32C, with 0 (which means "no identity") mapped to 1. */
export function tagOf(id: Buffer): number {
  return crc32c(id) || 1
}

export function encodeIdentity(id: Buffer): Buffer {
  const buf = allocEnvelope(IDENTITY_ENVELOPE, IDENTITY_BYTES - envelopeHeaderBytes(IDENTITY_ENVELOPE))
  id.copy(buf, 12, 0, 16)
  buf.writeUInt32LE(tagOf(id), 28)
  return sealEnvelope(buf)
}

/**
 * Decodes an identity file: undefined when it is damaged, ERR_FORMAT_VERSION when a newer release
 * wrote it (`file` names it in that error).
 */
export function decodeIdentity(buf: Buffer, file = IDENTITY_FILE): LogIdentity | undefined {
  const fault = checkEnvelope(buf, IDENTITY_ENVELOPE)
  if (fault?.reason === 'newer-version') throw envelopeError(fault, IDENTITY_ENVELOPE, { file })
  if (fault || buf.length !== IDENTITY_BYTES) return undefined
  const id = buf.subarray(12, 28)
  const tag = buf.readUInt32LE(28)
  if (tag !== tagOf(id)) return undefined
  return { id: id.toString('hex'), tag }
}

/**
 * The identity of the log in `dir`: undefined for a log without one (created by format 1).
 * A damaged identity file is ERR_CORRUPT: guessing would serve foreign data or refuse our own.
 */
export function readIdentity(fsys: FileSystem, dir: string): LogIdentity | undefined {
  const file = path.join(dir, IDENTITY_FILE)
  const buf = fsys.readFile(file)
  if (buf === undefined) return undefined
  const identity = decodeIdentity(buf, file)
  if (!identity) {
    const fault = checkEnvelope(buf, IDENTITY_ENVELOPE)
    throw fault ? envelopeError(fault, IDENTITY_ENVELOPE, { file }) : corruptFileError(IDENTITY_ENVELOPE, { file }, 12, `identity file is ${buf.length} bytes or its tag does not match its id`)
  }
  return identity
}

/**
 * Gives a new log its identity before its first segment exists. The file is fsynced; the caller
 * fsyncs the directory once the first segment is created too (directory entries are committed in
 * order, so no segment can survive a crash without the identity named before it).
 */
export function createIdentity(fsys: FileSystem, dir: string): LogIdentity {
  const id = randomBytes(16)
  const tmp = path.join(dir, IDENTITY_TMP_FILE)
  fsys.writeFile(tmp, encodeIdentity(id), true)
  fsys.rename(tmp, path.join(dir, IDENTITY_FILE))
  return { id: id.toString('hex'), tag: tagOf(id) }
}

/** The ERR_CORRUPT for a batch written by another log. */
export function foreignError(file: string, position: number, found: number, expected: number): SeglogError {
  return new SeglogError('ERR_CORRUPT',
    `${file} byte ${position}: batch belongs to another log (log tag ${hex(found)}, this log's is ${hex(expected)}); ` +
    'the segment was copied in from elsewhere. Move it out of the log directory',
    { details: { file, position, kind: 'foreign' } })
}

function hex(tag: number): string {
  return `0x${tag.toString(16).padStart(8, '0')}`
}
