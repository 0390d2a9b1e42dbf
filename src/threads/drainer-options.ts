/**
 * The options of {@link RingDrainer}, their defaults and limits, checked once at construction.
 */
import { invalidArgument } from '../errors.js'
import { FRAME_HEADER_BYTES, MAX_RING_BYTES, MIN_RING_BYTES, geometry, powerOfTwo, type RingGeometry } from './layout.js'
import type { Clock } from './reaper.js'

/** Options of {@link RingDrainer}. */
export interface RingDrainerOptions {
  /** Ring size in bytes, a power of two from 4 KiB to 1 GiB; default 1 MiB. */
  ringBytes?: number
  /** Largest record payload accepted from workers; default and maximum `ringBytes / 4 - 16`. */
  maxRecordBytes?: number
  /** Most producers (LogWriter connections) over the ring's life; default 64. */
  maxProducers?: number
  /** Outstanding (not yet durable) appends per producer, a power of two; default 1024. */
  producerWindow?: number
  /** How long a reserved but unpublished frame may block the ring before it is skipped; default 1000 ms. */
  deadProducerTimeoutMs?: number
  /**
   * Batches handed to the sink and not yet durable at once; default 4. More than one lets records
   * that arrive during an fsync join the log's next group commit instead of waiting for this one.
   */
  maxInflightBatches?: number
  /** Most records handed to one `appendBatch`; default 8192. */
  maxBatchRecords?: number
  /**
   * Most bytes in one `appendBatch` as the log frames it (40-byte batch header, 4 bytes per record
   * plus its payload); at least one record always goes. Default 4 MiB; pass the log's `maxBatchBytes` or less.
   */
  maxBatchBytes?: number
  /**
   * Monotonic milliseconds that measure the dead-producer timeout; default `performance.now`.
   * Tests pass a fake clock to move time instead of waiting for it.
   */
  clock?: Clock
}

/** The options with defaults applied and every limit checked. */
export interface DrainerSettings {
  geometry: RingGeometry
  maxRecordBytes: number
  deadProducerTimeoutMs: number
  maxInflightBatches: number
  maxBatchRecords: number
  maxBatchBytes: number
  clock: Clock
}

/** Checks `options` (throws ERR_INVALID_ARGUMENT naming the option) and fills in defaults. */
export function drainerSettings(options: RingDrainerOptions): DrainerSettings {
  const capacity = powerOfTwo('ringBytes', options.ringBytes ?? 1 << 20, MIN_RING_BYTES, MAX_RING_BYTES)
  const window = powerOfTwo('producerWindow', options.producerWindow ?? 1024, 1, 1 << 16)
  const maxProducers = intOption('maxProducers', options.maxProducers, 64, 1, 4096)
  const recordCap = capacity / 4 - FRAME_HEADER_BYTES
  const clock = options.clock ?? (() => performance.now())
  if (typeof clock !== 'function') throw invalidArgument(`clock must be a function returning milliseconds; got ${typeof clock}`)
  return {
    geometry: geometry(capacity, maxProducers, window),
    maxRecordBytes: intOption('maxRecordBytes', options.maxRecordBytes, recordCap, 0, recordCap),
    deadProducerTimeoutMs: intOption('deadProducerTimeoutMs', options.deadProducerTimeoutMs, 1000, 1, 3_600_000),
    maxBatchRecords: intOption('maxBatchRecords', options.maxBatchRecords, 8192, 1, 1 << 20),
    maxInflightBatches: intOption('maxInflightBatches', options.maxInflightBatches, 4, 1, 64),
    maxBatchBytes: intOption('maxBatchBytes', options.maxBatchBytes, 4 << 20, 1, 1 << 30),
    clock,
  }
}

function intOption(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument(`${name} must be an integer from ${min} to ${max}; got ${String(value)}`)
  }
  return value
}
