/**
 * Completion: once a batch handed to the sink settles, and after every earlier batch, writes each
 * record's offset (or the failure's error number) into its producer's result slot, publishes each
 * producer's DURABLE count with one store per producer per batch (and a notify only to a producer
 * marked waiting), and frees the batch's ring space. Batches complete strictly in the order they
 * were submitted.
 *
 * @internal
 */
import { SeglogError } from '../errors.js'
import { channels } from '../diagnostics.js'
import { invariantViolated } from '../invariant.js'
import type { CollectedBatch } from './collector.js'
import { codeNumber } from './codes.js'
import type { DrainBatchEvent } from './events.js'
import { consume, publishDurable, writeResults, type Ring } from './protocol.js'

/** What the completer needs from the drainer. */
export interface CompletionHooks {
  /** Normalises and reports a sink failure; returns the error the batch's producers get. */
  sinkFailed(e: unknown): SeglogError
  /** Ring space was freed (the reaper is no longer stuck where it was). */
  released(): void
  /** A batch finished: its results are published and its space freed. */
  completed(): void
}

export class Completer {
  readonly #ring: Ring
  readonly #hooks: CompletionHooks
  /** Per producer: the DURABLE count last published (the sequence after its last completed record). */
  readonly #nextSeq: Int32Array
  readonly #touchedFlag: Uint8Array
  readonly #touched: number[] = []
  /** Where the next release must start: HEAD as this completer last set it. */
  #head: number

  constructor(ring: Ring, head: number, hooks: CompletionHooks) {
    this.#ring = ring
    this.#hooks = hooks
    this.#head = head
    this.#nextSeq = new Int32Array(ring.geometry.maxProducers)
    this.#touchedFlag = new Uint8Array(ring.geometry.maxProducers)
  }

  /** Per producer, the DURABLE count as last published (read-only for others). */
  get durableCounts(): Int32Array { return this.#nextSeq }

  /**
   * Waits for the sink's answer for `batch` and then for `previous` (every earlier completion),
   * publishes the results and frees the batch's space. Never rejects: a sink failure becomes the
   * producers' error.
   */
  async complete(previous: Promise<void>, result: Promise<{ first: number; last: number }>, batch: CollectedBatch): Promise<void> {
    const n = batch.count
    const started = channels.threadsBatch.hasSubscribers ? performance.now() : 0
    let first = 0
    let failure = 0
    try {
      const r = await result
      // Offsets are contiguous per batch: the sink appended it atomically.
      if (r.last - r.first !== n - 1) throw new SeglogError('ERR_IO', `sink returned offsets ${r.first}..${r.last} for ${n} records`)
      first = r.first
      if (channels.threadsBatch.hasSubscribers) {
        channels.threadsBatch.publish({ records: n, bytes: batch.bytes, first: r.first, last: r.last, durationMs: performance.now() - started } satisfies DrainBatchEvent)
      }
    } catch (e) {
      failure = codeNumber(this.#hooks.sinkFailed(e).code)
    }
    await previous
    this.#publish(batch.runs, first, failure)
    this.release(batch.from, batch.to)
    this.#hooks.completed()
  }

  /** Results of one batch: offsets `first + k` for its k-th record, or `-failure` for all. */
  #publish(runs: Int32Array, first: number, failure: number): void {
    const ring = this.#ring
    const touched = this.#touched
    const touchedFlag = this.#touchedFlag
    const nextSeq = this.#nextSeq
    let offset = first
    for (let r = 0; r < runs.length; r += 3) {
      const p = runs[r]
      const seq = runs[r + 1]
      const count = runs[r + 2]
      writeResults(ring, p, seq, count, offset, failure)
      offset += count
      if (touchedFlag[p] === 0) { touchedFlag[p] = 1; touched.push(p) }
      nextSeq[p] = (seq + count) | 0
    }
    for (const p of touched) {
      publishDurable(ring, p, nextSeq[p])
      touchedFlag[p] = 0
    }
    touched.length = 0
  }

  /** Frees [from, to) of the ring; releases happen in ring order, each where the last one ended. */
  release(from: number, to: number): void {
    if (from !== this.#head) throw invariantViolated('ring space is released in order', { from, head: this.#head })
    consume(this.#ring, from, to)
    this.#head = to
    this.#hooks.released()
  }
}
