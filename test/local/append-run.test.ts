// The run path the worker ring drains through: records lying in order in one region of a source
// buffer (as frames in the ring: a header before each payload, padding after it) are copied with one
// copy and compacted in place into one atomic batch. Checked byte for byte after a reopen, for
// layouts that can be compacted and ones that cannot, with bad lengths refused before anything
// changes, and with `at`/`lengths` reused by the caller while a truncate makes the append wait.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isSeglogError, Log } from '../../src/index.js'
import type { RecordSink } from '../../src/local/local-log.js'
import { payload, tmpDir } from '../helpers/tmp.js'

function sinkOf(log: Log): RecordSink {
  return (log as unknown as { recordSink: RecordSink }).recordSink
}

/** Lays records out as the ring does: a 16-byte header, the payload, padding to 8 bytes. */
function ringLike(records: Buffer[], headerBytes = 16): { source: Uint8Array; at: Int32Array; lengths: Int32Array } {
  const at = new Int32Array(records.length)
  const lengths = new Int32Array(records.length)
  let p = 64 // some unrelated bytes before the run
  for (let k = 0; k < records.length; k++) {
    at[k] = p + headerBytes
    lengths[k] = records[k].length
    p = (at[k] + records[k].length + 7) & ~7
  }
  const source = new Uint8Array(p + 64).fill(0xee)
  for (let k = 0; k < records.length; k++) source.set(records[k], at[k])
  return { source, at, lengths }
}

async function readAll(dir: string): Promise<Buffer[]> {
  const log = await Log.open(dir, { sync: 'never' })
  const out: Buffer[] = []
  for await (const r of log.iterate()) out.push(Buffer.from(r.data))
  await log.close()
  return out
}

test('appendRun stores ring-laid-out runs byte for byte as atomic batches (sizes 1 to 3000 bytes, index entries across them)', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'always', segmentBytes: 64 << 10, indexIntervalBytes: 256 })
  const sink = sinkOf(log)
  const want: Buffer[] = []
  for (let batch = 0; batch < 30; batch++) {
    const records: Buffer[] = []
    for (let k = 0; k < 1 + (batch % 9) * 7; k++) records.push(payload(want.length + records.length, 1 + ((batch * 131 + k * 977) % 3000)))
    const { source, at, lengths } = ringLike(records)
    const r = await sink.appendRun(source, at, lengths, records.length)
    assert.deepEqual(r, { first: want.length, last: want.length + records.length - 1 })
    want.push(...records)
  }
  for (const i of [0, 7, 100, want.length - 1]) assert.deepEqual((await log.read(i))?.data, want[i], `point read ${i}`)
  await log.close()
  assert.deepEqual(await readAll(dir), want)
})

test('appendRun: layouts that cannot be compacted in place (out of order, packed tighter than the framing) are stored correctly too', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'never' })
  const sink = sinkOf(log)
  const a = payload(0, 40)
  const b = payload(1, 50)
  const c = payload(2, 30)
  // Out of order in the source: c's bytes come first.
  const source = new Uint8Array(200)
  source.set(c, 0)
  source.set(a, 40)
  source.set(b, 100)
  assert.deepEqual(await sink.appendRun(source, Int32Array.of(40, 100, 0), Int32Array.of(40, 50, 30), 3), { first: 0, last: 2 })
  // Packed back to back (no room for a length prefix between them).
  const packed = Buffer.concat([payload(3, 10), payload(4, 10), payload(5, 10)])
  assert.deepEqual(await sink.appendRun(packed, Int32Array.of(0, 10, 20), Int32Array.of(10, 10, 10), 3), { first: 3, last: 5 })
  await log.close()
  assert.deepEqual(await readAll(dir), [a, b, c, payload(3, 10), payload(4, 10), payload(5, 10)])
})

test('appendRun refuses bad lengths and oversized records or batches with nothing written; the records before stay', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'never', maxRecordBytes: 100, maxBatchBytes: 1000 })
  const sink = sinkOf(log)
  const first = [payload(0, 60), payload(1, 70)]
  const ok = ringLike(first)
  await sink.appendRun(ok.source, ok.at, ok.lengths, 2)
  const big = ringLike([payload(2, 50), payload(3, 101)])
  await assert.rejects(sink.appendRun(big.source, big.at, big.lengths, 2), (err: unknown) => isSeglogError(err, 'ERR_RECORD_TOO_LARGE') && err.details.index === 1)
  const many = ringLike(Array.from({ length: 12 }, (_, i) => payload(i, 90)))
  await assert.rejects(sink.appendRun(many.source, many.at, many.lengths, 12), (err: unknown) => isSeglogError(err, 'ERR_RECORD_TOO_LARGE'))
  await assert.rejects(sink.appendRun(ok.source, Int32Array.of(ok.source.length - 10), Int32Array.of(60), 1), (err: unknown) => isSeglogError(err, 'ERR_INVALID_ARGUMENT'))
  await assert.rejects(sink.appendRun(ok.source, ok.at, ok.lengths, 0), (err: unknown) => isSeglogError(err, 'ERR_INVALID_ARGUMENT'))
  await assert.rejects(sink.appendRun(ok.source, ok.at, ok.lengths, 3), (err: unknown) => isSeglogError(err, 'ERR_INVALID_ARGUMENT'))
  assert.equal(log.nextOffset, 2)
  await log.close()
  assert.deepEqual(await readAll(dir), first)
})

test('appendRun waiting behind a truncate keeps its own copy of at/lengths (the caller reuses them at once)', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'never' })
  const sink = sinkOf(log)
  for (let i = 0; i < 10; i++) await log.append(payload(i, 30))
  const cut = log.truncate(5)
  const records = [payload(100, 40), payload(101, 45)]
  const run = ringLike(records)
  const pending = sink.appendRun(run.source, run.at, run.lengths, 2)
  // The drainer's collector reuses these arrays for its next batch.
  run.at.fill(0)
  run.lengths.fill(1)
  await cut
  assert.deepEqual(await pending, { first: 5, last: 6 })
  await log.close()
  const all = await readAll(dir)
  assert.deepEqual(all.slice(5), records)
})
