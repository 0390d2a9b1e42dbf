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

test('repair of a damaged sealed segment keeps every intact batch at its offset; copies the segment aside; reports exactly', async (t) => {
  const dir = tmpDir(t)
  await seeded(dir)
  const files = segmentFiles(dir)
  const damaged = files[2]
  const pos = batchPositions(damaged)[3]
  flipByte(damaged, pos + 50)
  const before = fs.readdirSync(dir).sort()

  const dry = await Log.repair(dir, { dryRun: true })
  assert.equal(dry.clean, false)
  const base = Number(path.basename(damaged, '.log'))
  assert.deepEqual(dry.lost.map((l) => [l.file, l.position, l.from, l.to]), [[damaged, pos, base + 9, base + 12]])
  assert.deepEqual(fs.readdirSync(dir).sort(), before, 'dry run changes nothing')

  const report = await Log.repair(dir)
  assert.equal(report.cut, undefined)
  assert.deepEqual(report.gaps, [{ from: base + 9, to: base + 12 }])
  assert.deepEqual(report.createdSegments, [path.join(dir, `${String(base + 12).padStart(20, '0')}.log`)])
  assert.equal(report.backups.length, 1)
  assert.ok(fs.existsSync(report.backups[0]))
  for (const f of files) assert.ok(fs.existsSync(f), `${f} is kept`)
  const verified = await Log.verify(dir)
  assert.equal(verified.ok, true, JSON.stringify(verified.faults))
  assert.deepEqual(verified.gaps, [{ from: base + 9, to: base + 12 }])
  const log = await Log.open(dir, { segmentBytes: 4096 })
  assert.equal(log.nextOffset, 300)
  let n = 0
  for await (const rec of log.iterate({ gaps: 'skip' })) {
    if (n === base + 9) n = base + 12
    assert.equal(rec.offset, n)
    assert.deepEqual(rec.data, payload(n++, 80))
  }
  assert.equal(n, 300)
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
