/**
 * Where a tiered log lives in an object store (normative description: docs/FORMAT.md, "Remote
 * layout (tiered storage)"). Under `<prefix>/segments/` each shipped segment has two objects:
 *
 * - the data object `<base>.log`: the sealed segment file's bytes, verbatim. Its key depends on
 *   the base offset alone, so it is the fencing point: two writers shipping a segment at one base
 *   meet on one key, and the create-only put lets exactly one of them in.
 * - the seal object `<base>.seal.<end>.<maxTimestamp>`: the segment's sparse index, written after
 *   the data object is confirmed. Its presence commits the segment, and its key carries what a
 *   catalog needs (end offset, newest record timestamp), so one listing describes the remote log.
 *
 * Numbers are zero-padded to 20 digits, so code-point order of keys is offset order, and a data
 * key sorts just before its own seal key (`.l` < `.s`).
 */
import { joinKey, validatePrefix } from '../objects/keys.js'

const DIGITS = 20
const DATA_RE = /^(\d{20})\.log$/
const SEAL_RE = /^(\d{20})\.seal\.(\d{20})\.(\d{20})$/

/** The folder (below the tier prefix) that holds segment objects. */
export const SEGMENTS_FOLDER = 'segments'

/** Zero-padded so that key order is numeric order. */
export function pad(n: number): string {
  return String(n).padStart(DIGITS, '0')
}

/** The listing prefix of every segment object under `prefix` (ends with `/`). */
export function segmentsPrefix(prefix: string): string {
  return `${joinKey(validatePrefix(prefix), SEGMENTS_FOLDER)}/`
}

/** Key of the data object of the segment starting at `base`. */
export function dataKey(prefix: string, base: number): string {
  return `${segmentsPrefix(prefix)}${pad(base)}.log`
}

/** Key of the seal object of the segment `[base, end)` whose newest batch has `maxTimestamp`. */
export function sealKey(prefix: string, base: number, end: number, maxTimestamp: number): string {
  return `${segmentsPrefix(prefix)}${pad(base)}.seal.${pad(end)}.${pad(maxTimestamp)}`
}

/** What a key under {@link segmentsPrefix} names. */
export type SegmentKey =
  | { kind: 'data'; base: number }
  | { kind: 'seal'; base: number; end: number; maxTimestamp: number }

/**
 * Parses a key relative to {@link segmentsPrefix}; undefined for anything else (foreign objects
 * are ignored, never deleted). A seal must describe a non-empty range of safe offsets.
 */
export function parseSegmentKey(name: string): SegmentKey | undefined {
  const d = DATA_RE.exec(name)
  if (d) {
    const base = Number(d[1])
    return Number.isSafeInteger(base) ? { kind: 'data', base } : undefined
  }
  const s = SEAL_RE.exec(name)
  if (!s) return undefined
  const base = Number(s[1])
  const end = Number(s[2])
  const maxTimestamp = Number(s[3])
  if (!Number.isSafeInteger(base) || !Number.isSafeInteger(end) || !Number.isSafeInteger(maxTimestamp) || end <= base) return undefined
  return { kind: 'seal', base, end, maxTimestamp }
}
