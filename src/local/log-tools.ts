/**
 * The tools that work on a log directory without opening it: verify, repair, and who holds the
 * write lock. Plain functions; `Log.verify`, `Log.repair` and `Log.lockHolder` are aliases.
 */
import { reportLockHolder, type LockHolderReport } from './lock.js'
import { repairLog as repairDirectory, type RepairOptions, type RepairReport } from './repair.js'
import { verifyLog as verifyDirectory, type VerifyOptions, type VerifyReport } from './verify.js'

/** Checks every batch and index of the log in `dir` without opening it for writing. */
export function verifyLog(dir: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  return verifyDirectory(dir, options)
}

/**
 * Repairs the log in `dir` (not open for writing anywhere): cuts out damaged bytes, keeps every
 * intact batch at its offset, records lost ranges as gaps (see {@link Log.gaps}) and cuts a torn
 * tail; a damaged segment is copied aside first. Reports exactly what was lost. `dryRun` only
 * reports.
 */
export function repairLog(dir: string, options: RepairOptions = {}): Promise<RepairReport> {
  return repairDirectory(dir, options)
}

/**
 * Who holds the write lock on `dir` (pid, host, whether that process is alive), if anyone. A
 * `LOCK` file that names no owner (empty, torn, or written by something else) blocks writers, so
 * it is reported as held with `unknownOwner: true` and no pid or host; see docs/local-log.md for
 * how to clear it.
 */
export function lockHolder(dir: string): LockHolderReport | undefined {
  return reportLockHolder(dir)
}
