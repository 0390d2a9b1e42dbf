/**
 * Dead-producer detection (DESIGN rule 11): when the frame at the drainer's position stays
 * unpublished, find who reserved it and, once its owner has been silent long enough, skip the
 * region with a padding frame so the ring never wedges. Pure over the ring's shared words and an
 * injected clock: tests drive it from one thread with a fake clock (test/threads/reaper.test.ts).
 *
 * @internal
 */
import { invariantViolated } from '../invariant.js'
import type { SkipEvent, SkipReason } from './events.js'
import { PHASE_RESERVED, PHASE_WRITING } from './layout.js'
import {
  findReservation, headOf, nextAnnounced, padSkipped, readIntents, revoke, unwrittenAt, type Ring,
} from './protocol.js'

/** Monotonic milliseconds (performance.now in production, a fake in tests). */
export type Clock = () => number

/**
 * Multiplier on the dead-producer timeout for a writer caught mid-copy (skipping a live but
 * stalled one could let its late copy land in reused space) and for an unannounced reservation.
 */
export const SLOW_SKIP_FACTOR = 2

export class Reaper {
  readonly #ring: Ring
  readonly #deadMs: number
  readonly #clock: Clock
  readonly #onSkip: (event: SkipEvent) => void
  /** Ring position the drainer is stuck at (-1: not stuck), and since when. */
  #stuckAt = -1
  #stuckSince = 0
  /** The reservation word (generation and phase) of the owner of `#stuckAt` when last seen; -1: none. */
  #ownerState = -1
  /** INTENT words seen per producer while looking for the owner of an unannounced reservation. */
  readonly #intentSeen: Int32Array
  readonly #intentNow: Int32Array
  #intentSince = -1

  constructor(ring: Ring, deadMs: number, clock: Clock, onSkip: (event: SkipEvent) => void) {
    this.#ring = ring
    this.#deadMs = deadMs
    this.#clock = clock
    this.#onSkip = onSkip
    this.#intentSeen = new Int32Array(ring.geometry.maxProducers)
    this.#intentNow = new Int32Array(ring.geometry.maxProducers)
  }

  /**
   * The frame at `scan` is reserved and unpublished. Skips it if its owner is dead; `limit` is the
   * furthest position the drainer takes (TAIL, or the close snapshot), read before this call.
   * Returns 0 when the region was skipped or turned out published (look again now), otherwise the
   * milliseconds to wait (or until a producer signals) before asking again.
   */
  check(scan: number, limit: number): number {
    const now = this.#clock()
    const owner = findReservation(this.#ring, scan)
    const state = owner === undefined ? -1 : owner.state
    if (this.#stuckAt !== scan) { this.#stuckAt = scan; this.#stuckSince = now; this.#intentSince = -1; this.#ownerState = state }
    else if (state !== this.#ownerState) {
      // The owner moved (announced its position, or started writing): it is alive, and its
      // timeout starts again. Without this, a writer that spent the timeout in RESERVED and then
      // began writing could be revoked at once as a stalled writer, and its late publish land
      // in space already freed (found by the interleaving property; kept as a regression seed).
      this.#ownerState = state
      this.#stuckSince = now
    }
    const waited = now - this.#stuckSince
    if (waited >= this.#deadMs && this.#trySkip(scan, limit, waited, now)) return 0
    return waited < this.#deadMs ? this.#deadMs - waited : this.#deadMs
  }

  /** The drainer freed space (or found the ring empty): whatever blocked it is gone. */
  progressed(): void {
    this.#stuckAt = -1
  }

  /** Skips the reservation blocking `scan` if its owner gave no sign of life; true if it did something. */
  #trySkip(scan: number, limit: number, waitedMs: number, now: number): boolean {
    const ring = this.#ring
    const owner = findReservation(ring, scan)
    if (owner !== undefined) {
      if (owner.phase === PHASE_WRITING && waitedMs < this.#deadMs * SLOW_SKIP_FACTOR) return false
      if (!revoke(ring, owner)) return false
      const bytes = (owner.pos + owner.len - scan) >>> 0
      this.#checkRegion(scan, bytes)
      if (!padSkipped(ring, scan, bytes)) return true // it published after all
      this.#report(scan, bytes, owner.producer, owner.phase === PHASE_RESERVED ? 'dead-producer' : 'stalled-writer', waitedMs)
      return true
    }
    // No producer claims the space at `scan`: its owner died between Atomics.add and announcing
    // the position, and is stuck in INTENT. The space it reserved was never written, so it reads
    // as zeros up to the next frame. A live producer can also be in INTENT (for nanoseconds):
    // only skip once every INTENT seen has stayed unchanged for a whole timeout. `limit` was read
    // before the INTENT words, so a producer entering INTENT afterwards reserves beyond it.
    if (this.#intentsChanged()) this.#intentSince = now
    if (waitedMs < this.#deadMs * SLOW_SKIP_FACTOR || now - this.#intentSince < this.#deadMs) return false
    let bound = limit
    // Never past one ring ahead of the freed head: beyond that, positions alias in-flight frames.
    const freed = headOf(ring.i32)
    if (((bound - freed) >>> 0) > ring.capacity) bound = (freed + ring.capacity) >>> 0
    bound = nextAnnounced(ring, scan, bound)
    let pos = scan
    while (pos !== bound && unwrittenAt(ring, pos)) pos = (pos + 8) >>> 0
    const bytes = (pos - scan) >>> 0
    if (bytes === 0) return false
    this.#checkRegion(scan, bytes)
    if (!padSkipped(ring, scan, bytes)) return true
    this.#report(scan, bytes, -1, 'unknown-owner', waitedMs)
    return true
  }

  /** Reads every INTENT word; true when one appeared or changed since the last look (or on the first). */
  #intentsChanged(): boolean {
    let changed = this.#intentSince < 0
    const seen = this.#intentSeen
    const current = this.#intentNow
    current.fill(0)
    readIntents(this.#ring, current)
    for (let p = 0; p < seen.length; p++) {
      if (seen[p] !== current[p]) { seen[p] = current[p]; if (current[p] !== 0) changed = true }
    }
    return changed
  }

  /** Checked before the padding frame is written: a wrong length would misalign every later frame. */
  #checkRegion(position: number, bytes: number): void {
    if (bytes <= 0 || bytes > this.#ring.capacity || (bytes & 7) !== 0) {
      throw invariantViolated('a skipped region is nonempty, 8-byte aligned and within one ring', { position, bytes })
    }
  }

  #report(position: number, bytes: number, producerId: number, reason: SkipReason, waitedMs: number): void {
    this.#onSkip({ position, bytes, producerId, reason, waitedMs })
  }
}
