// Point reads through the FileSystem seam (issue 13, W4): how many reads a cold and a warm
// read() cost, that they return the right bytes, and that what point reads remember of verified
// batches (one slot per index entry, src/local/verified-batches.ts) is forgotten when the bytes
// under it change: truncate, a rebuilt index, a new segment.
import assert from 'node:assert/strict'
import fc from 'fast-check'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { isSeglogError, Log } from '../../src/index.js'
import { nodeFileSystem } from '../../src/io/file-system.js'
import { countingFs } from '../helpers/counting-fs.js'
import { PointReadBuffers, Segment } from '../../src/local/segment.js'
import { SparseIndex } from '../../src/local/sparse-index.js'
import { VerifiedBatches } from '../../src/local/verified-batches.js'
import { payload, tmpDir } from '../helpers/tmp.js'

async function bulkLog(dir: string, batches: number, perBatch: number): Promise<void> {
  const log = await Log.open(dir, { sync: 'never' })
  for (let b = 0; b < batches; b++) await log.appendBatch(Array.from({ length: perBatch }, (_, j) => payload(b * perBatch + j, 128)))
  await log.close()
}

test('without the read cache, a cold read of a record in a 1,000-record batch costs at most 2 reads and does not read the batch twice; a warm one costs 1', async (t) => {
  const dir = tmpDir(t)
  await bulkLog(dir, 3, 1000)
  const fsys = countingFs()
  await using log = await Log.open(dir, { sync: 'never', fileSystem: fsys, readCacheBytes: 0 })
  const batchBytes = 40 + 1000 * (4 + 128)
  for (const offset of [1500, 17, 2999]) {
    const before = { reads: fsys.reads, bytes: fsys.bytes }
    const cold = await log.read(offset)
    assert.deepEqual(cold?.data, payload(offset, 128), `cold read of ${offset}`)
    assert.ok(fsys.reads - before.reads >= 1 && fsys.reads - before.reads <= 2, `cold read of ${offset}: ${fsys.reads - before.reads} reads`)
    assert.ok(fsys.bytes - before.bytes <= batchBytes + 4096, `cold read of ${offset}: ${fsys.bytes - before.bytes} bytes, the batch is ${batchBytes}`)
    for (const near of [offset - 1, offset - 7].filter((o) => Math.floor(o / 1000) === Math.floor(offset / 1000))) {
      const reads = fsys.reads
      assert.deepEqual((await log.read(near))?.data, payload(near, 128), `warm read of ${near}`)
      assert.equal(fsys.reads - reads, 1, `warm read of ${near}`)
    }
  }
})

test('reads walk across small batches an index entry does not name, verifying each, and stay right', async (t) => {
  const dir = tmpDir(t)
  await using log = await Log.open(dir, { sync: 'never', indexIntervalBytes: 4096 })
  // One record per batch: most batches have no index entry, so a read walks over several.
  for (let i = 0; i < 300; i++) await log.appendBatch([payload(i, 40 + (i % 90))])
  await log.sync()
  for (const offset of [0, 1, 29, 30, 31, 150, 298, 299, 150, 31]) {
    const r = await log.read(offset)
    assert.equal(r?.offset, offset)
    assert.deepEqual(r?.data, payload(offset, 40 + (offset % 90)))
  }
})

test('a damaged batch past an index entry is ERR_CORRUPT on the first read and on every later one, and the records before it still read', async (t) => {
  const dir = tmpDir(t)
  await bulkLog(dir, 3, 200)
  const fsys = countingFs()
  await using log = await Log.open(dir, { sync: 'never', fileSystem: fsys })
  // Warm the first two batches, then damage a payload byte in the third on disk.
  assert.deepEqual((await log.read(100))?.data, payload(100, 128))
  assert.deepEqual((await log.read(300))?.data, payload(300, 128))
  const batchBytes = 40 + 200 * 132
  const h = nodeFileSystem.open(path.join(dir, '00000000000000000000.log'), 'write')
  const one = Buffer.alloc(1)
  h.read(one, 0, 1, 2 * batchBytes + 40 + 4 + 10)
  one[0] ^= 0xff
  h.write(one, 0, 1, 2 * batchBytes + 40 + 4 + 10)
  h.close()
  for (let k = 0; k < 2; k++) await assert.rejects(log.read(450), (err) => isSeglogError(err, 'ERR_CORRUPT'))
  for (const offset of [0, 100, 199, 200, 399]) assert.deepEqual((await log.read(offset))?.data, payload(offset, 128), `offset ${offset}`)
})

test('after a truncate, reads see the new records at the reused offsets, not what was verified before', async (t) => {
  const dir = tmpDir(t)
  await using log = await Log.open(dir, { sync: 'never' })
  await log.appendBatch(Array.from({ length: 500 }, (_, j) => payload(j, 128)))
  await log.appendBatch(Array.from({ length: 500 }, (_, j) => payload(500 + j, 128)))
  for (const o of [10, 250, 499, 600, 999]) assert.deepEqual((await log.read(o))?.data, payload(o, 128))
  await log.truncate(250)
  // Shorter records now, so a walk trusting the old batch's end or lengths would go wrong.
  await log.appendBatch(Array.from({ length: 300 }, (_, j) => payload(10_000 + j, 60)))
  for (const o of [10, 249]) assert.deepEqual((await log.read(o))?.data, payload(o, 128), `kept offset ${o}`)
  for (const o of [250, 251, 400, 549]) assert.deepEqual((await log.read(o))?.data, payload(10_000 + o - 250, 60), `new offset ${o}`)
  assert.equal(await log.read(550), undefined)
})

test('verified slots: set, read back, forgotten past a truncate position, and cleared when bound to another index', () => {
  const v = new VerifiedBatches()
  const a = new SparseIndex(1000)
  v.bind(a)
  assert.equal(v.endAt(0), 0, 'nothing verified yet')
  assert.equal(v.endAt(500), 0, 'a slot past the capacity reads as not verified')
  v.set(0, 5000, 1000, 111)
  v.set(1, 5000, 1000, 111)
  v.set(2, 9000, 1040, 222)
  v.set(130, 200_000, 4000, 333)
  assert.deepEqual([v.endAt(2), v.baseAt(2), v.timestampAt(2)], [9000, 1040, 222])
  assert.deepEqual([v.endAt(130), v.baseAt(130), v.timestampAt(130)], [200_000, 4000, 333], 'slots grow')
  assert.equal(v.verifiedCount(), 4)
  v.forgetFrom(5000)
  assert.deepEqual([v.endAt(0), v.endAt(1), v.endAt(2), v.endAt(130)], [5000, 5000, 0, 0], 'batches reaching past the cut are forgotten, those before it kept')
  v.bind(a)
  assert.equal(v.verifiedCount(), 2, 'binding the same index keeps the slots')
  v.bind(new SparseIndex(1000))
  assert.equal(v.verifiedCount(), 0, 'another index (rebuilt or reloaded) starts with none')
  v.set(0, 100, 1000, 1)
  v.reset()
  assert.equal(v.verifiedCount(), 0)
})

test('a segment forgets its verified batches when its index is rebuilt or it is unloaded', async (t) => {
  const dir = tmpDir(t)
  await bulkLog(dir, 2, 300)
  const file = path.join(dir, '00000000000000000000.log')
  // The log's tag, as its first batch carries it (bytes 36-39).
  const tag = fs.readFileSync(file).readUInt32LE(36)
  const segment = new Segment(dir, 0, 2 * (40 + 300 * 132), tag)
  const buffers = new PointReadBuffers(tag)
  const index = segment.ensureIndex(nodeFileSystem, 2048, undefined, false)
  t.after(() => segment.closeHandle())
  assert.deepEqual(segment.read(nodeFileSystem, 450, index, 2560, buffers).data, payload(450, 128))
  assert.ok(segment.verified.verifiedCount() > 0, 'the batch read is remembered')
  assert.ok(segment.verified.boundTo(index))
  const rebuilt = segment.rebuildIndex(nodeFileSystem, 2048, undefined, false)
  assert.equal(segment.verified.verifiedCount(), 0, 'a rebuilt index starts with nothing verified')
  assert.deepEqual(segment.read(nodeFileSystem, 10, rebuilt, 2560, buffers).data, payload(10, 128))
  assert.ok(segment.verified.verifiedCount() > 0)
  segment.unload()
  assert.equal(segment.verified.verifiedCount(), 0, 'unload drops the slots with the index')
})

test('reads alternating between segments (one set of read buffers per log) each return their own record, cold and warm', async (t) => {
  const dir = tmpDir(t)
  await using log = await Log.open(dir, { sync: 'never', segmentBytes: 16 * 1024, indexIntervalBytes: 512 })
  const size = (i: number): number => 50 + ((i * 53) % 300)
  for (let b = 0; b < 40; b++) await log.appendBatch(Array.from({ length: 1 + (b % 9) * 5 }, (_, j) => payload(b * 1000 + j, size(b * 1000 + j))))
  await log.sync()
  const want: Buffer[] = []
  for (let b = 0; b < 40; b++) for (let j = 0; j < 1 + (b % 9) * 5; j++) want.push(payload(b * 1000 + j, size(b * 1000 + j)))
  assert.ok(log.nextOffset === want.length)
  // Far apart offsets in turn, twice (cold then warm), so each read follows one in another segment.
  for (let pass = 0; pass < 2; pass++) {
    for (let k = 0; k < want.length; k++) {
      const offset = k % 2 === 0 ? k >> 1 : want.length - 1 - (k >> 1)
      assert.deepEqual((await log.read(offset))?.data, want[offset], `pass ${pass}, offset ${offset}`)
    }
  }
})

test('SparseIndex.floor (interpolation, then binary search) finds the last entry at or before any offset, for any spacing of entries', () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 2 ** 40 }),
    fc.array(fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 100_000 })), { minLength: 0, maxLength: 300 }),
    fc.array(fc.integer({ min: -5, max: 40_000_000 }), { minLength: 1, maxLength: 40 }),
    (base, gaps, probes) => {
      const index = new SparseIndex(base)
      const offsets: number[] = []
      let offset = base
      for (let k = 0; k < gaps.length; k++) {
        offset += k === 0 ? gaps[k] - 1 : gaps[k]
        offsets.push(offset)
        index.add(offset, 40 + k * 64, 0)
      }
      for (const probe of [...probes.map((p) => base + p), ...offsets, ...offsets.map((o) => o - 1), ...offsets.map((o) => o + 1)]) {
        if (probe < base) continue
        let want = -1
        for (let k = 0; k < offsets.length; k++) if (offsets[k] <= probe) want = k
        assert.equal(index.floor(probe), want, `floor(${probe})`)
      }
    }), { numRuns: 300 })
})
