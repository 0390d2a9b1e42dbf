/**
 * `Journal`: the facade. It checks arguments and state, and hands each job to the module that owns
 * it: options (options.ts), the batch writer (writer.ts), the reader (reader.ts), the compactor
 * (compactor.ts), the catalog (catalog.ts). Its store is wrapped once in a `RetryStore`, so no
 * module below retries by hand. docs/ARCHITECTURE.md draws the arrows.
 */
import { randomBytes } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import { SeglogError, isSeglogError } from '../errors.js'
import { RetryStore } from '../objects/retry-store.js'
import type { RetryPolicy } from '../objects/retry.js'
import type { ObjectStore } from '../objects/types.js'
import { checkOptions, opt } from '../option-schema.js'
import { Catalog, listJournalObjects, type JournalListOptions, type JournalObjectInfo } from './catalog.js'
import type { JournalCodec } from './codec.js'
import { Compactor } from './compactor.js'
import { compareCursors, parseCursor, type JournalCursor } from './cursor.js'
import { JournalKeys } from './keys.js'
import { resolveJournalOptions, type JournalOptions } from './options.js'
import { validateJournalPrefix } from './prefix.js'
import { JournalReader } from './reader.js'
import type { CompactResult, FlushResult, JournalEntry, JournalIterateOptions, ReadOptions } from './types.js'
import { verifyJournal, type JournalVerifyOptions, type JournalVerifyReport } from './verify.js'
import { BatchWriter, encodeEvent } from './writer.js'

const graceShape = { graceMs: opt.integer(0, Number.MAX_SAFE_INTEGER) }
const retainShape = { maxAgeMs: opt.required(opt.integer(0, Number.MAX_SAFE_INTEGER)), graceMs: opt.integer(0, Number.MAX_SAFE_INTEGER) }

/**
 * An append-only journal of events kept in an object store: each flush writes one new,
 * write-once object named by a claimed sequence number; many processes may write one journal
 * (on stores that enforce create-only writes); readers see one total order; `compact()` merges
 * runs of objects without readers ever seeing a duplicate or a gap. See docs/journal.md.
 */
export class Journal<T = unknown> {
  /** The store (as given to {@link Journal.open}; the journal calls it through a `RetryStore`). */
  readonly store: ObjectStore
  /** The journal's prefix in the store (no trailing `/`). */
  readonly prefix: string
  /** The codec of events this handle appends. */
  readonly codec: JournalCodec
  /** True when opened with `readOnly`. */
  readonly readOnly: boolean

  readonly #graceMs: number
  readonly #writer: BatchWriter | undefined
  readonly #reader: JournalReader
  readonly #compactor: Compactor
  #closed = false
  #closing: Promise<void> | undefined
  /** Aborted once closed: ends follows and stops compaction and retention at their next store call. */
  readonly #closeController = new AbortController()

  private constructor(store: ObjectStore, prefix: string, options: ReturnType<typeof resolveJournalOptions>) {
    this.store = store
    this.prefix = prefix
    this.codec = options.codec
    this.readOnly = options.readOnly
    this.#graceMs = options.graceMs
    const retrying = new RetryStore(store, { policy: options.retry })
    const keys = new JournalKeys(prefix)
    const { clock } = options
    const catalog = new Catalog(retrying, keys, clock, options.graceMs)
    const closeSignal = this.#closeController.signal
    // Every store call of a follow or compaction listens on it (read-ahead runs several at once).
    setMaxListeners(0, closeSignal)
    this.#writer = options.readOnly ? undefined : new BatchWriter({
      store: retrying, keys, catalog, clock, codec: options.codec, flushEvents: options.flushEvents, flushBytes: options.flushBytes,
      lingerMs: options.lingerMs, maxBufferedBytes: options.maxBufferedBytes, graceMs: options.graceMs, onError: options.onError,
    })
    this.#reader = new JournalReader({ catalog, keys, clock, followPollMs: options.followPollMs, readAhead: options.readAhead, writer: this.#writer, closeSignal })
    this.#compactor = new Compactor({
      store: retrying, keys, catalog, clock, graceMs: options.graceMs, compactTargetBytes: options.compactTargetBytes, readAhead: options.readAhead, closeSignal,
    })
  }

  /**
   * Opens a journal under `prefix` of `store`. Nothing is read or written at open unless it
   * probes (`probe: true`, or a store whose create-only support is unverified, see
   * {@link JournalOptions.probe}). Writing needs a store that enforces create-only writes
   * (`store.enforcesCreateOnly`, or a passing probe) or the `singleWriter` option. Unknown
   * options and values of the wrong type are `ERR_INVALID_ARGUMENT` naming `details.option`.
   */
  static async open<T = unknown>(store: ObjectStore, prefix: string, options: JournalOptions = {}): Promise<Journal<T>> {
    if (store === null || typeof store !== 'object' || typeof store.put !== 'function') {
      throw new SeglogError('ERR_INVALID_ARGUMENT', 'Journal.open needs an ObjectStore (MemoryStore, FsStore, S3Store, AzureBlobStore …)')
    }
    const storePrefix = (store as { prefix?: unknown }).prefix
    const p = validateJournalPrefix(prefix, typeof storePrefix === 'string' ? storePrefix : '')
    const o = resolveJournalOptions(options)
    const j = new Journal<T>(store, p, o)
    if (!j.readOnly) {
      const probe = o.probe ?? store.createOnlyUnverified === true
      const enforced = probe ? await Journal.probe(store, p, o.retry) : store.enforcesCreateOnly
      if (!enforced && !o.singleWriter) {
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
   * retention marker …), in key order. Read-only; reads no object's contents. For the listing
   * split by kind, use `JournalCatalog.list`.
   */
  static listObjects(store: ObjectStore, prefix: string, options: JournalListOptions = {}): Promise<JournalObjectInfo[]> {
    return listJournalObjects(store, prefix, options)
  }

  /**
   * Checks whether `store` really refuses a second create-only put of one key, by writing a
   * probe object under `<prefix>/p/` twice and deleting it.
   */
  static async probe(store: ObjectStore, prefix: string, retry: RetryPolicy = {}): Promise<boolean> {
    const s = new RetryStore(store, { policy: retry })
    const key = new JournalKeys(validateJournalPrefix(prefix)).probe(`${Date.now().toString(36)}-${randomBytes(6).toString('hex')}`)
    await s.put(key, Buffer.from('1'), { mode: 'create' })
    let enforced: boolean
    try {
      await s.put(key, Buffer.from('2'), { mode: 'create' })
      enforced = false
    } catch (err) {
      if (!isSeglogError(err, 'ERR_CONFLICT')) throw err
      enforced = true
    }
    await s.delete(key).catch(() => undefined)
    return enforced
  }

  /** Events buffered and not yet durable. */
  get bufferedEvents(): number { return this.#writer?.bufferedEvents ?? 0 }
  /** Bytes buffered and not yet durable. */
  get bufferedBytes(): number { return this.#writer?.bufferedBytes ?? 0 }
  /** True once `close()` finished. */
  get closed(): boolean { return this.#closed }

  #assertOpen(): void {
    if (this.#closed) throw new SeglogError('ERR_CLOSED', `journal ${this.prefix} is closed`)
  }

  #writable(): BatchWriter {
    if (this.#closed || this.#closing !== undefined) throw new SeglogError('ERR_CLOSED', `journal ${this.prefix} is closed; open it again to append`)
    if (this.#writer === undefined) throw new SeglogError('ERR_READ_ONLY', `journal ${this.prefix} was opened read-only; open it without { readOnly: true } to append`)
    return this.#writer
  }

  #assertMayDelete(what: string): void {
    this.#assertOpen()
    if (this.readOnly) throw new SeglogError('ERR_READ_ONLY', `journal ${this.prefix} was opened read-only; ${what}, open it without { readOnly: true }`)
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
    return (this.#writer as BatchWriter).durableCursor(index)
  }

  #push(event: T): Promise<number> {
    const writer = this.#writable()
    return writer.push(encodeEvent(this.codec, event), () => { this.#writable() })
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
    this.#assertOpen()
    return this.#writer?.flush()
  }

  /**
   * Yields events in journal order after `after`. Without `follow` it ends at the current end
   * (then yields this handle's buffered events, `durable: false`, unless `pending: false`). With
   * `follow` it polls every `followPollMs` for new batches until `signal` aborts or the journal
   * closes; both also abort the store calls under way. Throws `ERR_CORRUPT` on a damaged object,
   * `ERR_STORE` when the store stays unavailable.
   */
  async *read(options: ReadOptions = {}): AsyncGenerator<JournalEntry<T>, void, undefined> {
    this.#assertOpen()
    yield* this.#reader.read<T>(options)
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
   * The cursor of the last durable event in the store, or `JOURNAL_START` when there is none:
   * `iterate({ after: await j.endCursor(), follow: true })` sees only what comes after now, and a
   * mirror can compare it with its own position without reading the journal.
   */
  async endCursor(): Promise<JournalCursor> {
    this.#assertOpen()
    return this.#reader.endCursor()
  }

  /**
   * Merges runs of objects into compacted objects `c/<first>-<last>` of up to
   * `compactTargetBytes`, and deletes objects that a compacted object (or a retention marker)
   * has covered for at least `graceMs`. Safe to run in several processes at once, and to crash at
   * any step: originals are deleted only after the merged object is durable, the grace period
   * has passed, and the merged object has been read back and found to hold exactly their bytes,
   * so readers never see a gap or a duplicate. Run it periodically. Works from one listing of
   * the journal per run; `close()` stops a run under way (it rejects with `ERR_CLOSED`).
   *
   * A damaged, foreign or misnamed object is never trusted: nothing it claims to cover is
   * deleted, it is left in place, and once the rest of the work is done `compact()` rejects with
   * `ERR_CORRUPT` naming it (`details.keys` lists every such key, `details.result` what was done).
   */
  async compact(options: { graceMs?: number } = {}): Promise<CompactResult> {
    this.#assertMayDelete('compaction writes')
    const o = checkOptions('Journal.compact', options, graceShape)
    return this.#compactor.compact(o.graceMs ?? this.#graceMs)
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
    this.#assertMayDelete('retention deletes')
    const o = checkOptions('Journal.deleteBefore', options, graceShape)
    const { seq } = parseCursor(cursor)
    if (seq <= 0) return []
    return this.#compactor.deleteBefore(seq, o.graceMs ?? this.#graceMs, cursor)
  }

  /**
   * Age-based retention: drops the oldest objects whose last modification is older than
   * `maxAgeMs` on the store's clock (a compacted object counts from when it was written, so it is
   * kept at least as long as its newest batch). Returns the keys deleted now (see
   * {@link Journal.deleteBefore}).
   */
  async retain(options: { maxAgeMs: number; graceMs?: number }): Promise<string[]> {
    this.#assertMayDelete('retention deletes')
    const o = checkOptions('Journal.retain', options, retainShape)
    return this.#compactor.retain(o.maxAgeMs, o.graceMs ?? this.#graceMs)
  }

  /**
   * Flushes buffered events, then closes: appends fail with `ERR_CLOSED`, followers end, and a
   * compaction or retention run under way stops at its next store call (`ERR_CLOSED`).
   * If the final flush fails, `close()` rejects and the journal stays open so you can retry.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    if (this.#closing !== undefined) return this.#closing
    this.#closing = (async () => {
      const writer = this.#writer
      if (writer !== undefined) {
        writer.cancelTimer()
        try {
          if (writer.busy) await writer.requestFlush()
          await writer.idle()
        } catch (err) {
          this.#closing = undefined
          throw err
        }
        writer.stopped = true
      }
      this.#closed = true
      this.#closeController.abort(new SeglogError('ERR_CLOSED', `journal ${this.prefix} is closing; open it again to go on`))
    })()
    return this.#closing
  }

  /** `await using j = await Journal.open(...)` closes (and flushes) at scope end. */
  async [Symbol.asyncDispose](): Promise<void> { await this.close() }
}
