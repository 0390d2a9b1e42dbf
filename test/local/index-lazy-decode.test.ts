// Opening a log decodes its active segment's index lazily (issue 13, W5): the envelope, the header
// and the last block of entries are checked at open, every other block of 256 entries when a lookup
// first lands in it (src/local/sparse-index.ts). A damaged entry must still never be trusted
// (DESIGN rule 20): met by a point read, a cursor or a truncate, the index is rebuilt from the
// segment's verified batches and every record reads back as written.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test, type TestContext } from 'node:test'
import { Log } from '../../src/index.js'
import { sealEnvelope } from '../../src/format/index.js'
import { countingFs } from '../helpers/counting-fs.js'
import { INDEX_HEADER_BYTES, SparseIndex } from '../../src/local/sparse-index.js'
import { payload, tmpDir } from '../helpers/tmp.js'

const RECORDS = 2000
const SIZE = 100
// One index entry per record (each record is 104 bytes on disk): 2,000 entries, 8 blocks.
const OPTIONS = { sync: 'never', indexIntervalBytes: 64 } as const
// Block 4 (entries 1024–1279). Not entry 1000: a binary search over 2,000 entries looks at that
// one first, so every lookup would meet it (and rebuild, which is right but tests less).
const DAMAGED = 1100

/** A cleanly closed one-segment log whose index file has entry DAMAGED pointing past the segment, with a valid checksum. */
async function damagedLog(t: TestContext): Promise<{ dir: string; segmentBytes: number }> {
  const dir = tmpDir(t)
  const log = await Log.open(dir, OPTIONS)
  for (let b = 0; b < RECORDS / 100; b++) await log.appendBatch(Array.from({ length: 100 }, (_, j) => payload(b * 100 + j, SIZE)))
  await log.close()
  const indexFile = path.join(dir, fs.readdirSync(dir).find((n) => n.endsWith('.index')) as string)
  const segmentBytes = fs.statSync(indexFile.replace(/\.index$/, '.log')).size
  const buf = fs.readFileSync(indexFile)
  assert.equal(buf.readUInt32LE(12), RECORDS, 'an entry per record')
  assert.ok(SparseIndex.decode(buf, 0, segmentBytes), 'the index as written decodes')
  // The entry's record position, well past the segment's end: trusting it would read nothing there.
  buf.writeUInt32LE(segmentBytes + 1_000_000, INDEX_HEADER_BYTES + DAMAGED * 12 + 4)
  fs.writeFileSync(indexFile, sealEnvelope(buf))
  assert.equal(SparseIndex.decode(buf, 0, segmentBytes), undefined, 'an eager decode refuses the damaged index')
  assert.ok(SparseIndex.decode(buf, 0, segmentBytes, indexFile), 'a lazy decode takes it: the damaged block is not checked yet')
  return { dir, segmentBytes }
}

async function everyRecordIntact(log: Log, end: number): Promise<void> {
  assert.equal(log.nextOffset, end)
  let n = 0
  for await (const r of log.iterate()) {
    assert.equal(r.offset, n)
    assert.deepEqual(Buffer.from(r.data), payload(n, SIZE), `record ${n}`)
    n++
  }
  assert.equal(n, end)
}

test('a point read that meets the damaged block rebuilds the index; reads elsewhere do not, and open reads no segment bytes', async (t) => {
  const { dir, segmentBytes } = await damagedLog(t)
  const fsys = countingFs()
  await using log = await Log.open(dir, { ...OPTIONS, fileSystem: fsys })
  assert.ok(fsys.bytes < 4096, `open read ${fsys.bytes} bytes of the segment: it checked no index entry against it`)
  // A lookup in an undamaged block reads about one batch (100 records of 104 bytes, plus read-ahead).
  let before = fsys.bytes
  assert.deepEqual((await log.read(1500))?.data, payload(1500, SIZE))
  assert.ok(fsys.bytes - before < segmentBytes / 4, `read 1500 read ${fsys.bytes - before} bytes`)
  // The block holding entries 1024–1279: rebuilt from the batches (a scan of the segment), not trusted.
  before = fsys.bytes
  assert.deepEqual((await log.read(DAMAGED + 1))?.data, payload(DAMAGED + 1, SIZE))
  assert.ok(fsys.bytes - before >= segmentBytes, `read ${DAMAGED + 1} read ${fsys.bytes - before} bytes, the segment is ${segmentBytes}: the index was rebuilt`)
  for (const offset of [0, 1023, DAMAGED - 1, DAMAGED, 1279, 1280, RECORDS - 1]) {
    assert.deepEqual((await log.read(offset))?.data, payload(offset, SIZE), `record ${offset}`)
  }
  await everyRecordIntact(log, RECORDS)
})

test('a cursor that starts in the damaged block rebuilds the index and reads every record after it', async (t) => {
  const { dir, segmentBytes } = await damagedLog(t)
  const fsys = countingFs()
  await using log = await Log.open(dir, { ...OPTIONS, fileSystem: fsys })
  const before = fsys.bytes
  let n = DAMAGED + 1
  for await (const r of log.iterate({ from: DAMAGED + 1 })) {
    assert.equal(r.offset, n)
    assert.deepEqual(Buffer.from(r.data), payload(n, SIZE), `record ${n}`)
    n++
  }
  assert.equal(n, RECORDS)
  assert.ok(fsys.bytes - before >= segmentBytes, 'the index was rebuilt (a scan of the whole segment)')
})

test('truncate checks a lazily decoded index whole first and rebuilds it: records below the cut survive, also a reopen', async (t) => {
  const { dir } = await damagedLog(t)
  {
    await using log = await Log.open(dir, OPTIONS)
    await log.truncate(1500)
    await everyRecordIntact(log, 1500)
    await log.append(payload(1500, SIZE))
  }
  await using log = await Log.open(dir, OPTIONS)
  await everyRecordIntact(log, 1501)
  assert.deepEqual((await log.read(DAMAGED))?.data, payload(DAMAGED, SIZE))
})

test('appends after a lazy decode go on from the last entry; the index written at close decodes eagerly', async (t) => {
  const dir = tmpDir(t)
  {
    await using log = await Log.open(dir, OPTIONS)
    await log.appendBatch(Array.from({ length: RECORDS }, (_, i) => payload(i, SIZE)))
  }
  {
    await using log = await Log.open(dir, OPTIONS)
    await log.appendBatch(Array.from({ length: 500 }, (_, i) => payload(RECORDS + i, SIZE)))
    for (const offset of [0, 700, RECORDS - 1, RECORDS, RECORDS + 499]) assert.deepEqual((await log.read(offset))?.data, payload(offset, SIZE))
  }
  const indexFile = path.join(dir, fs.readdirSync(dir).find((n) => n.endsWith('.index')) as string)
  const segmentBytes = fs.statSync(indexFile.replace(/\.index$/, '.log')).size
  const index = SparseIndex.decode(fs.readFileSync(indexFile), 0, segmentBytes)
  assert.equal(index?.count, RECORDS + 500)
  await using log = await Log.open(dir, OPTIONS)
  await everyRecordIntact(log, RECORDS + 500)
})
