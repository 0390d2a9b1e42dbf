// The append buffer alone: framing into checksummed batches, offsets, the open batch's limit, one
// index-due rule for both append paths, and "no room" / "too large" that change nothing.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BATCH_HEADER_BYTES, BatchHeader, BatchStatus, forEachRecord, parseBatch, RECORD_HEADER_BYTES } from '../../src/format/index.js'
import { AppendBuffer, MAX_APPEND_BATCH_BYTES, NO_ROOM, TOO_LARGE } from '../../src/local/append-buffer.js'
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
  for (const path of ['add', 'addBatch'] as const) {
    const { buffer, segments } = setup(1 << 20, 256, 0)
    const rec = Buffer.alloc(60, 2)
    for (let i = 0; i < 100; i++) {
      if (path === 'add') buffer.add(rec, 4096)
      else buffer.addBatch([rec], BATCH_HEADER_BYTES + RECORD_HEADER_BYTES + 60, 4096)
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
