/**
 * Offline check of a whole log: every batch's checksum and structure, offsets contiguous across
 * segments (or across a hole recorded in the gaps file), and every index file. Reports every
 * fault with file, byte and kind: after damage the check resynchronises on the next batch that
 * counts as valid data (the torn-versus-corrupt rule) and goes on, so one bad byte does not hide
 * the next. Changes nothing.
 */
import { SeglogError } from '../errors.js'
import { nodeFileSystem, type FileHandle, type FileSystem } from '../io/file-system.js'
import { gapCovers, readGaps, type Gap } from './gaps.js'
import { readIdentity } from './identity.js'
import { indexPath, parseSegmentName, segmentPath } from './names.js'
import { scanSegment } from './scan.js'
import { SparseIndex } from './sparse-index.js'

/** One problem found by {@link verifyLog}. */
export interface VerifyFault {
  file: string
  /** Byte position in `file`. */
  position: number
  /**
   * - `torn-tail`: an incomplete last write (open() cuts it off and reports it);
   * - `corrupt`: damaged data with valid data after it, or damage in a sealed segment (open()
   *   fails; repair cuts out the damaged bytes and keeps every intact batch at its offsets);
   * - `newer-version`: written by a newer seglog;
   * - `gap` / `overlap`: a segment's records do not meet the next segment's base offset, and no
   *   repair recorded the hole;
   * - `index`: an index file that is damaged or stale (derived data, rebuilt on use).
   */
  kind: 'torn-tail' | 'corrupt' | 'newer-version' | 'gap' | 'overlap' | 'index'
  message: string
  /** First offset that cannot be read because of this fault (data faults only). */
  offset?: number
  /** End of the damaged bytes in `file` (data faults only). */
  end?: number
  /** Offsets this fault makes unreadable, `[from, to)`, when intact data follows it. */
  lost?: Gap
}

export interface VerifyReport {
  /** True when there is no fault at all (index faults included). Recorded gaps are not faults. */
  ok: boolean
  segments: number
  batches: number
  records: number
  bytes: number
  firstOffset: number
  nextOffset: number
  faults: VerifyFault[]
  /** Offsets an earlier repair could not save (recorded in the gaps file), `[from, to)`. */
  gaps: Gap[]
  durationMs: number
}

export interface VerifyOptions {
  fileSystem?: FileSystem
  /** Called after each segment with the bytes checked so far and the total. */
  onProgress?: (doneBytes: number, totalBytes: number) => void
  /** Stops the check between segments; the promise then rejects with the signal's reason. */
  signal?: AbortSignal
}

/** A stretch of contiguous valid batches in a segment file. */
export interface ValidRun {
  start: number
  end: number
  /** Offset of its first record, and the offset after its last. */
  first: number
  next: number
}

/** What the check found in one segment file: its intact runs and its faults. */
export interface SegmentInspection {
  base: number
  file: string
  size: number
  runs: ValidRun[]
  faults: VerifyFault[]
  batches: number
  records: number
}

/** Every segment inspected, plus the recorded gaps: the plan repair works from. */
export interface LogInspection {
  segments: SegmentInspection[]
  gaps: Gap[]
}

/**
 * Scans a whole segment, resynchronising after each fault on the next batch that counts as valid
 * data. Bounded by the segment: each resync moves strictly forward.
 */
export function inspectSegment(handle: FileHandle, file: string, size: number, base: number, isLast: boolean, tag = 0): SegmentInspection {
  const out: SegmentInspection = { base, file, size, runs: [], faults: [], batches: 0, records: 0 }
  let pos = 0
  let expected = base
  for (;;) {
    const scan = scanSegment(handle, size, pos, expected, { tag })
    out.batches += scan.batches
    out.records += scan.records
    if (scan.validEnd > pos) out.runs.push({ start: pos, end: scan.validEnd, first: expected, next: scan.nextOffset })
    if (scan.stop === 'end') return out
    if (scan.stop === 'newer-version') {
      out.faults.push({ file, position: scan.validEnd, kind: 'newer-version', message: scan.fault ?? '', offset: scan.nextOffset })
      return out
    }
    const after = scan.validAfter
    if (after && after.position > scan.validEnd) {
      out.faults.push({ file, position: scan.validEnd, end: after.position, kind: 'corrupt',
        message: `${scan.fault}; valid data follows at byte ${after.position}`, offset: scan.nextOffset,
        lost: { from: scan.nextOffset, to: Math.max(after.baseOffset, scan.nextOffset) } })
      pos = after.position
      expected = after.baseOffset
      continue
    }
    const torn = scan.stop === 'torn' && isLast
    out.faults.push({ file, position: scan.validEnd, end: size, kind: torn ? 'torn-tail' : 'corrupt',
      message: `${scan.fault}; ${size - scan.validEnd} bytes after the last valid batch${isLast ? '' : ' of a sealed segment'}`, offset: scan.nextOffset })
    return out
  }
}

/** The offset after the last intact record of an inspected segment (its base when it has none). */
export function inspectedEnd(s: SegmentInspection): number {
  return s.runs.length > 0 ? s.runs[s.runs.length - 1].next : s.base
}

/** Inspects every segment of the log in `dir` (see {@link verifyLog}). */
export async function inspectLog(dir: string, fsys: FileSystem, options: VerifyOptions = {}): Promise<LogInspection> {
  if (!fsys.stat(dir)) throw new SeglogError('ERR_INVALID_ARGUMENT', `${dir} does not exist`)
  const bases = fsys.readdir(dir).map(parseSegmentName).filter((b): b is number => b !== undefined).sort((a, b) => a - b)
  const sizes = bases.map((b) => fsys.stat(segmentPath(dir, b))?.size ?? 0)
  const total = sizes.reduce((a, b) => a + b, 0)
  const gaps = readGaps(fsys, dir)
  const tag = readIdentity(fsys, dir)?.tag ?? 0
  const segments: SegmentInspection[] = []
  let done = 0
  for (let i = 0; i < bases.length; i++) {
    // Yield between segments so progress can render and Ctrl-C can stop a long check.
    await new Promise<void>((resolve) => setImmediate(resolve))
    options.signal?.throwIfAborted()
    const file = segmentPath(dir, bases[i])
    const handle = fsys.open(file, 'read')
    try {
      segments.push(inspectSegment(handle, file, sizes[i], bases[i], i === bases.length - 1, tag))
    } finally {
      handle.close()
    }
    done += sizes[i]
    options.onProgress?.(done, total)
  }
  return { segments, gaps }
}

export async function verifyLog(dir: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const started = performance.now()
  const fsys = options.fileSystem ?? nodeFileSystem
  const { segments, gaps } = await inspectLog(dir, fsys, options)
  const report: VerifyReport = {
    ok: true, segments: segments.length, batches: 0, records: 0, bytes: segments.reduce((a, s) => a + s.size, 0),
    firstOffset: segments[0]?.base ?? 0, nextOffset: segments[0]?.base ?? 0, faults: [], gaps: [], durationMs: 0,
  }
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]
    report.batches += s.batches
    report.records += s.records
    report.faults.push(...s.faults)
    const end = inspectedEnd(s)
    const next = segments[i + 1]
    if (!next) {
      report.nextOffset = end
    } else {
      const endsInDamage = s.faults.length > 0 && s.faults[s.faults.length - 1].end === s.size && s.faults[s.faults.length - 1].lost === undefined
      if (end < next.base) {
        if (gapCovers(gaps, end, next.base)) report.gaps.push({ from: end, to: next.base })
        else if (!endsInDamage) {
          report.faults.push({ file: s.file, position: s.runs.at(-1)?.end ?? 0, kind: 'gap', offset: end, lost: { from: end, to: next.base },
            message: `segment ends at offset ${end} but the next segment starts at ${next.base}, and no repair recorded the hole` })
        }
      } else if (end > next.base) {
        report.faults.push({ file: s.file, position: s.runs.at(-1)?.end ?? 0, kind: 'overlap', offset: next.base,
          message: `segment ends at offset ${end} but the next segment starts at ${next.base}` })
      }
    }
    const stored = fsys.readFile(indexPath(dir, s.base))
    if (stored !== undefined && s.faults.length === 0) {
      const decoded = SparseIndex.decode(stored, s.base, s.size)
      if (!decoded || decoded.nextOffset !== end) {
        report.faults.push({ file: indexPath(dir, s.base), position: 0, kind: 'index',
          message: 'index file is damaged or does not match its segment (it is rebuilt on use; delete it to silence this)' })
      }
    }
  }
  report.ok = report.faults.length === 0
  report.durationMs = performance.now() - started
  return report
}
