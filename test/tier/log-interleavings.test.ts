// fc.scheduler orders every store call (each listed key too) of a tiered log that appends, ships,
// trims its local disk by localRetention and syncs, while a following reader iterates from offset
// 0 (each record a scheduled step). Whatever the order: the reader gets every offset once, in
// order, with the bytes appended, syncTier({ all }) leaves the store holding the whole log, and the
// log reads back whole through the store and the disk. (The local fsyncs are real I/O, during which
// the scheduler runs the reader's steps, so local retention rarely overtakes the reader here; that
// case is pinned deterministically in log-unit.test.ts.)
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { Log } from '../../src/index.js'
import { MemoryStore } from '../../src/objects/memory.js'
import type { GetOptions, GetResult, ListOptions, ObjectMeta, ObjectStore, PutOptions, PutResult } from '../../src/objects/types.js'
import { readCatalog } from '../../src/tier/index.js'
import { manualClock } from '../helpers/manual-clock.js'
import { payload, tmpDir } from '../helpers/tmp.js'

/** Every call waits for the scheduler before it runs; a listing waits before each key. */
class ScheduledStore implements ObjectStore {
  readonly name = 'scheduled://'
  readonly enforcesCreateOnly = true
  constructor(private readonly inner: ObjectStore, private readonly s: fc.Scheduler) {}
  #step(label: string): Promise<void> { return this.s.schedule(Promise.resolve(), label).then(() => undefined) }
  async put(key: string, data: Uint8Array, options?: PutOptions): Promise<PutResult> { await this.#step(`put ${key}`); return this.inner.put(key, data, options) }
  async get(key: string, options?: GetOptions): Promise<GetResult | undefined> { await this.#step(`get ${key}`); return this.inner.get(key, options) }
  async head(key: string): Promise<ObjectMeta | undefined> { await this.#step(`head ${key}`); return this.inner.head(key) }
  async *list(prefix: string, options?: ListOptions): AsyncIterable<ObjectMeta> {
    await this.#step(`list ${prefix}`)
    for await (const m of this.inner.list(prefix, options)) {
      await this.#step(`listed ${m.key}`)
      yield m
    }
  }
  async delete(key: string): Promise<void> { await this.#step(`delete ${key}`); return this.inner.delete(key) }
  async deleteMany(keys: readonly string[]): Promise<void> { await this.#step(`deleteMany ${keys.length}`); return this.inner.deleteMany(keys) }
}

const RECORDS = 240
const READ_TO = 150
const START_READING = 12

test('tiered log: appends, shipping, local trim and a reader through the store, under every ordering of store calls', async (t) => {
  let runs = 0
  await fc.assert(fc.asyncProperty(fc.scheduler(), async (s) => {
    runs++
    const dir = tmpDir(t, 'seglog-tierlog-sched')
    const mem = new MemoryStore({ pageSize: 3 })
    const store = new ScheduledStore(mem, s)
    const clock = manualClock(1_780_000_000_000)
    let appended = 0
    let reachedReadTo: () => void = () => undefined
    const readable = new Promise<void>((resolve) => { reachedReadTo = resolve })
    const job = (async () => {
      const log = await Log.open(dir, { segmentBytes: 2048, sync: 'never', clock, tier: { store, prefix: 'p', localRetention: { maxBytes: 4096 }, cacheBytes: 3000 } })
      const writing = (async () => {
        for (let i = 0; i < RECORDS; i += 3) {
          clock.advance(1)
          await log.appendBatch([payload(i, 100), payload(i + 1, 100), payload(i + 2, 100)])
          appended = i + 3
          if (appended >= START_READING) reachedReadTo()
        }
        await log.syncTier({ all: true })
      })()
      const reading = (async () => {
        // Starts early and follows; each record waits for the scheduler, so the writer and local
        // retention can run ahead and delete the segment the reader is in.
        await readable
        const got: number[] = []
        for await (const r of log.iterate({ from: 0, to: READ_TO, follow: true })) {
          assert.ok(Buffer.from(r.data).equals(payload(r.offset, 100)), `offset ${r.offset}: the bytes appended`)
          got.push(r.offset)
          await s.schedule(Promise.resolve(), `read ${r.offset}`)
        }
        return got
      })()
      const [, got] = await Promise.all([writing, reading])
      assert.deepEqual(got, Array.from({ length: READ_TO }, (_, i) => i), 'every offset once, in order')
      assert.deepEqual(log.tierState.uploadedOffset, RECORDS)
      assert.equal(log.tierState.pendingSegments, 0)
      let n = 0
      for await (const r of log.iterate()) {
        assert.equal(r.offset, n)
        assert.ok(Buffer.from(r.data).equals(payload(n, 100)))
        n++
      }
      assert.equal(n, RECORDS)
      await log.close()
      return log.tierState
    })()
    await s.waitFor(job)
    const catalog = await readCatalog(mem, 'p')
    assert.equal(catalog.endOffset, RECORDS)
    assert.equal(catalog.pending.length, 0)
  }), { numRuns: 12 })
  t.diagnostic(`${runs} orderings`)
})

// Whole-log retention (`retention` with `tier`): passes run after each confirmation and on the
// timer (fired by the writer every few batches), racing uploads, syncTier and a following reader
// that starts at 0. Whatever the order: the reader's offsets increase, its bytes are the ones
// appended, it skips only offsets below the log's first offset (as a local iterator skips what
// local retention deleted), and at the end the store and the log agree on the first offset, the
// whole log is within its bound, and every record from the first offset on reads back.
test('tiered log with whole-log retention: passes racing uploads, syncTier and a reader, under every ordering of store calls', async (t) => {
  let runs = 0
  let skips = 0
  const MAX_BYTES = 6144
  await fc.assert(fc.asyncProperty(fc.scheduler(), async (s) => {
    runs++
    const dir = tmpDir(t, 'seglog-tierlog-sched-ret')
    const mem = new MemoryStore({ pageSize: 3 })
    const store = new ScheduledStore(mem, s)
    const clock = manualClock(1_780_000_000_000)
    const job = (async () => {
      const log = await Log.open(dir, { segmentBytes: 2048, sync: 'never', clock, retention: { maxBytes: MAX_BYTES }, tier: { store, prefix: 'p', localRetention: { maxBytes: 4096 }, cacheBytes: 3000 } })
      let reachedHalfway: () => void = () => undefined
      const halfway = new Promise<void>((resolve) => { reachedHalfway = resolve })
      const reading = (async () => {
        const got: number[] = []
        // Starts once the writer is halfway (and synced): the log's start is then in the store,
        // where retention passes racing the reader's GETs can delete what it is about to read.
        await halfway
        for await (const r of log.iterate({ from: 0, to: RECORDS, follow: true })) {
          assert.ok(Buffer.from(r.data).equals(payload(r.offset, 100)), `offset ${r.offset}: the bytes appended`)
          const prev = got.at(-1)
          if (prev !== undefined && r.offset !== prev + 1) {
            skips++
            assert.ok(r.offset > prev, 'offsets increase')
            assert.ok(r.offset <= log.firstOffset, `skipped ${prev + 1}…${r.offset - 1} only below the first offset ${log.firstOffset}`)
          }
          got.push(r.offset)
          // Two steps a record: a reader slower than shipping, which retention can overtake.
          await s.schedule(Promise.resolve(), `read ${r.offset}`)
          await s.schedule(Promise.resolve(), `read ${r.offset} again`)
        }
        return got
      })()
      const writing = (async () => {
        for (let i = 0; i < RECORDS; i += 3) {
          clock.advance(1)
          await log.appendBatch([payload(i, 100), payload(i + 1, 100), payload(i + 2, 100)])
          if (i % 30 === 0) clock.fire()
          if (i === 120) {
            await log.syncTier()
            reachedHalfway()
          }
        }
        await log.syncTier({ all: true })
      })()
      const [got] = await Promise.all([reading, writing])
      assert.equal(got.at(-1), RECORDS - 1, 'the reader reached the end')
      const tier = (log as unknown as { tier: { retention: { idle(): Promise<void> } } }).tier
      await tier.retention.idle()
      clock.fire()
      await tier.retention.idle()
      const first = log.firstOffset
      assert.ok(first > 0, 'retention moved the first offset')
      let n = first
      for await (const r of log.iterate({ from: 0 })) {
        assert.equal(r.offset, n)
        assert.ok(Buffer.from(r.data).equals(payload(n, 100)))
        n++
      }
      assert.equal(n, RECORDS)
      assert.equal(await log.read(first - 1), undefined)
      await log.close()
      return first
    })()
    const first = await s.waitFor(job)
    const catalog = await readCatalog(mem, 'p')
    assert.equal(catalog.firstOffset, first, 'the store starts where the log does')
    assert.equal(catalog.endOffset, RECORDS)
    assert.equal(catalog.pending.length, 0, 'nothing unsealed')
    assert.equal(catalog.leftovers.length, 0, 'no leftover of a pass')
    assert.ok(catalog.bytes <= MAX_BYTES || catalog.segments.length === 1, `the store holds ${catalog.bytes} bytes`)
  }), { numRuns: 12 })
  t.diagnostic(`${runs} orderings, the reader skipped forward ${skips} times`)
})
