/**
 * Retention: deletes the oldest sealed segments once the log holds more than `maxBytes`, or once
 * their newest record is older than `maxAgeMs` on the log's clock (the record timestamps kept in
 * each segment's index, not file times, which copies, backups and touch change). Deletion never
 * runs inside append or roll: a roll schedules it, the age timer ticks it, and either skips its
 * turn while an exclusive operation (truncate, deleteBefore, close) runs, trying again after it.
 */
import { channels } from '../diagnostics.js'
import type { FileSystem } from '../io/file-system.js'
import type { LogClock, RetentionOptions } from './options.js'
import type { SegmentSet } from './segment-set.js'

/** What retention needs of its log. */
export interface RetentionHost {
  readonly dir: string
  readonly segments: SegmentSet
  readonly clock: LogClock
  /** Undefined when a deletion may run now; else what to wait for first (or 'never': the log is not open). */
  blocked(): Promise<unknown> | 'never' | undefined
  /** Segment files were deleted: the next fsync round must sync the directory. */
  deleted(): void
  /** Whether the oldest segment may go now (a tiered log keeps what is not shipped yet). */
  mayDelete?: (segment: { base: number; end: number }) => boolean
}

export class Retention {
  private scheduled = false
  private readonly maxBytes: number | undefined
  private readonly maxAgeMs: number | undefined
  /** Set by a layer above (whole-log retention of a tiered log): segments wholly below it go. */
  private floor = 0

  constructor(private readonly host: RetentionHost, options: RetentionOptions) {
    this.maxBytes = options.maxBytes
    this.maxAgeMs = options.maxAgeMs
  }

  /** True when either limit is set. */
  get enabled(): boolean {
    return this.maxBytes !== undefined || this.maxAgeMs !== undefined || this.floor > 0
  }

  /** Offsets below `offset` have left the whole log: sealed segments wholly below it go at the next turn. */
  raiseFloor(offset: number): void {
    if (offset > this.floor) this.floor = offset
  }

  /** How often the age timer ticks: a quarter of maxAgeMs, within [10 ms, 1 min]; undefined without maxAgeMs. */
  get tickMs(): number | undefined {
    return this.maxAgeMs === undefined ? undefined : Math.min(Math.max(Math.floor(this.maxAgeMs / 4), 10), 60_000)
  }

  /** A segment was sealed: apply the limits soon, off the append path (once per turn of the event loop). */
  schedule(): void {
    if (!this.enabled || this.scheduled) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.tick()
    })
  }

  /** The timer's (or a schedule's) turn: waits out an exclusive operation, then applies the limits. */
  tick(): void {
    const blocked = this.host.blocked()
    if (blocked === 'never') return
    if (blocked) {
      void blocked.then(() => this.schedule(), () => this.schedule())
      return
    }
    try {
      this.apply()
    } catch {
      // A segment that could not be deleted stays in the log (still readable); the next turn retries.
    }
  }

  /**
   * Deletes the oldest sealed segments the limits no longer keep (never the active one); returns
   * their paths. The caller makes sure no exclusive operation runs.
   */
  apply(): string[] {
    if (!this.enabled) return []
    const set = this.host.segments
    const removed: string[] = []
    try {
      while (set.segments.length > 1 && set.segments[0] !== set.active && set.segments[1].base <= this.floor && this.mayDeleteOldest()) {
        removed.push(set.deleteOldest())
      }
      if (this.maxBytes !== undefined) {
        let total = 0
        for (const s of set.segments) total += s.size
        while (set.segments.length > 1 && set.segments[0] !== set.active && total > this.maxBytes && this.mayDeleteOldest()) {
          total -= set.segments[0].size
          removed.push(set.deleteOldest())
        }
      }
      if (this.maxAgeMs !== undefined) {
        const cutoff = this.host.clock.now() - this.maxAgeMs
        // A sealed segment's index records its newest batch timestamp (rebuilt from the batches when missing).
        while (set.segments.length > 1 && set.segments[0] !== set.active && this.mayDeleteOldest() && set.indexOf(0).maxTimestamp < cutoff) {
          removed.push(set.deleteOldest())
        }
      }
    } finally {
      if (removed.length > 0) {
        this.host.deleted()
        if (channels.retention.hasSubscribers) channels.retention.publish({ dir: this.host.dir, files: removed, reason: 'retention' })
      }
    }
    return removed
  }

  private mayDeleteOldest(): boolean {
    const set = this.host.segments
    return this.host.mayDelete?.({ base: set.segments[0].base, end: set.segments[1].base }) ?? true
  }
}

/**
 * deleteBefore(): deletes whole sealed segments whose records all lie below `offset`, then makes
 * the deletions durable. The caller holds the exclusive gate (and fails the log if this throws).
 */
export async function deleteSegmentsBefore(dir: string, fsys: FileSystem, set: SegmentSet, offset: number,
  mayDelete?: (segment: { base: number; end: number }) => boolean): Promise<void> {
  const removed: string[] = []
  while (set.segments.length > 1 && set.segments[1].base <= offset && (mayDelete?.({ base: set.segments[0].base, end: set.segments[1].base }) ?? true)) {
    removed.push(set.deleteOldest())
  }
  if (removed.length === 0) return
  await fsys.syncDir(dir)
  if (channels.retention.hasSubscribers) channels.retention.publish({ dir, files: removed, reason: 'deleteBefore' })
}
