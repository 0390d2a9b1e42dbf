/**
 * Regression tests for issue 10's format and recovery defects (7, 8, 9 in part). Each failed on
 * commit 0aa50b0.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { Log } from '../../src/index.js'
import { crc32c, encodeBatch } from '../../src/format/index.js'
import type { SeglogError } from '../../src/errors.js'
import { batchPositions, flipByte, segmentFiles, setBatchVersion } from '../helpers/segments.js'
import { tmpDir } from '../helpers/tmp.js'

/** Records whose bytes, read at any misaligned position, look like a ~690 MiB length. */
function hostile(i: number): Buffer {
  const buf = Buffer.alloc(300, 0x29)
  buf.writeUInt32LE(i, 0)
  return buf
}

async function writeHostileLog(dir: string, indexIntervalBytes = 256): Promise<void> {
  const log = await Log.open(dir, { sync: 'never', segmentBytes: 8192, indexIntervalBytes })
  for (let i = 0; i < 120; i += 6) await log.appendBatch([0, 1, 2, 3, 4, 5].map((k) => hostile(i + k)))
  await log.close()
}

/** Rewrites an index file's entries with `edit` and recomputes its checksum, as a bad tool would. */
function editIndex(file: string, edit: (entries: Uint32Array) => void): void {
  const buf = fs.readFileSync(file)
  const entries = new Uint32Array(buf.buffer.slice(buf.byteOffset + 40, buf.byteOffset + buf.length))
  edit(entries)
  Buffer.from(entries.buffer).copy(buf, 40)
  buf.writeUInt32LE(crc32c(buf.subarray(8)), 4)
  fs.writeFileSync(file, buf)
}

async function checkEveryRecord(dir: string, readOnly = false): Promise<void> {
  const log = await Log.open(dir, { readOnly, indexIntervalBytes: 256 })
  try {
    for (let i = 0; i < 120; i++) {
      const r = await log.read(i)
      assert.equal(r?.offset, i)
      assert.equal(r?.data.length, 300, `record ${i} has its own length`)
      assert.deepEqual(r?.data, hostile(i), `record ${i} is its own bytes`)
    }
  } finally {
    await log.close()
  }
}

test('defect 7: an index entry moved inside a record (checksum recomputed) never yields foreign bytes or a huge buffer', async (t) => {
  for (const which of [0, -1]) {
    for (const readOnly of [false, true]) {
      const dir = tmpDir(t)
      await writeHostileLog(dir)
      const seg = segmentFiles(dir).at(which) as string
      editIndex(seg.replace(/\.log$/, '.index'), (e) => {
        // Every entry after the first points 2 bytes further: inside the record's size or payload.
        for (let j = 1; j * 3 < e.length; j++) e[j * 3 + 1] += 2
      })
      await checkEveryRecord(dir, readOnly)
    }
  }
})

test('defect 7: an index entry naming the wrong offset (checksum recomputed) never yields a neighbouring record', async (t) => {
  for (const which of [0, 1]) {
    const dir = tmpDir(t)
    await writeHostileLog(dir, 1000)
    const seg = segmentFiles(dir).at(which) as string
    editIndex(seg.replace(/\.log$/, '.index'), (e) => {
      // Shift the offsets of entries whose successor leaves room, so the index stays sorted.
      let shifted = 0
      for (let j = e.length / 3 - 1; j >= 1; j--) {
        if (j * 3 + 3 >= e.length || e[j * 3] + 1 < e[j * 3 + 3]) {
          e[j * 3] += 1
          shifted++
        }
      }
      assert.ok(shifted > 0)
    })
    await checkEveryRecord(dir)
  }
})

test('defect 7: an index whose entries name another batch position is detected and rebuilt', async (t) => {
  const dir = tmpDir(t)
  await writeHostileLog(dir)
  const seg = segmentFiles(dir)[0]
  const positions = batchPositions(seg)
  editIndex(seg.replace(/\.log$/, '.index'), (e) => {
    for (let j = 1; j * 3 < e.length; j++) if (e[j * 3 + 2] === positions[2]) e[j * 3 + 2] = positions[1]
  })
  await checkEveryRecord(dir)
  // The rebuilt index was written back: it now matches the segment.
  const report = await Log.verify(dir)
  assert.deepEqual(report.faults, [])
})

function openDescriptors(): number {
  return fs.readdirSync('/proc/self/fd').length
}

test('defect 9 (part): every open failing ERR_FORMAT_VERSION closes all its descriptors', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'always', segmentBytes: 1024 })
  for (let i = 0; i < 40; i++) await log.append(hostile(i).subarray(0, 40))
  await log.close()
  const files = segmentFiles(dir)
  assert.ok(files.length >= 3)
  const last = files.at(-1) as string
  setBatchVersion(last, batchPositions(last).at(-1) as number, 2)
  fs.rmSync(path.join(dir, 'checkpoint'))
  const before = openDescriptors()
  for (let i = 0; i < 20; i++) {
    await assert.rejects(Log.open(dir), { code: 'ERR_FORMAT_VERSION' })
    await assert.rejects(Log.open(dir, { readOnly: true }), { code: 'ERR_FORMAT_VERSION' })
  }
  assert.equal(openDescriptors(), before)
})

/** Leaves the log as a killed process would: no close, lock file gone. */
function abandon(log: Log): void {
  ;(log as unknown as { lock: { release(): void } }).lock.release()
}

async function plainLog(dir: string, n: number): Promise<void> {
  const log = await Log.open(dir, { sync: 'never' })
  for (let i = 0; i < n; i++) await log.append(hostile(i))
  await log.close()
}

test('defect 8: a torn tail whose payload holds a seglog batch is cut as torn, whatever offsets that batch claims', async (t) => {
  for (const embeddedBase of [0, 20, 21, 120]) {
    const dir = tmpDir(t)
    await plainLog(dir, 20)
    const log = await Log.open(dir, { sync: 'always' })
    const inner = encodeBatch([Buffer.from('inside-a-payload-1'), Buffer.from('inside-a-payload-2')], embeddedBase, 1_700_000_000_000)
    const payload = Buffer.concat([Buffer.alloc(64, 7), inner, Buffer.alloc(400, 9)])
    assert.equal(await log.append(payload), 20)
    abandon(log)
    const file = segmentFiles(dir)[0]
    const size = fs.statSync(file).size
    // The power cut tore the last write after the embedded batch, inside the trailing bytes.
    fs.truncateSync(file, size - 200)
    const again = await Log.open(dir)
    assert.equal(again.recovery.truncated?.reason, 'torn', `embedded base ${embeddedBase}`)
    assert.equal(again.recovery.truncated?.fromOffset, 20)
    assert.equal(again.nextOffset, 20)
    for (let i = 0; i < 20; i++) assert.deepEqual((await again.read(i))?.data, hostile(i))
    await again.close()
  }
})

test('defect 8: a complete batch with a valid checksum but the wrong offsets is corruption, not a torn write', async (t) => {
  const dir = tmpDir(t)
  await plainLog(dir, 20)
  const log = await Log.open(dir, { sync: 'always' })
  await log.append(hostile(20))
  abandon(log)
  const file = segmentFiles(dir)[0]
  const first = batchPositions(file)[0]
  const bytes = fs.readFileSync(file)
  // A duplicated (misdirected) write: a copy of an earlier, intact batch lands at the end.
  fs.appendFileSync(file, bytes.subarray(first, first + bytes.readUInt32LE(first + 12)))
  await assert.rejects(Log.open(dir), (err: SeglogError) => {
    assert.equal(err.code, 'ERR_CORRUPT')
    assert.match(err.message, /misplaced or misdirected/)
    assert.equal(err.details.file, file)
    assert.equal(err.details.position, bytes.length)
    return true
  })
  // Nothing before it is lost: a repair drops exactly the misplaced batch.
  const repaired = await Log.open(dir, { repair: true })
  assert.equal(repaired.nextOffset, 21)
  for (let i = 0; i < 21; i++) assert.deepEqual((await repaired.read(i))?.data, hostile(i))
  await repaired.close()
})

test('torn-versus-corrupt rule: a damaged length field over intact batches is still corruption, never cut as torn', async (t) => {
  for (const mask of [0x01, 0x10, 0x20]) {
    const dir = tmpDir(t)
    const log = await Log.open(dir, { sync: 'never' })
    for (let i = 0; i < 30; i += 3) await log.appendBatch([hostile(i), hostile(i + 1), hostile(i + 2)]).then(() => log.sync())
    await log.close()
    fs.rmSync(path.join(dir, 'checkpoint'))
    const file = segmentFiles(dir)[0]
    const pos = batchPositions(file)[4]
    flipByte(file, pos + 14, mask) // length's third byte: claims 64 KiB, 1 MiB or 2 MiB more
    await assert.rejects(Log.open(dir), { code: 'ERR_CORRUPT' }, `mask ${mask}`)
    const again = await Log.open(dir, { repair: true })
    for (let i = 0; i < 12; i++) assert.deepEqual((await again.read(i))?.data, hostile(i))
    await again.close()
  }
})

/** Iterates from several starting offsets and checks every record is its own, in order. */
async function checkIteration(dir: string, readOnly = false): Promise<void> {
  const log = await Log.open(dir, { readOnly, indexIntervalBytes: 256 })
  try {
    for (let from = 0; from < 120; from += 5) {
      let expected = from
      for await (const r of log.iterate({ from })) {
        assert.equal(r.offset, expected, `iterate({ from: ${from} }) yields offsets in order`)
        assert.deepEqual(Buffer.from(r.data), hostile(expected), `record ${expected} is its own bytes`)
        expected++
      }
      assert.equal(expected, 120, `iterate({ from: ${from} }) reaches the end`)
    }
  } finally {
    await log.close()
  }
}

test('defect 7, iterator: a seek through an index whose entries name the wrong position or offset rebuilds the index instead of failing ERR_CORRUPT', async (t) => {
  const edits: ((e: Uint32Array, positions: number[]) => void)[] = [
    (e) => { for (let j = 1; j * 3 < e.length; j++) e[j * 3 + 1] += 2 },
    (e, positions) => { for (let j = 1; j * 3 < e.length; j++) if (e[j * 3 + 2] === positions[2]) e[j * 3 + 2] = positions[1] },
    (e, positions) => { for (let j = 1; j * 3 < e.length; j++) if (e[j * 3 + 2] === positions[3]) e[j * 3 + 2] = positions[3] + 7 },
  ]
  for (const edit of edits) {
    for (const readOnly of [false, true]) {
      const dir = tmpDir(t)
      await writeHostileLog(dir)
      for (const seg of segmentFiles(dir).slice(0, -1)) {
        const positions = batchPositions(seg)
        editIndex(seg.replace(/\.log$/, '.index'), (e) => edit(e, positions))
      }
      await checkIteration(dir, readOnly)
    }
  }
})
