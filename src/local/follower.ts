/**
 * The follower: iterators with `follow` that reached the end wait here for new records. In the
 * writing process an append wakes them; a read-only log learns of another process's appends from
 * one directory watch per log (behind the FileSystem seam, opened on the first wait, closed with
 * the log), with a poll as the fallback (events can be coalesced or unsupported).
 */
import type { DirectoryWatch, FileSystem } from '../io/file-system.js'

/** What the follower needs of its log. */
export interface FollowHost {
  readonly fsys: FileSystem
  readonly dir: string
  readonly readOnly: boolean
  readonly pollMs: number
  /** Offset after the last readable record. */
  written(): number
  isOpen(): boolean
  /** Read-only: true when the writer truncated since this handle last loaded the directory. */
  truncated(): boolean
  /** Read-only: picks up the writer's appends (may throw; the waiting cursor then surfaces it). */
  refresh(): void
}

export class Follower {
  private waiters: (() => void)[] = []
  /** Read-only waits to re-check on each change event. */
  private readonly checks = new Set<() => void>()
  private watch: DirectoryWatch | undefined
  private watching = false

  constructor(private readonly host: FollowHost) {}

  /** Resolves once a record at `offset` may be readable, the log closes, or `signal` aborts. */
  wait(offset: number, signal: AbortSignal | undefined): Promise<void> {
    if (offset < this.host.written() || !this.host.isOpen()) return Promise.resolve()
    if (this.host.readOnly) return this.waitForOtherProcess(offset, signal)
    return new Promise<void>((resolve) => {
      const onAbort = (): void => resolve()
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(() => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      })
    })
  }

  /** Wakes every waiter (new records written, the log failed or closed). */
  wake(): void {
    if (this.waiters.length === 0) return
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }

  /** The log closes: wakes every waiter and stops watching. */
  close(): void {
    this.wake()
    this.watch?.close()
    this.watch = undefined
  }

  private waitForOtherProcess(offset: number, signal: AbortSignal | undefined): Promise<void> {
    const host = this.host
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined
      let settled = false
      const done = (): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        this.checks.delete(check)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      const check = (): void => {
        if (settled) return
        clearTimeout(timer)
        try {
          if (host.truncated()) return done() // the cursor reloads and re-checks its position
          host.refresh()
        } catch {
          return done() // the cursor re-runs refresh and surfaces the error
        }
        if (host.written() > offset || !host.isOpen()) return done()
        timer = setTimeout(check, host.pollMs)
      }
      signal?.addEventListener('abort', done, { once: true })
      this.waiters.push(done)
      this.checks.add(check)
      this.startWatching()
      timer = setTimeout(check, host.pollMs)
    })
  }

  private startWatching(): void {
    if (this.watching) return
    this.watching = true
    this.watch = this.host.fsys.watch?.(this.host.dir, () => {
      for (const check of [...this.checks]) check()
    })
  }
}
