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
 * exclusively and then filled in (see createName in lock-acquisition.ts): a reader of the
 * half-written file finds no owner and counts it as held, so the argument above still holds.
 *
 * Liveness comes from /proc (Linux): elsewhere a lock whose pid still runs counts as held even if
 * that pid was reused, and a lock from another host always counts as held (the ERR_LOCKED message
 * says how to clear it). test/local/lock-interleavings.test.ts explores this protocol under seeded
 * schedules with kills; test/local/lock-race.test.ts races real processes.
 *
 * This module holds the lock once taken and reports its holder; lock-acquisition.ts takes it, and
 * lock-files.ts reads and removes the files.
 */
import path from 'node:path'
import { nodeFileSystem, type FileSystem } from '../io/file-system.js'
import { Acquisition } from './lock-acquisition.js'
import { look, type Seen } from './lock-files.js'
import { currentOwner, isAlive, processIdentity, type LockIdentity, type LockOwner } from './lock-owner.js'
import { LOCK_FILE } from './names.js'

export type { LockIdentity, LockOwner } from './lock-owner.js'

/** A held directory lock. */
export class DirectoryLock {
  private released = false
  private constructor(private readonly fsys: FileSystem, private readonly file: string, private readonly content: Buffer) {}

  /** Takes the lock on `dir` or throws `ERR_LOCKED` (held) or `ERR_IO` (the lock file cannot be used). */
  static acquire(dir: string, fsys: FileSystem = nodeFileSystem, identity: LockIdentity = processIdentity()): DirectoryLock {
    const held = new Acquisition(dir, fsys, identity).run()
    return new DirectoryLock(fsys, held.file, held.bytes)
  }

  /**
   * As {@link DirectoryLock.acquire}, but the owner's temp file is fdatasynced on the thread pool
   * (0.5–1.5 ms on this kind of disk) while `meanwhile` runs on this thread. `meanwhile` runs before
   * the lock is held, so it may only look (read files to warm caches and code): until the link,
   * another writer may change anything it saw, so nothing it finds may be used. Its errors are ignored.
   */
  static acquireOverlapped(dir: string, fsys: FileSystem, meanwhile: () => void, identity: LockIdentity = processIdentity()): Promise<DirectoryLock> {
    return new Acquisition(dir, fsys, identity).runOverlapped(meanwhile).then((held) => new DirectoryLock(fsys, held.file, held.bytes))
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
