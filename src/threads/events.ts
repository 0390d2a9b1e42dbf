/**
 * What the drainer reports: skipped ring regions and drained batches, published on the channels
 * declared in src/diagnostics.ts (`seglog:threads:skip`, `seglog:threads:batch`).
 */

/** Why a region of the ring was skipped. */
export type SkipReason =
  /** The producer reserved space and never started writing (dead, or stalled longer than the timeout). */
  | 'dead-producer'
  /** The producer started writing and never published (terminated mid-write, or stalled). */
  | 'stalled-writer'
  /** The reservation was never announced (the producer died right after reserving). */
  | 'unknown-owner'

/** Published on `seglog:threads:skip` and emitted as the drainer's `'skip'` event. */
export interface SkipEvent {
  /** Ring position (byte counter) where the skipped region starts. */
  position: number
  /** Bytes skipped. */
  bytes: number
  /** The producer slot that owned the region, or -1 when unknown. */
  producerId: number
  reason: SkipReason
  /** How long the region blocked the ring before it was skipped. */
  waitedMs: number
}

/** Published on `seglog:threads:batch` for every batch handed to the sink. */
export interface DrainBatchEvent {
  records: number
  bytes: number
  first: number
  last: number
  durationMs: number
}
