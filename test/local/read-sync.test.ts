// readSync(offset) (issue 13, W4): the synchronous point read. It gives what read() gives at that
// moment, and where read() would wait or fetch it throws instead, reading nothing: ERR_BUSY while
// truncate/deleteBefore runs or a read-only handle reloads after the writer truncated,
// ERR_CLOSED once close() began, ERR_OFFSET_OUT_OF_RANGE for a tiered log's record held only by
// the store. Never a record from before a truncate (rule 19), here or in another process.
import assert from 'node:assert/strict'
import diagnostics_channel from 'node:diagnostics_channel'
import fc from 'fast-check'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { isSeglogError, Log, MemoryStore } from '../../src/index.js'
import { nodeFileSystem, type FileHandle, type FileSystem } from '../../src/io/file-system.js'
import { payload, tmpDir } from '../helpers/tmp.js'
import { scheduledFileSystem } from '../helpers/scheduled-fs.js'

const rec = (i: number, generation: number): Buffer => payload(i * 7 + generation * 1_000_003, 60 + ((i * 31 + generation * 17) % 150))

async function filled(dir: string, count: number, options: Parameters<typeof Log.open>[1] = {}): Promise<Log> {
  const log = await Log.open(dir, { sync: 'never', ...options })
  for (let b = 0; b < count; b += 10) await log.appendBatch(Array.from({ length: Math.min(10, count - b) }, (_, j) => rec(b + j, 0)))
  return log
}

function assertAll(log: Log, count: number, what: string, generation = (_: number): number => 0): void {
  for (let o = 0; o < count; o++) assert.deepEqual(log.readSync(o)?.data, rec(o, generation(o)), `${what}: readSync(${o})`)
}

test('readSync gives what read gives, a copy each time, undefined outside the log, and reads records appended without waiting', async (t) => {
  const dir = tmpDir(t)
  await using log = await filled(dir, 300, { segmentBytes: 8 * 1024 })
  for (let o = 0; o < 300; o++) {
    const got = log.readSync(o)
    assert.deepEqual(got, await log.read(o), `offset ${o}`)
  }
  const first = log.readSync(5)
  first?.data.fill(0)
  assert.deepEqual(log.readSync(5)?.data, rec(5, 0), 'changing a returned record changes nothing stored')
  assert.equal(log.readSync(300), undefined)
  assert.equal(log.readSync(10 ** 9), undefined)
  const at = log.appendNoWait(rec(300, 0))
  assert.deepEqual(log.readSync(at)?.data, rec(300, 0), 'a record appended without waiting, not written yet, reads')
  await log.deleteBefore(150)
  assert.ok(log.firstOffset > 0 && log.firstOffset <= 150)
  assert.equal(log.readSync(log.firstOffset - 1), undefined, 'below the first offset: deleted')
  for (let o = log.firstOffset; o <= 300; o++) assert.deepEqual(log.readSync(o)?.data, rec(o, 0))
})

test('readSync with a bad offset is ERR_INVALID_ARGUMENT, and every record is still there', async (t) => {
  const dir = tmpDir(t)
  await using log = await filled(dir, 50)
  for (const bad of [-1, 1.5, Number.NaN, 2 ** 53, '3', null]) {
    assert.throws(() => log.readSync(bad as unknown as number), (err) => isSeglogError(err, 'ERR_INVALID_ARGUMENT'), `offset ${String(bad)}`)
  }
  assertAll(log, 50, 'after bad offsets')
})

test('while truncate or deleteBefore runs, readSync throws ERR_BUSY and reads nothing; once it resolved, it gives what the log holds after it, never a record from before', async (t) => {
  const dir = tmpDir(t)
  await using log = await filled(dir, 200, { segmentBytes: 4 * 1024 })
  assertAll(log, 200, 'before')
  const cut = log.truncate(120)
  assert.throws(() => log.readSync(10), (err) => isSeglogError(err, 'ERR_BUSY') && err.details.offset === 10 && /truncate/.test(err.message))
  assert.throws(() => log.readSync(150), (err) => isSeglogError(err, 'ERR_BUSY'))
  await cut
  assert.equal(log.readSync(150), undefined, 'cut off')
  await log.appendBatch(Array.from({ length: 80 }, (_, j) => rec(120 + j, 1)))
  assertAll(log, 200, 'after the truncate and the rewrite', (o) => (o < 120 ? 0 : 1))
  const deleting = log.deleteBefore(100)
  assert.throws(() => log.readSync(150), (err) => isSeglogError(err, 'ERR_BUSY'))
  const first = await deleting
  assert.equal(log.readSync(first - 1), undefined)
  for (let o = first; o < 200; o++) assert.deepEqual(log.readSync(o)?.data, rec(o, o < 120 ? 0 : 1))
})

test('once close() began, readSync is ERR_CLOSED, also while close still flushes; the records are there after a reopen', async (t) => {
  const dir = tmpDir(t)
  let release: () => void = () => undefined
  let syncing: () => void = () => undefined
  const syncStarted = new Promise<void>((resolve) => {
    syncing = resolve
  })
  const held = new Promise<void>((resolve) => {
    release = resolve
  })
  // Every fdatasync of the close waits until the test lets it go (those of the open, the lock's
  // temp file among them, run as they are).
  let holding = false
  const wrap = (inner: FileHandle): FileHandle => ({
    path: inner.path,
    write: (b, o, l, p) => inner.write(b, o, l, p),
    read: (b, o, l, p) => inner.read(b, o, l, p),
    // Held, then done without a real fdatasync: a sync still waiting when close() closes the file must not touch its descriptor.
    datasync: async () => {
      if (!holding) return inner.datasync()
      syncing()
      await held
    },
    size: () => inner.size(),
    truncate: (n) => inner.truncate(n),
    close: () => inner.close(),
  })
  const fsys: FileSystem = { ...nodeFileSystem, open: (p, mode) => wrap(nodeFileSystem.open(p, mode)) }
  const log = await filled(dir, 40, { fileSystem: fsys })
  holding = true
  const closing = log.close()
  await syncStarted
  assert.throws(() => log.readSync(3), (err) => isSeglogError(err, 'ERR_CLOSED'))
  release()
  await closing
  assert.throws(() => log.readSync(3), (err) => isSeglogError(err, 'ERR_CLOSED'))
  await using again = await Log.open(dir)
  assertAll(again, 40, 'reopened')
})

test('a read-only handle: after the writer truncated and wrote other bytes, readSync throws ERR_BUSY (starting the reload) or gives the new bytes, never the old', async (t) => {
  const dir = tmpDir(t)
  await using writer = await filled(dir, 200, { segmentBytes: 8 * 1024 })
  await writer.sync()
  await using reader = await Log.open(dir, { readOnly: true, followPollMs: 1 })
  assertAll(reader, 200, 'reader before')
  await writer.truncate(50)
  await writer.appendBatch(Array.from({ length: 150 }, (_, j) => rec(50 + j, 1)))
  await writer.sync()
  const fresh = (o: number): number => (o < 50 ? 0 : 1)
  let busy = 0
  for (const o of [120, 60, 10]) {
    try {
      assert.deepEqual(reader.readSync(o)?.data, rec(o, fresh(o)), `readSync(${o}) after the writer's truncate`)
    } catch (err) {
      assert.ok(isSeglogError(err, 'ERR_BUSY'), String(err))
      busy++
    }
  }
  assert.ok(busy > 0, 'the first readSync after the truncate cannot have reloaded yet')
  // read() waits for the reload readSync started; after it, readSync answers from the new files.
  assert.deepEqual((await reader.read(70))?.data, rec(70, 1))
  assertAll(reader, 200, 'reader after its reload', fresh)
})

const SCHEDULER_SEED = 20261202
/** Seeds and paths that once failed, replayed forever (none yet). */
const SCHEDULER_REGRESSIONS: { seed: number; path: string }[] = []

function syncReaderRace(base: string): fc.IAsyncPropertyWithHooks<[fc.Scheduler, number, number[]]> {
  let run = 0
  return fc.asyncProperty(fc.scheduler(), fc.integer({ min: 1, max: 199 }), fc.array(fc.integer({ min: 0, max: 219 }), { minLength: 1, maxLength: 12 }),
    async (s, cut, offsets) => {
      const dir = path.join(base, String(run++))
      fs.mkdirSync(dir, { recursive: true })
      await (await filled(dir, 200, { segmentBytes: 8 * 1024 })).close()
      const writer = await s.waitFor(Log.open(dir, { sync: 'never', segmentBytes: 8 * 1024, fileSystem: scheduledFileSystem((label) => s.schedule(Promise.resolve(), label)) }))
      const reader = await Log.open(dir, { readOnly: true, followPollMs: 1 })
      try {
        assertAll(reader, 200, 'reader before the race')
        let rewritten = false
        const rewrite = (async () => {
          await s.schedule(Promise.resolve(), 'truncate')
          await writer.truncate(cut)
          await writer.appendBatch(Array.from({ length: 220 - cut }, (_, j) => rec(cut + j, 1)))
          await writer.sync()
          rewritten = true
        })()
        const reads = offsets.map(async (o) => {
          await s.schedule(Promise.resolve(), `readSync ${o}`)
          const after = rewritten
          const old = o < 200 ? rec(o, 0) : undefined
          const fresh = rec(o, o < cut ? 0 : 1)
          let got
          try {
            got = reader.readSync(o)
          } catch (err) {
            assert.ok(isSeglogError(err, 'ERR_BUSY'), `readSync(${o}): ${String(err)}`)
            return
          }
          if (after || o < cut) assert.deepEqual(got?.data, fresh, `readSync(${o}) begun ${after ? 'after the rewrite' : 'below the cut'}, cut at ${cut}`)
          else assert.ok(got === undefined || got.data.equals(fresh) || (old !== undefined && got.data.equals(old)), `readSync(${o}) during the rewrite returned bytes never at that offset`)
        })
        await s.waitFor(Promise.all([rewrite, ...reads]))
        assert.deepEqual((await reader.read(0))?.data, rec(0, 0))
        assertAll(reader, 220, `reader after the race, cut at ${cut}`, (o) => (o < cut ? 0 : 1))
      } finally {
        await reader.close()
        await s.waitFor(writer.close())
      }
    })
}

test(`a read-only handle calling readSync while the writer truncates and rewrites (fc.scheduler): ERR_BUSY, or bytes that were at that offset, and the new ones once the rewrite is done (seed ${SCHEDULER_SEED})`, async (t) => {
  const base = tmpDir(t)
  await fc.assert(syncReaderRace(base), { seed: SCHEDULER_SEED, numRuns: 25, endOnFailure: true })
  for (const r of SCHEDULER_REGRESSIONS) await fc.assert(syncReaderRace(base), { seed: r.seed, path: r.path, numRuns: 1, endOnFailure: true })
})

test('a tiered log: readSync of a record only the store holds is ERR_OFFSET_OUT_OF_RANGE naming the local first offset, read() fetches it, and local records read', async (t) => {
  const store = new MemoryStore()
  const dir = tmpDir(t)
  await using log = await Log.open(dir, { segmentBytes: 2048, sync: 'never', tier: { store, prefix: 'p', localRetention: { maxBytes: 4096 } } })
  // Local retention deletes after the upload: its diagnostics event says when.
  const trimmed = new Promise<void>((resolve) => {
    const on = (m: unknown): void => {
      if ((m as { dir: string }).dir !== dir || log.tierState.localFirstOffset === 0) return
      diagnostics_channel.unsubscribe('seglog:log:retention', on)
      resolve()
    }
    diagnostics_channel.subscribe('seglog:log:retention', on)
  })
  for (let b = 0; b < 300; b += 3) await log.appendBatch([rec(b, 0), rec(b + 1, 0), rec(b + 2, 0)])
  await log.syncTier({ all: true })
  await trimmed
  const localFirst = log.tierState.localFirstOffset
  assert.ok(localFirst > 0, 'local retention deleted the oldest segments')
  assert.throws(() => log.readSync(0), (err) => isSeglogError(err, 'ERR_OFFSET_OUT_OF_RANGE') && err.details.localFirstOffset === localFirst && /await read\(0\)/.test(err.message))
  assert.deepEqual((await log.read(0))?.data, rec(0, 0))
  for (let o = localFirst; o < 300; o++) assert.deepEqual(log.readSync(o)?.data, rec(o, 0), `local offset ${o}`)
})

test('an encoded log decodes readSync like read', async (t) => {
  const dir = tmpDir(t)
  await using log = await Log.open<{ n: number }>(dir, { encoding: 'json', sync: 'never' })
  for (let n = 0; n < 20; n++) await log.append({ n })
  for (let n = 0; n < 20; n++) assert.deepEqual(log.readSync(n), await log.read(n))
  assert.equal(log.readSync(20), undefined)
  await using text = await Log.open(tmpDir(t), { encoding: 'utf8' })
  await text.append('héllo')
  assert.equal(text.readSync(0)?.data, 'héllo')
})
