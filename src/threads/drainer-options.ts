/**
 * The options of {@link RingDrainer}, their defaults and limits, checked once at construction by
 * the shared option checker (src/option-schema.ts).
 */
import { badOption, checkOptions, opt, type Rule } from '../option-schema.js'
import { FRAME_HEADER_BYTES, MAX_RING_BYTES, MIN_RING_BYTES, geometry, type RingGeometry } from './layout.js'
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

/** A power of two in `[min, max]`. */
function powerOfTwoRule(min: number, max: number): Rule<number> {
  return opt.custom(`a power of two from ${min} to ${max}`, (v) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max && (v & (v - 1)) === 0)
}

/** Every option of {@link RingDrainerOptions} and what it accepts; anything else is refused. */
export const ringDrainerOptionsShape = {
  ringBytes: powerOfTwoRule(MIN_RING_BYTES, MAX_RING_BYTES),
  maxRecordBytes: opt.integer(0, MAX_RING_BYTES / 4 - FRAME_HEADER_BYTES),
  maxProducers: opt.integer(1, 4096),
  producerWindow: powerOfTwoRule(1, 1 << 16),
  deadProducerTimeoutMs: opt.integer(1, 3_600_000),
  maxInflightBatches: opt.integer(1, 64),
  maxBatchRecords: opt.integer(1, 1 << 20),
  maxBatchBytes: opt.integer(1, 1 << 30),
  clock: opt.func<Clock>(),
}

const WHERE = 'RingDrainer'

/**
 * Checks `options` with the option schema (unknown keys and wrong types or ranges are
 * ERR_INVALID_ARGUMENT naming `details.option`) and fills in defaults.
 */
export function drainerSettings(options: RingDrainerOptions | undefined): DrainerSettings {
  const o = checkOptions(WHERE, options, ringDrainerOptionsShape)
  const capacity = o.ringBytes ?? 1 << 20
  const recordCap = capacity / 4 - FRAME_HEADER_BYTES
  // The record limit depends on the ring's size, so it is checked once that is known.
  if (o.maxRecordBytes !== undefined && o.maxRecordBytes > recordCap) {
    throw badOption(WHERE, 'maxRecordBytes', `an integer from 0 to ${recordCap} (a quarter of ringBytes, less the frame header)`, o.maxRecordBytes)
  }
  return {
    geometry: geometry(capacity, o.maxProducers ?? 64, o.producerWindow ?? 1024),
    maxRecordBytes: o.maxRecordBytes ?? recordCap,
    deadProducerTimeoutMs: o.deadProducerTimeoutMs ?? 1000,
    maxBatchRecords: o.maxBatchRecords ?? 8192,
    maxInflightBatches: o.maxInflightBatches ?? 4,
    maxBatchBytes: o.maxBatchBytes ?? 4 << 20,
    clock: o.clock ?? (() => performance.now()),
  }
}
