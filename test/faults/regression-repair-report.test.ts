// Regression test for a defect found by the corruption suite (fixed in 583dfe8, verify.ts).
//
// Damage in the middle of the last segment (valid batches after it): Log.verify reported the log's
// nextOffset as the damaged batch's first offset, so Log.repair's report said
// previousNextOffset === fromOffset, "nothing dropped", while the repair cut every valid record
// after the damage. Repair must drop only what it reports.
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
  assert.equal(report.cut?.fromOffset, 3)
  assert.equal(report.cut?.previousNextOffset, 10, 'the report covers offsets 3..9, which the repair drops')
  assert.equal(report.cut?.droppedBytes, 7 * batch)
  assert.equal(fs.statSync(file).size, 3 * batch)
})
