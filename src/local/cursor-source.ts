/**
 * The cursor's narrow view of a log ({@link CursorSource}), built from the log's modules: the
 * segment set for lookup, the reader sync for truncate generations, the follower for waiting.
 */
import { offsetLostError } from './gaps.js'
import type { CursorRegistry } from './cursor-registry.js'
import type { CursorSource, CursorWatch } from './cursor.js'
import type { Follower } from './follower.js'
import type { LogState } from './log-state.js'
import type { PointReadHost } from './point-read.js'
import { lowestCutSince, type Truncations } from './truncations.js'

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
