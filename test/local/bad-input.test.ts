import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { Log } from '../../src/index.js'
import { batchPositions, flipByte, segmentFiles, setBatchVersion } from '../helpers/segments.js'
import { payload, tmpDir } from '../helpers/tmp.js'

/** A log holding records 0..n-1 (payload(i)), closed. */
async function seeded(dir: string, n = 200, segmentBytes = 4096): Promise<void> {
  const log = await Log.open(dir, { sync: 'never', segmentBytes })
  for (let i = 0; i < n; i += 5) await log.appendBatch([0, 1, 2, 3, 4].map((k) => payload(i + k, 90)))
  await log.close()
}

async function assertIntact(dir: string, n = 200, options = {}): Promise<void> {
  const log = await Log.open(dir, { segmentBytes: 4096, ...options })
  try {
    assert.equal(log.nextOffset, n)
    let i = 0
    for await (const rec of log.iterate()) assert.deepEqual(rec.data, payload(i++, 90))
    assert.equal(i, n)
  } finally {
    await log.close()
  }
}

test('records that are not bytes or strings fail with ERR_INVALID_ARGUMENT and write nothing', async (t) => {
  const dir = tmpDir(t)
  await seeded(dir)
  const log = await Log.open(dir, { segmentBytes: 4096 })
  for (const bad of [123, null, undefined, {}, [1, 2], true]) {
    await assert.rejects(log.append(bad as never), { code: 'ERR_INVALID_ARGUMENT' })
  }
  await assert.rejects(log.appendBatch([]), { code: 'ERR_INVALID_ARGUMENT' })
  await assert.rejects(log.appendBatch('abc' as never), { code: 'ERR_INVALID_ARGUMENT' })
  await assert.rejects(log.appendBatch([Buffer.from('ok'), 5 as never]), { code: 'ERR_INVALID_ARGUMENT' })
  for (const bad of [-1, 1.5, NaN, '3', 2 ** 53]) await assert.rejects(log.read(bad as never), { code: 'ERR_INVALID_ARGUMENT' })
  assert.equal(log.nextOffset, 200)
  await log.close()
  await assertIntact(dir)
})

test('a record over maxRecordBytes fails with ERR_RECORD_TOO_LARGE and nothing is written', async (t) => {
  const dir = tmpDir(t)
  await seeded(dir)
  const log = await Log.open(dir, { segmentBytes: 4096, maxRecordBytes: 1000, maxBatchBytes: 5000 })
  await assert.rejects(log.append(Buffer.alloc(1001)), { code: 'ERR_RECORD_TOO_LARGE' })
  await assert.rejects(log.append('é'.repeat(501)), { code: 'ERR_RECORD_TOO_LARGE' })
  await assert.rejects(log.appendBatch([Buffer.alloc(10), Buffer.alloc(1001)]), { code: 'ERR_RECORD_TOO_LARGE' })
  await assert.rejects(log.appendBatch(Array.from({ length: 10 }, () => Buffer.alloc(900))), { code: 'ERR_RECORD_TOO_LARGE' })
  assert.equal(log.nextOffset, 200)
  assert.equal(await log.append(Buffer.alloc(1000)), 200, 'exactly the limit is accepted')
  await log.truncate(200)
  await log.close()
  await assertIntact(dir)
})

test('calls after close fail with ERR_CLOSED', async (t) => {
  const dir = tmpDir(t)
  await seeded(dir)
  const log = await Log.open(dir)
  await log.close()
  await assert.rejects(log.append('x'), { code: 'ERR_CLOSED' })
  await assert.rejects(log.appendBatch(['x']), { code: 'ERR_CLOSED' })
  await assert.rejects(log.read(0), { code: 'ERR_CLOSED' })
  await assert.rejects(log.sync(), { code: 'ERR_CLOSED' })
  await assert.rejects(log.truncate(0), { code: 'ERR_CLOSED' })
  await assert.rejects(async () => { for await (const _ of log.iterate()) { /* none */ } }, { code: 'ERR_CLOSED' })
  await assertIntact(dir)
})

test('reads past the end return undefined; truncate outside the log fails with ERR_OFFSET_OUT_OF_RANGE', async (t) => {
  const dir = tmpDir(t)
  await seeded(dir)
  const log = await Log.open(dir, { segmentBytes: 4096 })
  assert.equal(await log.read(200), undefined)
  assert.equal(await log.read(10_000), undefined)
  await log.deleteBefore(100)
  const first = log.firstOffset
  assert.ok(first > 0)
  assert.equal(await log.read(first - 1), undefined)
  await assert.rejects(log.truncate(first - 1), { code: 'ERR_OFFSET_OUT_OF_RANGE' })
  await assert.rejects(log.truncate(201), { code: 'ERR_OFFSET_OUT_OF_RANGE' })
  assert.equal(log.nextOffset, 200)
  let i = first
  for await (const rec of log.iterate()) assert.deepEqual(rec.data, payload(i++, 90))
  assert.equal(i, 200)
  await log.close()
})

test('foreign files in the log directory are ignored and never deleted', async (t) => {
  const dir = tmpDir(t)
  await seeded(dir)
  const foreign = ['notes.txt', '0001.log', '00000000000000000000.log.bak', 'x.index', '.hidden']
  for (const f of foreign) fs.writeFileSync(path.join(dir, f), `foreign ${f}`)
  fs.mkdirSync(path.join(dir, 'subdir'))
  await assertIntact(dir)
  const log = await Log.open(dir, { segmentBytes: 4096, retention: { maxBytes: 1 } })
  await log.append(payload(200, 90))
  await log.close()
  for (const f of foreign) assert.equal(fs.readFileSync(path.join(dir, f), 'utf8'), `foreign ${f}`)
  assert.ok(fs.statSync(path.join(dir, 'subdir')).isDirectory())
  assert.deepEqual((await Log.verify(dir)).faults, [])
})

test('a batch from a newer format version fails with ERR_FORMAT_VERSION, and earlier data stays readable', async (t) => {
  const dir = tmpDir(t)
  await seeded(dir)
  const files = segmentFiles(dir)
  const last = files.at(-1) as string
  const positions = batchPositions(last)
  setBatchVersion(last, positions.at(-1) as number, 2)
  fs.rmSync(path.join(dir, 'checkpoint')) // force recovery to read the tail
  await assert.rejects(Log.open(dir), { code: 'ERR_FORMAT_VERSION' })
  // A sealed segment with a newer batch: open works, reading that batch fails clearly.
  const dir2 = tmpDir(t)
  await seeded(dir2)
  const first = segmentFiles(dir2)[0]
  setBatchVersion(first, 0, 7)
  fs.rmSync(first.replace(/\.log$/, '.index'), { force: true })
  const log = await Log.open(dir2, { segmentBytes: 4096 })
  await assert.rejects(log.read(0), { code: 'ERR_FORMAT_VERSION' })
  assert.deepEqual((await log.read(199))?.data, payload(199, 90))
  await log.close()
  const report = await Log.verify(dir2)
  assert.equal(report.faults[0]?.kind, 'newer-version')
})

test('a zero-length segment file: alone it is an empty log; after a roll it continues the log', async (t) => {
  const dir = tmpDir(t)
  fs.writeFileSync(path.join(dir, '00000000000000000000.log'), '')
  const empty = await Log.open(dir)
  assert.equal(empty.nextOffset, 0)
  assert.equal(await empty.append('a'), 0)
  await empty.close()

  const dir2 = tmpDir(t)
  await seeded(dir2)
  fs.writeFileSync(path.join(dir2, '00000000000000000200.log'), '') // crash right after a roll
  fs.rmSync(path.join(dir2, 'checkpoint'))
  await assertIntact(dir2)
})

test('a truncated or damaged index is rebuilt, never trusted', async (t) => {
  const dir = tmpDir(t)
  await seeded(dir)
  const indexes = fs.readdirSync(dir).filter((f) => f.endsWith('.index')).map((f) => path.join(dir, f))
  assert.ok(indexes.length > 2)
  fs.truncateSync(indexes[0], 10)
  flipByte(indexes[1], 50)
  fs.writeFileSync(indexes[2], '')
  const report = await Log.verify(dir)
  assert.equal(report.faults.filter((f) => f.kind === 'index').length, 3)
  await assertIntact(dir)
  const log = await Log.open(dir, { segmentBytes: 4096 })
  for (const i of [0, 7, 33, 150, 199]) assert.deepEqual((await log.read(i))?.data, payload(i, 90))
  await log.close()
  assert.equal((await Log.verify(dir)).ok, true, 'indexes were rewritten after the rebuild')
})

test('a bit flip in a sealed segment is detected on read and by verify, naming file and byte; other data stays readable', async (t) => {
  const dir = tmpDir(t)
  await seeded(dir)
  const file = segmentFiles(dir)[1]
  const positions = batchPositions(file)
  flipByte(file, positions[1] + 100)
  const log = await Log.open(dir, { segmentBytes: 4096 })
  const base = Number(path.basename(file, '.log'))
  // The damaged batch is the second of this segment: records base+5 .. base+9.
  await assert.rejects(log.read(base + 6), (err: Error & { code?: string; details?: { file?: string; position?: number } }) => {
    assert.equal(err.code, 'ERR_CORRUPT')
    assert.equal(err.details?.file, file)
    assert.equal(err.details?.position, positions[1])
    assert.match(err.message, new RegExp(`byte ${positions[1]}`))
    return true
  })
  assert.deepEqual((await log.read(base + 1))?.data, payload(base + 1, 90))
  assert.deepEqual((await log.read(199))?.data, payload(199, 90))
  await assert.rejects(async () => { for await (const _ of log.iterate()) { /* reads through the damage */ } }, { code: 'ERR_CORRUPT' })
  await log.close()
  const report = await Log.verify(dir)
  assert.equal(report.ok, false)
  assert.deepEqual(report.faults.map((f) => [f.file, f.position, f.kind]), [[file, positions[1], 'corrupt']])
})
