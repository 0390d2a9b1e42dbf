/**
 * A writer's chunk: one reservation of ring space (protocol.ts's reserve) that the writer fills
 * with consecutive frames, each published by its own length word, and whose unused rest it pads
 * when its turn of the event loop ends. A chunk costs the reservation's atomics once; a frame
 * costs a phase load ({@link Chunk.own}), its copy and the publishing compare-exchange.
 *
 * The first reservation of a turn is the frame's exact size, so a writer that awaits every append
 * never pads; later ones in the same turn are {@link Chunk.bytes} long. The reaper treats a chunk
 * as any reservation: it revokes it from the first unpublished position and pads to its end.
 *
 * @internal
 */
import {
  beginWrite, endReservation, hasRoom, headOf, isRevoked, nextGeneration, padFrame, reserve, spaceFree,
  stillWriting, tailOf, wakeDrainer, wordAt, type Ring,
} from './protocol.js'

export class Chunk {
  /** True while the writer holds a reservation; [pos, end) of it is still unused. */
  open = false
  pos = 0
  end = 0
  /** The reservation's generation (bumped per reservation; stale revocations cannot hit a later one). */
  gen: number
  /** Last head value read; stale is safe (it only ever understates the free space). */
  head: number
  /** True once the phase moved RESERVED → WRITING (its first frame, or its padding). */
  #writing = false
  /** True from the first reservation in a turn of the event loop until {@link endTurn}. */
  #turnStarted = false
  readonly #ring: Ring
  readonly #i32: Int32Array
  readonly #rec: number
  /** Size of a chunk after the first reservation of a turn: a sixteenth of the ring, at most 16 KiB. */
  readonly bytes: number
  /** Called (once per turn) when the first reservation of a turn is made: schedule {@link endTurn}. */
  readonly #onTurnStart: () => void

  constructor(ring: Ring, rec: number, gen: number, onTurnStart: () => void) {
    this.#ring = ring
    this.#i32 = ring.i32
    this.#rec = rec
    this.gen = gen
    this.head = headOf(ring.i32)
    this.bytes = Math.min(ring.capacity >> 4, 16384)
    this.#onTurnStart = onTurnStart
  }

  /** True while the turn that made the last reservation has not ended. */
  get turnStarted(): boolean { return this.#turnStarted }

  /** The turn ended: the next reservation is exact-sized again. */
  endTurn(): void { this.#turnStarted = false }

  /**
   * Reserves a chunk for a frame of `len` bytes (exactly `len` for the first of a turn, or when
   * the ring has no room for a whole chunk). Returns false when the ring is full.
   */
  reserve(len: number): boolean {
    const ring = this.#ring
    const i = this.#i32
    let size = this.#turnStarted && len < this.bytes ? this.bytes : len
    // Space check against a cached head (the head only moves forward); reload when short.
    const tail = tailOf(i)
    if (!hasRoom(ring, tail, this.head, size)) {
      this.head = headOf(i)
      if (!hasRoom(ring, tail, this.head, size)) {
        size = len
        if (!hasRoom(ring, tail, this.head, size)) return false
      }
    }
    const gen = nextGeneration(this.gen)
    const pos = reserve(i, this.#rec, gen, size)
    this.gen = gen
    this.pos = pos
    this.end = (pos + size) >>> 0
    this.open = true
    this.#writing = false
    if (!this.#turnStarted) {
      this.#turnStarted = true
      this.#onTurnStart()
    }
    return true
  }

  /** True once [pos, pos + bytes) is free (the drainer consumed the previous lap there). */
  free(bytes: number): boolean {
    if (spaceFree(this.#ring, this.pos, bytes, this.head)) return true
    this.head = headOf(this.#i32)
    return spaceFree(this.#ring, this.pos, bytes, this.head)
  }

  /**
   * Takes (or checks) ownership before writing at {@link pos}: RESERVED → WRITING for the first
   * write, the phase still WRITING for later ones. False when the reaper revoked the chunk: it is
   * dropped, and the writer reserves again (its record is not lost, its order is kept).
   */
  own(): boolean {
    const owned = this.#writing ? stillWriting(this.#i32, this.#rec, this.gen) : beginWrite(this.#i32, this.#rec, this.gen)
    if (owned) this.#writing = true
    else this.open = false
    return owned
  }

  /** While its space is not free: false if the reaper revoked the chunk (it is dropped). */
  stillHeld(): boolean {
    if (!isRevoked(this.#i32, this.#rec)) return true
    this.open = false
    return false
  }

  /** Writes a padding frame of `bytes` at {@link pos} (up to the ring end); false: the reaper skipped the chunk. */
  pad(bytes: number): boolean {
    if (!padFrame(this.#i32, wordAt(this.#ring, this.pos), bytes)) { this.open = false; return false }
    this.pos = (this.pos + bytes) >>> 0
    return true
  }

  /**
   * Ends the chunk: pads its unused rest (once that space is free) and returns the phase to IDLE.
   * False when the rest is not free yet (the ring is full): wait for space and call again.
   */
  close(): boolean {
    if (!this.open) return true
    const i = this.#i32
    const room = (this.end - this.pos) >>> 0
    if (room > 0) {
      if (!this.free(room)) return !this.stillHeld()
      if (!this.own()) return true
      // Losing this exchange means the reaper skipped the rest already: nothing left to do.
      padFrame(i, wordAt(this.#ring, this.pos), room)
    }
    endReservation(i, this.#rec, this.gen)
    this.open = false
    wakeDrainer(i)
    return true
  }
}
