// A chunked producer for the one-thread ring simulation (not a test file itself): LogWriter's
// steps since issue 13's third session, one shared-memory transition each. A chunk is one
// reservation filled with consecutive frames, each published by its own length word; the unused
// rest is padded when the producer's turn ends. Tests can stop ("kill") it between any two steps.
import { frameBytes } from '../../src/threads/layout.js'
import {
  announceIntent, announcePosition, beginWrite, claimProducerSlot, durableCount, endReservation, hasRoom,
  headOf, isRevoked, nextGeneration, padFrame, producerRecord, publishFrame, readResult, reserveSpace,
  spaceFree, startProducer, stillWriting, tailOf, wordAt, writeFrame, type Ring,
} from '../../src/threads/protocol.js'
import { payloadFor, type SimState } from './sim.js'

/** Steps of a chunked producer: SimState's, plus 'held' (a chunk open between records) and 'closing'. */
export type ChunkState = SimState | 'held' | 'closing'

export class SimChunkProducer {
  readonly id: number
  readonly rec: number
  state: ChunkState = 'idle'
  dead = false
  dieIn: ChunkState | undefined
  published = 0
  readonly acked: number[] = []
  /** Set by the test: the event-loop turn ends, so the open chunk is closed at the next step. */
  endTurn = false
  #seq: number
  #acked: number
  #gen: number
  #len = 0
  #cPos = 0
  #cEnd = 0
  #writing = false
  #turnStarted = false
  /** Bytes the current 'writing' step writes: the frame, or padding up to the ring end. */
  #stepBytes = 0
  readonly #ring: Ring
  readonly #sizes: number[]
  readonly #chunkBytes: number

  constructor(ring: Ring, sizes: number[], chunkBytes: number) {
    this.#ring = ring
    this.#sizes = sizes
    this.#chunkBytes = chunkBytes
    this.id = claimProducerSlot(ring)
    if (this.id < 0) throw new Error('no producer slot left')
    this.rec = producerRecord(ring, this.id)
    const start = startProducer(ring, this.rec)
    this.#seq = this.#acked = start.seq
    this.#gen = start.gen
    if (sizes.length === 0) this.state = 'done'
  }

  get finished(): boolean { return this.state === 'done' && this.acked.length === this.#sizes.length }
  /** The windows a live writer crosses in nanoseconds (around the Atomics.add; from its ownership check to the publish). */
  get inFastWindow(): boolean {
    return this.state === 'intent' || this.state === 'added' || this.state === 'writing' || this.state === 'written'
  }

  step(): boolean {
    if (this.dead) return false
    const moved = this.#step()
    if (this.state === this.dieIn) this.dead = true
    return moved
  }

  #drop(): boolean {
    this.state = 'idle'
    return true
  }

  #step(): boolean {
    const ring = this.#ring
    const i = ring.i32
    this.#collectResults()
    switch (this.state) {
      case 'done':
      case 'reserved': // a chunk goes from 'added' to 'held'
        return false
      case 'idle': {
        if (this.published === this.#sizes.length) { this.state = 'done'; return true }
        if (((this.#seq - this.#acked) | 0) >= ring.geometry.window) return false
        const len = frameBytes(this.#sizes[this.published])
        let size = this.#turnStarted && len < this.#chunkBytes ? this.#chunkBytes : len
        const tail = tailOf(i)
        const head = headOf(i)
        if (!hasRoom(ring, tail, head, size)) {
          size = len
          if (!hasRoom(ring, tail, head, size)) return false
        }
        this.#gen = nextGeneration(this.#gen)
        this.#len = size
        announceIntent(i, this.rec, this.#gen, size)
        this.state = 'intent'
        return true
      }
      case 'intent':
        this.#cPos = reserveSpace(i, this.#len)
        this.#cEnd = (this.#cPos + this.#len) >>> 0
        this.state = 'added'
        return true
      case 'added':
        announcePosition(i, this.rec, this.#gen, this.#cPos)
        this.#writing = false
        this.#turnStarted = true
        this.state = 'held'
        return true
      case 'held': {
        if (this.endTurn || this.published === this.#sizes.length) { this.state = 'closing'; return true }
        if (((this.#seq - this.#acked) | 0) >= ring.geometry.window) return false
        const len = frameBytes(this.#sizes[this.published])
        const room = (this.#cEnd - this.#cPos) >>> 0
        if (len > room) { this.state = 'closing'; return true }
        const toEnd = ring.capacity - (this.#cPos & ring.mask)
        const bytes = toEnd < len ? toEnd : len
        if (!spaceFree(ring, this.#cPos, bytes, headOf(i))) return isRevoked(i, this.rec) ? this.#drop() : false
        const owned = this.#writing ? stillWriting(i, this.rec, this.#gen) : beginWrite(i, this.rec, this.#gen)
        if (!owned) return this.#drop()
        this.#writing = true
        this.#stepBytes = bytes
        this.state = 'writing'
        return true
      }
      case 'writing': {
        const w = wordAt(ring, this.#cPos)
        const len = frameBytes(this.#sizes[this.published])
        if (this.#stepBytes !== len) {
          if (!padFrame(i, w, this.#stepBytes)) return this.#drop()
          this.#cPos = (this.#cPos + this.#stepBytes) >>> 0
          this.state = 'held'
          return true
        }
        const payload = payloadFor(this.id, this.published, this.#sizes[this.published])
        writeFrame(i, ring.u8, w, this.id, this.#seq, payload, payload.byteLength)
        this.state = 'written'
        return true
      }
      case 'written': {
        const len = frameBytes(this.#sizes[this.published])
        if (!publishFrame(i, wordAt(ring, this.#cPos), len)) return this.#drop()
        this.#cPos = (this.#cPos + len) >>> 0
        this.#seq = (this.#seq + 1) | 0
        this.published++
        this.state = 'held'
        return true
      }
      case 'closing': {
        const room = (this.#cEnd - this.#cPos) >>> 0
        if (room > 0) {
          if (!spaceFree(ring, this.#cPos, room, headOf(i))) return isRevoked(i, this.rec) ? this.#drop() : false
          const owned = this.#writing ? stillWriting(i, this.rec, this.#gen) : beginWrite(i, this.rec, this.#gen)
          if (!owned) return this.#drop()
          padFrame(i, wordAt(ring, this.#cPos), room)
        }
        endReservation(i, this.rec, this.#gen)
        this.endTurn = false
        this.#turnStarted = false
        this.state = 'idle'
        return true
      }
    }
  }

  #collectResults(): void {
    const durable = durableCount(this.#ring, this.rec)
    while (this.#acked !== durable) {
      this.acked.push(readResult(this.#ring, this.id, this.#acked))
      this.#acked = (this.#acked + 1) | 0
    }
  }
}
