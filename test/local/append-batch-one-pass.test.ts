// appendBatch's one-pass path (records checked while they are framed into the buffer's free
// space) and the checked path it falls back to: a bad record at any position rejects its call with
// its code and leaves the log and the append buffer as they were (DESIGN rule 20); batches the one
// pass cannot take (strings, empty records, no room left) are stored exactly; every record written
// before is still there after a reopen.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isSeglogError, Log, type SeglogErrorCode } from '../../src/index.js'
import { batchPositions, segmentFiles } from '../helpers/segments.js'
import { payload, tmpDir } from '../helpers/tmp.js'

const LIMITS = { maxRecordBytes: 1000, maxBatchBytes: 20_000 }

function detachedView(): Uint8Array {
  const ab = new ArrayBuffer(64)
  const view = new Uint8Array(ab)
  structuredClone(ab, { transfer: [ab] })
  assert.equal(view.byteLength, 0, 'the view is detached')
  return view
}

/** Every record of the log in `dir`, reopened, as buffers; and its next offset. */
async function reopened(dir: string): Promise<{ records: Buffer[]; next: number }> {
  const log = await Log.open(dir, LIMITS)
  try {
    const records: Buffer[] = []
    for await (const r of log.iterate()) records.push(Buffer.from(r.data))
    return { records, next: log.nextOffset }
  } finally {
    await log.close()
  }
}

const BAD: { what: string; record: () => unknown; code: SeglogErrorCode }[] = [
  { what: 'a number', record: () => 5, code: 'ERR_INVALID_ARGUMENT' },
  { what: 'a detached view', record: detachedView, code: 'ERR_INVALID_ARGUMENT' },
  { what: 'a string with a lone surrogate', record: () => 'a\uD800b', code: 'ERR_INVALID_ARGUMENT' },
  { what: 'a record over maxRecordBytes', record: () => Buffer.alloc(LIMITS.maxRecordBytes + 1), code: 'ERR_RECORD_TOO_LARGE' },
]

for (const sync of ['never', 'always'] as const) {
  test(`sync ${sync}: appendBatch with a bad record at position k rejects with its code; the log, its open batch and every earlier record stay`, async (t) => {
    const dir = tmpDir(t)
    const log = await Log.open(dir, { sync, ...LIMITS })
    await log.appendBatch(Array.from({ length: 50 }, (_, i) => payload(i)))
    const want = Array.from({ length: 50 }, (_, i) => payload(i))
    let next = 50
    for (const bad of BAD) {
      for (const k of [0, 7, 19]) {
        const records: unknown[] = Array.from({ length: 20 }, (_, i) => payload(1000 + i))
        records[k] = bad.record()
        // Buffered in append()'s open batch when the bad batch arrives.
        const pending = log.append(payload(next))
        const rejected = log.appendBatch(records as Uint8Array[])
        const after = log.append(payload(next + 1))
        await assert.rejects(rejected, (err) => isSeglogError(err, bad.code), `${bad.what} at ${k}`)
        assert.equal(await pending, next)
        assert.equal(await after, next + 1, `${bad.what} at ${k}: the next offset is unchanged`)
        want.push(payload(next), payload(next + 1))
        next += 2
        await log.sync() // writes the pair out, sealing its batch
      }
    }
    const overBatch = Array.from({ length: 30 }, (_, i) => payload(2000 + i, 900))
    await assert.rejects(log.appendBatch(overBatch), (err) => isSeglogError(err, 'ERR_RECORD_TOO_LARGE'))
    assert.equal(log.nextOffset, next)
    await log.close()
    const got = await reopened(dir)
    assert.equal(got.next, next)
    assert.deepEqual(got.records, want)
    // Each pending append and the one after its failed batch share one batch: the failure did not seal it.
    const positions = segmentFiles(dir).reduce((n, f) => n + batchPositions(f).length, 0)
    assert.equal(positions, 1 + BAD.length * 3, 'one batch for the first 50 records, then one per pair of appends')
  })
}

test('appendBatch: batches the one pass cannot take (strings, empty records, no room left in the buffer) are stored exactly, with their offsets', async (t) => {
  const dir = tmpDir(t)
  // The smallest buffer: most batches meet one already holding records, with too little room.
  const log = await Log.open(dir, { sync: 'never', writeBufferBytes: 4096, segmentBytes: 64 << 10, ...LIMITS })
  const want: Buffer[] = []
  let seed = 1
  const rand = (n: number): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n
  for (let b = 0; b < 200; b++) {
    const records: (Uint8Array | string)[] = []
    for (let i = rand(20) + 1; i > 0; i--) {
      const kind = rand(10)
      const len = rand(kind === 0 ? 1 : 900)
      const bytes = payload(want.length, len)
      // The string holds the same bytes as latin1 text only when they are ASCII: make them so.
      if (kind === 1) {
        const text = bytes.toString('latin1').replace(/[^\x20-\x7e]/g, 'q')
        records.push(text)
        want.push(Buffer.from(text))
      } else {
        records.push(bytes)
        want.push(bytes)
      }
    }
    const first = want.length - records.length
    assert.deepEqual(await log.appendBatch(records), { first, last: want.length - 1 })
  }
  await log.close()
  const got = await reopened(dir)
  assert.equal(got.next, want.length)
  assert.deepEqual(got.records, want)
})

test('append and appendNoWait: records that overflow the buffer, outgrow it, are empty or are too large take the checked path; every record stays after a reopen', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'never', writeBufferBytes: 4096, maxRecordBytes: 10_000 })
  const want: Buffer[] = []
  const pending: Promise<number>[] = []
  for (let i = 0; i < 300; i++) {
    // Sizes that fill the 4 KiB buffer every few records, an empty record, one over the buffer's size.
    const len = i % 50 === 7 ? 0 : i % 50 === 9 ? 9000 : 300 + (i % 13) * 40
    const rec = payload(i, len)
    if (i % 3 === 0) assert.equal(log.appendNoWait(rec), want.length)
    else pending.push(log.append(rec))
    want.push(rec)
    if (i % 40 === 5) {
      await assert.rejects(log.append(Buffer.alloc(10_001)), (err) => isSeglogError(err, 'ERR_RECORD_TOO_LARGE'))
      assert.throws(() => log.appendNoWait(Buffer.alloc(10_001)), (err) => isSeglogError(err, 'ERR_RECORD_TOO_LARGE'))
    }
  }
  assert.deepEqual(await Promise.all(pending), want.map((_, i) => i).filter((i) => i % 3 !== 0))
  await log.close()
  const got = await reopened(dir)
  assert.equal(got.next, want.length)
  assert.deepEqual(got.records, want)
})

test('sync always: an appendBatch after which the buffer is written out early (another batch its size would not fit) resolves without a later append', { timeout: 20_000 }, async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'always', writeBufferBytes: 4096 })
  // 2,600 bytes framed: a second such batch would not fit the 4 KiB buffer, so it is written out at once.
  const records = Array.from({ length: 10 }, (_, i) => payload(i, 250))
  assert.deepEqual(await log.appendBatch(records), { first: 0, last: 9 })
  assert.equal(log.durableOffset, 10)
  await log.close()
  assert.deepEqual((await reopened(dir)).records, records)
})
