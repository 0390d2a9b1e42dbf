// Regression tests for issue 10 defect 2: the age-retention timer ran during truncate().
//
// The periodic retention ignored the exclusive gate, so it deleted sealed segments while
// truncate() was between recording its intent and applying it: the truncate then failed (and every
// open replayed an intent for a deleted file), or — because truncate reused a segment index
// computed before its awaits — the active segment was later deleted, acknowledged records vanished
// and reopen reported a clean, empty log. Every background job now runs under the same gate, and
// nothing deletes the active segment.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { Log, type FileSystem } from '../../src/index.js'
import { nodeFileSystem } from '../../src/testing/index.js'
import { manualClock } from '../helpers/manual-clock.js'
import { payload, tmpDir } from '../helpers/tmp.js'

/** The real file system, but the directory fsync that makes the truncate intent durable waits for `release()`. */
function holdIntentSync(dir: string): { fsys: FileSystem; reached: Promise<void>; release: () => void } {
  let reachedResolve: () => void = () => undefined
  const reached = new Promise<void>((resolve) => {
    reachedResolve = resolve
  })
  let releaseResolve: () => void = () => undefined
  const released = new Promise<void>((resolve) => {
    releaseResolve = resolve
  })
  let held = false
  const fsys: FileSystem = {
    ...nodeFileSystem,
    async syncDir(d) {
      if (!held && fs.existsSync(path.join(dir, 'truncate.pending'))) {
        held = true
        reachedResolve()
        await released
      }
      return nodeFileSystem.syncDir(d)
    },
  }
  return { fsys, reached, release: releaseResolve }
}

async function readAll(log: Log): Promise<Map<number, Buffer>> {
  const out = new Map<number, Buffer>()
  for await (const r of log.iterate()) out.set(r.offset, Buffer.from(r.data))
  return out
}

test('age retention firing while truncate() rewrites files deletes nothing the truncate uses, and never the active segment', async (t) => {
  const dir = tmpDir(t)
  const clock = manualClock()
  const hold = holdIntentSync(dir)
  const log = await Log.open(dir, { sync: 'never', segmentBytes: 1024, retention: { maxAgeMs: 1000 }, clock, fileSystem: hold.fsys })
  for (let i = 0; i < 60; i++) await log.append(payload(i, 100))
  await log.sync()
  const segmentsBefore = log.segmentsInfo()
  assert.ok(segmentsBefore.length >= 5, 'several sealed segments')
  // Cut inside the third segment: the truncate rewrites it and deletes every later one.
  const cut = segmentsBefore[2].base + 2
  const truncating = log.truncate(cut)
  await hold.reached
  // Every segment is now older than maxAgeMs on the log's clock, and the timer fires mid-truncate.
  clock.advance(10 * 60_000)
  clock.fire()
  hold.release()
  await truncating
  assert.equal(log.nextOffset, cut)
  // After the truncate, retention may run: it deletes sealed segments only.
  clock.fire()
  for (let i = 0; i < 5; i++) assert.equal(await log.append(payload(1000 + i, 100)), cut + i)
  clock.fire()
  const info = log.segmentsInfo()
  assert.ok(fs.existsSync(info[info.length - 1].path), 'the active segment exists')
  await log.close()

  const reopened = await Log.open(dir, { sync: 'never' })
  try {
    assert.equal(reopened.nextOffset, cut + 5, 'every record appended after the truncate is there')
    assert.ok(reopened.firstOffset <= info[info.length - 1].base, 'retention removed whole sealed segments only')
    const records = await readAll(reopened)
    for (let o = reopened.firstOffset; o < reopened.nextOffset; o++) {
      const want = o < cut ? payload(o, 100) : payload(1000 + o - cut, 100)
      assert.deepEqual(records.get(o), want, `offset ${o}`)
    }
  } finally {
    await reopened.close()
  }
})

test('deleteBefore and the retention timer wait for a truncate in progress; the segment list is derived after every await', async (t) => {
  const dir = tmpDir(t)
  const clock = manualClock()
  const hold = holdIntentSync(dir)
  const log = await Log.open(dir, { sync: 'always', segmentBytes: 1024, retention: { maxAgeMs: 1000 }, clock, fileSystem: hold.fsys })
  for (let i = 0; i < 40; i++) await log.append(payload(i, 100))
  const info = log.segmentsInfo()
  const cut = info[info.length - 2].base + 1
  const truncating = log.truncate(cut)
  await hold.reached
  const deleting = log.deleteBefore(info[2].base)
  const appended = log.append(payload(500, 100))
  clock.advance(10 * 60_000)
  clock.fire()
  hold.release()
  await truncating
  assert.equal(await appended, cut, 'the append waited for the truncate')
  assert.equal(await deleting, info[2].base)
  await log.close()
  const reopened = await Log.open(dir)
  try {
    assert.equal(reopened.nextOffset, cut + 1)
    assert.deepEqual((await reopened.read(cut))?.data, payload(500, 100))
    assert.deepEqual((await reopened.read(cut - 1))?.data, payload(cut - 1, 100))
  } finally {
    await reopened.close()
  }
})
