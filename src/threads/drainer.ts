/**
 * The log-side half of worker appends: owns the shared ring and runs the drain loop. The loop
 * takes published frames in reservation order (collector.ts) and hands them to a
 * {@link DrainSink} (the Log's group-committed `appendBatch`), completes them in order
 * (completer.ts), and when the frame it waits on stays unpublished asks the reaper (reaper.ts)
 * whether its producer died. Every shared-word transition is in protocol.ts. See docs/threads.md.
 */
import { EventEmitter } from 'node:events'
import { SeglogError, invalidArgument } from '../errors.js'
import { channels } from '../diagnostics.js'
import { invariantViolated } from '../invariant.js'
import { codeNumber } from './codes.js'
import { Collector, type CollectedBatch } from './collector.js'
import { Completer } from './completer.js'
import { drainerSettings, type RingDrainerOptions } from './drainer-options.js'
import type { SkipEvent } from './events.js'
import { RING_VERSION, type WorkerHandle } from './layout.js'
import {
  closedReason, createRing, frameWord, headOf, markClosed, markFinished, maxRecordBytesOf, prepareToPark,
  producerHigh, setClosedReason, signalDrainer, tailOf, unpark, waitForSignal, wakeSpaceWaiters, type Ring,
} from './protocol.js'
import { Reaper } from './reaper.js'

export type { WorkerHandle } from './layout.js'
export type { RingDrainerOptions } from './drainer-options.js'
export type { SkipEvent, SkipReason, DrainBatchEvent } from './events.js'

/**
 * Where drained records go. The Log implements it with its public `appendBatch`.
 */
export interface DrainSink {
  /**
   * Appends the records as one atomic batch and resolves with the offsets of the first and the
   * last once the batch is durable under the log's sync mode. The records are views into shared
   * memory: read them before the returned promise settles, never retain them after.
   */
  appendBatch(records: Uint8Array[]): Promise<{ first: number; last: number }>
  /**
   * Optional fast path, used when present: the same as {@link appendBatch} for `count` records
   * that lie in order in one region of `source` (the ring's memory), record k being
   * `source[at[k], at[k] + lengths[k])`, so the sink can copy them with one copy and no object per
   * record. `at` and `lengths` are valid during the call only; `source` until the promise settles.
   */
  appendRun?(source: Uint8Array, at: Int32Array, lengths: Int32Array, count: number): Promise<{ first: number; last: number }>
  /** True once the sink accepts no more appends (closed or failed). */
  readonly closed: boolean
}

/** Counters and ring occupancy, from {@link RingDrainer.stats}. */
export interface RingDrainerStats {
  /** Ring capacity in bytes. */
  ringBytes: number
  /** Bytes reserved by producers and not yet freed by the drainer (may briefly exceed ringBytes). */
  usedBytes: number
  /** Producer slots ever claimed. */
  producers: number
  /** Batches handed to the sink, and the records in them. */
  batches: number
  records: number
  /** Regions skipped because their producer died or stalled. */
  skips: number
}

const noop = (): void => {}

/**
 * Drains a shared-memory ring that worker threads append to through {@link LogWriter}.
 *
 * Emits `'skip'` ({@link SkipEvent}) when it skips a dead producer's reservation, and
 * `'sinkError'` (`SeglogError`) when a batch fails (the records of that batch fail in their workers).
 */
export class RingDrainer extends EventEmitter {
  readonly #sink: DrainSink
  readonly #ring: Ring
  /** The whole shared buffer as bytes: where {@link Collector.at} positions point. */
  readonly #bytes: Uint8Array
  readonly #maxInflight: number
  readonly #collector: Collector
  readonly #completer: Completer
  readonly #reaper: Reaper
  readonly #keepAlive: ReturnType<typeof setInterval>
  readonly #handle: WorkerHandle
  readonly #done: Promise<void>
  #batches = 0
  #records = 0
  #skips = 0
  /** Batches handed to the sink and not yet completed; at most {@link #maxInflight}. */
  #inflight = 0
  #slotFreed: (() => void) | undefined
  #closeRequested = false
  #closeError: SeglogError | undefined
  /** TAIL when close() was called: reservations from there on are never drained. */
  #finishTail = 0

  /** Creates the ring and starts draining it into `sink`. */
  constructor(sink: DrainSink, options: RingDrainerOptions = {}) {
    super()
    if (typeof sink !== 'object' || sink === null || typeof sink.appendBatch !== 'function') throw invalidArgument('RingDrainer needs a sink with appendBatch()')
    const s = drainerSettings(options)
    this.#sink = sink
    this.#maxInflight = s.maxInflightBatches
    this.#ring = createRing(s.geometry, s.maxRecordBytes)
    this.#bytes = new Uint8Array(this.#ring.buffer)
    this.#reaper = new Reaper(this.#ring, s.deadProducerTimeoutMs, s.clock, (e) => this.#reportSkip(e))
    this.#completer = new Completer(this.#ring, headOf(this.#ring.i32), {
      sinkFailed: (e) => this.#sinkFailed(e),
      released: () => this.#reaper.progressed(),
      completed: () => this.#batchCompleted(),
    })
    this.#collector = new Collector(this.#ring, s.maxBatchRecords, s.maxBatchBytes, this.#completer.durableCounts)
    // A pending Atomics.waitAsync does not keep the event loop alive; this timer does, while
    // something is owed to a producer (a reserved frame we wait on, a close in progress).
    this.#keepAlive = setInterval(noop, 1 << 30)
    this.#keepAlive.unref()
    this.#handle = Object.freeze({ kind: 'seglog.worker-handle', version: RING_VERSION, buffer: this.#ring.buffer })
    this.#done = this.#run()
  }

  /** The structured-cloneable handle a worker passes to `LogWriter.connect`. */
  handle(): WorkerHandle {
    if (this.#closeRequested) throw new SeglogError('ERR_CLOSED', 'the log is closed; reopen it to get a new worker handle')
    return this.#handle
  }

  /** Largest payload a worker may append through this ring. */
  get maxRecordBytes(): number { return maxRecordBytesOf(this.#ring) }

  /** Ring occupancy and counters (cheap: a few atomic loads). */
  stats(): RingDrainerStats {
    return {
      ringBytes: this.#ring.capacity,
      usedBytes: (tailOf(this.#ring.i32) - headOf(this.#ring.i32)) >>> 0,
      producers: producerHigh(this.#ring),
      batches: this.#batches,
      records: this.#records,
      skips: this.#skips,
    }
  }

  /** True once {@link close} was called. */
  get closed(): boolean { return this.#closeRequested }

  /**
   * Stops accepting worker appends (new ones fail with `ERR_CLOSED`, or `err.code`).
   * Without `err`, everything reserved before the call is drained into the sink first (a dead
   * producer's reservation costs at most the dead-producer timeout); with `err` (the log failed),
   * nothing more is drained and every outstanding append fails with `err.code`.
   * Resolves once the drainer has stopped and every waiting producer has been told.
   */
  async close(err?: SeglogError): Promise<void> {
    if (!this.#closeRequested) {
      this.#closeRequested = true
      this.#closeError = err
      setClosedReason(this.#ring, codeNumber(err?.code ?? 'ERR_CLOSED'))
      // Reservations made from here on are beyond this point and will never be drained.
      this.#finishTail = tailOf(this.#ring.i32)
      this.#keepAlive.ref()
      signalDrainer(this.#ring)
      wakeSpaceWaiters(this.#ring)
    }
    await this.#done
  }

  async #run(): Promise<void> {
    const ring = this.#ring
    /** Next ring position to look at; [head, scan) is handed to the sink and not yet complete. */
    let scan = headOf(ring.i32)
    /** Completes when every batch submitted so far has been published and released, in order. */
    let chain: Promise<void> = Promise.resolve()
    try {
      for (;;) {
        if (this.#closeError !== undefined) break
        if (this.#sink.closed) {
          // The log closed (or failed) underneath us: nothing more can be made durable.
          this.#closeRequested = true
          break
        }
        if (this.#closeRequested && this.#reachedFinish(scan)) break
        const head = headOf(ring.i32)
        const collector = this.#collector
        const n = collector.collect(head, scan, this.#limit())
        const end = collector.end
        if (end !== scan) {
          const from = scan
          scan = end
          if (n === 0) {
            chain = chain.then(() => this.#completer.release(from, end))
            continue
          }
          // Submit now, so that batches arriving during an fsync share the next one (group
          // commit); complete them strictly in order.
          const batch: CollectedBatch = { count: n, bytes: collector.bytes, runs: collector.takeRuns(), from, to: end }
          chain = this.#completer.complete(chain, this.#submit(n), batch)
          this.#inflight++
          while (this.#inflight >= this.#maxInflight) await new Promise<void>((resolve) => { this.#slotFreed = resolve })
          continue
        }
        if (this.#inflight > 0 || ((scan - head) >>> 0) >= ring.capacity) {
          // A batch is on its way to disk: rather than parking (and making the next producer pay
          // for a cross-thread wake-up), let records accumulate until it completes. The log's
          // group commit would hold them for the next fsync anyway.
          await chain
          continue
        }
        await this.#park(scan)
      }
    } catch (e) {
      // Only a broken ring gets here (never a sink failure): stop, and fail everyone with the cause.
      this.#closeError = e instanceof SeglogError ? e : new SeglogError('ERR_IO', `worker ring drainer failed: ${String(e)}`, { cause: e })
      setClosedReason(ring, codeNumber(this.#closeError.code))
      if (this.listenerCount('sinkError') > 0) this.emit('sinkError', this.#closeError)
    } finally {
      await chain.catch(() => undefined)
      this.#finish()
    }
  }

  /** The furthest position to drain: the tail, or once closing, the tail when close() was called. */
  #limit(): number {
    return this.#closeRequested ? this.#finishTail : tailOf(this.#ring.i32)
  }

  /** True once `pos` is at or past the tail snapshot taken by close() (wrapping comparison). */
  #reachedFinish(pos: number): boolean {
    return ((pos - this.#finishTail) >>> 0) < 0x8000_0000
  }

  /** Hands a batch to the sink (synchronously, so that offsets follow submission order). */
  #submit(n: number): Promise<{ first: number; last: number }> {
    this.#batches++
    this.#records += n
    const { at, lengths } = this.#collector
    try {
      const sink = this.#sink
      if (sink.appendRun) return sink.appendRun(this.#bytes, at, lengths, n)
      const records: Uint8Array[] = new Array<Uint8Array>(n)
      const buffer = this.#ring.buffer
      for (let k = 0; k < n; k++) records[k] = new Uint8Array(buffer, at[k], lengths[k])
      return sink.appendBatch(records)
    } catch (e) {
      return Promise.reject(e)
    }
  }

  #batchCompleted(): void {
    this.#inflight--
    if (this.#inflight < 0) throw invariantViolated('batches in flight never go below zero')
    const freed = this.#slotFreed
    this.#slotFreed = undefined
    freed?.()
  }

  /** Normalises a sink failure, reports it, and stops the drainer when the log is gone. */
  #sinkFailed(e: unknown): SeglogError {
    const err = e instanceof SeglogError ? e : new SeglogError('ERR_IO', `worker batch failed: ${String(e)}`, { cause: e })
    if (this.listenerCount('sinkError') > 0) this.emit('sinkError', err)
    if ((err.code === 'ERR_IO' || err.code === 'ERR_CLOSED') && this.#closeError === undefined) {
      // The log failed or closed underneath us: nothing more can become durable.
      this.#closeError = err
      this.#closeRequested = true
      setClosedReason(this.#ring, codeNumber(err.code))
    }
    return err
  }

  /** Waits for a publish at `scan`; the reaper skips the blocking reservation once its owner is dead. */
  async #park(scan: number): Promise<void> {
    const ring = this.#ring
    const sig = prepareToPark(ring)
    if (frameWord(ring, scan) !== 0) { unpark(ring); return }
    const limit = this.#limit()
    if (tailOf(ring.i32) === scan) {
      // Empty ring: nothing owed, nothing to time out. Sleep until a producer publishes.
      this.#reaper.progressed()
      const r = waitForSignal(ring, sig)
      if (r.async) await r.value
      unpark(ring)
      return
    }
    // Someone reserved the space at `scan` and has not published it yet.
    const waitMs = this.#reaper.check(scan, limit)
    if (waitMs === 0) { unpark(ring); return }
    this.#keepAlive.ref()
    const r = waitForSignal(ring, sig, waitMs)
    if (r.async) await r.value
    if (!this.#closeRequested) this.#keepAlive.unref()
    unpark(ring)
  }

  #reportSkip(event: SkipEvent): void {
    this.#skips++
    if (channels.threadsSkip.hasSubscribers) channels.threadsSkip.publish(event)
    this.emit('skip', event)
  }

  /** Marks the ring finished and wakes every producer so that nobody waits on a stopped drainer. */
  #finish(): void {
    const ring = this.#ring
    if (closedReason(ring.i32) === 0) markClosed(ring, codeNumber(this.#closeError?.code ?? 'ERR_CLOSED'))
    this.#closeRequested = true
    markFinished(ring)
    clearInterval(this.#keepAlive)
  }
}
