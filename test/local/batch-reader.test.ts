// The one batch reader (src/local/batch-reader.ts) alone: classification per docs/FORMAT.md's
// rules, the buffer policy (blocks, a batch cut by a block's end, a batch larger than a block,
// short reads, bounded lengths, fresh blocks whose views stay valid), findBatchHolding for
// truncate, and a property: on random batch sequences with random damage, the reader's
// classification matches a small reference model written from the format document.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { isSeglogError } from '../../src/index.js'
import { BATCH_HEADER_BYTES, BatchStatus, crc32c, encodeBatch, MAX_BATCH_BYTES } from '../../src/format/index.js'
import { BatchRead, BatchReader, type ByteSource, findBatchHolding } from '../../src/local/batch-reader.js'
import { SparseIndex } from '../../src/local/sparse-index.js'
import { InvariantError } from '../../src/invariant.js'

const TAG = 0x5eed1234

/** A segment image of `sizes.length` batches, each with `sizes[i]` records, offsets from `base`. */
function segment(sizes: readonly number[], base = 100, recordBytes = 7, tag = TAG): { buf: Buffer; starts: number[]; bases: number[] } {
  const parts: Buffer[] = []
  const starts: number[] = []
  const bases: number[] = []
  let at = 0
  let offset = base
  for (const n of sizes) {
    const records = Array.from({ length: n }, (_, i) => Buffer.alloc(recordBytes + ((offset + i) % 5), (offset + i) & 0xff))
    const b = encodeBatch(records, offset, 1_700_000_000_000 + offset, tag)
    starts.push(at)
    bases.push(offset)
    parts.push(b)
    at += b.length
    offset += n
  }
  return { buf: Buffer.concat(parts), starts, bases }
}

/** A byte source over a buffer that records every read and can be told to come back short. */
function source(buf: Buffer): ByteSource & { reads: { position: number; length: number }[]; shortBy: number; data: Buffer } {
  const s = {
    data: buf,
    reads: [] as { position: number; length: number }[],
    shortBy: 0,
    read(target: Uint8Array, offset: number, length: number, position: number): number {
      s.reads.push({ position, length })
      const n = Math.max(0, Math.min(length, s.data.length - position) - s.shortBy)
      if (n > 0) s.data.copy(target, offset, position, position + n)
      return n
    },
  }
  return s
}

/** Re-seals the batch at `pos` after an edit of its header (so only the edited rule fails). */
function reseal(buf: Buffer, pos: number): void {
  const length = buf.readUInt32LE(pos + 12)
  buf.writeUInt32LE(crc32c(buf.subarray(pos + 8, pos + length)), pos + 4)
}

function walk(reader: BatchReader, limit: number): BatchRead[] {
  const out: BatchRead[] = []
  for (;;) {
    const r = reader.next(limit)
    out.push(r)
    if (r !== BatchRead.Valid) return out
  }
}

const V = BatchRead.Valid

test('valid batches: each verified, in order, bytes and header exact, then End', () => {
  const { buf, starts, bases } = segment([1, 3, 2, 5])
  const reader = new BatchReader(source(buf), { tag: TAG })
  reader.seek(0, 100)
  for (let i = 0; i < starts.length; i++) {
    assert.equal(reader.next(buf.length), V)
    assert.equal(reader.position, starts[i])
    assert.equal(reader.header.baseOffset, bases[i])
    const end = i + 1 < starts.length ? starts[i + 1] : buf.length
    assert.deepEqual(reader.bytes.subarray(reader.at, reader.at + reader.header.length), buf.subarray(starts[i], end))
  }
  assert.equal(reader.next(buf.length), BatchRead.End)
  assert.equal(reader.expectedBase, 111)
})

test('torn tail: a batch cut anywhere (header or body) is Incomplete; the batches before it stay valid', () => {
  const { buf, starts } = segment([2, 2, 2])
  for (const cut of [starts[2] + 1, starts[2] + 20, starts[2] + BATCH_HEADER_BYTES, buf.length - 1]) {
    const torn = buf.subarray(0, cut)
    for (const blockBytes of [BATCH_HEADER_BYTES, 64, 1 << 20]) {
      const reader = new BatchReader(source(torn), { tag: TAG, blockBytes })
      reader.seek(0, 100)
      assert.deepEqual(walk(reader, torn.length), [V, V, BatchRead.Incomplete], `cut ${cut}, block ${blockBytes}`)
      assert.equal(reader.position, starts[2])
    }
  }
  // A limit below the file's size counts the same way: bytes past it are not the reader's.
  const reader = new BatchReader(source(buf), { tag: TAG })
  reader.seek(0, 100)
  assert.deepEqual(walk(reader, starts[2] + 50), [V, V, BatchRead.Incomplete])
})

test('corrupt middle: a flipped payload byte is Damaged (checksum), a flipped magic is Damaged (no magic)', () => {
  const { buf, starts } = segment([2, 2, 2])
  const flipped = Buffer.from(buf)
  flipped[starts[1] + 45] ^= 0x10
  let reader = new BatchReader(source(flipped), { tag: TAG })
  reader.seek(0, 100)
  assert.deepEqual(walk(reader, flipped.length), [V, BatchRead.Damaged])
  assert.equal(reader.status, BatchStatus.BadChecksum)
  assert.equal(reader.position, starts[1])
  const magic = Buffer.from(buf)
  magic[starts[1]] ^= 0x01
  reader = new BatchReader(source(magic), { tag: TAG })
  reader.seek(0, 100)
  assert.deepEqual(walk(reader, magic.length), [V, BatchRead.Damaged])
  assert.equal(reader.status, BatchStatus.BadMagic)
})

test('forged lengths: below the header, above the 1 GiB cap, or past the data: never read or allocated beyond the limit', () => {
  const { buf, starts } = segment([2, 2, 2])
  for (const [length, want] of [[0, BatchRead.Damaged], [39, BatchRead.Damaged], [MAX_BATCH_BYTES + 1, BatchRead.Damaged], [0xffffffff, BatchRead.Damaged],
    [MAX_BATCH_BYTES, BatchRead.Incomplete], [buf.length, BatchRead.Incomplete]] as const) {
    const forged = Buffer.from(buf)
    forged.writeUInt32LE(length, starts[1] + 12)
    for (const blockBytes of [BATCH_HEADER_BYTES, 100, 1 << 20]) {
      const src = source(forged)
      const reader = new BatchReader(src, { tag: TAG, blockBytes })
      reader.seek(0, 100)
      assert.deepEqual(walk(reader, forged.length), [V, want], `length ${length}, block ${blockBytes}`)
      for (const r of src.reads) assert.ok(r.position + r.length <= forged.length, `read [${r.position}, +${r.length}) past the limit ${forged.length}`)
    }
  }
})

test('a buffer boundary inside a batch: the batch is read again from its start, whole, for every block size', () => {
  const { buf, starts, bases } = segment([3, 1, 4, 1, 5, 9, 2, 6], 0, 20)
  for (let blockBytes = BATCH_HEADER_BYTES; blockBytes <= buf.length + 1; blockBytes += 17) {
    for (const freshBlocks of [false, true]) {
      const reader = new BatchReader(source(buf), { tag: TAG, blockBytes, freshBlocks })
      reader.seek(0, 0)
      for (let i = 0; i < starts.length; i++) {
        assert.equal(reader.next(buf.length), V, `block ${blockBytes}, batch ${i}`)
        assert.equal(reader.header.baseOffset, bases[i])
        const end = i + 1 < starts.length ? starts[i + 1] : buf.length
        assert.ok(reader.bytes.subarray(reader.at, reader.at + reader.header.length).equals(buf.subarray(starts[i], end)))
      }
      assert.equal(reader.next(buf.length), BatchRead.End)
    }
  }
})

test('a batch larger than the block: read whole in one more read; a kept buffer does not stay huge', () => {
  const small = encodeBatch([Buffer.alloc(10, 1)], 0, 1, TAG)
  const big = encodeBatch([Buffer.alloc(300_000, 7)], 1, 1, TAG)
  const buf = Buffer.concat([small, big, encodeBatch([Buffer.alloc(10, 2)], 2, 1, TAG)])
  const src = source(buf)
  const reader = new BatchReader(src, { tag: TAG, blockBytes: 4096, keepBytes: 65536 })
  reader.seek(0, 0)
  assert.equal(reader.next(buf.length), V)
  assert.equal(reader.next(buf.length), V)
  assert.equal(reader.header.length, big.length)
  assert.ok(src.reads.some((r) => r.position === small.length && r.length >= big.length), JSON.stringify(src.reads))
  const huge = reader.bytes
  assert.equal(reader.next(buf.length), V)
  assert.notEqual(reader.bytes, huge, 'a buffer above keepBytes is let go at the next read')
  assert.ok(reader.bytes.length <= 65536)
})

test('short reads: a source returning fewer bytes than asked never yields bytes it did not return', () => {
  const { buf, starts } = segment([2, 2])
  const src = source(buf)
  const reader = new BatchReader(src, { tag: TAG, blockBytes: BATCH_HEADER_BYTES })
  assert.equal(reader.readAt(starts[1], buf.length), V)
  // The same position again, after the file lost bytes: the buffer still holds the old batch,
  // but only what the new read returned may be parsed.
  src.shortBy = 30
  reader.reset()
  assert.equal(reader.readAt(starts[1], buf.length), BatchRead.Incomplete)
  src.shortBy = buf.length
  reader.reset()
  assert.equal(reader.readAt(starts[1], buf.length), BatchRead.Incomplete)
  assert.equal(reader.readAt(buf.length, buf.length), BatchRead.End)
})

test('rules 6 and 7: a valid batch at the wrong offsets is Misplaced, one from another log Foreign; a newer version is NewerVersion', () => {
  const { buf, starts } = segment([2, 2, 2])
  let reader = new BatchReader(source(buf), { tag: TAG })
  reader.seek(0, 99)
  assert.equal(reader.next(buf.length), BatchRead.Misplaced)
  reader.seek(starts[1], -1, 101)
  assert.equal(reader.next(buf.length), BatchRead.Misplaced, 'a batch that does not hold the offset an index named')
  reader.seek(starts[1], -1, 103)
  assert.equal(reader.next(buf.length), V, 'a batch that holds it')
  reader = new BatchReader(source(buf), { tag: TAG + 1 })
  reader.seek(0, 100)
  assert.equal(reader.next(buf.length), BatchRead.Foreign)
  assert.equal(reader.header.tag, TAG)
  reader = new BatchReader(source(buf))
  reader.seek(0, 100)
  assert.deepEqual(walk(reader, buf.length), [V, V, V, BatchRead.End], 'no tag given: any tag')
  const newer = Buffer.from(buf)
  newer[starts[2] + 8] = 2
  reseal(newer, starts[2])
  reader = new BatchReader(source(newer), { tag: TAG })
  reader.seek(0, 100)
  assert.deepEqual(walk(reader, newer.length), [V, V, BatchRead.NewerVersion])
  assert.equal(reader.header.version, 2)
})

test('fresh blocks: views into earlier batches stay intact while the reader goes on; kept blocks are reused', () => {
  const { buf } = segment(Array.from({ length: 40 }, () => 3), 0, 50)
  const fresh = new BatchReader(source(buf), { tag: TAG, blockBytes: 1000, freshBlocks: true })
  fresh.seek(0, 0)
  assert.equal(fresh.next(buf.length), V)
  const view = fresh.bytes.subarray(fresh.at, fresh.at + fresh.header.length)
  const copy = Buffer.from(view)
  const blocks = new Set<Buffer>()
  while (fresh.next(buf.length) === V) blocks.add(fresh.bytes)
  assert.deepEqual(view, copy)
  assert.ok(blocks.size > 3)
  const kept = new BatchReader(source(buf), { tag: TAG, blockBytes: 1000 })
  kept.seek(0, 0)
  const buffers = new Set<Buffer>()
  while (kept.next(buf.length) === V) buffers.add(kept.bytes)
  assert.equal(buffers.size, 1)
})

test('buffered(): true only when the next batch lies whole in the block already read', () => {
  const { buf, starts } = segment([2, 2, 2], 0, 30)
  const reader = new BatchReader(source(buf), { tag: TAG, blockBytes: starts[2] + 10 })
  reader.seek(0, 0)
  assert.equal(reader.buffered(), false)
  assert.equal(reader.next(buf.length), V)
  assert.equal(reader.buffered(), true)
  assert.equal(reader.next(buf.length), V)
  assert.equal(reader.buffered(), false, 'the third batch is cut by the block')
})

test('findBatchHolding: the batch holding an offset, checked against the index; a forged index or foreign batch is ERR_CORRUPT', () => {
  const { buf, starts, bases } = segment([2, 3, 4], 10)
  const index = new SparseIndex(10)
  index.add(10, starts[0] + 40, starts[0])
  index.add(12, starts[1] + 40, starts[1])
  for (let offset = 10; offset < 19; offset++) {
    const found = findBatchHolding(source(buf), 'seg', buf.length, 10, TAG, index, offset)
    const k = bases.findLastIndex((b) => b <= offset)
    assert.equal(found.position, starts[k])
    assert.equal(found.baseOffset, bases[k])
    assert.ok(found.bytes.equals(buf.subarray(starts[k], k + 1 < starts.length ? starts[k + 1] : buf.length)))
  }
  // An index entry that names a batch not holding its offset.
  const forged = new SparseIndex(10)
  forged.add(14, starts[2] + 40, starts[2])
  assert.throws(() => findBatchHolding(source(buf), 'seg', buf.length, 10, TAG, forged, 14), (err) => isSeglogError(err, 'ERR_CORRUPT') && err.details.file === 'seg')
  assert.throws(() => findBatchHolding(source(buf), 'seg', buf.length, 10, TAG + 1, index, 11), (err) => isSeglogError(err, 'ERR_CORRUPT') && /another log/.test(err.message))
  assert.throws(() => findBatchHolding(source(buf), 'seg', starts[2], 10, TAG, index, 17), (err) => isSeglogError(err, 'ERR_CORRUPT') && /not found/.test(err.message))
})

// ---------------------------------------------------------------- property

type Damage =
  | { kind: 'none' }
  | { kind: 'cut'; at: number }
  | { kind: 'flip'; batch: number; at: number; bit: number }
  | { kind: 'length'; batch: number; value: number }
  | { kind: 'misplace'; batch: number; delta: number }
  | { kind: 'foreign'; batch: number }
  | { kind: 'newer'; batch: number }

const damageArb: fc.Arbitrary<Damage> = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('flip' as const), batch: fc.nat(), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('length' as const), batch: fc.nat(), value: fc.oneof(fc.constantFrom(0, 39, 40, 41, MAX_BATCH_BYTES, MAX_BATCH_BYTES + 1, 0xffffffff), fc.nat({ max: 5000 })) }),
  fc.record({ kind: fc.constant('misplace' as const), batch: fc.nat(), delta: fc.integer({ min: -3, max: 3 }).filter((d) => d !== 0) }),
  fc.record({ kind: fc.constant('foreign' as const), batch: fc.nat() }),
  fc.record({ kind: fc.constant('newer' as const), batch: fc.nat() }),
)

/**
 * The reference model: what a reader following docs/FORMAT.md's rules 1–7 must say, batch by
 * batch from the start, for one damage applied to an intact segment.
 */
function model(starts: number[], size: number, damage: Damage, damaged: Buffer): BatchRead[] {
  const n = starts.length
  const end = (i: number): number => (i + 1 < n ? starts[i + 1] : size)
  const out: BatchRead[] = []
  const k = damage.kind === 'none' || damage.kind === 'cut' ? -1 : damage.batch % n
  for (let i = 0; i < n; i++) {
    if (damage.kind === 'cut') {
      const at = damage.at % (size + 1)
      if (at <= starts[i]) return [...out, BatchRead.End]
      if (at < end(i)) return [...out, BatchRead.Incomplete]
    }
    if (i === k) {
      const avail = size - starts[i]
      switch (damage.kind) {
        case 'flip': {
          // Magic, checksum, version and everything under the checksum: damaged. The length
          // field: what it now reads as decides (rule 2 before rule 3).
          const at = damage.at % (end(i) - starts[i])
          if (at >= 12 && at < 16) return [...out, lengthClass(damaged.readUInt32LE(starts[i] + 12), avail)]
          return [...out, BatchRead.Damaged]
        }
        case 'length':
          // A "damage" that writes the batch's own length changes nothing: the walk goes on.
          if (damage.value !== end(i) - starts[i]) return [...out, lengthClass(damage.value, avail)]
          break
        case 'misplace': return [...out, BatchRead.Misplaced]
        case 'foreign': return [...out, BatchRead.Foreign]
        case 'newer': return [...out, BatchRead.NewerVersion]
      }
    }
    out.push(V)
  }
  return [...out, BatchRead.End]
}

/** Rules 2 and 3 for a length field reading `value`, other than the batch's own, over `avail` bytes. */
function lengthClass(value: number, avail: number): BatchRead {
  if (value > avail) return value > MAX_BATCH_BYTES || value < BATCH_HEADER_BYTES ? BatchRead.Damaged : BatchRead.Incomplete
  return BatchRead.Damaged
}

function applyDamage(buf: Buffer, starts: number[], damage: Damage): Buffer {
  if (damage.kind === 'none') return buf
  if (damage.kind === 'cut') return buf.subarray(0, damage.at % (buf.length + 1))
  const out = Buffer.from(buf)
  const i = damage.batch % starts.length
  const pos = starts[i]
  const length = out.readUInt32LE(pos + 12)
  switch (damage.kind) {
    case 'flip': out[pos + (damage.at % length)] ^= 1 << damage.bit; break
    case 'length': out.writeUInt32LE(damage.value >>> 0, pos + 12); break
    case 'misplace': out.writeUInt32LE(out.readUInt32LE(pos + 16) + damage.delta, pos + 16); reseal(out, pos); break
    case 'foreign': out.writeUInt32LE((TAG ^ 0xff) >>> 0, pos + 36); reseal(out, pos); break
    case 'newer': out[pos + 8] = 3; reseal(out, pos); break
  }
  return out
}

test('property: for random batch sequences with random damage, the reader classifies as the reference model does', () => {
  fc.assert(fc.property(
    fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 12 }),
    fc.integer({ min: 0, max: 40 }),
    damageArb,
    fc.integer({ min: BATCH_HEADER_BYTES, max: 700 }),
    fc.boolean(),
    (sizes, recordBytes, damage, blockBytes, freshBlocks) => {
      const { buf, starts } = segment(sizes, 1000, recordBytes)
      const damaged = applyDamage(buf, starts, damage)
      const want = model(starts, buf.length, damage, damaged)
      const reader = new BatchReader(source(damaged), { tag: TAG, blockBytes, freshBlocks })
      reader.seek(0, 1000)
      const got = walk(reader, damaged.length)
      assert.deepEqual(got, want, `damage ${JSON.stringify(damage)}`)
      // Every valid batch was handed out with its exact bytes (checked again by re-walking).
      const again = new BatchReader(source(damaged), { tag: TAG, blockBytes: BATCH_HEADER_BYTES })
      again.seek(0, 1000)
      for (let i = 0; i < got.length - 1; i++) {
        assert.equal(again.next(damaged.length), V)
        assert.equal(again.position, starts[i])
      }
    }), {
    numRuns: 2000,
    // Seed -1604719502 (CI, Node 24): a length "damage" equal to the batch's own length; the model
    // stopped there instead of walking on to the end.
    examples: [[[2, 4], 20, { kind: 'length', batch: 934104621, value: 145 }, 40, false]],
  })
})

test('the sparse index asserts its invariants: offsets and positions increase, records lie inside their batch, cuts stay inside', () => {
  const index = new SparseIndex(100)
  index.add(100, 40, 0)
  index.add(105, 500, 400)
  const broken = (fn: () => void, rule: RegExp): void => assert.throws(fn, (err) => err instanceof InvariantError && rule.test(err.invariant))
  broken(() => index.add(105, 900, 800), /increase in offset/)
  broken(() => index.add(99, 900, 800), /increase in offset/)
  broken(() => index.add(110, 500, 400), /increase in position/)
  broken(() => index.add(110, 900, 901), /inside its batch/)
  broken(() => index.truncateTo(99, 10), /cut inside its segment/)
  broken(() => index.truncateTo(106, 500), /inside the bytes it keeps/)
  assert.equal(index.count, 2, 'a refused entry changes nothing')
  index.truncateTo(105, 400)
  assert.equal(index.count, 1)
})
