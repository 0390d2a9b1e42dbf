/**
 * Journal access for the commands: opening, converting events to printable records, and the
 * object-level facts (`info`, `verify`) that need a listing rather than a read.
 */
import { Journal, type JournalEntry, type JournalOptions, type ObjectMeta } from '../index.js'
// Journal verification reads objects directly; these decoders are not part of the public surface yet.
// The one exception to the layer rule, until a public Journal.verify and catalog exist (issue 11).
// eslint-disable-next-line @typescript-eslint/no-restricted-imports
import { decodeSections, parseKey } from '../journal/index.js'
import type { PrintedRecord } from './format.js'
import type { JournalTarget } from './target.js'

/** Opens the journal a target names. */
export function openJournal(target: JournalTarget, options: JournalOptions = {}): Promise<Journal<unknown>> {
  return Journal.open<unknown>(target.store, target.prefix, options)
}

/** A journal event as a printable record: binary events keep their bytes, JSON events their value. */
export function entryToRecord(e: JournalEntry<unknown>): PrintedRecord {
  if (Buffer.isBuffer(e.value)) return { cursor: e.cursor, timestamp: e.timestamp, data: e.value }
  if (e.value instanceof Uint8Array) return { cursor: e.cursor, timestamp: e.timestamp, data: Buffer.from(e.value) }
  return { cursor: e.cursor, timestamp: e.timestamp, data: Buffer.from(JSON.stringify(e.value) ?? 'null'), value: { json: e.value } }
}

/** One journal object, as listed, with its parsed key. */
export interface ListedObject {
  key: string
  kind: 'b' | 'c' | 'r' | 'other'
  first: number
  last: number
  size: number
  lastModified: Date
}

/** Every object under the journal's prefix. */
export async function listJournal(target: JournalTarget): Promise<ListedObject[]> {
  const prefix = target.prefix === '' ? '' : `${target.prefix}/`
  const out: ListedObject[] = []
  for await (const m of target.store.list(prefix) as AsyncIterable<ObjectMeta>) {
    const rel = m.key.slice(prefix.length)
    const p = parseKey(rel)
    out.push({ key: m.key, kind: p?.kind ?? 'other', first: p?.first ?? -1, last: p?.last ?? -1, size: m.size, lastModified: m.lastModified })
  }
  return out
}

/** A damaged journal object, found by {@link verifyJournal}. */
export interface JournalFault {
  file: string
  position: number
  kind: 'corrupt' | 'missing' | 'range'
  message: string
}

/** Result of {@link verifyJournal}. */
export interface JournalVerifyReport {
  ok: boolean
  objects: number
  batches: number
  events: number
  bytes: number
  faults: JournalFault[]
  durationMs: number
}

/**
 * Reads every batch and compacted object and checks its checksums and that it holds exactly the
 * batches its key names. Unlike a read, it goes on past a damaged object to report them all.
 */
export async function verifyJournal(target: JournalTarget, onProgress: (done: number, total: number) => void, signal: AbortSignal): Promise<JournalVerifyReport> {
  const started = performance.now()
  const objects = (await listJournal(target)).filter((o) => o.kind === 'b' || o.kind === 'c')
  const total = objects.reduce((n, o) => n + o.size, 0)
  const report: JournalVerifyReport = { ok: true, objects: objects.length, batches: 0, events: 0, bytes: total, faults: [], durationMs: 0 }
  let done = 0
  const seen = new Set<number>()
  const concurrency = 8
  for (let i = 0; i < objects.length && !signal.aborted; i += concurrency) {
    const group = objects.slice(i, i + concurrency)
    const got = await Promise.all(group.map(async (o) => ({ o, data: (await target.store.get(o.key, { signal }))?.data })))
    for (const { o, data } of got) {
      done += o.size
      if (data === undefined) {
        // Compaction or retention may delete objects between listing and reading: not damage.
        continue
      }
      try {
        const sections = decodeSections(data, o.key, true)
        const seqs = sections.map((s) => s.seq)
        const expected = o.last - o.first + 1
        if (seqs.length !== expected || seqs.some((s, k) => s !== o.first + k)) {
          report.faults.push({ file: o.key, position: 0, kind: 'range', message: `holds batches ${seqs.join(',')} but its key names ${o.first}..${o.last}` })
          continue
        }
        // After compaction a batch sits in its original and in the merged object until the grace
        // period ends: count each batch once.
        for (const s of sections) {
          if (seen.has(s.seq)) continue
          seen.add(s.seq)
          report.batches++
          report.events += s.values.length
        }
      } catch (err) {
        const details = (err as { details?: { position?: unknown } }).details
        report.faults.push({ file: o.key, position: typeof details?.position === 'number' ? details.position : 0, kind: 'corrupt', message: (err as Error).message })
      }
    }
    onProgress(done, total)
  }
  report.ok = report.faults.length === 0
  report.durationMs = performance.now() - started
  return report
}
