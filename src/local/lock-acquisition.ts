// One attempt to take a directory's write lock: the temp-and-link rounds, reclaiming a stale lock
// under a claim, and collecting what dead processes left behind. lock.ts states the protocol and
// the argument for why exactly one process wins; the rule numbers below refer to it.
import { createHash } from 'node:crypto'
import path from 'node:path'
import { SeglogError } from '../errors.js'
import type { FileHandle, FileSystem } from '../io/file-system.js'
import { acquisitionId, type LockIdentity, type LockOwner } from './lock-owner.js'
import { errnoOf, ioError, look, removeName, type Owned, type Seen } from './lock-files.js'
import { LOCK_FILE } from './names.js'

/** Rounds of link-judge-reclaim before giving up under contention. */
const MAX_ROUNDS = 32
/** How many dead claimers in a row one reclaim steps over (each needs its own crash). */
const MAX_CLAIM_DEPTH = 8
const CLAIM_PREFIX = `${LOCK_FILE}.claim.`
/** link() errors that mean the file system has no hard links (FAT, exFAT, some network mounts). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'])
const TEMP_SUFFIX = '.tmp'

/** `LOCK` once it is ours: its path and the bytes that are this acquisition's alone. */
export interface HeldLock {
  file: string
  bytes: Buffer
}

function describeOwner(owner: LockOwner, me: LockOwner): string {
  return owner.pid === me.pid && owner.host === me.host ? 'this process (another Log.open on the same directory)' : `process ${owner.pid} on ${owner.host}`
}

/** One attempt to take the lock: owns the temp files it writes and removes them at the end. */
export class Acquisition {
  private readonly me: LockOwner
  private readonly lockFile: string
  private readonly temps: string[] = []

  constructor(private readonly dir: string, private readonly fsys: FileSystem, private readonly identity: LockIdentity) {
    this.me = identity.me
    this.lockFile = path.join(dir, LOCK_FILE)
  }

  run(): HeldLock {
    try {
      return this.take(this.writeTemp())
    } finally {
      this.removeTemps()
    }
  }

  /** {@link run} with the temp file's fdatasync on the thread pool while `meanwhile` runs here. */
  async runOverlapped(meanwhile: () => void): Promise<HeldLock> {
    try {
      return this.take(await this.writeTempOverlapped(meanwhile))
    } finally {
      this.removeTemps()
    }
  }

  /** The link-judge-reclaim rounds, once `mine` (a complete, durable temp file) exists. */
  private take(mine: { file: string; bytes: Buffer }): HeldLock {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      if (this.createName(mine, this.lockFile)) {
        this.collectLeftovers()
        return { file: this.lockFile, bytes: mine.bytes }
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
