/**
 * Recovery after a crash checks only the tail written since the checkpoint (rule 4: its cost
 * depends on that tail, not on the log). When the active segment's index file is missing or stale
 * (it is written at roll and close, so after a crash it always is), recovery indexes the
 * checkpointed prefix without checksums. That pass was given no log tag, so in every log with an
 * identity (all logs created since format 1.1) its first batch read as "another log's", the pass
 * failed, and recovery re-verified the whole last segment from byte 0. Failed on commit 0aa50b0
 * (scannedFrom.position was 0).
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { Log } from '../../src/index.js'
import { payload, tmpDir } from '../helpers/tmp.js'

test('crash recovery with a checkpoint and no index file scans only the tail after the checkpoint', async (t) => {
  const dir = tmpDir(t)
  const image = tmpDir(t, 'seglog-image')
  const log = await Log.open(dir, { sync: 'never' })
  const total = 10_000
  try {
    // More than one checkpoint interval (8 MiB of durable progress), then a tail after it.
    for (let i = 0; i < total; i += 100) {
      await log.appendBatch(Array.from({ length: 100 }, (_, k) => payload(i + k, 1000)))
      if (i % 1000 === 0) await log.sync()
    }
    await log.sync()
    // A crash image: the files as they are while the log is open (no index file, no clean close).
    for (const name of fs.readdirSync(dir)) if (name !== 'LOCK') fs.copyFileSync(path.join(dir, name), path.join(image, name))
  } finally {
    await log.close()
  }
  assert.ok(!fs.readdirSync(image).some((n) => n.endsWith('.index')), 'the image has no index file')
  assert.ok(fs.existsSync(path.join(image, 'checkpoint')), 'the image has a checkpoint')
  const size = fs.statSync(path.join(image, '00000000000000000000.log')).size
  const recovered = await Log.open(image)
  try {
    const report = recovered.recovery
    assert.ok(report.scannedFrom.position > 0, `recovery started at byte ${report.scannedFrom.position}`)
    assert.equal(report.scannedBytes, size - report.scannedFrom.position)
    assert.equal(recovered.nextOffset, total)
    // The prefix indexed without checksums serves reads like any other.
    for (const offset of [0, 1, 4321, total - 1]) assert.deepEqual((await recovered.read(offset))?.data, payload(offset, 1000))
  } finally {
    await recovered.close()
  }
})
