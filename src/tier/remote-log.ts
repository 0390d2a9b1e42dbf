/**
 * A read-only log held only in an object store: what {@link SegmentUploader} shipped, read with
 * ranged GETs through a bounded cache. No local directory; follow polls the catalog.
 */
import { SeglogError, invalidArgument } from '../errors.js'
import { BATCH_HEADER_BYTES, RECORD_HEADER_BYTES } from '../format/index.js'
import type { LogRecord } from '../local/segment.js'
import type { RetryPolicy } from '../objects/retry.js'
import type { ObjectStore } from '../objects/types.js'
import { readCatalog, segmentFor, type Catalog, type RemoteSegment } from './catalog.js'
import { dataKey } from './layout.js'
import { RemoteObjectMissing, RemoteReader, type Block, type RemoteBatch } from './remote-reader.js'

/**
 * Time as a remote log sees it: only the follow poll timer. `JournalClock` (and its
 * `ManualClock`) fit, so tests move time instead of waiting.
 */
export interface TierClock {
  /** Calls `callback` once after `ms`; returns a function that cancels it. */
  setTimer(callback: () => void, ms: number): () => void
}

const systemTierClock: TierClock = {
  setTimer(callback, ms) {
    // Not unref'd: a following iterator is a consumer waiting for data, like an open socket;
    // aborting it or closing the log ends the wait.
    const t = setTimeout(callback, ms)
    return () => clearTimeout(t)
  },
}

/** Options of {@link openRemoteLog}. */
export interface RemoteLogOptions {
  /** Bound on the bytes of blocks and seals cached for reads; default 64 MiB. */
  cacheBytes?: number
  /** How often a following iterator lists the store for new segments; default 1,000 ms. */
  pollMs?: number
  /** Retries of transient store failures. */
  retry?: RetryPolicy
  /** The poll timer seam. */
  clock?: TierClock
}

/** Options of {@link RemoteLog.iterate}. */
export interface RemoteIterateOptions {
  /** First offset; default the first one held. Offsets already deleted when iteration starts are skipped. */
  from?: number
  /** Stop before this offset (exclusive). */
  to?: number
  /** Keep polling for newly shipped segments at the end. */
  follow?: boolean
  /** Ends the iteration (cleanly) when aborted. */
  signal?: AbortSignal
  /**
   * What to do when remote retention deletes the segment the iterator is about to read:
   * `'stop'` (default) rejects with `ERR_OFFSET_OUT_OF_RANGE` (`details.offset`: where it stood,
   * `details.firstOffset`: where the log now starts); `'skip'` goes on at the new first offset.
   */
  deleted?: 'stop' | 'skip'
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true
}

function checkOffset(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalidArgument(`${what} must be a non-negative safe integer; got ${String(value)}`)
  return value
}

/** Opens the remote log under `prefix` of `store` (see {@link RemoteLog}). */
export async function openRemoteLog(store: ObjectStore, prefix: string, options: RemoteLogOptions = {}): Promise<RemoteLog> {
  const log = new RemoteLog(store, prefix, options)
  await log.refresh()
  return log
}

/**
 * A read-only view of a remote log. `read` and `iterate` yield records like `Log.read` and
 * `Log.iterate`; `firstOffset`/`nextOffset` are as of the last listing (`refresh()` lists again;
 * reads at or past the end list again by themselves).
 */
export class RemoteLog {
  readonly #store: ObjectStore
  readonly #prefix: string
  readonly #reader: RemoteReader
  readonly #pollMs: number
  readonly #retry: RetryPolicy | undefined
  readonly #clock: TierClock
  #catalog: Catalog = { segments: [], firstOffset: 0, endOffset: 0, bytes: 0, pending: [], leftovers: [] }
  #closed = false
  /** Listings started, and the number of the one whose result {@link #catalog} holds. */
  #listings = 0
  #applied = 0
  readonly #wakers = new Set<() => void>()

  constructor(store: ObjectStore, prefix: string, options: RemoteLogOptions = {}) {
    if (typeof options !== 'object' || options === null) throw invalidArgument('openRemoteLog options must be an object')
    this.#store = store
    this.#prefix = prefix
    dataKey(prefix, 0) // validates the prefix
    const cacheBytes = options.cacheBytes ?? 64 << 20
    if (!Number.isSafeInteger(cacheBytes) || cacheBytes < 0) throw invalidArgument(`cacheBytes must be a non-negative integer; got ${String(options.cacheBytes)}`)
    this.#pollMs = options.pollMs ?? 1000
    if (!Number.isSafeInteger(this.#pollMs) || this.#pollMs < 1) throw invalidArgument(`pollMs must be a positive integer; got ${String(options.pollMs)}`)
    this.#retry = options.retry
    this.#clock = options.clock ?? systemTierClock
    this.#reader = new RemoteReader(store, cacheBytes, options.retry)
  }

  /** The first offset held (as of the last listing). */
  get firstOffset(): number { return this.#catalog.firstOffset }
  /** The offset after the last one held (as of the last listing). */
  get nextOffset(): number { return this.#catalog.endOffset }
  /** The segments as of the last listing. */
  get segments(): readonly RemoteSegment[] { return this.#catalog.segments }
  /** Bytes the read cache holds now (never above `cacheBytes`). */
  get cachedBytes(): number { return this.#reader.cache.bytes }

  /**
   * Starts from a listing made by someone else (a tiered open lists before the log exists); ignored
   * once this log has listed itself.
   *
   * @internal
   */
  adopt(catalog: Catalog): void {
    if (this.#listings === 0) this.#catalog = catalog
  }

  /** Lists the store again. */
  async refresh(signal?: AbortSignal): Promise<void> {
    this.#checkOpen()
    const seq = ++this.#listings
    const next = await readCatalog(this.#store, this.#prefix, { retry: this.#retry, signal })
    // Iterators and reads list concurrently: a listing that started before the one already applied
    // may show the log as it was (segments since deleted, an older end), and must not replace it.
    if (seq < this.#applied) return
    this.#applied = seq
    for (const s of this.#catalog.segments) if (s.base < next.firstOffset || next.segments.length === 0) this.#reader.forget(s)
    this.#catalog = next
  }

  /**
   * The record at `offset` (its data a copy), or undefined outside `[firstOffset, nextOffset)`
   * (deleted by retention, or not shipped yet). ERR_CORRUPT when the stored batch is damaged.
   */
  async read(offset: number): Promise<LogRecord | undefined> {
    checkOffset(offset, 'read offset')
    this.#checkOpen()
    // Below the first offset nothing comes back (retention only moves it forward); past the end,
    // more may have been shipped since the last listing.
    if (offset >= this.#catalog.endOffset) await this.refresh()
    for (let attempt = 0; ; attempt++) {
      const seg = segmentFor(this.#catalog, offset)
      if (seg === undefined) return undefined
      try {
        const seal = await this.#reader.seal(seg)
        const block = await this.#reader.locate(seg, seal, offset)
        const found = findRecord(block, offset, seg, this.#where(seg))
        return { offset, timestamp: found.timestamp, data: Buffer.from(found.data) }
      } catch (err) {
        if (!(err instanceof RemoteObjectMissing)) throw err
        // Usually retention deleted it after our listing; listed again and missing again is damage.
        await this.refresh()
        if (attempt >= 1 && segmentFor(this.#catalog, offset)?.dataKey === seg.dataKey) throw this.#vanished(err.key)
      }
    }
  }

  /**
   * Yields records in offset order; `data` views a cached block (valid while referenced). With
   * `follow`, polls for new segments every `pollMs` until `signal` aborts or the log closes.
   */
  iterate(options: RemoteIterateOptions = {}): AsyncIterableIterator<LogRecord> {
    if (typeof options !== 'object' || options === null) throw invalidArgument('iterate options must be an object')
    if (options.from !== undefined) checkOffset(options.from, 'iterate from')
    if (options.to !== undefined) checkOffset(options.to, 'iterate to')
    if (options.deleted !== undefined && options.deleted !== 'stop' && options.deleted !== 'skip') throw invalidArgument(`iterate deleted must be 'stop' or 'skip'; got ${String(options.deleted)}`)
    this.#checkOpen()
    return this.#walk(options)
  }

  async *#walk(options: RemoteIterateOptions): AsyncGenerator<LogRecord> {
    try {
      const to = options.to ?? Number.POSITIVE_INFINITY
      const signal = options.signal
      await this.refresh(signal)
      let p = Math.max(options.from ?? this.#catalog.firstOffset, this.#catalog.firstOffset)
      /** Whether `p` lay inside the listed log, so that its disappearing is a deletion under us. */
      let held = this.#catalog.segments.length > 0
      let missingTries = 0
      /** Where the next block of a sequential scan starts: the end of the last one read. */
      let resume: { dataKey: string; at: number } | undefined
      while (p < to && !this.#closed && signal?.aborted !== true) {
        const cat = this.#catalog
        if (p < cat.firstOffset || (held && cat.segments.length === 0)) {
          if (!held || options.deleted === 'skip') { p = Math.max(p, cat.firstOffset); held = cat.segments.length > 0; continue }
          throw new SeglogError('ERR_OFFSET_OUT_OF_RANGE',
            `remote retention deleted offset ${p} before this iterator read it; the remote log now starts at ${cat.firstOffset}. Iterate again from there, or pass { deleted: 'skip' }`,
            { details: { offset: p, firstOffset: cat.firstOffset } })
        }
        const seg = segmentFor(cat, p)
        if (seg === undefined) {
          if (!options.follow) return
          await this.#wait(signal)
          if (this.#closed || isAborted(signal)) return
          await this.refresh(signal)
          held ||= this.#catalog.segments.length > 0
          continue
        }
        held = true
        let block: Block
        try {
          const seal = await this.#reader.seal(seg, signal)
          block = await this.#reader.locate(seg, seal, p, resume?.dataKey === seg.dataKey ? resume.at : 0, signal, this.#reader.scanBytes)
        } catch (err) {
          if (!(err instanceof RemoteObjectMissing)) throw err
          // Usually retention deleted it after our listing: list again and let the loop decide.
          // Listed again and missing again is not retention but damage.
          await this.refresh(signal)
          if (segmentFor(this.#catalog, p)?.dataKey === seg.dataKey && ++missingTries >= 2) throw this.#vanished(err.key)
          continue
        }
        missingTries = 0
        const first = block.batches[0]
        if (first !== undefined && first.baseOffset > p) {
          throw new SeglogError('ERR_CORRUPT', `${this.#where(seg)} byte ${block.start}: the block holds offsets from ${first.baseOffset}, not ${p}; the seal object does not match its data object`,
            { details: { file: this.#where(seg), position: block.start, kind: 'remote index' } })
        }
        const before = p
        const buf = block.buf
        for (const batch of block.batches) {
          if (batch.baseOffset + batch.count <= p) continue
          let at = batch.at + BATCH_HEADER_BYTES
          for (let offset = batch.baseOffset; offset < batch.baseOffset + batch.count; offset++) {
            const len = buf.readUInt32LE(at)
            const data = buf.subarray(at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + len)
            at += RECORD_HEADER_BYTES + len
            if (offset < p) continue
            if (offset >= to) return
            yield { offset, timestamp: batch.timestamp, data }
            p = offset + 1
          }
        }
        if (block.damage) throw block.damage
        resume = { dataKey: seg.dataKey, at: block.end }
        if (p === before) {
          throw new SeglogError('ERR_CORRUPT', `${this.#where(seg)} byte ${block.start}: offset ${p} is not in the block its seal names; the seal object does not match its data object`,
            { details: { file: this.#where(seg), position: block.start, kind: 'remote index' } })
        }
      }
    } catch (err) {
      // An abort ends the iteration cleanly, whatever store call it interrupted.
      if (isAborted(options.signal)) return
      throw err
    }
  }

  /** Stops polling; later calls reject with ERR_CLOSED, open iterators end. */
  async close(): Promise<void> {
    this.#closed = true
    for (const wake of [...this.#wakers]) wake()
    this.#reader.cache.clear()
  }

  #wait(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => { cancel(); signal?.removeEventListener('abort', done); this.#wakers.delete(done); resolve() }
      const cancel = this.#clock.setTimer(done, this.#pollMs)
      this.#wakers.add(done)
      signal?.addEventListener('abort', done, { once: true })
    })
  }

  #checkOpen(): void {
    if (this.#closed) throw new SeglogError('ERR_CLOSED', `the remote log under '${this.#prefix}' is closed; open it again`)
  }

  #where(seg: RemoteSegment): string { return `${this.#store.name.replace(/\/$/, '')}/${seg.dataKey}` }

  #vanished(key: string): SeglogError {
    return new SeglogError('ERR_CORRUPT', `${this.#store.name.replace(/\/$/, '')}/${key}: the object is listed in the remote log but cannot be read; restore it from a copy`,
      { details: { file: key, position: 0, kind: 'missing object' } })
  }
}

/** Records of one verified batch of `block`. */
function* recordsOf(block: Block, batch: RemoteBatch): Generator<LogRecord> {
  let p = batch.at + BATCH_HEADER_BYTES
  for (let i = 0; i < batch.count; i++) {
    const len = block.buf.readUInt32LE(p)
    yield { offset: batch.baseOffset + i, timestamp: batch.timestamp, data: block.buf.subarray(p + RECORD_HEADER_BYTES, p + RECORD_HEADER_BYTES + len) }
    p += RECORD_HEADER_BYTES + len
  }
}

/** The record at `offset` in `block`, or the block's damage / ERR_CORRUPT when it is not there. */
function findRecord(block: Block, offset: number, seg: RemoteSegment, where: string): LogRecord {
  for (const batch of block.batches) {
    if (offset < batch.baseOffset) break
    if (offset < batch.baseOffset + batch.count) {
      for (const r of recordsOf(block, batch)) if (r.offset === offset) return r
    }
  }
  if (block.damage) throw block.damage
  throw new SeglogError('ERR_CORRUPT', `${where} byte ${block.start}: offset ${offset} is not in the block its seal names (segment ${seg.base}…${seg.end - 1}); the seal object does not match its data object`,
    { details: { file: where, position: block.start, kind: 'remote index' } })
}
