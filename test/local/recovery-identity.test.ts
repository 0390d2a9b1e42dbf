/**
 * Log identity (issue 10): a segment copied in from another log is never served as this log's
 * data. Each test failed on commit 0aa50b0 (the foreign segment was read as ours).
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { isSeglogError, Log } from '../../src/index.js'
import { segmentFiles } from '../helpers/segments.js'
import { payload, tmpDir } from '../helpers/tmp.js'

/** Two logs with the same shape (same segment names), different contents. */
async function twin(dir: string, salt: number): Promise<void> {
  const log = await Log.open(dir, { sync: 'never', segmentBytes: 4096 })
  for (let i = 0; i < 200; i += 2) await log.appendBatch([payload(i + salt, 80), payload(i + 1 + salt, 80)])
  await log.close()
}

test('every new log gets a random 128-bit identity; every batch carries its tag', async (t) => {
  const a = tmpDir(t)
  const b = tmpDir(t)
  await twin(a, 0)
  await twin(b, 0)
  const la = await Log.open(a, { readOnly: true })
  const lb = await Log.open(b, { readOnly: true })
  assert.match(la.id ?? '', /^[0-9a-f]{32}$/)
  assert.notEqual(la.id, lb.id)
  await la.close()
  await lb.close()
  assert.equal(fs.statSync(path.join(a, 'identity')).size, 32)
  const seg = fs.readFileSync(segmentFiles(a)[0])
  assert.notEqual(seg.readUInt32LE(36), 0, 'the batch names its log')
})

test('a sealed segment copied in from another log: reads, iterate and verify say ERR_CORRUPT naming the file, never its data', async (t) => {
  const a = tmpDir(t)
  const b = tmpDir(t)
  await twin(a, 0)
  await twin(b, 1000)
  const target = segmentFiles(a)[1]
  fs.copyFileSync(segmentFiles(b)[1], target)
  fs.rmSync(target.replace(/\.log$/, '.index'))
  const base = Number(path.basename(target, '.log'))
  const log = await Log.open(a)
  try {
    await assert.rejects(log.read(base + 1), (err) => isSeglogError(err, 'ERR_CORRUPT') && err.details.file === target && /another log/.test(err.message))
    assert.deepEqual((await log.read(base - 1))?.data, payload(base - 1, 80), 'our own segments still read')
    await assert.rejects(async () => { for await (const r of log.iterate({ from: base })) assert.fail(`served ${r.offset}`) },
      (err) => isSeglogError(err, 'ERR_CORRUPT') && err.details.file === target)
  } finally {
    await log.close()
  }
  const report = await Log.verify(a)
  assert.ok(report.faults.some((f) => f.file === target && f.kind === 'corrupt' && /another log/.test(f.message)), JSON.stringify(report.faults))
})

test('a foreign segment in the tail recovery reads fails open with ERR_CORRUPT naming it', async (t) => {
  const a = tmpDir(t)
  const b = tmpDir(t)
  await twin(a, 0)
  await twin(b, 1000)
  // Both logs end with an empty segment at 200; b's gets data, then replaces a's.
  const lb = await Log.open(b, { sync: 'never', segmentBytes: 4096 })
  await lb.append(payload(1200, 80))
  await lb.close()
  const last = segmentFiles(a).at(-1) as string
  fs.copyFileSync(segmentFiles(b).at(-1) as string, last)
  fs.rmSync(path.join(a, 'checkpoint'))
  await assert.rejects(Log.open(a), (err) => isSeglogError(err, 'ERR_CORRUPT') && err.details.file === last && /another log/.test(err.message))
})

test('a damaged identity file is ERR_CORRUPT, and nothing is changed', async (t) => {
  const a = tmpDir(t)
  await twin(a, 0)
  const file = path.join(a, 'identity')
  const bytes = fs.readFileSync(file)
  bytes[14] ^= 1
  fs.writeFileSync(file, bytes)
  await assert.rejects(Log.open(a), (err) => isSeglogError(err, 'ERR_CORRUPT') && err.details.file === file)
  await assert.rejects(Log.verify(a), { code: 'ERR_CORRUPT' })
  assert.deepEqual(fs.readFileSync(file), bytes)
})
