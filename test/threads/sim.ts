// A ring driven from one thread, one protocol step at a time (not a test file itself): simulated
// producers that follow LogWriter's steps through src/threads/protocol.ts and can "die" between
// any two of them, a drainer built from the real collector, completer and reaper, and a fake clock.
import { Collector, type CollectedBatch } from '../../src/threads/collector.js'
import { Completer } from '../../src/threads/completer.js'
import type { SkipEvent } from '../../src/threads/events.js'
import { frameBytes, geometry } from '../../src/threads/layout.js'
import {
  announceIntent, announcePosition, beginWrite, claimProducerSlot, createRing, crossesRingEnd,
  durableCount, endReservation, frameWord, hasRoom, headOf, isRevoked, nextGeneration, padReservation,
  producerRecord, publishFrame, readResult, reserveSpace, spaceFree, startProducer, tailOf, wordAt, writeFrame, type Ring,
} from '../../src/threads/protocol.js'
import { Reaper } from '../../src/threads/reaper.js'

/** A clock that moves only when told; `nextRead()` resolves when someone next reads it. */
export class FakeClock {
  #now = 0
  #readers: (() => void)[] = []
  readonly now = (): number => {
    const readers = this.#readers
    this.#readers = []
    for (const r of readers) r()
    return this.#now
  }

  advance(ms: number): void { this.#now += ms }
  get time(): number { return this.#now }
  nextRead(): Promise<void> { return new Promise((resolve) => this.#readers.push(resolve)) }
}

/** The payload of record `index` of producer `producer` (`size` ≥ 8): a tag, then derived bytes. */
export function payloadFor(producer: number, index: number, size: number): Uint8Array {
  if (size < 8) throw new Error('a simulated record holds at least its 8-byte tag')
  const b = new Uint8Array(size)
  const v = new DataView(b.buffer)
  v.setUint32(0, producer, true)
  v.setUint32(4, index, true)
  for (let k = 8; k < b.length; k++) b[k] = (producer * 31 + index * 7 + k) & 0xff
  return b
}

export type SimState = 'idle' | 'intent' | 'added' | 'reserved' | 'writing' | 'written' | 'done'

/**
 * One producer, stepped by hand. Its steps are LogWriter.#write's, one shared-memory transition
 * each, so that a test can stop it ("kill" it) between any two.
 */
export class SimProducer {
  readonly id: number
  readonly rec: number
  state: SimState = 'idle'
  dead = false
  /** Dies on reaching this state (a worker terminated at that point). */
  dieIn: SimState | undefined
  /** Records it published (index order) and the offsets acknowledged to it. */
  published = 0
  readonly acked: number[] = []
  #seq: number
  #acked: number
  #gen: number
  #pos = -1
  #len = 0
  readonly #ring: Ring
  readonly #sizes: number[]

  constructor(ring: Ring, sizes: number[]) {
    this.#ring = ring
    this.#sizes = sizes
    this.id = claimProducerSlot(ring)
    if (this.id < 0) throw new Error('no producer slot left')
    this.rec = producerRecord(ring, this.id)
    const start = startProducer(ring, this.rec)
    this.#seq = this.#acked = start.seq
    this.#gen = start.gen
    if (sizes.length === 0) this.state = 'done'
  }

  get position(): number { return this.#pos }
  get length(): number { return this.#len }
  get finished(): boolean { return this.state === 'done' && this.acked.length === this.#sizes.length }
  /**
   * In a window a live writer crosses in nanoseconds: around the Atomics.add, and from
   * beginWrite to the publish (docs/threads.md, "Limits of the guarantee": a live writer stalled
   * there for two timeouts is the one case the protocol does not cover).
   */
  get inFastWindow(): boolean {
    return this.state === 'intent' || this.state === 'added' || this.state === 'writing' || this.state === 'written'
  }

  /** Takes one step; returns false when it could not move (waiting for space or results). */
  step(): boolean {
    if (this.dead) return false
    const moved = this.#step()
    if (this.state === this.dieIn) this.dead = true
    return moved
  }

  #step(): boolean {
    const ring = this.#ring
    this.#collectResults()
    switch (this.state) {
      case 'done': return false
      case 'idle': {
        if (((this.#seq - this.#acked) | 0) >= ring.geometry.window) return false
        const len = frameBytes(this.#sizes[this.published])
        if (!hasRoom(ring, tailOf(ring.i32), headOf(ring.i32), len)) return false
        this.#gen = nextGeneration(this.#gen)
        this.#len = len
        announceIntent(ring.i32, this.rec, this.#gen, len)
        this.state = 'intent'
        return true
      }
      case 'intent':
        this.#pos = reserveSpace(ring.i32, this.#len)
        this.state = 'added'
        return true
      case 'added':
        announcePosition(ring.i32, this.rec, this.#gen, this.#pos)
        this.state = 'reserved'
        return true
      case 'reserved':
        if (!spaceFree(ring, this.#pos, this.#len, headOf(ring.i32))) {
          if (!isRevoked(ring.i32, this.rec)) return false
          this.state = 'idle'
          return true
        }
        this.state = beginWrite(ring.i32, this.rec, this.#gen) ? 'writing' : 'idle'
        return true
      case 'writing': {
        if (crossesRingEnd(ring, this.#pos, this.#len)) {
          padReservation(ring.i32, this.rec, this.#gen, wordAt(ring, this.#pos), this.#len)
          this.state = 'idle'
          return true
        }
        const payload = payloadFor(this.id, this.published, this.#sizes[this.published])
        writeFrame(ring.i32, ring.u8, wordAt(ring, this.#pos), this.id, this.#seq, payload, payload.byteLength)
        this.state = 'written'
        return true
      }
      case 'written':
        if (!publishFrame(ring.i32, wordAt(ring, this.#pos), this.#len)) { this.state = 'idle'; return true }
        endReservation(ring.i32, this.rec, this.#gen)
        this.#seq = (this.#seq + 1) | 0
        this.published++
        this.state = this.published === this.#sizes.length ? 'done' : 'idle'
        return true
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

/** The drainer's loop body without the async sink: collect, complete at once, or ask the reaper. */
export class SimDrainer {
  readonly ring: Ring
  readonly clock = new FakeClock()
  readonly stored: Uint8Array[] = []
  readonly skips: SkipEvent[] = []
  readonly collector: Collector
  readonly completer: Completer
  readonly reaper: Reaper
  scan = 0
  readonly deadMs: number

  constructor(options: { ringBytes?: number; maxProducers?: number; window?: number; deadMs?: number; maxBatchRecords?: number } = {}) {
    const g = geometry(options.ringBytes ?? 4096, options.maxProducers ?? 8, options.window ?? 8)
    this.ring = createRing(g, g.capacity / 4 - 16)
    this.deadMs = options.deadMs ?? 1000
    this.reaper = new Reaper(this.ring, this.deadMs, this.clock.now, (e) => this.skips.push(e))
    this.completer = new Completer(this.ring, 0, {
      sinkFailed: (e) => { throw e },
      released: () => this.reaper.progressed(),
      completed: () => {},
    })
    this.collector = new Collector(this.ring, options.maxBatchRecords ?? 8192, 4 << 20, this.completer.durableCounts)
  }

  /** One pass of the drain loop; returns true when it moved (drained, released or skipped). */
  async step(): Promise<boolean> {
    const ring = this.ring
    const head = headOf(ring.i32)
    const limit = tailOf(ring.i32)
    const c = this.collector
    const n = c.collect(head, this.scan, limit)
    const end = c.end
    if (end !== this.scan) {
      const batch: CollectedBatch = { count: n, bytes: c.bytes, runs: c.takeRuns(), from: this.scan, to: end }
      this.scan = end
      if (n === 0) { this.completer.release(batch.from, batch.to); return true }
      const first = this.stored.length
      const bytes = new Uint8Array(this.ring.buffer)
      for (let k = 0; k < n; k++) this.stored.push(bytes.slice(c.at[k], c.at[k] + c.lengths[k]))
      await this.completer.complete(Promise.resolve(), Promise.resolve({ first, last: first + n - 1 }), batch)
      return true
    }
    if (limit === this.scan || frameWord(ring, this.scan) !== 0) { this.reaper.progressed(); return false }
    return this.reaper.check(this.scan, limit) === 0
  }
}
