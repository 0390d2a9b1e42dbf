/** File names inside a log directory. Anything else found there is foreign: ignored, never deleted. */
import path from 'node:path'

const DIGITS = 20
const SEGMENT_RE = /^(\d{20})\.log$/
const INDEX_RE = /^(\d{20})\.index$/

export const CHECKPOINT_FILE = 'checkpoint'
export const CHECKPOINT_TMP_FILE = 'checkpoint.tmp'
export const LOCK_FILE = 'LOCK'
export const TRUNCATE_INTENT_FILE = 'truncate.pending'
export const GAPS_FILE = 'gaps'
export const GAPS_TMP_FILE = 'gaps.tmp'
export const IDENTITY_FILE = 'identity'
export const IDENTITY_TMP_FILE = 'identity.tmp'

/** A segment being written aside by repair, renamed into place when complete (a foreign name until then). */
export function repairTmpPath(dir: string, base: number): string {
  return path.join(dir, `${padOffset(base)}.log.repair-tmp`)
}

/** The truncate generation readers check (see truncations.ts); absent until the first truncate. */
export const TRUNCATIONS_FILE = 'truncations'
export const TRUNCATIONS_TMP_FILE = 'truncations.tmp'

/** Zero-padded so that name order is offset order. */
export function padOffset(offset: number): string {
  return String(offset).padStart(DIGITS, '0')
}

export function segmentPath(dir: string, base: number): string {
  return path.join(dir, `${padOffset(base)}.log`)
}

export function indexPath(dir: string, base: number): string {
  return path.join(dir, `${padOffset(base)}.index`)
}

/** Base offset of a segment file name, or undefined when the name is not a segment's. */
export function parseSegmentName(name: string): number | undefined {
  const m = SEGMENT_RE.exec(name)
  if (!m) return undefined
  const base = Number(m[1])
  return Number.isSafeInteger(base) ? base : undefined
}

export function parseIndexName(name: string): number | undefined {
  const m = INDEX_RE.exec(name)
  return m ? Number(m[1]) : undefined
}
