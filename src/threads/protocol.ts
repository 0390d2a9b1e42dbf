/**
 * The ring protocol: every transition of the shared words, as named functions used by both the
 * worker-side {@link LogWriter} and the log-side drainer (collector, completer, reaper). Read this
 * file to review the protocol; the other files only decide *when* to take a step.
 *
 * Producer slot (P_SLOT):   FREE ──claim──▶ IN_USE ──release──▶ RELEASED ──claim──▶ IN_USE …
 *                           (a worker that dies keeps its slot IN_USE forever: its last records
 *                           may still be in flight, so the slot is never handed out again)
 *
 * Reservation (P_RESV = generation << 3 | phase), one reservation per producer at a time:
 *
 *   IDLE ─announceIntent─▶ INTENT ─reserveSpace + announcePosition─▶ RESERVED
 *   RESERVED ─beginWrite─▶ WRITING ─writeFrame, publishFrame─▶ (endReservation) IDLE
 *   WRITING ─padReservation (frame would cross the ring end)─▶ IDLE, then reserve again
 *   RESERVED | WRITING ─revoke (reaper: owner silent past the timeout)─▶ REVOKED
 *   INTENT forever: the owner died between Atomics.add and announcing the position; the reaper
 *                   finds the unannounced bytes by elimination (zeros up to the next frame)
 *
 * Frame length word (the frame's first word): 0 ─publishFrame─▶ len, or 0 ─pad─▶ len | FLAG_PAD.
 * Writer and reaper both compare-exchange it from 0, so exactly one of "published" and
 * "skipped" wins. The drainer zeroes consumed space before advancing HEAD ({@link consume}).
 *
 * Every hand-off is "plain writes of the payload, then one Atomics store or exchange of the word
 * that publishes it"; the reader loads that word with Atomics before touching the payload
 * (sequentially consistent Atomics give the happens-before edge). See docs/threads.md.
 *
 * @internal
 */
import {
  C_CLOSED, C_FINISHED, C_HEAD, C_MAX_RECORD, C_PARKED, C_PRODUCER_HIGH, C_SIGNAL, C_TAIL, FLAG_PAD,
  FRAME_HEADER_BYTES, P_DURABLE, P_LEN, P_WAITING, P_POS, P_RESV, P_SLOT, PHASE_IDLE, PHASE_INTENT, PHASE_MASK,
  PHASE_RESERVED, PHASE_REVOKED, PHASE_WRITING, SLOT_FREE, SLOT_IN_USE, SLOT_RELEASED, producerRecord,
  waitAsync, wordAt, type Ring, type WaitAsyncResult,
} from './layout.js'

export { createRing, producerRecord, ringView, wordAt, type Ring } from './layout.js'
// The result hand-off (DURABLE, WAITING and the result slots) has its own module.
export {
  clearWaiting, durableCount, isWaiting, markWaiting, notifyDurable, publishDurable, readResult, storeDurable,
  waitForDurable, waitForResults, writeResults,
} from './results.js'

/*
 * Functions on the per-record path take the ring's Int32Array itself (and word indexes), not the
 * Ring: the caller keeps the array in a local, so V8 does not reload it (and its backing store)
 * from the Ring after every Atomics call. Measured: that reloading cost about 10% CPU per record.
 */

/** One past the highest producer slot ever claimed, capped at the slot count. */
export function producerHigh(ring: Ring): number {
  return Math.min(Atomics.load(ring.i32, C_PRODUCER_HIGH), ring.geometry.maxProducers)
}

// ---------------------------------------------------------------- producer slots (writer side)

/** Claims a FREE or RELEASED slot and makes it visible to the drainer's scans; -1 when none is left. */
export function claimProducerSlot(ring: Ring): number {
  const i = ring.i32
  let id = -1
  for (let p = 0; p < ring.geometry.maxProducers && id < 0; p++) {
    const w = producerRecord(ring, p) + P_SLOT
    const s = Atomics.load(i, w)
    if ((s === SLOT_FREE || s === SLOT_RELEASED) && Atomics.compareExchange(i, w, s, SLOT_IN_USE) === s) id = p
  }
  if (id < 0) return -1
  // Raise PRODUCER_HIGH before the first reservation, or the reaper would not look at this slot.
  for (;;) {
    const high = Atomics.load(i, C_PRODUCER_HIGH)
    if (high > id || Atomics.compareExchange(i, C_PRODUCER_HIGH, high, id + 1) === high) break
  }
  return id
}

/** What a producer resumes from when it takes a slot: its next sequence and reservation generation. */
export interface ProducerStart {
  /** Records of this slot whose result was published so far (the next sequence number). */
  seq: number
  gen: number
}

/** Reads where the slot's previous owner stopped and sets the phase to IDLE. */
export function startProducer(ring: Ring, rec: number): ProducerStart {
  const i = ring.i32
  const seq = Atomics.load(i, rec + P_DURABLE)
  const gen = Atomics.load(i, rec + P_RESV) >>> 3
  Atomics.store(i, rec + P_RESV, (gen << 3) | PHASE_IDLE)
  // A mark left by the previous owner would only cost a notify; start clean.
  Atomics.store(i, rec + P_WAITING, 0)
  return { seq, gen }
}

/** Frees the slot for another connection (only once every append of this producer settled). */
export function releaseProducerSlot(ring: Ring, rec: number): void {
  Atomics.store(ring.i32, rec + P_SLOT, SLOT_RELEASED)
}

// ---------------------------------------------------------------- reservations (writer side)

/** The generation that follows `gen` (28 bits, wrapping). */
export function nextGeneration(gen: number): number {
  return (gen + 1) & 0x0fffffff
}

/** True when a frame of `len` bytes fits between the tail and the (possibly stale) head. */
export function hasRoom(ring: Ring, tail: number, head: number, len: number): boolean {
  return ((tail - head) >>> 0) + len <= ring.capacity
}

/**
 * Step 1 of a reservation: record the length and phase INTENT. A producer that dies after this
 * and before {@link announcePosition} stays in INTENT, which the reaper recognises as dead.
 * (P_LEN is a plain write: the Atomics store of P_RESV publishes it.)
 */
export function announceIntent(i: Int32Array, rec: number, gen: number, len: number): void {
  i[rec + P_LEN] = len
  Atomics.store(i, rec + P_RESV, (gen << 3) | PHASE_INTENT)
}

/** Step 2: reserve `len` bytes with one Atomics.add on TAIL; returns the reserved position. */
export function reserveSpace(i: Int32Array, len: number): number {
  return Atomics.add(i, C_TAIL, len) >>> 0
}

/** Step 3: announce the position (phase RESERVED), so that the reaper can find the owner. */
export function announcePosition(i: Int32Array, rec: number, gen: number, pos: number): void {
  i[rec + P_POS] = pos | 0
  Atomics.store(i, rec + P_RESV, (gen << 3) | PHASE_RESERVED)
}

/** Steps 1-3 in order: returns the position of a `len`-byte reservation under generation `gen`. */
export function reserve(i: Int32Array, rec: number, gen: number, len: number): number {
  announceIntent(i, rec, gen, len)
  const pos = reserveSpace(i, len)
  announcePosition(i, rec, gen, pos)
  return pos
}

/** True once the drainer has freed every byte of the reservation [pos, pos + len). */
export function spaceFree(ring: Ring, pos: number, len: number, head: number): boolean {
  return ((pos + len - head) >>> 0) <= ring.capacity
}

/** True when the reaper revoked this producer's current reservation (it lies behind the head). */
export function isRevoked(i: Int32Array, rec: number): boolean {
  return (Atomics.load(i, rec + P_RESV) & PHASE_MASK) === PHASE_REVOKED
}

/**
 * RESERVED → WRITING. False when the reaper revoked the reservation first: the producer must
 * reserve again (its record is not lost, its order is kept).
 */
export function beginWrite(i: Int32Array, rec: number, gen: number): boolean {
  const reserved = (gen << 3) | PHASE_RESERVED
  return Atomics.compareExchange(i, rec + P_RESV, reserved, (gen << 3) | PHASE_WRITING) === reserved
}

/** True when a frame at `pos` of `len` bytes would cross the end of the ring (frames never wrap). */
export function crossesRingEnd(ring: Ring, pos: number, len: number): boolean {
  return (pos & ring.mask) + len > ring.capacity
}

/** Turns the whole reservation (frame word `w`) into a padding frame, from WRITING; back to IDLE. */
export function padReservation(i: Int32Array, rec: number, gen: number, w: number, len: number): void {
  Atomics.compareExchange(i, w, 0, len | FLAG_PAD)
  Atomics.store(i, rec + P_RESV, (gen << 3) | PHASE_IDLE)
}

/**
 * Writes the header words (all but the length) and the `bytes` of `payload` of the frame at word
 * `w`, in WRITING. (`bytes` is passed, not read: a typed array's byteLength is a slow getter here.)
 */
export function writeFrame(i: Int32Array, u8: Uint8Array, w: number, producer: number, seq: number, payload: Uint8Array, bytes: number): void {
  i[w + 1] = producer
  i[w + 2] = seq
  i[w + 3] = bytes
  u8.set(payload, (w << 2) + FRAME_HEADER_BYTES)
}

/**
 * True while the producer still owns its reservation for writing (phase WRITING of generation
 * `gen`): checked before each frame after the first of a chunk, where the first did
 * {@link beginWrite}. False once the reaper revoked it: the producer drops the rest of the chunk.
 */
export function stillWriting(i: Int32Array, rec: number, gen: number): boolean {
  return Atomics.load(i, rec + P_RESV) === ((gen << 3) | PHASE_WRITING)
}

/**
 * Writes a padding frame of `bytes` at word `w` (the unused rest of a chunk, or the space up to
 * the ring end), from 0 like a publish. False: the reaper padded (skipped) it first.
 */
export function padFrame(i: Int32Array, w: number, bytes: number): boolean {
  return Atomics.compareExchange(i, w, 0, bytes | FLAG_PAD) === 0
}

/** Publishes the frame at word `w` by storing its length last. False: the reaper skipped it first. */
export function publishFrame(i: Int32Array, w: number, len: number): boolean {
  return Atomics.compareExchange(i, w, 0, len) === 0
}

/** Ends the reservation (phase IDLE) after a publish. */
export function endReservation(i: Int32Array, rec: number, gen: number): void {
  Atomics.store(i, rec + P_RESV, (gen << 3) | PHASE_IDLE)
}

/** Wakes the drainer only if it is parked: one notify per park, never one per record. */
export function wakeDrainer(i: Int32Array): void {
  if (Atomics.load(i, C_PARKED) !== 0 && Atomics.exchange(i, C_PARKED, 0) !== 0) {
    Atomics.add(i, C_SIGNAL, 1)
    Atomics.notify(i, C_SIGNAL)
  }
}

// ---------------------------------------------------------------- draining (drainer side)

/** The length word at `pos`: 0 while unpublished, else length | flags. */
export function frameWord(ring: Ring, pos: number): number {
  return Atomics.load(ring.i32, wordAt(ring, pos))
}

/**
 * Zeroes [from, to) (wrapping) and advances HEAD to `to`, waking producers waiting for space.
 * Zeroing first is what makes "length word 0" mean "not yet published" on the next lap.
 */
export function consume(ring: Ring, from: number, to: number): void {
  const base = ring.ringWord << 2
  const a = from & ring.mask
  const span = (to - from) >>> 0
  if (a + span <= ring.capacity) zero(ring, base + a, base + a + span)
  else {
    zero(ring, base + a, base + ring.capacity)
    zero(ring, base, base + a + span - ring.capacity)
  }
  Atomics.store(ring.i32, C_HEAD, to | 0)
  Atomics.notify(ring.i32, C_HEAD)
}

/** Zeroes bytes [from, to) of the buffer; whole 8-byte words when both ends are aligned (always, for frames). */
function zero(ring: Ring, from: number, to: number): void {
  if (((from | to) & 7) === 0) ring.i64.fill(0n, from >> 3, to >> 3)
  else ring.u8.fill(0, from, to)
}

/** Announces that the drainer is about to park; returns the SIGNAL value to wait on. */
export function prepareToPark(ring: Ring): number {
  const sig = Atomics.load(ring.i32, C_SIGNAL)
  Atomics.store(ring.i32, C_PARKED, 1)
  return sig
}

/** The drainer is running again (producers need not wake it). */
export function unpark(ring: Ring): void {
  Atomics.store(ring.i32, C_PARKED, 0)
}

/** Wakes a parked drainer unconditionally (close). */
export function signalDrainer(ring: Ring): void {
  Atomics.add(ring.i32, C_SIGNAL, 1)
  Atomics.notify(ring.i32, C_SIGNAL)
}

/** Waits (without blocking the thread) until SIGNAL moves from `sig`, or `timeoutMs` passes. */
export function waitForSignal(ring: Ring, sig: number, timeoutMs?: number): WaitAsyncResult {
  return waitAsync(ring.i32, C_SIGNAL, sig, timeoutMs)
}

/** Waits until HEAD moves from `head` (a producer waiting for space). */
export function waitForSpace(ring: Ring, head: number): WaitAsyncResult {
  return waitAsync(ring.i32, C_HEAD, head | 0)
}

/** Wakes every producer waiting for space (they re-check the close word). */
export function wakeSpaceWaiters(ring: Ring): void {
  Atomics.notify(ring.i32, C_HEAD)
}

/** Largest payload a producer may append through this ring. */
export function maxRecordBytesOf(ring: Ring): number {
  return Atomics.load(ring.i32, C_MAX_RECORD)
}

// ---------------------------------------------------------------- reaping (drainer side)

/** A producer's announced reservation, as the reaper reads it. */
export interface Reservation {
  producer: number
  /** The whole P_RESV word read (generation and phase): the revoke compare-exchanges from it. */
  state: number
  phase: number
  pos: number
  len: number
}

/** The announced (RESERVED or WRITING) reservation that covers ring position `pos`, if any. */
export function findReservation(ring: Ring, pos: number): Reservation | undefined {
  const i = ring.i32
  const high = producerHigh(ring)
  for (let p = 0; p < high; p++) {
    const r = producerRecord(ring, p)
    const state = Atomics.load(i, r + P_RESV)
    const phase = state & PHASE_MASK
    if (phase !== PHASE_RESERVED && phase !== PHASE_WRITING) continue
    const start = Atomics.load(i, r + P_POS) >>> 0
    const len = Atomics.load(i, r + P_LEN)
    if (((pos - start) >>> 0) < len) return { producer: p, state, phase, pos: start, len }
  }
  return undefined
}

/**
 * RESERVED | WRITING → REVOKED, from the exact state the reaper read. After it the producer can
 * no longer start writing; a producer already writing loses the race for the length word.
 */
export function revoke(ring: Ring, r: Reservation): boolean {
  const rec = producerRecord(ring, r.producer) + P_RESV
  return Atomics.compareExchange(ring.i32, rec, r.state, (r.state & ~PHASE_MASK) | PHASE_REVOKED) === r.state
}

/** Writes a padding frame of `bytes` at `pos` from 0. False: the owner published first. */
export function padSkipped(ring: Ring, pos: number, bytes: number): boolean {
  return Atomics.compareExchange(ring.i32, wordAt(ring, pos), 0, bytes | FLAG_PAD) === 0
}

/** The P_RESV word of every producer in INTENT (0 for the others), into `out`. */
export function readIntents(ring: Ring, out: Int32Array): void {
  const i = ring.i32
  const high = producerHigh(ring)
  for (let p = 0; p < high; p++) {
    const s = Atomics.load(i, producerRecord(ring, p) + P_RESV)
    out[p] = (s & PHASE_MASK) === PHASE_INTENT ? s : 0
  }
}

/** The nearest announced reservation start after `from` and before `bound` (else `bound`). */
export function nextAnnounced(ring: Ring, from: number, bound: number): number {
  const i = ring.i32
  const high = producerHigh(ring)
  const dist = (x: number): number => (x - from) >>> 0
  let nearest = bound
  for (let p = 0; p < high; p++) {
    const r = producerRecord(ring, p)
    const phase = Atomics.load(i, r + P_RESV) & PHASE_MASK
    if (phase !== PHASE_RESERVED && phase !== PHASE_WRITING) continue
    const pos = Atomics.load(i, r + P_POS) >>> 0
    if (dist(pos) > 0 && dist(pos) < dist(nearest)) nearest = pos
  }
  return nearest
}

/** True when the 8 bytes at `pos` are zero: never published, never announced, never written. */
export function unwrittenAt(ring: Ring, pos: number): boolean {
  const w = wordAt(ring, pos)
  return Atomics.load(ring.i32, w) === 0 && ring.i32[w + 1] === 0
}

// ---------------------------------------------------------------- results and life cycle

/** New appends fail from now on with the code behind `codeNumber`; the first reason stays. */
export function markClosed(ring: Ring, codeNumber: number): void {
  Atomics.compareExchange(ring.i32, C_CLOSED, 0, codeNumber)
}

/** Overrides the close reason (a failure found after a plain close). */
export function setClosedReason(ring: Ring, codeNumber: number): void {
  Atomics.store(ring.i32, C_CLOSED, codeNumber)
}

/** 0 while open, else the error number of the reason. */
export function closedReason(i: Int32Array): number {
  return Atomics.load(i, C_CLOSED)
}

/** The drainer stopped for good: wake every waiting producer so that nobody waits on it. */
export function markFinished(ring: Ring): void {
  const i = ring.i32
  Atomics.store(i, C_FINISHED, 1)
  Atomics.notify(i, C_HEAD)
  Atomics.notify(i, C_SIGNAL)
  const high = producerHigh(ring)
  for (let p = 0; p < high; p++) Atomics.notify(i, producerRecord(ring, p) + P_DURABLE)
}

/** True once the drainer has stopped: results not yet published never will be. */
export function isFinished(ring: Ring): boolean {
  return Atomics.load(ring.i32, C_FINISHED) !== 0
}

/** The current HEAD (freed) and TAIL (reserved) counters. */
export function headOf(i: Int32Array): number {
  return Atomics.load(i, C_HEAD) >>> 0
}

export function tailOf(i: Int32Array): number {
  return Atomics.load(i, C_TAIL) >>> 0
}
