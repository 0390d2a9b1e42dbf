// Shared helpers for the threads tests (not a test file itself).
import type { WorkerHandle } from '../../src/threads/index.js'

export interface ProducerJob {
  handle: WorkerHandle
  producer: number
  count: number
  /** Appends kept in flight at once. */
  concurrency: number
  /** 'bytes' | 'string' | 'mixed' */
  kind: 'bytes' | 'string' | 'mixed'
  /** Extra payload bytes on top of the 8-byte tag (varied per record when `vary`). */
  filler: number
  vary: boolean
  /** Post every acknowledged offset as it arrives (for crash tests). */
  stream: boolean
}

export function recordFor(producer: number, index: number, job: Pick<ProducerJob, 'kind' | 'filler' | 'vary'>): Uint8Array | string {
  const extra = job.vary ? (index * 7919) % (job.filler + 1) : job.filler
  const asString = job.kind === 'string' || (job.kind === 'mixed' && index % 2 === 1)
  if (asString) return `p${producer}:i${index}:` + 'é'.repeat(extra >> 1)
  const b = new Uint8Array(8 + extra)
  const v = new DataView(b.buffer)
  v.setUint32(0, producer, true)
  v.setUint32(4, index, true)
  for (let k = 8; k < b.length; k++) b[k] = (producer + index + k) & 0xff
  return b
}


/** Parses the (producer, index) tag back out of a stored record. */
export function tagOf(data: Uint8Array): { producer: number; index: number } {
  if (data.length >= 2 && data[0] === 0x70 /* 'p' */) {
    const m = /^p(\d+):i(\d+):/.exec(new TextDecoder().decode(data.subarray(0, 32)))
    if (m !== null) return { producer: Number(m[1]), index: Number(m[2]) }
  }
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength)
  return { producer: v.getUint32(0, true), index: v.getUint32(4, true) }
}

/** True when `data` is exactly what {@link recordFor} produced for its tag. */
export function sameRecord(data: Uint8Array, expected: Uint8Array | string): boolean {
  const e = typeof expected === 'string' ? new TextEncoder().encode(expected) : expected
  return Buffer.compare(Buffer.from(data.buffer, data.byteOffset, data.byteLength), Buffer.from(e.buffer, e.byteOffset, e.byteLength)) === 0
}

/**
 * An in-memory DrainSink: copies the records (they are views into the ring), assigns offsets, and
 * resolves after a simulated fsync (`setImmediate`), or when the test opens the gate.
 */
export class FakeSink {
  readonly records: Uint8Array[] = []
  readonly batches: number[] = []
  closed = false
  /** When set, appendBatch waits for {@link open} before resolving (a slow fsync). */
  gated = false
  failWith: Error | undefined
  #next = 0
  #waiting: (() => void)[] = []
  #onBatch: (() => void)[] = []

  async appendBatch(records: Uint8Array[]): Promise<{ first: number; last: number }> {
    if (this.closed) throw Object.assign(new Error('closed'), { code: 'ERR_CLOSED' })
    // Like the log: offsets are assigned (and the bytes copied) at call time, in call order.
    const first = this.#next
    this.#next += records.length
    const copies = records.map((r) => Uint8Array.from(r))
    for (const w of this.#onBatch.splice(0)) w()
    if (this.gated) await new Promise<void>((resolve) => this.#waiting.push(resolve))
    else await new Promise<void>((resolve) => setImmediate(resolve))
    if (this.failWith !== undefined) {
      this.#next = Math.min(this.#next, first)
      throw this.failWith
    }
    copies.forEach((c, k) => { this.records[first + k] = c })
    this.batches.push(records.length)
    return { first, last: first + records.length - 1 }
  }

  /** Releases every gated batch. */
  open(): void {
    this.gated = false
    for (const w of this.#waiting.splice(0)) w()
  }

  /** Resolves once a batch reaches the sink (and, if gated, is held there). */
  nextBatch(): Promise<void> {
    return new Promise((resolve) => this.#onBatch.push(resolve))
  }

  get heldBatches(): number { return this.#waiting.length }
}
