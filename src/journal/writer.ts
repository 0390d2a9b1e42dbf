/**
 * The batch writer: buffers appended events, flushes them as one create-only object per batch
 * (on `flushEvents`, `flushBytes`, `lingerMs`, or on request), holds appends back when
 * `maxBufferedBytes` is reached, claims sequence numbers, and resolves a batch whose write is in
 * doubt by writing exactly the same bytes under the same number again.
 *
 * Its store is the journal's `RetryStore`: transient failures are retried below it, and a
 * create-only put whose reply was lost is resolved there. What stays here is what only the
 * journal knows: a batch in doubt from an *earlier* flush, and a batch that compaction may have
 * merged and deleted since it landed.
 */
import { randomBytes } from 'node:crypto'
import { channels } from '../diagnostics.js'
import { SeglogError, isSeglogError } from '../errors.js'
import type { ObjectStore } from '../objects/types.js'
import type { Catalog } from './catalog.js'
import { elapsedSince, readInstant, type Instant, type JournalClock } from './clock.js'
import { encodeBinarySection, encodeJsonlEvents, type JournalCodec } from './codec.js'
import { formatCursor, type JournalCursor } from './cursor.js'
import type { JournalKeys } from './keys.js'
import type { FlushMessage, FlushResult } from './types.js'

/** One buffered event: its encoded form and the bytes it adds to a batch. */
export interface PendingEvent { data: string | Buffer; size: number }
interface InDoubt { seq: number; bytes: Buffer; count: number; size: number }

/** What the writer needs to know (from the journal's resolved options). */
export interface BatchWriterConfig {
  store: ObjectStore
  keys: JournalKeys
  catalog: Catalog
  clock: JournalClock
  codec: JournalCodec
  flushEvents: number
  flushBytes: number
  lingerMs: number
  maxBufferedBytes: number
  graceMs: number
  onError: ((error: SeglogError) => void) | undefined
}

/**
 * Random bytes for batch nonces, drawn 64 at a time: one `randomBytes` call costs several µs, as
 * much as encoding a few events, and a nonce needs no more than distinct random bytes per batch.
 */
let noncePool: Buffer | undefined
let noncePoolAt = 0
function batchNonce(): Buffer {
  if (noncePool === undefined || noncePoolAt === noncePool.length) { noncePool = randomBytes(512); noncePoolAt = 0 }
  noncePoolAt += 8
  return noncePool.subarray(noncePoolAt - 8, noncePoolAt)
}

/** Encodes one event for `codec`; throws `ERR_INVALID_ARGUMENT` for what it cannot hold. */
export function encodeEvent(codec: JournalCodec, event: unknown): PendingEvent {
  if (codec === 'binary') {
    if (!(event instanceof Uint8Array)) throw new SeglogError('ERR_INVALID_ARGUMENT', 'a binary journal appends Uint8Array or Buffer events; use codec "jsonl" for JSON values')
    const data = Buffer.from(event) // a copy: later changes by the caller do not leak in
    return { data, size: data.length + 4 }
  }
  let s: string | undefined
  try {
    s = JSON.stringify(event)
  } catch (err) {
    throw new SeglogError('ERR_INVALID_ARGUMENT', `event cannot be stored as JSON: ${(err as Error).message}`, { cause: err })
  }
  if (s === undefined) throw new SeglogError('ERR_INVALID_ARGUMENT', `event of type ${typeof event} cannot be stored as JSON (use null, a number, string, array or object)`)
  return { data: s, size: Buffer.byteLength(s) + 1 }
}

/** Buffer, linger, back-pressure, flush queue, claim and in-doubt resolution of one journal handle. */
export class BatchWriter {
  readonly #c: BatchWriterConfig
  /** Events not yet durable, in append order (the in-doubt batch first). */
  #unflushed: PendingEvent[] = []
  #unflushedBytes = 0
  #inDoubt: InDoubt | undefined
  /** Highest sequence number known to be taken (-1: none seen yet, undefined: unknown). */
  #lastSeq: number | undefined
  /**
   * When what established #lastSeq began (both local clocks): no object with a higher number that
   * a compactor could have covered and deleted existed before then.
   */
  #knownAt: Instant = { monotonic: -Infinity, wall: -Infinity }
  /** Cancels the pending linger or backoff timer. */
  #timer: (() => void) | undefined
  #running: Promise<void> = Promise.resolve()
  #queued: Promise<void> | undefined
  #failures = 0
  #flushGeneration = 0
  /** Set while a batch write is under way: how many leading events it holds, and its end. */
  #active: { count: number; done: Promise<void> } | undefined
  /** Events ever appended by this handle, and how many of them are durable (both in order). */
  #appended = 0
  #durable = 0
  /** The last batches written: which appended events (from `start`) each holds. */
  readonly #written: { start: number; count: number; seq: number }[] = []
  /** appendDurable() calls waiting for event `index` to become durable. */
  #waiters: { index: number; resolve: (cursor: JournalCursor) => void }[] = []
  /** Set by the journal once closed: no more background retries. */
  stopped = false

  constructor(config: BatchWriterConfig) {
    this.#c = config
  }

  get #prefix(): string { return this.#c.keys.prefix }
  /** Events buffered and not yet durable. */
  get bufferedEvents(): number { return this.#unflushed.length }
  /** Bytes buffered and not yet durable. */
  get bufferedBytes(): number { return this.#unflushedBytes }
  /** Bumped by every batch made durable (readers compare it before and after a listing). */
  get flushGeneration(): number { return this.#flushGeneration }
  /** The batch write under way, if any. */
  get active(): { count: number; done: Promise<void> } | undefined { return this.#active }
  /** True when events are buffered or a flush is queued. */
  get busy(): boolean { return this.#unflushed.length > 0 || this.#queued !== undefined }
  /** The buffered events from `skip` on (read as pending by this handle's reads). */
  pending(skip: number): readonly PendingEvent[] { return this.#unflushed.slice(skip) }
  /** Settles when the flush under way (and the one queued) ends. */
  idle(): Promise<void> { return this.#running }

  /** Buffers one event; resolves with its index among the events this handle appended. */
  async push(p: PendingEvent, assertWritable: () => void): Promise<number> {
    const max = this.#c.maxBufferedBytes
    if (p.size > max) {
      throw new SeglogError('ERR_RECORD_TOO_LARGE', `event of ${p.size} bytes exceeds maxBufferedBytes (${max}); nothing was appended`)
    }
    while (this.#unflushedBytes + p.size > max) {
      try {
        await this.requestFlush()
      } catch (err) {
        throw new SeglogError('ERR_STORE',
          `journal ${this.#prefix}: buffer full (${this.#unflushedBytes} of maxBufferedBytes ${max}) and the flush failed; the event was not appended, retry later: ${(err as Error).message}`,
          { cause: err, details: { buffered: this.#unflushedBytes } })
      }
      assertWritable()
    }
    this.#unflushed.push(p)
    this.#unflushedBytes += p.size
    const index = this.#appended++
    if (this.#unflushed.length >= this.#c.flushEvents || this.#unflushedBytes >= this.#c.flushBytes) {
      this.#background()
    } else if (this.#timer === undefined) {
      this.#timer = this.#c.clock.setTimer(() => { this.#timer = undefined; this.#background() }, this.#c.lingerMs)
    }
    return index
  }

  /** Resolves with the cursor of appended event `index` once it is durable. */
  durableCursor(index: number): Promise<JournalCursor> {
    return new Promise<JournalCursor>((resolve) => { this.#waiters.push({ index, resolve }) })
  }

  /** Starts a flush whose failure is only reported (diagnostics, onError), then retried later. */
  #background(): void {
    this.cancelTimer()
    if (this.#queued !== undefined) return
    this.requestFlush().then(() => { this.#failures = 0 }, (err: unknown) => {
      // Events stay buffered; try again after a backoff, unless a newer flush is pending.
      this.#failures++
      const onError = this.#c.onError
      if (onError !== undefined) {
        try {
          onError(isSeglogError(err) ? err : new SeglogError('ERR_STORE', `journal ${this.#prefix}: flush failed: ${String(err)}`, { cause: err }))
        } catch { /* a throwing handler must not stop the retries */ }
      }
      if (this.#timer === undefined && this.#unflushed.length > 0 && !this.stopped) {
        const wait = Math.min(5000, Math.max(this.#c.lingerMs, 50) * 2 ** Math.min(this.#failures, 7))
        this.#timer = this.#c.clock.setTimer(() => { this.#timer = undefined; this.#background() }, wait)
      }
    })
  }

  /** Cancels the linger or backoff timer. */
  cancelTimer(): void {
    if (this.#timer !== undefined) { this.#timer(); this.#timer = undefined }
  }

  /** Queues a flush after the running one; flushes share a queued one. */
  requestFlush(): Promise<void> {
    if (this.#queued !== undefined) return this.#queued
    const p = this.#running.then(() => {
      this.#queued = undefined
      return this.#flushNow()
    })
    this.#queued = p
    this.#running = p.catch(() => undefined)
    return p
  }

  /** Flushes what is buffered; resolves with what became durable since the call. */
  async flush(): Promise<FlushResult | undefined> {
    const from = this.#durable
    if (this.#unflushed.length === 0 && this.#queued === undefined) {
      await this.#running
    } else {
      this.cancelTimer()
      await this.requestFlush()
    }
    return this.#flushResult(from, this.#durable)
  }

  /** What batches hold this handle's events from..to-1 (undefined when none, or forgotten). */
  #flushResult(from: number, to: number): FlushResult | undefined {
    if (to <= from) return undefined
    const first = this.#written.find((b) => b.start <= from && from < b.start + b.count)
    const last = this.#written.find((b) => b.start <= to - 1 && to - 1 < b.start + b.count)
    if (first === undefined || last === undefined) return undefined
    return { seq: last.seq, first: formatCursor(first.seq, from - first.start), last: formatCursor(last.seq, to - 1 - last.start), events: to - from }
  }

  /** Records a durable batch of the next `count` events and settles appendDurable() waiters. */
  #recordDurable(seq: number, count: number): void {
    const start = this.#durable
    this.#durable += count
    this.#written.push({ start, count, seq })
    // A flush() spans at most the running flush and its own (two batches each).
    if (this.#written.length > 16) this.#written.splice(0, this.#written.length - 16)
    if (this.#waiters.length === 0) return
    const done = this.#waiters.filter((w) => w.index < this.#durable)
    this.#waiters = this.#waiters.filter((w) => w.index >= this.#durable)
    for (const w of done) w.resolve(formatCursor(seq, w.index - start))
  }

  /**
   * Writes every buffered event as one new object. After a failed flush, the batch whose write is
   * in doubt is first written again exactly as before (same sequence number and bytes), so it
   * cannot land twice; events appended since then go in a second object.
   */
  async #flushNow(): Promise<void> {
    this.cancelTimer()
    if (this.#inDoubt !== undefined) {
      await this.#writeBatch(this.#inDoubt.count, this.#inDoubt)
    }
    if (this.#unflushed.length > 0) await this.#writeBatch(this.#unflushed.length, undefined)
  }

  #encode(count: number, seq: number): Buffer {
    const nonce = batchNonce()
    const ts = Math.floor(this.#c.clock.now()) // the formats store whole milliseconds
    if (this.#c.codec === 'binary') return encodeBinarySection(this.#unflushed.slice(0, count).map((e) => e.data as Buffer), seq, ts, nonce)
    return encodeJsonlEvents(this.#unflushed, count, seq, ts, nonce)
  }

  #publish(seq: number | undefined, count: number, bytes: number, conflicts: number, t0: number, error: SeglogError | undefined): void {
    if (!channels.journalFlush.hasSubscribers) return
    channels.journalFlush.publish({
      journal: this.#prefix, seq, key: seq === undefined ? undefined : this.#c.keys.batch(seq), events: count, bytes, conflicts,
      durationMs: this.#c.clock.monotonic() - t0, error,
    } satisfies FlushMessage)
  }

  /** Writes the first `count` buffered events as one object; resolves once it is durable. */
  async #writeBatch(count: number, doubt: InDoubt | undefined): Promise<void> {
    const t0 = this.#c.clock.monotonic()
    let conflicts = 0
    let seq: number | undefined
    let bytes: Buffer | undefined
    let size = 0
    for (let i = 0; i < count; i++) size += this.#unflushed[i].size
    let finish!: () => void
    this.#active = { count, done: new Promise<void>((r) => { finish = r }) }
    try {
      let retryOfDoubt = doubt !== undefined
      if (doubt !== undefined) { seq = doubt.seq; bytes = doubt.bytes } else { seq = await this.#claim() }
      for (;;) {
        if (bytes === undefined) {
          bytes = this.#encode(count, seq)
          // From here until we know the outcome, this exact write is in doubt.
          this.#inDoubt = { seq, bytes, count, size }
        }
        const putStart = readInstant(this.#c.clock)
        // An in-doubt batch's number may have been claimed any time ago: always check it.
        const knowledgeAt = retryOfDoubt ? undefined : this.#knownAt
        const outcome = await this.#createOnce(seq, bytes, retryOfDoubt)
        retryOfDoubt = false
        if (outcome === 'mine' && (knowledgeAt === undefined || elapsedSince(this.#c.clock, knowledgeAt) >= this.#trustMs())) {
          // Our idea of the next free number was old enough that a compactor or retention may
          // have deleted an object with this number before we recreated it: check we are not
          // shadowed by a compacted object or a retention marker (see #trustMs).
          if (await this.#shadowed(seq, bytes)) {
            // Our object is hidden (readers use the compacted object or skip below the marker)
            // and our events go to a new number: remove it, so that no one ever finds two
            // different batches under one number (the sweep would report that as damage).
            await this.#c.store.delete(this.#c.keys.batch(seq)).catch(() => undefined)
            conflicts++
            seq = await this.#refresh(seq)
            bytes = undefined
            continue
          }
        }
        if (outcome === 'taken') {
          conflicts++
          seq = await this.#refresh(seq)
          bytes = undefined
          continue
        }
        // Durable: drop the events from the buffer.
        this.#inDoubt = undefined
        this.#unflushed.splice(0, count)
        this.#unflushedBytes -= size
        this.#recordDurable(seq, count)
        if (this.#lastSeq === undefined || seq > this.#lastSeq) { this.#lastSeq = seq; this.#knownAt = putStart }
        this.#flushGeneration++
        this.#publish(seq, count, bytes.length, conflicts, t0, undefined)
        return
      }
    } catch (err) {
      const e = isSeglogError(err) ? err : new SeglogError('ERR_STORE', `journal ${this.#prefix}: flush failed: ${(err as Error).message}`, { cause: err })
      this.#publish(seq, count, bytes?.length ?? 0, conflicts, t0, e)
      throw e
    } finally {
      this.#active = undefined
      finish()
    }
  }

  /**
   * One create-only PUT of `b/<seq>`. The RetryStore below retries it and settles a conflict that
   * follows its own lost reply by comparing bytes. Left here: a batch in doubt from an earlier
   * flush (`mayHaveLanded`), and a retried put whose object is gone — compaction may have merged
   * it and deleted it since, so the compacted copy decides.
   */
  async #createOnce(seq: number, bytes: Buffer, mayHaveLanded: boolean): Promise<'mine' | 'taken'> {
    try {
      await this.#c.store.put(this.#c.keys.batch(seq), bytes, { mode: 'create' })
      return 'mine'
    } catch (err) {
      if (!isSeglogError(err, 'ERR_CONFLICT')) throw err
      if (!mayHaveLanded && err.details.afterRetry !== true) return 'taken'
      return (await this.#isMine(seq, bytes)) ? 'mine' : 'taken'
    }
  }

  /** Whether batch `seq`, wherever it is stored now, has exactly these bytes. */
  async #isMine(seq: number, bytes: Buffer): Promise<boolean> {
    const got = await this.#c.store.get(this.#c.keys.batch(seq))
    if (got !== undefined) return got.data.equals(bytes)
    const held = await this.#c.catalog.compactedSection(seq, await this.#c.catalog.snapshot(true))
    return held !== undefined && held.equals(bytes)
  }

  /**
   * True when `b/<seq>` (ours, just written) is hidden from readers: below the newest retention
   * marker, or covered by a compacted object that holds other bytes for `seq` (readers read the
   * compacted object, not our batch).
   */
  async #shadowed(seq: number, bytes: Buffer): Promise<boolean> {
    const snap = await this.#c.catalog.snapshot(true)
    if (seq < snap.marker) return true
    const held = await this.#c.catalog.compactedSection(seq, snap)
    return held !== undefined && !held.equals(bytes)
  }

  /**
   * How long a writer trusts what it knows about taken sequence numbers: graceMs / 2 of its own
   * clocks, measured from when that knowledge began to when the PUT that relies on it has
   * *finished*. Why that is safe, whatever the skew between any clocks:
   *
   * A writer recreates a deleted batch `b/s` (under a compacted object that hides it) only if it
   * claims `s` from knowledge K that began at instant k, while some other `b/s` was created after
   * k (else K would have shown it: a listing reveals it, and our own PUT of s-1 at k means s was
   * not yet claimable by anyone), merged into `c/..` at instant c > k, and deleted at instant d
   * before our PUT landed at instant p. The sweeper deletes only when a reference object it has
   * just written is at least graceMs + the stores' timestamp resolution younger, by the store's
   * own `lastModified`, than the covering object (see the compactor's sweep), so d - c > graceMs
   * on the store's clock. Hence p - k > d - c > graceMs, and the writer's PUT finished more than
   * graceMs after k. A writer that sees less than graceMs / 2 pass between k and the end of its
   * PUT skips the check; one that sees more lists compacted objects and markers again
   * (#shadowed). The only assumption is about clock *rates*: each writer's clocks advance at
   * least half as fast as the store's over graceMs (the larger of the monotonic and the wall
   * clock counts, so a machine asleep or a wall clock stepped back does not stretch the window).
   * Clock *offsets* between writers, compactors and the store do not enter at all.
   */
  #trustMs(): number { return this.#c.graceMs / 2 }

  /** The next sequence number to try: cached while fresh, else from a listing. */
  async #claim(): Promise<number> {
    if (this.#lastSeq !== undefined && elapsedSince(this.#c.clock, this.#knownAt) < this.#trustMs()) return this.#lastSeq + 1
    return this.#refresh(this.#lastSeq ?? -1)
  }

  /**
   * Learns the highest taken sequence number at or above `from` by listing compacted objects
   * and markers, then batches after them (never from zero once anything is known).
   */
  async #refresh(from: number): Promise<number> {
    const { max, snap } = await this.#c.catalog.highestTaken(from, false)
    this.#lastSeq = max
    // The knowledge is as old as its oldest part: the (possibly cached) listing of compacted objects.
    this.#knownAt = snap.takenAt
    return max + 1
  }
}
