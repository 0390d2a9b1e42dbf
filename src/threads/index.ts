/**
 * Worker-thread appends through shared memory: {@link LogWriter} in the workers, {@link RingDrainer}
 * on the log's thread. See docs/threads.md.
 */
export { LogWriter } from './writer.js'
export {
  RingDrainer,
  type DrainSink,
  type RingDrainerOptions,
  type SkipEvent,
  type SkipReason,
  type DrainBatchEvent,
  type RingDrainerStats,
} from './drainer.js'
export type { WorkerHandle } from './layout.js'
// The composition root (src/log.ts) attaches a ring to a Log through this.
export { createWorkerBridge, type LogLimits, type WorkerBridge } from './bridge.js'
