/**
 * Offsets that repair could not save. When repair cuts damaged bytes out of a segment it keeps
 * every intact batch after them at its original offsets (in a segment of its own), so the log has
 * a hole; the `gaps` file records each hole so that reads of a lost offset fail with
 * ERR_OFFSET_LOST naming the range, iterators can stop or skip, and recovery can tell a recorded
 * hole from an unfinished segment roll.
 *
 * Layout (little-endian): the file envelope (src/format/envelope.ts: magic 'SGGP', crc32c,
 * version 1), then u32 count n, then n × (u64 from, u64 to): half-open ranges [from, to), sorted,
 * non-overlapping, from < to. Replaced atomically (write aside, fsync, rename, fsync directory).
 */
import path from 'node:path'
import { SeglogError } from '../errors.js'
import { allocEnvelope, checkEnvelope, corruptFileError, envelopeError, envelopeHeaderBytes, readU64, sealEnvelope, writeU64, type EnvelopeKind } from '../format/index.js'
import type { FileSystem } from '../io/file-system.js'
import { GAPS_FILE, GAPS_TMP_FILE } from './names.js'

/** The gaps file's envelope. It cannot be rebuilt, so damage is ERR_CORRUPT. */
export const GAPS_ENVELOPE: EnvelopeKind = {
  name: 'gaps',
  magic: 0x50474753, // 'SGGP'
  version: 1,
  remedy: 'It records offsets lost to an earlier repair: restore it from a backup, or run Log.repair() (or `seglog repair`) to record the log\'s holes again',
}
const HEADER_BYTES = 16
const ENTRY_BYTES = 16

/** A range of offsets lost to damage: `[from, to)`. */
export interface Gap {
  from: number
  to: number
}

export function encodeGaps(gaps: readonly Gap[]): Buffer {
  const buf = allocEnvelope(GAPS_ENVELOPE, HEADER_BYTES - envelopeHeaderBytes(GAPS_ENVELOPE) + gaps.length * ENTRY_BYTES)
  buf.writeUInt32LE(gaps.length, 12)
  gaps.forEach((g, i) => {
    writeU64(buf, HEADER_BYTES + i * ENTRY_BYTES, g.from)
    writeU64(buf, HEADER_BYTES + i * ENTRY_BYTES + 8, g.to)
  })
  return sealEnvelope(buf)
}

/**
 * Decodes a gaps file; undefined when it is damaged in any way, ERR_FORMAT_VERSION when a newer
 * release wrote it (`file` names it in that error). The count is checked against the file's
 * length before anything is allocated from it.
 */
export function decodeGaps(buf: Buffer, file = GAPS_FILE): Gap[] | undefined {
  const fault = checkEnvelope(buf, GAPS_ENVELOPE)
  if (fault?.reason === 'newer-version') throw envelopeError(fault, GAPS_ENVELOPE, { file })
  if (fault || buf.length < HEADER_BYTES) return undefined
  const n = buf.readUInt32LE(12)
  if (buf.length !== HEADER_BYTES + n * ENTRY_BYTES) return undefined
  const gaps: Gap[] = []
  let prevTo = -1
  for (let i = 0; i < n; i++) {
    const from = readU64(buf, HEADER_BYTES + i * ENTRY_BYTES)
    const to = readU64(buf, HEADER_BYTES + i * ENTRY_BYTES + 8)
    if (from < 0 || to <= from || from < prevTo) return undefined
    gaps.push({ from, to })
    prevTo = to
  }
  return gaps
}

/**
 * The recorded gaps of the log in `dir` ([] when there is no file). A damaged gaps file is
 * ERR_CORRUPT: unlike an index it cannot be rebuilt, and ignoring it would turn recorded losses
 * into unexplained holes.
 */
export function readGaps(fsys: FileSystem, dir: string): Gap[] {
  const file = path.join(dir, GAPS_FILE)
  const buf = fsys.readFile(file)
  if (buf === undefined) return []
  const gaps = decodeGaps(buf, file)
  if (!gaps) {
    const fault = checkEnvelope(buf, GAPS_ENVELOPE)
    throw fault ? envelopeError(fault, GAPS_ENVELOPE, { file }) : corruptFileError(GAPS_ENVELOPE, { file }, 12, 'gaps entries do not match the file length or are out of order')
  }
  return gaps
}

/** Replaces the gaps file durably (an empty list removes it). */
export async function writeGaps(fsys: FileSystem, dir: string, gaps: readonly Gap[]): Promise<void> {
  const file = path.join(dir, GAPS_FILE)
  if (gaps.length === 0) {
    if (fsys.stat(file)) {
      fsys.unlink(file)
      await fsys.syncDir(dir)
    }
    return
  }
  const tmp = path.join(dir, GAPS_TMP_FILE)
  fsys.writeFile(tmp, encodeGaps(gaps), true)
  fsys.rename(tmp, file)
  await fsys.syncDir(dir)
}

/**
 * Sorted union of `a` and `b`, overlapping ranges merged. Touching ranges stay apart: each gap
 * ends where a segment begins, and recovery relies on that.
 */
export function mergeGaps(a: readonly Gap[], b: readonly Gap[]): Gap[] {
  const all = [...a, ...b].sort((x, y) => x.from - y.from)
  const out: Gap[] = []
  for (const g of all) {
    const last = out[out.length - 1]
    if (last && g.from < last.to) last.to = Math.max(last.to, g.to)
    else out.push({ from: g.from, to: g.to })
  }
  return out
}

/** The recorded gap holding `offset`, if any. */
export function gapAt(gaps: readonly Gap[], offset: number): Gap | undefined {
  let lo = 0
  let hi = gaps.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const g = gaps[mid]
    if (offset < g.from) hi = mid - 1
    else if (offset >= g.to) lo = mid + 1
    else return g
  }
  return undefined
}

/** True when `[from, to)` lies inside one recorded gap. */
export function gapCovers(gaps: readonly Gap[], from: number, to: number): boolean {
  const g = gapAt(gaps, from)
  return g !== undefined && to <= g.to
}

/** The error for a read of an offset repair could not save. */
export function offsetLostError(offset: number, gap: Gap, dir: string): SeglogError {
  return new SeglogError('ERR_OFFSET_LOST',
    `offset ${offset} was lost to damage: a repair of ${dir} could not save offsets ${gap.from}…${gap.to - 1}. ` +
    `Records before and after the range are intact; iterate with { gaps: 'skip' } to read past it`,
    { details: { offset, from: gap.from, to: gap.to } })
}
