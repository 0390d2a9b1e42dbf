/**
 * What `Log.open` does before the first append: find the segments, finish an interrupted
 * truncation, and check only the tail written since the last checkpoint. Its cost depends on the
 * size of that tail, not on the size of the log.
 */
import path from 'node:path'
import type { FileSystem } from '../io/file-system.js'
import { readCheckpoint, type Checkpoint } from './checkpoint.js'
import { CHECKPOINT_TMP_FILE, GAPS_FILE, GAPS_TMP_FILE, IDENTITY_TMP_FILE, indexPath, parseIndexName, parseSegmentName, segmentPath, TRUNCATE_INTENT_FILE } from './names.js'
import { scanSegment, type ScanResult } from './scan.js'
import { corruptError, newerVersionError } from './batch-errors.js'
import { Segment } from './segment.js'
import { SparseIndex } from './sparse-index.js'
import { applyIntent, readIntent } from './truncate-intent.js'
import { gapCovers, readGaps, writeGaps, type Gap } from './gaps.js'
import type { RepairReport } from './repair.js'
import { createIdentity, readIdentity, type LogIdentity } from './identity.js'

/** What open() found and fixed; available as `log.recovery`. */
export interface RecoveryReport {
  /** The last close was clean and nothing was written after it: nothing needed checking. */
  clean: boolean
  /** Segment and byte position the tail check started from. */
  scannedFrom: { segment: string; position: number }
  /** Bytes checked (the tail since the last checkpoint). */
  scannedBytes: number
  /** An interrupted truncate() was completed. */
  replayedTruncate: boolean
  /**
   * Bytes cut from the end of the last segment: a torn write (`'torn'`), or, with
   * `repair: true`, damaged data and everything after it (`'corrupt'`).
   */
  truncated?: {
    file: string
    position: number
    bytes: number
    reason: 'torn' | 'corrupt'
    detail: string
    /** First offset that is gone: every record from here on was dropped. */
    fromOffset: number
  }
  /** What `repair: true` changed before recovery ran (absent when it found nothing to repair). */
  repaired?: RepairReport
  /** Leftover files of ours removed (temporary checkpoint, index files without a segment). */
  removedFiles: string[]
  /** How long recovery took. */
  durationMs: number
}

export interface RecoveredLog {
  segments: Segment[]
  /** The log's identity; undefined for a log created by format 1 (tag 0 in every batch). */
  identity: LogIdentity | undefined
  /** Holes a repair recorded, that the segments still show (see gaps.ts). */
  gaps: Gap[]
  nextOffset: number
  activeIndex: SparseIndex
  report: RecoveryReport
  /**
   * A writable open's listing of the directory, taken under the lock after recovery's own
   * changes: files it does not name need not be opened to find them missing. Undefined read-only.
   */
  names?: readonly string[]
  /**
   * The active segment's index is its file's, unchanged, and the clean checkpoint names that
   * segment's end: a close with nothing written since has nothing to rewrite (log-core.ts).
   */
  indexOnDisk?: boolean
}

export interface RecoveryOptions {
  readOnly: boolean
  repair: boolean
  indexIntervalBytes: number
  /** Base of the first segment of a new log (see ResolvedOptions.initialOffset). */
  initialOffset?: number
}

/**
 * Recovery's first reads (the listing, checkpoint, identity, the last segment's size), made and
 * thrown away: run before the lock is held (while its file is fdatasynced), when another writer
 * may still change any of it, so nothing read here is used. What it buys is the code of these
 * steps compiled and the files in the page cache when {@link recover} makes them again under the
 * lock. Never throws.
 */
export function lookAhead(fsys: FileSystem, dir: string): void {
  try {
    let last: number | undefined
    for (const name of fsys.readdir(dir)) {
      const base = parseSegmentName(name) ?? parseIndexName(name)
      if (base !== undefined && (last === undefined || base > last)) last = base
    }
    readCheckpoint(fsys, dir)
    readIdentity(fsys, dir)
    if (last !== undefined) fsys.stat(segmentPath(dir, last))
  } catch {
    // A look only: recover() meets the same failure under the lock and reports it.
  }
}

/**
 * Milliseconds on a monotonic clock, for the report's duration. Not `performance.now()`: in a
 * process that has not used it yet, its first call loads perf_hooks (about 1 ms, 11 modules).
 */
function monotonicMs(): number {
  const [s, ns] = process.hrtime()
  return s * 1e3 + ns / 1e6
}

export async function recover(fsys: FileSystem, dir: string, options: RecoveryOptions): Promise<RecoveredLog> {
  const started = monotonicMs()
  const writable = !options.readOnly
  const report: RecoveryReport = {
    clean: false, scannedFrom: { segment: '', position: 0 }, scannedBytes: 0, replayedTruncate: false, removedFiles: [], durationMs: 0,
  }

  // The listing first: files it does not name are not opened to find them missing (a writer holds
  // the lock, so nothing else adds them; a read-only open looks for them directly, as a writer may).
  let names = fsys.readdir(dir)
  const listed = (name: string): boolean => !writable || names.includes(name)
  const { intent, present } = listed(TRUNCATE_INTENT_FILE) ? readIntent(fsys, dir) : { intent: undefined, present: false }
  if (writable && present) {
    if (intent) {
      await applyIntent(fsys, dir, intent)
      report.replayedTruncate = true
    } else {
      // Torn while being recorded: nothing was changed yet, so the truncate never happened.
      fsys.unlink(path.join(dir, TRUNCATE_INTENT_FILE))
      report.removedFiles.push(TRUNCATE_INTENT_FILE)
    }
    names = fsys.readdir(dir)
  }

  const bases: number[] = []
  const indexBases: number[] = []
  for (const name of names) {
    const base = parseSegmentName(name)
    if (base !== undefined) bases.push(base)
    const ib = parseIndexName(name)
    if (ib !== undefined) indexBases.push(ib)
  }
  bases.sort((a, b) => a - b)
  if (writable) {
    const known = new Set(bases)
    for (const ib of indexBases) {
      if (!known.has(ib)) {
        const orphan = indexPath(dir, ib)
        fsys.unlink(orphan)
        report.removedFiles.push(path.basename(orphan))
      }
    }
    for (const tmp of [CHECKPOINT_TMP_FILE, GAPS_TMP_FILE, IDENTITY_TMP_FILE]) {
      if (names.includes(tmp)) {
        fsys.unlink(path.join(dir, tmp))
        report.removedFiles.push(tmp)
      }
    }
  }

  const checkpoint = readCheckpoint(fsys, dir)
  let identity = readIdentity(fsys, dir)
  if (bases.length === 0) {
    const base = checkpoint?.nextOffset ?? options.initialOffset ?? 0
    if (writable) {
      // A new log gets its identity before its first segment exists, so no segment lacks one.
      identity ??= createIdentity(fsys, dir)
      fsys.open(segmentPath(dir, base), 'create').close()
      await fsys.syncDir(dir)
    }
    const segment = new Segment(dir, base, 0, identity?.tag ?? 0)
    segment.index = new SparseIndex(base)
    report.clean = true
    report.scannedFrom = { segment: segment.path, position: 0 }
    report.durationMs = monotonicMs() - started
    return { segments: writable ? [segment] : [], identity, gaps: [], nextOffset: base, activeIndex: segment.index, report, names: writable ? names : undefined }
  }

  const last = bases.length - 1
  const segments = bases.map((base, i) => {
    const segment = new Segment(dir, base, 0, identity?.tag ?? 0)
    // A writer reads a sealed segment's size when something first needs it (a read, retention,
    // stats): open stays flat in the number of segments. A reader's view is taken now, as a
    // writer elsewhere may truncate the files under it.
    if (writable && i < last) segment.sizeFromFile(fsys)
    else segment.size = fsys.stat(segment.path)?.size ?? 0
    return segment
  })
  // A recorded gap ends where a segment begins (repair moved the data after it there); one that
  // no longer does was overtaken by a later truncate and is dropped.
  const recorded = listed(GAPS_FILE) ? readGaps(fsys, dir) : []
  const gaps = recorded.filter((g) => bases.includes(g.to) && bases[0] <= g.from)
  try {
    const recovered = await recoverSegments(fsys, segments, gaps, checkpoint, options, report, started)
    recovered.identity = identity
    if (writable) recovered.names = names
    // Recovery may have removed the segment a gap ended at (an unfinished roll) or cut the log below
    // it (a torn tail): such a gap no longer describes a hole, and once appends reach its range
    // again it would hide records that exist. Keep only gaps that end at a remaining segment at or
    // below the log's end, and drop the others from the file (with those dropped above) before
    // anything is appended.
    const finalBases = recovered.segments.map((s) => s.base)
    const kept = recovered.gaps.filter((g) => finalBases.includes(g.to) && g.to <= recovered.nextOffset)
    if (kept.length !== recorded.length) {
      recovered.gaps = kept
      if (writable) await writeGaps(fsys, dir, kept)
    }
    return recovered
  } catch (err) {
    // A failed open must not keep a descriptor of any segment it looked at.
    for (const s of segments) s.closeHandle()
    throw err
  }
}

async function recoverSegments(fsys: FileSystem, segments: Segment[], gaps: Gap[], checkpoint: Checkpoint | undefined, options: RecoveryOptions,
  report: RecoveryReport, started: number): Promise<RecoveredLog> {
  const dir = segments[0].dir
  const writable = !options.readOnly
  await checkSealedSinceCheckpoint(fsys, dir, segments, gaps, checkpoint, options, report)
  const last = segments[segments.length - 1]
  const fileSize = last.size

  let start = 0
  let expected = last.base
  let index: SparseIndex | undefined
  let fromFile: SparseIndex | undefined
  if (checkpoint && checkpoint.segmentBase === last.base && checkpoint.position <= fileSize && checkpoint.nextOffset >= last.base) {
    start = checkpoint.position
    expected = checkpoint.nextOffset
    // Lazily: entries are checked when a lookup first lands among them (see SparseIndex.decode). A
    // writer holds the lock, so it also reads them only then (a read-only handle cannot: the writer
    // may rewrite the file meanwhile).
    index = writable
      ? SparseIndex.decodeDeferred(fsys, last.indexPath, last.base, start)
      : SparseIndex.decode(fsys.readFile(last.indexPath), last.base, start, last.indexPath)
    if (index && index.nextOffset !== expected) index = undefined
    fromFile = index
    if (!index && start > 0) {
      // The prefix is known good (it was fsynced before the checkpoint named it): index it without re-checking.
      index = new SparseIndex(last.base)
      const pre = scanSegment(last.handle(fsys), start, 0, last.base, { index, indexIntervalBytes: options.indexIntervalBytes, verify: false, tag: last.logTag })
      if (pre.stop !== 'end' || pre.nextOffset !== expected) {
        index = undefined
        start = 0
        expected = last.base
      } else {
        // The index file held the newest timestamp; without it age retention would judge the
        // segment, once sealed, by the records appended after this open alone (or as empty).
        index.maxTimestamp = pre.maxTimestamp
      }
    }
  }
  if (!index) {
    index = new SparseIndex(last.base)
    start = 0
    expected = last.base
  }

  report.scannedFrom = { segment: last.path, position: start }
  report.scannedBytes = fileSize - start
  // Nothing written after the checkpoint (a clean close): nothing to check, no descriptor to open.
  const scan: ScanResult = start === fileSize
    ? { stop: 'end', validEnd: start, nextOffset: expected, maxTimestamp: 0, batches: 0, records: 0 }
    : scanSegment(last.handle(fsys), fileSize, start, expected, { index, indexIntervalBytes: options.indexIntervalBytes, tag: last.logTag })
  if (scan.stop === 'newer-version') {
    throw newerVersionError(last.path, scan.validEnd, scan.version ?? 0)
  }
  if (scan.stop === 'corrupt' && !options.repair) {
    last.closeHandle()
    throw corruptError(last.path, scan.validEnd, scan.fault ?? 'damaged batch',
      scan.validAfter ? `valid data follows at byte ${scan.validAfter.position}, so this is not a torn write` : 'this is not a torn write')
  }
  if (scan.stop === 'torn' || scan.stop === 'corrupt') {
    report.truncated = {
      file: last.path,
      position: scan.validEnd,
      bytes: fileSize - scan.validEnd,
      reason: scan.stop,
      detail: scan.fault ?? '',
      fromOffset: scan.nextOffset,
    }
    if (writable) {
      last.closeHandle()
      const handle = fsys.open(last.path, 'write')
      try {
        handle.truncate(scan.validEnd)
        await handle.datasync()
      } finally {
        handle.close()
      }
    }
  }
  last.size = scan.validEnd
  index.coveredBytes = scan.validEnd
  index.nextOffset = scan.nextOffset
  if (scan.maxTimestamp > index.maxTimestamp) index.maxTimestamp = scan.maxTimestamp
  last.index = index
  report.clean = start === fileSize && checkpoint?.clean === true
  report.durationMs = monotonicMs() - started
  const indexOnDisk = report.clean && index === fromFile
  return { segments, identity: undefined, gaps, nextOffset: scan.nextOffset, activeIndex: index, report, indexOnDisk }
}

/**
 * Rule 4 across segments: whatever was written since the checkpoint may be unfinished, and that
 * includes whole segments sealed after it. A roll creates the next segment before the sealed one's
 * tail is fsynced (the same group-commit round makes both durable), so a power cut can keep the
 * new segment's name and lose the sealed tail, leaving a hole in the offsets. So every sealed
 * segment after the checkpoint's must end exactly where its successor begins. At a broken junction
 * nothing after it was acknowledged (acknowledgements wait for the round that fsyncs the sealed
 * segment): when no later segment holds a valid batch they are removed, newest first, and the short
 * segment becomes the tail to recover; otherwise it is corruption (ERR_CORRUPT; `repair` removes
 * them). After a clean close, or once a round completed after the last roll, the checkpoint names
 * the last segment and this reads nothing.
 */
async function checkSealedSinceCheckpoint(fsys: FileSystem, dir: string, segments: Segment[], gaps: Gap[], checkpoint: Checkpoint | undefined,
  options: RecoveryOptions, report: RecoveryReport): Promise<void> {
  if (segments.length < 2) return
  let from = 0
  let start = 0
  let expected = segments[0].base
  const k = checkpoint ? segments.findIndex((s) => s.base === checkpoint.segmentBase) : -1
  if (checkpoint && k === segments.length - 1) return
  if (checkpoint && k >= 0 && checkpoint.position <= segments[k].size && checkpoint.nextOffset >= segments[k].base) {
    from = k
    start = checkpoint.position
    expected = checkpoint.nextOffset
  }
  for (let i = from; i < segments.length - 1; i++) {
    const segment = segments[i]
    const next = segments[i + 1]
    const scan = scanSegment(segment.handle(fsys), segment.size, i === from ? start : 0, i === from ? expected : segment.base, { tag: segment.logTag })
    segment.closeHandle()
    if (scan.stop === 'newer-version') return // reported when that segment is read
    if (scan.stop === 'end' && (scan.nextOffset === next.base || (scan.nextOffset < next.base && gapCovers(gaps, scan.nextOffset, next.base)))) continue
    const later = segments.slice(i + 1)
    const holdsData = later.some((s) => {
      if (s.size === 0) return false
      const found = scanSegment(s.handle(fsys), s.size, 0, s.base, { tag: s.logTag })
      s.closeHandle()
      return found.validEnd > 0 || found.stop === 'corrupt'
    })
    if (holdsData && !options.repair) {
      const what = scan.stop === 'end' ? `segment ends at offset ${scan.nextOffset} but the next segment starts at ${next.base}` : scan.fault ?? 'damaged batch'
      throw corruptError(segment.path, scan.validEnd, what, 'later segments hold valid data, so this is not an unfinished segment roll')
    }
    for (const s of later.reverse()) {
      if (!options.readOnly) {
        fsys.unlink(s.path)
        if (fsys.stat(s.indexPath)) fsys.unlink(s.indexPath)
      }
      report.removedFiles.push(path.basename(s.path))
    }
    if (!options.readOnly) await fsys.syncDir(dir)
    segments.length = i + 1
    return
  }
}
