/**
 * The worker side's bookkeeping of appends in flight: how to settle each one (per window slot),
 * the flushes waiting for a sequence, and the first failure of a promise-free append since the
 * last flush. LogWriter (writer.ts) owns the sequence counters and the ring; this holds the rest.
 *
 * @internal
 */
import type { SeglogError } from '../errors.js'
import { appendRejectedError } from './codes.js'

export type Resolve = (offset: number) => void
export type Reject = (err: SeglogError) => void

/** A flush waiting until every append below sequence `target` has settled. */
interface FlushWaiter {
  target: number
  resolve: () => void
}

export class Settlements {
  /**
   * Per window slot (sequence & (window - 1)): the settle functions of the append in flight
   * there. Written by the writer on the hot path; an appendNoWait stores a shared no-op and
   * {@link noWaitFailed}, so it allocates nothing.
   */
  readonly resolves: (Resolve | undefined)[]
  readonly rejects: (Reject | undefined)[]
  readonly #mask: number
  /** In target order (sequences only grow). */
  #flushWaiters: FlushWaiter[] = []
  #noWaitError: SeglogError | undefined
  /** The reject of every appendNoWait: keeps the first failure for the next flush. */
  readonly noWaitFailed: Reject = (err) => { this.#noWaitError ??= err }

  constructor(window: number) {
    this.resolves = new Array<Resolve | undefined>(window).fill(undefined)
    this.rejects = new Array<Reject | undefined>(window).fill(undefined)
    this.#mask = window - 1
  }

  /** Settles the append at sequence `seq` with its result: an offset, or minus an error number. */
  settle(seq: number, result: number): void {
    const slot = seq & this.#mask
    const resolve = this.resolves[slot]
    const reject = this.rejects[slot]
    this.resolves[slot] = undefined
    this.rejects[slot] = undefined
    if (resolve === undefined || reject === undefined) return
    if (result >= 0) resolve(result)
    else reject(appendRejectedError(-result))
  }

  /** Fails the append at sequence `seq` with `err`. */
  fail(seq: number, err: SeglogError): void {
    const slot = seq & this.#mask
    const reject = this.rejects[slot]
    this.resolves[slot] = undefined
    this.rejects[slot] = undefined
    reject?.(err)
  }

  /** Calls `resolve` once every append below sequence `target` has settled ({@link settleFlushes}). */
  waitFor(target: number, resolve: () => void): void {
    this.#flushWaiters.push({ target, resolve })
  }

  /** Resolves every flush whose target is at or below `acked` (appends below `acked` are settled). */
  settleFlushes(acked: number): void {
    const waiters = this.#flushWaiters
    let k = 0
    while (k < waiters.length && ((acked - waiters[k].target) | 0) >= 0) waiters[k++].resolve()
    if (k > 0) this.#flushWaiters = waiters.slice(k)
  }

  /** The first appendNoWait failure since the last call, if any; forgets it. */
  takeNoWaitError(): SeglogError | undefined {
    const err = this.#noWaitError
    this.#noWaitError = undefined
    return err
  }
}
