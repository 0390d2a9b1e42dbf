/**
 * Remote retention: deletes whole shipped segments, oldest first, by size and by age. Age is the
 * segment's newest record timestamp (carried in its seal key), never a store modification time,
 * which changes when objects are copied or restored. The newest segment is always kept, so the
 * remote log's end (where the next upload must start) stays known.
 *
 * Each segment goes seal first, then data: once the seal is gone the segment has left the log, and
 * a pass cut short leaves only an unsealed data object before the first segment, which readers
 * ignore and the next pass deletes.
 */
import { withRetry, type RetryPolicy } from '../objects/retry.js'
import type { ObjectStore } from '../objects/types.js'
import { invalidArgument } from '../errors.js'
import { readCatalog, type RemoteSegment } from './catalog.js'

/** Limits of remote retention. */
export interface RemoteRetentionOptions {
  /** Delete the oldest segments while the remote log holds more than this many bytes. */
  maxBytes?: number
  /** Delete segments whose newest record is older than this (against `now`). */
  maxAgeMs?: number
}

/** What a pass did. */
export interface RemoteRetentionResult {
  /** Segments deleted, oldest first. */
  deleted: RemoteSegment[]
  /** Leftover data objects of an earlier, interrupted pass deleted now. */
  leftovers: string[]
  /** The remote log's first offset after the pass. */
  firstOffset: number
}

/**
 * One retention pass over the remote log under `prefix`. `now` (ms since the epoch) is the
 * reference for `maxAgeMs`. `beyondEnd` (a tiered log's whole-log retention) gives the bytes of
 * the log held elsewhere past the remote end (not shipped yet), which count against `maxBytes`
 * too. Safe to run again after any failure; racing passes delete nothing twice that matters
 * (deleting a missing object succeeds).
 */
export async function applyRemoteRetention(store: ObjectStore, prefix: string, limits: RemoteRetentionOptions,
  options: { now: number; retry?: RetryPolicy; signal?: AbortSignal; beyondEnd?: (remoteEnd: number) => number }): Promise<RemoteRetentionResult> {
  for (const k of ['maxBytes', 'maxAgeMs'] as const) {
    const v = limits[k]
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) throw invalidArgument(`remote retention ${k} must be a non-negative integer; got ${String(v)}`)
  }
  const { retry, signal } = options
  const catalog = await readCatalog(store, prefix, { retry, signal })
  const doomed: RemoteSegment[] = []
  let bytes = catalog.bytes + (options.beyondEnd?.(catalog.endOffset) ?? 0)
  for (const seg of catalog.segments.slice(0, -1)) {
    const tooBig = limits.maxBytes !== undefined && bytes > limits.maxBytes
    const tooOld = limits.maxAgeMs !== undefined && seg.maxTimestamp < options.now - limits.maxAgeMs
    if (!tooBig && !tooOld) break
    doomed.push(seg)
    bytes -= seg.size
  }
  for (const seg of doomed) {
    await withRetry(() => store.delete(seg.sealKey, { signal }), retry, undefined, signal)
    await withRetry(() => store.delete(seg.dataKey, { signal }), retry, undefined, signal)
  }
  for (const key of catalog.leftovers) await withRetry(() => store.delete(key, { signal }), retry, undefined, signal)
  const last = doomed.at(-1)
  return { deleted: doomed, leftovers: catalog.leftovers, firstOffset: last ? last.end : catalog.firstOffset }
}
