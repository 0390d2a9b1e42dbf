import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { Log } from '../../src/index.js'
import { batchPositions, flipByte, segmentFiles, setBatchVersion } from '../helpers/segments.js'
import { payload, tmpDir } from '../helpers/tmp.js'

async function seeded(dir: string): Promise<void> {
  const log = await Log.open(dir, { sync: 'never', segmentBytes: 4096 })
  for (let i = 0; i < 300; i += 3) await log.appendBatch([payload(i, 80), payload(i + 1, 80), payload(i + 2, 80)])
  await log.close()
}

test('repair cuts at a damaged sealed segment: copies it aside, drops what follows, reports it exactly', async (t) => {
  const dir = tmpDir(t)
  await seeded(dir)
  const files = segmentFiles(dir)
  const damaged = files[2]
  const pos = batchPositions(damaged)[3]
  flipByte(damaged, pos + 50)
  const before = fs.readdirSync(dir).sort()

  const dry = await Log.repair(dir, { dryRun: true })
  assert.equal(dry.clean, false)
  assert.equal(dry.cut?.file, damaged)
  assert.equal(dry.cut?.position, pos)
  assert.deepEqual(fs.readdirSync(dir).sort(), before, 'dry run changes nothing')

  const report = await Log.repair(dir)
  const base = Number(path.basename(damaged, '.log'))
  assert.equal(report.cut?.fromOffset, base + 9)
  assert.equal(report.cut?.previousNextOffset, 300)
  assert.deepEqual(report.cut?.droppedSegments, files.slice(3))
  assert.ok(report.cut?.backup && fs.existsSync(report.cut.backup))
  for (const f of files.slice(3)) assert.equal(fs.existsSync(f), false)
  assert.equal((await Log.verify(dir)).ok, true)
  const log = await Log.open(dir, { segmentBytes: 4096 })
  assert.equal(log.nextOffset, base + 9)
  let n = 0
  for await (const rec of log.iterate()) assert.deepEqual(rec.data, payload(n++, 80))
  assert.equal(n, base + 9)
  await log.close()
  assert.equal((await Log.repair(dir)).clean, true, 'a second repair finds nothing')
})

test('repair cuts a torn tail without a backup and drops damaged index files', async (t) => {
  const dir = tmpDir(t)
  await seeded(dir)
  const last = segmentFiles(dir).at(-1) as string
  fs.truncateSync(last, fs.statSync(last).size - 30)
  const index = segmentFiles(dir)[0].replace(/\.log$/, '.index')
  fs.writeFileSync(index, 'garbage')
  const report = await Log.repair(dir)
  assert.equal(report.cut?.backup, undefined)
  assert.equal(report.cut?.fromOffset, 297)
  assert.deepEqual(report.removedIndexes, [index])
  assert.equal((await Log.verify(dir)).ok, true)
})

test('repair refuses while a writer holds the log, and never cuts newer-format data', async (t) => {
  const dir = tmpDir(t)
  await seeded(dir)
  const log = await Log.open(dir, { segmentBytes: 4096 })
  await assert.rejects(Log.repair(dir), { code: 'ERR_LOCKED' })
  await log.close()
  const last = segmentFiles(dir).at(-1) as string
  setBatchVersion(last, batchPositions(last).at(-1) as number, 2)
  const before = fs.readFileSync(last)
  await assert.rejects(Log.repair(dir), { code: 'ERR_FORMAT_VERSION' })
  assert.deepEqual(fs.readFileSync(last), before)
})
