/**
 * The worker-side half of worker appends: reserves space in the shared ring with one
 * `Atomics.add`, writes the frame, publishes its length last, and waits (without blocking its
 * thread) for the drainer to publish the record's offset once it is durable. See docs/threads.md.
 */
import { Buffer } from 'node:buffer'
import { SeglogError, invalidArgument } from '../errors.js'
import { isUnreadable, recordInputError } from '../record-input.js'
import { ringClosedError } from './codes.js'
import { frameBytes, readGeometry, type WorkerHandle } from './layout.js'
import { Settlements, type Reject, type Resolve } from './settlements.js'
import { Chunk } from './chunk.js'
import {
  claimProducerSlot, clearWaiting, closedReason, durableCount, isFinished, maxRecordBytesOf, producerRecord,
  publishFrame, readResult, releaseProducerSlot, ringView, startProducer, waitForResults, waitForSpace, wakeDrainer,
  wordAt, writeFrame, type Ring,
} from './protocol.js'

/** An append waiting for ring space or window room (appends written at once need no object). */
interface PendingAppend {
  data: Uint8Array | string
  bytes: number
  resolve: Resolve
  reject: Reject
  /** Set on a {@link LogWriter.flush} barrier queued behind appends (then the rest is unused). */
  flush?: () => void
}

const noop = (): void => {}

/**
 * Appends to a log from a worker thread through shared memory. Get one with
 * {@link LogWriter.connect} from the handle `log.workerHandle()` returned on the log's thread.
 *
 * Appends from one writer keep their call order in the log. Many writers (in many threads) can
 * append at once without locks; the appends of one turn of the worker's event loop share a
 * reservation, so each costs a few atomic operations and one copy into the ring, and wake-ups
 * are batched. {@link LogWriter.appendNoWait} and {@link LogWriter.flush} skip the promise per
 * record for callers that pipeline.
 */
export class LogWriter {
  readonly #ring: Ring
  readonly #u8: Uint8Array
  #scratch: Buffer = Buffer.allocUnsafe(1024)
  /** This producer's record (word index) and slot id. */
  readonly #rec: number
  readonly #id: number
  readonly #maxRecord: number
  readonly #window: number
  /** How to settle each append in flight, flushes waiting, the first appendNoWait failure. */
  readonly #settle: Settlements
  /**
   * The settle functions of the promise the last `new Promise(#executor)` made. One executor
   * for all appends: an executor closure and its context per append, plus an entry object, were
   * garbage on the hot path (the worker spends a tenth of its time in GC at a million appends
   * a second).
   */
  #res: Resolve = noop
  #rej: Reject = noop
  readonly #executor = (res: Resolve, rej: Reject): void => { this.#res = res; this.#rej = rej }
  readonly #keepAlive: ReturnType<typeof setInterval>
  #queue: (PendingAppend | undefined)[] = []
  #qHead = 0
  /** Flush barriers in the queue (not appends: {@link pending} leaves them out). */
  #barriers = 0
  #seq: number
  #acked: number
  /** The reservation this writer fills with frames (chunk.ts). */
  readonly #chunk: Chunk
  #waitingSpace = false
  #waitingDurable = false
  #refed = false
  #closed = false
  #released = false
  #idleWaiters: (() => void)[] = []
  readonly #onSpace = (): void => { this.#waitingSpace = false; this.#pump() }
  readonly #onDurable = (): void => {
    this.#waitingDurable = false
    clearWaiting(this.#ring.i32, this.#rec)
    this.#collectResults()
  }

  private constructor(handle: WorkerHandle) {
    const g = readGeometry(handle) // validates: anything else fails with ERR_INVALID_ARGUMENT
    const ring = ringView(handle.buffer, g)
    this.#ring = ring
    this.#u8 = ring.u8
    this.#maxRecord = maxRecordBytesOf(ring)
    this.#window = g.window
    this.#settle = new Settlements(g.window)
    if (closedReason(ring.i32) !== 0) throw ringClosedError(closedReason(ring.i32))
    const id = claimProducerSlot(ring)
    if (id < 0) {
      throw new SeglogError('ERR_INVALID_ARGUMENT', `all ${g.maxProducers} producer slots of this log's worker ring are taken; close unused LogWriters or raise maxProducers`)
    }
    this.#id = id
    this.#rec = producerRecord(ring, id)
    const start = startProducer(ring, this.#rec)
    this.#seq = this.#acked = start.seq
    this.#chunk = new Chunk(ring, this.#rec, start.gen, () => queueMicrotask(this.#endTurn))
    // A pending Atomics.waitAsync does not keep a thread alive; this timer does while appends are owed.
    this.#keepAlive = setInterval(noop, 1 << 30)
    this.#keepAlive.unref()
  }

  /**
   * Connects to the log behind `handle` (from `log.workerHandle()`, posted to this thread).
   * Fails with `ERR_CLOSED` if the log is closed, `ERR_INVALID_ARGUMENT` for anything that is not
   * such a handle or when every producer slot is taken.
   */
  static async connect(handle: WorkerHandle | unknown): Promise<LogWriter> {
    return new LogWriter(handle as WorkerHandle)
  }

  /** This writer's producer slot (appears in skip reports). */
  get id(): number { return this.#id }

  /** Largest payload this log accepts from workers, in bytes. */
  get maxRecordBytes(): number { return this.#maxRecord }

  /** Appends not yet settled (queued here or waiting to become durable). */
  get pending(): number { return ((this.#seq - this.#acked) | 0) + this.#queue.length - this.#qHead - this.#barriers }

  /**
   * Appends one record. Resolves with its offset once it is durable under the log's sync mode.
   * Fails with `ERR_RECORD_TOO_LARGE` (nothing written) above {@link maxRecordBytes},
   * `ERR_CLOSED` once the log or this writer is closed, `ERR_INVALID_ARGUMENT` for other types,
   * for a detached buffer and for a string with a lone UTF-16 surrogate (nothing written).
   * When the ring is full, or this writer has `producerWindow` appends outstanding, the append
   * waits for space; nothing is dropped.
   */
  append(data: Uint8Array | string): Promise<number> {
    const bytes = this.#check(data, 'append')
    if (typeof bytes !== 'number') return Promise.reject(bytes)
    const promise = new Promise<number>(this.#executor)
    const resolve = this.#res
    const reject = this.#rej
    if (!this.#refed) { this.#refed = true; this.#keepAlive.ref() }
    if (this.#qHead !== this.#queue.length || this.#waitingSpace || !this.#write(data, bytes, resolve, reject)) this.#queue.push({ data, bytes, resolve, reject })
    return promise
  }

  /**
   * Appends one record without a promise, for callers that pipeline (as `Log.appendNoWait`).
   * Its record takes the same path as {@link append}'s. It is durable under the log's sync mode
   * once a {@link flush} called after it resolves. Throws, with nothing written, what
   * {@link append} rejects with before writing: `ERR_RECORD_TOO_LARGE`, `ERR_CLOSED`,
   * `ERR_INVALID_ARGUMENT`. A failure after it returned (the log refused the batch holding the
   * record, or closed before it was durable) rejects the next {@link flush}. When it has to wait
   * for ring space or window room, it keeps a copy of `data` in this writer's queue (memory grows
   * until the caller yields: await {@link flush} now and then).
   */
  appendNoWait(data: Uint8Array | string): void {
    const bytes = this.#check(data, 'appendNoWait')
    if (typeof bytes !== 'number') throw bytes
    if (!this.#refed) { this.#refed = true; this.#keepAlive.ref() }
    const failed = this.#settle.noWaitFailed
    if (this.#qHead !== this.#queue.length || this.#waitingSpace || !this.#write(data, bytes, noop, failed)) {
      // The caller may reuse its buffer as soon as this returns: queue a copy.
      this.#queue.push({ data: typeof data === 'string' ? data : data.slice(), bytes, resolve: noop, reject: failed })
    }
  }

  /**
   * Resolves once every append made before the call has settled: with {@link append}, as its
   * promise did; with {@link appendNoWait}, durable under the log's sync mode. Rejects with the
   * first failure of an {@link appendNoWait} since the last flush (that record is not in the log;
   * later ones may be), and with `ERR_CLOSED` when that failure was the log closing.
   */
  async flush(): Promise<void> {
    if (this.#qHead !== this.#queue.length) {
      // Queued appends have no sequence yet: the barrier takes one when it reaches the queue's head.
      this.#barriers++
      await new Promise<void>((resolve) => { this.#queue.push({ data: '', bytes: 0, resolve: noop, reject: noop, flush: resolve }) })
    } else if (this.#acked !== this.#seq) {
      await new Promise<void>((resolve) => { this.#settle.waitFor(this.#seq, resolve) })
    }
    const err = this.#settle.takeNoWaitError()
    if (err !== undefined) throw err
  }

  /** The record's byte length, or the error that refuses it (nothing written). */
  #check(data: Uint8Array | string, method: string): number | SeglogError {
    let bytes: number
    if (typeof data === 'string') {
      // Same rule as Log.append: a lone surrogate would be stored as U+FFFD, changed without a word.
      const bad = recordInputError(data, `the record given to LogWriter.${method}`)
      if (bad) return bad
      bytes = Buffer.byteLength(data, 'utf8')
    } else if (data instanceof Uint8Array) bytes = data.byteLength
    else return invalidArgument(`LogWriter.${method} takes a Uint8Array or a string; got ${data === null ? 'null' : typeof data}`)
    if (bytes === 0 && typeof data !== 'string' && isUnreadable(data)) return unreadableError()
    if (this.#closed) return new SeglogError('ERR_CLOSED', 'this LogWriter is closed; connect a new one')
    const closed = closedReason(this.#ring.i32)
    if (closed !== 0) return ringClosedError(closed)
    if (bytes > this.#maxRecord) {
      return new SeglogError('ERR_RECORD_TOO_LARGE', `record of ${bytes} bytes exceeds the worker ring's limit of ${this.#maxRecord} bytes; nothing was written (append it from the log's thread, or open the log with a larger worker ring)`)
    }
    return bytes
  }

  /**
   * Stops accepting appends, waits until every accepted one has settled, and frees this writer's
   * producer slot for another connection.
   */
  async close(): Promise<void> {
    this.#closed = true
    if (this.pending > 0) await new Promise<void>((resolve) => { this.#idleWaiters.push(resolve) })
    // Pad the chunk's unused rest (if any), or later records of other writers would wait on it.
    while (!this.#chunk.close() && !isFinished(this.#ring)) {
      this.#keepAlive.ref()
      const r = waitForSpace(this.#ring, this.#chunk.head)
      if (r.async) await r.value
      this.#keepAlive.unref()
    }
    if (!this.#released) {
      this.#released = true
      releaseProducerSlot(this.#ring, this.#rec)
      clearInterval(this.#keepAlive)
    }
  }

  /**
   * Writes the record into the ring, into this writer's chunk (chunk.ts). Returns false when it
   * must wait (ring full, window full): a wake-up is then armed and {@link #pump} retries it.
   * Returns true once it is published or failed.
   */
  #write(data: Uint8Array | string, bytes: number, resolve: Resolve, reject: Reject): boolean {
    const ring = this.#ring
    const i = ring.i32
    const c = this.#chunk
    if (((this.#seq - this.#acked) | 0) >= this.#window) { this.#armDurable(); return false }
    const len = frameBytes(bytes)
    const src = this.#payload(data, bytes)
    for (;;) {
      if (!c.open) {
        const closed = closedReason(i)
        if (closed !== 0) { reject(ringClosedError(closed)); return true }
        if (!c.reserve(len)) { this.#waitSpace(c.head); return false }
      }
      const pos = c.pos
      if (len > ((c.end - pos) >>> 0)) {
        // The rest of the chunk is too small: pad it and take a new one.
        if (!c.close()) { this.#waitSpace(c.head); return false }
        continue
      }
      const toEnd = ring.capacity - (pos & ring.mask)
      // Frames never cross the ring end: pad up to it first (within the chunk) when this one would.
      const step = toEnd < len ? toEnd : len
      if (!c.free(step)) {
        // Not free yet: unless the drainer gave up on this reservation (then it is behind the head).
        if (c.stillHeld()) { this.#waitSpace(c.head); return false }
        continue
      }
      // The drainer revokes reservations that block the ring too long; this decides the race.
      if (!c.own()) continue
      if (step !== len) { c.pad(step); continue }
      const seq = this.#seq
      const w = wordAt(ring, pos)
      writeFrame(i, this.#u8, w, this.#id, seq, src, bytes)
      // Publish: the length word goes last. Losing this exchange means the drainer skipped us.
      if (!publishFrame(i, w, len)) { c.open = false; continue }
      c.pos = (pos + len) >>> 0
      const slot = seq & (this.#window - 1)
      this.#settle.resolves[slot] = resolve
      this.#settle.rejects[slot] = reject
      this.#seq = (seq + 1) | 0
      wakeDrainer(i)
      this.#armDurable()
      return true
    }
  }

  /** The turn of the event loop that reserved a chunk ended: pad the chunk so that others' records flow. */
  readonly #endTurn = (): void => {
    this.#chunk.endTurn()
    // Queued appends still use the chunk; #pump closes it when the queue empties.
    if (this.#qHead !== this.#queue.length) return
    if (!this.#chunk.close()) this.#waitSpace(this.#chunk.head)
  }

  /**
   * The bytes to copy into the ring. Strings are encoded before reserving, into a reused scratch
   * buffer: that keeps the window between "start writing" and "publish" down to one copy. (A
   * worker terminated inside that window blocks the ring for 2 x the dead-producer timeout; see
   * docs/threads.md.)
   */
  #payload(data: Uint8Array | string, bytes: number): Uint8Array {
    if (typeof data !== 'string') return data
    if (this.#scratch.length < bytes) this.#scratch = Buffer.allocUnsafe(Math.max(bytes, this.#scratch.length * 2))
    this.#scratch.write(data, 0, bytes, 'utf8')
    return this.#scratch.subarray(0, bytes)
  }

  #waitSpace(head: number): void {
    if (this.#waitingSpace) return
    this.#waitingSpace = true
    if (isFinished(this.#ring)) { queueMicrotask(this.#onSpace); return }
    const r = waitForSpace(this.#ring, head)
    if (r.async) void r.value.then(this.#onSpace)
    else queueMicrotask(this.#onSpace)
  }

  #armDurable(): void {
    if (this.#waitingDurable || this.#acked === this.#seq) return
    this.#waitingDurable = true
    const r = waitForResults(this.#ring, this.#rec, this.#acked)
    if (r.async) void r.value.then(this.#onDurable)
    else queueMicrotask(this.#onDurable)
  }

  /** Settles every append whose result the drainer has published, then continues queued work. */
  #collectResults(): void {
    const ring = this.#ring
    // FINISHED before DURABLE: the drainer publishes its last results before it finishes, so
    // once finished, this read of DURABLE is final and nothing durable is failed below.
    const finished = isFinished(ring)
    const durable = durableCount(ring, this.#rec)
    const settle = this.#settle
    let acked = this.#acked
    while (acked !== durable && acked !== this.#seq) {
      settle.settle(acked, readResult(ring, this.#id, acked))
      acked = (acked + 1) | 0
    }
    this.#acked = acked
    settle.settleFlushes(acked)
    if (finished) { this.#failAll(closedReason(ring.i32)); return }
    this.#pump()
  }

  /** Retries queued appends in order until one has to wait. */
  #pump(): void {
    if (isFinished(this.#ring)) { this.#collectResults(); return }
    while (this.#qHead < this.#queue.length && !this.#waitingSpace) {
      const e = this.#queue[this.#qHead]
      if (e?.flush !== undefined) {
        this.#barriers--
        this.#settle.waitFor(this.#seq, e.flush)
        this.#settle.settleFlushes(this.#acked)
      } else if (e !== undefined && typeof e.data !== 'string' && (e.data.byteLength !== e.bytes || (e.bytes === 0 && isUnreadable(e.data)))) {
        // A queued view whose buffer was transferred or shrunk since append(): copying it would
        // throw half-way through a frame. Refuse it before reserving anything.
        e.reject(unreadableError())
      } else if (e !== undefined && !this.#write(e.data, e.bytes, e.resolve, e.reject)) break
      this.#queue[this.#qHead++] = undefined
    }
    if (this.#qHead === this.#queue.length) {
      this.#queue = []
      this.#qHead = 0
      // The queue is empty and the turn that reserved the chunk is over: pad its rest now.
      const c = this.#chunk
      if (c.open && !c.turnStarted && !c.close()) this.#waitSpace(c.head)
    } else if (this.#qHead > 1024) {
      this.#queue = this.#queue.slice(this.#qHead)
      this.#qHead = 0
    }
    this.#armDurable()
    this.#checkIdle()
  }

  /** The drainer stopped: nothing outstanding can become durable any more. */
  #failAll(code: number): void {
    const err = ringClosedError(code === 0 ? 1 : code)
    while (this.#acked !== this.#seq) {
      this.#settle.fail(this.#acked, err)
      this.#acked = (this.#acked + 1) | 0
    }
    const queue = this.#queue
    const from = this.#qHead
    this.#queue = []
    this.#qHead = 0
    for (let k = from; k < queue.length; k++) {
      const e = queue[k]
      if (e?.flush !== undefined) { this.#barriers--; e.flush() } else e?.reject(err)
    }
    this.#settle.settleFlushes(this.#acked)
    this.#checkIdle()
  }

  #checkIdle(): void {
    if (this.pending !== 0) return
    if (this.#refed) { this.#refed = false; this.#keepAlive.unref() }
    if (this.#idleWaiters.length > 0) {
      const waiters = this.#idleWaiters
      this.#idleWaiters = []
      for (const w of waiters) w()
    }
  }
}

function unreadableError(): SeglogError {
  return invalidArgument('LogWriter.append got a Uint8Array whose ArrayBuffer was transferred (detached) or shrunk before it was copied into the ring; ' +
    'keep the buffer until the append settles, or append a copy; nothing was written')
}
