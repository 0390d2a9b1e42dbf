/**
 * The worker-side half of worker appends: reserves space in the shared ring with one
 * `Atomics.add`, writes the frame, publishes its length last, and waits (without blocking its
 * thread) for the drainer to publish the record's offset once it is durable. See docs/threads.md.
 */
import { Buffer } from 'node:buffer'
import { SeglogError, invalidArgument } from '../errors.js'
import {
  C_CLOSED, C_FINISHED, C_HEAD, C_MAX_RECORD, C_PARKED, C_PRODUCER_HIGH, C_SIGNAL, C_TAIL,
  FLAG_PAD, FRAME_HEADER_BYTES, P_DURABLE, P_LEN, P_POS, P_RESV, P_SLOT, PHASE_IDLE, PHASE_INTENT, PHASE_MASK,
  PHASE_RESERVED, PHASE_REVOKED, PHASE_WRITING, PRODUCER_WORDS, SLOT_FREE, SLOT_IN_USE,
  SLOT_RELEASED, codeFromNumber, frameBytes, readGeometry, waitAsync, type WorkerHandle,
} from './layout.js'

interface PendingAppend {
  data: Uint8Array | string
  bytes: number
  resolve: (offset: number) => void
  reject: (err: SeglogError) => void
}

const noop = (): void => {}

function closedError(code: number): SeglogError {
  const c = codeFromNumber(code)
  return c === 'ERR_CLOSED'
    ? new SeglogError('ERR_CLOSED', 'the log is closed; worker appends are no longer accepted (reopen the log and send a new handle)')
    : new SeglogError(c, `the log failed (${c}); worker appends are no longer accepted (reopen the log and send a new handle)`)
}

/**
 * Appends to a log from a worker thread through shared memory. Get one with
 * {@link LogWriter.connect} from the handle `log.workerHandle()` returned on the log's thread.
 *
 * Appends from one writer keep their call order in the log. Many writers (in many threads) can
 * append at once without locks; each append costs a few atomic operations and one copy into the
 * ring, and wake-ups are batched.
 */
export class LogWriter {
  readonly #i32: Int32Array
  readonly #u8: Uint8Array
  #scratch: Buffer = Buffer.allocUnsafe(1024)
  readonly #results: Float64Array
  readonly #rec: number
  readonly #id: number
  readonly #capacity: number
  readonly #mask: number
  readonly #ringWord: number
  readonly #maxRecord: number
  readonly #window: number
  readonly #inflight: (PendingAppend | undefined)[]
  readonly #keepAlive: ReturnType<typeof setInterval>
  #queue: (PendingAppend | undefined)[] = []
  #qHead = 0
  #seq: number
  #acked: number
  #gen: number
  #resvPos = -1
  /** Last head value read; stale is safe (it only ever understates the free space). */
  #head = 0
  #resvLen = 0
  #waitingSpace = false
  #waitingDurable = false
  #refed = false
  #closed = false
  #released = false
  #idleWaiters: (() => void)[] = []
  readonly #onSpace = (): void => { this.#waitingSpace = false; this.#pump() }
  readonly #onDurable = (): void => { this.#waitingDurable = false; this.#collectResults() }

  private constructor(handle: WorkerHandle) {
    const g = readGeometry(handle) // validates: anything else fails with ERR_INVALID_ARGUMENT
    const i = new Int32Array(handle.buffer)
    this.#i32 = i
    this.#u8 = new Uint8Array(handle.buffer)
    this.#results = new Float64Array(handle.buffer, g.resultsOffset, g.maxProducers * g.window)
    this.#capacity = g.capacity
    this.#mask = g.capacity - 1
    this.#ringWord = g.ringOffset >> 2
    this.#maxRecord = Atomics.load(i, C_MAX_RECORD)
    this.#window = g.window
    this.#inflight = new Array<PendingAppend | undefined>(g.window).fill(undefined)
    if (Atomics.load(i, C_CLOSED) !== 0) throw closedError(Atomics.load(i, C_CLOSED))
    const base = g.producersOffset >> 2
    let id = -1
    for (let p = 0; p < g.maxProducers && id < 0; p++) {
      const w = base + p * PRODUCER_WORDS + P_SLOT
      const s = Atomics.load(i, w)
      if ((s === SLOT_FREE || s === SLOT_RELEASED) && Atomics.compareExchange(i, w, s, SLOT_IN_USE) === s) id = p
    }
    if (id < 0) {
      throw new SeglogError('ERR_INVALID_ARGUMENT', `all ${g.maxProducers} producer slots of this log's worker ring are taken; close unused LogWriters or raise maxProducers`)
    }
    // Make the slot visible to the drainer's scans before any reservation.
    for (;;) {
      const high = Atomics.load(i, C_PRODUCER_HIGH)
      if (high > id || Atomics.compareExchange(i, C_PRODUCER_HIGH, high, id + 1) === high) break
    }
    this.#id = id
    this.#rec = base + id * PRODUCER_WORDS
    this.#results = this.#results.subarray(id * g.window, (id + 1) * g.window)
    this.#seq = this.#acked = Atomics.load(i, this.#rec + P_DURABLE)
    this.#head = Atomics.load(i, C_HEAD) >>> 0
    this.#gen = Atomics.load(i, this.#rec + P_RESV) >>> 3
    Atomics.store(i, this.#rec + P_RESV, (this.#gen << 3) | PHASE_IDLE)
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
   * `ERR_CLOSED` once the log or this writer is closed, `ERR_INVALID_ARGUMENT` for other types.
   * When the ring is full, or this writer has `producerWindow` appends outstanding, the append
   * waits for space; nothing is dropped.
   */
  append(data: Uint8Array | string): Promise<number> {
    let bytes: number
    if (typeof data === 'string') bytes = Buffer.byteLength(data, 'utf8')
    else if (data instanceof Uint8Array) bytes = data.byteLength
    else return Promise.reject(invalidArgument(`LogWriter.append takes a Uint8Array or a string; got ${data === null ? 'null' : typeof data}`))
    if (this.#closed) return Promise.reject(new SeglogError('ERR_CLOSED', 'this LogWriter is closed; connect a new one'))
    const closed = Atomics.load(this.#i32, C_CLOSED)
    if (closed !== 0) return Promise.reject(closedError(closed))
    if (bytes > this.#maxRecord) {
      return Promise.reject(new SeglogError('ERR_RECORD_TOO_LARGE', `record of ${bytes} bytes exceeds the worker ring's limit of ${this.#maxRecord} bytes; nothing was written (append it from the log's thread, or open the log with a larger worker ring)`))
    }
    let resolve!: (offset: number) => void
    let reject!: (err: SeglogError) => void
    const promise = new Promise<number>((res, rej) => { resolve = res; reject = rej })
    const entry: PendingAppend = { data, bytes, resolve, reject }
    if (!this.#refed) { this.#refed = true; this.#keepAlive.ref() }
    if (this.#qHead !== this.#queue.length || this.#waitingSpace || !this.#write(entry)) this.#queue.push(entry)
    return promise
  }

  /**
   * Stops accepting appends, waits until every accepted one has settled, and frees this writer's
   * producer slot for another connection.
   */
  async close(): Promise<void> {
    this.#closed = true
    if (this.pending > 0) await new Promise<void>((resolve) => { this.#idleWaiters.push(resolve) })
    if (!this.#released) {
      this.#released = true
      Atomics.store(this.#i32, this.#rec + P_SLOT, SLOT_RELEASED)
      clearInterval(this.#keepAlive)
    }
  }

  /**
   * Writes `e` into the ring. Returns false when it must wait (ring full, window full): a wake-up
   * is then armed and {@link #pump} retries it. Returns true once `e` is published or failed.
   */
  #write(e: PendingAppend): boolean {
    const i = this.#i32
    const rec = this.#rec
    const cap = this.#capacity
    if (((this.#seq - this.#acked) | 0) >= this.#window) { this.#armDurable(); return false }
    const len = frameBytes(e.bytes)
    // Strings are encoded before reserving, into a reused scratch buffer: that keeps the window
    // between "start writing" and "publish" below down to one copy. (A worker terminated inside
    // that window blocks the ring for 2 x the dead-producer timeout; see docs/threads.md.)
    let src: Uint8Array
    if (typeof e.data === 'string') {
      if (this.#scratch.length < e.bytes) this.#scratch = Buffer.allocUnsafe(Math.max(e.bytes, this.#scratch.length * 2))
      this.#scratch.write(e.data, 0, e.bytes, 'utf8')
      src = this.#scratch.subarray(0, e.bytes)
    } else {
      src = e.data
    }
    for (;;) {
      let pos = this.#resvPos
      if (pos < 0) {
        const closed = Atomics.load(i, C_CLOSED)
        if (closed !== 0) { e.reject(closedError(closed)); return true }
        // Space check against a cached head (the head only moves forward); reload when short.
        const tail = Atomics.load(i, C_TAIL)
        if (((tail - this.#head) >>> 0) + len > cap) {
          this.#head = Atomics.load(i, C_HEAD) >>> 0
          if (((tail - this.#head) >>> 0) + len > cap) { this.#waitSpace(this.#head); return false }
        }
        // Announce the intent (length), reserve, announce the position. A worker terminated
        // between the Atomics.add and the last store leaves an INTENT the drainer can recognise
        // as dead (it never changes), never a reservation nobody can account for.
        // (P_LEN and P_POS are plain writes: the Atomics.store of P_RESV publishes them.)
        const gen = (this.#gen + 1) & 0x0fffffff
        i[rec + P_LEN] = len
        Atomics.store(i, rec + P_RESV, (gen << 3) | PHASE_INTENT)
        pos = Atomics.add(i, C_TAIL, len) >>> 0
        i[rec + P_POS] = pos | 0
        Atomics.store(i, rec + P_RESV, (gen << 3) | PHASE_RESERVED)
        this.#gen = gen
        this.#resvPos = pos
        this.#resvLen = len
      }
      const gen = this.#gen
      const rlen = this.#resvLen
      if (((pos + rlen - this.#head) >>> 0) > cap) {
        this.#head = Atomics.load(i, C_HEAD) >>> 0
        if (((pos + rlen - this.#head) >>> 0) > cap) {
          // Not free yet: unless the drainer gave up on this reservation (then it is behind the head).
          if ((Atomics.load(i, rec + P_RESV) & PHASE_MASK) === PHASE_REVOKED) { this.#resvPos = -1; continue }
          this.#waitSpace(this.#head)
          return false
        }
      }
      const reserved = (gen << 3) | PHASE_RESERVED
      // The drainer revokes reservations that block the ring too long; this decides the race.
      if (Atomics.compareExchange(i, rec + P_RESV, reserved, (gen << 3) | PHASE_WRITING) !== reserved) { this.#resvPos = -1; continue }
      const at = pos & this.#mask
      const w = this.#ringWord + (at >> 2)
      this.#resvPos = -1
      if (at + rlen > cap || rlen !== len) {
        // The frame would cross the end of the ring: pad the whole reservation and reserve again.
        Atomics.compareExchange(i, w, 0, rlen | FLAG_PAD)
        Atomics.store(i, rec + P_RESV, (gen << 3) | PHASE_IDLE)
        this.#wakeDrainer()
        continue
      }
      const seq = this.#seq
      i[w + 1] = this.#id
      i[w + 2] = seq
      i[w + 3] = e.bytes
      this.#u8.set(src, (this.#ringWord << 2) + at + FRAME_HEADER_BYTES)
      // Publish: the length word goes last. Losing this exchange means the drainer skipped us.
      if (Atomics.compareExchange(i, w, 0, rlen) !== 0) continue
      Atomics.store(i, rec + P_RESV, (gen << 3) | PHASE_IDLE)
      this.#inflight[seq & (this.#window - 1)] = e
      this.#seq = (seq + 1) | 0
      this.#wakeDrainer()
      this.#armDurable()
      return true
    }
  }

  /** Wakes the drainer only if it is parked: one notify per park, never one per record. */
  #wakeDrainer(): void {
    const i = this.#i32
    if (Atomics.load(i, C_PARKED) !== 0 && Atomics.exchange(i, C_PARKED, 0) !== 0) {
      Atomics.add(i, C_SIGNAL, 1)
      Atomics.notify(i, C_SIGNAL)
    }
  }

  #waitSpace(head: number): void {
    if (this.#waitingSpace) return
    this.#waitingSpace = true
    if (Atomics.load(this.#i32, C_FINISHED) !== 0) { queueMicrotask(this.#onSpace); return }
    const r = waitAsync(this.#i32, C_HEAD, head | 0)
    if (r.async) void r.value.then(this.#onSpace)
    else queueMicrotask(this.#onSpace)
  }

  #armDurable(): void {
    if (this.#waitingDurable || this.#acked === this.#seq) return
    this.#waitingDurable = true
    const r = waitAsync(this.#i32, this.#rec + P_DURABLE, this.#acked)
    if (r.async) void r.value.then(this.#onDurable)
    else queueMicrotask(this.#onDurable)
  }

  /** Settles every append whose result the drainer has published, then continues queued work. */
  #collectResults(): void {
    const i = this.#i32
    // FINISHED before DURABLE: the drainer publishes its last results before it finishes, so
    // once finished, this read of DURABLE is final and nothing durable is failed below.
    const finished = Atomics.load(i, C_FINISHED) !== 0
    const durable = Atomics.load(i, this.#rec + P_DURABLE)
    const wmask = this.#window - 1
    let acked = this.#acked
    while (acked !== durable && acked !== this.#seq) {
      const slot = acked & wmask
      const e = this.#inflight[slot]
      this.#inflight[slot] = undefined
      const off = this.#results[slot]
      acked = (acked + 1) | 0
      if (e === undefined) continue
      if (off >= 0) e.resolve(off)
      else e.reject(closedErrorOrCode(-off))
    }
    this.#acked = acked
    if (finished) { this.#failAll(Atomics.load(i, C_CLOSED)); return }
    this.#pump()
  }

  /** Retries queued appends in order until one has to wait. */
  #pump(): void {
    const i = this.#i32
    if (Atomics.load(i, C_FINISHED) !== 0) { this.#collectResults(); return }
    while (this.#qHead < this.#queue.length && !this.#waitingSpace) {
      const e = this.#queue[this.#qHead]
      if (e !== undefined && !this.#write(e)) break
      this.#queue[this.#qHead++] = undefined
    }
    if (this.#qHead === this.#queue.length) { this.#queue = []; this.#qHead = 0 } else if (this.#qHead > 1024) {
      this.#queue = this.#queue.slice(this.#qHead)
      this.#qHead = 0
    }
    this.#armDurable()
    this.#checkIdle()
  }

  /** The drainer stopped: nothing outstanding can become durable any more. */
  #failAll(code: number): void {
    const err = closedError(code === 0 ? 1 : code)
    const wmask = this.#window - 1
    while (this.#acked !== this.#seq) {
      const slot = this.#acked & wmask
      const e = this.#inflight[slot]
      this.#inflight[slot] = undefined
      this.#acked = (this.#acked + 1) | 0
      e?.reject(err)
    }
    const queue = this.#queue
    const from = this.#qHead
    this.#queue = []
    this.#qHead = 0
    for (let k = from; k < queue.length; k++) queue[k]?.reject(err)
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

function closedErrorOrCode(code: number): SeglogError {
  const c = codeFromNumber(code)
  if (c === 'ERR_CLOSED') return closedError(code)
  return new SeglogError(c, `the log rejected this worker append (${c}); see the log's thread for details`)
}
