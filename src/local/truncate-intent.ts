/**
 * Truncation is made crash-safe with an intent file: what to cut and, when the cut falls inside
 * a batch, the re-encoded batch that keeps the records before the cut. The intent is fsynced
 * before any file changes and removed (durably) only after every change is durable; recovery
 * replays an intent it finds. Replaying is idempotent.
 *
 * Layout: the file envelope (src/format/envelope.ts: magic 'SGTR', crc32c, version 1), then u32
 * replacement length, u64 segment base, u64 cut position, u64 next offset, then the replacement
 * batch bytes.
 */
import path from 'node:path'
import { allocEnvelope, checkEnvelope, envelopeError, envelopeHeaderBytes, readU64, sealEnvelope, writeU64, type EnvelopeKind } from '../format/index.js'
import type { FileSystem } from '../io/file-system.js'
import { writeCheckpoint } from './checkpoint.js'
import { indexPath, parseSegmentName, segmentPath, TRUNCATE_INTENT_FILE } from './names.js'

/**
 * The intent's envelope. A damaged intent was torn before it was acted on and is dropped; one from
 * a newer release is ERR_FORMAT_VERSION, never dropped (its truncation may be half done).
 */
export const INTENT_ENVELOPE: EnvelopeKind = {
  name: 'truncate intent',
  magic: 0x52544753, // 'SGTR'
  version: 1,
  remedy: 'It was torn before any file changed and is dropped',
}
const HEADER = 40

export interface TruncateIntent {
  segmentBase: number
  cutPosition: number
  nextOffset: number
  replacement: Buffer
}

function encode(intent: TruncateIntent): Buffer {
  const buf = allocEnvelope(INTENT_ENVELOPE, HEADER - envelopeHeaderBytes(INTENT_ENVELOPE) + intent.replacement.length)
  buf.writeUInt32LE(intent.replacement.length, 12)
  writeU64(buf, 16, intent.segmentBase)
  writeU64(buf, 24, intent.cutPosition)
  writeU64(buf, 32, intent.nextOffset)
  intent.replacement.copy(buf, HEADER)
  return sealEnvelope(buf)
}

function decode(buf: Buffer, file: string): TruncateIntent | undefined {
  const fault = checkEnvelope(buf, INTENT_ENVELOPE)
  if (fault?.reason === 'newer-version') throw envelopeError(fault, INTENT_ENVELOPE, { file })
  if (fault || buf.length < HEADER || buf.length !== HEADER + buf.readUInt32LE(12)) return undefined
  const segmentBase = readU64(buf, 16)
  const cutPosition = readU64(buf, 24)
  const nextOffset = readU64(buf, 32)
  // Impossible fields behind a valid checksum (a collision, or an edit) are damage, like a torn intent:
  // never act on them (a base of -1 would delete every segment).
  if (segmentBase < 0 || cutPosition < 0 || nextOffset < segmentBase) return undefined
  return { segmentBase, cutPosition, nextOffset, replacement: buf.subarray(HEADER) }
}

/** Makes the intent durable; after this returns, the truncation will complete even across a crash. */
export async function recordIntent(fsys: FileSystem, dir: string, intent: TruncateIntent): Promise<void> {
  fsys.writeFile(path.join(dir, TRUNCATE_INTENT_FILE), encode(intent), true)
  await fsys.syncDir(dir)
}

/** Carries out the intent and removes it, durably. */
export async function applyIntent(fsys: FileSystem, dir: string, intent: TruncateIntent): Promise<void> {
  const later = fsys.readdir(dir)
    .map(parseSegmentName)
    .filter((b): b is number => b !== undefined && b > intent.segmentBase)
    .sort((a, b) => b - a)
  for (const base of later) {
    // Newest first, so a crash part-way still leaves a contiguous log (and the intent to finish).
    unlinkIfPresent(fsys, segmentPath(dir, base))
    unlinkIfPresent(fsys, indexPath(dir, base))
  }
  const handle = fsys.open(segmentPath(dir, intent.segmentBase), 'write')
  try {
    handle.truncate(intent.cutPosition)
    if (intent.replacement.length > 0) handle.write(intent.replacement, 0, intent.replacement.length, intent.cutPosition)
    await handle.datasync()
  } finally {
    handle.close()
  }
  unlinkIfPresent(fsys, indexPath(dir, intent.segmentBase))
  writeCheckpoint(fsys, dir, {
    segmentBase: intent.segmentBase,
    position: intent.cutPosition + intent.replacement.length,
    nextOffset: intent.nextOffset,
    clean: false,
  }, true)
  await fsys.syncDir(dir)
  fsys.unlink(path.join(dir, TRUNCATE_INTENT_FILE))
  // The removal must be durable before new appends, or a later replay would cut them.
  await fsys.syncDir(dir)
}

/**
 * The pending intent in `dir`, if any. A torn intent was never acted on and is dropped; an intent
 * written by a newer release is ERR_FORMAT_VERSION.
 */
export function readIntent(fsys: FileSystem, dir: string): { intent: TruncateIntent | undefined; present: boolean } {
  const file = path.join(dir, TRUNCATE_INTENT_FILE)
  const buf = fsys.readFile(file)
  return { intent: buf ? decode(buf, file) : undefined, present: buf !== undefined }
}

function unlinkIfPresent(fsys: FileSystem, file: string): void {
  try {
    fsys.unlink(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}
