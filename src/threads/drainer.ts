/**
 * The log-side half of worker appends: owns the shared ring, drains published frames in
 * reservation order into a {@link DrainSink} (the Log's group-committed `appendBatch`), hands the
 * offsets back to the producers and frees ring space. See docs/threads.md.
 */
import { channel } from 'node:diagnostics_channel'
import { EventEmitter } from 'node:events'
import { SeglogError, invalidArgument } from '../errors.js'
import {
  C_CAPACITY, C_CLOSED, C_FINISHED, C_HEAD, C_MAGIC, C_MAX_PRODUCERS, C_MAX_RECORD, C_PARKED,
  C_PRODUCER_HIGH, C_SIGNAL, C_TAIL, C_VERSION, C_WINDOW, FLAG_PAD, FRAME_HEADER_BYTES, LEN_MASK,
  MAX_RING_BYTES, MIN_RING_BYTES, P_DURABLE, P_LEN, P_POS, P_RESV, PHASE_INTENT, PHASE_MASK, PHASE_RESERVED,
  PHASE_REVOKED, PHASE_WRITING, PRODUCER_WORDS, RING_MAGIC, RING_VERSION, codeNumber, frameBytes,
  geometry, powerOfTwo, waitAsync, type RingGeometry, type WorkerHandle,
} from './layout.js'

export type { WorkerHandle } from './layout.js'

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
  /** True once the sink accepts no more appends (closed or failed). */
  readonly closed: boolean
}

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
}

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

/** Published on `seglog:threads:batch` for every batch handed to the sink. */
export interface DrainBatchEvent {
  records: number
  bytes: number
  first: number
  last: number
  durationMs: number
}

const skipChannel = channel('seglog:threads:skip')
const batchChannel = channel('seglog:threads:batch')

const noop = (): void => {}

/** Framing the log adds per batch and per record (src/format/batch.ts), for batch-size accounting. */
const BATCH_FRAMING_BYTES = 40
const RECORD_FRAMING_BYTES = 4

/**
 * Multiplier on the dead-producer timeout for a writer caught mid-copy (skipping a live but
 * stalled one could let its late copy land in reused space) and for an unannounced reservation.
 */
const SLOW_SKIP_FACTOR = 2

/**
 * Drains a shared-memory ring that worker threads append to through {@link LogWriter}.
 *
 * Emits `'skip'` ({@link SkipEvent}) when it skips a dead producer's reservation, and
 * `'sinkError'` (`SeglogError`) when a batch fails (the records of that batch fail in their workers).
 */
export class RingDrainer extends EventEmitter {
  readonly #sink: DrainSink
  readonly #g: RingGeometry
  readonly #buffer: SharedArrayBuffer
  readonly #i32: Int32Array
  readonly #f64: Float64Array
  readonly #mask: number
  readonly #ringWord: number
  readonly #deadMs: number
  readonly #maxBatchRecords: number
  readonly #maxBatchBytes: number
  readonly #maxInflight: number
  readonly #keepAlive: ReturnType<typeof setInterval>
  /** Per producer: the sequence after its last record in the current batch, and whether it has one. */
  readonly #nextSeq: Int32Array
  readonly #touchedFlag: Uint8Array
  readonly #touched: number[] = []
  #meta = new Int32Array(1024)
  #batches = 0
  /** Batches handed to the sink and not yet published; at most {@link #maxInflight}. */
  #inflight = 0
  #slotFreed: (() => void) | undefined
  #records = 0
  #skips = 0
  #stuckAt = -1
  /** INTENT words seen per producer while looking for the owner of an unannounced reservation. */
  readonly #intentSeen: Int32Array
  #intentSince = -1
  #stuckSince = 0
  #closeRequested = false
  #closeError: SeglogError | undefined
  #finishTail = 0
  readonly #done: Promise<void>
  readonly #handle: WorkerHandle

  /** Creates the ring and starts draining it into `sink`. */
  constructor(sink: DrainSink, options: RingDrainerOptions = {}) {
    super()
    if (typeof sink !== 'object' || sink === null || typeof sink.appendBatch !== 'function') throw invalidArgument('RingDrainer needs a sink with appendBatch()')
    const capacity = powerOfTwo('ringBytes', options.ringBytes ?? 1 << 20, MIN_RING_BYTES, MAX_RING_BYTES)
    const window = powerOfTwo('producerWindow', options.producerWindow ?? 1024, 1, 1 << 16)
    const maxProducers = intOption('maxProducers', options.maxProducers, 64, 1, 4096)
    const recordCap = capacity / 4 - FRAME_HEADER_BYTES
    const maxRecord = intOption('maxRecordBytes', options.maxRecordBytes, recordCap, 0, recordCap)
    this.#deadMs = intOption('deadProducerTimeoutMs', options.deadProducerTimeoutMs, 1000, 1, 3_600_000)
    this.#maxBatchRecords = intOption('maxBatchRecords', options.maxBatchRecords, 8192, 1, 1 << 20)
    this.#maxInflight = intOption('maxInflightBatches', options.maxInflightBatches, 4, 1, 64)
    this.#maxBatchBytes = intOption('maxBatchBytes', options.maxBatchBytes, 4 << 20, 1, 1 << 30)
    this.#sink = sink
    this.#g = geometry(capacity, maxProducers, window)
    this.#buffer = new SharedArrayBuffer(this.#g.totalBytes)
    this.#i32 = new Int32Array(this.#buffer)
    this.#f64 = new Float64Array(this.#buffer, this.#g.resultsOffset, maxProducers * window)
    this.#mask = capacity - 1
    this.#ringWord = this.#g.ringOffset >> 2
    this.#nextSeq = new Int32Array(maxProducers)
    this.#intentSeen = new Int32Array(maxProducers)
    this.#touchedFlag = new Uint8Array(maxProducers)
    const i = this.#i32
    i[C_CAPACITY] = capacity
    i[C_MAX_RECORD] = maxRecord
    i[C_MAX_PRODUCERS] = maxProducers
    i[C_WINDOW] = window
    i[C_VERSION] = RING_VERSION
    Atomics.store(i, C_MAGIC, RING_MAGIC)
    // A pending Atomics.waitAsync does not keep the event loop alive; this timer does, while
    // something is owed to a producer (a reserved frame we wait on, a close in progress).
    this.#keepAlive = setInterval(noop, 1 << 30)
    this.#keepAlive.unref()
    this.#handle = Object.freeze({ kind: 'seglog.worker-handle', version: RING_VERSION, buffer: this.#buffer })
    this.#done = this.#run()
  }

  /** The structured-cloneable handle a worker passes to `LogWriter.connect`. */
  handle(): WorkerHandle {
    if (this.#closeRequested) throw new SeglogError('ERR_CLOSED', 'the log is closed; reopen it to get a new worker handle')
    return this.#handle
  }

  /** Largest payload a worker may append through this ring. */
  get maxRecordBytes(): number { return this.#i32[C_MAX_RECORD] }

  /** Ring occupancy and counters (cheap: a few atomic loads). */
  stats(): RingDrainerStats {
    const i = this.#i32
    return {
      ringBytes: this.#g.capacity,
      usedBytes: (Atomics.load(i, C_TAIL) - Atomics.load(i, C_HEAD)) >>> 0,
      producers: Math.min(Atomics.load(i, C_PRODUCER_HIGH), this.#g.maxProducers),
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
      const i = this.#i32
      Atomics.store(i, C_CLOSED, codeNumber(err?.code ?? 'ERR_CLOSED'))
      // Reservations made from here on are beyond this point and will never be drained.
      this.#finishTail = Atomics.load(i, C_TAIL) >>> 0
      this.#keepAlive.ref()
      Atomics.add(i, C_SIGNAL, 1)
      Atomics.notify(i, C_SIGNAL)
      Atomics.notify(i, C_HEAD)
    }
    await this.#done
  }

  async #run(): Promise<void> {
    const i = this.#i32
    /** Next ring position to look at; [head, scan) is handed to the sink and not yet durable. */
    let scan = Atomics.load(i, C_HEAD) >>> 0
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
        const head = Atomics.load(i, C_HEAD) >>> 0
        const records: Uint8Array[] = []
        const end = this.#collect(head, scan, records)
        if (end !== scan) {
          const from = scan
          scan = end
          if (records.length === 0) {
            chain = chain.then(() => this.#release(from, end))
            continue
          }
          // Submit now, so that batches arriving during an fsync share the next one (group
          // commit); publish and free them strictly in order.
          const meta = this.#meta.slice(0, 2 * records.length)
          chain = this.#complete(chain, this.#submit(records), records, meta, from, end)
          this.#inflight++
          while (this.#inflight >= this.#maxInflight) await new Promise<void>((resolve) => { this.#slotFreed = resolve })
          continue
        }
        if (this.#inflight > 0 || ((scan - head) >>> 0) >= this.#g.capacity) {
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
      Atomics.store(i, C_CLOSED, codeNumber(this.#closeError.code))
      if (this.listenerCount('sinkError') > 0) this.emit('sinkError', this.#closeError)
    } finally {
      await chain.catch(() => undefined)
      this.#finish()
    }
  }

  /** True once `pos` is at or past the tail snapshot taken by close() (wrapping comparison). */
  #reachedFinish(pos: number): boolean {
    return ((pos - this.#finishTail) >>> 0) < 0x8000_0000
  }

  /** Gathers published frames from `scan`; returns the position after the last one taken. */
  #collect(head: number, scan: number, records: Uint8Array[]): number {
    const i = this.#i32
    const limit = this.#closeRequested ? this.#finishTail : Atomics.load(i, C_TAIL) >>> 0
    const buf = this.#buffer
    const ringOffset = this.#g.ringOffset
    const maxProducers = this.#g.maxProducers
    let pos = scan
    let bytes = BATCH_FRAMING_BYTES
    let n = 0
    const cap = this.#g.capacity
    // Stop at the tail, and never look a full ring ahead of the head: reservations past that point
    // (producers overshoot while they wait for space) alias frames of this very lap.
    while (pos !== limit && ((pos - head) >>> 0) < cap) {
      const at = pos & this.#mask
      const w = this.#ringWord + (at >> 2)
      const word0 = Atomics.load(i, w)
      if (word0 === 0) break
      const len = word0 & LEN_MASK
      if ((word0 & FLAG_PAD) !== 0) { pos = (pos + len) >>> 0; continue }
      const producer = i[w + 1]
      const dataLen = i[w + 3]
      if (producer < 0 || producer >= maxProducers || dataLen < 0 || frameBytes(dataLen) !== len) {
        throw new SeglogError('ERR_CORRUPT', `worker ring frame at position ${pos} is malformed (producer ${producer}, length ${dataLen}/${len}); the ring was written by something other than LogWriter`)
      }
      if (n > 0 && (n >= this.#maxBatchRecords || bytes + RECORD_FRAMING_BYTES + dataLen > this.#maxBatchBytes)) break
      if (2 * n + 2 > this.#meta.length) {
        const meta = new Int32Array(this.#meta.length * 2)
        meta.set(this.#meta)
        this.#meta = meta
      }
      this.#meta[2 * n] = producer
      this.#meta[2 * n + 1] = i[w + 2]
      records.push(new Uint8Array(buf, ringOffset + at + FRAME_HEADER_BYTES, dataLen))
      bytes += RECORD_FRAMING_BYTES + dataLen
      n++
      pos = (pos + len) >>> 0
    }
    return pos
  }

  /** Hands a batch to the sink (synchronously, so that offsets follow submission order). */
  #submit(records: Uint8Array[]): Promise<{ first: number; last: number }> {
    this.#batches++
    this.#records += records.length
    try {
      return this.#sink.appendBatch(records)
    } catch (e) {
      return Promise.reject(e)
    }
  }

  /**
   * Waits for a submitted batch, then (after every earlier batch) publishes each record's offset,
   * or the failure's code, to its producer with one store + notify per producer, and frees the
   * batch's ring space.
   */
  async #complete(previous: Promise<void>, result: Promise<{ first: number; last: number }>, records: Uint8Array[], meta: Int32Array, from: number, to: number): Promise<void> {
    const n = records.length
    const started = performance.now()
    let first = 0
    let failure = 0
    try {
      const r = await result
      if (r.last - r.first !== n - 1) throw new SeglogError('ERR_IO', `sink returned offsets ${r.first}..${r.last} for ${n} records`)
      first = r.first
      if (batchChannel.hasSubscribers) {
        let bytes = 0
        for (const rec of records) bytes += rec.byteLength
        batchChannel.publish({ records: n, bytes, first: r.first, last: r.last, durationMs: performance.now() - started } satisfies DrainBatchEvent)
      }
    } catch (e) {
      failure = codeNumber(this.#sinkError(e).code)
    }
    await previous
    const f64 = this.#f64
    const window = this.#g.window
    const wmask = window - 1
    const touched = this.#touched
    const touchedFlag = this.#touchedFlag
    const nextSeq = this.#nextSeq
    for (let k = 0; k < n; k++) {
      const p = meta[2 * k]
      const seq = meta[2 * k + 1]
      f64[p * window + (seq & wmask)] = failure === 0 ? first + k : -failure
      if (touchedFlag[p] === 0) { touchedFlag[p] = 1; touched.push(p) }
      nextSeq[p] = (seq + 1) | 0
    }
    const i = this.#i32
    const base = this.#g.producersOffset >> 2
    for (const p of touched) {
      const w = base + p * PRODUCER_WORDS + P_DURABLE
      Atomics.store(i, w, nextSeq[p])
      Atomics.notify(i, w)
      touchedFlag[p] = 0
    }
    touched.length = 0
    this.#release(from, to)
    this.#inflight--
    const freed = this.#slotFreed
    this.#slotFreed = undefined
    freed?.()
  }

  /** Normalises a sink failure, reports it, and stops the drainer when the log is gone. */
  #sinkError(e: unknown): SeglogError {
    const err = e instanceof SeglogError ? e : new SeglogError('ERR_IO', `worker batch failed: ${String(e)}`, { cause: e })
    if (this.listenerCount('sinkError') > 0) this.emit('sinkError', err)
    if ((err.code === 'ERR_IO' || err.code === 'ERR_CLOSED') && this.#closeError === undefined) {
      // The log failed or closed underneath us: nothing more can become durable.
      this.#closeError = err
      this.#closeRequested = true
      Atomics.store(this.#i32, C_CLOSED, codeNumber(err.code))
    }
    return err
  }

  /** Zeroes [from, to) of the ring (wrapping) and advances the head, waking producers waiting for space. */
  #release(from: number, to: number): void {
    const u8 = new Uint8Array(this.#buffer, this.#g.ringOffset, this.#g.capacity)
    const a = from & this.#mask
    const span = (to - from) >>> 0
    if (a + span <= this.#g.capacity) u8.fill(0, a, a + span)
    else {
      u8.fill(0, a)
      u8.fill(0, 0, a + span - this.#g.capacity)
    }
    const i = this.#i32
    Atomics.store(i, C_HEAD, to | 0)
    Atomics.notify(i, C_HEAD)
    this.#stuckAt = -1
  }

  /** Waits for a publish at `scan`; after the dead-producer timeout, skips the blocking reservation. */
  async #park(scan: number): Promise<void> {
    const i = this.#i32
    const sig = Atomics.load(i, C_SIGNAL)
    Atomics.store(i, C_PARKED, 1)
    const word = this.#ringWord + ((scan & this.#mask) >> 2)
    if (Atomics.load(i, word) !== 0) {
      Atomics.store(i, C_PARKED, 0)
      return
    }
    const tail = Atomics.load(i, C_TAIL) >>> 0
    if (tail === scan) {
      // Empty ring: nothing owed, nothing to time out. Sleep until a producer publishes.
      this.#stuckAt = -1
      const r = waitAsync(i, C_SIGNAL, sig)
      if (r.async) await r.value
      Atomics.store(i, C_PARKED, 0)
      return
    }
    // Someone reserved the space at `scan` and has not published it yet.
    const now = performance.now()
    if (this.#stuckAt !== scan) { this.#stuckAt = scan; this.#stuckSince = now; this.#intentSince = -1 }
    const waited = now - this.#stuckSince
    if (waited >= this.#deadMs && this.#trySkip(scan, waited)) { Atomics.store(i, C_PARKED, 0); return }
    const remaining = waited < this.#deadMs ? this.#deadMs - waited : this.#deadMs
    this.#keepAlive.ref()
    const r = waitAsync(i, C_SIGNAL, sig, remaining)
    if (r.async) await r.value
    if (!this.#closeRequested) this.#keepAlive.unref()
    Atomics.store(i, C_PARKED, 0)
  }

  /**
   * Skips the reservation blocking `scan` if its owner has given no sign of life for long enough.
   * Returns true when something was skipped.
   */
  #trySkip(scan: number, waitedMs: number): boolean {
    const i = this.#i32
    const high = Math.min(Atomics.load(i, C_PRODUCER_HIGH), this.#g.maxProducers)
    const base = this.#g.producersOffset >> 2
    for (let p = 0; p < high; p++) {
      const r = base + p * PRODUCER_WORDS
      const s = Atomics.load(i, r + P_RESV)
      const phase = s & PHASE_MASK
      if (phase !== PHASE_RESERVED && phase !== PHASE_WRITING) continue
      const pos = Atomics.load(i, r + P_POS) >>> 0
      const len = Atomics.load(i, r + P_LEN)
      if (((scan - pos) >>> 0) >= len) continue
      if (phase === PHASE_WRITING && waitedMs < this.#deadMs * SLOW_SKIP_FACTOR) return false
      // Revoke: after this compare-exchange the producer can no longer start writing, and a
      // producer already writing loses the race for the frame's length word below.
      if (Atomics.compareExchange(i, r + P_RESV, s, (s & ~PHASE_MASK) | PHASE_REVOKED) !== s) return false
      const bytes = (pos + len - scan) >>> 0
      const word = this.#ringWord + ((scan & this.#mask) >> 2)
      if (Atomics.compareExchange(i, word, 0, bytes | FLAG_PAD) !== 0) return true // it published after all
      this.#reportSkip({ position: scan, bytes, producerId: p, reason: phase === PHASE_RESERVED ? 'dead-producer' : 'stalled-writer', waitedMs })
      return true
    }
    // No producer claims the space at `scan`: its owner died between Atomics.add and announcing
    // the position, and is stuck in INTENT. The space it reserved was never written, so it reads
    // as zeros up to the next frame. A live producer can also be in INTENT (for nanoseconds):
    // only skip once every INTENT seen has stayed unchanged for a whole timeout, and read the
    // tail before checking, so that a producer entering INTENT afterwards reserves beyond it.
    const now = performance.now()
    const bound0 = this.#closeRequested ? this.#finishTail : Atomics.load(i, C_TAIL) >>> 0
    let changed = this.#intentSince < 0
    for (let p = 0; p < high; p++) {
      const s = Atomics.load(i, base + p * PRODUCER_WORDS + P_RESV)
      const intent = (s & PHASE_MASK) === PHASE_INTENT ? s : 0
      if (this.#intentSeen[p] !== intent) { this.#intentSeen[p] = intent; if (intent !== 0) changed = true }
    }
    if (changed) this.#intentSince = now
    if (waitedMs < this.#deadMs * SLOW_SKIP_FACTOR || now - this.#intentSince < this.#deadMs) return false
    const fromScan = (x: number): number => (x - scan) >>> 0
    let bound = bound0
    // Never past one ring ahead of the freed head: beyond that, positions alias in-flight frames.
    const freed = Atomics.load(i, C_HEAD) >>> 0
    if (((bound - freed) >>> 0) > this.#g.capacity) bound = (freed + this.#g.capacity) >>> 0
    for (let p = 0; p < high; p++) {
      const r = base + p * PRODUCER_WORDS
      const phase = Atomics.load(i, r + P_RESV) & PHASE_MASK
      if (phase !== PHASE_RESERVED && phase !== PHASE_WRITING) continue
      const pos = Atomics.load(i, r + P_POS) >>> 0
      if (fromScan(pos) > 0 && fromScan(pos) < fromScan(bound)) bound = pos
    }
    let pos = scan
    while (pos !== bound && Atomics.load(i, this.#ringWord + ((pos & this.#mask) >> 2)) === 0 && i[this.#ringWord + ((pos & this.#mask) >> 2) + 1] === 0) {
      pos = (pos + 8) >>> 0
    }
    const bytes = (pos - scan) >>> 0
    if (bytes === 0) return false
    const word = this.#ringWord + ((scan & this.#mask) >> 2)
    if (Atomics.compareExchange(i, word, 0, bytes | FLAG_PAD) !== 0) return true
    this.#reportSkip({ position: scan, bytes, producerId: -1, reason: 'unknown-owner', waitedMs })
    return true
  }

  #reportSkip(event: SkipEvent): void {
    this.#skips++
    if (skipChannel.hasSubscribers) skipChannel.publish(event)
    this.emit('skip', event)
  }

  /** Marks the ring finished and wakes every producer so that nobody waits on a stopped drainer. */
  #finish(): void {
    const i = this.#i32
    if (Atomics.load(i, C_CLOSED) === 0) Atomics.store(i, C_CLOSED, codeNumber(this.#closeError?.code ?? 'ERR_CLOSED'))
    this.#closeRequested = true
    Atomics.store(i, C_FINISHED, 1)
    Atomics.notify(i, C_HEAD)
    Atomics.notify(i, C_SIGNAL)
    const high = Math.min(Atomics.load(i, C_PRODUCER_HIGH), this.#g.maxProducers)
    const base = this.#g.producersOffset >> 2
    for (let p = 0; p < high; p++) Atomics.notify(i, base + p * PRODUCER_WORDS + P_DURABLE)
    clearInterval(this.#keepAlive)
  }
}

function intOption(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument(`${name} must be an integer from ${min} to ${max}; got ${String(value)}`)
  }
  return value
}
