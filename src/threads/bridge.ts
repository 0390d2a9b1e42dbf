/**
 * Plugs the worker ring into the local log: `Log.workerHandle()` lazily creates one
 * {@link RingDrainer} whose sink is the log's own `appendBatch` (checksummed batch format, group
 * commit), and `Log.close()` closes it first. Importing this module registers the bridge.
 */
import type { SeglogError } from '../errors.js'
import { registerWorkerBridge, type Log, type WorkerBridge } from '../local/log.js'
import { RingDrainer, type RingDrainerOptions } from './drainer.js'
import { FRAME_HEADER_BYTES } from './layout.js'

/** The log's limits the ring must respect (records over them would fail a whole batch). */
export interface LogLimits {
  maxRecordBytes?: number
  maxBatchBytes?: number
}

/** Builds the drainer options for a log: the ring's record limit never exceeds the log's. */
export function drainerOptionsFor(limits: LogLimits = {}, ringBytes = 1 << 20): RingDrainerOptions {
  const ringLimit = ringBytes / 4 - FRAME_HEADER_BYTES
  const options: RingDrainerOptions = { ringBytes }
  if (limits.maxRecordBytes !== undefined) options.maxRecordBytes = Math.min(limits.maxRecordBytes, ringLimit)
  if (limits.maxBatchBytes !== undefined) options.maxBatchBytes = Math.min(limits.maxBatchBytes, 4 << 20)
  return options
}

/** Creates the bridge for one log. `limits` are the log's `maxRecordBytes` / `maxBatchBytes`. */
export function createWorkerBridge(log: Log, limits?: LogLimits): WorkerBridge {
  const drainer = new RingDrainer(log, drainerOptionsFor(limits))
  return {
    handle: () => drainer.handle(),
    // `err`: the log failed; waiting workers get its code at once instead of ERR_CLOSED.
    close: (err?: SeglogError) => drainer.close(err),
  }
}

registerWorkerBridge(createWorkerBridge)
