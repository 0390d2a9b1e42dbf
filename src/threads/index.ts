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
// Side effect: lets Log.workerHandle() create a ring (the local log does not import threads/).
export { createWorkerBridge, type LogLimits } from './bridge.js'
