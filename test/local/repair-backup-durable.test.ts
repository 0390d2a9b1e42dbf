/**
 * Repair copies a damaged segment aside before it cuts anything, through the FileSystem seam. The
 * copy is the only record of the damaged bytes, so it must be durable (data and name) before the
 * cut: a power cut right after repair must not leave the segment cut and the backup empty.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { Log } from '../../src/index.js'
import { batchPositions, flipByte, segmentFiles } from '../helpers/segments.js'
import { crashImage, PowerLossFs, prng } from '../helpers/power-loss-fs.js'
import { payload, tmpDir } from '../helpers/tmp.js'

test('a power cut right after repair keeps the whole backup of the damaged segment', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'never', segmentBytes: 4096 })
  for (let i = 0; i < 300; i += 3) await log.appendBatch([payload(i, 80), payload(i + 1, 80), payload(i + 2, 80)])
  await log.close()
  const damaged = segmentFiles(dir)[2]
  flipByte(damaged, batchPositions(damaged)[3] + 50)
  const damagedBytes = fs.readFileSync(damaged)

  // The damaged log, entirely durable, on the simulated machine.
  const machine = new PowerLossFs({ rng: prng(7) })
  machine.powerCut(dir, new Map(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f))])))
  const report = await Log.repair(dir, { fileSystem: machine.view() })
  assert.equal(report.backups.length, 1)
  const backupName = path.basename(report.backups[0])

  // The harshest power cut: no pending data write survives, every pending directory entry does.
  const { files } = crashImage(machine.snapshot('after repair'), dir, prng(1), { mode: 'none', dirOps: 'none' })
  assert.ok(files.has(backupName), 'the backup\'s name survives the power cut')
  assert.deepEqual(files.get(backupName), damagedBytes, 'the backup holds every byte of the damaged segment')
  const { files: all } = crashImage(machine.snapshot('after repair'), dir, prng(2), { mode: 'none', dirOps: 'all' })
  assert.deepEqual(all.get(backupName), damagedBytes)
})
