import { randomBytes } from 'node:crypto'
import diagnostics_channel from 'node:diagnostics_channel'
import { performance } from 'node:perf_hooks'
import { SeglogError, isSeglogError } from '../errors.js'
import { validatePrefix } from '../objects/keys.js'
import { delay, withRetry, type RetryPolicy } from '../objects/retry.js'
import type { ObjectMeta, ObjectStore } from '../objects/types.js'
import { decodeSections, encodeBinarySection, encodeJsonlSection, type JournalCodec, type Section } from './codec.js'
import { JournalKeys, parseKey } from './keys.js'

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
  /** Probe the store at open (write one object twice, create-only) instead of trusting its flag. */
  probe?: boolean
  /**
   * Grace period before compaction and retention delete objects, and the freshness window of a
   * writer's cached sequence number (half of it). Every process using the journal must use the
   * same value, larger than any clock skew between them and the store. Default 60,000 ms.
   */
  graceMs?: number
  /** Poll interval of `read({ follow: true })`. Default 1,000 ms. */
  pollMs?: number
  /** Objects fetched ahead while reading. Default 8. */
  readAhead?: number
  /** Retry of transient store failures. Default 6 attempts, 50 ms to 2 s backoff. */
  retry?: RetryPolicy
  /** Compaction: merged objects grow up to this size. Default 64 MiB. */
  compactTargetBytes?: number
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

/** A journal object as listed. */
interface Obj { key: string; kind: 'b' | 'c' | 'r'; first: number; last: number; size: number; modifiedMs: number }
/** A step of a read or merge: read `key` for sequence numbers from..to. */
interface Step { obj: Obj; from: number; to: number }

interface Snapshot { compacted: Obj[]; markers: Obj[]; marker: number; takenAt: number }

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

  // ---- writer state ----
  /** Events not yet durable, in append order (the in-doubt batch first). */
  #unflushed: Pending[] = []
  #unflushedBytes = 0
  #inDoubt: InDoubt | undefined
  /** Highest sequence number known to be taken (-1: none seen yet, undefined: unknown). */
  #lastSeq: number | undefined
  /** performance.now() at the start of the call that established #lastSeq. */
  #knownAt = 0
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> = Promise.resolve()
  #queued: Promise<void> | undefined
  #failures = 0
  #flushGeneration = 0
  /** Set while a batch write is under way: how many leading events it holds, and its end. */
  #active: { count: number; done: Promise<void> } | undefined
  #closed = false
  #closing: Promise<void> | undefined
  readonly #closeController = new AbortController()
  // ---- reader state ----
  #snapshot: Snapshot | undefined

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
    this.#pollMs = positiveInt('pollMs', options.pollMs, DEFAULTS.pollMs, 1, MAX_TIMER_MS)
    this.#readAhead = positiveInt('readAhead', options.readAhead, DEFAULTS.readAhead)
    this.#targetBytes = positiveInt('compactTargetBytes', options.compactTargetBytes, DEFAULTS.compactTargetBytes)
    this.#retry = options.retry ?? {}
  }

  /**
   * Opens a journal under `prefix` of `store`. Nothing is read or written at open unless
   * `probe` is set. Writing needs a store that enforces create-only writes
   * (`store.enforcesCreateOnly`, or a passing probe) or the `singleWriter` option.
   */
  static async open<T = unknown>(store: ObjectStore, prefix: string, options: JournalOptions = {}): Promise<Journal<T>> {
    if (store === null || typeof store !== 'object' || typeof store.put !== 'function') {
      throw new SeglogError('ERR_INVALID_ARGUMENT', 'Journal.open needs an ObjectStore (MemoryStore, FsStore, S3Store, AzureBlobStore …)')
    }
    const p = validatePrefix(prefix)
    const j = new Journal<T>(store, p, options)
    if (!j.readOnly) {
      const enforced = options.probe === true ? await Journal.probe(store, p, options.retry) : store.enforcesCreateOnly
      if (!enforced && options.singleWriter !== true) {
        throw new SeglogError('ERR_INVALID_ARGUMENT',
          `${store.name} does not enforce create-only writes${options.probe === true ? ' (the probe could overwrite an object)' : ''}, so two writers could overwrite each other's batches. ` +
          'Use a store with conditional writes, open with { readOnly: true }, or, if exactly one process ever writes this journal, open with { singleWriter: true }')
      }
    }
    return j
  }

  /**
   * Checks whether `store` really refuses a second create-only put of one key, by writing a
   * probe object under `<prefix>/p/` twice and deleting it.
   */
  static async probe(store: ObjectStore, prefix: string, retry: RetryPolicy = {}): Promise<boolean> {
    const key = new JournalKeys(validatePrefix(prefix)).probe(`${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`)
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
    if (this.readOnly) throw new SeglogError('ERR_INVALID_ARGUMENT', `journal ${this.prefix} was opened read-only; open it without { readOnly: true } to append`)
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
    if (this.#unflushed.length >= this.#flushEvents || this.#unflushedBytes >= this.#flushBytes) {
      this.#background()
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => { this.#timer = undefined; this.#background() }, this.#lingerMs)
    }
  }

  /** Starts a flush whose failure is only reported (diagnostics), then retried later. */
  #background(): void {
    if (this.#timer !== undefined) { clearTimeout(this.#timer); this.#timer = undefined }
    if (this.#queued !== undefined) return
    this.#requestFlush().then(() => { this.#failures = 0 }, () => {
      // Events stay buffered; try again after a backoff, unless a newer flush is pending.
      this.#failures++
      if (this.#timer === undefined && this.#unflushed.length > 0 && !this.#closed) {
        const wait = Math.min(5000, Math.max(this.#lingerMs, 50) * 2 ** Math.min(this.#failures, 7))
        this.#timer = setTimeout(() => { this.#timer = undefined; this.#background() }, wait)
      }
    })
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
   */
  async flush(): Promise<void> {
    if (this.#closed) throw new SeglogError('ERR_CLOSED', `journal ${this.prefix} is closed`)
    if (this.#unflushed.length === 0 && this.#queued === undefined) { await this.#running; return }
    if (this.#timer !== undefined) { clearTimeout(this.#timer); this.#timer = undefined }
    await this.#requestFlush()
  }

  async #flushNow(): Promise<void> {
    if (this.#timer !== undefined) { clearTimeout(this.#timer); this.#timer = undefined }
    if (this.#inDoubt !== undefined) {
      await this.#writeBatch(this.#inDoubt.count, this.#inDoubt)
    }
    if (this.#unflushed.length > 0) await this.#writeBatch(this.#unflushed.length, undefined)
  }

  #encode(count: number, seq: number): Buffer {
    const nonce = randomBytes(8)
    const ts = Date.now()
    const events = this.#unflushed.slice(0, count)
    if (this.codec === 'binary') return encodeBinarySection(events.map((e) => e.data as Buffer), seq, ts, nonce)
    return encodeJsonlSection(events.map((e) => e.data as string), seq, ts, nonce)
  }

  /** Writes the first `count` buffered events as one object; resolves once it is durable. */
  async #writeBatch(count: number, doubt: InDoubt | undefined): Promise<void> {
    const t0 = performance.now()
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
        const putStart = performance.now()
        const knowledgeAt = retryOfDoubt ? 0 : this.#knownAt
        const outcome = await this.#createOnce(seq, bytes, retryOfDoubt)
        retryOfDoubt = false
        if (outcome === 'mine' && performance.now() - knowledgeAt >= this.#graceMs / 2) {
          // Our idea of the next free number was old enough that a compactor or retention may
          // have deleted an object with this number before we recreated it: check we are not
          // shadowed by a compacted object or a retention marker.
          if (await this.#shadowed(seq, bytes)) {
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
        if (this.#lastSeq === undefined || seq > this.#lastSeq) { this.#lastSeq = seq; this.#knownAt = putStart }
        this.#flushGeneration++
        if (flushChannel.hasSubscribers) {
          flushChannel.publish({ journal: this.prefix, seq, key: this.#keys.batch(seq), events: count, bytes: bytes.length, conflicts, durationMs: performance.now() - t0, error: undefined } satisfies FlushMessage)
        }
        return
      }
    } catch (err) {
      const e = isSeglogError(err) ? err : new SeglogError('ERR_STORE', `journal ${this.prefix}: flush failed: ${(err as Error).message}`, { cause: err })
      if (flushChannel.hasSubscribers) {
        flushChannel.publish({ journal: this.prefix, seq, key: seq === undefined ? undefined : this.#keys.batch(seq), events: count, bytes: bytes?.length ?? 0, conflicts, durationMs: performance.now() - t0, error: e } satisfies FlushMessage)
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
    const snap = await this.#list(true)
    for (const c of snap.compacted) {
      if (c.first > seq || c.last < seq) continue
      const obj = await withRetry(() => this.store.get(c.key), this.#retry)
      if (obj === undefined) continue
      const s = decodeSections(obj.data, c.key, false).find((x) => x.seq === seq)
      if (s !== undefined) return s.raw.equals(bytes)
    }
    return false
  }

  /** True when `b/<seq>` (ours) is hidden by a compacted object or a retention marker. */
  async #shadowed(seq: number, bytes: Buffer): Promise<boolean> {
    const snap = await this.#list(true)
    if (seq < snap.marker) return true
    if (!snap.compacted.some((c) => c.first <= seq && seq <= c.last)) return false
    return !(await this.#isMine(seq, bytes))
  }

  /** The next sequence number to try: cached while fresh, else from a listing. */
  async #claim(): Promise<number> {
    if (this.#lastSeq !== undefined && performance.now() - this.#knownAt < this.#graceMs / 2) return this.#lastSeq + 1
    return this.#refresh(this.#lastSeq ?? -1)
  }

  /**
   * Learns the highest taken sequence number at or above `from` by listing compacted objects
   * and markers, then batches after them (never from zero once anything is known).
   */
  async #refresh(from: number): Promise<number> {
    const started = performance.now()
    const snap = await this.#list(false)
    let max = Math.max(from, snap.marker - 1)
    for (const c of snap.compacted) max = Math.max(max, c.last)
    const startAfter = max >= 0 ? this.#keys.batch(max) : undefined
    for (const o of await this.#listDir('b', startAfter)) max = Math.max(max, o.last)
    this.#lastSeq = max
    this.#knownAt = started
    return max + 1
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
    const now = performance.now()
    if (!fresh && this.#snapshot !== undefined && now - this.#snapshot.takenAt < this.#graceMs / 4) return this.#snapshot
    const compacted = await this.#listDir('c')
    const markers = (await this.#listDir('r'))
    const marker = markers.reduce((m, o) => Math.max(m, o.first), 0)
    this.#snapshot = { compacted, markers, marker, takenAt: now }
    return this.#snapshot
  }

  /**
   * Chooses, from `from` upward, which objects to read: at each position the object covering it
   * that reaches furthest (compacted before batch on ties, then the lower key). Every choice holds
   * the same bytes for a sequence number, so readers agree whatever they pick; skips gaps.
   */
  #plan(batches: Obj[], compacted: Obj[], from: number, marker: number): Step[] {
    const steps: Step[] = []
    let s = Math.max(from, marker)
    const all = [...compacted, ...batches].filter((o) => o.last >= s)
    all.sort((a, b) => a.first - b.first || b.last - a.last || (a.kind === b.kind ? (a.key < b.key ? -1 : 1) : a.kind === 'c' ? -1 : 1))
    let i = 0
    for (;;) {
      let best: Obj | undefined
      // Every object starting at or before s is a candidate; the one reaching furthest wins.
      // Candidates not chosen end at or before best.last, so none is needed again.
      while (i < all.length && all[i].first <= s) {
        const o = all[i++]
        if (o.last >= s && (best === undefined || o.last > best.last || (o.last === best.last && o.kind === 'c' && best.kind === 'b'))) best = o
      }
      if (best === undefined) {
        // A gap (retention, or objects removed by hand): continue at the next object.
        if (i >= all.length) break
        s = all[i].first
        continue
      }
      steps.push({ obj: best, from: s, to: best.last })
      s = best.last + 1
    }
    return steps
  }

  /** Reads an object and returns its sections for sequence numbers from..to, checked. */
  async #fetch(step: Step, decodeValues: boolean): Promise<Section[] | undefined> {
    const got = await withRetry(() => this.store.get(step.obj.key), this.#retry)
    if (got === undefined) return undefined
    const sections = decodeSections(got.data, step.obj.key, decodeValues)
    const expected = step.obj.last - step.obj.first + 1
    if (sections.length !== expected || sections.some((s, k) => s.seq !== step.obj.first + k)) {
      throw new SeglogError('ERR_CORRUPT', `${step.obj.key}: holds batches ${sections.map((s) => s.seq).join(',')} but its key names ${step.obj.first}..${step.obj.last}`,
        { details: { file: step.obj.key } })
    }
    return sections.slice(step.from - step.obj.first, step.to - step.obj.first + 1)
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
      const steps = this.#plan(batches, snap.compacted, next, snap.marker)
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
        const sections = await head.p
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
            yield { cursor, value, timestamp: Date.now(), durable: false }
          }
        }
        return
      }
      try {
        const sig = signal === undefined ? this.#closeController.signal : AbortSignal.any([signal, this.#closeController.signal])
        await delay(this.#pollMs, sig)
      } catch {
        return
      }
    }
  }

  /**
   * Merges runs of objects into compacted objects `c/<first>-<last>` of up to
   * `compactTargetBytes`, and deletes objects that a compacted object (or a retention marker)
   * has covered for at least `graceMs`. Safe to run in several processes at once, and to crash at
   * any step: originals are deleted only after the merged object is durable and the grace period
   * has passed, so readers never see a gap or a duplicate. Run it periodically.
   */
  async compact(options: { graceMs?: number } = {}): Promise<CompactResult> {
    if (this.#closed) throw new SeglogError('ERR_CLOSED', `journal ${this.prefix} is closed`)
    if (this.readOnly) throw new SeglogError('ERR_INVALID_ARGUMENT', `journal ${this.prefix} was opened read-only; compaction writes`)
    const grace = options.graceMs ?? this.#graceMs
    const t0 = performance.now()
    const result: CompactResult = { merged: [], deleted: [] }
    result.deleted.push(...await this.#sweep(grace))
    // Batches first, then compacted objects: anything a batch listing misses was deleted because
    // a compacted object covered it, which the later listing then shows.
    const batches = await this.#listDir('b')
    const snap = await this.#list(true)
    const covered = (o: Obj): boolean => snap.compacted.some((c) => c.first <= o.first && o.last <= c.last)
    const steps = this.#plan(batches.filter((b) => !covered(b)), snap.compacted, 0, snap.marker)
    // Group contiguous steps into runs of ≥ 2 objects within the size target.
    const runs: Step[][] = []
    let run: Step[] = []
    let runBytes = 0
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
    const stepBytes = (st: Step): number => st.obj.size * ((st.to - st.from + 1) / (st.obj.last - st.obj.first + 1))
    for (const st of steps) {
      const bytes = stepBytes(st)
      const prev = run[run.length - 1]
      if (prev !== undefined && (prev.to + 1 !== st.from || runBytes + bytes > this.#targetBytes)) close()
      if (bytes >= this.#targetBytes) { close(); continue }
      run.push(st)
      runBytes += bytes
    }
    close()
    for (const r of runs) {
      const parts: Buffer[] = []
      let ok = true
      for (let i = 0; i < r.length && ok; i += this.#readAhead) {
        const got = await Promise.all(r.slice(i, i + this.#readAhead).map((st) => this.#fetch(st, false)))
        for (const sections of got) {
          if (sections === undefined) { ok = false; break } // another compactor moved it: next run
          for (const s of sections) parts.push(s.raw)
        }
      }
      if (!ok) continue
      const first = r[0].from
      const last = r[r.length - 1].to
      const key = this.#keys.compacted(first, last)
      const data = Buffer.concat(parts)
      await withRetry(() => this.store.put(key, data, { mode: 'create' }).catch((err: unknown) => {
        // Same range, same key: another compactor wrote the same bytes already.
        if (isSeglogError(err, 'ERR_CONFLICT')) return { version: undefined }
        throw err
      }), this.#retry)
      result.merged.push({ key, objects: r.length, bytes: data.length })
    }
    this.#snapshot = undefined
    if (grace === 0 && result.merged.length > 0) result.deleted.push(...await this.#sweep(0))
    if (compactChannel.hasSubscribers) {
      compactChannel.publish({ journal: this.prefix, merged: result.merged, deleted: result.deleted.length, durationMs: performance.now() - t0 } satisfies CompactMessage)
    }
    return result
  }

  /**
   * Deletes objects that are covered, for at least `grace` ms by the store's clock, by a
   * compacted object or a retention marker: batches inside a compacted range, compacted objects
   * inside a larger one, anything wholly below the highest marker, and lower markers.
   */
  async #sweep(grace: number): Promise<string[]> {
    const batches = await this.#listDir('b')
    const snap = await this.#list(true)
    const now = Date.now()
    // Stores report Last-Modified in whole seconds (HTTP dates), so an object can look up to a
    // second older than it is: without this slack a short grace period could delete originals
    // that a writer's fresh listing still relies on (seen as lost events under compaction).
    const slack = grace === 0 ? 0 : STORE_TIME_RESOLUTION_MS
    const old = (o: { modifiedMs: number }): boolean => now - o.modifiedMs >= grace + slack
    const doomed: string[] = []
    const markerOld = snap.markers.find((m) => m.first === snap.marker && old(m)) !== undefined
    for (const b of batches) {
      if (markerOld && b.last < snap.marker && old(b)) { doomed.push(b.key); continue }
      if (snap.compacted.some((c) => c.first <= b.first && b.last <= c.last && old(c))) doomed.push(b.key)
    }
    for (const c of snap.compacted) {
      if (markerOld && c.last < snap.marker && old(c)) { doomed.push(c.key); continue }
      if (snap.compacted.some((o) => o !== c && o.first <= c.first && c.last <= o.last && (o.first !== c.first || o.last !== c.last) && old(o))) doomed.push(c.key)
    }
    for (const m of snap.markers) if (m.first < snap.marker) doomed.push(m.key)
    if (doomed.length > 0) {
      await withRetry(() => this.store.deleteMany(doomed), this.#retry)
      this.#snapshot = undefined
    }
    return doomed
  }

  /**
   * Retention: drops every batch that lies wholly before `cursor`'s batch. Readers skip them at
   * once (a marker object `r/<seq>` is written first); the objects themselves are deleted once
   * they are older than `graceMs` (now, or by a later `deleteBefore`/`compact`). Returns the keys
   * deleted now.
   */
  async deleteBefore(cursor: JournalCursor, options: { graceMs?: number } = {}): Promise<string[]> {
    if (this.#closed) throw new SeglogError('ERR_CLOSED', `journal ${this.prefix} is closed`)
    if (this.readOnly) throw new SeglogError('ERR_INVALID_ARGUMENT', `journal ${this.prefix} was opened read-only; retention deletes`)
    const { seq } = parseCursor(cursor)
    if (seq === 0) return []
    const key = this.#keys.marker(seq)
    await withRetry(() => this.store.put(key, Buffer.alloc(0), { mode: 'create' }).catch((err: unknown) => {
      if (isSeglogError(err, 'ERR_CONFLICT')) return { version: undefined }
      throw err
    }), this.#retry)
    this.#snapshot = undefined
    return this.#sweep(options.graceMs ?? this.#graceMs)
  }

  /**
   * Age-based retention: drops the oldest objects whose last modification is older than
   * `maxAgeMs` (a compacted object counts from when it was written, so it is kept at least as
   * long as its newest batch). Returns the keys deleted now (see {@link Journal.deleteBefore}).
   */
  async retain(options: { maxAgeMs: number; graceMs?: number }): Promise<string[]> {
    const maxAge = positiveInt('maxAgeMs', options?.maxAgeMs, 0, 0)
    const batches = await this.#listDir('b')
    const snap = await this.#list(true)
    const steps = this.#plan(batches, snap.compacted, 0, snap.marker)
    const now = Date.now()
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
      if (this.#timer !== undefined) { clearTimeout(this.#timer); this.#timer = undefined }
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
