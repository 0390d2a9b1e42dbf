/**
 * The worker-side half of worker appends: reserves space in the shared ring with one
 * `Atomics.add`, writes the frame, publishes its length last, and waits (without blocking its
 * thread) for the drainer to publish the record's offset once it is durable. See docs/threads.md.
 */
import { Buffer } from 'node:buffer'
import { SeglogError, invalidArgument } from '../errors.js'
import { isUnreadable, recordInputError } from '../record-input.js'
import { appendRejectedError, ringClosedError } from './codes.js'
import { frameBytes, readGeometry, type WorkerHandle } from './layout.js'
import {
  beginWrite, claimProducerSlot, clearWaiting, closedReason, durableCount, endReservation, hasRoom,
  headOf, isFinished, isRevoked, maxRecordBytesOf, nextGeneration, padFrame, producerRecord,
  publishFrame, readResult, releaseProducerSlot, reserve, ringView, spaceFree, startProducer, stillWriting, tailOf,
  waitForResults, waitForSpace, wakeDrainer, wordAt, writeFrame, type Ring,
} from './protocol.js'

type Resolve = (offset: number) => void
type Reject = (err: SeglogError) => void

/** An append waiting for ring space or window room (appends written at once need no object). */
interface PendingAppend {
  data: Uint8Array | string
  bytes: number
  resolve: Resolve
  reject: Reject
  /** Set on a {@link LogWriter.flush} barrier queued behind appends (then the rest is unused). */
  flush?: () => void
}

/** A flush waiting until `target` appends of this writer (by sequence) have settled. */
interface FlushWaiter {
  target: number
  resolve: () => void
}

const noop = (): void => {}

/**
 * Appends to a log from a worker thread through shared memory. Get one with
 * {@link LogWriter.connect} from the handle `log.workerHandle()` returned on the log's thread.
 *
 * Appends from one writer keep their call order in the log. Many writers (in many threads) can
 * append at once without locks; each append costs a few atomic operations and one copy into the
 * ring, and wake-ups are batched.
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
  /** Per window slot (sequence & (window - 1)): how to settle the append in flight there. */
  readonly #resolves: (Resolve | undefined)[]
  readonly #rejects: (Reject | undefined)[]
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
  #seq: number
  #acked: number
  #gen: number
  /** The current chunk: a reservation this writer fills with frames, [#cPos, #cEnd) still unused. */
  #inChunk = false
  #cPos = 0
  #cEnd = 0
  /** True once the chunk's phase moved RESERVED → WRITING (its first frame, or its padding). */
  #writing = false
  /** True from the first reservation in a turn of the event loop until that turn ends. */
  #turnStarted = false
  /** Size of a chunk after the first reservation of a turn: a sixteenth of the ring, at most 16 KiB. */
  readonly #chunkBytes: number
  /** Last head value read; stale is safe (it only ever understates the free space). */
  #head = 0
  #waitingSpace = false
  #waitingDurable = false
  #refed = false
  #closed = false
  #released = false
  #idleWaiters: (() => void)[] = []
  /** Flushes waiting for their target sequence, in target order. */
  #flushWaiters: FlushWaiter[] = []
  /** The first failure of an appendNoWait since the last flush. */
  #noWaitError: SeglogError | undefined
  readonly #noWaitFailed = (err: SeglogError): void => { this.#noWaitError ??= err }
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
    this.#chunkBytes = Math.min(g.capacity >> 4, 16384)
    this.#resolves = new Array<Resolve | undefined>(g.window).fill(undefined)
    this.#rejects = new Array<Reject | undefined>(g.window).fill(undefined)
    if (closedReason(ring.i32) !== 0) throw ringClosedError(closedReason(ring.i32))
    const id = claimProducerSlot(ring)
    if (id < 0) {
      throw new SeglogError('ERR_INVALID_ARGUMENT', `all ${g.maxProducers} producer slots of this log's worker ring are taken; close unused LogWriters or raise maxProducers`)
    }
    this.#id = id
    this.#rec = producerRecord(ring, id)
    const start = startProducer(ring, this.#rec)
    this.#seq = this.#acked = start.seq
    this.#gen = start.gen
    this.#head = headOf(ring.i32)
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
  get pending(): number { return ((this.#seq - this.#acked) | 0) + this.#queue.length - this.#qHead }

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
    if (this.#qHead !== this.#queue.length || this.#waitingSpace || !this.#write(data, bytes, noop, this.#noWaitFailed)) {
      // The caller may reuse its buffer as soon as this returns: queue a copy.
      this.#queue.push({ data: typeof data === 'string' ? data : data.slice(), bytes, resolve: noop, reject: this.#noWaitFailed })
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
      await new Promise<void>((resolve) => { this.#queue.push({ data: '', bytes: 0, resolve: noop, reject: noop, flush: resolve }) })
    } else if (this.#acked !== this.#seq) {
      await new Promise<void>((resolve) => { this.#flushWaiters.push({ target: this.#seq, resolve }) })
    }
    const err = this.#noWaitError
    this.#noWaitError = undefined
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
    while (!this.#closeChunk() && !isFinished(this.#ring)) {
      this.#keepAlive.ref()
      const r = waitForSpace(this.#ring, this.#head)
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
   * Writes the record into the ring. Returns false when it must wait (ring full, window full): a
   * wake-up is then armed and {@link #pump} retries it. Returns true once it is published or failed.
   *
   * Records go into a chunk: one reservation (protocol.ts's reserve) that this writer fills with
   * consecutive frames, each published by its own length word, and whose unused rest it pads when
   * the current turn of the event loop ends ({@link #closeChunk}). A chunk costs the reservation's
   * atomics once; a record costs a phase load, its copy and the publishing compare-exchange. The
   * first reservation of a turn is the frame's exact size, so a writer that awaits every append
   * never pads.
   */
  #write(data: Uint8Array | string, bytes: number, resolve: Resolve, reject: Reject): boolean {
    const ring = this.#ring
    const i = ring.i32
    const rec = this.#rec
    if (((this.#seq - this.#acked) | 0) >= this.#window) { this.#armDurable(); return false }
    const len = frameBytes(bytes)
    const src = this.#payload(data, bytes)
    for (;;) {
      if (!this.#inChunk) {
        const closed = closedReason(i)
        if (closed !== 0) { reject(ringClosedError(closed)); return true }
        const size = this.#reserveChunk(len)
        if (size === 0) { this.#waitSpace(this.#head); return false }
      }
      const pos = this.#cPos
      const room = (this.#cEnd - pos) >>> 0
      const gen = this.#gen
      if (len > room) {
        // The rest of the chunk is too small: pad it and take a new one.
        if (!this.#closeChunk()) { this.#waitSpace(this.#head); return false }
        continue
      }
      const toEnd = ring.capacity - (pos & ring.mask)
      // Frames never cross the ring end: pad up to it first (within the chunk) when this one would.
      const step = toEnd < len ? toEnd : len
      if (!spaceFree(ring, pos, step, this.#head)) {
        this.#head = headOf(i)
        if (!spaceFree(ring, pos, step, this.#head)) {
          // Not free yet: unless the drainer gave up on this reservation (then it is behind the head).
          if (isRevoked(i, rec)) { this.#inChunk = false; continue }
          this.#waitSpace(this.#head)
          return false
        }
      }
      // The drainer revokes reservations that block the ring too long; this decides the race.
      if (!this.#writing) {
        if (!beginWrite(i, rec, gen)) { this.#inChunk = false; continue }
        this.#writing = true
      } else if (!stillWriting(i, rec, gen)) { this.#inChunk = false; continue }
      const w = wordAt(ring, pos)
      if (step !== len) {
        // A padding frame to the ring end; losing its exchange means the reaper skipped the chunk.
        if (!padFrame(i, w, step)) this.#inChunk = false
        else this.#cPos = (pos + step) >>> 0
        continue
      }
      const seq = this.#seq
      writeFrame(i, this.#u8, w, this.#id, seq, src, bytes)
      // Publish: the length word goes last. Losing this exchange means the drainer skipped us.
      if (!publishFrame(i, w, len)) { this.#inChunk = false; continue }
      this.#cPos = (pos + len) >>> 0
      const slot = seq & (this.#window - 1)
      this.#resolves[slot] = resolve
      this.#rejects[slot] = reject
      this.#seq = (seq + 1) | 0
      wakeDrainer(i)
      this.#armDurable()
      return true
    }
  }

  /**
   * Reserves a chunk for a frame of `len` bytes: exactly `len` for the first of this turn, else
   * {@link #chunkBytes} (or `len` when the ring has no room for a whole chunk). Returns its size,
   * or 0 when the ring is full (the caller waits for space).
   */
  #reserveChunk(len: number): number {
    const ring = this.#ring
    const i = ring.i32
    let size = this.#turnStarted && len < this.#chunkBytes ? this.#chunkBytes : len
    // Space check against a cached head (the head only moves forward); reload when short.
    const tail = tailOf(i)
    if (!hasRoom(ring, tail, this.#head, size)) {
      this.#head = headOf(i)
      if (!hasRoom(ring, tail, this.#head, size)) {
        size = len
        if (!hasRoom(ring, tail, this.#head, size)) return 0
      }
    }
    const gen = nextGeneration(this.#gen)
    const pos = reserve(i, this.#rec, gen, size)
    this.#gen = gen
    this.#cPos = pos
    this.#cEnd = (pos + size) >>> 0
    this.#inChunk = true
    this.#writing = false
    if (!this.#turnStarted) {
      this.#turnStarted = true
      queueMicrotask(this.#endTurn)
    }
    return size
  }

  /**
   * Ends the chunk: pads its unused rest (when that space is free) and returns the phase to IDLE.
   * False when the rest is not free yet (the ring is full): the caller waits for space and retries.
   */
  #closeChunk(): boolean {
    if (!this.#inChunk) return true
    const ring = this.#ring
    const i = ring.i32
    const rec = this.#rec
    const gen = this.#gen
    const pos = this.#cPos
    const room = (this.#cEnd - pos) >>> 0
    if (room > 0) {
      if (!spaceFree(ring, pos, room, this.#head)) {
        this.#head = headOf(i)
        if (!spaceFree(ring, pos, room, this.#head)) {
          if (isRevoked(i, rec)) { this.#inChunk = false; return true }
          return false
        }
      }
      const owned = this.#writing ? stillWriting(i, rec, gen) : beginWrite(i, rec, gen)
      if (!owned) { this.#inChunk = false; return true }
      // Losing this exchange means the reaper skipped the rest already: nothing left to do.
      padFrame(i, wordAt(ring, pos), room)
    }
    endReservation(i, rec, gen)
    this.#inChunk = false
    wakeDrainer(i)
    return true
  }

  /** The turn of the event loop that reserved a chunk ended: pad the chunk so that others' records flow. */
  readonly #endTurn = (): void => {
    this.#turnStarted = false
    // Queued appends still use the chunk; #pump closes it when the queue empties.
    if (this.#qHead !== this.#queue.length) return
    if (!this.#closeChunk()) this.#waitSpace(this.#head)
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
    const wmask = this.#window - 1
    let acked = this.#acked
    while (acked !== durable && acked !== this.#seq) {
      const slot = acked & wmask
      const resolve = this.#resolves[slot]
      const reject = this.#rejects[slot]
      this.#resolves[slot] = undefined
      this.#rejects[slot] = undefined
      const off = readResult(ring, this.#id, acked)
      acked = (acked + 1) | 0
      if (resolve === undefined || reject === undefined) continue
      if (off >= 0) resolve(off)
      else reject(appendRejectedError(-off))
    }
    this.#acked = acked
    this.#settleFlushes()
    if (finished) { this.#failAll(closedReason(ring.i32)); return }
    this.#pump()
  }

  /** Retries queued appends in order until one has to wait. */
  #pump(): void {
    if (isFinished(this.#ring)) { this.#collectResults(); return }
    while (this.#qHead < this.#queue.length && !this.#waitingSpace) {
      const e = this.#queue[this.#qHead]
      if (e?.flush !== undefined) {
        this.#flushWaiters.push({ target: this.#seq, resolve: e.flush })
        this.#settleFlushes()
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
      if (this.#inChunk && !this.#turnStarted && !this.#closeChunk()) this.#waitSpace(this.#head)
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
    const wmask = this.#window - 1
    while (this.#acked !== this.#seq) {
      const slot = this.#acked & wmask
      const reject = this.#rejects[slot]
      this.#resolves[slot] = undefined
      this.#rejects[slot] = undefined
      this.#acked = (this.#acked + 1) | 0
      reject?.(err)
    }
    const queue = this.#queue
    const from = this.#qHead
    this.#queue = []
    this.#qHead = 0
    for (let k = from; k < queue.length; k++) {
      const e = queue[k]
      if (e?.flush !== undefined) e.flush()
      else e?.reject(err)
    }
    this.#settleFlushes()
    this.#checkIdle()
  }

  /** Resolves every flush whose target sequence has settled (targets are in order). */
  #settleFlushes(): void {
    const waiters = this.#flushWaiters
    let k = 0
    while (k < waiters.length && ((this.#acked - waiters[k].target) | 0) >= 0) waiters[k++].resolve()
    if (k > 0) this.#flushWaiters = waiters.slice(k)
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
