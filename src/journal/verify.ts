/**
 * Read-only verification of a journal: every batch and compacted object decoded and compared with
 * its key. It goes on past damage to report all of it, where a read stops at the first damaged object.
 */
import { SeglogError, isSeglogError } from '../errors.js'
import type { RetryPolicy } from '../objects/retry.js'
import { RetryStore } from '../objects/retry-store.js'
import type { ObjectStore } from '../objects/types.js'
import { listJournalObjects } from './catalog.js'
import { decodeSections } from './codec.js'

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
  const retrying = new RetryStore(store, options.retry === undefined ? {} : { policy: options.retry })
  const listed = await listJournalObjects(retrying, prefix, signal === undefined ? {} : { signal })
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
      o, data: (await retrying.get(o.key, signal === undefined ? {} : { signal }))?.data,
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
