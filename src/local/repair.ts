/**
 * Repair: cut out damaged bytes and keep everything intact, at its original offsets.
 *
 * For each segment with damage, the intact runs of batches (found by resynchronising past each
 * fault, see verify.ts) are kept: the first run stays in the segment file (truncated after it),
 * every later run moves to a segment file of its own, named by its first offset. The offsets in
 * between are lost; they are recorded durably in the gaps file before any byte moves, so reads of
 * them fail with ERR_OFFSET_LOST naming the range. A torn tail at the end of the log is cut (the
 * log just ends earlier). A damaged segment is first copied aside (a foreign name, which seglog
 * never reads or deletes). Data written by a newer format version is never touched.
 *
 * Crash-safe by order: gaps first, then new segment files (written aside, fsynced, renamed), then
 * the truncation of the damaged segment, then a checkpoint over the now-valid last segment. A
 * crash part-way leaves damage that a second repair finishes the same way (it is idempotent).
 */
import path from 'node:path'
import { SeglogError } from '../errors.js'
import { nodeFileSystem, type FileSystem } from '../io/file-system.js'
import { BatchRead, BatchReader } from './batch-reader.js'
import { writeCheckpoint } from './checkpoint.js'
import { mergeGaps, writeGaps, type Gap } from './gaps.js'
import { DirectoryLock } from './lock.js'
import { CHECKPOINT_FILE, indexPath, repairTmpPath, segmentPath } from './names.js'
import { inspectLog, type SegmentInspection, type ValidRun, type VerifyFault, verifyLog } from './verify.js'

export interface RepairReport {
  /** Every fault verify found before the repair. */
  faults: VerifyFault[]
  /** True when nothing was (or, with dryRun, would be) changed. */
  clean: boolean
  dryRun: boolean
  /**
   * The torn or damaged tail cut from the end of the log, if any: the log ends at `fromOffset`
   * afterwards (records `[fromOffset, previousNextOffset)` are gone).
   */
  cut?: {
    file: string
    position: number
    fromOffset: number
    previousNextOffset: number
    droppedBytes: number
    /** Always empty: later segments are never deleted (kept for compatibility). */
    droppedSegments: string[]
    /** Copy of the damaged segment, kept beside the log (a foreign name, so seglog ignores it). */
    backup?: string
  }
  /** Offset ranges lost inside the log (intact data follows them), now recorded as gaps. */
  lost: (Gap & { file: string; position: number; bytes: number })[]
  /** Segment files created to hold intact batches that followed damage. */
  createdSegments: string[]
  /** Copies of damaged segments kept beside the log. */
  backups: string[]
  /** Every recorded gap after the repair. */
  gaps: Gap[]
  /** Damaged or stale index files deleted (they are rebuilt on use). */
  removedIndexes: string[]
}

export interface RepairOptions {
  dryRun?: boolean
  fileSystem?: FileSystem
  /** Clock for backup names (tests). */
  now?: () => number
}

export async function repairLog(dir: string, options: RepairOptions = {}): Promise<RepairReport> {
  const lock = options.dryRun ? undefined : DirectoryLock.acquire(dir, options.fileSystem ?? nodeFileSystem)
  try {
    return await repairLocked(dir, options)
  } finally {
    lock?.release()
  }
}

/** One damaged segment's plan: what stays, what moves out, what is lost. */
interface SegmentPlan {
  inspection: SegmentInspection
  keepBytes: number
  moved: ValidRun[]
  lost: Gap[]
  backup: boolean
}

/** Repair for a caller that already holds the writer lock (Log.open with `repair: true`). */
export async function repairLocked(dir: string, options: RepairOptions = {}): Promise<RepairReport> {
  const fsys = options.fileSystem ?? nodeFileSystem
  const dryRun = options.dryRun ?? false
  const now = options.now ?? Date.now
  const verified = await verifyLog(dir, { fileSystem: fsys })
  const report: RepairReport = {
    faults: verified.faults, clean: true, dryRun, lost: [], createdSegments: [], backups: [], gaps: verified.gaps, removedIndexes: [],
  }
  const newer = verified.faults.find((f) => f.kind === 'newer-version')
  if (newer) {
    throw new SeglogError('ERR_FORMAT_VERSION', `${newer.file} byte ${newer.position}: written by a newer seglog; upgrade instead of repairing (repair would drop that data)`,
      { details: { file: newer.file, position: newer.position } })
  }
  for (const f of verified.faults.filter((x) => x.kind === 'index')) {
    report.clean = false
    report.removedIndexes.push(f.file)
    if (!dryRun) fsys.unlink(f.file)
  }
  if (!verified.faults.some((f) => f.kind !== 'index')) return report
  report.clean = false

  const inspected = await inspectLog(dir, fsys)
  const segments = inspected.segments
  // Recorded gaps that no segment boundary shows any more (a later truncate removed them) are dropped.
  const gaps = inspected.gaps.filter((g) => segments.some((s) => s.base === g.to))
  const plans: SegmentPlan[] = []
  const newGaps: Gap[] = []
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]
    const nextBase = segments[i + 1]?.base
    // Runs that reach into the next segment's offsets are not this segment's data (a misdirected
    // write, or a repair interrupted after it moved them out): they are dropped with the damage.
    const runs = nextBase === undefined ? s.runs : fitRuns(fsys, s, nextBase)
    const keep = runs[0]?.start === 0 ? runs[0] : undefined
    const moved = keep ? runs.slice(1) : runs
    const lost: Gap[] = []
    let at = keep ? keep.next : s.base
    for (const r of moved) {
      if (r.first > at) lost.push({ from: at, to: r.first })
      at = r.next
    }
    const end = nextBase ?? at
    if (end > at) lost.push({ from: at, to: end })
    const changed = moved.length > 0 || (keep?.end ?? 0) !== s.size
    if (!changed && lost.length === 0) continue
    if (nextBase === undefined && changed) {
      // The last segment: what follows its last intact run is cut, not recorded (the log ends there).
      const tailFrom = at
      const previousNext = Math.max(tailFrom, ...s.faults.map((f) => f.lost?.to ?? 0))
      const lastRunEnd = (moved.at(-1) ?? keep)?.end ?? 0
      if (lastRunEnd < s.size) {
        report.cut = {
          file: s.file, position: moved.length > 0 ? lastRunEnd : (keep?.end ?? 0), fromOffset: tailFrom, previousNextOffset: previousNext,
          droppedBytes: s.size - lastRunEnd, droppedSegments: [],
        }
      }
    }
    const damaged = s.faults.some((f) => f.kind === 'corrupt')
    plans.push({ inspection: s, keepBytes: keep?.end ?? 0, moved, lost, backup: damaged })
    newGaps.push(...lost)
  }
  for (const p of plans) {
    for (const g of p.lost) {
      report.lost.push({ ...g, file: p.inspection.file, position: p.keepBytes, bytes: p.inspection.size - p.keepBytes - p.moved.reduce((n, r) => n + r.end - r.start, 0) })
    }
    for (const r of p.moved) report.createdSegments.push(segmentPath(dir, r.first))
    if (p.backup) report.backups.push(`${p.inspection.file}.damaged-${now()}`)
  }
  report.gaps = mergeGaps(gaps, newGaps)
  if (report.cut && report.backups.length > 0) {
    const backup = report.backups.find((b) => b.startsWith(`${report.cut?.file}.damaged-`))
    if (backup) report.cut.backup = backup
  }
  if (dryRun) return report

  let b = 0
  for (const p of plans) if (p.backup) await copyFile(fsys, p.inspection.file, report.backups[b++])
  // The copies are the only record of the damaged bytes: durable, names included, before any cut.
  if (b > 0) await fsys.syncDir(dir)
  // The losses are on record before any byte moves: a crash from here on leaves either the old
  // damage (repair again) or holes that the gaps file explains.
  await writeGaps(fsys, dir, report.gaps)
  for (const p of plans) {
    if (p.moved.length === 0) continue
    const source = fsys.open(p.inspection.file, 'read')
    try {
      for (const r of p.moved) {
        const bytes = Buffer.allocUnsafe(r.end - r.start)
        source.read(bytes, 0, bytes.length, r.start)
        const tmp = repairTmpPath(dir, r.first)
        fsys.writeFile(tmp, bytes, true)
        fsys.rename(tmp, segmentPath(dir, r.first))
        removeIfPresent(fsys, indexPath(dir, r.first))
      }
    } finally {
      source.close()
    }
  }
  await fsys.syncDir(dir)
  for (const p of plans) {
    if (p.keepBytes === p.inspection.size) continue
    const handle = fsys.open(p.inspection.file, 'write')
    try {
      handle.truncate(p.keepBytes)
      await handle.datasync()
    } finally {
      handle.close()
    }
    removeIfPresent(fsys, indexPath(dir, p.inspection.base))
  }
  // Every segment is valid now: a checkpoint over the whole last one saves the next open a scan
  // of every sealed segment (it would otherwise start from the old, now misleading, checkpoint).
  const after = await inspectLog(dir, fsys)
  const last = after.segments.at(-1)
  if (last && last.faults.length === 0) {
    writeCheckpoint(fsys, dir, { segmentBase: last.base, position: last.size, nextOffset: last.runs.at(-1)?.next ?? last.base, clean: false }, true)
  } else {
    removeIfPresent(fsys, path.join(dir, CHECKPOINT_FILE))
  }
  await fsys.syncDir(dir)
  return report
}

/**
 * The runs of a sealed segment that end at or before `nextBase` (the next segment's first offset),
 * a run that crosses it shortened to its last batch that does not.
 */
function fitRuns(fsys: FileSystem, s: SegmentInspection, nextBase: number): ValidRun[] {
  const out: ValidRun[] = []
  for (const r of s.runs) {
    if (r.next <= nextBase) {
      out.push(r)
      continue
    }
    if (r.first >= nextBase) continue
    const handle = fsys.open(s.file, 'read')
    try {
      // The run was verified batch by batch: its headers can be walked without checksums.
      const reader = new BatchReader(handle, { verify: false })
      reader.seek(r.start, r.first)
      let next = r.first
      let end = r.start
      while (reader.next(r.end) === BatchRead.Valid) {
        const after = reader.header.baseOffset + reader.header.count
        if (after > nextBase) break
        next = after
        end = reader.nextPosition
      }
      if (end > r.start) out.push({ start: r.start, end, first: r.first, next })
    } finally {
      handle.close()
    }
  }
  return out
}

/** Copies through the file-system seam (so simulated file systems see the backup too), in blocks, then fdatasyncs. */
async function copyFile(fsys: FileSystem, from: string, to: string): Promise<void> {
  const source = fsys.open(from, 'read')
  try {
    const target = fsys.open(to, 'create')
    try {
      const block = Buffer.allocUnsafe(1 << 20)
      for (let pos = 0; ;) {
        const n = source.read(block, 0, block.length, pos)
        if (n === 0) break
        target.write(block, 0, n, pos)
        pos += n
      }
      await target.datasync()
    } finally {
      target.close()
    }
  } finally {
    source.close()
  }
}

function removeIfPresent(fsys: FileSystem, file: string): void {
  try {
    fsys.unlink(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}
