// A close after only reads writes nothing: the segment, its index file and the clean checkpoint
// already hold what a clean close writes. Any change since the open (an append, a truncate even
// re-appended to the same length, a roll, an index rebuilt at open) still gets the full clean
// close. Counted through the FileSystem seam, not timed.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test, type TestContext } from 'node:test'
import { Log, type LogOptions } from '../../src/index.js'
import { nodeFileSystem, type FileHandle, type FileSystem } from '../../src/io/file-system.js'
import { manualClock } from '../helpers/manual-clock.js'
import { payload, tmpDir } from '../helpers/tmp.js'

type RecordingFs = FileSystem & { changes: string[] }

/** Records every call that can change a file or make one durable, by kind and file name. */
function recordingFs(): RecordingFs {
  const changes: string[] = []
  const note = (what: string, file: string): void => {
    changes.push(`${what} ${path.basename(file)}`)
  }
  const fsys: RecordingFs = Object.assign(Object.create(nodeFileSystem) as FileSystem, {
    changes,
    open(file: string, mode: Parameters<FileSystem['open']>[1]): FileHandle {
      const handle = nodeFileSystem.open(file, mode)
      if (mode !== 'read') note(`open-${mode}`, file)
      return Object.assign(Object.create(handle) as FileHandle, {
        write: (buf: Uint8Array, offset: number, length: number, position: number) => {
          note('write', file)
          handle.write(buf, offset, length, position)
        },
        truncate: (size: number) => {
          note('truncate', file)
          handle.truncate(size)
        },
        datasync: () => {
          note('datasync', file)
          return handle.datasync()
        },
        read: (buf: Uint8Array, offset: number, length: number, position: number) => handle.read(buf, offset, length, position),
        size: () => handle.size(),
        close: () => handle.close(),
      })
    },
    writeFile(file: string, data: Uint8Array, sync: boolean) {
      note('writeFile', file)
      nodeFileSystem.writeFile(file, data, sync)
    },
    rename(from: string, to: string) {
      note('rename', to)
      nodeFileSystem.rename(from, to)
    },
    syncDir(dir: string) {
      note('syncDir', dir)
      return nodeFileSystem.syncDir(dir)
    },
  })
  return fsys
}

const N = 3000
const OPTIONS = { sync: 'never', segmentBytes: 256 << 10, indexIntervalBytes: 4096 } as const

async function written(dir: string, count = N): Promise<void> {
  const log = await Log.open(dir, OPTIONS)
  for (let i = 0; i < count; i += 100) await log.appendBatch(Array.from({ length: 100 }, (_, k) => payload(i + k, 120)))
  await log.close()
}

async function expectRecords(dir: string, count: number, data: (i: number) => Buffer): Promise<void> {
  await using log = await Log.open(dir, OPTIONS)
  assert.equal(log.recovery.clean, true, 'the close before was clean')
  assert.equal(log.nextOffset, count)
  let i = 0
  for await (const r of log.iterate()) {
    assert.equal(r.offset, i)
    assert.ok(r.data.equals(data(i)), `record ${i}`)
    i++
  }
  assert.equal(i, count)
  // Point reads go through the active segment's index.
  for (let k = 0; k < count; k += 97) assert.ok((await log.read(k))?.data.equals(data(k)), `read ${k}`)
}

/** The files' bytes (LOCK aside), to show a close changed nothing. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const name of fs.readdirSync(dir).sort()) if (name !== 'LOCK') out.set(name, fs.readFileSync(path.join(dir, name)).toString('base64'))
  return out
}

/** A written log in a fresh directory, opened again through a recording FileSystem. */
async function reopenedRecording(t: TestContext, options: LogOptions = {}): Promise<{ dir: string; fsys: RecordingFs; log: Log }> {
  const dir = tmpDir(t)
  await written(dir)
  const fsys = recordingFs()
  return { dir, fsys, log: await Log.open(dir, { ...OPTIONS, ...options, fileSystem: fsys }) }
}

/** What `log.close()` changed on disk (LOCK's removal aside). */
async function changedByClose(fsys: RecordingFs, log: Log): Promise<string[]> {
  const before = fsys.changes.length
  await log.close()
  return fsys.changes.slice(before).filter((c) => !c.endsWith(' LOCK'))
}

test('a close after only reads writes, renames and fsyncs nothing, and the next open is clean', async (t) => {
  const { dir, fsys, log } = await reopenedRecording(t)
  const before = snapshot(dir)
  assert.equal(log.recovery.clean, true)
  for (let k = 0; k < N; k += 131) assert.ok((await log.read(k))?.data.equals(payload(k, 120)))
  let n = 0
  for await (const r of log.iterate({ from: 1000 })) n += r.data.length > 0 ? 1 : 0
  assert.equal(n, N - 1000)
  await log.sync()
  assert.deepEqual(await changedByClose(fsys, log), [], 'the close changed no file')
  assert.deepEqual(snapshot(dir), before)
  await expectRecords(dir, N, (i) => payload(i, 120))
})

test('appends since the open get the full clean close', async (t) => {
  const { dir, fsys, log } = await reopenedRecording(t)
  await log.append(payload(N, 120))
  const byClose = await changedByClose(fsys, log)
  assert.ok(byClose.some((c) => c.startsWith('rename checkpoint')), `checkpoint rewritten: ${byClose.join(', ')}`)
  assert.ok(byClose.some((c) => c.startsWith('writeFile') && c.endsWith('.index')), 'index rewritten')
  await expectRecords(dir, N + 1, (i) => payload(i, 120))
})

test('a truncate re-appended to the same length and sizes is not mistaken for no change', async (t) => {
  const dir = tmpDir(t)
  await written(dir)
  const other = (i: number): Buffer => (i < 1500 ? payload(i, 120) : Buffer.alloc(120, i % 251))
  {
    const log = await Log.open(dir, OPTIONS)
    const size = log.segmentsInfo().at(-1)?.bytes
    await log.truncate(1500)
    for (let i = 1500; i < N; i += 100) await log.appendBatch(Array.from({ length: 100 }, (_, k) => other(i + k)))
    assert.equal(log.nextOffset, N)
    assert.equal(log.segmentsInfo().at(-1)?.bytes, size, 'the same offsets and bytes in the active segment as at open')
    await log.close()
  }
  await expectRecords(dir, N, other)
})

test('an index rebuilt at open (its file was missing) is written by the close after only reads', async (t) => {
  const dir = tmpDir(t)
  await written(dir)
  const indexes = fs.readdirSync(dir).filter((n) => n.endsWith('.index')).sort()
  const active = indexes[indexes.length - 1]
  const bytes = fs.readFileSync(path.join(dir, active))
  fs.unlinkSync(path.join(dir, active))
  {
    await using log = await Log.open(dir, OPTIONS)
    assert.ok((await log.read(N - 1))?.data.equals(payload(N - 1, 120)))
  }
  assert.ok(fs.readFileSync(path.join(dir, active)).equals(bytes), 'the close wrote the index again')
  await expectRecords(dir, N, (i) => payload(i, 120))
})

test('segments deleted since the open: the close after only deletes makes the directory durable, and writes nothing else', async (t) => {
  const { dir, fsys, log } = await reopenedRecording(t)
  const sealed = log.segmentsInfo()
  assert.ok(sealed.length >= 2, 'the log has sealed segments')
  const cut = sealed[1].base
  await log.deleteBefore(cut)
  const byClose = await changedByClose(fsys, log)
  assert.ok(byClose.length <= 1 && byClose.every((c) => c.startsWith('syncDir')), `only the directory: ${byClose.join(', ')}`)
  await using again = await Log.open(dir, OPTIONS)
  assert.equal(again.recovery.clean, true)
  assert.equal(again.firstOffset, cut)
  assert.equal(again.nextOffset, N)
  assert.ok((await again.read(N - 1))?.data.equals(payload(N - 1, 120)))
})

test('segments retention deleted since the open: the close after only that fsyncs the directory once, and writes nothing else', async (t) => {
  // Retention at open deletes without an fsync of its own (the next round owns the directory's),
  // so with no round before it the close must make the deletions durable.
  const { dir, fsys, log } = await reopenedRecording(t, { retention: { maxBytes: 300 << 10 } })
  const first = log.firstOffset
  assert.ok(first > 0, 'retention deleted segments at open')
  assert.deepEqual(await changedByClose(fsys, log), [`syncDir ${path.basename(dir)}`])
  await using again = await Log.open(dir, OPTIONS)
  assert.equal(again.recovery.clean, true)
  assert.equal(again.firstOffset, first)
  assert.equal(again.nextOffset, N)
})

test('an active index rebuilt at open keeps the newest timestamp: age retention does not delete its segment once an age roll seals it', async (t) => {
  const dir = tmpDir(t)
  const clock = manualClock(1_780_000_000_000)
  {
    await using log = await Log.open(dir, { ...OPTIONS, clock })
    await log.appendBatch(Array.from({ length: 50 }, (_, k) => payload(k, 120)))
  }
  const active = fs.readdirSync(dir).filter((n) => n.endsWith('.index')).sort().at(-1) as string
  fs.unlinkSync(path.join(dir, active))
  clock.advance(60_000)
  // An hour's retention: records one minute old must stay. The age roll seals the segment with no
  // append after the open, so only the rebuilt index says how new its records are.
  const log = await Log.open(dir, { ...OPTIONS, clock, rollAfterMs: 1000, retention: { maxAgeMs: 3_600_000 } })
  clock.advance(1000)
  clock.fire()
  assert.equal(log.segmentsInfo().length, 2, 'rolled by age')
  clock.fire()
  assert.equal(log.firstOffset, 0, 'the sealed segment is within retention')
  for (let k = 0; k < 50; k++) assert.ok((await log.read(k))?.data.equals(payload(k, 120)), `record ${k}`)
  await log.close()
})
