/**
 * The cursor's narrow view of a log: what it may ask ({@link CursorSource}), and that view built
 * from the log's modules: the segment set for lookup, the reader sync for truncate generations,
 * the follower for waiting.
 */
import type { SeglogError } from '../errors.js'
import type { FileSystem } from '../io/file-system.js'
import { offsetLostError, type Gap } from './gaps.js'
import type { CursorRegistry } from './cursor-registry.js'
import type { Follower } from './follower.js'
import type { LogState } from './log-state.js'
import type { PointReadHost } from './point-read.js'
import type { Segment } from './segment.js'
import type { SparseIndex } from './sparse-index.js'
import { lowestCutSince, type Truncations } from './truncations.js'

/** Bumped by the log whenever a cursor must stop trusting what it read: a truncate starts or ends, the log closes, a read-only handle reloads. */
export interface CursorWatch {
  stamp: number
}

/** What the cursor needs from the log, without reaching into its private state. */
export interface CursorSource {
  readonly fsys: FileSystem
  readonly dir: string
  readonly watch: CursorWatch
  /** Where open cursors register their descriptor, so the log's close() closes it. */
  readonly registry: CursorRegistry
  /** The truncate generation the log's in-memory state reflects (see truncations.ts). */
  generation(): number
  /** Lowest offset removed by a truncate after `generation`: Infinity when none, 0 when unknown. */
  lowestCutSince(generation: number): number
  /**
   * Work that must finish before the log's state may be read: a truncate or other exclusive
   * change in progress, or (read-only) a reload after another process truncated. Undefined: none.
   */
  settle(): Promise<void> | undefined
  /** Read-only logs: true when the files changed since `generation` (a seqlock check after each read). */
  changedSince(generation: number): boolean
  /** True once the log is closed (a follower waiting at the end then finishes cleanly). */
  isClosed(): boolean
  firstOffset(): number
  /** Offset after the last record written to the OS (readable). */
  writtenOffset(): number
  /** Offset the next append gets (includes records still in the write buffer). */
  assignedOffset(): number
  /** Writes buffered records so they become readable. */
  writeBuffered(): void
  /** Throws ERR_CLOSED / ERR_IO when the log can no longer be read. */
  checkReadable(): void
  /** True while waiting at the end makes sense (the log is open). */
  canFollow(): boolean
  /** Picks up another process's writes (read-only logs). */
  refresh(): void
  segmentFor(offset: number): { segment: Segment; index: SparseIndex }
  /** Builds `segment`'s index again from its verified batches (its entries contradicted the segment). */
  rebuildIndex(segment: Segment): void
  /** The tag every batch of this log carries (see identity.ts). */
  readonly logTag: number
  /** The recorded gap holding `offset` (a hole between two segments), if any. */
  lostAt(offset: number): Gap | undefined
  lostError(offset: number, gap: Gap): SeglogError
  waitForData(offset: number, signal: AbortSignal | undefined): Promise<void>
}

export interface CursorSourceParts extends PointReadHost {
  readonly tag: number
  readonly watch: CursorWatch
  readonly registry: CursorRegistry
  readonly state: LogState
  readonly follower: Follower
  truncations(): Truncations
}

export function makeCursorSource(p: CursorSourceParts): CursorSource {
  const set = p.segments
  return {
    fsys: p.fsys,
    dir: p.dir,
    watch: p.watch,
    registry: p.registry,
    logTag: p.tag,
    generation: () => p.truncations().generation,
    lowestCutSince: (generation) => lowestCutSince(p.truncations(), generation),
    settle: () => p.settle(),
    changedSince: (generation) => p.readers.changedSince(generation),
    isClosed: () => p.state.name === 'closed',
    firstOffset: () => p.firstOffset(),
    writtenOffset: () => p.written(),
    assignedOffset: () => p.assigned(),
    writeBuffered: () => p.flush(),
    checkReadable: () => p.state.checkReadable(),
    canFollow: () => p.state.open,
    refresh: () => p.refresh(),
    lostAt: (offset) => set.lostAt(offset, set.at(offset)),
    lostError: (offset, gap) => offsetLostError(offset, gap, p.dir),
    segmentFor: (offset) => {
      const at = set.at(offset)
      return { segment: set.segments[at], index: set.indexOf(at) }
    },
    rebuildIndex: (segment) => {
      const at = set.segments.indexOf(segment)
      if (at >= 0) set.rebuildIndexOf(at, () => p.flush())
    },
    waitForData: (offset, signal) => p.follower.wait(offset, signal),
  }
}
