// A writer's open reads only the header and the last block of entries of its active segment's
// index (SparseIndex.decodeDeferred, issue 13, W5); the other entries are read on first use. The
// whole file must then pass every check an open used to make (checksum, header, the last block
// unchanged), or the index is rebuilt from the segment's batches: damage is never trusted (rule 20).
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test, type TestContext } from 'node:test'
import { Log, type FileSystem } from '../../src/index.js'
import { nodeFileSystem } from '../../src/testing/index.js'
import { INDEX_HEADER_BYTES, SparseIndex } from '../../src/local/sparse-index.js'
import { payload, tmpDir } from '../helpers/tmp.js'

const RECORDS = 2000
const SIZE = 100
// One index entry per record: 2,000 entries, 8 blocks of 256.
const OPTIONS = { sync: 'never', indexIntervalBytes: 64, segmentBytes: 1 << 20 } as const

/** The node file system, counting bytes read from index files (through handles and whole). */
function indexReads(): FileSystem & { bytes: number } {
  const counter = Object.assign(Object.create(nodeFileSystem) as FileSystem, {
    bytes: 0,
    open(file: string, mode: Parameters<FileSystem['open']>[1]) {
      const inner = nodeFileSystem.open(file, mode)
      if (!file.endsWith('.index')) return inner
      return { ...inner, path: inner.path, write: inner.write.bind(inner), datasync: inner.datasync.bind(inner), size: inner.size.bind(inner),
        truncate: inner.truncate.bind(inner), close: inner.close.bind(inner),
        read(buf: Uint8Array, offset: number, length: number, position: number) {
          const got = inner.read(buf, offset, length, position)
          counter.bytes += got
          return got
        } }
    },
    readFile(file: string) {
      const got = nodeFileSystem.readFile(file)
      if (file.endsWith('.index')) counter.bytes += got?.length ?? 0
      return got
    },
  })
  return counter
}

async function cleanLog(t: TestContext): Promise<{ dir: string; indexFile: string }> {
  const dir = tmpDir(t)
  const log = await Log.open(dir, OPTIONS)
  for (let b = 0; b < RECORDS / 100; b++) await log.appendBatch(Array.from({ length: 100 }, (_, j) => payload(b * 100 + j, SIZE)))
  await log.close()
  const indexFile = path.join(dir, fs.readdirSync(dir).find((n) => n.endsWith('.index')) as string)
  assert.equal(fs.readFileSync(indexFile).readUInt32LE(12), RECORDS, 'an entry per record, in one segment')
  return { dir, indexFile }
}

async function records(log: Log): Promise<number> {
  let n = 0
  for await (const r of log.iterate()) {
    assert.equal(r.offset, n)
    assert.deepEqual(Buffer.from(r.data), payload(n, SIZE), `record ${n}`)
    n++
  }
  return n
}

test('a writer\'s open reads the active index\'s header and last block; the rest on the first lookup', async (t) => {
  const { dir, indexFile } = await cleanLog(t)
  const fsys = indexReads()
  await using log = await Log.open(dir, { ...OPTIONS, fileSystem: fsys })
  const lastBlock = RECORDS - 7 * 256
  assert.equal(fsys.bytes, INDEX_HEADER_BYTES + lastBlock * 12, 'header and last block only')
  assert.deepEqual((await log.read(3))?.data, payload(3, SIZE))
  assert.equal(fsys.bytes, INDEX_HEADER_BYTES + lastBlock * 12 + fs.statSync(indexFile).size, 'then the whole file, once')
  assert.deepEqual((await log.read(1500))?.data, payload(1500, SIZE))
  assert.equal(await records(log), RECORDS)
  // A read-only handle reads the file whole at open: the writer may rewrite it at any time.
  const ro = indexReads()
  await using reader = await Log.open(dir, { ...OPTIONS, readOnly: true, fileSystem: ro })
  assert.equal(ro.bytes, fs.statSync(indexFile).size)
  assert.equal(reader.nextOffset, RECORDS)
})

test('an index body damaged on disk: open takes the header, the first lookup finds the damage and rebuilds; every record intact, also after appends and a reopen', async (t) => {
  const { dir, indexFile } = await cleanLog(t)
  const buf = fs.readFileSync(indexFile)
  // Entry 300's record position, not resealed: only the checksum over the whole file can tell.
  buf.writeUInt32LE(buf.readUInt32LE(INDEX_HEADER_BYTES + 300 * 12 + 4) + 8, INDEX_HEADER_BYTES + 300 * 12 + 4)
  fs.writeFileSync(indexFile, buf)
  {
    await using log = await Log.open(dir, OPTIONS)
    assert.equal(log.recovery.clean, true)
    assert.deepEqual((await log.read(300))?.data, payload(300, SIZE))
    assert.equal(await records(log), RECORDS)
    await log.appendBatch(Array.from({ length: 10 }, (_, i) => payload(RECORDS + i, SIZE)))
  }
  await using again = await Log.open(dir, OPTIONS)
  assert.equal(await records(again), RECORDS + 10)
  const report = await Log.verify(dir)
  assert.deepEqual(report.faults, [], 'the index written at close is whole')
})

test('an index body damaged on disk and no lookup before close: close does not write it back, the next open rebuilds; nothing lost', async (t) => {
  const { dir, indexFile } = await cleanLog(t)
  const buf = fs.readFileSync(indexFile)
  buf[INDEX_HEADER_BYTES + 100 * 12] ^= 0xff
  fs.writeFileSync(indexFile, buf)
  {
    await using log = await Log.open(dir, OPTIONS)
    assert.equal((await log.appendBatch(Array.from({ length: 10 }, (_, i) => payload(RECORDS + i, SIZE)))).first, RECORDS)
  }
  await using again = await Log.open(dir, OPTIONS)
  assert.equal(again.nextOffset, RECORDS + 10)
  for (const offset of [0, 100, 101, 1999, RECORDS + 9]) assert.deepEqual((await again.read(offset))?.data, payload(offset, SIZE), `record ${offset}`)
  assert.equal(await records(again), RECORDS + 10)
})

test('a roll after a deferred open writes the sealed segment\'s whole index', async (t) => {
  const { dir, indexFile } = await cleanLog(t)
  const sealedBytes = fs.statSync(indexFile.replace(/\.index$/, '.log')).size
  {
    // Small segments from now on: the next write rolls the active segment.
    await using log = await Log.open(dir, { ...OPTIONS, segmentBytes: 64 * 1024 })
    await log.appendBatch(Array.from({ length: 10 }, (_, i) => payload(RECORDS + i, SIZE)))
    assert.ok(log.segmentsInfo().length >= 2, 'rolled')
  }
  const nowBytes = fs.statSync(indexFile.replace(/\.index$/, '.log')).size
  assert.ok(nowBytes > sealedBytes, 'the appended batch went to the segment that was then sealed')
  const index = SparseIndex.decode(fs.readFileSync(indexFile), 0, nowBytes)
  assert.equal(index?.count, RECORDS + 10, 'every entry, the deferred ones included')
  assert.deepEqual((await Log.verify(dir)).faults, [])
  await using again = await Log.open(dir, OPTIONS)
  assert.equal(await records(again), RECORDS + 10)
})
