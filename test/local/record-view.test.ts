// The views a scan hands out are real Buffers, made by Node's own Buffer class; a runtime whose
// Buffer[Symbol.species] does not make Buffers gets Buffer.from instead.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Log } from '../../src/index.js'
import { RecordView, viewClassFrom } from '../../src/local/record-view.js'
import { payload, tmpDir } from '../helpers/tmp.js'

test('scanned records are Buffers over the read block, with every Buffer method', async (t) => {
  const dir = tmpDir(t)
  await using log = await Log.open(dir, { sync: 'never' })
  await log.appendBatch(Array.from({ length: 300 }, (_, i) => payload(i, 1 + (i % 200))))
  const seen: Buffer[] = []
  for await (const r of log.iterate()) seen.push(r.data)
  for await (const batch of log.iterateBatches({ reuseBuffer: true })) {
    for (const r of batch) {
      assert.ok(Buffer.isBuffer(r.data) && r.data instanceof Buffer && r.data instanceof Uint8Array)
      assert.equal(r.data.toString('hex'), payload(r.offset, 1 + (r.offset % 200)).toString('hex'))
    }
  }
  assert.equal(seen.length, 300)
  for (const [i, d] of seen.entries()) {
    assert.ok(Buffer.isBuffer(d))
    assert.ok(d.equals(payload(i, 1 + (i % 200))), `record ${i}`)
    assert.equal(d.readUInt8(0), payload(i, 1 + (i % 200))[0])
    // A view, not a copy: the slice shares the block's memory.
    assert.equal(d.subarray(0, 1).buffer, d.buffer)
    assert.ok(d.buffer.byteLength > d.length, 'a view into a larger block')
  }
})

test('RecordView is Node\'s Buffer class here; anything that does not make Buffers falls back to Buffer.from', () => {
  assert.equal(RecordView, (Buffer as unknown as Record<symbol, unknown>)[Symbol.species])
  const memory = new ArrayBuffer(16)
  new Uint8Array(memory).set([1, 2, 3, 4, 5, 6, 7, 8], 4)
  for (const candidate of [undefined, 42, Uint8Array, class { constructor() { throw new Error('no') } }, function Fake() {}]) {
    const View = viewClassFrom(candidate)
    const v = new View(memory, 5, 3)
    assert.ok(Buffer.isBuffer(v), String(candidate))
    assert.deepEqual([...v], [2, 3, 4])
    assert.equal(v.buffer, memory)
  }
})
