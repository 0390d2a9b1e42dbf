/**
 * The group committer: the acknowledgement queue of appends waiting for durability, the fsync
 * rounds (one at a time; every file written since the last round, plus the directory when it
 * changed), the durable offset, sync() waiters, the recovery checkpoint (written inside a round,
 * asynchronously, over data that round made durable) and the propagation of a failed fsync.
 */
import { channels } from '../diagnostics.js'
import type { SeglogError } from '../errors.js'
import type { FileHandle, FileSystem } from '../io/file-system.js'
import { invariantViolated } from '../invariant.js'
import { writeCheckpointAsync } from './checkpoint.js'
import { closeQuietly } from './segment-set.js'

/** Write a (non-durable-critical) checkpoint after this much durable progress. */
export const CHECKPOINT_EVERY_BYTES = 8 << 20

/** Settled ack slots at the front of the queue before it is compacted while acks are still pending. */
export const COMPACT_ACKS_AFTER = 4096

type Resolve = (value: never) => void
type Reject = (reason: unknown) => void

interface SyncWaiter {
  until: number
  resolve: () => void
  reject: Reject
}

/** What the committer needs of the log it commits. */
export interface CommitHost {
  readonly fsys: FileSystem
  readonly dir: string
  /** sync 'always': every round includes the active segment, and acks wait for it. */
  readonly syncAlways: boolean
  /** The active segment's writer; undefined once the log stopped writing. */
  writer(): FileHandle | undefined
  /** The active segment: its base offset and bytes written to the OS. */
  active(): { readonly base: number; readonly size: number }
  /** True once the log failed or closed: a finished round then changes nothing. */
  stopped(): boolean
  /** A round failed: the log fails (and calls {@link GroupCommitter.failAll}). */
  fail(cause: unknown): void
}

export class GroupCommitter {
  /** Offset after the last record written to the OS. */
  written: number
  /** Every record below this offset is on stable storage. */
  durable: number
  /**
   * Acknowledgements waiting for an fsync (sync: 'always' only), oldest first, as one queue of
   * slots `[ackHead, ackTail)` reused from the start once it empties: no object per append or per
   * round. `ackWritten` splits it: slots before it were written out, up to the offsets in
   * `roundUntil`; the rest are still in the append buffer.
   */
  private readonly ackResolves: (Resolve | undefined)[] = []
  private readonly ackRejects: (Reject | undefined)[] = []
  private readonly ackValues: unknown[] = []
  private ackHead = 0
  private ackTail = 0
  private ackWritten = 0
  /** Per write-out with acks: the offset it wrote up to and the ack slot it ended at, flat pairs from `roundHead`. */
  private readonly roundUntil: number[] = []
  private roundHead = 0
  private readonly waiters: SyncWaiter[] = []
  private syncing = false
  private syncAgain = false
  private activeSyncWanted = false
  private idle: (() => void)[] = []
  /** Sealed segments' writers, written but not yet fsynced (closed once they are). */
  private unsynced: FileHandle[] = []
  private dirDirty = false
  private checkpointBase = -1
  private checkpointPos = 0

  constructor(private readonly host: CommitHost, end: number) {
    this.written = this.durable = end
  }

  /**
   * The promise an append returns for `value`: under 'always' it resolves once the fsync covering
   * the record is done (the record must be in the buffer, below the next {@link wroteTo}).
   */
  ack<T>(value: T): Promise<T> {
    if (!this.host.syncAlways) return Promise.resolve(value)
    return new Promise<T>((resolve, reject) => {
      const i = this.ackTail++
      this.ackResolves[i] = resolve as Resolve
      this.ackRejects[i] = reject
      this.ackValues[i] = value
    })
  }

  /** The buffer reached the OS up to offset `until`: the acks queued so far wait for the fsync covering it. */
  wroteTo(until: number): void {
    if (until < this.written) throw invariantViolated('the written offset only grows', { written: this.written, until })
    this.written = until
    if (this.ackTail > this.ackWritten) {
      this.roundUntil.push(until, this.ackTail)
      this.ackWritten = this.ackTail
    }
    if (this.host.syncAlways) this.requestSync()
  }

  /** A sealed segment's writer: fsynced (then closed) by the next round. */
  addUnsynced(handle: FileHandle): void {
    this.unsynced.push(handle)
  }

  /** Entries were created or deleted: the next round fsyncs the directory. */
  markDirDirty(): void {
    this.dirDirty = true
  }

  /** The checkpoint on disk names `base` at `position` (or nothing, with base -1). */
  checkpointAt(base: number, position: number): void {
    this.checkpointBase = base
    this.checkpointPos = position
  }

  /** The log's end moved by a truncate (durable by then): written and durable are `end`. */
  resetTo(end: number): void {
    this.written = this.durable = end
  }

  /** Closes the sealed writers not yet fsynced (a truncate or close discards them). */
  dropUnsynced(): void {
    for (const h of this.unsynced.splice(0)) closeQuietly(h)
  }

  /**
   * Asks for an fsync round. `active` false (a roll under 'never' or an interval) syncs only the
   * sealed segments and the directory: fsyncing the file being appended to would make those
   * appends wait on it for nothing.
   */
  requestSync(active = true): void {
    if (active) this.activeSyncWanted = true
    if (this.syncing) {
      this.syncAgain = true
      return
    }
    this.runRound()
  }

  /** Resolves once every record below `until` is durable (asking for a round if needed). */
  waitDurable(until: number): Promise<void> {
    if (until <= this.durable) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ until, resolve, reject })
      this.requestSync()
    })
  }

  /** Resolves when no round (nor its checkpoint) is running. */
  settled(): Promise<void> {
    if (!this.syncing) return Promise.resolve()
    return new Promise((resolve) => this.idle.push(resolve))
  }

  /** The log failed: every pending acknowledgement and waiter rejects with `error`. */
  failAll(error: SeglogError): void {
    const { ackResolves, ackRejects, ackValues } = this
    for (let i = this.ackHead; i < this.ackTail; i++) {
      const reject = ackRejects[i] as Reject
      ackResolves[i] = ackRejects[i] = ackValues[i] = undefined
      reject(error)
    }
    this.ackHead = this.ackWritten = this.ackTail
    this.compactAcks()
    for (const w of this.waiters.splice(0)) w.reject(error)
  }

  /** One round: every file written since the last round, plus the directory if it changed; then the checkpoint if due. */
  private runRound(): void {
    const writer = this.host.writer()
    if (!writer) return
    this.syncing = true
    this.syncAgain = false
    const includeActive = this.activeSyncWanted || this.host.syncAlways
    this.activeSyncWanted = false
    const active = this.host.active()
    const base = active.base
    const target = includeActive ? this.written : base
    const position = includeActive ? active.size : 0
    const handles = this.unsynced
    this.unsynced = []
    const syncDir = this.dirDirty
    this.dirDirty = false
    // Timed only for a subscriber: a clock read per round is measurable at high round rates.
    const started = channels.fsync.hasSubscribers ? performance.now() : 0
    const ops: Promise<void>[] = handles.length === 0 ? [] : handles.map((h) => h.datasync())
    if (includeActive) ops.push(writer.datasync())
    if (syncDir) ops.push(this.host.fsys.syncDir(this.host.dir))
    Promise.all(ops).then(async () => {
      for (const h of handles) closeQuietly(h)
      if (this.host.stopped()) return
      if (target > this.durable) this.durable = target
      if (this.durable > this.written) throw invariantViolated('durable never passes written', { durable: this.durable, written: this.written })
      if (channels.fsync.hasSubscribers) {
        channels.fsync.publish({ dir: this.host.dir, durableOffset: this.durable, durationMs: performance.now() - started, files: ops.length })
      }
      this.resolveDurable()
      await this.checkpointIfDue(base, position, target)
    }, (err: unknown) => {
      for (const h of handles) closeQuietly(h)
      throw err
    }).then(() => {
      this.syncing = false
      if (this.host.stopped()) return this.settleIdle()
      const behind = this.written > this.durable && (this.ackWritten > this.ackHead || this.waiters.length > 0)
      if (this.syncAgain || behind || this.unsynced.length > 0) this.runRound()
      else this.settleIdle()
    }, (err: unknown) => {
      this.syncing = false
      this.host.fail(err)
      this.settleIdle()
    })
  }

  /**
   * Once every ack is settled, the queue starts again from slot 0 (its arrays keep their
   * capacity). Under steady load it never empties — records arrive during every fsync — so once
   * the settled slots are most of it, the live ones move to the front: the queue stays as long as
   * what is pending, not as long as everything appended since the log last went idle.
   */
  private compactAcks(): void {
    const head = this.ackHead
    if (head === this.ackTail) {
      if (this.ackWritten !== this.ackTail) throw invariantViolated('only written acks settle', { head, written: this.ackWritten, tail: this.ackTail })
      this.ackHead = this.ackTail = this.ackWritten = 0
      this.roundUntil.length = 0
      this.roundHead = 0
      return
    }
    if (head < COMPACT_ACKS_AFTER || head * 2 < this.ackTail) return
    const live = this.ackTail - head
    for (const slots of [this.ackResolves, this.ackRejects, this.ackValues] as unknown[][]) {
      slots.copyWithin(0, head, this.ackTail)
      slots.length = live
    }
    this.ackTail = live
    this.ackWritten -= head
    this.ackHead = 0
    const rounds = this.roundUntil
    rounds.splice(0, this.roundHead)
    for (let i = 1; i < rounds.length; i += 2) rounds[i] -= head
    this.roundHead = 0
  }

  private settleIdle(): void {
    if (this.syncing) return
    const idle = this.idle
    this.idle = []
    for (const fn of idle) fn()
  }

  private resolveDurable(): void {
    const durable = this.durable
    const rounds = this.roundUntil
    let r = this.roundHead
    let end = this.ackHead
    while (r < rounds.length && rounds[r] <= durable) {
      end = rounds[r + 1]
      r += 2
    }
    this.roundHead = r
    const resolves = this.ackResolves
    const values = this.ackValues
    for (let i = this.ackHead; i < end; i++) {
      const resolve = resolves[i] as (v: unknown) => void
      const value = values[i]
      // Cleared so that a long-lived queue holds no caller's promise or value.
      resolves[i] = undefined
      this.ackRejects[i] = undefined
      values[i] = undefined
      resolve(value)
    }
    this.ackHead = end
    this.compactAcks()
    for (let i = 0; i < this.waiters.length;) {
      if (this.waiters[i].until <= durable) this.waiters.splice(i, 1)[0].resolve()
      else i++
    }
  }

  /**
   * A checkpoint is a hint for recovery, written only over data this round made durable, once per
   * segment and every {@link CHECKPOINT_EVERY_BYTES}. Its file is fsynced before the rename (a
   * power cut leaves the old checkpoint or the new one, never an empty one: rule 4), asynchronously.
   */
  private async checkpointIfDue(base: number, position: number, nextOffset: number): Promise<void> {
    if (base === this.checkpointBase && position - this.checkpointPos < CHECKPOINT_EVERY_BYTES) return
    try {
      await writeCheckpointAsync(this.host.fsys, this.host.dir, { segmentBase: base, position, nextOffset, clean: false })
      this.checkpointBase = base
      this.checkpointPos = position
    } catch {
      // Only a hint: without it recovery scans more of the last segment.
    }
  }

  /** Close with nothing written since a clean open: only a directory change (retention deleted a segment) is made durable. */
  async closeUnchanged(): Promise<void> {
    await this.settled()
    if (this.host.stopped() || !this.dirDirty) return
    this.dirDirty = false
    await this.host.fsys.syncDir(this.host.dir)
  }

  /**
   * The clean close: waits for the running round, fsyncs every written file, and resolves every
   * acknowledgement. The caller has written the buffer out and then writes the clean checkpoint.
   */
  async flushForClose(): Promise<void> {
    await this.settled()
    if (this.host.stopped()) return
    const writer = this.host.writer()
    const handles = this.unsynced.splice(0)
    await Promise.all([...handles.map(async (h) => { await h.datasync(); h.close() }), writer?.datasync()])
    this.durable = this.written
    this.resolveDurable()
  }
}
