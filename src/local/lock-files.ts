// Reading and removing the lock's files (`LOCK`, its claims and temps) through the FileSystem
// seam, and the errors those steps raise. The protocol that uses them is described in lock.ts.
import { SeglogError } from '../errors.js'
import type { EntryType, FileSystem } from '../io/file-system.js'
import { parseOwner, type LockOwner } from './lock-owner.js'

/** Lock files larger than this were not written by seglog; they are never read whole. */
const MAX_LOCK_BYTES = 4096

/** What one look at a lock or claim file found. */
export type Seen =
  | { kind: 'missing' }
  | { kind: 'owner'; bytes: Buffer; owner: LockOwner }
  /** Empty, torn, oversized or foreign contents: held, owner unknown. */
  | { kind: 'unknown'; bytes: Buffer | undefined }
  | { kind: 'not-a-file'; type: EntryType }

export type Owned = Extract<Seen, { kind: 'owner' }>

export function errnoOf(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return typeof code === 'string' ? code : undefined
}

export function ioError(what: string, file: string, err: unknown): SeglogError {
  return new SeglogError('ERR_IO', `${what} ${file}: ${(err as Error).message}; check the directory's permissions and free space, then retry`,
    { cause: err, details: { file } })
}

export function look(fsys: FileSystem, file: string): Seen {
  let bytes: Buffer | undefined
  try {
    const stat = fsys.lstat(file)
    if (!stat) return { kind: 'missing' }
    if (stat.type !== 'file') return { kind: 'not-a-file', type: stat.type }
    if (stat.size > MAX_LOCK_BYTES) return { kind: 'unknown', bytes: undefined }
    bytes = fsys.readFile(file)
  } catch (err) {
    throw ioError('could not read the lock file', file, err)
  }
  if (!bytes) return { kind: 'missing' }
  const owner = parseOwner(bytes)
  return owner ? { kind: 'owner', bytes, owner } : { kind: 'unknown', bytes }
}

/** Ignores a missing file; anything else is an ERR_IO. */
export function removeName(fsys: FileSystem, file: string): void {
  try {
    fsys.unlink(file)
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw ioError('could not remove', file, err)
  }
}
