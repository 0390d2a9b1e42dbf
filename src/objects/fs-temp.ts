// Names FsStore's temporary files after the process that writes them, and decides whether a
// leftover one may be removed: only when its writer is provably gone, or, when that cannot be
// known (another host, an older name format), when it is older than a bound on the store's clock.
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import fsp from 'node:fs/promises'
import { hostname } from 'node:os'
import * as path from 'node:path'

const NAME = /^([0-9a-f]{12})-(\d+)-(\d+)-[0-9a-f]{16}\.tmp$/

let ownHost: string | undefined
function hostTag(): string {
  ownHost ??= createHash('sha256').update(hostname()).digest('hex').slice(0, 12)
  return ownHost
}

/**
 * The start time of process `pid` in clock ticks since boot (field 22 of `/proc/<pid>/stat`), or
 * `undefined` where there is no procfs. Together with the pid it names one process, even after
 * the pid is reused.
 */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const start = fields[19]
    return start !== undefined && /^\d+$/.test(start) ? start : undefined
  } catch {
    return undefined
  }
}

let ownStart: string | undefined
function ownStartTag(): string {
  ownStart ??= processStart(process.pid) ?? '0'
  return ownStart
}

/** A fresh temporary file name that says which host and process writes it. */
export function tempName(): string {
  return `${hostTag()}-${process.pid}-${ownStartTag()}-${randomBytes(8).toString('hex')}.tmp`
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH'
  }
}

/**
 * Whether the temp file `name` (last modified at `mtimeMs`) is a leftover that nothing will
 * finish: its writer on this host has exited (or its pid now names a later process), or, for a
 * name whose writer cannot be checked, it is older than `staleMs` by `nowMs`.
 */
export function isAbandoned(name: string, mtimeMs: number, nowMs: number, staleMs: number): boolean {
  const m = NAME.exec(name)
  if (m === null || m[1] !== hostTag()) return nowMs - mtimeMs > staleMs
  const pid = Number(m[2])
  if (pid === process.pid) return m[3] !== ownStartTag()
  if (!Number.isSafeInteger(pid) || pid <= 0) return nowMs - mtimeMs > staleMs
  if (!alive(pid)) return true
  const start = m[3] === '0' ? undefined : processStart(pid)
  return start !== undefined && start !== m[3]
}

/**
 * Removes the abandoned temp files in `dir` (see {@link isAbandoned}); returns how many. A file
 * that vanishes meanwhile (its writer published it) is skipped.
 */
export async function sweepTempDir(dir: string, nowMs: number, staleMs: number): Promise<number> {
  let names: string[]
  try {
    names = await fsp.readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw err
  }
  let removed = 0
  for (const name of names) {
    const file = path.join(dir, name)
    try {
      const st = await fsp.lstat(file)
      if (!st.isFile() || !isAbandoned(name, st.mtimeMs, nowMs, staleMs)) continue
      await fsp.unlink(file)
      removed++
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
  return removed
}
