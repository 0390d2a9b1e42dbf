/**
 * Golden files: logs written by released format versions, committed as bytes
 * (test/fixtures/golden/<version>/, made by test/fixtures/golden/generate.ts). Every later release
 * must read them exactly; a symmetric change to an encoder and its decoder cannot pass this.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Log } from '../../src/index.js'
import { crc32c } from '../../src/format/index.js'
import { nodeFileSystem } from '../../src/io/file-system.js'
import { decodeCheckpoint } from '../../src/local/checkpoint.js'
import { SparseIndex } from '../../src/local/sparse-index.js'
import { readIntent } from '../../src/local/truncate-intent.js'
import { decodeIdentity } from '../../src/local/identity.js'
import { tmpDir } from '../helpers/tmp.js'

const GOLDEN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/golden')

interface Manifest {
  intentCutOffset: number
  records: { offset: number; timestamp: number; data: string }[]
}

function copyFixture(t: Parameters<typeof tmpDir>[0], from: string): string {
  const dir = tmpDir(t, 'golden')
  for (const f of fs.readdirSync(from)) fs.copyFileSync(path.join(from, f), path.join(dir, f))
  return dir
}

test('CRC32C known answer: "123456789" is 0xE3069283 (Castagnoli, not zlib CRC-32)', () => {
  assert.equal(crc32c(Buffer.from('123456789', 'ascii')), 0xe3069283)
  assert.equal(crc32c(Buffer.alloc(0)), 0)
  assert.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa) // 32 zero bytes (RFC 3720 B.4)
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43) // 32 bytes of 0xFF (RFC 3720 B.4)
  assert.equal(crc32c(Buffer.from('56789', 'ascii'), crc32c(Buffer.from('1234', 'ascii'))), 0xe3069283, 'continuation')
})

test('format 1 golden log: the batch layout is pinned byte for byte', () => {
  const seg = fs.readFileSync(path.join(GOLDEN, 'v1/log/00000000000000000000.log'))
  // First batch: magic, crc, version 1, attributes 0, reserved, length 64, base 0, ts, count 1, reserved.
  assert.equal(seg.subarray(0, 4).toString('latin1'), 'SEGL')
  assert.equal(seg[8], 1)
  assert.equal(seg.readUInt32LE(12), 40 + 4 + 20)
  assert.equal(seg.readBigUInt64LE(16), 0n)
  assert.equal(seg.readBigUInt64LE(24), 1_700_000_001_000n)
  assert.equal(seg.readUInt32LE(32), 1)
  assert.equal(seg.readUInt32LE(40), 20)
  assert.equal(seg.subarray(44, 53).toString('latin1'), 'golden-0:')
  assert.equal(seg.readUInt32LE(4), crc32c(seg.subarray(8, 64)))
})

test('format 1 golden log: every record, offset, timestamp and byte reads back exactly', async (t) => {
  const manifest = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'v1/manifest.json'), 'utf8')) as Manifest
  assert.equal(manifest.records.length, 45)
  const dir = copyFixture(t, path.join(GOLDEN, 'v1/log'))
  const before = new Map(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f))]))

  // The files themselves decode to what the writer meant.
  const cp = decodeCheckpoint(fs.readFileSync(path.join(dir, 'checkpoint')))
  assert.deepEqual(cp, { segmentBase: 36, position: 696, nextOffset: 45, clean: true })
  const bases = [0, 10, 24, 36]
  const ends = [10, 24, 36, 45]
  for (let i = 0; i < bases.length; i++) {
    const name = String(bases[i]).padStart(20, '0')
    const size = fs.statSync(path.join(dir, `${name}.log`)).size
    const index = SparseIndex.decode(fs.readFileSync(path.join(dir, `${name}.index`)), bases[i], size)
    assert.ok(index, `index of segment ${bases[i]} decodes`)
    assert.equal(index.nextOffset, ends[i])
    assert.equal(index.coveredBytes, size)
    assert.ok(index.count > 1)
  }

  for (const readOnly of [true, false]) {
    const log = await Log.open(dir, { readOnly })
    assert.equal(log.firstOffset, 0)
    assert.equal(log.nextOffset, 45)
    const got = []
    for await (const r of log.iterate()) got.push({ offset: r.offset, timestamp: r.timestamp, data: r.data.toString('hex') })
    assert.deepEqual(got, manifest.records)
    for (const want of [...manifest.records].reverse()) {
      const r = await log.read(want.offset)
      assert.deepEqual({ offset: r?.offset, timestamp: r?.timestamp, data: r?.data.toString('hex') }, want)
    }
    if (!readOnly) assert.equal(log.recovery.clean, true)
    await log.close()
  }
  const report = await Log.verify(dir)
  assert.equal(report.ok, true, JSON.stringify(report.faults))
  assert.equal(report.records, 45)
  // Reading an old log never rewrites its segments.
  for (const [f, bytes] of before) if (f.endsWith('.log')) assert.deepEqual(fs.readFileSync(path.join(dir, f)), bytes, f)
})

test('format 1 golden log with a pending truncate intent: the intent decodes and replays exactly', async (t) => {
  const manifest = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'v1/manifest.json'), 'utf8')) as Manifest
  const dir = copyFixture(t, path.join(GOLDEN, 'v1/log-with-intent'))
  const { intent, present } = readIntent(nodeFileSystem, dir)
  assert.equal(present, true)
  assert.ok(intent)
  assert.equal(intent.segmentBase, 36)
  assert.equal(intent.nextOffset, manifest.intentCutOffset)
  assert.equal(intent.replacement.readBigUInt64LE(16), BigInt(manifest.intentCutOffset - 1))

  const log = await Log.open(dir)
  assert.equal(log.recovery.replayedTruncate, true)
  assert.equal(log.nextOffset, manifest.intentCutOffset)
  const got = []
  for await (const r of log.iterate()) got.push({ offset: r.offset, timestamp: r.timestamp, data: r.data.toString('hex') })
  assert.deepEqual(got, manifest.records.slice(0, manifest.intentCutOffset))
  await log.close()
  assert.equal(fs.existsSync(path.join(dir, 'truncate.pending')), false)
})

test('format 1.1 golden logs (identity, log tag, gaps file): read exactly, the gap reported, the tag checked', async (t) => {
  const root = path.join(GOLDEN, 'v1.1')
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'manifest.json'), 'utf8')) as Manifest & { gap: { from: number; to: number } }
  const identity = decodeIdentity(fs.readFileSync(path.join(root, 'log/identity')))
  assert.ok(identity)
  const seg = fs.readFileSync(path.join(root, 'log/00000000000000000000.log'))
  assert.equal(seg.readUInt32LE(36), identity.tag, 'bytes 36-39 of every batch hold the log tag')
  assert.equal(seg.readUInt32LE(4), crc32c(seg.subarray(8, seg.readUInt32LE(12))), 'the tag is under the checksum')

  const dir = copyFixture(t, path.join(root, 'log'))
  const log = await Log.open(dir)
  assert.equal(log.id, identity.id)
  const got = []
  for await (const r of log.iterate()) got.push({ offset: r.offset, timestamp: r.timestamp, data: r.data.toString('hex') })
  assert.deepEqual(got, manifest.records)
  await log.close()

  const gapDir = copyFixture(t, path.join(root, 'log-with-gap'))
  const { from, to } = manifest.gap
  const gapped = await Log.open(gapDir)
  assert.deepEqual(gapped.gaps, [{ from, to }])
  await assert.rejects(gapped.read(from), { code: 'ERR_OFFSET_LOST' })
  const kept = []
  for await (const r of gapped.iterate({ gaps: 'skip' })) kept.push({ offset: r.offset, timestamp: r.timestamp, data: r.data.toString('hex') })
  assert.deepEqual(kept, manifest.records.filter((r) => r.offset < from || r.offset >= to))
  await gapped.close()
  const report = await Log.verify(gapDir)
  assert.equal(report.ok, true, JSON.stringify(report.faults))
  assert.deepEqual(report.gaps, [{ from, to }])

  const intentDir = copyFixture(t, path.join(root, 'log-with-intent'))
  const replayed = await Log.open(intentDir)
  assert.equal(replayed.nextOffset, manifest.intentCutOffset)
  assert.deepEqual((await replayed.read(manifest.intentCutOffset - 1))?.data.toString('hex'), manifest.records[manifest.intentCutOffset - 1].data)
  await replayed.close()
})

test('a format 1 log stays without identity when written to again, and reads back', async (t) => {
  const dir = copyFixture(t, path.join(GOLDEN, 'v1/log'))
  const log = await Log.open(dir)
  assert.equal(log.id, undefined)
  assert.equal(await log.append('more'), 45)
  await log.close()
  assert.equal(fs.existsSync(path.join(dir, 'identity')), false)
  const again = await Log.open(dir, { readOnly: true })
  assert.equal((await again.read(45))?.data.toString(), 'more')
  assert.equal((await again.read(3))?.offset, 3)
  await again.close()
  assert.equal((await Log.verify(dir)).ok, true)
})
