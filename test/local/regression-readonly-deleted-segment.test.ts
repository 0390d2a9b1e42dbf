// A read-only handle reading an offset whose segment its writer has deleted since the handle last
// looked (deleteBefore, retention) got a raw ENOENT from the file system. The offset is below the
// log's first offset now: read() answers undefined, as it does for any offset retention removed,
// and every record still in the log reads back.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Log } from '../../src/index.js'
import { payload, tmpDir } from '../helpers/tmp.js'

test('read-only read of an offset whose segment the writer deleted is undefined, not ENOENT', async (t) => {
  const dir = tmpDir(t, 'ro-deleted')
  const writer = await Log.open(dir, { segmentBytes: 2048, sync: 'never' })
  for (let i = 0; i < 150; i++) await writer.append(payload(i, 40))
  await writer.sync()
  const reader = await Log.open(dir, { readOnly: true })
  assert.deepEqual((await reader.read(5))?.data, payload(5, 40))
  await writer.deleteBefore(100)
  assert.ok(writer.firstOffset > 57, `the writer deleted the segment holding 57 (first offset ${writer.firstOffset})`)
  assert.equal(await reader.read(57), undefined)
  assert.equal(reader.firstOffset, writer.firstOffset)
  for (let i = writer.firstOffset; i < 150; i++) assert.deepEqual((await reader.read(i))?.data, payload(i, 40), `record ${i}`)
  await reader.close()
  await writer.close()
})
