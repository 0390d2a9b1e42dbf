// The point-read cache's two kinds of entry (src/local/batch-cache.ts): record positions only,
// kept for every verified batch, and bytes, kept once a batch served PROMOTE_AFTER_HITS reads from
// its positions. Checks the lookup by offset against a model through every way entries go, and
// that bytes enter a full cache only when reads served from bytes paid for it.
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { test } from 'node:test'
import { Log } from '../../src/index.js'
import { BatchCache, ENTRY_OVERHEAD_BYTES, PROMOTE_AFTER_HITS, type CachedBatch } from '../../src/local/batch-cache.js'
import { SparseIndex } from '../../src/local/sparse-index.js'
import { VerifiedBatches } from '../../src/local/verified-batches.js'
import { countingFs } from '../helpers/counting-fs.js'
import { payload, tmpDir } from '../helpers/tmp.js'

const fill = (positions: Uint32Array): void => {
  for (let k = 0; k < positions.length; k++) positions[k] = 40 + 10 * k
}

test('cachedHolding finds exactly the kept batch holding an offset, through keeps, overlaps, evictions, cuts and resets (property)', () => {
  type Op = { kind: 'keep'; batch: number; records: number } | { kind: 'cut'; batch: number } | { kind: 'reset' }
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('keep' as const), batch: fc.integer({ min: 0, max: 30 }), records: fc.integer({ min: 1, max: 12 }) }),
    fc.record({ kind: fc.constant('cut' as const), batch: fc.integer({ min: 0, max: 30 }) }),
    fc.record({ kind: fc.constant('reset' as const) }),
  )
  fc.assert(fc.property(fc.integer({ min: 0, max: 4000 }), fc.array(op, { maxLength: 60 }), (budget, ops) => {
    const cache = new BatchCache(budget)
    const v = new VerifiedBatches()
    v.bind(new SparseIndex(0))
    // Batch b lies at file position 1000 b and starts at offset 10 b: later keeps may overlap earlier ones in offsets (a rewrite).
    for (const o of ops) {
      if (o.kind === 'keep') v.keep(cache, 1000 * o.batch, undefined, 40 + 10 * o.records, 10 * o.batch, 0, o.records, fill)
      else if (o.kind === 'cut') v.forgetFrom(1000 * o.batch)
      else v.reset()
      assert.ok(cache.used <= budget, `used ${cache.used} over the budget ${budget}`)
      assert.equal(cache.size, v.cachedCount())
      for (let offset = 0; offset < 330; offset++) {
        const found = v.cachedHolding(offset)
        const held: CachedBatch[] = []
        for (let b = 0; b <= 30; b++) {
          const e = v.cachedAt(1000 * b)
          if (e !== undefined && offset >= e.baseOffset && offset < e.baseOffset + e.positions.length) held.push(e)
        }
        assert.ok(held.length <= 1, `offset ${offset} is in ${held.length} kept batches`)
        assert.equal(found, held[0], `offset ${offset}`)
        if (found) assert.ok(found.slot >= 0, 'a found entry is in the cache')
      }
    }
  }), { numRuns: 150 })
})

test('bytes enter a full cache only after PROMOTE_AFTER_HITS reads were served from kept bytes; the batch that gives its bytes up keeps its positions; a refill that fails keeps nothing', () => {
  const length = 1800
  const records = 10
  const positionsCharge = 4 * records + ENTRY_OVERHEAD_BYTES
  // Room for twenty entries' positions and two entries' bytes (a batch may take a quarter of the budget).
  const cache = new BatchCache(20 * positionsCharge + 2 * length)
  const v = new VerifiedBatches()
  v.bind(new SparseIndex(0))
  for (let b = 0; b < 20; b++) v.keep(cache, 1000 * b, undefined, length, 10 * b, 0, records, fill)
  // Taken once (cachedAt counts as a read), then no entry marked read.
  const entries = Array.from({ length: 20 }, (_, b) => v.cachedAt(1000 * b) as CachedBatch)
  for (const e of entries) e.referenced = false
  const at = (b: number): CachedBatch => entries[b]
  const promote = (e: CachedBatch, ok = true): boolean => {
    let earned = false
    for (let k = 0; k < PROMOTE_AFTER_HITS && !earned; k++) earned = cache.earnedBytes(e)
    assert.ok(earned, 'earned after PROMOTE_AFTER_HITS reads from its positions')
    cache.keepBytes(e, (into) => {
      into.fill(e.baseOffset)
      return ok
    })
    return e.bytes !== undefined
  }
  assert.equal(promote(at(0), false), false, 'a refill that fails keeps nothing')
  assert.equal(cache.used, 20 * positionsCharge)
  assert.ok(promote(at(0)) && promote(at(1)), 'room: kept at once')
  assert.equal(cache.used, cache.budget)
  assert.equal(promote(at(2)), false, 'full, and no read served from bytes yet: refused')
  for (let k = 0; k < PROMOTE_AFTER_HITS; k++) assert.equal(v.cachedHolding(5)?.bytes?.[0], 0, 'a read served from batch 0\'s bytes')
  const freed = at(1).bytes
  assert.ok(promote(at(2)), 'paid for by reads from kept bytes')
  assert.equal(at(1).bytes, undefined, 'batch 1 (not read since) gave its bytes up; batch 0 (read) kept them')
  assert.ok(at(0).bytes !== undefined)
  assert.equal(at(2).bytes, freed, 'its memory is reused')
  assert.equal(at(2).bytes?.[0], 20)
  assert.equal(v.cachedHolding(15), at(1), 'batch 1 is still found by its positions')
  assert.equal(cache.size, 20)
  assert.equal(cache.used, cache.budget)
  v.reset()
  assert.equal(cache.used, 0)
})

test('reads of a segment\'s first records, once their batch was verified, make one exact read of the payload each', async (t) => {
  const dir = tmpDir(t)
  {
    await using log = await Log.open(dir, { sync: 'never' })
    await log.appendBatch(Array.from({ length: 1000 }, (_, j) => payload(j, 128)))
  }
  const fsys = countingFs()
  await using log = await Log.open(dir, { sync: 'never', fileSystem: fsys })
  assert.deepEqual((await log.read(500))?.data, payload(500, 128))
  for (const offset of [0, 1, 2, 3]) {
    const [reads, bytes] = [fsys.reads, fsys.bytes]
    assert.deepEqual(log.readSync(offset)?.data, payload(offset, 128))
    assert.equal(fsys.reads - reads, 1, `read of ${offset}`)
    assert.equal(fsys.bytes - bytes, 128, `read of ${offset}: its payload only`)
  }
})
