// fc.scheduler explores orderings of an uploader shipping segments, remote retention passes and
// following readers, every store call (each listed key included) being a step the scheduler
// orders. Whatever the order: every upload succeeds, no listing reports damage, a reader that
// skips sees records in order and jumps only over deleted offsets, a reader that stops either
// reads everything in order or fails with ERR_OFFSET_OUT_OF_RANGE after an in-order prefix.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { isSeglogError } from '../../src/errors.js'
import { MemoryStore } from '../../src/objects/memory.js'
import type { GetOptions, GetResult, ListOptions, ObjectMeta, ObjectStore, PutOptions, PutResult } from '../../src/objects/types.js'
import { applyRemoteRetention, openRemoteLog, readCatalog, SegmentUploader, type TierClock } from '../../src/tier/index.js'
import type { LogRecord } from '../../src/index.js'
import { buildLocalLog, type LocalLog } from './helpers.js'

type Scheduler = fc.Scheduler

/** Every call waits for the scheduler before it runs; a listing waits before each key. */
class ScheduledStore implements ObjectStore {
  readonly name = 'scheduled://'
  readonly enforcesCreateOnly = true
  constructor(private readonly inner: ObjectStore, private readonly s: Scheduler) {}
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

/** Poll timers fire when the scheduler says so. */
function scheduledClock(s: Scheduler): TierClock {
  return {
    setTimer(callback) {
      let live = true
      void s.schedule(Promise.resolve(), 'poll').then(() => { if (live) callback() })
      return () => { live = false }
    },
  }
}

let local: LocalLog

async function run(s: Scheduler): Promise<void> {
  const mem = new MemoryStore({ pageSize: 3 })
  const { sealed, records } = local
  const direct = new SegmentUploader(mem, 'p', { indexIntervalBytes: 1024 })
  for (const seg of sealed.slice(0, 3)) await direct.upload(seg)
  const store = new ScheduledStore(mem, s)
  const clock = scheduledClock(s)
  const end = sealed.at(-1)!.end
  const segBytes = sealed[0].size
  const uploading = (async () => {
    const up = new SegmentUploader(store, 'p', { indexIntervalBytes: 1024 })
    for (const seg of sealed.slice(3)) await up.upload(seg)
  })()
  const retaining = (async () => {
    await applyRemoteRetention(store, 'p', { maxBytes: 2 * segBytes + 1 }, { now: 0 })
    await applyRemoteRetention(store, 'p', { maxBytes: 2 * segBytes + 1 }, { now: 0 })
  })()
  const follow = async (deleted: 'stop' | 'skip'): Promise<{ got: LogRecord[]; err?: unknown }> => {
    const got: LogRecord[] = []
    try {
      const remote = await openRemoteLog(store, 'p', { clock, pollMs: 1, cacheBytes: 3000 })
      for await (const r of remote.iterate({ follow: true, to: end, deleted })) got.push({ ...r, data: Buffer.from(r.data) })
      await remote.close()
      return { got }
    } catch (err) {
      return { got, err }
    }
  }
  const all = Promise.all([uploading, retaining, follow('skip'), follow('stop')])
  const [, , skip, stop] = await s.waitFor(all)

  const finalCat = await readCatalog(mem, 'p')
  assert.equal(finalCat.endOffset, end)
  assert.ok(finalCat.segments.length >= 2)
  for (const r of [...skip.got, ...stop.got]) assert.ok(Buffer.from(r.data).equals(records[r.offset].data), `offset ${r.offset}`)
  // Skip: in order, to the end; a jump only to a segment base at or below the final first offset.
  assert.equal(skip.err, undefined, String(skip.err))
  assert.equal(skip.got.at(-1)?.offset, end - 1)
  for (let i = 1; i < skip.got.length; i++) {
    const [a, b] = [skip.got[i - 1].offset, skip.got[i].offset]
    assert.ok(b > a)
    if (b !== a + 1) {
      assert.ok(sealed.some((x) => x.base === b), `jump ${a} → ${b} lands on a segment base`)
      assert.ok(b <= finalCat.firstOffset, `jump ${a} → ${b} skips only deleted offsets (first is now ${finalCat.firstOffset})`)
    }
  }
  // Stop: in order without a jump; the end, or ERR_OFFSET_OUT_OF_RANGE.
  for (let i = 1; i < stop.got.length; i++) assert.equal(stop.got[i].offset, stop.got[i - 1].offset + 1)
  if (stop.err !== undefined) assert.ok(isSeglogError(stop.err, 'ERR_OFFSET_OUT_OF_RANGE'), String(stop.err))
  else assert.equal(stop.got.at(-1)?.offset, end - 1)
}

test('scheduler: an uploader racing retention passes and following readers', async (t) => {
  local = await buildLocalLog(t, { count: 200 })
  assert.ok(local.sealed.length >= 5)
  await fc.assert(fc.asyncProperty(fc.scheduler(), run), { numRuns: Number(process.env.SEGLOG_SCHED_RUNS ?? 150) })
})
