/**
 * The result hand-off of the ring protocol: the drainer writes each record's offset into its
 * producer's result slot and publishes the producer's DURABLE count; the producer waits for that
 * count with the WAITING mark, so that the drainer notifies only a producer that is waiting.
 * Split out of protocol.ts (which re-exports it), where the rest of the shared-word transitions are.
 *
 * @internal
 */
import { P_DURABLE, P_WAITING, producerRecord, waitAsync, type Ring, type WaitAsyncResult } from './layout.js'

/*
 * Result wake-ups (DURABLE and WAITING). The drainer notifies a producer only while the producer
 * has marked itself WAITING, so a producer that keeps appending costs the drainer a store and a
 * load per batch and no notify. Only the producer sets and clears its mark. No wake-up is lost:
 *
 *   producer: store WAITING = 1  →  waitAsync(DURABLE, acked): load DURABLE, park if == acked
 *             … woken (or 'not-equal') → store WAITING = 0
 *   drainer:  store DURABLE = n  →  load WAITING; if 1: notify DURABLE
 *
 * Atomics are sequentially consistent, so these accesses have one total order. If the producer
 * parks, its load of DURABLE saw the old value, so it came before the drainer's store; its store
 * of WAITING came before that load; and the mark stays set until the producer itself runs again,
 * which it does only once woken. So the drainer's load of WAITING, after its own store, sees 1 and
 * it notifies. The notify cannot slip in between the producer's check and its parking: waitAsync
 * does both inside the waiter list's critical section, which notify also takes. If instead the
 * drainer's load of WAITING comes first and sees 0, the producer's store of WAITING comes after it,
 * hence after the store of DURABLE, and its waitAsync sees the new count and does not park.
 * The drainer must not clear the mark: a mark it took for one publish can belong to a wait that
 * parks on that publish's count and needs the next one's notify (the interleaving test found this
 * lost wake-up in a version where the drainer exchanged the mark to 0).
 * Between its wake and its clear the producer may get notifies nobody waits for: cheap, no thread
 * is woken. markFinished notifies every producer unconditionally.
 */

/** Producer side, step 1 of a wait for results: the drainer must notify from now on. */
export function markWaiting(i: Int32Array, rec: number): void {
  Atomics.store(i, rec + P_WAITING, 1)
}

/**
 * Producer side, step 2: parks until DURABLE moves from `acked` (returns 'not-equal' at once when
 * it already has). Only after {@link markWaiting}.
 */
export function waitForDurable(i: Int32Array, rec: number, acked: number): WaitAsyncResult {
  return waitAsync(i, rec + P_DURABLE, acked)
}

/** Producer side, last step: the wait ended (woken, or it did not park); no more notifies needed. */
export function clearWaiting(i: Int32Array, rec: number): void {
  Atomics.store(i, rec + P_WAITING, 0)
}

/**
 * Waits until the producer's DURABLE count moves from `acked`: {@link markWaiting}, then
 * {@link waitForDurable} (which re-checks DURABLE after the mark). When it parks, the caller must
 * {@link clearWaiting} once woken.
 */
export function waitForResults(ring: Ring, rec: number, acked: number): WaitAsyncResult {
  const i = ring.i32
  markWaiting(i, rec)
  const r = waitForDurable(i, rec, acked)
  if (!r.async) clearWaiting(i, rec)
  return r
}

/** The producer's DURABLE count: results below it are written. */
export function durableCount(ring: Ring, rec: number): number {
  return Atomics.load(ring.i32, rec + P_DURABLE)
}

/**
 * Writes the results of `count` consecutive records of `producer` from sequence `seq`: offsets
 * `firstOffset + k`, or, when `failure` is nonzero, `-failure` for each. Plain writes: the
 * {@link publishDurable} that follows publishes them.
 */
export function writeResults(ring: Ring, producer: number, seq: number, count: number, firstOffset: number, failure: number): void {
  const results = ring.results
  const window = ring.geometry.window
  const wmask = window - 1
  const base = producer * window
  if (failure === 0) for (let k = 0; k < count; k++) results[base + ((seq + k) & wmask)] = firstOffset + k
  else for (let k = 0; k < count; k++) results[base + ((seq + k) & wmask)] = -failure
}

/** Reads the result slot of `seq` (worker side, after loading DURABLE). */
export function readResult(ring: Ring, producer: number, seq: number): number {
  const window = ring.geometry.window
  return ring.results[producer * window + (seq & (window - 1))]
}

/** Drainer side, step 1 of a publish: every result below `count` is written. */
export function storeDurable(i: Int32Array, rec: number, count: number): void {
  Atomics.store(i, rec + P_DURABLE, count)
}

/** Drainer side, step 2 (after {@link storeDurable}): true while the producer is marked waiting. */
export function isWaiting(i: Int32Array, rec: number): boolean {
  return Atomics.load(i, rec + P_WAITING) !== 0
}

/** Drainer side, step 3: wakes the producer parked on its DURABLE count. */
export function notifyDurable(i: Int32Array, rec: number): void {
  Atomics.notify(i, rec + P_DURABLE)
}

/**
 * Publishes the producer's DURABLE count (every result below it is written) and wakes it if it
 * is waiting (see the comment above {@link markWaiting} for why no wake-up is lost).
 */
export function publishDurable(ring: Ring, producer: number, count: number): void {
  const i = ring.i32
  const rec = producerRecord(ring, producer)
  storeDurable(i, rec, count)
  if (isWaiting(i, rec)) notifyDurable(i, rec)
}
