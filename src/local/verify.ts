/**
 * Offline check of a whole log: every batch's checksum and structure, offsets contiguous across
 * segments, and every index file. Reports each fault with file, byte and kind; changes nothing.
 */
import { SeglogError } from '../errors.js'
import { nodeFileSystem, type FileSystem } from '../io/file-system.js'
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
   * - `corrupt`: damaged data with valid data after it (open() fails; repair truncates there);
   * - `newer-version`: written by a newer seglog;
   * - `gap` / `overlap`: a segment's records do not meet the next segment's base offset;
   * - `index`: an index file that is damaged or stale (derived data, rebuilt on use).
   */
  kind: 'torn-tail' | 'corrupt' | 'newer-version' | 'gap' | 'overlap' | 'index'
  message: string
  /** First offset that cannot be read because of this fault (data faults only). */
  offset?: number
}

export interface VerifyReport {
  /** True when there is no fault at all (index faults included). */
  ok: boolean
  segments: number
  batches: number
  records: number
  bytes: number
  firstOffset: number
  nextOffset: number
  faults: VerifyFault[]
  durationMs: number
}

export interface VerifyOptions {
  fileSystem?: FileSystem
  /** Called after each segment with the bytes checked so far and the total. */
  onProgress?: (doneBytes: number, totalBytes: number) => void
  /** Stops the check between segments; the promise then rejects with the signal's reason. */
  signal?: AbortSignal
}

export async function verifyLog(dir: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  const started = performance.now()
  const fsys = options.fileSystem ?? nodeFileSystem
  if (!fsys.stat(dir)) throw new SeglogError('ERR_INVALID_ARGUMENT', `${dir} does not exist`)
  const bases = fsys.readdir(dir).map(parseSegmentName).filter((b): b is number => b !== undefined).sort((a, b) => a - b)
  const sizes = bases.map((b) => fsys.stat(segmentPath(dir, b))?.size ?? 0)
  const total = sizes.reduce((a, b) => a + b, 0)
  const report: VerifyReport = {
    ok: true, segments: bases.length, batches: 0, records: 0, bytes: total,
    firstOffset: bases[0] ?? 0, nextOffset: bases[0] ?? 0, faults: [], durationMs: 0,
  }
  let done = 0
  for (let i = 0; i < bases.length; i++) {
    // Yield between segments so progress can render and Ctrl-C can stop a long check.
    await new Promise<void>((resolve) => setImmediate(resolve))
    options.signal?.throwIfAborted()
    const base = bases[i]
    const file = segmentPath(dir, base)
    const size = sizes[i]
    const handle = fsys.open(file, 'read')
    const index = new SparseIndex(base)
    let scan
    try {
      scan = scanSegment(handle, size, 0, base, { index })
    } finally {
      handle.close()
    }
    report.batches += scan.batches
    report.records += scan.records
    const isLast = i === bases.length - 1
    if (scan.stop === 'newer-version') {
      report.faults.push({ file, position: scan.validEnd, kind: 'newer-version', message: scan.fault ?? '', offset: scan.nextOffset })
    } else if (scan.stop === 'corrupt') {
      report.faults.push({ file, position: scan.validEnd, kind: 'corrupt',
        message: `${scan.fault}; valid data follows at byte ${scan.validAfter?.position}`, offset: scan.nextOffset })
    } else if (scan.stop === 'torn') {
      report.faults.push({ file, position: scan.validEnd, kind: isLast ? 'torn-tail' : 'corrupt',
        message: `${scan.fault}; ${size - scan.validEnd} bytes after the last valid batch${isLast ? '' : ' of a sealed segment'}`, offset: scan.nextOffset })
    }
    if (!isLast) {
      const nextBase = bases[i + 1]
      if (scan.stop === 'end' && scan.nextOffset !== nextBase) {
        report.faults.push({ file, position: scan.validEnd, kind: scan.nextOffset < nextBase ? 'gap' : 'overlap',
          message: `segment ends at offset ${scan.nextOffset} but the next segment starts at ${nextBase}`, offset: scan.nextOffset })
      }
    } else {
      // Valid batches after damage in the last segment still belong to the log (and a repair
      // drops them): the log ends after the last of them.
      report.nextOffset = scan.stop === 'corrupt' && scan.validAfter ? endAfterDamage(fsys, file, size, scan.validAfter) : scan.nextOffset
    }
    const stored = fsys.readFile(indexPath(dir, base))
    if (stored !== undefined && scan.stop === 'end') {
      const decoded = SparseIndex.decode(stored, base, size)
      if (!decoded || decoded.nextOffset !== scan.nextOffset) {
        report.faults.push({ file: indexPath(dir, base), position: 0, kind: 'index',
          message: 'index file is damaged or does not match its segment (it is rebuilt on use; delete it to silence this)' })
      }
    }
    done += size
    options.onProgress?.(done, total)
  }
  report.ok = report.faults.length === 0
  report.durationMs = performance.now() - started
  return report
}

/** Offset after the last valid batch that follows damage in a segment (skipping further damage). */
function endAfterDamage(fsys: FileSystem, file: string, size: number, after: { position: number; baseOffset: number }): number {
  const handle = fsys.open(file, 'read')
  try {
    let at = after
    let end = after.baseOffset
    for (;;) {
      const scan = scanSegment(handle, size, at.position, at.baseOffset)
      end = Math.max(end, scan.nextOffset)
      if (scan.stop !== 'corrupt' || !scan.validAfter || scan.validAfter.position <= at.position) return end
      at = scan.validAfter
    }
  } finally {
    handle.close()
  }
}
