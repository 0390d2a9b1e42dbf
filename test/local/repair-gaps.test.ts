/**
 * Repair loses only what is damaged (issue 10): intact batches after damage keep their offsets,
 * the lost range is recorded durably and reported by reads, iterate, verify. Each test failed on
 * commit 0aa50b0.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { isSeglogError, Log } from '../../src/index.js'
import { writeGaps } from '../../src/local/gaps.js'
import { nodeFileSystem } from '../../src/testing/index.js'
import { batchPositions, flipByte, segmentFiles } from '../helpers/segments.js'
import { payload, tmpDir } from '../helpers/tmp.js'

const N = 100_007

async function bigLog(dir: string): Promise<void> {
  const log = await Log.open(dir, { sync: 'never', segmentBytes: 3 << 19 })
  for (let i = 0; i < N; i += 500) {
    const n = Math.min(500, N - i)
    await log.appendBatch(Array.from({ length: n }, (_, k) => payload(i + k, 100)))
  }
  await log.close()
}

test('one flipped byte in segment 3 of 6 loses one batch, not every later segment (100,007 records)', async (t) => {
  const dir = tmpDir(t)
  await bigLog(dir)
  const files = segmentFiles(dir)
  assert.ok(files.length >= 6, `${files.length} segments`)
  const damaged = files[2]
  const positions = batchPositions(damaged)
  flipByte(damaged, positions[5] + 1000)
  const report = await Log.repair(dir)
  assert.equal(report.lost.length, 1)
  const { from, to } = report.lost[0]
  assert.equal(to - from, 500, 'exactly the damaged batch')
  const log = await Log.open(dir)
  try {
    assert.equal(log.nextOffset, N)
    assert.deepEqual(log.gaps, [{ from, to }])
    let n = 0
    let count = 0
    for await (const rec of log.iterate({ gaps: 'skip' })) {
      if (n === from) n = to
      assert.equal(rec.offset, n)
      if (n % 997 === 0) assert.deepEqual(rec.data, payload(n, 100))
      n++
      count++
    }
    assert.equal(count, N - 500, 'every intact record survives with its offset')
    for (const off of [0, from - 1, to, N - 1]) assert.deepEqual((await log.read(off))?.data, payload(off, 100))
    for (const off of [from, to - 1]) {
      await assert.rejects(log.read(off), (err) => isSeglogError(err, 'ERR_OFFSET_LOST') && err.details.from === from && err.details.to === to)
    }
    // The default iteration stops at the gap with the code; a cursor started inside it does too.
    let last = -1
    await assert.rejects(async () => { for await (const rec of log.iterate()) last = rec.offset }, { code: 'ERR_OFFSET_LOST' })
    assert.equal(last, from - 1)
    await assert.rejects(async () => { for await (const rec of log.iterate({ from: from + 3 })) last = rec.offset }, { code: 'ERR_OFFSET_LOST' })
    const skipped = []
    for await (const rec of log.iterate({ from: from + 3, to: to + 2, gaps: 'skip' })) skipped.push(rec.offset)
    assert.deepEqual(skipped, [to, to + 1])
    assert.throws(() => log.iterate({ gaps: 'jump' as 'skip' }), { code: 'ERR_INVALID_ARGUMENT' })
    // The log keeps working: appends after a repair, truncate below and into the gap.
    assert.equal(await log.append('after'), N)
  } finally {
    await log.close()
  }
  const verified = await Log.verify(dir)
  assert.equal(verified.ok, true, JSON.stringify(verified.faults))
  assert.deepEqual(verified.gaps, [{ from, to }])
})

test('open with { repair: true } repairs damage in a sealed segment before the checkpoint, keeping later segments', async (t) => {
  const dir = tmpDir(t)
  const log0 = await Log.open(dir, { sync: 'never', segmentBytes: 4096 })
  for (let i = 0; i < 300; i += 3) await log0.appendBatch([payload(i, 80), payload(i + 1, 80), payload(i + 2, 80)])
  await log0.close()
  const files = segmentFiles(dir)
  const damaged = files[1]
  const pos = batchPositions(damaged)[2]
  flipByte(damaged, pos + 60)
  const base = Number(path.basename(damaged, '.log'))
  // A plain open succeeds (recovery reads only after the checkpoint); reading the damage fails.
  const plain = await Log.open(dir)
  await assert.rejects(plain.read(base + 6), (err) => isSeglogError(err, 'ERR_CORRUPT') && /repair/.test(err.message))
  await plain.close()
  const log = await Log.open(dir, { repair: true, segmentBytes: 4096 })
  try {
    assert.deepEqual(log.recovery.repaired?.lost.map((l) => [l.from, l.to]), [[base + 6, base + 9]])
    assert.deepEqual(log.gaps, [{ from: base + 6, to: base + 9 }])
    assert.equal(log.nextOffset, 300)
    for (let i = 0; i < 300; i++) {
      if (i >= base + 6 && i < base + 9) await assert.rejects(log.read(i), { code: 'ERR_OFFSET_LOST' })
      else assert.deepEqual((await log.read(i))?.data, payload(i, 80))
    }
    for (const f of files) assert.ok(fs.existsSync(f))
    // truncate into the gap: the next append gets that offset; the part of the gap below stays lost.
    await log.truncate(base + 7)
    assert.equal(log.nextOffset, base + 7)
    assert.equal(await log.append(payload(base + 7, 80)), base + 7)
    assert.deepEqual(log.gaps, [{ from: base + 6, to: base + 7 }])
  } finally {
    await log.close()
  }
  const again = await Log.open(dir)
  try {
    assert.deepEqual(again.gaps, [{ from: base + 6, to: base + 7 }])
    assert.deepEqual((await again.read(base + 7))?.data, payload(base + 7, 80))
    await assert.rejects(again.read(base + 6), { code: 'ERR_OFFSET_LOST' })
    await again.truncate(base + 2)
    assert.deepEqual(again.gaps, [], 'a truncate below a gap removes it')
  } finally {
    await again.close()
  }
  assert.equal((await Log.verify(dir)).ok, true)
})

test('verify reports every fault: two in one segment and one in another, each with its lost range', async (t) => {
  const dir = tmpDir(t)
  const log0 = await Log.open(dir, { sync: 'never', segmentBytes: 8192 })
  for (let i = 0; i < 600; i += 3) await log0.appendBatch([payload(i, 80), payload(i + 1, 80), payload(i + 2, 80)])
  await log0.close()
  const files = segmentFiles(dir)
  const a = batchPositions(files[1])
  const b = batchPositions(files[3])
  flipByte(files[1], a[2] + 50)
  flipByte(files[1], a[10] + 50)
  flipByte(files[3], b[4] + 50)
  const report = await Log.verify(dir)
  assert.deepEqual(report.faults.map((f) => [f.file, f.position, f.kind]), [
    [files[1], a[2], 'corrupt'], [files[1], a[10], 'corrupt'], [files[3], b[4], 'corrupt'],
  ])
  const base1 = Number(path.basename(files[1], '.log'))
  assert.deepEqual(report.faults[0].lost, { from: base1 + 6, to: base1 + 9 })
  assert.deepEqual(report.faults[1].lost, { from: base1 + 30, to: base1 + 33 })
  assert.equal(report.nextOffset, 600)
  const repaired = await Log.repair(dir)
  assert.equal(repaired.lost.length, 3)
  const log = await Log.open(dir)
  try {
    let count = 0
    for await (const rec of log.iterate({ gaps: 'skip' })) {
      assert.deepEqual(rec.data, payload(rec.offset, 80))
      count++
    }
    assert.equal(count, 600 - 9)
  } finally {
    await log.close()
  }
})

test('a recorded gap that recovery no longer bears out is dropped from the file, so it cannot come back over records appended later (power-loss seed 989959456)', async (t) => {
  const dir = tmpDir(t)
  const segmentBytes = 4096
  const record = (i: number): Buffer => Buffer.alloc(3000, i)
  let log = await Log.open(dir, { segmentBytes })
  for (let i = 0; i < 3; i++) await log.append(record(i))
  const end = log.nextOffset
  await log.close()
  // What a crash mid-repair can leave: a gap ending at a segment that recovery then removes (here:
  // never created), over offsets the log goes on to fill.
  await writeGaps(nodeFileSystem, dir, [{ from: end, to: end + 1 }])
  log = await Log.open(dir, { segmentBytes })
  assert.deepEqual(log.gaps, [])
  // Each record fills a segment, so the next one starts at `end + 1`: the old gap's shape exactly.
  for (let i = end; i < end + 3; i++) assert.equal(await log.append(record(i)), i)
  await log.close()
  log = await Log.open(dir, { segmentBytes })
  try {
    assert.deepEqual(log.gaps, [])
    for (let i = 0; i < end + 3; i++) assert.deepEqual((await log.read(i))?.data, record(i), `record ${i}`)
  } finally {
    await log.close()
  }
})
