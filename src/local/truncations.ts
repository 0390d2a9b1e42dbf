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
 * Layout (little-endian): the file envelope (src/format/envelope.ts: magic 'SGTG', crc32c,
 * version 1), then u32 entry count, u64 generation, then per entry u64 generation (odd) and u64
 * cut offset.
 */
import path from 'node:path'
import { allocEnvelope, checkEnvelope, envelopeError, envelopeHeaderBytes, readU64, sealEnvelope, writeU64, type EnvelopeKind } from '../format/index.js'
import type { FileSystem } from '../io/file-system.js'
import { TRUNCATIONS_FILE, TRUNCATIONS_TMP_FILE } from './names.js'

/** The truncations file's envelope. */
export const TRUNCATIONS_ENVELOPE: EnvelopeKind = {
  name: 'truncations',
  magic: 0x47544753, // 'SGTG'
  version: 1,
  remedy: 'Readers treat every record as possibly truncated and start again from the files',
}
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
  const buf = allocEnvelope(TRUNCATIONS_ENVELOPE, HEADER_BYTES - envelopeHeaderBytes(TRUNCATIONS_ENVELOPE) + cuts.length * ENTRY_BYTES)
  buf.writeUInt32LE(cuts.length, 12)
  writeU64(buf, 16, state.generation)
  let p = HEADER_BYTES
  for (const cut of cuts) {
    writeU64(buf, p, cut.generation)
    writeU64(buf, p + 8, cut.offset)
    p += ENTRY_BYTES
  }
  return sealEnvelope(buf)
}

/**
 * The decoded file, or 'damaged' when it cannot be trusted; ERR_FORMAT_VERSION when a newer
 * release wrote it (`file` names it in that error).
 */
export function decodeTruncations(buf: Buffer, file = TRUNCATIONS_FILE): Truncations | 'damaged' {
  const fault = checkEnvelope(buf, TRUNCATIONS_ENVELOPE)
  if (fault?.reason === 'newer-version') throw envelopeError(fault, TRUNCATIONS_ENVELOPE, { file })
  if (fault || buf.length < HEADER_BYTES) return 'damaged'
  const count = buf.readUInt32LE(12)
  if (count > MAX_CUTS || buf.length !== HEADER_BYTES + count * ENTRY_BYTES) return 'damaged'
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
  const file = path.join(dir, TRUNCATIONS_FILE)
  const buf = fsys.readFile(file)
  return buf === undefined ? NO_TRUNCATIONS : decodeTruncations(buf, file)
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
