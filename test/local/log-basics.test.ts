import assert from 'node:assert/strict'
import fs from 'node:fs'
import { test } from 'node:test'
import { Log, copyRecord, systemClock } from '../../src/index.js'
import { payload, tmpDir } from '../helpers/tmp.js'

test('append, read and iterate return every record byte for byte, across segment rolls and a reopen', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'never', segmentBytes: 8192 })
  const offsets: number[] = []
  for (let i = 0; i < 500; i++) offsets.push(await log.append(payload(i, 50 + (i % 200))))
  assert.deepEqual(offsets, [...Array(500).keys()])
  assert.equal(log.nextOffset, 500)
  assert.ok(log.segmentsInfo().length > 5, 'rolled into several segments')
  for (const i of [0, 1, 77, 250, 499]) {
    const rec = await log.read(i)
    assert.ok(rec)
    assert.equal(rec.offset, i)
    assert.deepEqual(rec.data, payload(i, 50 + (i % 200)))
    assert.ok(Math.abs(rec.timestamp - Date.now()) < 60_000)
  }
  await log.close()

  const again = await Log.open(dir, { sync: 'never', segmentBytes: 8192 })
  assert.equal(again.nextOffset, 500)
  assert.equal(again.recovery.clean, true)
  let expected = 120
  for await (const rec of again.iterate({ from: 120 })) {
    assert.equal(rec.offset, expected)
    assert.deepEqual(rec.data, payload(expected, 50 + (expected % 200)))
    expected++
  }
  assert.equal(expected, 500)
  const r = await again.read(321)
  assert.deepEqual(r?.data, payload(321, 50 + (321 % 200)))
  await again.close()
})

test('appendBatch assigns contiguous offsets and strings are stored as UTF-8', async (t) => {
  const dir = tmpDir(t)
  await using log = await Log.open(dir, { sync: 'always' })
  assert.equal(await log.append('héllo'), 0)
  const res = await log.appendBatch(['a', Buffer.from([1, 2, 3]), new Uint8Array([9])])
  assert.deepEqual(res, { first: 1, last: 3 })
  assert.equal((await log.read(0))?.data.toString('utf8'), 'héllo')
  assert.deepEqual([...(await log.read(2))!.data], [1, 2, 3])
  assert.equal(log.durableOffset, 4)
  const empty = await log.append(new Uint8Array(0))
  assert.equal((await log.read(empty))?.data.length, 0)
})

test('iterate honours from/to and stops at the end without follow', async (t) => {
  const dir = tmpDir(t)
  await using log = await Log.open(dir, { sync: 'never' })
  for (let i = 0; i < 50; i++) await log.append(`r${i}`)
  const seen: string[] = []
  for await (const rec of log.iterate({ from: 10, to: 15 })) seen.push(rec.data.toString())
  assert.deepEqual(seen, ['r10', 'r11', 'r12', 'r13', 'r14'])
  let n = 0
  for await (const _ of log.iterate({ from: 60 })) n++
  assert.equal(n, 0)
  const streamed: number[] = []
  for await (const rec of log.createReadStream({ from: 45 })) streamed.push(rec.offset)
  assert.deepEqual(streamed, [45, 46, 47, 48, 49])
})

test('views from iterate stay valid after the iterator moves on; copyRecord detaches them', async (t) => {
  const dir = tmpDir(t)
  await using log = await Log.open(dir, { sync: 'never' })
  for (let i = 0; i < 3000; i++) await log.append(payload(i, 700))
  const kept = []
  for await (const rec of log.iterate()) if (rec.offset % 1000 === 0) kept.push(rec)
  for (const rec of kept) assert.deepEqual(rec.data, payload(rec.offset, 700))
  const copy = copyRecord(kept[1])
  assert.notEqual(copy.data.buffer, kept[1].data.buffer)
  assert.deepEqual(copy.data, kept[1].data)
})

test('follow waits for new appends and ends when aborted', async (t) => {
  const dir = tmpDir(t)
  await using log = await Log.open(dir, { sync: 'never' })
  await log.append('first')
  const ac = new AbortController()
  const got: string[] = []
  const reader = (async () => {
    for await (const rec of log.iterate({ follow: true, signal: ac.signal })) {
      got.push(rec.data.toString())
      if (got.length === 3) ac.abort()
    }
  })()
  await log.append('second')
  await log.append('third')
  await log.append('fourth')
  await reader
  assert.deepEqual(got, ['first', 'second', 'third'])
})

test('a following iterator ends when the log closes', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'never' })
  await log.append('x')
  let n = 0
  let closing: Promise<void> | undefined
  for await (const _ of log.iterate({ follow: true })) {
    n++
    if (n === 1) closing = log.close()
  }
  await closing
  assert.equal(n, 1)
})

test('sync modes: always resolves after fsync, never/interval resolve at once and sync() makes durable', async (t) => {
  for (const sync of ['always', 'never', { intervalMs: 5 }] as const) {
    const dir = tmpDir(t)
    const log = await Log.open(dir, { sync })
    const offs = await Promise.all([log.append('a'), log.append('b'), log.append('c')])
    assert.deepEqual(offs, [0, 1, 2])
    if (sync === 'always') assert.equal(log.durableOffset, 3)
    await log.sync()
    assert.equal(log.durableOffset, 3)
    await log.close()
    const files = fs.readdirSync(dir).sort()
    assert.ok(files.includes('00000000000000000000.log') && files.includes('checkpoint'))
  }
})

test('truncate drops the tail, including inside a batch, durably and across segments', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'never', segmentBytes: 4096 })
  for (let i = 0; i < 20; i++) await log.appendBatch([payload(i * 10, 60), payload(i * 10 + 1, 60), payload(i * 10 + 2, 60)])
  assert.equal(log.nextOffset, 60)
  const segmentsBefore = log.segmentsInfo().length
  await log.truncate(31) // inside a batch of three
  assert.equal(log.nextOffset, 31)
  assert.ok(log.segmentsInfo().length < segmentsBefore)
  assert.equal(await log.read(31), undefined)
  assert.ok(await log.read(30))
  assert.equal(await log.append('new-31'), 31)
  await log.close()
  const again = await Log.open(dir, { sync: 'never', segmentBytes: 4096 })
  assert.equal(again.nextOffset, 32)
  assert.equal((await again.read(31))?.data.toString(), 'new-31')
  let n = 0
  for await (const rec of again.iterate()) {
    if (rec.offset < 30) assert.deepEqual(rec.data, payload(Math.floor(rec.offset / 3) * 10 + (rec.offset % 3), 60))
    n++
  }
  assert.equal(n, 32)
  const report = await Log.verify(dir)
  assert.equal(report.ok, true, JSON.stringify(report.faults))
  await again.close()
})

test('retention by bytes deletes whole sealed segments; deleteBefore moves firstOffset', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'never', segmentBytes: 2048, retention: { maxBytes: 8192 } })
  for (let i = 0; i < 400; i++) await log.append(payload(i, 64))
  await log.sync()
  const info = log.segmentsInfo()
  const total = info.reduce((a, s) => a + s.bytes, 0)
  assert.ok(total <= 8192 + 2048 + 1024, `kept ${total} bytes`)
  assert.ok(log.firstOffset > 0)
  assert.equal(await log.read(0), undefined)
  const first = log.firstOffset
  assert.deepEqual((await log.read(first))?.data, payload(first, 64))
  const newFirst = await log.deleteBefore(350)
  assert.ok(newFirst <= 350 && newFirst > first)
  assert.deepEqual((await log.read(350))?.data, payload(350, 64))
  const offsets: number[] = []
  for await (const rec of log.iterate({ from: 0 })) offsets.push(rec.offset)
  assert.equal(offsets[0], newFirst)
  assert.equal(offsets.at(-1), 399)
  await log.close()
})

test('retention by age deletes sealed segments whose newest record is older than maxAgeMs (record timestamps, not file times)', async (t) => {
  const dir = tmpDir(t)
  // Records stamped an hour ago on the log's clock; the files themselves are brand new.
  const anHourAgo = { now: () => Date.now() - 3_600_000, every: systemClock.every }
  let log = await Log.open(dir, { sync: 'never', segmentBytes: 1024, clock: anHourAgo })
  for (let i = 0; i < 100; i++) await log.append(payload(i, 64))
  await log.close()
  // A file time in the past alone deletes nothing: the newest record is what counts.
  const touched = await Log.open(dir, { sync: 'never', segmentBytes: 1024 })
  for (let i = 100; i < 130; i++) await touched.append(payload(i, 64))
  await touched.close()
  const old = new Date(Date.now() - 7_200_000)
  for (const f of fs.readdirSync(dir)) if (f.endsWith('.log')) fs.utimesSync(`${dir}/${f}`, old, old)
  log = await Log.open(dir, { sync: 'never', segmentBytes: 1024, retention: { maxAgeMs: 60_000 } })
  assert.ok(log.segmentsInfo().length > 1, 'segments holding recent records stay, whatever their file time')
  assert.equal((await log.read(100))?.data.length, 64, 'the recent records are kept')
  assert.equal(await log.read(0), undefined, 'the hour-old records are gone')
  await log.close()
  log = await Log.open(dir, { sync: 'never', segmentBytes: 1024, retention: { maxAgeMs: 60_000 }, clock: { now: () => Date.now() + 3_600_000, every: systemClock.every } })
  assert.equal(log.segmentsInfo().length, 1, 'only the active segment is left')
  assert.ok(log.firstOffset > 0)
  assert.equal(log.nextOffset, 130)
  await log.close()
})

test('Symbol.asyncDispose closes the log and releases the lock', async (t) => {
  const dir = tmpDir(t)
  {
    await using log = await Log.open(dir)
    await log.append('x')
  }
  const again = await Log.open(dir)
  assert.equal(again.nextOffset, 1)
  await again.close()
  await again.close() // idempotent
})

test('reads across many segments keep a bounded set of indexes loaded, and truncate into an old one still works', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'never', segmentBytes: 1024 })
  for (let i = 0; i < 2000; i++) await log.append(payload(i, 60))
  assert.ok(log.segmentsInfo().length > 40)
  for (let k = 0; k < 3; k++) {
    for (let i = 0; i < 2000; i += 37) assert.deepEqual((await log.read(i))?.data, payload(i, 60))
  }
  await log.truncate(55)
  assert.equal(await log.append('after-truncate'), 55)
  for (let i = 0; i < 55; i += 5) assert.deepEqual((await log.read(i))?.data, payload(i, 60))
  assert.equal((await log.read(55))?.data.toString(), 'after-truncate')
  for (let i = 56; i < 200; i++) await log.append(payload(i, 60))
  for (let i = 56; i < 200; i += 11) assert.deepEqual((await log.read(i))?.data, payload(i, 60))
  await log.close()
  assert.equal((await Log.verify(dir)).ok, true)
})

test('appends made while truncate runs wait for it and land after the cut', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'always', segmentBytes: 2048 })
  for (let i = 0; i < 100; i++) await log.append(payload(i, 50))
  const truncating = log.truncate(40)
  const appended = [log.append('a'), log.appendBatch(['b', 'c']), log.append('d')]
  await truncating
  assert.deepEqual(await Promise.all(appended), [40, { first: 41, last: 42 }, 43])
  const closing = log.close()
  await closing
  const again = await Log.open(dir, { segmentBytes: 2048 })
  assert.equal(again.nextOffset, 44)
  assert.equal((await again.read(41))?.data.toString(), 'b')
  assert.deepEqual((await again.read(39))?.data, payload(39, 50))
  await again.close()
})

test('Log.verify reports progress per segment and stops when its signal aborts', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'never', segmentBytes: 1024 })
  for (let i = 0; i < 200; i++) await log.append(payload(i, 60))
  await log.close()
  const progress: number[] = []
  const report = await Log.verify(dir, { onProgress: (done, total) => { progress.push(done); assert.ok(done <= total) } })
  assert.equal(report.ok, true)
  assert.equal(progress.length, report.segments)
  assert.equal(progress.at(-1), report.bytes)
  const ac = new AbortController()
  const seen: number[] = []
  await assert.rejects(Log.verify(dir, { signal: ac.signal, onProgress: (done) => { seen.push(done); if (seen.length === 2) ac.abort() } }), { name: 'AbortError' })
  assert.equal(seen.length, 2)
})
