/**
 * Truncation is made crash-safe with an intent file: what to cut and, when the cut falls inside
 * a batch, the re-encoded batch that keeps the records before the cut. The intent is fsynced
 * before any file changes and removed (durably) only after every change is durable; recovery
 * replays an intent it finds. Replaying is idempotent.
 *
 * Layout: u32 magic 'SGTR', u32 crc32c of [8, end), u8 version (1), 3 reserved, u32 replacement
 * length, u64 segment base, u64 cut position, u64 next offset, then the replacement batch bytes.
 */
import path from 'node:path'
import { crc32c, readU64, writeU64 } from '../format/index.js'
import type { FileSystem } from '../io/file-system.js'
import { writeCheckpoint } from './checkpoint.js'
import { indexPath, parseSegmentName, segmentPath, TRUNCATE_INTENT_FILE } from './names.js'

const MAGIC = 0x52544753 // 'SGTR'
const HEADER = 40

export interface TruncateIntent {
  segmentBase: number
  cutPosition: number
  nextOffset: number
  replacement: Buffer
}

function encode(intent: TruncateIntent): Buffer {
  const buf = Buffer.alloc(HEADER + intent.replacement.length)
  buf.writeUInt32LE(MAGIC, 0)
  buf[8] = 1
  buf.writeUInt32LE(intent.replacement.length, 12)
  writeU64(buf, 16, intent.segmentBase)
  writeU64(buf, 24, intent.cutPosition)
  writeU64(buf, 32, intent.nextOffset)
  intent.replacement.copy(buf, HEADER)
  buf.writeUInt32LE(crc32c(buf.subarray(8)), 4)
  return buf
}

function decode(buf: Buffer): TruncateIntent | undefined {
  if (buf.length < HEADER || buf.readUInt32LE(0) !== MAGIC || buf[8] !== 1) return undefined
  if (buf.length !== HEADER + buf.readUInt32LE(12) || crc32c(buf.subarray(8)) !== buf.readUInt32LE(4)) return undefined
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

/** The pending intent in `dir`, if any. A torn intent was never acted on and is dropped. */
export function readIntent(fsys: FileSystem, dir: string): { intent: TruncateIntent | undefined; present: boolean } {
  const buf = fsys.readFile(path.join(dir, TRUNCATE_INTENT_FILE))
  return { intent: buf ? decode(buf) : undefined, present: buf !== undefined }
}

function unlinkIfPresent(fsys: FileSystem, file: string): void {
  try {
    fsys.unlink(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}
