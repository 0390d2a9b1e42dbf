import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { Log } from '../../src/index.js'
import { faultyFileSystem } from '../helpers/faulty-fs.js'
import { batchPositions, flipByte, segmentFiles } from '../helpers/segments.js'
import { payload, tmpDir } from '../helpers/tmp.js'

async function writeRecords(dir: string, from: number, to: number, options = {}): Promise<void> {
  const log = await Log.open(dir, { sync: 'never', ...options })
  for (let i = from; i < to; i++) assert.equal(await log.append(payload(i)), i)
  await log.close()
}

async function readAll(dir: string, options = {}): Promise<{ log: Log; count: number }> {
  const log = await Log.open(dir, options)
  let count = 0
  for await (const rec of log.iterate()) {
    assert.equal(rec.offset, count)
    assert.deepEqual(rec.data, payload(count))
    count++
  }
  return { log, count }
}

test('a torn last write is cut off and reported; everything before it survives', async (t) => {
  for (const keepCheckpoint of [true, false]) {
    const dir = tmpDir(t)
    await writeRecords(dir, 0, 50)
    // Simulate the crash: a second batch written after the clean close, torn half-way.
    const log = await Log.open(dir, { sync: 'never' })
    await log.appendBatch([payload(50), payload(51), payload(52)])
    await log.sync()
    const file = segmentFiles(dir)[0]
    const size = fs.statSync(file).size
    const torn = size - 150
    fs.truncateSync(file, torn)
    // Drop the lock as a killed process would leave it, then reopen.
    ;(log as unknown as { lock: { release(): void } }).lock.release()
    if (!keepCheckpoint) fs.rmSync(path.join(dir, 'checkpoint'))
    const { log: again, count } = await readAll(dir)
    assert.equal(count, 50)
    assert.equal(again.recovery.truncated?.reason, 'torn')
    assert.equal(again.recovery.truncated?.fromOffset, 50)
    assert.equal(again.recovery.truncated?.file, file)
    assert.equal(again.recovery.clean, false)
    assert.equal(await again.append(payload(50)), 50)
    await again.close()
  }
})

test('a bad checksum followed by valid data is corruption: ERR_CORRUPT names file and byte; repair cuts out only the damaged batch and reports it', async (t) => {
  const dir = tmpDir(t)
  await writeRecords(dir, 0, 100)
  fs.rmSync(path.join(dir, 'checkpoint')) // the damage is in the tail recovery reads
  const file = segmentFiles(dir)[0]
  const log0 = await Log.open(dir, { sync: 'never' })
  // Make several batches so valid data follows the damaged one.
  for (let b = 0; b < 5; b++) await log0.appendBatch([payload(100 + b * 2), payload(101 + b * 2)])
  await log0.close()
  fs.rmSync(path.join(dir, 'checkpoint'))
  const positions = batchPositions(file)
  const damaged = positions[positions.length - 3]
  flipByte(file, damaged + 60)
  const sizeBefore = fs.statSync(file).size
  await assert.rejects(Log.open(dir), (err: Error & { code?: string; details?: { file?: string; position?: number } }) => {
    assert.equal(err.code, 'ERR_CORRUPT')
    assert.equal(err.details?.file, file)
    assert.equal(err.details?.position, damaged)
    return true
  })
  assert.equal(fs.statSync(file).size, sizeBefore, 'a failed open changes nothing')
  const repaired = await Log.open(dir, { repair: true })
  // The damaged batch (two records) is lost and recorded; every other record keeps its offset.
  const lost = repaired.recovery.repaired?.lost ?? []
  assert.equal(lost.length, 1)
  assert.equal(lost[0].file, file)
  assert.equal(lost[0].position, damaged)
  const { from, to } = lost[0]
  assert.equal(to - from, 2)
  assert.deepEqual(repaired.gaps, [{ from, to }])
  assert.equal(repaired.nextOffset, 110)
  assert.equal(repaired.recovery.truncated, undefined)
  let n = 0
  for await (const rec of repaired.iterate({ gaps: 'skip' })) {
    if (n === from) n = to
    assert.equal(rec.offset, n)
    assert.deepEqual(rec.data, payload(n++))
  }
  assert.equal(n, 110)
  await assert.rejects(repaired.read(from), (err: Error & { code?: string; details?: { from?: number; to?: number } }) =>
    err.code === 'ERR_OFFSET_LOST' && err.details?.from === from && err.details?.to === to)
  await repaired.close()
})

test('an interrupted truncate is completed by the next open', async (t) => {
  const dir = tmpDir(t)
  await writeRecords(dir, 0, 300, { segmentBytes: 4096 })
  let armed = false
  const fsys = faultyFileSystem({
    onOpen(file, mode) {
      // Crash point: after the intent is durable, before the segment is cut.
      if (armed && mode === 'write' && file.endsWith('.log')) throw Object.assign(new Error('EIO: injected'), { code: 'EIO' })
    },
  })
  const log = await Log.open(dir, { sync: 'never', segmentBytes: 4096, fileSystem: fsys })
  armed = true
  await assert.rejects(log.truncate(123), { code: 'ERR_IO' })
  await log.close().catch(() => undefined)
  assert.ok(fs.existsSync(path.join(dir, 'truncate.pending')))
  const again = await Log.open(dir, { segmentBytes: 4096 })
  assert.equal(again.recovery.replayedTruncate, true)
  assert.equal(again.nextOffset, 123)
  let n = 0
  for await (const rec of again.iterate()) assert.deepEqual(rec.data, payload(n++))
  assert.equal(n, 123)
  assert.equal(fs.existsSync(path.join(dir, 'truncate.pending')), false)
  await again.close()
})

for (const [what, faults] of [
  ['a failed fsync', { datasyncFailsFrom: 3 }],
  ['a failed write (EIO)', { writeFailsFrom: 3 }],
  ['a full disk (ENOSPC)', { writeFailsFrom: 3, code: 'ENOSPC' }],
] as const) {
  test(`${what} fails the log closed with ERR_IO; reopening recovers every acknowledged record`, async (t) => {
    const dir = tmpDir(t)
    const fsys = faultyFileSystem(faults)
    const log = await Log.open(dir, { sync: 'always', fileSystem: fsys })
    const acked: number[] = []
    let failure: unknown
    for (let i = 0; i < 20 && failure === undefined; i++) {
      try {
        acked.push(await log.append(payload(i)))
      } catch (err) {
        failure = err
      }
    }
    assert.equal((failure as { code?: string })?.code, 'ERR_IO')
    assert.match((failure as Error).message, /reopen|open it again/i)
    await assert.rejects(log.append(payload(99)), { code: 'ERR_IO' })
    await assert.rejects(log.sync(), { code: 'ERR_IO' })
    await assert.rejects(log.close(), { code: 'ERR_IO' })
    const { log: again, count } = await readAll(dir)
    assert.ok(count >= acked.length, `${count} records on disk, ${acked.length} acknowledged`)
    await again.close()
  })
}
