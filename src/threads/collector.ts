/**
 * Frame parsing: gathers the published frames from the drainer's scan position, in reservation
 * order, into one batch for the sink (views into the ring, never copies), with each record's
 * producer and sequence kept aside for the completer. Checks every frame against what the
 * writers guarantee before trusting a length from shared memory.
 *
 * @internal
 */
import { SeglogError } from '../errors.js'
import { BATCH_HEADER_BYTES, RECORD_HEADER_BYTES } from '../format/batch.js'
import { invariantViolated } from '../invariant.js'
import { FLAG_PAD, FRAME_HEADER_BYTES, LEN_MASK, frameBytes } from './layout.js'
import { wordAt, type Ring } from './protocol.js'

/** A batch taken from the ring: [from, to) of the ring holds its frames (and any padding). */
export interface CollectedBatch {
  /** Records in the batch. */
  count: number
  /** Payload bytes of its records. */
  bytes: number
  /**
   * The batch's records as runs of one producer's consecutive sequences, in batch order:
   * (producer, first sequence, count) at [3r], [3r + 1], [3r + 2]. One run per producer switch,
   * so a busy producer's batch is one triple, not a pair of words per record.
   */
  runs: Int32Array
  from: number
  to: number
}

export class Collector {
  readonly #ring: Ring
  readonly #maxRecords: number
  readonly #maxBytes: number
  /** Runs of the last {@link collect} (see {@link CollectedBatch.runs}); sliced per batch. */
  #runs: Int32Array = new Int32Array(96)
  #runCount = 0
  /**
   * Per record of the last {@link collect}: where its payload starts in the ring's buffer, and its
   * length. Reused by the next collect: the sink reads them during its call only.
   */
  at = new Int32Array(512)
  lengths = new Int32Array(512)
  /** Payload bytes of the records of the last {@link collect}. */
  bytes = 0
  /** Per producer: the sequence its next published frame must carry. */
  readonly #nextSeq: Int32Array
  /** Per producer: results published so far (the completer's copy of DURABLE, in local memory). */
  readonly #durable: Int32Array

  /**
   * `maxBytes` counts the log's framing (batch header, a length per record), as the sink will.
   * `durable` is {@link Completer.durableCounts}: reading it instead of the shared DURABLE word
   * keeps the producer's cache line out of this loop.
   */
  constructor(ring: Ring, maxRecords: number, maxBytes: number, durable: Int32Array) {
    this.#ring = ring
    this.#maxRecords = maxRecords
    this.#maxBytes = maxBytes
    this.#nextSeq = new Int32Array(ring.geometry.maxProducers)
    this.#durable = durable
  }

  /**
   * Takes published frames from `scan`, stopping at the first unpublished one, at `limit` (the
   * tail, or the close snapshot), at one ring ahead of `head` (reservations past it alias frames
   * of this lap), when the batch is full, or at the wrap padding once it holds records (so that its
   * records lie in one region of the ring). Fills {@link at} and {@link lengths} and returns the
   * number of records; {@link end} is the position after the last frame taken (== `scan` when
   * nothing was published).
   */
  collect(head: number, scan: number, limit: number): number {
    const ring = this.#ring
    const i = ring.i32
    const cap = ring.capacity
    const maxProducers = ring.geometry.maxProducers
    const window = ring.geometry.window
    const dataBase = (ring.ringWord << 2) + FRAME_HEADER_BYTES
    const nextSeq = this.#nextSeq
    const durable = this.#durable
    let pos = scan
    let bytes = BATCH_HEADER_BYTES
    let n = 0
    let runs = this.#runs
    let r = 0
    let runProducer = -1
    while (pos !== limit && ((pos - head) >>> 0) < cap) {
      const w = wordAt(ring, pos)
      const word0 = Atomics.load(i, w)
      if (word0 === 0) break
      const len = word0 & LEN_MASK
      if (len === 0) throw invariantViolated('published frame length is nonzero', { position: pos, word: word0 })
      if (((limit - pos) >>> 0) < len) throw invariantViolated('a frame ends within reserved space', { position: pos, length: len, limit })
      if ((word0 & FLAG_PAD) !== 0) {
        // Wrap padding (or a skipped region) ends the run; a run starting with it goes on past it.
        if (n > 0 && (pos & ring.mask) + len >= cap) break
        pos = (pos + len) >>> 0
        continue
      }
      const at = pos & ring.mask
      if (at + len > cap) throw invariantViolated('a data frame does not cross the ring end', { position: pos, length: len })
      const producer = i[w + 1]
      const seq = i[w + 2]
      const dataLen = i[w + 3]
      if (producer < 0 || producer >= maxProducers || dataLen < 0 || frameBytes(dataLen) !== len) {
        throw new SeglogError('ERR_CORRUPT', `worker ring frame at position ${pos} is malformed (producer ${producer}, length ${dataLen}/${len}); the ring was written by something other than LogWriter`)
      }
      if (n > 0 && (n >= this.#maxRecords || bytes + RECORD_HEADER_BYTES + dataLen > this.#maxBytes)) break
      if (seq !== nextSeq[producer]) throw invariantViolated('each producer publishes consecutive sequences', { producer, sequence: seq, expected: nextSeq[producer] })
      // The writer waits while `window` results are unread, so this result slot is free.
      if (((seq - durable[producer]) | 0) >= window) {
        throw invariantViolated('a producer has at most `window` results outstanding', { producer, sequence: seq })
      }
      nextSeq[producer] = (seq + 1) | 0
      if (n >= this.at.length) this.#grow()
      // Sequences of one producer are consecutive (checked above): the same producer extends its run.
      if (producer === runProducer) runs[3 * r - 1]++
      else {
        if (3 * r + 3 > runs.length) runs = this.#growRuns()
        runs[3 * r] = producer
        runs[3 * r + 1] = seq
        runs[3 * r + 2] = 1
        r++
        runProducer = producer
      }
      this.at[n] = dataBase + at
      this.lengths[n] = dataLen
      bytes += RECORD_HEADER_BYTES + dataLen
      n++
      pos = (pos + len) >>> 0
    }
    this.end = pos
    this.#runCount = r
    this.bytes = bytes - BATCH_HEADER_BYTES - n * RECORD_HEADER_BYTES
    return n
  }

  /** Position after the last frame the last {@link collect} took. */
  end = 0

  #grow(): void {
    const size = this.at.length * 2
    const at = new Int32Array(size)
    at.set(this.at)
    this.at = at
    const lengths = new Int32Array(size)
    lengths.set(this.lengths)
    this.lengths = lengths
  }

  #growRuns(): Int32Array {
    const runs = new Int32Array(this.#runs.length * 2)
    runs.set(this.#runs)
    this.#runs = runs
    return runs
  }

  /** The runs of the last {@link collect}, as a copy (the batch outlives the next collect). */
  takeRuns(): Int32Array {
    return this.#runs.slice(0, 3 * this.#runCount)
  }
}
