import { randomBytes } from 'node:crypto'
import diagnostics_channel from 'node:diagnostics_channel'
import { SeglogError, isSeglogError } from '../errors.js'
import { withRetry, type RetryPolicy } from '../objects/retry.js'
import type { ObjectMeta, ObjectStore } from '../objects/types.js'
import { elapsedSince, readInstant, sleep, systemClock, type Instant, type JournalClock } from './clock.js'
import { decodeSections, encodeBinarySection, encodeJsonlSection, type JournalCodec, type Section } from './codec.js'
import { JournalKeys, parseKey } from './keys.js'
import { firstUncovered, planReads, type JournalObject, type Step } from './plan.js'
import { validateJournalPrefix } from './prefix.js'
import { listJournalObjects, verifyJournal, type JournalListOptions, type JournalObjectInfo, type JournalVerifyOptions, type JournalVerifyReport } from './verify.js'

/** `seglog:journal:flush` — one message per flush attempt that ends (success or failure). */
export const flushChannel = diagnostics_channel.channel('seglog:journal:flush')
/** `seglog:journal:compact` — one message per `compact()` run, and per retention run. */
export const compactChannel = diagnostics_channel.channel('seglog:journal:compact')

/** Message published on {@link flushChannel}. */
export interface FlushMessage {
  journal: string
  /** Sequence number claimed (undefined when the flush failed before claiming one). */
  seq: number | undefined
  key: string | undefined
  events: number
  bytes: number
  /** Create-only PUTs lost to other writers before this one won. */
  conflicts: number
  durationMs: number
  error: SeglogError | undefined
}

/** Message published on {@link compactChannel}. */
export interface CompactMessage {
  journal: string
  /** Merged objects written: key, how many objects they replace, bytes. */
  merged: { key: string; objects: number; bytes: number }[]
  /** Objects deleted (covered originals, superseded merges, retained-away batches). */
  deleted: number
  durationMs: number
}

/**
 * A position in a journal: `"<seq>:<index>"`, the event `index` of batch `seq`. Cursors stay valid
 * across compaction (they name batches by sequence number, not by object key) and compare in
 * journal order with {@link compareCursors}.
 */
export type JournalCursor = string

/** The cursor before the first event: `read({ after: JOURNAL_START })` reads from the beginning. */
export const JOURNAL_START: JournalCursor = 'start'

/** Parses a cursor (`seq` -1 for {@link JOURNAL_START}); throws `ERR_INVALID_ARGUMENT` for anything else. */
export function parseCursor(cursor: JournalCursor): { seq: number; index: number } {
  if (cursor === JOURNAL_START) return { seq: -1, index: -1 }
  const m = typeof cursor === 'string' ? /^(\d{1,16}):(\d{1,10})$/.exec(cursor) : null
  const seq = m === null ? NaN : Number(m[1])
  const index = m === null ? NaN : Number(m[2])
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(index)) {
    throw new SeglogError('ERR_INVALID_ARGUMENT', `invalid journal cursor ${JSON.stringify(cursor)}: expected "<seq>:<index>" as read() returns it`)
  }
  return { seq, index }
}

/** Formats a cursor. */
export function formatCursor(seq: number, index: number): JournalCursor {
  return `${seq}:${index}`
}

/** Orders two cursors (negative, zero, positive). */
export function compareCursors(a: JournalCursor, b: JournalCursor): number {
  const x = parseCursor(a)
  const y = parseCursor(b)
  return x.seq - y.seq || x.index - y.index
}

/** Options of {@link Journal.open}. */
export interface JournalOptions {
  /** `'jsonl'` (JSON values, default) or `'binary'` (Uint8Array events, the core batch format). */
  codec?: JournalCodec
  /** Flush when this many events are buffered. Default 32. */
  flushEvents?: number
  /** Flush when the buffered events reach this many bytes. Default 1 MiB. */
  flushBytes?: number
  /** Flush events that waited this long. Default 250 ms. */
  lingerMs?: number
  /**
   * Most bytes buffered while the store is slow or down. An append past it waits for a flush and
   * fails with `ERR_STORE` if that flush fails. Default max(16 MiB, 4 × flushBytes).
   */
  maxBufferedBytes?: number
  /** Open for reading only: no probe, appends fail. */
  readOnly?: boolean
  /**
   * Allow writing through a store that cannot enforce create-only writes. Safe only when exactly
   * one process (one Journal) writes this journal: two writers could overwrite each other.
   */
  singleWriter?: boolean
  /**
   * Probe the store at open (write one object twice, create-only) instead of trusting its
   * `enforcesCreateOnly` flag. Default: probe only a store whose flag is unverified
   * (`store.createOnlyUnverified`, e.g. an `S3Store` on a custom endpoint without
   * `conditionalWrites`); `false` trusts the flag.
   */
  probe?: boolean
  /**
   * Grace period before compaction and retention delete objects, and the freshness window of a
   * writer's cached sequence number (half of it). Every process using the journal must use the
   * same value, larger than any clock skew between them and the store. Default 60,000 ms.
   */
  graceMs?: number
  /** Poll interval of `read`/`iterate` with `follow: true`. Default 1,000 ms. Same name as the `Log` option. */
  followPollMs?: number
  /** @deprecated Use `followPollMs` (the `Log` name). Still accepted; both with different values is `ERR_INVALID_ARGUMENT`. */
  pollMs?: number
  /** Objects fetched ahead while reading. Default 8. */
  readAhead?: number
  /** Retry of transient store failures. Default 6 attempts, 50 ms to 2 s backoff. */
  retry?: RetryPolicy
  /** Compaction: merged objects grow up to this size. Default 64 MiB. */
  compactTargetBytes?: number
  /**
   * The clocks the journal reads (wall clock for batch timestamps; monotonic clock for timers and
   * trust windows). Default: `Date.now`, `performance.now`, `setTimeout`. Tests inject a
   * `ManualClock` to move time instead of waiting. Object ages are always measured on the
   * store's clock, never on this one.
   */
  clock?: JournalClock
  /**
   * Called with the error of every background flush that fails (the events stay buffered and the
   * flush is retried with a backoff). Without it, failures show only on `seglog:journal:flush`
   * and at the next `flush()`/`close()`.
   */
  onError?: (error: SeglogError) => void
}

/** What {@link Journal.flush} made durable (the events durable since the call, in order). */
export interface FlushResult {
  /** Sequence number of the last batch written. */
  seq: number
  /** Cursor of the first event made durable. */
  first: JournalCursor
  /** Cursor of the last event made durable. */
  last: JournalCursor
  /** How many events were made durable. */
  events: number
}

/** Options of {@link Journal.read}. */
export interface ReadOptions {
  /** Start after this cursor (exclusive). Default: the beginning. */
  after?: JournalCursor
  /** Keep polling for new batches until `signal` aborts or the journal closes. */
  follow?: boolean
  /** Stops a follow (the iterator then ends without error). */
  signal?: AbortSignal
  /**
   * Also yield this journal's buffered, not yet flushed events at the end (`durable: false`).
   * Default true without `follow`; always false with `follow`.
   */
  pending?: boolean
}

/** Options of {@link Journal.iterate}: {@link ReadOptions} plus an end. */
export interface JournalIterateOptions extends ReadOptions {
  /** Stop after this cursor (inclusive); buffered events are then not yielded. */
  to?: JournalCursor
}

/** One event read from a journal. */
export interface JournalEntry<T> {
  /**
   * Resume point: pass it as `after` to continue behind this event. For a pending event it is the
   * cursor of the last durable event before it (resuming re-reads it once flushed).
   */
  cursor: JournalCursor
  value: T
  /** Milliseconds since the epoch when the batch was flushed. */
  timestamp: number
  /** False for buffered events not yet in the store. */
  durable: boolean
}

/** What `compact()` did. */
export interface CompactResult {
  merged: { key: string; objects: number; bytes: number }[]
  deleted: string[]
}

interface Pending { data: string | Buffer; size: number }
interface InDoubt { seq: number; bytes: Buffer; count: number; size: number }

type Obj = JournalObject

/** A listing of compacted objects and markers, and when it started (both local clocks). */
interface Snapshot { compacted: Obj[]; markers: Obj[]; marker: number; takenAt: Instant }

/** An object found damaged, foreign or misnamed: kept, never trusted, reported. */
interface BadObject { size: number; modifiedMs: number; error: SeglogError }

/** Most bytes of objects fetched ahead of the reader (one object is always allowed). */
const READ_AHEAD_BYTES = 32 << 20

/** Object timestamps from S3 and Azure have one-second resolution. */
const STORE_TIME_RESOLUTION_MS = 1000

const DEFAULTS = {
  flushEvents: 32, flushBytes: 1 << 20, lingerMs: 250, graceMs: 60_000, pollMs: 1000, readAhead: 8,
  compactTargetBytes: 64 << 20,
}

/** Longest delay setTimeout honours (larger ones fire at once). */
const MAX_TIMER_MS = 0x7fff_ffff

function positiveInt(name: string, v: unknown, def: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined) return def
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new SeglogError('ERR_INVALID_ARGUMENT', `journal option ${name} must be an integer from ${min} to ${max}, got ${String(v)}`)
  }
  return v
}

/**
 * An append-only journal of events kept in an object store: each flush writes one new,
 * write-once object named by a claimed sequence number; many processes may write one journal
 * (on stores that enforce create-only writes); readers see one total order; `compact()` merges
 * runs of objects without readers ever seeing a duplicate or a gap. See docs/journal.md.
 */
export class Journal<T = unknown> {
  /** The store. */
  readonly store: ObjectStore
  /** The journal's prefix in the store (no trailing `/`). */
  readonly prefix: string
  /** The codec of events this handle appends. */
  readonly codec: JournalCodec
  /** True when opened with `readOnly`. */
  readonly readOnly: boolean

  readonly #keys: JournalKeys
  readonly #flushEvents: number
  readonly #flushBytes: number
  readonly #lingerMs: number
  readonly #maxBuffered: number
  readonly #graceMs: number
  readonly #pollMs: number
  readonly #readAhead: number
  readonly #retry: RetryPolicy
  readonly #targetBytes: number
  readonly #clock: JournalClock

  // ---- writer state ----
  /** Events not yet durable, in append order (the in-doubt batch first). */
  #unflushed: Pending[] = []
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
  readonly #onError: ((error: SeglogError) => void) | undefined
  #closed = false
  #closing: Promise<void> | undefined
  readonly #closeController = new AbortController()
  // ---- reader state ----
  #snapshot: Snapshot | undefined
  /** Objects found damaged, foreign or misnamed, by key (while their size and time are unchanged). */
  readonly #bad = new Map<string, BadObject>()

  private constructor(store: ObjectStore, prefix: string, options: JournalOptions) {
    this.store = store
    this.prefix = prefix
    this.#keys = new JournalKeys(prefix)
    const codec = options.codec ?? 'jsonl'
    if (codec !== 'jsonl' && codec !== 'binary') throw new SeglogError('ERR_INVALID_ARGUMENT', `journal codec must be 'jsonl' or 'binary', got ${String(codec)}`)
    this.codec = codec
    this.readOnly = options.readOnly === true
    this.#flushEvents = positiveInt('flushEvents', options.flushEvents, DEFAULTS.flushEvents)
    this.#flushBytes = positiveInt('flushBytes', options.flushBytes, DEFAULTS.flushBytes)
    this.#lingerMs = positiveInt('lingerMs', options.lingerMs, DEFAULTS.lingerMs, 0, MAX_TIMER_MS)
    this.#maxBuffered = positiveInt('maxBufferedBytes', options.maxBufferedBytes, Math.max(16 << 20, 4 * this.#flushBytes))
    this.#graceMs = positiveInt('graceMs', options.graceMs, DEFAULTS.graceMs, 0)
    if (options.followPollMs !== undefined && options.pollMs !== undefined && options.followPollMs !== options.pollMs) {
      throw new SeglogError('ERR_INVALID_ARGUMENT', `journal options followPollMs (${String(options.followPollMs)}) and pollMs (${String(options.pollMs)}) disagree; pass only followPollMs (pollMs is its deprecated alias)`)
    }
    this.#pollMs = options.followPollMs !== undefined
      ? positiveInt('followPollMs', options.followPollMs, DEFAULTS.pollMs, 1, MAX_TIMER_MS)
      : positiveInt('pollMs', options.pollMs, DEFAULTS.pollMs, 1, MAX_TIMER_MS)
    this.#readAhead = positiveInt('readAhead', options.readAhead, DEFAULTS.readAhead)
    this.#targetBytes = positiveInt('compactTargetBytes', options.compactTargetBytes, DEFAULTS.compactTargetBytes)
    this.#retry = options.retry ?? {}
    this.#clock = options.clock ?? systemClock
    if (options.onError !== undefined && typeof options.onError !== 'function') throw new SeglogError('ERR_INVALID_ARGUMENT', 'journal option onError must be a function')
    this.#onError = options.onError
  }

  /**
   * Opens a journal under `prefix` of `store`. Nothing is read or written at open unless it
   * probes (`probe: true`, or a store whose create-only support is unverified, see
   * {@link JournalOptions.probe}). Writing needs a store that enforces create-only writes
   * (`store.enforcesCreateOnly`, or a passing probe) or the `singleWriter` option.
   */
  static async open<T = unknown>(store: ObjectStore, prefix: string, options: JournalOptions = {}): Promise<Journal<T>> {
    if (store === null || typeof store !== 'object' || typeof store.put !== 'function') {
      throw new SeglogError('ERR_INVALID_ARGUMENT', 'Journal.open needs an ObjectStore (MemoryStore, FsStore, S3Store, AzureBlobStore …)')
    }
    const storePrefix = (store as { prefix?: unknown }).prefix
    const p = validateJournalPrefix(prefix, typeof storePrefix === 'string' ? storePrefix : '')
    const j = new Journal<T>(store, p, options)
    if (!j.readOnly) {
      const probe = options.probe ?? store.createOnlyUnverified === true
      const enforced = probe ? await Journal.probe(store, p, options.retry) : store.enforcesCreateOnly
      if (!enforced && options.singleWriter !== true) {
        throw new SeglogError('ERR_INVALID_ARGUMENT',
          `${store.name} does not enforce create-only writes${probe ? ' (the probe at open overwrote a write-once object)' : ''}, so two writers could overwrite each other's batches. ` +
          'Use a store with conditional writes, open with { readOnly: true }, or, if exactly one process ever writes this journal, open with { singleWriter: true }')
      }
    }
    return j
  }

  /**
   * Checks every batch and compacted object under `prefix` of `store`, read-only: checksums, that
   * each holds exactly the batches its key names, and that a batch held by two objects (an original
   * and its merge) is the same batch in both. Unlike a read it goes on past damage and reports every
   * fault. The journal's counterpart of `Log.verify`; it needs no open handle and may run while
   * writers, readers and compaction work.
   */
  static verify(store: ObjectStore, prefix: string, options: JournalVerifyOptions = {}): Promise<JournalVerifyReport> {
    return verifyJournal(store, prefix, options)
  }

  /**
   * Lists every object under `prefix` of `store` with what its key claims (batch, compacted range,
   * retention marker …), in key order. Read-only; reads no object's contents.
   */
  static listObjects(store: ObjectStore, prefix: string, options: JournalListOptions = {}): Promise<JournalObjectInfo[]> {
    return listJournalObjects(store, prefix, options)
  }

  /**
   * Checks whether `store` really refuses a second create-only put of one key, by writing a
   * probe object under `<prefix>/p/` twice and deleting it.
   */
  static async probe(store: ObjectStore, prefix: string, retry: RetryPolicy = {}): Promise<boolean> {
    const key = new JournalKeys(validateJournalPrefix(prefix)).probe(`${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`)
    await withRetry(() => store.put(key, Buffer.from('1'), { mode: 'create' }).catch((err: unknown) => {
      if (isSeglogError(err, 'ERR_CONFLICT')) return { version: undefined }
      throw err
    }), retry)
    let enforced: boolean
    try {
      await withRetry(() => store.put(key, Buffer.from('2'), { mode: 'create' }), retry)
      enforced = false
    } catch (err) {
      if (!isSeglogError(err, 'ERR_CONFLICT')) throw err
      enforced = true
    }
    await withRetry(() => store.delete(key), retry).catch(() => undefined)
    return enforced
  }

  /** Events buffered and not yet durable. */
  get bufferedEvents(): number { return this.#unflushed.length }
  /** Bytes buffered and not yet durable. */
  get bufferedBytes(): number { return this.#unflushedBytes }
  /** True once `close()` finished. */
  get closed(): boolean { return this.#closed }

  #assertWritable(): void {
    if (this.#closed || this.#closing !== undefined) throw new SeglogError('ERR_CLOSED', `journal ${this.prefix} is closed; open it again to append`)
    if (this.readOnly) throw new SeglogError('ERR_READ_ONLY', `journal ${this.prefix} was opened read-only; open it without { readOnly: true } to append`)
  }

  #encodeEvent(event: T): Pending {
    if (this.codec === 'binary') {
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

  /**
   * Buffers one event. It is visible to this journal's `read()` at once and becomes durable with
   * the next flush (after `flushEvents`, `flushBytes` or `lingerMs`, or on `flush()`/`close()`).
   * Resolves when buffered; waits only when `maxBufferedBytes` is reached, and then rejects with
   * `ERR_STORE` if the flush it waited for failed.
   */
  async append(event: T): Promise<void> {
    await this.#push(event)
  }

  /**
   * Appends one event and resolves with its cursor once it is durable (after the flush that
   * carries it, triggered as for {@link Journal.append}). A failing flush is retried in the
   * background (see `onError`); the promise waits for the retry that succeeds.
   */
  async appendDurable(event: T): Promise<JournalCursor> {
    const index = await this.#push(event)
    return new Promise<JournalCursor>((resolve) => { this.#waiters.push({ index, resolve }) })
  }

  /** Buffers one event; resolves with its index among the events this handle appended. */
  async #push(event: T): Promise<number> {
    this.#assertWritable()
    const p = this.#encodeEvent(event)
    if (p.size > this.#maxBuffered) {
      throw new SeglogError('ERR_RECORD_TOO_LARGE', `event of ${p.size} bytes exceeds maxBufferedBytes (${this.#maxBuffered}); nothing was appended`)
    }
    while (this.#unflushedBytes + p.size > this.#maxBuffered) {
      try {
        await this.#requestFlush()
      } catch (err) {
        throw new SeglogError('ERR_STORE',
          `journal ${this.prefix}: buffer full (${this.#unflushedBytes} of maxBufferedBytes ${this.#maxBuffered}) and the flush failed; the event was not appended, retry later: ${(err as Error).message}`,
          { cause: err, details: { buffered: this.#unflushedBytes } })
      }
      this.#assertWritable()
    }
    this.#unflushed.push(p)
    this.#unflushedBytes += p.size
    const index = this.#appended++
    if (this.#unflushed.length >= this.#flushEvents || this.#unflushedBytes >= this.#flushBytes) {
      this.#background()
    } else if (this.#timer === undefined) {
      this.#timer = this.#clock.setTimer(() => { this.#timer = undefined; this.#background() }, this.#lingerMs)
    }
    return index
  }

  /** Starts a flush whose failure is only reported (diagnostics), then retried later. */
  #background(): void {
    this.#cancelTimer()
    if (this.#queued !== undefined) return
    this.#requestFlush().then(() => { this.#failures = 0 }, (err: unknown) => {
      // Events stay buffered; try again after a backoff, unless a newer flush is pending.
      this.#failures++
      if (this.#onError !== undefined) {
        try {
          this.#onError(isSeglogError(err) ? err : new SeglogError('ERR_STORE', `journal ${this.prefix}: flush failed: ${String(err)}`, { cause: err }))
        } catch { /* a throwing handler must not stop the retries */ }
      }
      if (this.#timer === undefined && this.#unflushed.length > 0 && !this.#closed) {
        const wait = Math.min(5000, Math.max(this.#lingerMs, 50) * 2 ** Math.min(this.#failures, 7))
        this.#timer = this.#clock.setTimer(() => { this.#timer = undefined; this.#background() }, wait)
      }
    })
  }

  #cancelTimer(): void {
    if (this.#timer !== undefined) { this.#timer(); this.#timer = undefined }
  }

  /** Queues a flush after the running one; flushes share a queued one. */
  #requestFlush(): Promise<void> {
    if (this.#queued !== undefined) return this.#queued
    const p = this.#running.then(() => {
      this.#queued = undefined
      return this.#flushNow()
    })
    this.#queued = p
    this.#running = p.catch(() => undefined)
    return p
  }

  /**
   * Writes every buffered event as one new object (no-op when none). After a failed flush, the
   * batch whose write is in doubt is first written again exactly as before (same sequence number
   * and bytes), so it cannot land twice; events appended since then go in a second object.
   * Rejects with `ERR_STORE` when the store stays unavailable; the events stay buffered.
   * Resolves with what became durable since the call (cursors of the first and last such event,
   * their number, the last batch's sequence number), or undefined when nothing was buffered.
   */
  async flush(): Promise<FlushResult | undefined> {
    if (this.#closed) throw new SeglogError('ERR_CLOSED', `journal ${this.prefix} is closed`)
    const from = this.#durable
    if (this.#unflushed.length === 0 && this.#queued === undefined) {
      await this.#running
    } else {
      this.#cancelTimer()
      await this.#requestFlush()
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

  async #flushNow(): Promise<void> {
    this.#cancelTimer()
    if (this.#inDoubt !== undefined) {
      await this.#writeBatch(this.#inDoubt.count, this.#inDoubt)
    }
    if (this.#unflushed.length > 0) await this.#writeBatch(this.#unflushed.length, undefined)
  }

  #encode(count: number, seq: number): Buffer {
    const nonce = randomBytes(8)
    const ts = Math.floor(this.#clock.now()) // the formats store whole milliseconds
    const events = this.#unflushed.slice(0, count)
    if (this.codec === 'binary') return encodeBinarySection(events.map((e) => e.data as Buffer), seq, ts, nonce)
    return encodeJsonlSection(events.map((e) => e.data as string), seq, ts, nonce)
  }

  /** Writes the first `count` buffered events as one object; resolves once it is durable. */
  async #writeBatch(count: number, doubt: InDoubt | undefined): Promise<void> {
    const t0 = this.#clock.monotonic()
    let conflicts = 0
    let seq: number | undefined
    let bytes: Buffer | undefined
    const size = this.#unflushed.slice(0, count).reduce((n, e) => n + e.size, 0)
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
        const putStart = readInstant(this.#clock)
        // An in-doubt batch's number may have been claimed any time ago: always check it.
        const knowledgeAt = retryOfDoubt ? undefined : this.#knownAt
        const outcome = await this.#createOnce(seq, bytes, retryOfDoubt)
        retryOfDoubt = false
        if (outcome === 'mine' && (knowledgeAt === undefined || elapsedSince(this.#clock, knowledgeAt) >= this.#trustMs())) {
          // Our idea of the next free number was old enough that a compactor or retention may
          // have deleted an object with this number before we recreated it: check we are not
          // shadowed by a compacted object or a retention marker (see #trustMs).
          if (await this.#shadowed(seq, bytes)) {
            // Our object is hidden (readers use the compacted object or skip below the marker)
            // and our events go to a new number: remove it, so that no one ever finds two
            // different batches under one number (the sweep would report that as damage).
            const orphan = this.#keys.batch(seq)
            await withRetry(() => this.store.delete(orphan), this.#retry).catch(() => undefined)
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
        if (flushChannel.hasSubscribers) {
          flushChannel.publish({ journal: this.prefix, seq, key: this.#keys.batch(seq), events: count, bytes: bytes.length, conflicts, durationMs: this.#clock.monotonic() - t0, error: undefined } satisfies FlushMessage)
        }
        return
      }
    } catch (err) {
      const e = isSeglogError(err) ? err : new SeglogError('ERR_STORE', `journal ${this.prefix}: flush failed: ${(err as Error).message}`, { cause: err })
      if (flushChannel.hasSubscribers) {
        flushChannel.publish({ journal: this.prefix, seq, key: seq === undefined ? undefined : this.#keys.batch(seq), events: count, bytes: bytes?.length ?? 0, conflicts, durationMs: this.#clock.monotonic() - t0, error: e } satisfies FlushMessage)
      }
      throw e
    } finally {
      this.#active = undefined
      finish()
    }
  }

  /**
   * One create-only PUT of `b/<seq>`, retried on transient errors. A conflict after an attempt
   * that may have landed is resolved by reading the object back and comparing bytes.
   */
  async #createOnce(seq: number, bytes: Buffer, mayHaveLanded: boolean): Promise<'mine' | 'taken'> {
    let landed = mayHaveLanded
    const key = this.#keys.batch(seq)
    return withRetry(async () => {
      try {
        await this.store.put(key, bytes, { mode: 'create' })
        return 'mine' as const
      } catch (err) {
        if (!isSeglogError(err, 'ERR_CONFLICT')) throw err
        if (!landed) return 'taken' as const
        return (await this.#isMine(seq, bytes)) ? 'mine' as const : 'taken' as const
      }
    }, this.#retry, () => { landed = true })
  }

  /** Whether batch `seq`, wherever it is stored now, has exactly these bytes. */
  async #isMine(seq: number, bytes: Buffer): Promise<boolean> {
    const got = await withRetry(() => this.store.get(this.#keys.batch(seq)), this.#retry)
    if (got !== undefined) return got.data.equals(bytes)
    const held = await this.#compactedSection(seq, await this.#list(true))
    return held !== undefined && held.equals(bytes)
  }

  /**
   * The bytes of batch `seq` in the compacted object readers use for it (the sound one reaching
   * furthest), or undefined when no sound compacted object covers it.
   */
  async #compactedSection(seq: number, snap: Snapshot): Promise<Buffer | undefined> {
    const covering = snap.compacted
      .filter((c) => c.first <= seq && seq <= c.last && this.#badError(c) === undefined)
      .sort((a, b) => b.last - a.last || a.first - b.first)
    for (const c of covering) {
      try {
        const got = await this.#fetchChecked(c, false)
        if (got !== undefined) return got.sections[seq - c.first].raw
      } catch (err) {
        if (!isSeglogError(err, 'ERR_CORRUPT')) throw err
        this.#markBad(c, err) // readers skip it too, so it hides nothing
      }
    }
    return undefined
  }

  /**
   * True when `b/<seq>` (ours, just written) is hidden from readers: below the newest retention
   * marker, or covered by a compacted object that holds other bytes for `seq` (readers read the
   * compacted object, not our batch).
   */
  async #shadowed(seq: number, bytes: Buffer): Promise<boolean> {
    const snap = await this.#list(true)
    if (seq < snap.marker) return true
    const held = await this.#compactedSection(seq, snap)
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
   * own `lastModified`, than the covering object (see #sweep), so d - c > graceMs on the store's
   * clock. Hence p - k > d - c > graceMs, and the writer's PUT finished more than graceMs after k.
   * A writer that sees less than graceMs / 2 pass between k and the end of its PUT skips the
   * check; one that sees more lists compacted objects and markers again (#shadowed). The only
   * assumption is about clock *rates*: each writer's clocks advance at least half as fast as the
   * store's over graceMs (the larger of the monotonic and the wall clock counts, so a machine
   * asleep or a wall clock stepped back does not stretch the window). Clock *offsets* between
   * writers, compactors and the store do not enter at all.
   */
  #trustMs(): number { return this.#graceMs / 2 }

  /** The next sequence number to try: cached while fresh, else from a listing. */
  async #claim(): Promise<number> {
    if (this.#lastSeq !== undefined && elapsedSince(this.#clock, this.#knownAt) < this.#trustMs()) return this.#lastSeq + 1
    return this.#refresh(this.#lastSeq ?? -1)
  }

  /**
   * Learns the highest taken sequence number at or above `from` by listing compacted objects
   * and markers, then batches after them (never from zero once anything is known).
   */
  async #refresh(from: number): Promise<number> {
    const { max, snap } = await this.#highestTaken(from, false)
    this.#lastSeq = max
    // The knowledge is as old as its oldest part: the (possibly cached) listing of compacted objects.
    this.#knownAt = snap.takenAt
    return max + 1
  }

  /** The highest sequence number any object (or the newest marker) takes, at least `from`. */
  async #highestTaken(from: number, fresh: boolean): Promise<{ max: number; snap: Snapshot }> {
    const snap = await this.#list(fresh)
    let max = Math.max(from, snap.marker - 1)
    for (const c of snap.compacted) max = Math.max(max, c.last)
    const startAfter = max >= 0 ? this.#keys.batch(max) : undefined
    for (const o of await this.#listDir('b', startAfter)) max = Math.max(max, o.last)
    return { max, snap }
  }

  async #listDir(kind: 'b' | 'c' | 'r', startAfter?: string): Promise<Obj[]> {
    return withRetry(async () => {
      const out: Obj[] = []
      for await (const m of this.store.list(this.#keys.dir(kind), startAfter === undefined ? {} : { startAfter })) {
        const o = this.#toObj(m)
        if (o !== undefined && o.kind === kind) out.push(o)
      }
      return out
    }, this.#retry)
  }

  #toObj(m: ObjectMeta): Obj | undefined {
    const p = parseKey(this.#keys.rel(m.key))
    if (p === undefined) return undefined
    return { key: m.key, kind: p.kind, first: p.first, last: p.last, size: m.size, modifiedMs: m.lastModified.getTime() }
  }

  /**
   * Lists compacted objects and retention markers (not batches), cached for a quarter of the
   * grace period: within it no object they would reveal can have had its originals deleted.
   */
  async #list(fresh: boolean): Promise<Snapshot> {
    const now = readInstant(this.#clock)
    if (!fresh && this.#snapshot !== undefined && elapsedSince(this.#clock, this.#snapshot.takenAt) < this.#graceMs / 4) return this.#snapshot
    const compacted = await this.#listDir('c')
    const markers = (await this.#listDir('r'))
    const marker = markers.reduce((m, o) => Math.max(m, o.first), 0)
    this.#snapshot = { compacted, markers, marker, takenAt: now }
    return this.#snapshot
  }

  // ---- damaged, foreign and misnamed objects ----

  /** The error recorded for `o` when it was found bad and has not changed since. */
  #badError(o: Obj): SeglogError | undefined {
    const b = this.#bad.get(o.key)
    if (b === undefined) return undefined
    if (b.size === o.size && b.modifiedMs === o.modifiedMs) return b.error
    this.#bad.delete(o.key) // replaced since: judge it again
    return undefined
  }

  #markBad(o: Obj, error: SeglogError): SeglogError {
    const e = error.details.file === o.key ? error : new SeglogError('ERR_CORRUPT', `${o.key}: ${error.message}`, { cause: error, details: { ...error.details, file: o.key } })
    this.#bad.set(o.key, { size: o.size, modifiedMs: o.modifiedMs, error: e })
    return e
  }

  /**
   * Plans a read from `from` without the objects known to be bad. Throws the bad object's
   * `ERR_CORRUPT` when some sequence number it claims is held by no other object: those events
   * may exist only there, so reading on would silently skip them.
   */
  #planChecked(batches: Obj[], compacted: Obj[], from: number, marker: number): Step[] {
    const good = (o: Obj): boolean => this.#badError(o) === undefined
    const steps = planReads(batches.filter(good), compacted.filter(good), from, marker)
    for (const o of [...compacted, ...batches]) {
      const error = this.#badError(o)
      if (error === undefined) continue
      const gap = firstUncovered(steps, o.first, o.last, Math.max(from, marker))
      if (gap !== undefined) {
        throw new SeglogError('ERR_CORRUPT',
          `${error.message}; no other object holds batch ${gap}, so the journal cannot be read past it. Restore ${o.key} from a copy, or delete it by hand (reads then skip what only it held)`,
          { cause: error, details: { ...error.details, file: o.key, seq: gap } })
      }
    }
    return steps
  }

  /**
   * Reads an object whole and checks it: every section's checksum, and sequence numbers that are
   * exactly the ones its key names, in order. `ERR_CORRUPT` names the key; undefined when gone.
   */
  async #fetchChecked(obj: Obj, decodeValues: boolean): Promise<{ sections: Section[]; data: Buffer } | undefined> {
    const got = await withRetry(() => this.store.get(obj.key), this.#retry)
    if (got === undefined) return undefined
    const sections = decodeSections(got.data, obj.key, decodeValues)
    const expected = obj.last - obj.first + 1
    if (sections.length !== expected || sections.some((s, k) => s.seq !== obj.first + k)) {
      const held = sections.length === 0 ? 'nothing' : `${sections.length} batch(es) ${sections[0].seq}..${sections[sections.length - 1].seq}${sections.some((s, k) => k > 0 && s.seq !== sections[k - 1].seq + 1) ? ' (not contiguous)' : ''}`
      throw new SeglogError('ERR_CORRUPT',
        `${obj.key}: holds ${held} but its key names batches ${obj.first}..${obj.last} (a misnamed or foreign object); it is not used`,
        { details: { file: obj.key } })
    }
    return { sections, data: got.data }
  }

  /** Reads one step's sections, recording the object as bad when its check fails. */
  async #fetch(step: Step, decodeValues: boolean): Promise<Section[] | undefined> {
    let got: { sections: Section[] } | undefined
    try {
      got = await this.#fetchChecked(step.obj, decodeValues)
    } catch (err) {
      if (isSeglogError(err, 'ERR_CORRUPT')) throw this.#markBad(step.obj, err)
      throw err
    }
    return got?.sections.slice(step.from - step.obj.first, step.to - step.obj.first + 1)
  }

  /**
   * Yields events in journal order after `after`. Without `follow` it ends at the current end
   * (then yields this handle's buffered events, `durable: false`, unless `pending: false`). With
   * `follow` it polls every `pollMs` for new batches until `signal` aborts or the journal closes.
   * Throws `ERR_CORRUPT` on a damaged object, `ERR_STORE` when the store stays unavailable.
   */
  async *read(options: ReadOptions = {}): AsyncGenerator<JournalEntry<T>, void, undefined> {
    if (this.#closed) throw new SeglogError('ERR_CLOSED', `journal ${this.prefix} is closed`)
    const after = options.after === undefined ? undefined : parseCursor(options.after)
    const follow = options.follow === true
    const pending = !follow && options.pending !== false
    const signal = options.signal
    let cursorSeq = after?.seq ?? -1
    let cursorIndex = after?.index ?? -1
    let next = Math.max(0, cursorSeq)
    let missing = 0
    let waits = 0
    let first = true
    for (;;) {
      if (signal?.aborted || this.#closed) return
      const generation = this.#flushGeneration
      // Batches first, then compacted objects: a batch missing from the first listing was deleted
      // because a compacted object covered it, which the second listing then shows. The first
      // listing of compacted objects in a read is fresh; follow polls reuse it for graceMs / 4.
      const batches = await this.#listDir('b', next > 0 ? this.#keys.batch(next - 1) : undefined)
      const snap = await this.#list(first || missing > 0)
      first = false
      const steps = this.#planChecked(batches, snap.compacted, next, snap.marker)
      let broke = false
      // Fetch ahead (bounded by count and bytes), yield in order.
      const inflight: { p: Promise<Section[] | undefined>; size: number }[] = []
      let inflightBytes = 0
      let k = 0
      const fill = (): void => {
        while (k < steps.length && inflight.length < this.#readAhead && (inflight.length === 0 || inflightBytes + steps[k].obj.size <= READ_AHEAD_BYTES)) {
          const p = this.#fetch(steps[k], true)
          p.catch(() => undefined)
          inflight.push({ p, size: steps[k].obj.size })
          inflightBytes += steps[k].obj.size
          k++
        }
      }
      fill()
      for (let i = 0; i < steps.length; i++) {
        const head = inflight.shift() as { p: Promise<Section[] | undefined>; size: number }
        inflightBytes -= head.size
        let sections: Section[] | undefined
        try {
          sections = await head.p
        } catch (err) {
          // A damaged, foreign or misnamed object (now recorded as bad): plan again without it;
          // the plan throws if nothing else holds what it claims.
          if (!isSeglogError(err, 'ERR_CORRUPT')) throw err
          broke = true
          break
        }
        fill()
        if (sections === undefined) {
          // Deleted since we listed (compaction or retention): list again from here.
          if (++missing > 20) throw new SeglogError('ERR_STORE', `journal ${this.prefix}: objects keep disappearing while reading; is graceMs the same for every process?`)
          broke = true
          break
        }
        missing = 0
        for (const s of sections) {
          for (let idx = 0; idx < s.values.length; idx++) {
            if (s.seq < cursorSeq || (s.seq === cursorSeq && idx <= cursorIndex)) continue
            cursorSeq = s.seq
            cursorIndex = idx
            yield { cursor: formatCursor(s.seq, idx), value: s.values[idx] as T, timestamp: s.timestamp, durable: true }
          }
          next = s.seq + 1
        }
      }
      if (broke) continue
      if (!follow) {
        // Our own flushes may have landed while we read: read them as durable, not as pending.
        if (generation !== this.#flushGeneration) continue
        let skip = 0
        if (pending && this.#active !== undefined) {
          // A write under way may or may not be in the listing we just read: wait for it and
          // look again (a few times), else leave its events out rather than risk showing them twice.
          if (waits++ < 5) { await this.#active.done; continue }
          skip = this.#active.count
        }
        if (pending) {
          const cursor = cursorSeq < 0 ? JOURNAL_START : formatCursor(cursorSeq, cursorIndex)
          for (const e of this.#unflushed.slice(skip)) {
            const value = (typeof e.data === 'string' ? JSON.parse(e.data) : Buffer.from(e.data)) as T
            yield { cursor, value, timestamp: Math.floor(this.#clock.now()), durable: false }
          }
        }
        return
      }
      try {
        const sig = signal === undefined ? this.#closeController.signal : AbortSignal.any([signal, this.#closeController.signal])
        await sleep(this.#clock, this.#pollMs, sig)
      } catch {
        return
      }
    }
  }

  /**
   * Yields events in journal order after `after`, as {@link Journal.read} does (which stays as
   * an alias), and ends after the event at `to` when given (buffered events are then left out).
   * With `follow` and `to`, it waits for `to` and ends there.
   */
  async *iterate(options: JournalIterateOptions = {}): AsyncGenerator<JournalEntry<T>, void, undefined> {
    const { to, ...rest } = options
    if (to === undefined) { yield* this.read(rest); return }
    parseCursor(to)
    for await (const e of this.read({ ...rest, pending: false })) {
      const c = compareCursors(e.cursor, to)
      if (c > 0) return
      yield e
      if (c === 0) return
    }
  }

  /**
   * The cursor of the last durable event in the store, or {@link JOURNAL_START} when there is
   * none: `iterate({ after: await j.endCursor(), follow: true })` sees only what comes after now,
   * and a mirror can compare it with its own position without reading the journal.
   */
  async endCursor(): Promise<JournalCursor> {
    if (this.#closed) throw new SeglogError('ERR_CLOSED', `journal ${this.prefix} is closed`)
    for (let attempt = 0; attempt < 20; attempt++) {
      // Batches first, then compacted objects (see read()).
      const batches = await this.#listDir('b')
      const snap = await this.#list(true)
      const steps = this.#planChecked(batches, snap.compacted, 0, snap.marker)
      const last = steps[steps.length - 1]
      if (last === undefined) return JOURNAL_START
      try {
        const sections = await this.#fetch({ obj: last.obj, from: last.to, to: last.to }, true)
        if (sections === undefined) continue // moved by compaction since the listing
        const s = sections[sections.length - 1]
        return formatCursor(s.seq, s.values.length - 1)
      } catch (err) {
        if (!isSeglogError(err, 'ERR_CORRUPT')) throw err // now recorded as bad: plan again without it
      }
    }
    throw new SeglogError('ERR_STORE', `journal ${this.prefix}: objects keep disappearing while looking for the end; is graceMs the same for every process?`)
  }

  /**
   * Merges runs of objects into compacted objects `c/<first>-<last>` of up to
   * `compactTargetBytes`, and deletes objects that a compacted object (or a retention marker)
   * has covered for at least `graceMs`. Safe to run in several processes at once, and to crash at
   * any step: originals are deleted only after the merged object is durable, the grace period
   * has passed, and the merged object has been read back and found to hold exactly their bytes,
   * so readers never see a gap or a duplicate. Run it periodically.
   *
   * A damaged, foreign or misnamed object is never trusted: nothing it claims to cover is
   * deleted, it is left in place, and once the rest of the work is done `compact()` rejects with
   * `ERR_CORRUPT` naming it (`details.keys` lists every such key, `details.result` what was done).
   */
  async compact(options: { graceMs?: number } = {}): Promise<CompactResult> {
    if (this.#closed) throw new SeglogError('ERR_CLOSED', `journal ${this.prefix} is closed`)
    if (this.readOnly) throw new SeglogError('ERR_READ_ONLY', `journal ${this.prefix} was opened read-only; compaction writes, open it without { readOnly: true }`)
    const grace = options.graceMs ?? this.#graceMs
    const t0 = this.#clock.monotonic()
    const result: CompactResult = { merged: [], deleted: [] }
    const problems = new Map<string, SeglogError>()
    result.deleted.push(...await this.#sweep(grace, problems))
    // Batches first, then compacted objects: anything a batch listing misses was deleted because
    // a compacted object covered it, which the later listing then shows.
    const batches = await this.#listDir('b')
    const snap = await this.#list(true)
    const good = (o: Obj): boolean => {
      const e = this.#badError(o)
      if (e !== undefined) problems.set(o.key, e)
      return e === undefined
    }
    const compacted = snap.compacted.filter(good)
    const covered = (o: Obj): boolean => compacted.some((c) => c.first <= o.first && o.last <= c.last)
    const steps = planReads(batches.filter(good).filter((b) => !covered(b)), compacted, 0, snap.marker)
    for (const r of this.#runs(steps)) {
      const merged = await this.#merge(r, problems, batches)
      if (merged !== undefined) result.merged.push(merged)
    }
    this.#snapshot = undefined
    if (grace === 0 && result.merged.length > 0) result.deleted.push(...await this.#sweep(0, problems))
    if (compactChannel.hasSubscribers) {
      compactChannel.publish({ journal: this.prefix, merged: result.merged, deleted: result.deleted.length, durationMs: this.#clock.monotonic() - t0 } satisfies CompactMessage)
    }
    if (problems.size > 0) throw this.#problemsError('compaction', problems, result)
    return result
  }

  /** Groups contiguous steps into runs of ≥ 2 objects within the size target. */
  #runs(steps: Step[]): Step[][] {
    const runs: Step[][] = []
    let run: Step[] = []
    let runBytes = 0
    const stepBytes = (st: Step): number => st.obj.size * ((st.to - st.from + 1) / (st.obj.last - st.obj.first + 1))
    const close = (): void => {
      // Do not rewrite a large compacted object to append a little: leave it as the run's head
      // until what follows is at least a quarter of its size (bounds write amplification).
      while (run.length >= 2 && run[0].obj.kind === 'c' && stepBytes(run[0]) > 4 * (runBytes - stepBytes(run[0]))) {
        runBytes -= stepBytes(run[0])
        run.shift()
      }
      if (run.length >= 2) runs.push(run)
      run = []
      runBytes = 0
    }
    for (const st of steps) {
      const bytes = stepBytes(st)
      const prev = run[run.length - 1]
      if (prev !== undefined && (prev.to + 1 !== st.from || runBytes + bytes > this.#targetBytes)) close()
      if (bytes >= this.#targetBytes) { close(); continue }
      run.push(st)
      runBytes += bytes
    }
    close()
    return runs
  }

  /** Writes one run as a compacted object; undefined when it could not (moved, or a bad part). */
  async #merge(r: Step[], problems: Map<string, SeglogError>, batches: Obj[]): Promise<CompactResult['merged'][number] | undefined> {
    // A compacted object is only carried into a larger one once it matches the originals that
    // are still there: a foreign one must not spread into objects that look like our own merges.
    for (const st of r) {
      if (st.obj.kind === 'c' && !(await this.#matchesOriginals(st.obj, batches, problems))) return undefined
    }
    const parts: Buffer[] = []
    for (let i = 0; i < r.length; i += this.#readAhead) {
      const got = await Promise.all(r.slice(i, i + this.#readAhead).map((st) => this.#fetch(st, false).catch((err: unknown) => {
        if (!isSeglogError(err, 'ERR_CORRUPT')) throw err
        problems.set(st.obj.key, err)
        return null
      })))
      for (const sections of got) {
        // undefined: another compactor moved it (next run); null: a bad object (reported).
        if (sections === undefined || sections === null) return undefined
        for (const s of sections) parts.push(s.raw)
      }
    }
    const first = r[0].from
    const last = r[r.length - 1].to
    const key = this.#keys.compacted(first, last)
    const data = Buffer.concat(parts)
    const written = await withRetry(() => this.store.put(key, data, { mode: 'create' }).then(() => true, (err: unknown) => {
      if (isSeglogError(err, 'ERR_CONFLICT')) return false
      throw err
    }), this.#retry)
    if (!written) {
      // The key exists: another compactor wrote these bytes already, or it is something else,
      // which must not be counted as the merge (its originals stay; the sweep reports it).
      const there = await withRetry(() => this.store.get(key), this.#retry)
      if (there === undefined || !there.data.equals(data)) {
        if (there !== undefined) {
          const obj = this.#toObj(there.meta) as Obj
          problems.set(key, this.#markBad(obj, new SeglogError('ERR_CORRUPT', `${key}: holds other bytes than the batches ${first}..${last} it names (a damaged or foreign object); it is not used`, { details: { file: key } })))
        }
        return undefined
      }
    }
    return { key, objects: r.length, bytes: data.length }
  }

  /**
   * Whether compacted object `c` holds exactly the bytes of the original batches of its range that
   * are still listed (true when none are). A mismatch or a damaged `c` is recorded as bad.
   */
  async #matchesOriginals(c: Obj, batches: Obj[], problems: Map<string, SeglogError>): Promise<boolean> {
    const inside = batches.filter((b) => c.first <= b.first && b.last <= c.last)
    if (inside.length === 0) return true
    const sections = await this.#checkedSections(c, new Map(), problems)
    if (sections === undefined) return false
    for (const b of inside) {
      const verdict = await this.#sameBytes(b, sections)
      if (verdict instanceof SeglogError) { problems.set(b.key, verdict); continue }
      if (verdict === 'different') {
        problems.set(c.key, this.#markBad(c, new SeglogError('ERR_CORRUPT',
          `${c.key}: holds other bytes for batch ${b.first} than ${b.key}, which it claims to cover; it is not used and nothing it covers is deleted. It is damaged or foreign (a compacted object made here holds its originals' exact bytes): delete it by hand`,
          { details: { file: c.key, other: b.key } })))
        return false
      }
    }
    return true
  }

  /** The store's clock now: the `lastModified` of an object written for the purpose. */
  async #storeNow(): Promise<number> {
    const key = this.#keys.probe(`clock-${randomBytes(8).toString('hex')}`)
    await withRetry(() => this.store.put(key, Buffer.alloc(0), { mode: 'create' }).catch((err: unknown) => {
      // Our own earlier attempt landed: its time is older, which only makes ages look younger.
      if (isSeglogError(err, 'ERR_CONFLICT')) return { version: undefined }
      throw err
    }), this.#retry)
    const meta = await withRetry(() => this.store.head(key), this.#retry)
    await withRetry(() => this.store.delete(key), this.#retry).catch(() => undefined)
    if (meta === undefined) throw new SeglogError('ERR_STORE', `${this.store.name}: the object ${key} just written is not there; the store is not consistent for read-after-write, which the journal needs`)
    return meta.lastModified.getTime()
  }

  /**
   * Deletes objects that are covered by a compacted object (or a retention marker) that has
   * existed for at least `grace` ms: batches inside a compacted range, compacted objects inside a
   * larger one, anything wholly below the highest marker, and lower markers.
   *
   * Age is measured on the store's clock alone: `lastModified` of a reference object written now
   * minus `lastModified` of the covering object, which must reach grace plus the stores'
   * one-second timestamp resolution (S3 and Azure report whole seconds, so the two readings can
   * each be up to a second early: the true age then exceeds grace). No local clock enters, so
   * skew between this process and the store or the writers does not matter (see #trustMs).
   *
   * Before deleting anything a compacted object covers, that object is read whole and checked
   * (every section's checksum; sequence numbers exactly those its key names) and the covered
   * object's bytes are compared with its sections: a damaged, foreign or misnamed object never
   * causes a deletion. Such objects are added to `problems`.
   */
  async #sweep(grace: number, problems: Map<string, SeglogError>): Promise<string[]> {
    const batches = await this.#listDir('b')
    const snap = await this.#list(true)
    const doomed: string[] = []
    for (const m of snap.markers) if (m.first < snap.marker) doomed.push(m.key)
    const compacted = snap.compacted.filter((c) => this.#badError(c) === undefined)
    const below = (o: Obj): boolean => o.last < snap.marker
    const inside = (o: Obj, c: Obj): boolean => o !== c && c.first <= o.first && o.last <= c.last && (o.kind === 'b' || o.first !== c.first || o.last !== c.last)
    const candidates = [...batches, ...snap.compacted].filter((o) => below(o) || compacted.some((c) => inside(o, c)))
    if (candidates.length > 0) {
      const ref = grace === 0 ? undefined : await this.#storeNow()
      const old = (o: Obj): boolean => ref === undefined || ref - o.modifiedMs >= grace + STORE_TIME_RESOLUTION_MS
      const newest = snap.markers.find((m) => m.first === snap.marker)
      const markerOld = newest !== undefined && old(newest)
      const checked = new Map<string, Map<number, Buffer> | undefined>()
      for (const o of candidates) {
        if (markerOld && below(o) && old(o)) { doomed.push(o.key); continue }
        // The covering object readers use first: the one reaching furthest.
        const covers = compacted.filter((c) => inside(o, c) && old(c)).sort((a, b) => b.last - a.last || a.first - b.first)
        for (const c of covers) {
          const sections = await this.#checkedSections(c, checked, problems)
          if (sections === undefined) continue
          const verdict = await this.#sameBytes(o, sections)
          if (verdict === 'same') doomed.push(o.key)
          else if (verdict instanceof SeglogError) problems.set(o.key, verdict) // kept: deleting damage is for a person to decide
          else if (verdict === 'different') {
            // An original batch is the journal's own record, so a compacted object that differs
            // from it is the suspect; of two compacted objects, the smaller one (the larger one
            // has just passed its checks).
            const suspect = o.kind === 'b' ? c : o
            const other = suspect === c ? o : c
            if (!problems.has(suspect.key)) {
              problems.set(suspect.key, new SeglogError('ERR_CORRUPT',
                `${suspect.key}: holds other bytes for batches ${o.first}..${o.last} than ${other.key}; neither is deleted. One of them is damaged or foreign (a compacted object made here holds its originals' exact bytes): compare them, and delete the wrong one by hand`,
                { details: { file: suspect.key, other: other.key } }))
            }
          }
          break
        }
      }
    }
    if (doomed.length > 0) {
      await withRetry(() => this.store.deleteMany(doomed), this.#retry)
      this.#snapshot = undefined
    }
    return doomed
  }

  /** The checked sections of compacted object `c` by sequence number (cached per sweep). */
  async #checkedSections(c: Obj, cache: Map<string, Map<number, Buffer> | undefined>, problems: Map<string, SeglogError>): Promise<Map<number, Buffer> | undefined> {
    if (cache.has(c.key)) return cache.get(c.key)
    let out: Map<number, Buffer> | undefined
    try {
      const got = await this.#fetchChecked(c, false)
      if (got !== undefined) out = new Map(got.sections.map((s) => [s.seq, s.raw]))
    } catch (err) {
      if (!isSeglogError(err, 'ERR_CORRUPT')) throw err
      problems.set(c.key, this.#markBad(c, err))
    }
    cache.set(c.key, out)
    return out
  }

  /** Whether object `o` holds exactly the sections `c` holds for its range ('gone': deleted since). */
  async #sameBytes(o: Obj, sections: Map<number, Buffer>): Promise<'same' | 'different' | 'gone' | SeglogError> {
    const got = await withRetry(() => this.store.get(o.key), this.#retry)
    if (got === undefined) return 'gone'
    const parts: Buffer[] = []
    for (let s = o.first; s <= o.last; s++) {
      const raw = sections.get(s)
      if (raw === undefined) return 'different' // cannot happen for a checked c covering o
      parts.push(raw)
    }
    if (got.data.equals(Buffer.concat(parts))) return 'same'
    // Different: is the covered object itself damaged (then it, not the cover, is the suspect)?
    try {
      await this.#fetchChecked({ ...o, size: got.data.length }, false)
    } catch (err) {
      if (isSeglogError(err, 'ERR_CORRUPT')) return this.#markBad(o, err)
      throw err
    }
    return 'different'
  }

  /** The `ERR_CORRUPT` that compaction and retention end with when they met bad objects. */
  #problemsError(what: string, problems: Map<string, SeglogError>, result: unknown): SeglogError {
    const keys = [...problems.keys()]
    const first = problems.get(keys[0]) as SeglogError
    return new SeglogError('ERR_CORRUPT',
      `journal ${this.prefix}: ${what} found ${keys.length} damaged, foreign or misnamed object(s), kept and not trusted (nothing they claim to cover was deleted): ${first.message}${keys.length > 1 ? ` (and ${keys.slice(1, 4).join(', ')}${keys.length > 4 ? ', …' : ''})` : ''}`,
      { cause: first, details: { file: keys[0], keys, result } })
  }

  /**
   * Retention: drops every batch that lies wholly before `cursor`'s batch. Readers skip them at
   * once (a marker object `r/<seq>` is written first); the objects themselves are deleted once
   * the marker and they are older than `graceMs` on the store's clock (now, or by a later
   * `deleteBefore`/`compact`). Returns the keys deleted now. A cursor beyond the journal's end is
   * refused with `ERR_INVALID_ARGUMENT`: a marker there would hide events written after it by
   * writers that had not seen it yet. Rejects with `ERR_CORRUPT` (after doing its work) when the
   * sweep met damaged, foreign or misnamed objects, as {@link Journal.compact} does.
   */
  async deleteBefore(cursor: JournalCursor, options: { graceMs?: number } = {}): Promise<string[]> {
    if (this.#closed) throw new SeglogError('ERR_CLOSED', `journal ${this.prefix} is closed`)
    if (this.readOnly) throw new SeglogError('ERR_READ_ONLY', `journal ${this.prefix} was opened read-only; retention deletes, open it without { readOnly: true }`)
    const { seq } = parseCursor(cursor)
    if (seq <= 0) return []
    const { max } = await this.#highestTaken(-1, true)
    if (seq > max + 1) {
      throw new SeglogError('ERR_INVALID_ARGUMENT',
        `deleteBefore(${JSON.stringify(cursor)}): batch ${seq} is beyond the journal's end (the last batch is ${max < 0 ? 'none' : max}); pass a cursor that read() returned`)
    }
    const key = this.#keys.marker(seq)
    await withRetry(() => this.store.put(key, Buffer.alloc(0), { mode: 'create' }).catch((err: unknown) => {
      if (isSeglogError(err, 'ERR_CONFLICT')) return { version: undefined }
      throw err
    }), this.#retry)
    this.#snapshot = undefined
    const problems = new Map<string, SeglogError>()
    const deleted = await this.#sweep(options.graceMs ?? this.#graceMs, problems)
    if (problems.size > 0) throw this.#problemsError('retention', problems, { deleted })
    return deleted
  }

  /**
   * Age-based retention: drops the oldest objects whose last modification is older than
   * `maxAgeMs` on the store's clock (a compacted object counts from when it was written, so it is
   * kept at least as long as its newest batch). Returns the keys deleted now (see
   * {@link Journal.deleteBefore}).
   */
  async retain(options: { maxAgeMs: number; graceMs?: number }): Promise<string[]> {
    const maxAge = positiveInt('maxAgeMs', options?.maxAgeMs, 0, 0)
    const batches = await this.#listDir('b')
    const snap = await this.#list(true)
    const steps = planReads(batches, snap.compacted, 0, snap.marker)
    if (steps.length === 0) return []
    const now = await this.#storeNow()
    let cut = -1
    for (const st of steps) {
      if (now - st.obj.modifiedMs < maxAge) break
      cut = st.to + 1
    }
    if (cut <= 0) return []
    return this.deleteBefore(formatCursor(cut, 0), options.graceMs === undefined ? {} : { graceMs: options.graceMs })
  }

  /**
   * Flushes buffered events, then closes: appends fail with `ERR_CLOSED` and followers end.
   * If the final flush fails, `close()` rejects and the journal stays open so you can retry.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    if (this.#closing !== undefined) return this.#closing
    this.#closing = (async () => {
      this.#cancelTimer()
      try {
        if (!this.readOnly && (this.#unflushed.length > 0 || this.#queued !== undefined)) await this.#requestFlush()
        await this.#running
      } catch (err) {
        this.#closing = undefined
        throw err
      }
      this.#closed = true
      this.#closeController.abort()
    })()
    return this.#closing
  }

  /** `await using j = await Journal.open(...)` closes (and flushes) at scope end. */
  async [Symbol.asyncDispose](): Promise<void> { await this.close() }
}
