/**
 * One writer per log directory, across processes. The lock is a file created with O_EXCL holding
 * the owner's pid, process start time and host. A lock whose owner is gone (same host, pid dead or
 * reused) is reclaimed at once; reclaiming renames the stale file aside first and checks it is the
 * one it judged stale, so two processes reclaiming at the same moment cannot both win.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { SeglogError } from '../errors.js'
import { LOCK_FILE } from './names.js'

interface LockOwner {
  pid: number
  start: string
  host: string
}

/** Process start time from /proc (Linux); distinguishes a reused pid from the original owner. */
function processStart(pid: number): string {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 22 (starttime); fields after the ')' of the command name are space-separated.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[19] ?? ''
  } catch {
    return ''
  }
}

function isAlive(owner: LockOwner): boolean {
  if (owner.host !== os.hostname()) return true // cannot tell: treat as held
  try {
    process.kill(owner.pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false
  }
  const start = processStart(owner.pid)
  return start === '' || owner.start === '' || start === owner.start
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockOwner>
    if (typeof v.pid === 'number' && typeof v.host === 'string') return { pid: v.pid, start: String(v.start ?? ''), host: v.host }
  } catch {
    // An empty or torn lock file (crash while writing it) is stale by definition.
  }
  return undefined
}

/** Who holds the lock on `dir`, if anyone (for `seglog info`). */
export function lockHolder(dir: string): (LockOwner & { alive: boolean }) | undefined {
  try {
    const owner = parseOwner(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8'))
    return owner && { ...owner, alive: isAlive(owner) }
  } catch {
    return undefined
  }
}

/** A held directory lock. */
export class DirectoryLock {
  private released = false
  private constructor(private readonly file: string, private readonly content: string) {}

  /** Takes the lock or throws `ERR_LOCKED`. */
  static acquire(dir: string): DirectoryLock {
    const file = path.join(dir, LOCK_FILE)
    const me: LockOwner = { pid: process.pid, start: processStart(process.pid), host: os.hostname() }
    const content = JSON.stringify(me)
    for (let attempt = 0; attempt < 8; attempt++) {
      try {
        const fd = fs.openSync(file, 'wx', 0o644)
        try {
          fs.writeSync(fd, content)
        } finally {
          fs.closeSync(fd)
        }
        return new DirectoryLock(file, content)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      }
      let text: string
      try {
        text = fs.readFileSync(file, 'utf8')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
        throw err
      }
      const owner = parseOwner(text)
      if (owner && isAlive(owner)) {
        const who = owner.pid === process.pid && owner.host === me.host ? 'this process (another Log.open on the same directory)' : `process ${owner.pid} on ${owner.host}`
        throw new SeglogError('ERR_LOCKED',
          `${dir} is locked by ${who}; close that writer first, or open with { readOnly: true } to read alongside it`,
          { details: { file, pid: owner.pid, host: owner.host } })
      }
      const aside = `${file}.stale.${process.pid}.${attempt}`
      try {
        fs.renameSync(file, aside)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
        throw err
      }
      const moved = fs.readFileSync(aside, 'utf8')
      if (moved !== text) {
        // We moved a fresh lock someone else just took: put it back if the name is still free.
        try {
          fs.linkSync(aside, file)
        } catch {
          // Someone took the name meanwhile; their lock stands and ours will fail on the next round.
        }
      }
      fs.unlinkSync(aside)
    }
    throw new SeglogError('ERR_LOCKED', `${dir}: could not take the lock after repeated contention; retry`, { details: { file } })
  }

  /** Releases the lock if this process still owns it. */
  release(): void {
    if (this.released) return
    this.released = true
    try {
      if (fs.readFileSync(this.file, 'utf8') === this.content) fs.unlinkSync(this.file)
    } catch {
      // Already gone: nothing to release.
    }
  }
}
