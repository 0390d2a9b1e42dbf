/**
 * Journal access for the commands: opening, converting events to printable records, and the
 * object listing that `info` and `compact` show.
 */
import { Journal, type JournalEntry, type JournalObjectInfo, type JournalOptions } from '../index.js'
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

/** Every object under the journal's prefix, with what its key claims. */
export function listJournal(target: JournalTarget, signal?: AbortSignal): Promise<JournalObjectInfo[]> {
  return Journal.listObjects(target.store, target.prefix, signal === undefined ? {} : { signal })
}
