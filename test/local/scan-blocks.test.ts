// The read blocks behind iterate() and iterateBatches(): what a record view pins, batches larger
// than a block, batches cut by a block's end, and views staying valid after later reads.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Log, copyRecord } from '../../src/index.js'
import { READ_BLOCK_BYTES } from '../../src/local/cursor.js'
import type { LogRecord } from '../../src/local/segment.js'
import { payload, tmpDir } from '../helpers/tmp.js'

const KiB = 1024

test('a record view from iterate() or iterateBatches() pins one 256 KiB read block, not more', async (t) => {
  assert.equal(READ_BLOCK_BYTES, 256 * KiB)
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'never' })
  for (let b = 0; b < 40; b++) await log.appendBatch(Array.from({ length: 100 }, (_, k) => payload(b * 100 + k, 128)))
  await log.sync()
  let n = 0
  for await (const r of log.iterate()) {
    assert.deepEqual(r.data, payload(r.offset, 128))
    // With 1 MiB blocks (before), one record held on to kept up to four times as much alive.
    assert.ok(r.data.buffer.byteLength <= READ_BLOCK_BYTES, `record ${r.offset} pins ${r.data.buffer.byteLength} bytes`)
    n++
  }
  assert.equal(n, 4000)
  n = 0
  for await (const rs of log.iterateBatches()) {
    for (const r of rs) {
      assert.equal(r.offset, n++)
      assert.ok(r.data.buffer.byteLength <= READ_BLOCK_BYTES)
    }
  }
  assert.equal(n, 4000)
  await log.close()
})

test('batches larger than a read block, and batches cut by a block end, read back whole; held views stay valid to the end', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'never' })
  const sizes: number[] = []
  // Small batches, then one record bigger than a block, then small ones that straddle block ends
  // (≈ 60 KiB batches do not divide 256 KiB), then a big batch of many records.
  for (let i = 0; i < 30; i++) sizes.push(1000 + i)
  sizes.push(READ_BLOCK_BYTES + 5000)
  for (let i = 0; i < 40; i++) sizes.push(60 * KiB + 7 * i)
  const offsets: number[] = []
  for (const size of sizes) offsets.push(await log.append(payload(offsets.length, size)))
  const bigBatch = Array.from({ length: 300 }, (_, k) => payload(sizes.length + k, 2000))
  await log.appendBatch(bigBatch)
  for (const b of bigBatch) sizes.push(b.length)
  await log.sync()
  await log.close()

  const again = await Log.open(dir, { sync: 'never', readOnly: true })
  const held: LogRecord[] = []
  const copies: Buffer[] = []
  for await (const r of again.iterate()) {
    assert.equal(r.data.length, sizes[r.offset], `length of ${r.offset}`)
    held.push(r)
    copies.push(copyRecord(r).data)
  }
  assert.equal(held.length, sizes.length)
  // Every block read later was a fresh one: what was handed out earlier still holds its bytes.
  for (const r of held) assert.deepEqual(r.data, payload(r.offset, sizes[r.offset]), `record ${r.offset}`)
  for (const r of held) assert.deepEqual(r.data, copies[r.offset])
  const big = held[30]
  assert.ok(big.data.buffer.byteLength >= big.data.length, 'a record bigger than a block gets a buffer of its own size')

  let n = 0
  for await (const rs of again.iterateBatches({ from: 25 })) {
    for (const r of rs) {
      assert.equal(r.offset, 25 + n++)
      assert.deepEqual(r.data, payload(r.offset, sizes[r.offset]))
    }
  }
  assert.equal(n, sizes.length - 25)
  await again.close()
})
