/**
 * The worker ring as an attachment of one log: a {@link RingDrainer} whose sink is the log's own
 * `appendBatch` (checksummed batch format, group commit). The composition root (src/log.ts)
 * creates it for `Log.workerHandle()`; the log closes it first on close and fails it with its
 * error. The ring knows the log only as a {@link DrainSink}.
 */
import type { SeglogError } from '../errors.js'
import { RingDrainer, type DrainSink, type RingDrainerOptions } from './drainer.js'
import { FRAME_HEADER_BYTES, type WorkerHandle } from './layout.js'

/** The log's limits the ring must respect (records over them would fail a whole batch). */
export interface LogLimits {
  maxRecordBytes?: number
  maxBatchBytes?: number
}

/** One log's ring, as the log sees it. */
export interface WorkerBridge {
  /** The structured-cloneable handle for `LogWriter.connect()` in a worker. */
  handle(): WorkerHandle
  /** Stops the ring; with an error, producers' pending and later appends fail with it. */
  close(err?: SeglogError): Promise<void>
}

/** Builds the drainer options for a log: the ring's record limit never exceeds the log's. */
export function drainerOptionsFor(limits: LogLimits = {}, ringBytes = 1 << 20): RingDrainerOptions {
  const ringLimit = ringBytes / 4 - FRAME_HEADER_BYTES
  const options: RingDrainerOptions = { ringBytes }
  if (limits.maxRecordBytes !== undefined) options.maxRecordBytes = Math.min(limits.maxRecordBytes, ringLimit)
  if (limits.maxBatchBytes !== undefined) options.maxBatchBytes = Math.min(limits.maxBatchBytes, 4 << 20)
  return options
}

/** Creates the ring for one log (`sink`). `limits` are the log's `maxRecordBytes` / `maxBatchBytes`. */
export function createWorkerBridge(sink: DrainSink, limits?: LogLimits): WorkerBridge {
  const drainer = new RingDrainer(sink, drainerOptionsFor(limits))
  return {
    handle: () => drainer.handle(),
    // `err`: the log failed; waiting workers get its code at once instead of ERR_CLOSED.
    close: (err?: SeglogError) => drainer.close(err),
  }
}
