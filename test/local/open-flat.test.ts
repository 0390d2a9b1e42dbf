// A writer's open is flat in the number of segments (issue 13, W5): it stats only the last
// segment; a sealed segment's size is read from its file when something first needs it (a read,
// retention, segmentsInfo). Counted through the FileSystem seam, not timed.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { Log } from '../../src/index.js'
import { nodeFileSystem, type FileSystem } from '../../src/io/file-system.js'
import { payload, tmpDir } from '../helpers/tmp.js'

type StatCountingFs = FileSystem & { stats: string[] }

function statCountingFs(): StatCountingFs {
  const counter: StatCountingFs = Object.assign(Object.create(nodeFileSystem) as FileSystem, {
    stats: [] as string[],
    stat(file: string) {
      counter.stats.push(path.basename(file))
      return nodeFileSystem.stat(file)
    },
  })
  return counter
}

const segmentStats = (fsys: StatCountingFs): string[] => fsys.stats.filter((n) => n.endsWith('.log'))

/** A log of about 20 segments of 4 KiB; returns the records written and each segment's size on disk. */
async function manySegments(dir: string): Promise<{ count: number; sizes: Map<string, number> }> {
  const log = await Log.open(dir, { sync: 'never', segmentBytes: 4096 })
  let count = 0
  while (log.segmentsInfo().length < 20) {
    await log.appendBatch(Array.from({ length: 10 }, () => payload(count++, 100)))
  }
  await log.close()
  const sizes = new Map<string, number>()
  for (const name of fs.readdirSync(dir)) if (name.endsWith('.log')) sizes.set(name, fs.statSync(path.join(dir, name)).size)
  return { count, sizes }
}

test('a writer\'s open stats only the last segment; sealed sizes are read on first use and match the files', async (t) => {
  const dir = tmpDir(t)
  const { count, sizes } = await manySegments(dir)
  const names = [...sizes.keys()].sort()
  const fsys = statCountingFs()
  await using log = await Log.open(dir, { sync: 'never', segmentBytes: 4096, fileSystem: fsys })
  assert.deepEqual(segmentStats(fsys).filter((n) => n !== names[names.length - 1]), [], 'no sealed segment is stat-ed at open')

  // Reads across every segment use the sizes: each record comes back whole.
  for (let i = 0; i < count; i += 37) assert.deepEqual((await log.read(i))?.data, payload(i, 100), `record ${i}`)
  assert.equal(log.readSync(count - 1)?.data.equals(payload(count - 1, 100)), true)
  const info = log.segmentsInfo()
  assert.deepEqual(info.map((s) => [path.basename(s.path), s.bytes]), names.map((n) => [n, sizes.get(n)]))
  // Each sealed segment's file is stat-ed at most once, however often its size is asked for.
  log.segmentsInfo()
  const perName = new Map<string, number>()
  for (const n of segmentStats(fsys)) perName.set(n, (perName.get(n) ?? 0) + 1)
  for (const [n, k] of perName) assert.ok(k <= 2, `${n} stat-ed ${k} times`)

  // And appends go on after them.
  const next = await log.append(payload(count, 100))
  assert.equal(next, count)
})

test('byte retention after a flat open counts every sealed segment by its file size', async (t) => {
  const dir = tmpDir(t)
  const { count, sizes } = await manySegments(dir)
  const total = [...sizes.values()].reduce((a, b) => a + b, 0)
  const limit = Math.floor(total / 2)
  await using log = await Log.open(dir, { sync: 'never', segmentBytes: 4096, retention: { maxBytes: limit }, fileSystem: statCountingFs() })
  // Retention ran at open: it deleted the oldest segments exactly while the total was above the limit.
  const left = log.segmentsInfo()
  const kept = left.reduce((a, s) => a + s.bytes, 0)
  const deleted = [...sizes.keys()].sort().filter((n) => !left.some((s) => path.basename(s.path) === n))
  assert.ok(deleted.length > 0, 'some segments were deleted')
  assert.ok(kept <= limit, `kept ${kept} bytes against a ${limit}-byte limit`)
  assert.ok(kept + sizes.get(deleted[deleted.length - 1])! > limit, 'the last segment deleted was needed to get under the limit')
  for (const s of left) assert.equal(s.bytes, sizes.get(path.basename(s.path)))
  // Every record still in the log reads back.
  for (let i = log.firstOffset; i < count; i++) assert.deepEqual((await log.read(i))?.data, payload(i, 100), `record ${i}`)
})

test('a read-only open and an open after a crash mid-log still see every sealed segment\'s size', async (t) => {
  const dir = tmpDir(t)
  const { count, sizes } = await manySegments(dir)
  {
    await using reader = await Log.open(dir, { readOnly: true })
    assert.deepEqual(reader.segmentsInfo().map((s) => s.bytes), [...sizes.keys()].sort().map((n) => sizes.get(n)))
    assert.deepEqual((await reader.read(count - 1))?.data, payload(count - 1, 100))
  }
  // No checkpoint: recovery must check the sealed segments it cannot trust, reading their sizes.
  fs.rmSync(path.join(dir, 'checkpoint'), { force: true })
  await using log = await Log.open(dir, { sync: 'never', segmentBytes: 4096 })
  assert.equal(log.nextOffset, count)
  for (let i = 0; i < count; i += 11) assert.deepEqual((await log.read(i))?.data, payload(i, 100), `record ${i}`)
})
