// The point-read cache (issue 13, W4; src/local/batch-cache.ts): verified batches' bytes kept under
// one byte budget per log so a warm read() makes no syscall. Its budget, its CLOCK eviction, and
// above all that cached bytes go exactly when the verification they came from does: truncate (in
// this process and, for a read-only handle, in the writer's), a rebuilt index, retention,
// deleteBefore, close. Bad values of the option are refused with every record still there.
import assert from 'node:assert/strict'
import fc from 'fast-check'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { isSeglogError, Log } from '../../src/index.js'
import { nodeFileSystem } from '../../src/io/file-system.js'
import { countingFs } from '../helpers/counting-fs.js'
import { BatchCache, ENTRY_OVERHEAD_BYTES, HITS_PER_ADMISSION, PROMOTE_AFTER_HITS, type CachedBatch, type CachedBatchOwner } from '../../src/local/batch-cache.js'
import type { LogCore } from '../../src/local/log-core.js'
import { PointReadBuffers, Segment } from '../../src/local/segment.js'
import { SparseIndex } from '../../src/local/sparse-index.js'
import { VerifiedBatches } from '../../src/local/verified-batches.js'
import { payload, tmpDir } from '../helpers/tmp.js'
import { scheduledFileSystem } from '../helpers/scheduled-fs.js'

/** The log's internals this suite checks: its segments and its cache. */
function coreOf(log: Log): LogCore {
  return (log as unknown as { core: LogCore }).core
}

/** Entries the cache holds must all belong to segments still in the log: none left behind by one that went. */
function assertNoOrphans(log: Log, what: string): void {
  const segs = coreOf(log).segs
  const owned = segs.segments.reduce((n, s) => n + s.verified.cachedCount(), 0)
  assert.equal(segs.readBuffers.cache.size, owned, `${what}: the cache holds ${segs.readBuffers.cache.size} batches, the log's segments ${owned}`)
}

const rec = (i: number, generation: number): Buffer => payload(i * 7 + generation * 1_000_003, 60 + ((i * 31 + generation * 17) % 150))

class Owner implements CachedBatchOwner {
  readonly evictions: CachedBatch[] = []
  evicted(entry: CachedBatch): void {
    this.evictions.push(entry)
  }
}

test('the cache never holds more than its budget, counts exactly what it holds, and tells owners what it evicts', () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 64 * 1024 }),
    fc.array(fc.oneof(
      fc.record({ op: fc.constant('insert' as const), bytes: fc.integer({ min: 0, max: 20_000 }), records: fc.integer({ min: 0, max: 100 }) }),
      fc.record({ op: fc.constant('hit' as const), k: fc.nat() }),
      fc.record({ op: fc.constant('remove' as const), k: fc.nat() }),
    ), { maxLength: 200 }),
    (budget, ops) => {
      const cache = new BatchCache(budget)
      const owner = new Owner()
      let live: CachedBatch[] = []
      let position = 0
      for (const o of ops) {
        if (o.op === 'insert') {
          const charge = o.bytes + 4 * o.records + ENTRY_OVERHEAD_BYTES
          const room = cache.used + charge <= budget
          const entry = cache.insert(owner, position, Buffer.alloc(o.bytes, 1), 0, 0, o.records, () => {})
          position += o.bytes + 1
          const fits = charge * 4 <= budget
          if (!fits) assert.equal(entry, undefined, 'a batch above a quarter of the budget is never kept')
          if (fits && room) assert.ok(entry, 'a batch that fits in the free budget is kept')
          if (entry) assert.equal(entry.charge, charge)
          live = live.filter((e) => !owner.evictions.includes(e))
          if (entry) live.push(entry)
        } else if (live.length > 0) {
          const entry = live[o.k % live.length]
          if (o.op === 'hit') cache.hit(entry)
          else {
            cache.remove(entry)
            live = live.filter((e) => e !== entry)
          }
        }
        assert.ok(cache.used <= budget, `used ${cache.used} of ${budget}`)
        assert.equal(cache.used, live.reduce((n, e) => n + e.charge, 0))
        assert.equal(cache.size, live.length)
      }
      cache.clear()
      assert.equal(cache.used, 0)
      assert.equal(cache.size, 0)
    }), { numRuns: 300 })
})

test('a full cache takes a batch in only after serving hits; eviction is CLOCK: an entry hit since the hand last passed survives, an unreferenced one goes', () => {
  const each = 1000 + ENTRY_OVERHEAD_BYTES
  const cache = new BatchCache(4 * each)
  const owner = new Owner()
  const batches = [0, 1, 2, 3].map((k) => cache.insert(owner, k * 1000, Buffer.alloc(1000), k, 0, 0, () => {}) as CachedBatch)
  cache.hit(batches[0])
  assert.equal(cache.insert(owner, 4000, Buffer.alloc(1000), 4, 0, 0, () => {}), undefined,
    `full, and fewer than ${HITS_PER_ADMISSION} hits since the last admission: not taken in, nothing evicted`)
  assert.equal(owner.evictions.length, 0)
  for (let k = 1; k < 3 * HITS_PER_ADMISSION; k++) cache.hit(batches[0])
  assert.ok(cache.insert(owner, 4000, Buffer.alloc(1000), 4, 0, 0, () => {}), 'hits earned an admission')
  assert.deepEqual(owner.evictions.map((e) => e.position), [1000], 'the first unreferenced entry goes, the referenced one before it stays')
  assert.equal(batches[0].referenced, false, 'passing it cleared its flag')
  assert.equal(cache.size, 4)
  // Always a copy (the caller reuses its buffer), into the memory of an evicted batch of the same size when there is one.
  const source = Buffer.alloc(1000, 7)
  const evictedNext = batches[2].bytes
  const copied = cache.insert(owner, 9000, source, 9, 0, 0, () => {}) as CachedBatch
  assert.notEqual(copied.bytes, source)
  assert.equal(copied.bytes, evictedNext, 'the evicted batch\'s buffer is reused')
  assert.deepEqual(copied.bytes, source)
  source.fill(9)
  assert.equal(copied.bytes[0], 7, 'the caller changing its buffer does not change the cached copy')
  const odd = cache.insert(owner, 10_000, Buffer.alloc(900, 3), 10, 0, 0, () => {}) as CachedBatch
  assert.equal(odd.bytes?.buffer.byteLength, 900, 'another size gets memory of its own, not a slice of a larger buffer')
  assert.equal(new BatchCache(0).insert(owner, 0, Buffer.alloc(1), 0, 0, 1, () => {}), undefined, 'a zero budget keeps nothing')
})

test('verified slots drop their cached batches whenever they forget: past a cut, on reset, when bound to another index', () => {
  const cache = new BatchCache(1 << 20)
  const v = new VerifiedBatches()
  const w = new VerifiedBatches()
  v.bind(new SparseIndex(0))
  for (const [pos, end] of [[0, 1000], [1000, 3000], [3000, 3500]]) {
    v.mark(0, 0, end, pos, 0)
    v.keep(cache, pos, Buffer.alloc(end - pos), end - pos, pos, 0, 1, () => {})
  }
  w.keep(cache, 0, Buffer.alloc(500), 500, 0, 0, 1, () => {})
  assert.equal(cache.size, 4)
  assert.ok(v.cachedAt(1000))
  v.forgetFrom(2000)
  assert.equal(v.cachedCount(), 1, 'batches reaching past the cut are gone, the one before it stays')
  assert.equal(v.cachedAt(1000), undefined)
  assert.equal(v.cachedAt(3000), undefined)
  assert.ok(v.cachedAt(0))
  assert.equal(cache.size, 2)
  v.keep(cache, 0, Buffer.alloc(1000), 1000, 0, 0, 1, () => {})
  assert.equal(cache.size, 2, 'keeping a batch again replaces its entry')
  v.bind(new SparseIndex(0))
  assert.equal(v.cachedCount(), 0, 'another index: nothing cached')
  assert.equal(cache.size, 1, 'only the other segment\'s batch is left')
  w.reset()
  assert.equal(cache.size, 0)
  assert.equal(cache.used, 0)
})

test('a warm read makes one read of exactly its record; once its batch served PROMOTE_AFTER_HITS of those, none; without the cache, or for a batch bigger than a quarter of the budget, it keeps reading', async (t) => {
  const dir = tmpDir(t)
  {
    await using log = await Log.open(dir, { sync: 'never' })
    for (let b = 0; b < 3; b++) await log.appendBatch(Array.from({ length: 1000 }, (_, j) => payload(b * 1000 + j, 128)))
    await log.appendBatch(Array.from({ length: 4000 }, (_, j) => payload(3000 + j, 128)))
  }
  const batchBytes = 40 + 1000 * 132
  for (const budget of [undefined, 0, 4 * (batchBytes + 4000 + ENTRY_OVERHEAD_BYTES)]) {
    const fsys = countingFs()
    await using log = await Log.open(dir, { sync: 'never', fileSystem: fsys, readCacheBytes: budget })
    for (const offset of [1500, 17, 2999]) {
      const before = fsys.reads
      assert.deepEqual((await log.read(offset))?.data, payload(offset, 128))
      assert.ok(fsys.reads - before <= 2, `cold read of ${offset}: ${fsys.reads - before} reads`)
      const batch = Math.floor(offset / 1000) * 1000
      // Reads of the batch until it has served PROMOTE_AFTER_HITS from its positions: one exact read each.
      for (let k = 1; k < PROMOTE_AFTER_HITS; k++) {
        const near = batch + (offset + k * 37) % 1000
        const [reads, bytes] = [fsys.reads, fsys.bytes]
        assert.deepEqual((await log.read(near))?.data, payload(near, 128), `warm read of ${near}`)
        assert.equal(fsys.reads - reads, 1, `warm read ${k} of ${near}, budget ${budget}`)
        if (budget !== 0) assert.equal(fsys.bytes - bytes, 128, `warm read ${k} of ${near} reads its payload only, budget ${budget}`)
      }
      // The read that reaches the count reads the batch once into the cache; later ones read nothing.
      const reads = fsys.reads
      assert.deepEqual((await log.read(batch + 500))?.data, payload(batch + 500, 128))
      assert.equal(fsys.reads - reads, budget === 0 ? 1 : 2, `the read that keeps the bytes, budget ${budget}`)
      for (const near of [batch + 100, batch + 998, batch + 999, offset]) {
        const before = fsys.reads
        assert.deepEqual((await log.read(near))?.data, payload(near, 128), `hot read of ${near}`)
        assert.equal(fsys.reads - before, budget === 0 ? 1 : 0, `hot read of ${near}, budget ${budget}`)
      }
    }
    await log.read(5000)
    for (let k = 0; k < PROMOTE_AFTER_HITS; k++) await log.read(5001)
    const reads = fsys.reads
    assert.deepEqual((await log.read(5001))?.data, payload(5001, 128))
    // 528 KB: kept under the default 8 MiB, above a quarter of the small budget (which keeps its positions only).
    assert.equal(fsys.reads - reads, budget === undefined ? 0 : 1, `the 4,000-record batch, budget ${budget}`)
    assert.ok(coreOf(log).segs.readBuffers.cache.used <= (budget ?? 8 << 20))
  }
})

test('reads walk cached batches an index entry does not name (one record per batch) and return the right records', async (t) => {
  const dir = tmpDir(t)
  const fsys = countingFs()
  await using log = await Log.open(dir, { sync: 'never', indexIntervalBytes: 4096, fileSystem: fsys })
  for (let i = 0; i < 300; i++) await log.appendBatch([rec(i, 0)])
  await log.sync()
  for (let pass = 0; pass < 2; pass++) {
    for (const offset of [0, 1, 29, 30, 31, 150, 298, 299, 150, 31]) assert.deepEqual((await log.read(offset))?.data, rec(offset, 0), `pass ${pass}, offset ${offset}`)
  }
  const reads = fsys.reads
  const offsets = [0, 1, 29, 30, 31, 150, 298, 299]
  for (const offset of offsets) assert.deepEqual((await log.read(offset))?.data, rec(offset, 0))
  assert.equal(fsys.reads - reads, offsets.length, 'every batch walked over is known: one exact read per record, none to walk')
})

test('after a truncate, cached batches of the cut are gone and reads return the new records at the reused offsets', async (t) => {
  const dir = tmpDir(t)
  await using log = await Log.open(dir, { sync: 'never', segmentBytes: 8 * 1024 })
  for (let b = 0; b < 20; b++) await log.appendBatch(Array.from({ length: 10 }, (_, j) => rec(b * 10 + j, 0)))
  for (let o = 0; o < 200; o++) assert.deepEqual((await log.read(o))?.data, rec(o, 0))
  assert.ok(coreOf(log).segs.segments.length > 2, 'several segments, each with cached batches')
  assert.ok(coreOf(log).segs.readBuffers.cache.size > 10)
  // Inside a batch of a middle segment: later segments go, the batch is rewritten shorter.
  await log.truncate(75)
  assertNoOrphans(log, 'after truncate')
  for (let o = 75; o < 200; o++) await log.append(rec(o, 1))
  for (let o = 0; o < 200; o++) assert.deepEqual((await log.read(o))?.data, rec(o, o < 75 ? 0 : 1), `offset ${o}`)
  assertNoOrphans(log, 'after reading again')
})

test('retention and deleteBefore drop the cached batches of the segments they delete; close drops everything', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'never', segmentBytes: 4096, retention: { maxBytes: 16 * 1024 } })
  let next = 0
  const fill = async (n: number): Promise<void> => {
    for (let k = 0; k < n; k++, next++) await log.append(rec(next, 0))
    await log.sync()
  }
  await fill(100)
  const cache = coreOf(log).segs.readBuffers.cache
  for (let o = log.firstOffset; o < next; o++) assert.deepEqual((await log.read(o))?.data, rec(o, 0))
  const first = log.firstOffset
  assert.ok(cache.size > 0)
  await fill(400)
  // Retention runs on its own turn after a roll.
  for (let k = 0; k < 50 && log.firstOffset === first; k++) await new Promise((resolve) => setImmediate(resolve))
  assert.ok(log.firstOffset > first, 'retention deleted segments')
  assertNoOrphans(log, 'after retention')
  for (let o = log.firstOffset; o < next; o++) assert.deepEqual((await log.read(o))?.data, rec(o, 0))
  const before = log.firstOffset
  await log.deleteBefore(next - 50)
  assert.ok(log.firstOffset > before)
  assertNoOrphans(log, 'after deleteBefore')
  assert.ok(cache.size > 0, 'the segments kept keep their cached batches')
  await log.close()
  assert.equal(cache.size, 0)
  assert.equal(cache.used, 0)
  await using again = await Log.open(dir, { sync: 'never' })
  for (let o = again.firstOffset; o < next; o++) assert.deepEqual((await again.read(o))?.data, rec(o, 0))
})

test('a rebuilt index drops the segment\'s cached batches with its verified slots', async (t) => {
  const dir = tmpDir(t)
  {
    await using log = await Log.open(dir, { sync: 'never' })
    for (let b = 0; b < 3; b++) await log.appendBatch(Array.from({ length: 300 }, (_, j) => payload(b * 300 + j, 128)))
  }
  const file = path.join(dir, '00000000000000000000.log')
  const tag = fs.readFileSync(file).readUInt32LE(36)
  const segment = new Segment(dir, 0, fs.statSync(file).size, tag)
  const buffers = new PointReadBuffers(tag, 1 << 20)
  t.after(() => segment.closeHandle())
  const index = segment.ensureIndex(nodeFileSystem, 2048, undefined, false)
  for (const o of [10, 450, 899]) assert.deepEqual(segment.read(nodeFileSystem, o, index, 2560, buffers).data, payload(o, 128))
  assert.equal(buffers.cache.size, 3)
  const rebuilt = segment.rebuildIndex(nodeFileSystem, 2048, undefined, false)
  assert.equal(buffers.cache.size, 0, 'a rebuilt index starts with nothing verified, nothing cached')
  assert.deepEqual(segment.read(nodeFileSystem, 450, rebuilt, 2560, buffers).data, payload(450, 128))
  assert.equal(buffers.cache.size, 1)
  segment.unload()
  assert.equal(buffers.cache.size, 0)
})

test('readCacheBytes: a wrong type, a negative or a fractional value is ERR_INVALID_ARGUMENT naming the option, and every record is still there', async (t) => {
  const dir = tmpDir(t)
  {
    await using log = await Log.open(dir, { sync: 'always' })
    for (let i = 0; i < 50; i++) await log.append(rec(i, 0))
  }
  for (const bad of ['8388608', -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, null, true, {}]) {
    await assert.rejects(Log.open(dir, { readCacheBytes: bad as unknown as number }),
      (err) => isSeglogError(err, 'ERR_INVALID_ARGUMENT') && err.details.option === 'readCacheBytes' && /readCacheBytes/.test(err.message),
      `readCacheBytes: ${String(bad)}`)
    await assert.rejects(Log.open(dir, { readOnly: true, readCacheBytes: bad as unknown as number }), (err) => isSeglogError(err, 'ERR_INVALID_ARGUMENT'))
  }
  for (const good of [0, 1, 8 << 20]) {
    await using log = await Log.open(dir, { readCacheBytes: good })
    assert.equal(log.nextOffset, 50)
    for (let i = 0; i < 50; i++) assert.deepEqual((await log.read(i))?.data, rec(i, 0), `budget ${good}, offset ${i}`)
  }
})

const SCHEDULER_SEED = 20261213
/** Seeds and paths that once failed, replayed forever (none yet). */
const SCHEDULER_REGRESSIONS: { seed: number; path: string }[] = []

function readerRace(base: string): fc.IAsyncPropertyWithHooks<[fc.Scheduler, number, number[]]> {
  let run = 0
  return fc.asyncProperty(fc.scheduler(), fc.integer({ min: 1, max: 199 }), fc.array(fc.integer({ min: 0, max: 219 }), { minLength: 1, maxLength: 12 }),
    async (s, cut, offsets) => {
      const dir = path.join(base, String(run++))
      fs.mkdirSync(dir, { recursive: true })
      {
        await using seed = await Log.open(dir, { sync: 'never', segmentBytes: 8 * 1024 })
        for (let b = 0; b < 20; b++) await seed.appendBatch(Array.from({ length: 10 }, (_, j) => rec(b * 10 + j, 0)))
      }
      const writer = await s.waitFor(Log.open(dir, { sync: 'never', segmentBytes: 8 * 1024, fileSystem: scheduledFileSystem((label) => s.schedule(Promise.resolve(), label)) }))
      const reader = await Log.open(dir, { readOnly: true, followPollMs: 1 })
      try {
        // Every batch of the old content verified and cached by the reader before the race.
        for (let o = 0; o < 200; o++) assert.deepEqual((await reader.read(o))?.data, rec(o, 0))
        assert.ok(coreOf(reader).segs.readBuffers.cache.size >= 20)
        let rewritten = false
        const rewrite = (async () => {
          await s.schedule(Promise.resolve(), 'truncate')
          await writer.truncate(cut)
          await writer.appendBatch(Array.from({ length: 220 - cut }, (_, j) => rec(cut + j, 1)))
          await writer.sync()
          rewritten = true
        })()
        const reads = offsets.map(async (o) => {
          await s.schedule(Promise.resolve(), `read ${o}`)
          const after = rewritten
          const got = await reader.read(o)
          const old = o < 200 ? rec(o, 0) : undefined
          const fresh = rec(o, o < cut ? 0 : 1)
          if (after || o < cut) assert.deepEqual(got?.data, fresh, `read(${o}) begun ${after ? 'after the rewrite' : 'below the cut'}, cut at ${cut}`)
          else assert.ok(got === undefined || got.data.equals(fresh) || (old !== undefined && got.data.equals(old)), `read(${o}) during the rewrite returned bytes never at that offset`)
        })
        await s.waitFor(Promise.all([rewrite, ...reads]))
        for (let o = 0; o < 220; o++) assert.deepEqual((await reader.read(o))?.data, rec(o, o < cut ? 0 : 1), `read(${o}) after the race, cut at ${cut}`)
        assertNoOrphans(reader, 'reader after the race')
        assertNoOrphans(writer, 'writer after the race')
      } finally {
        await reader.close()
        await s.waitFor(writer.close())
      }
    })
}

test(`a read-only handle with cached batches, reading while the writer truncates and writes other bytes at the same offsets, never returns the old bytes once the rewrite is done (seed ${SCHEDULER_SEED})`, async (t) => {
  const base = tmpDir(t)
  await fc.assert(readerRace(base), { seed: SCHEDULER_SEED, numRuns: 25, endOnFailure: true })
  for (const r of SCHEDULER_REGRESSIONS) await fc.assert(readerRace(base), { seed: r.seed, path: r.path, numRuns: 1, endOnFailure: true })
})

test('a sealed segment evicted from the loaded set takes its cached batches with it', async (t) => {
  const dir = tmpDir(t)
  await using log = await Log.open(dir, { sync: 'never', segmentBytes: 1024 })
  for (let i = 0; i < 200; i++) await log.append(rec(i, 0))
  await log.sync()
  const segs = coreOf(log).segs
  assert.ok(segs.segments.length > 20, `${segs.segments.length} segments, more than the 16 kept loaded`)
  for (let o = 0; o < 200; o++) assert.deepEqual((await log.read(o))?.data, rec(o, 0))
  assertNoOrphans(log, 'after reading every segment')
  const unloaded = segs.segments.filter((s) => s !== segs.active && !segs.loadedSealed().includes(s))
  assert.ok(unloaded.length > 0)
  for (const s of unloaded) assert.equal(s.verified.cachedCount(), 0, `segment ${s.base} was unloaded`)
  const owned = segs.segments.reduce((n, s) => n + s.verified.cachedCount(), 0)
  assert.equal(segs.readBuffers.cache.size, owned)
})
