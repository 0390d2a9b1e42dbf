// Regression test for a defect found by the corruption suite (fixed in 583dfe8, verify.ts).
//
// Damage in the middle of the last segment (valid batches after it): Log.verify reported the log's
// nextOffset as the damaged batch's first offset, so Log.repair's report said
// previousNextOffset === fromOffset, "nothing dropped", while the repair cut every valid record
// after the damage. Repair must drop only what it reports, and (issue 10) only the damaged batch.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { test } from 'node:test'
import { Log } from '../../src/index.js'
import { flipByte, segmentFiles } from '../helpers/segments.js'
import { scratchDir } from './lib/sim-log.js'

test('repair of damage in the last segment reports every record it drops', async (t) => {
  const dir = scratchDir(t, 'seglog-repair-report')
  const log = await Log.open(dir, { sync: 'never' })
  for (let i = 0; i < 10; i++) await log.appendBatch([Buffer.alloc(50, i)]) // ten batches of one record
  await log.close()
  const file = segmentFiles(dir)[0]
  const batch = 40 + 4 + 50
  flipByte(file, 3 * batch + 60) // damages the batch of offset 3; offsets 4..9 stay valid
  const verified = await Log.verify(dir)
  assert.equal(verified.nextOffset, 10, 'the log ends at offset 10: valid batches follow the damage')
  const report = await Log.repair(dir)
  // Only the damaged batch is lost: offsets 4..9 keep their offsets in a segment of their own.
  assert.equal(report.cut, undefined, 'nothing is cut from the end of the log')
  assert.deepEqual(report.lost.map((l) => [l.from, l.to]), [[3, 4]])
  assert.deepEqual(report.gaps, [{ from: 3, to: 4 }])
  assert.equal(fs.statSync(file).size, 3 * batch)
  assert.equal(fs.statSync(file.replace(/0\.log$/, '4.log')).size, 6 * batch)
  const reopened = await Log.open(dir)
  try {
    assert.equal(reopened.nextOffset, 10)
    for (const i of [0, 1, 2, 4, 5, 6, 7, 8, 9]) assert.deepEqual((await reopened.read(i))?.data, Buffer.alloc(50, i))
    await assert.rejects(reopened.read(3), { code: 'ERR_OFFSET_LOST' })
  } finally {
    await reopened.close()
  }
})
