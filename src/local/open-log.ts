/**
 * Opening a log directory: the checks before recovery (a read-only open needs an existing
 * directory; a path through a file is the caller's mistake), the lock, repair, recovery.
 */
import { SeglogError } from '../errors.js'
import type { FileStat, FileSystem } from '../io/file-system.js'
import { DirectoryLock } from './lock.js'
import type { ResolvedOptions } from './options.js'
import { lookAhead, recover, type RecoveredLog } from './recovery.js'
import { repairLocked } from './repair.js'

/**
 * Takes the directory (creating it and its lock when writable). The caller releases the lock if
 * what follows fails. While the lock's owner file is fdatasynced, recovery's first reads run once
 * as a look ahead (see {@link lookAhead}): in a fresh process most of an open is code running for
 * the first time, and this way that happens while the disk works rather than after it.
 */
export async function claimDirectory(dir: string, options: ResolvedOptions): Promise<DirectoryLock | undefined> {
  const fsys = options.fileSystem
  if (options.readOnly) {
    const stat = statLogDirectory(fsys, dir)
    if (!stat) {
      throw new SeglogError('ERR_NOT_FOUND', `${dir} does not exist yet; a read-only open needs an existing log. ` +
        'If a writer is about to create it, retry later; otherwise open it once without readOnly to create it', { details: { file: dir } })
    }
    if (fsys.lstat(dir)?.type === 'file') throw notADirectory(dir)
    return undefined
  }
  makeLogDirectory(fsys, dir)
  return DirectoryLock.acquireOverlapped(dir, fsys, () => lookAhead(fsys, dir))
}

/** Repair first when asked (on the whole log: cut out damaged bytes anywhere, keep every intact batch), then recovery. */
export async function recoverDirectory(dir: string, options: ResolvedOptions): Promise<RecoveredLog> {
  const fsys = options.fileSystem
  const repaired = options.repair ? await repairLocked(dir, { fileSystem: fsys }) : undefined
  const recovered = await recover(fsys, dir, options)
  if (repaired && !repaired.clean) recovered.report.repaired = repaired
  return recovered
}

function notADirectory(dir: string): SeglogError {
  return new SeglogError('ERR_INVALID_ARGUMENT', `${dir} exists but is not a directory; a log is a directory. ` +
    'Pass the path of a directory (an existing log, or a new path to create one); the file was not changed', { details: { file: dir } })
}

/** The directory's metadata, or undefined when it does not exist; a path through a file is the caller's mistake. */
function statLogDirectory(fsys: FileSystem, dir: string): FileStat | undefined {
  try {
    return fsys.stat(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException | undefined)?.code === 'ENOTDIR') throw notADirectory(dir)
    throw new SeglogError('ERR_IO', `could not look at the log directory ${dir}: ${(err as Error).message}; check the path's permissions, then retry`,
      { cause: err, details: { file: dir } })
  }
}

/** Creates the log's directory; a path that is (or runs through) a file is the caller's mistake, not an I/O failure. */
function makeLogDirectory(fsys: FileSystem, dir: string): void {
  try {
    fsys.mkdir(dir)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | undefined)?.code
    if (code === 'EEXIST' || code === 'ENOTDIR') throw notADirectory(dir)
    throw new SeglogError('ERR_IO', `could not create the log directory ${dir}: ${(err as Error).message}; check the path's permissions and free space, then retry`,
      { cause: err, details: { file: dir } })
  }
}
