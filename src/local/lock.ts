/**
 * One writer per log directory, across processes.
 *
 * The lock is the file `LOCK`, holding its owner as JSON: pid, process start time, host, boot id
 * and a random id that makes every acquisition's bytes unique. Every call goes through the
 * {@link FileSystem} seam, so tests can delay, fail or power-cut each step.
 *
 * Taking it: write the owner to a private temp file, fsync it, then `link()` the temp to `LOCK`.
 * link() fails with EEXIST when `LOCK` exists, so of any number of processes exactly one gets the
 * name, and the name never exists without its complete contents (DESIGN rule 17). An empty or
 * unparseable `LOCK` therefore was not written by this protocol (an older seglog, another program)
 * or is still being written where there are no hard links (below): it counts as *held*, never as
 * stale.
 *
 * Reclaiming a stale lock (owner on this host and dead: no such pid, a zombie, another process
 * start time, or another boot) is where two processes could both win: "read, judge stale, remove"
 * is three steps, and between them another process may already have removed the stale file and
 * linked its own live one, which a plain remove (or a rename aside followed by a put-back, which
 * leaves the name free for a third process meanwhile) would destroy. So a stale file is removed
 * only under a *claim*: the file `LOCK.claim.<key>`, where key is a hash of the exact bytes judged
 * stale, created with the same temp-and-link step. The argument, for any interleaving of any
 * number of processes:
 *
 *  1. Bytes identify one instance: the random id makes every lock (and claim) file's bytes
 *     unique, and a file is never rewritten; its bytes reach a name only by link() (or, without
 *     hard links, by an exclusive create and one write, during which it names no owner).
 *  2. An instance is removed from its name only by its live owner (release compares the bytes
 *     first) or by the holder of the claim for its key, after the holder has re-read the name
 *     while holding the claim and found exactly the judged bytes. A claim is also such an
 *     instance, so the same rule removes a claim whose holder died (recursively, one level per
 *     dead claimer).
 *  3. At most one process holds the claim for a key: link() grants the name to one process, and
 *     only the holder, or by rule 2 someone who proved the holder dead, removes it.
 *  4. So when the claim holder reads the judged bytes under `LOCK`, they stay there until it
 *     removes them: their owner is dead (dead stays dead) and every other remover would need the
 *     claim. It removes exactly the stale instance; a live lock is never removed. A holder that
 *     instead finds other bytes (the stale instance was already replaced) removes nothing.
 *  5. After the removal every contender goes back to step one, link(), where exactly one wins.
 *
 * Removing the claim only after the stale instance keeps rule 4 true for a slow process that
 * judged long ago: when it finally gets the claim, the instance is gone for good and it backs off.
 * A contender that finds another live process's claim fails with ERR_LOCKED: that process either
 * takes the lock or found it already taken. On a file system without hard links a name is created
 * exclusively and then filled in (see createName): a reader of the half-written file finds no
 * owner and counts it as held, so the argument above still holds.
 *
 * Liveness comes from /proc (Linux): elsewhere a lock whose pid still runs counts as held even if
 * that pid was reused, and a lock from another host always counts as held (the ERR_LOCKED message
 * says how to clear it). test/local/lock-interleavings.test.ts explores this protocol under seeded
 * schedules with kills; test/local/lock-race.test.ts races real processes.
 */
import { createHash } from 'node:crypto'
import path from 'node:path'
import { SeglogError } from '../errors.js'
import { nodeFileSystem, type EntryType, type FileHandle, type FileSystem } from '../io/file-system.js'
import { acquisitionId, currentOwner, isAlive, parseOwner, processIdentity, type LockIdentity, type LockOwner } from './lock-owner.js'
import { LOCK_FILE } from './names.js'

export type { LockIdentity, LockOwner } from './lock-owner.js'

/** Lock files larger than this were not written by seglog; they are never read whole. */
const MAX_LOCK_BYTES = 4096
/** Rounds of link-judge-reclaim before giving up under contention. */
const MAX_ROUNDS = 32
/** How many dead claimers in a row one reclaim steps over (each needs its own crash). */
const MAX_CLAIM_DEPTH = 8
const CLAIM_PREFIX = `${LOCK_FILE}.claim.`
/** link() errors that mean the file system has no hard links (FAT, exFAT, some network mounts). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'])
const TEMP_SUFFIX = '.tmp'

/** What one look at a lock or claim file found. */
type Seen =
  | { kind: 'missing' }
  | { kind: 'owner'; bytes: Buffer; owner: LockOwner }
  /** Empty, torn, oversized or foreign contents: held, owner unknown. */
  | { kind: 'unknown'; bytes: Buffer | undefined }
  | { kind: 'not-a-file'; type: EntryType }

type Owned = Extract<Seen, { kind: 'owner' }>

function errnoOf(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return typeof code === 'string' ? code : undefined
}

function ioError(what: string, file: string, err: unknown): SeglogError {
  return new SeglogError('ERR_IO', `${what} ${file}: ${(err as Error).message}; check the directory's permissions and free space, then retry`,
    { cause: err, details: { file } })
}

function look(fsys: FileSystem, file: string): Seen {
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
function removeName(fsys: FileSystem, file: string): void {
  try {
    fsys.unlink(file)
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw ioError('could not remove', file, err)
  }
}

function describeOwner(owner: LockOwner, me: LockOwner): string {
  return owner.pid === me.pid && owner.host === me.host ? 'this process (another Log.open on the same directory)' : `process ${owner.pid} on ${owner.host}`
}

/** A held directory lock. */
export class DirectoryLock {
  private released = false
  private constructor(private readonly fsys: FileSystem, private readonly file: string, private readonly content: Buffer) {}

  /** Takes the lock on `dir` or throws `ERR_LOCKED` (held) or `ERR_IO` (the lock file cannot be used). */
  static acquire(dir: string, fsys: FileSystem = nodeFileSystem, identity: LockIdentity = processIdentity()): DirectoryLock {
    return new Acquisition(dir, fsys, identity).run()
  }

  /**
   * As {@link DirectoryLock.acquire}, but the owner's temp file is fdatasynced on the thread pool
   * (0.5–1.5 ms on this kind of disk) while `meanwhile` runs on this thread. `meanwhile` runs before
   * the lock is held, so it may only look (read files to warm caches and code): until the link,
   * another writer may change anything it saw, so nothing it finds may be used. Its errors are ignored.
   */
  static acquireOverlapped(dir: string, fsys: FileSystem, meanwhile: () => void, identity: LockIdentity = processIdentity()): Promise<DirectoryLock> {
    return new Acquisition(dir, fsys, identity).runOverlapped(meanwhile)
  }

  /** @internal Used by {@link Acquisition} once `LOCK` is ours. */
  static held(fsys: FileSystem, file: string, content: Buffer): DirectoryLock {
    return new DirectoryLock(fsys, file, content)
  }

  /** Removes `LOCK` if it still holds this acquisition's bytes. Never throws. */
  release(): void {
    if (this.released) return
    this.released = true
    try {
      // Only we remove our own live lock (see the module comment), so compare-then-unlink is safe.
      if (this.fsys.readFile(this.file)?.equals(this.content)) this.fsys.unlink(this.file)
    } catch {
      // Gone already, or the file system is failing: a later open judges what is left.
    }
  }
}

/** One attempt to take the lock: owns the temp files it writes and removes them at the end. */
class Acquisition {
  private readonly me: LockOwner
  private readonly lockFile: string
  private readonly temps: string[] = []

  constructor(private readonly dir: string, private readonly fsys: FileSystem, private readonly identity: LockIdentity) {
    this.me = identity.me
    this.lockFile = path.join(dir, LOCK_FILE)
  }

  run(): DirectoryLock {
    try {
      return this.take(this.writeTemp())
    } finally {
      this.removeTemps()
    }
  }

  /** {@link run} with the temp file's fdatasync on the thread pool while `meanwhile` runs here. */
  async runOverlapped(meanwhile: () => void): Promise<DirectoryLock> {
    try {
      return this.take(await this.writeTempOverlapped(meanwhile))
    } finally {
      this.removeTemps()
    }
  }

  /** The link-judge-reclaim rounds, once `mine` (a complete, durable temp file) exists. */
  private take(mine: { file: string; bytes: Buffer }): DirectoryLock {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      if (this.createName(mine, this.lockFile)) {
        this.collectLeftovers()
        return DirectoryLock.held(this.fsys, this.lockFile, mine.bytes)
      }
      const seen = look(this.fsys, this.lockFile)
      if (seen.kind === 'missing') continue
      this.removeStale(this.lockFile, this.staleOwner(seen, this.lockFile), 0)
    }
    throw new SeglogError('ERR_LOCKED', `${this.dir}: could not take the lock after ${MAX_ROUNDS} rounds of contention with other processes; retry`,
      { details: { file: this.lockFile } })
  }

  private removeTemps(): void {
    for (const temp of this.temps) {
      try {
        this.fsys.unlink(temp)
      } catch {
        // Already gone; a leftover temp of a dead process is collected by a later acquisition.
      }
    }
  }

  /** This acquisition's next temp file name and its unique bytes (rule 1 of the module comment). */
  private tempContent(): { file: string; bytes: Buffer } {
    const id = acquisitionId()
    const file = path.join(this.dir, `${LOCK_FILE}.${this.me.pid}.${id}${TEMP_SUFFIX}`)
    return { file, bytes: Buffer.from(JSON.stringify({ ...this.me, id })) }
  }

  /**
   * As {@link writeTemp}, through a handle: its fdatasync runs on the thread pool while
   * `meanwhile` runs on this thread, and the temp is linked (by the caller) only once it is durable.
   */
  private async writeTempOverlapped(meanwhile: () => void): Promise<{ file: string; bytes: Buffer }> {
    const temp = this.tempContent()
    let handle: FileHandle
    try {
      handle = this.fsys.open(temp.file, 'create-new')
    } catch (err) {
      throw ioError('could not create the lock file', temp.file, err)
    }
    this.temps.push(temp.file)
    try {
      let synced: Promise<unknown>
      try {
        handle.write(temp.bytes, 0, temp.bytes.length, 0)
        // Settles to the error instead of rejecting: it is awaited only after `meanwhile`.
        synced = handle.datasync().then(() => undefined, (err: unknown) => err ?? new Error('fdatasync failed'))
      } catch (err) {
        throw ioError('could not create the lock file', temp.file, err)
      }
      try {
        meanwhile()
      } catch {
        // Only a look ahead, taken before the lock: what it finds is never used, nor its failures.
      }
      const failed = await synced
      if (failed !== undefined) throw ioError('could not create the lock file', temp.file, failed)
    } finally {
      handle.close()
    }
    return temp
  }

  /** A fresh, fsynced file holding this process as owner, plus a unique id: unique bytes. */
  private writeTemp(): { file: string; bytes: Buffer } {
    const temp = this.tempContent()
    this.temps.push(temp.file)
    try {
      this.fsys.writeFile(temp.file, temp.bytes, true)
    } catch (err) {
      throw ioError('could not create the lock file', temp.file, err)
    }
    return temp
  }

  /**
   * Gives `temp`'s bytes the name `to` if it is free (true), by link(). On a file system without
   * hard links, falls back to an exclusive create and a write in place: a contender that finds
   * the file empty or half-written counts it as held, so this stays safe, but a crash between the
   * two leaves a `LOCK` that must be deleted by hand (the ERR_LOCKED message says so).
   */
  private createName(temp: { file: string; bytes: Buffer }, to: string): boolean {
    try {
      this.fsys.link(temp.file, to)
      return true
    } catch (err) {
      const code = errnoOf(err)
      if (code === 'EEXIST') return false
      if (code === undefined || !NO_HARD_LINKS.has(code)) throw ioError('could not create', to, err)
    }
    let handle: FileHandle
    try {
      handle = this.fsys.open(to, 'create-new')
    } catch (err) {
      if (errnoOf(err) === 'EEXIST') return false
      throw ioError('could not create', to, err)
    }
    try {
      handle.write(temp.bytes, 0, temp.bytes.length, 0)
    } catch (err) {
      // Ours, and empty or torn: others count it as held, so it must not stay.
      removeName(this.fsys, to)
      throw ioError('could not write', to, err)
    } finally {
      handle.close()
    }
    return true
  }

  /** `seen` when it is a lock or claim whose owner is certainly gone; throws otherwise. */
  private staleOwner(seen: Exclude<Seen, { kind: 'missing' }>, file: string): Owned {
    const isClaim = file !== this.lockFile
    if (seen.kind === 'not-a-file') {
      throw new SeglogError('ERR_IO',
        `${file} is a ${seen.type}, not a lock file seglog wrote, so seglog cannot tell whether a writer uses ${this.dir}. ` +
        `If no process uses this log, remove ${file} and open again; or open with { readOnly: true } to read`,
        { details: { file, type: seen.type } })
    }
    if (seen.kind === 'unknown') {
      throw new SeglogError('ERR_LOCKED',
        `${this.dir} is locked, but ${file} does not name its owner (it is empty, torn or not written by this seglog version). ` +
        `If no process uses this log, delete ${file} and open again; or open with { readOnly: true } to read alongside a writer`,
        { details: { file } })
    }
    if (!this.identity.isAlive(seen.owner)) return seen
    const who = describeOwner(seen.owner, this.me)
    throw new SeglogError('ERR_LOCKED', isClaim
      ? `${this.dir}: ${who} is taking over a stale lock right now; retry, or open with { readOnly: true } to read`
      : `${this.dir} is locked by ${who}; close that writer first, or open with { readOnly: true } to read alongside it`,
    { details: { file, pid: seen.owner.pid, host: seen.owner.host } })
  }

  /**
   * Removes `file` if it still holds exactly `judged` (whose owner is dead), under the claim for
   * those bytes; does nothing when they were already replaced. Throws ERR_LOCKED when a live
   * process holds the claim.
   */
  private removeStale(file: string, judged: Owned, depth: number): void {
    if (depth >= MAX_CLAIM_DEPTH) {
      throw new SeglogError('ERR_LOCKED', `${this.dir}: ${depth} processes died in a row while reclaiming a stale lock; retry`, { details: { file } })
    }
    const claim = `${CLAIM_PREFIX}${createHash('sha256').update(judged.bytes).digest('hex').slice(0, 32)}`
    const claimFile = path.join(this.dir, claim)
    const mine = this.writeTemp()
    for (let round = 0; ; round++) {
      if (this.createName(mine, claimFile)) break
      if (round >= MAX_ROUNDS) throw new SeglogError('ERR_LOCKED', `${this.dir}: could not claim a stale lock under contention; retry`, { details: { file } })
      const holder = look(this.fsys, claimFile)
      if (holder.kind === 'missing') continue
      this.removeStale(claimFile, this.staleOwner(holder, claimFile), depth + 1)
    }
    try {
      const now = look(this.fsys, file)
      if (now.kind === 'owner' && now.bytes.equals(judged.bytes)) removeName(this.fsys, file)
    } finally {
      // Only after the stale file is gone (see rule 4 in the module comment).
      removeName(this.fsys, claimFile)
    }
  }

  /**
   * Once the lock is ours: removes temp files and claims that dead processes left behind (killed
   * between their writes). Best effort; a failure here does not fail the open.
   */
  private collectLeftovers(): void {
    let names: string[]
    try {
      names = this.fsys.readdir(this.dir)
    } catch {
      return
    }
    for (const name of names) {
      if (!name.startsWith(`${LOCK_FILE}.`)) continue
      const file = path.join(this.dir, name)
      if (this.temps.includes(file)) continue
      try {
        if (name.startsWith(CLAIM_PREFIX)) {
          const seen = look(this.fsys, file)
          if (seen.kind === 'owner' && !this.identity.isAlive(seen.owner)) this.removeStale(file, seen, 1)
        } else if (name.endsWith(TEMP_SUFFIX)) {
          // A temp is only ever linked by the process that wrote it, so a dead writer's temp can go.
          const seen = look(this.fsys, file)
          const pid = Number(name.split('.')[1])
          const owner = seen.kind === 'owner' ? seen.owner
            : Number.isSafeInteger(pid) && pid > 0 ? { pid, host: this.me.host, start: '', boot: '' } : undefined
          if (owner && !this.identity.isAlive(owner)) removeName(this.fsys, file)
        }
      } catch {
        // Someone else is collecting the same leftover, or it is not ours to judge.
      }
    }
  }
}

/**
 * What `Log.lockHolder` reports: the owner named in `LOCK`, or — for an empty, torn or foreign
 * `LOCK` that writers treat as held — `unknownOwner: true` with no pid or host.
 */
export type LockHolderReport =
  | { pid: number; host: string; alive: boolean; unknownOwner?: undefined }
  | { pid?: undefined; host?: undefined; alive: true; unknownOwner: true }

/** Who holds the lock on `dir` for reporting: a `LOCK` that names no owner counts as held by someone unknown. */
export function reportLockHolder(dir: string, fsys: FileSystem = nodeFileSystem): LockHolderReport | undefined {
  let seen: Seen
  try {
    seen = look(fsys, path.join(dir, LOCK_FILE))
  } catch {
    // Unreadable: a writer's acquire fails on it too, so it blocks writers like a held lock.
    return { alive: true, unknownOwner: true }
  }
  if (seen.kind === 'missing') return undefined
  if (seen.kind === 'owner') return { pid: seen.owner.pid, host: seen.owner.host, alive: isAlive(seen.owner, currentOwner()) }
  return { alive: true, unknownOwner: true }
}

/** Who holds the lock on `dir`, if anyone; undefined also when `LOCK` names no owner. */
export function lockHolder(dir: string, fsys: FileSystem = nodeFileSystem): (LockOwner & { alive: boolean }) | undefined {
  try {
    const seen = look(fsys, path.join(dir, LOCK_FILE))
    return seen.kind === 'owner' ? { ...seen.owner, alive: isAlive(seen.owner, currentOwner()) } : undefined
  } catch {
    return undefined
  }
}
