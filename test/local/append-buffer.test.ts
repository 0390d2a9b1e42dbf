// The append buffer alone: framing into checksummed batches, offsets, the open batch's limit, one
// index-due rule for both append paths, and "no room" / "too large" that change nothing.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BATCH_HEADER_BYTES, BatchHeader, BatchStatus, forEachRecord, parseBatch, RECORD_HEADER_BYTES } from '../../src/format/index.js'
import fc from 'fast-check'
import { AppendBuffer, CHECKED_PATH, MAX_APPEND_BATCH_BYTES, NO_ROOM, TOO_LARGE } from '../../src/local/append-buffer.js'
import { SparseIndex } from '../../src/local/sparse-index.js'
import { manualClock } from '../helpers/manual-clock.js'

function setup(bufferBytes = 1 << 20, interval = 256, next = 100): { buffer: AppendBuffer; segments: { activeIndex: SparseIndex } } {
  const segments = { activeIndex: new SparseIndex(next) }
  const clock = manualClock(1_000_000)
  return { buffer: new AppendBuffer({ bufferBytes, maxRecordBytes: 1 << 16, indexIntervalBytes: interval, tag: 7, clock }, next, segments), segments }
}

/** Every batch in buf[0, used): [baseOffset, records]. */
function batches(buffer: AppendBuffer): { base: number; records: string[] }[] {
  const out: { base: number; records: string[] }[] = []
  const header = new BatchHeader()
  for (let p = 0; p < buffer.used; p += header.length) {
    assert.equal(parseBatch(buffer.buf, p, buffer.used, header, true), BatchStatus.Ok, `batch at ${p} is whole and checksummed`)
    const records: string[] = []
    forEachRecord(buffer.buf, p, header, (data) => records.push(data.toString()))
    out.push({ base: header.baseOffset, records })
  }
  return out
}

test('records and batches frame into checksummed batches with consecutive offsets', () => {
  const { buffer } = setup()
  assert.equal(buffer.add('a', 0), 100)
  assert.equal(buffer.add(Buffer.from('bb'), 0), 101)
  assert.equal(buffer.addBatch([Buffer.from('c'), Buffer.from('dd')], BATCH_HEADER_BYTES + 2 * RECORD_HEADER_BYTES + 3, 0), 102)
  assert.equal(buffer.add('é', 0), 104)
  buffer.seal()
  assert.deepEqual(batches(buffer), [
    { base: 100, records: ['a', 'bb'] },
    { base: 102, records: ['c', 'dd'] },
    { base: 104, records: ['é'] },
  ])
  assert.equal(buffer.next, 105)
})

test('the open batch closes at MAX_APPEND_BATCH_BYTES so point reads stay cheap', () => {
  const { buffer } = setup(4 << 20)
  const rec = Buffer.alloc(1000, 1)
  const n = Math.ceil((2 * MAX_APPEND_BATCH_BYTES) / 1004) + 2
  for (let i = 0; i < n; i++) buffer.add(rec, 0)
  buffer.seal()
  const found = batches(buffer)
  assert.ok(found.length >= 3, `${found.length} batches`)
  assert.equal(found.reduce((a, b) => a + b.records.length, 0), n)
})

test('one index-due rule for both paths: an entry at most every interval bytes, the first at once', () => {
  for (const path of ['add', 'addBatch', 'tryAddBatch'] as const) {
    const { buffer, segments } = setup(1 << 20, 256, 0)
    const rec = Buffer.alloc(60, 2)
    for (let i = 0; i < 100; i++) {
      if (path === 'add') buffer.add(rec, 4096)
      else if (path === 'addBatch') buffer.addBatch([rec], BATCH_HEADER_BYTES + RECORD_HEADER_BYTES + 60, 4096)
      else assert.equal(buffer.tryAddBatch([rec], 4096, 1 << 20), i)
    }
    const index = segments.activeIndex
    const span = buffer.used
    assert.ok(index.count <= span / 256 + 1 && index.count >= span / (256 + 104), `${path}: ${index.count} entries over ${span} bytes`)
    let last = -Infinity
    for (let i = 0; i < index.count; i++) {
      const pos = index.recordPosAt(i)
      assert.ok(pos >= 4096 && pos - last >= 256, `${path}: entry ${i} at ${pos}`)
      last = pos
    }
    assert.equal(index.offsetAt(0), 0)
  }
})

test('no room and too large change nothing; reserve makes room in an emptied buffer', () => {
  const { buffer } = setup(4096)
  buffer.add('x', 0)
  const used = buffer.used
  assert.equal(buffer.add(Buffer.alloc(5000), 0), NO_ROOM)
  assert.equal(buffer.lastLength, 5000)
  assert.equal(buffer.add(Buffer.alloc(70_000), 0), TOO_LARGE)
  assert.equal(buffer.add('y'.repeat(70_000), 0), TOO_LARGE)
  assert.equal(buffer.used, used)
  assert.equal(buffer.next, 101)
  assert.throws(() => buffer.reserve(10_000), /grows only when empty/)
  buffer.seal()
  buffer.written()
  buffer.reserve(10_000)
  assert.equal(buffer.add(Buffer.alloc(5000, 3), 0), 101)
  buffer.seal()
  assert.equal(batches(buffer)[0].records[0].length, 5000)
  buffer.written()
  assert.equal(buffer.buf.length, 4096, 'a buffer grown for one big record shrinks back')
})

test('discard drops what is buffered (a failed log), and written() refuses an open batch', () => {
  const { buffer } = setup()
  buffer.add('x', 0)
  assert.throws(() => buffer.written(), /only sealed batches/)
  buffer.discard()
  assert.equal(buffer.used, 0)
  buffer.add('y', 0)
  buffer.seal()
  assert.deepEqual(batches(buffer), [{ base: 101, records: ['y'] }])
})

/** Everything a call that changes nothing must leave as it was: the bytes buffered, the counters, the index. */
function snapshot(buffer: AppendBuffer, index: SparseIndex): unknown {
  const entries: number[][] = []
  for (let i = 0; i < index.count; i++) entries.push([index.offsetAt(i), index.recordPosAt(i), index.batchPosAt(i)])
  return { bytes: Buffer.from(buffer.buf.subarray(0, buffer.used)), used: buffer.used, next: buffer.next, entries, maxTimestamp: index.maxTimestamp }
}

function detachedView(): Uint8Array {
  const ab = new ArrayBuffer(8)
  const view = new Uint8Array(ab)
  structuredClone(ab, { transfer: [ab] })
  return view
}

test('tryAddBatch: at the first record it cannot take in one pass it changes nothing, not even the open batch', () => {
  const ok = Buffer.from('ok')
  const cases: [string, unknown[], number][] = [
    ['a number', [ok, 5, ok], 1 << 20],
    ['a string (the checked path encodes it)', [ok, ok, 'text'], 1 << 20],
    ['an empty record (empty or detached: the checked path tells)', [new Uint8Array(0), ok], 1 << 20],
    ['a detached view', [ok, ok, detachedView()], 1 << 20],
    ['a record over maxRecordBytes', [ok, Buffer.alloc((1 << 16) + 1)], 1 << 20],
    ['a batch over maxBatchBytes', [ok, Buffer.alloc(100), Buffer.alloc(100)], BATCH_HEADER_BYTES + 2 * RECORD_HEADER_BYTES + 102],
    ['more than the free space', Array.from({ length: 40 }, () => Buffer.alloc(100, 9)), 1 << 20],
  ]
  for (const [what, records, maxBatchBytes] of cases) {
    const { buffer, segments } = setup(4096, 64)
    buffer.add('x', 0)
    buffer.add(Buffer.from('y'), 0)
    const before = snapshot(buffer, segments.activeIndex)
    assert.equal(buffer.tryAddBatch(records, 0, maxBatchBytes), CHECKED_PATH, what)
    assert.deepEqual(snapshot(buffer, segments.activeIndex), before, `${what}: buffer and index as before`)
    assert.equal(buffer.add('z', 0), 102, `${what}: the next offset is unchanged`)
    buffer.seal()
    assert.deepEqual(batches(buffer), [{ base: 100, records: ['x', 'y', 'z'] }], `${what}: the open batch was not sealed`)
  }
})

test('tryAddBatch frames byte for byte what the checked addBatch frames: records, offsets, index entries, timestamps', () => {
  const step = fc.oneof(
    fc.record({ add: fc.integer({ min: 0, max: 700 }) }),
    fc.record({ batch: fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 40 }) }),
  )
  fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), fc.constantFrom(64, 256, 2048), fc.nat(100_000), (steps, interval, segPos) => {
    const a = setup(1 << 20, interval, 5)
    const b = setup(1 << 20, interval, 5)
    let fill = 0
    const bytes = (len: number): Buffer => Buffer.alloc(len, ++fill)
    for (const s of steps) {
      if ('add' in s) {
        const rec = bytes(s.add)
        assert.equal(a.buffer.add(rec, segPos), b.buffer.add(rec, segPos))
      } else {
        const records = s.batch.map(bytes)
        const total = BATCH_HEADER_BYTES + records.reduce((n, r) => n + RECORD_HEADER_BYTES + r.length, 0)
        const first = b.buffer.tryAddBatch(records, segPos, 1 << 20)
        assert.notEqual(first, CHECKED_PATH)
        assert.equal(a.buffer.addBatch(records, total, segPos), first)
      }
    }
    a.buffer.seal()
    b.buffer.seal()
    assert.deepEqual(snapshot(b.buffer, b.segments.activeIndex), snapshot(a.buffer, a.segments.activeIndex))
  }), { numRuns: 200 })
})
