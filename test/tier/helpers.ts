// Builds real sealed segments with the public Log API and compares what a remote log yields with
// what the local log holds.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { Log, type LogRecord } from '../../src/index.js'
import { parseSegmentName } from '../../src/local/names.js'
import type { ObjectStore } from '../../src/objects/types.js'
import type { SealedSegment } from '../../src/tier/index.js'
import { manualClock } from '../helpers/manual-clock.js'
import { payload, tmpDir } from '../helpers/tmp.js'

/** A local log closed on disk, its sealed segments and every record it holds. */
export interface LocalLog {
  dir: string
  /** Sealed segments (all but the active one), oldest first. */
  sealed: SealedSegment[]
  /** Every record of the sealed segments, by offset (copies). */
  records: LogRecord[]
}

/**
 * Writes `count` records (`size` bytes each, `perBatch` to a batch, so batches hold several
 * records) into a real log with small segments, closes it and describes its sealed segments.
 * `variant` changes the payloads, for a second writer whose bytes differ.
 */
export async function buildLocalLog(t: TestContext, options: { count?: number; size?: number; perBatch?: number; segmentBytes?: number; variant?: number; tickMs?: number } = {}): Promise<LocalLog> {
  const { count = 240, size = 100, perBatch = 3, segmentBytes = 4096, variant = 0 } = options
  const dir = tmpDir(t, 'seglog-tier')
  const clock = manualClock(1_780_000_000_000)
  const log = await Log.open(dir, { segmentBytes, sync: 'never', clock })
  for (let i = 0; i < count; i += perBatch) {
    clock.advance(options.tickMs ?? 1)
    const batch: Buffer[] = []
    for (let k = i; k < Math.min(count, i + perBatch); k++) batch.push(payload(k + variant * 1_000_003, size))
    await log.appendBatch(batch)
  }
  await log.close()
  const bases = fs.readdirSync(dir).map(parseSegmentName).filter((b): b is number => b !== undefined).sort((a, b) => a - b)
  const sealed: SealedSegment[] = []
  for (let k = 0; k + 1 < bases.length; k++) {
    const file = path.join(dir, `${String(bases[k]).padStart(20, '0')}.log`)
    sealed.push({ path: file, base: bases[k], end: bases[k + 1], size: fs.statSync(file).size })
  }
  const reader = await Log.open(dir, { readOnly: true })
  const records: LogRecord[] = []
  const end = sealed.at(-1)?.end ?? 0
  for await (const r of reader.iterate({ to: end })) records.push({ offset: r.offset, timestamp: r.timestamp, data: Buffer.from(r.data) })
  await reader.close()
  return { dir, sealed, records }
}

/** Drains an iterator into copies. */
export async function collect(iter: AsyncIterable<LogRecord>, limit = Number.POSITIVE_INFINITY): Promise<LogRecord[]> {
  const out: LogRecord[] = []
  for await (const r of iter) {
    out.push({ offset: r.offset, timestamp: r.timestamp, data: Buffer.from(r.data) })
    if (out.length >= limit) break
  }
  return out
}

/** Asserts that `got` equals `want` record for record (offset, timestamp, bytes). */
export function assertSameRecords(got: readonly LogRecord[], want: readonly LogRecord[]): void {
  assert.equal(got.length, want.length, `got ${got.length} records, want ${want.length}`)
  for (let i = 0; i < want.length; i++) {
    assert.equal(got[i].offset, want[i].offset, `record ${i}: offset`)
    assert.equal(got[i].timestamp, want[i].timestamp, `record ${i} (offset ${want[i].offset}): timestamp`)
    assert.ok(Buffer.from(got[i].data).equals(want[i].data), `record ${i} (offset ${want[i].offset}): bytes differ`)
  }
}

/** Every object under `prefix` with its bytes, to show a store unchanged. */
export async function snapshot(store: ObjectStore, prefix = ''): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for await (const m of store.list(prefix)) {
    const got = await store.get(m.key)
    if (got) out.set(m.key, got.data.toString('base64'))
  }
  return out
}

/** XORs one byte of a stored object (read, change, overwrite), as bit rot in the store would. */
export async function flipStoredByte(store: ObjectStore, key: string, position: number): Promise<void> {
  const got = await store.get(key)
  assert.ok(got, `${key} exists`)
  const data = Buffer.from(got.data)
  data[position] ^= 0x40
  await store.put(key, data)
}
