/**
 * Offline repair: cut the log at its first damaged byte. Everything from there on is dropped
 * (and reported exactly); a damaged segment is first copied aside so nothing is destroyed that
 * a person might still want. Torn tails are cut without a copy. Data written by a newer format
 * version is never cut: that is not damage.
 */
import fs from 'node:fs'
import { SeglogError } from '../errors.js'
import { nodeFileSystem, type FileSystem } from '../io/file-system.js'
import { DirectoryLock } from './lock.js'
import { indexPath, parseSegmentName, segmentPath } from './names.js'
import { applyIntent, recordIntent } from './truncate-intent.js'
import { verifyLog, type VerifyFault } from './verify.js'

export interface RepairReport {
  /** Every fault verify found before the repair. */
  faults: VerifyFault[]
  /** True when nothing was (or, with dryRun, would be) changed. */
  clean: boolean
  dryRun: boolean
  /** The cut made (or planned). */
  cut?: {
    file: string
    position: number
    /** First offset dropped; the log ends here afterwards. */
    fromOffset: number
    /** Offset the log ended at before the repair (records [fromOffset, previousNextOffset) are gone). */
    previousNextOffset: number
    droppedBytes: number
    /** Whole segment files deleted because they came after the cut. */
    droppedSegments: string[]
    /** Copy of the damaged segment, kept beside the log (a foreign name, so seglog ignores it). */
    backup?: string
  }
  /** Damaged or stale index files deleted (they are rebuilt on use). */
  removedIndexes: string[]
}

export async function repairLog(dir: string, options: { dryRun?: boolean; fileSystem?: FileSystem } = {}): Promise<RepairReport> {
  const fsys = options.fileSystem ?? nodeFileSystem
  const dryRun = options.dryRun ?? false
  const lock = dryRun ? undefined : DirectoryLock.acquire(dir, fsys)
  try {
    const verified = await verifyLog(dir, { fileSystem: fsys })
    const report: RepairReport = { faults: verified.faults, clean: true, dryRun, removedIndexes: [] }
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
    const fault = verified.faults.find((f) => f.kind !== 'index')
    if (!fault) return report
    report.clean = false
    const base = parseSegmentName(fault.file.slice(fault.file.lastIndexOf('/') + 1)) as number
    const bases = fsys.readdir(dir).map(parseSegmentName).filter((b): b is number => b !== undefined).sort((a, b) => a - b)
    const later = bases.filter((b) => b > base)
    const size = fsys.stat(fault.file)?.size ?? 0
    // A gap or overlap means the segment itself is fine: cut after it, dropping the later ones.
    const position = fault.kind === 'gap' || fault.kind === 'overlap' ? size : fault.position
    let droppedBytes = size - position
    for (const b of later) droppedBytes += fsys.stat(segmentPath(dir, b))?.size ?? 0
    report.cut = {
      file: fault.file,
      position,
      fromOffset: fault.offset ?? base,
      previousNextOffset: verified.nextOffset,
      droppedBytes,
      droppedSegments: later.map((b) => segmentPath(dir, b)),
    }
    if (fault.kind === 'corrupt') report.cut.backup = `${fault.file}.damaged-${Date.now()}`
    if (dryRun) return report
    if (report.cut.backup) fs.copyFileSync(fault.file, report.cut.backup)
    const intent = { segmentBase: base, cutPosition: position, nextOffset: report.cut.fromOffset, replacement: Buffer.alloc(0) }
    await recordIntent(fsys, dir, intent)
    await applyIntent(fsys, dir, intent)
    try {
      fsys.unlink(indexPath(dir, base))
    } catch {
      // applyIntent already removed it.
    }
    return report
  } finally {
    lock?.release()
  }
}
