/**
 * The truncate generation: how readers (cursors in this process, read-only handles in others)
 * learn that `truncate()` rewrote the end of the log, so they never serve bytes from before it.
 *
 * It lives in its own small file, not in the batch format or the checkpoint, so a log that was
 * never truncated has no such file (generation 0) and older logs need no change. The generation
 * works like a sequence lock: a truncate makes it odd (durably) *before* it changes any segment
 * and even again once every change is durable. A reader that sees an odd generation waits; a
 * reader that sees a different even generation than the one its state was read under throws that
 * state away and reads the directory again. The file also keeps the cut offset of the most recent
 * truncates, so a cursor can tell whether any record it already handed out was removed.
 *
 * Layout (little-endian): u32 magic 'SGTG', u32 crc32c of [8, end), u8 version (1), 3 reserved,
 * u32 entry count, u64 generation, then per entry u64 generation (odd) and u64 cut offset.
 */
import path from 'node:path'
import { crc32c, readU64, writeU64 } from '../format/index.js'
import type { FileSystem } from '../io/file-system.js'
import { TRUNCATIONS_FILE, TRUNCATIONS_TMP_FILE } from './names.js'

const MAGIC = 0x47544753 // 'SGTG'
const HEADER_BYTES = 24
const ENTRY_BYTES = 16
/** Cuts remembered; a reader that missed more truncates than this assumes the worst (offset 0). */
const MAX_CUTS = 64

/** One truncate: the (odd) generation it ran under and the first offset it removed. */
export interface Cut {
  generation: number
  offset: number
}

export interface Truncations {
  /** Even: stable. Odd: a truncate is changing files. */
  generation: number
  /** Most recent last. */
  cuts: Cut[]
}

export const NO_TRUNCATIONS: Truncations = Object.freeze({ generation: 0, cuts: [] as Cut[] }) as Truncations

export function encodeTruncations(state: Truncations): Buffer {
  const cuts = state.cuts.slice(-MAX_CUTS)
  const buf = Buffer.alloc(HEADER_BYTES + cuts.length * ENTRY_BYTES)
  buf.writeUInt32LE(MAGIC, 0)
  buf[8] = 1
  buf.writeUInt32LE(cuts.length, 12)
  writeU64(buf, 16, state.generation)
  let p = HEADER_BYTES
  for (const cut of cuts) {
    writeU64(buf, p, cut.generation)
    writeU64(buf, p + 8, cut.offset)
    p += ENTRY_BYTES
  }
  buf.writeUInt32LE(crc32c(buf.subarray(8)), 4)
  return buf
}

/** The decoded file, or 'damaged' when it cannot be trusted. */
export function decodeTruncations(buf: Buffer): Truncations | 'damaged' {
  if (buf.length < HEADER_BYTES || buf.readUInt32LE(0) !== MAGIC || buf[8] !== 1) return 'damaged'
  const count = buf.readUInt32LE(12)
  if (count > MAX_CUTS || buf.length !== HEADER_BYTES + count * ENTRY_BYTES) return 'damaged'
  if (crc32c(buf.subarray(8)) !== buf.readUInt32LE(4)) return 'damaged'
  const generation = readU64(buf, 16)
  const cuts: Cut[] = []
  for (let i = 0, p = HEADER_BYTES; i < count; i++, p += ENTRY_BYTES) {
    const cut = { generation: readU64(buf, p), offset: readU64(buf, p + 8) }
    if (cut.generation < 0 || cut.offset < 0 || cut.generation > generation) return 'damaged'
    cuts.push(cut)
  }
  if (generation < 0) return 'damaged'
  return { generation, cuts }
}

/** The state on disk: no file means never truncated. */
export function readTruncations(fsys: FileSystem, dir: string): Truncations | 'damaged' {
  const buf = fsys.readFile(path.join(dir, TRUNCATIONS_FILE))
  return buf === undefined ? NO_TRUNCATIONS : decodeTruncations(buf)
}

/** Replaces the file atomically and durably (write aside, fsync, rename, fsync the directory). */
export async function writeTruncations(fsys: FileSystem, dir: string, state: Truncations): Promise<void> {
  const tmp = path.join(dir, TRUNCATIONS_TMP_FILE)
  fsys.writeFile(tmp, encodeTruncations(state), true)
  fsys.rename(tmp, path.join(dir, TRUNCATIONS_FILE))
  await fsys.syncDir(dir)
}

/**
 * The lowest offset removed by any truncate after `generation`; Infinity when none was, 0 when
 * the cuts since then are no longer remembered (too many, or the file was rewritten after damage).
 */
export function lowestCutSince(state: Truncations, generation: number): number {
  if (state.generation === generation) return Number.POSITIVE_INFINITY
  let lowest = Number.POSITIVE_INFINITY
  let sawNext = false
  for (const cut of state.cuts) {
    if (cut.generation <= generation) continue
    // Truncates take consecutive generations: the one right after ours must be remembered, or
    // some cut between may have been forgotten.
    if (cut.generation === generation + 1) sawNext = true
    if (cut.offset < lowest) lowest = cut.offset
  }
  return sawNext ? lowest : 0
}

/** The state a truncate records before it changes any file: odd generation, its cut added. */
export function beginTruncate(state: Truncations, offset: number): Truncations {
  const generation = state.generation % 2 === 0 ? state.generation + 1 : state.generation + 2
  return { generation, cuts: [...state.cuts, { generation, offset }].slice(-MAX_CUTS) }
}

/** The state once a truncate's changes are durable: the next even generation. */
export function endTruncate(state: Truncations): Truncations {
  return { generation: state.generation % 2 === 1 ? state.generation + 1 : state.generation, cuts: state.cuts }
}
