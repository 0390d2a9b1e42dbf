/**
 * The checkpoint names a prefix of the log known to be durable and valid: (last segment, byte
 * position, next offset). Recovery scans only what lies after it. It is a hint, checked against
 * the files on every open: a missing, torn or stale checkpoint only makes recovery scan the whole
 * last segment, never trust bad data.
 *
 * Layout (40 bytes, little-endian): the file envelope (src/format/envelope.ts: magic 'SGCP',
 * crc32c, version 1), then u32 flags (bit 0: written by a clean close), u64 segment base,
 * u64 byte position, u64 next offset.
 */
import path from 'node:path'
import { allocEnvelope, checkEnvelope, envelopeHeaderBytes, readU64, sealEnvelope, writeU64, type EnvelopeKind } from '../format/index.js'
import type { FileSystem } from '../io/file-system.js'
import { CHECKPOINT_FILE, CHECKPOINT_TMP_FILE } from './names.js'

/** The checkpoint's envelope. A hint: a damaged or newer checkpoint is ignored (recovery scans more). */
export const CHECKPOINT_ENVELOPE: EnvelopeKind = {
  name: 'checkpoint',
  magic: 0x50434753, // 'SGCP'
  version: 1,
  remedy: 'It is ignored; recovery scans the whole last segment',
}
const BYTES = 40

export interface Checkpoint {
  segmentBase: number
  position: number
  nextOffset: number
  clean: boolean
}

export function encodeCheckpoint(cp: Checkpoint): Buffer {
  const buf = allocEnvelope(CHECKPOINT_ENVELOPE, BYTES - envelopeHeaderBytes(CHECKPOINT_ENVELOPE))
  buf.writeUInt32LE(cp.clean ? 1 : 0, 12)
  writeU64(buf, 16, cp.segmentBase)
  writeU64(buf, 24, cp.position)
  writeU64(buf, 32, cp.nextOffset)
  return sealEnvelope(buf)
}

export function decodeCheckpoint(buf: Buffer | undefined): Checkpoint | undefined {
  if (!buf || buf.length !== BYTES || checkEnvelope(buf, CHECKPOINT_ENVELOPE)) return undefined
  const segmentBase = readU64(buf, 16)
  const position = readU64(buf, 24)
  const nextOffset = readU64(buf, 32)
  if (segmentBase < 0 || position < 0 || nextOffset < segmentBase) return undefined
  return { segmentBase, position, nextOffset, clean: (buf.readUInt32LE(12) & 1) === 1 }
}

export function readCheckpoint(fsys: FileSystem, dir: string): Checkpoint | undefined {
  return decodeCheckpoint(fsys.readFile(path.join(dir, CHECKPOINT_FILE)))
}

/**
 * Replaces the checkpoint atomically (write aside, rename). With `durable`, the file is fsynced
 * before the rename; callers that need the rename itself durable fsync the directory after.
 */
export function writeCheckpoint(fsys: FileSystem, dir: string, cp: Checkpoint, durable: boolean): void {
  const tmp = path.join(dir, CHECKPOINT_TMP_FILE)
  fsys.writeFile(tmp, encodeCheckpoint(cp), durable)
  fsys.rename(tmp, path.join(dir, CHECKPOINT_FILE))
}

/**
 * As {@link writeCheckpoint} with `durable`, without blocking the event loop: the file written
 * aside is fsynced asynchronously (inside the group committer's sync round), then renamed.
 */
export async function writeCheckpointAsync(fsys: FileSystem, dir: string, cp: Checkpoint): Promise<void> {
  const tmp = path.join(dir, CHECKPOINT_TMP_FILE)
  const bytes = encodeCheckpoint(cp)
  const handle = fsys.open(tmp, 'create')
  try {
    handle.truncate(0)
    handle.write(bytes, 0, bytes.length, 0)
    await handle.datasync()
  } finally {
    handle.close()
  }
  fsys.rename(tmp, path.join(dir, CHECKPOINT_FILE))
}
