/**
 * Read-only checks of a journal's objects: the catalog (every object under the prefix, with what
 * its key claims) and verification (every batch and compacted object decoded and compared with its
 * key). Both go on past damage to report all of it, where a read stops at the first damaged object.
 */
import { SeglogError, isSeglogError } from '../errors.js'
import { withRetry, type RetryPolicy } from '../objects/retry.js'
import type { ObjectMeta, ObjectStore } from '../objects/types.js'
import { decodeSections } from './codec.js'
import { JournalKeys, parseKey } from './keys.js'
import { validateJournalPrefix } from './prefix.js'

/**
 * What a journal object's key says it is:
 * - `batch`: one flushed batch (`P/b/<seq>`);
 * - `compacted`: batches `first..last` merged by compaction (`P/c/<first>-<last>`);
 * - `marker`: a retention marker, batches below `first` are deleted (`P/r/<seq>`);
 * - `probe`: a short-lived create-only probe (`P/p/<id>`);
 * - `misnamed`: under `b/`, `c/` or `r/` but not a key the journal writes (readers ignore it);
 * - `other`: anything else under the prefix (readers ignore it).
 */
export type JournalObjectKind = 'batch' | 'compacted' | 'marker' | 'probe' | 'misnamed' | 'other'

/** One object under a journal's prefix, as listed, with what its key claims. */
export interface JournalObjectInfo {
  /** The full key in the store. */
  key: string
  kind: JournalObjectKind
  /** First batch the key names (`batch`, `compacted`, `marker`); -1 otherwise. */
  first: number
  /** Last batch the key names (`batch`, `compacted`, `marker`); -1 otherwise. */
  last: number
  size: number
  lastModified: Date
}

/** Options of {@link listJournalObjects}. */
export interface JournalListOptions {
  /** Aborts the listing; the promise then rejects. */
  signal?: AbortSignal
}

/**
 * Lists every object under a journal's prefix, in key order (so batches in sequence order).
 * Validates the prefix as `Journal.open` does.
 */
export async function listJournalObjects(store: ObjectStore, prefix: string, options: JournalListOptions = {}): Promise<JournalObjectInfo[]> {
  const storePrefix = (store as { prefix?: unknown }).prefix
  const keys = new JournalKeys(validateJournalPrefix(prefix, typeof storePrefix === 'string' ? storePrefix : ''))
  const listPrefix = keys.prefix === '' ? '' : `${keys.prefix}/`
  const out: JournalObjectInfo[] = []
  const listing = store.list(listPrefix, options.signal === undefined ? {} : { signal: options.signal }) as AsyncIterable<ObjectMeta>
  for await (const m of listing) {
    const rel = keys.rel(m.key)
    const p = parseKey(rel)
    const kind: JournalObjectKind = p !== undefined ? KIND[p.kind]
      : rel.startsWith('p/') ? 'probe'
        : /^[bcr]\//.test(rel) ? 'misnamed' : 'other'
    out.push({ key: m.key, kind, first: p?.first ?? -1, last: p?.last ?? -1, size: m.size, lastModified: m.lastModified })
  }
  return out
}

const KIND = { b: 'batch', c: 'compacted', r: 'marker' } as const

/** A fault found by {@link verifyJournal}. */
export interface JournalVerifyFault {
  /** The object's key. */
  key: string
  /** Byte in the object where the damage starts (0 when the object as a whole is wrong). */
  position: number
  /**
   * - `corrupt`: the object does not decode (checksum mismatch, truncated, not a journal object);
   * - `newer-version`: written by a newer seglog;
   * - `range`: it decodes, but holds other batches than its key names (a batch under the wrong
   *   number, a compacted object whose name claims more or less than it holds);
   * - `conflict`: it holds a batch that another object also holds with different contents (one of
   *   them is foreign; the message names both);
   * - `misnamed`: a key under `b/`, `c/` or `r/` that the journal never writes (readers ignore it).
   */
  kind: 'corrupt' | 'newer-version' | 'range' | 'conflict' | 'misnamed'
  message: string
}

/** Result of {@link verifyJournal}. */
export interface JournalVerifyReport {
  /** True when there is no fault. */
  ok: boolean
  /** Batch and compacted objects checked. */
  objects: number
  /** Distinct batches found intact (a batch in its original and in a merge counts once). */
  batches: number
  /** Events in those batches. */
  events: number
  /** Bytes of the checked objects. */
  bytes: number
  /** Lowest and highest batch found intact; `null` when there is none. */
  firstBatch: number | null
  lastBatch: number | null
  /** Highest retention marker: batches below it are deleted (`null`: none). */
  retentionMarker: number | null
  faults: JournalVerifyFault[]
  /** Keys under the prefix that are no journal object (`other`): readers ignore them. */
  unrecognized: string[]
  durationMs: number
}

/** Options of {@link verifyJournal}. */
export interface JournalVerifyOptions {
  /** Called after each group of objects with the bytes checked so far and the total. */
  onProgress?: (doneBytes: number, totalBytes: number) => void
  /** Stops the check (and the store requests under way); the promise then rejects with its reason. */
  signal?: AbortSignal
  /** Retry of transient store failures. Default 6 attempts, 50 ms to 2 s backoff. */
  retry?: RetryPolicy
  /** Objects fetched at once. Default 8. */
  concurrency?: number
}

/**
 * Reads every batch and compacted object under a journal's prefix and checks its checksums, that
 * it holds exactly the batches its key names, and that a batch held by two objects is the same
 * batch in both. Writes nothing. Objects deleted while it runs (by compaction or retention) are
 * skipped, not faults.
 */
export async function verifyJournal(store: ObjectStore, prefix: string, options: JournalVerifyOptions = {}): Promise<JournalVerifyReport> {
  const started = performance.now()
  const { signal } = options
  const concurrency = options.concurrency ?? 8
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new SeglogError('ERR_INVALID_ARGUMENT', `Journal.verify option concurrency must be a positive integer, got ${String(options.concurrency)}`)
  }
  const listed = await listJournalObjects(store, prefix, signal === undefined ? {} : { signal })
  const objects = listed.filter((o) => o.kind === 'batch' || o.kind === 'compacted')
  const total = objects.reduce((n, o) => n + o.size, 0)
  const markers = listed.filter((o) => o.kind === 'marker').map((o) => o.first)
  const report: JournalVerifyReport = {
    ok: true, objects: objects.length, batches: 0, events: 0, bytes: total, firstBatch: null, lastBatch: null,
    retentionMarker: markers.length === 0 ? null : Math.max(...markers),
    faults: listed.filter((o) => o.kind === 'misnamed').map((o) => ({
      key: o.key, position: 0, kind: 'misnamed' as const,
      message: 'not a key the journal writes (readers ignore it); delete it, or rename it if it holds a batch that belongs here',
    })),
    unrecognized: listed.filter((o) => o.kind === 'other').map((o) => o.key),
    durationMs: 0,
  }
  // A batch's sections are copied byte for byte into merges, so each copy has the writer's nonce.
  const seen = new Map<number, { nonce: string; key: string }>()
  let done = 0
  for (let i = 0; i < objects.length; i += concurrency) {
    signal?.throwIfAborted()
    const group = objects.slice(i, i + concurrency)
    const got = await Promise.all(group.map(async (o) => ({
      o, data: (await withRetry(() => store.get(o.key, signal === undefined ? {} : { signal }), options.retry, undefined, signal))?.data,
    })))
    for (const { o, data } of got) {
      done += o.size
      if (data === undefined) continue
      let sections
      try {
        sections = decodeSections(data, o.key, true)
      } catch (err) {
        if (!isSeglogError(err, 'ERR_CORRUPT') && !isSeglogError(err, 'ERR_FORMAT_VERSION')) throw err
        const position = err.details.position
        report.faults.push({
          key: o.key, position: typeof position === 'number' ? position : 0,
          kind: err.code === 'ERR_FORMAT_VERSION' ? 'newer-version' : 'corrupt', message: err.message,
        })
        continue
      }
      const seqs = sections.map((s) => s.seq)
      if (seqs.length !== o.last - o.first + 1 || seqs.some((s, k) => s !== o.first + k)) {
        const held = seqs.length === 1 ? `batch ${seqs[0]}` : `batches ${seqs.join(',')}`
        const named = o.first === o.last ? `batch ${o.first}` : `batches ${o.first}..${o.last}`
        report.faults.push({ key: o.key, position: 0, kind: 'range', message: `holds ${held} but its key names ${named}; readers do not use it` })
        continue
      }
      let conflict: string | undefined
      for (const s of sections) {
        const other = seen.get(s.seq)
        if (other !== undefined && other.nonce !== s.nonce) {
          conflict = `batch ${s.seq} differs from the batch ${s.seq} in ${other.key} (one of them is another writer's or another journal's)`
          break
        }
      }
      if (conflict !== undefined) {
        report.faults.push({ key: o.key, position: 0, kind: 'conflict', message: conflict })
        continue
      }
      for (const s of sections) {
        if (seen.has(s.seq)) continue
        seen.set(s.seq, { nonce: s.nonce, key: o.key })
        report.batches++
        report.events += s.values.length
        report.firstBatch = report.firstBatch === null ? s.seq : Math.min(report.firstBatch, s.seq)
        report.lastBatch = report.lastBatch === null ? s.seq : Math.max(report.lastBatch, s.seq)
      }
    }
    options.onProgress?.(done, total)
  }
  report.ok = report.faults.length === 0
  report.durationMs = performance.now() - started
  return report
}
