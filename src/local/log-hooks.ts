/**
 * What a layer above (tiered storage) may do with an open log ({@link LogHooks}), built from the
 * log's modules: see its sealed segments, roll the active one through the exclusive gate, wait
 * for durability, move retention, fail the log, and install where offsets below it are read from.
 */
import type { LogCore } from './log-core.js'
import type { LogHooks } from './log-types.js'

export function logHooks(core: LogCore): LogHooks {
  return {
    sealedSegments: () => {
      const segs = core.segs.segments
      const out: ReturnType<LogHooks['sealedSegments']> = []
      for (let i = 0; i + 1 < segs.length; i++) out.push({ base: segs[i].base, end: core.segs.expectedEnd(i) ?? segs[i + 1].base, path: segs[i].path, bytes: segs[i].size })
      return out
    },
    rollActive: () => core.gate.run(async () => {
      if (!core.state.open || !core.segs.writer) throw core.state.unusable()
      return core.rollNow()
    }),
    waitDurable: (offset) => core.committer.waitDurable(offset),
    scheduleRetention: () => core.retention.schedule(),
    retainFrom: (offset) => {
      core.retention.raiseFloor(offset)
      core.retention.schedule()
    },
    activeBytes: () => core.segs.active.size + core.buffer.used,
    fail: (error) => core.fail(error),
    setReadBelow: (below) => {
      core.below = below
    },
    localFirstOffset: () => core.firstOffset,
    clock: core.options.clock,
    fileSystem: core.fsys,
  }
}
