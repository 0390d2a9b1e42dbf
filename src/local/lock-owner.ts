/**
 * Who takes a lock, and whether the owner named in a lock file still runs: the owner fields a
 * lock file holds (pid, process start time, host, boot id; see lock.ts for the protocol), read
 * from /proc where there is one.
 */
import fs from 'node:fs'
import os from 'node:os'

/** Who holds a lock (the JSON in `LOCK`). */
export interface LockOwner {
  pid: number
  /** Process start time (clock ticks since boot, from /proc), '' where unknown. */
  start: string
  host: string
  /** Kernel boot id, '' where unknown: a lock from an earlier boot is stale whatever its pid. */
  boot: string
}

function procStat(pid: number): { start: string; state: string } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // After the ')' that ends the command name: field 3 (state) first, field 22 (starttime) 20th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { state: fields[0] ?? '', start: fields[19] ?? '' }
  } catch {
    return undefined
  }
}

/**
 * The host name as os.hostname() gives it (the UTS node name), read from /proc on Linux: loading
 * node:os for this one call cost about 0.15 ms of a first open in a fresh process.
 */
function hostName(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/hostname', 'utf8').trim()
  } catch {
    return os.hostname()
  }
}

function bootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
  } catch {
    return ''
  }
}

/**
 * Who is taking the lock, and whether another owner still runs. Tests stand in for processes
 * (threads with made-up pids that they "kill") through this; everything else uses the process's own.
 * @internal
 */
export interface LockIdentity {
  me: LockOwner
  isAlive(owner: LockOwner): boolean
}

export function processIdentity(): LockIdentity {
  const me = currentOwner()
  return { me, isAlive: (owner) => isAlive(owner, me) }
}

/** This process, as it writes itself into lock files. */
export function currentOwner(): LockOwner {
  return { pid: process.pid, start: procStat(process.pid)?.start ?? '', host: hostName(), boot: bootId() }
}

/**
 * False only when the owner is certainly gone: same host, and another boot, or no such pid, or a
 * zombie (it can do nothing more), or a different process start time (the pid was reused).
 */
export function isAlive(owner: LockOwner, me: LockOwner): boolean {
  if (owner.host !== me.host) return true
  if (owner.boot !== '' && me.boot !== '' && owner.boot !== me.boot) return false
  try {
    process.kill(owner.pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false
  }
  const stat = procStat(owner.pid)
  if (!stat) return true
  if (stat.state === 'Z' || stat.state === 'X') return false
  return owner.start === '' || stat.start === '' || stat.start === owner.start
}

export function parseOwner(bytes: Buffer): LockOwner | undefined {
  try {
    const v = JSON.parse(bytes.toString('utf8')) as Partial<Record<keyof LockOwner, unknown>>
    // A pid of 0 or below would make kill() signal a process group: such a file is not ours.
    if (typeof v.pid !== 'number' || !Number.isSafeInteger(v.pid) || v.pid <= 0 || typeof v.host !== 'string') return undefined
    return { pid: v.pid, host: v.host, start: typeof v.start === 'string' ? v.start : '', boot: typeof v.boot === 'string' ? v.boot : '' }
  } catch {
    return undefined
  }
}

let acquisitions = 0

/**
 * Makes each lock and claim file's bytes unique (rule 1 of the module comment). The owner fields
 * (pid, process start, host, boot) already tell processes apart; a counter tells apart this
 * process's own acquisitions, and the clock and Math.random cover a pid reused where /proc gives
 * no start time. Not crypto's randomBytes: loading node:crypto cost about 4 ms of every open.
 */
export function acquisitionId(): string {
  acquisitions++
  return `${acquisitions.toString(36)}-${Date.now().toString(36)}-${Math.floor(Math.random() * 2 ** 52).toString(36)}`
}
