// The tiered Log's edges on MemoryStore: store failures retried with backoff on the log's clock
// (queue kept, unconfirmed segments never deleted locally), bad options (nothing created),
// syncTier/tierState on a log without tier, a fork found at open when both ends agree, a log that
// existed before tier shipping its old segments, a typed (json) tiered log.
import assert from 'node:assert/strict'
import diagnostics_channel from 'node:diagnostics_channel'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { Log, MemoryStore, isSeglogError, type LogRecord } from '../../src/index.js'
import { storeError } from '../../src/objects/errors.js'
import type { PutOptions, PutResult } from '../../src/objects/types.js'
import { readCatalog } from '../../src/tier/index.js'
import { manualClock, type ManualClock } from '../helpers/manual-clock.js'
import { tmpDir } from '../helpers/tmp.js'
import { assertSameRecords, collect, snapshot } from './helpers.js'
import { appendRecords } from './log-scenario.js'

/** A MemoryStore whose puts fail (transient ERR_STORE) while `failing` is set. */
class FlakyStore extends MemoryStore {
  failing = false
  failedPuts = 0
  override put(key: string, data: Uint8Array, options?: PutOptions): Promise<PutResult> {
    if (this.failing) {
      this.failedPuts++
      return Promise.reject(storeError(this.name, 'put', key, new Error('503 Slow Down'), true, 503))
    }
    return super.put(key, data, options)
  }
}

/** A manual clock that reports each timer registered (the shipper's backoff waits are timers). */
function watchedClock(): ManualClock & { registered: number[]; next(): Promise<number> } {
  const inner = manualClock(1_780_000_000_000)
  const registered: number[] = []
  let wake: ((ms: number) => void) | undefined
  const every = inner.every.bind(inner)
  return Object.assign(inner, {
    registered,
    next: () => new Promise<number>((resolve) => { wake = resolve }),
    every(ms: number, fn: () => void) {
      registered.push(ms)
      const stop = every(ms, fn)
      wake?.(ms)
      wake = undefined
      return stop
    },
  })
}

async function rejectsWith(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (err) {
    assert.ok(isSeglogError(err, code as 'ERR_CONFLICT'), `expected ${code}, got ${String(err)}`)
    return
  }
  assert.fail(`expected ${code}`)
}

test('store failures: retried with backoff on the log\'s clock, the queue kept, nothing unconfirmed deleted locally', async (t) => {
  const store = new FlakyStore()
  const clock = watchedClock()
  const dir = tmpDir(t, 'seglog-tierlog-flaky')
  const log = await Log.open(dir, { segmentBytes: 4096, sync: 'never', clock, tier: { store, prefix: 'p', localRetention: { maxBytes: 1 }, retry: { maxAttempts: 1 } } })
  store.failing = true
  const firstWait = clock.next()
  const want = await appendRecords(log, 0, 200, clock)
  const synced = log.syncTier()
  assert.equal(await firstWait, 100, 'the first backoff waits 100 ms')
  const state = log.tierState
  assert.equal(state.uploadedOffset, 0)
  assert.ok(state.pendingSegments >= 3, `segments wait to be shipped (${state.pendingSegments})`)
  // Not confirmed: neither deleteBefore nor retention may delete any of them.
  const files = fs.readdirSync(dir).filter((n) => n.endsWith('.log')).sort()
  assert.equal(await log.deleteBefore(log.nextOffset), 0)
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.endsWith('.log')).sort(), files)
  assert.equal(log.tierState.localFirstOffset, 0)
  // The timer fires: the store still fails, the next wait is twice as long.
  const secondWait = clock.next()
  clock.fire()
  assert.equal(await secondWait, 200)
  assert.ok(store.failedPuts >= 2)
  assert.equal((await readCatalog(store, 'p')).segments.length, 0)
  // The store is back: the next turn ships everything queued, and retention may now trim.
  store.failing = false
  const trimmed = new Promise<void>((resolve) => {
    const on = (m: unknown): void => {
      if ((m as { dir: string }).dir !== dir) return
      diagnostics_channel.unsubscribe('seglog:log:retention', on)
      resolve()
    }
    diagnostics_channel.subscribe('seglog:log:retention', on)
  })
  clock.fire()
  await synced
  await trimmed
  assert.equal(log.tierState.pendingSegments, 0)
  assert.ok(log.tierState.localFirstOffset > 0)
  assertSameRecords(await collect(log.iterate()), want)
  await log.close()
})

test('bad tier options are ERR_INVALID_ARGUMENT and create nothing; syncTier and tierState need tier', async (t) => {
  const root = tmpDir(t, 'seglog-tierlog-opts')
  const dir = path.join(root, 'log')
  const store = new MemoryStore()
  const bad: unknown[] = [
    { tier: { store: {}, prefix: 'p' } },
    { tier: { store } },
    { tier: { store, prefix: '' } },
    { tier: { store, prefix: 'p', bogus: 1 } },
    { tier: { store, prefix: 'p', localRetention: { maxBytes: -1 } } },
    { tier: { store, prefix: 'p' }, retention: { maxBytes: 0 } },
    { tier: { store, prefix: 'p' }, retention: { maxAgeMs: 1.5 } },
    { tier: { store, prefix: 'p' }, retention: { bogus: 1 } },
    { tier: { store, prefix: 'p' }, retention: 'forever' },
  ]
  for (const options of bad) {
    await rejectsWith(Log.open(dir, options as Parameters<typeof Log.open>[1]), 'ERR_INVALID_ARGUMENT')
    assert.equal(fs.existsSync(dir), false, `nothing created for ${JSON.stringify(options, (k, v) => (k === 'store' ? '<store>' : v))}`)
  }
  assert.equal((await snapshot(store)).size, 0)
  const log = await Log.open(dir, { sync: 'never' })
  await log.append('kept')
  await rejectsWith(() => log.syncTier(), 'ERR_INVALID_ARGUMENT')
  await rejectsWith(() => log.tierState, 'ERR_INVALID_ARGUMENT')
  assert.equal((await log.read(0))?.data.toString(), 'kept')
  await log.close()
})

test('a fork found at open when both ends agree: ERR_CONFLICT, the store and the segment files unchanged', async (t) => {
  const store = new MemoryStore()
  const clock = manualClock(1_780_000_000_000)
  const base = { segmentBytes: 4096, sync: 'never' as const, clock }
  const one = await Log.open(tmpDir(t, 'seglog-tierlog-one'), { ...base, tier: { store, prefix: 'p' } })
  const want = await appendRecords(one, 0, 90, clock)
  await one.syncTier({ all: true })
  await one.close()
  const before = await snapshot(store)
  // Another machine's log of the same length, with different bytes, never shipped.
  const otherDir = tmpDir(t, 'seglog-tierlog-other')
  const other = await Log.open(otherDir, base)
  await appendRecords(other, 0, 90, clock, 7)
  await other.close()
  const files = new Map(fs.readdirSync(otherDir).filter((n) => n.endsWith('.log')).map((n) => [n, fs.readFileSync(path.join(otherDir, n)).toString('base64')]))
  // Every segment both hold is checked at open (its seal's CRC32C): the open fails, nothing changed.
  await rejectsWith(Log.open(otherDir, { ...base, tier: { store, prefix: 'p' } }), 'ERR_CONFLICT')
  assert.deepEqual(await snapshot(store), before)
  assert.deepEqual(new Map(fs.readdirSync(otherDir).filter((n) => n.endsWith('.log')).map((n) => [n, fs.readFileSync(path.join(otherDir, n)).toString('base64')])), files)
  const remote = await Log.openRemote(store, 'p')
  assertSameRecords(await collect(remote.iterate()), want)
  await remote.close()
})

test('a log that existed before tier ships its sealed segments on the first tiered open; a json log has syncTier too', async (t) => {
  const store = new MemoryStore()
  const clock = manualClock(1_780_000_000_000)
  const dir = tmpDir(t, 'seglog-tierlog-old')
  const plain = await Log.open(dir, { segmentBytes: 4096, sync: 'never', clock })
  const want = await appendRecords(plain, 0, 120, clock)
  await plain.close()
  const log = await Log.open(dir, { segmentBytes: 4096, sync: 'never', clock, tier: { store, prefix: 'old' } })
  await log.syncTier({ all: true })
  assert.deepEqual(log.tierState, { uploadedOffset: 120, localFirstOffset: 0, pendingSegments: 0 })
  await log.close()
  const remote = await Log.openRemote(store, 'old')
  assertSameRecords(await collect(remote.iterate()), want)
  await remote.close()

  const typed = await Log.open<{ n: number }>(tmpDir(t, 'seglog-tierlog-json'), { encoding: 'json', tier: { store, prefix: 'json' } })
  for (let n = 0; n < 5; n++) await typed.append({ n })
  await typed.syncTier({ all: true })
  assert.equal(typed.tierState.uploadedOffset, 5)
  assert.deepEqual((await typed.read(3))?.data, { n: 3 })
  await typed.close()
  const r = await Log.openRemote(store, 'json')
  const got: LogRecord[] = await collect(r.iterate())
  assert.deepEqual(got.map((x) => JSON.parse(Buffer.from(x.data).toString())), [0, 1, 2, 3, 4].map((n) => ({ n })))
  await r.close()
})

test('truncate on a tiered log: refused below the sealed end (nothing changed), allowed in the active segment, and what ships is what remains', async (t) => {
  const store = new MemoryStore()
  const clock = manualClock(1_780_000_000_000)
  const log = await Log.open(tmpDir(t, 'seglog-tierlog-trunc'), { segmentBytes: 4096, sync: 'never', clock, tier: { store, prefix: 't' } })
  const want = await appendRecords(log, 0, 120, clock)
  await log.syncTier()
  const sealedEnd = log.segmentsInfo().at(-1)?.base ?? 0
  assert.ok(sealedEnd > 0 && sealedEnd < 119)
  await rejectsWith(log.truncate(sealedEnd - 1), 'ERR_INVALID_ARGUMENT')
  assert.equal(log.nextOffset, 120)
  assertSameRecords(await collect(log.iterate()), want)
  await log.truncate(sealedEnd + 1)
  want.length = sealedEnd + 1
  want.push(...await appendRecords(log, sealedEnd + 1, 30, clock, 3))
  await log.syncTier({ all: true })
  await log.close()
  const remote = await Log.openRemote(store, 't')
  assertSameRecords(await collect(remote.iterate()), want)
  await remote.close()
})

test('an iterator whose next local segments are deleted under it by localRetention reads them from the store: no gap', async (t) => {
  const store = new MemoryStore()
  const clock = manualClock(1_780_000_000_000)
  const dir = tmpDir(t, 'seglog-tierlog-overtake')
  const log = await Log.open(dir, { segmentBytes: 2048, sync: 'never', clock, tier: { store, prefix: 'o', localRetention: { maxBytes: 4096 } } })
  const want = await appendRecords(log, 0, 30, clock)
  const iter = log.iterate({ from: 0, to: 240 })
  const got: LogRecord[] = []
  for (let i = 0; i < 3; i++) {
    const r = await iter.next()
    assert.equal(r.done, false)
    got.push({ ...r.value, data: Buffer.from(r.value.data) })
  }
  // Retention deletes every local segment but the newest ones while the iterator stands at 3.
  let trims = 0
  const trimmedPast = new Promise<void>((resolve) => {
    const on = (m: unknown): void => {
      if ((m as { dir: string }).dir !== dir) return
      trims++
      if (log.tierState.localFirstOffset <= 100) return
      diagnostics_channel.unsubscribe('seglog:log:retention', on)
      resolve()
    }
    diagnostics_channel.subscribe('seglog:log:retention', on)
  })
  want.push(...await appendRecords(log, 30, 210, clock))
  await log.syncTier({ all: true })
  await trimmedPast
  for (;;) {
    const r = await iter.next()
    if (r.done === true) break
    got.push({ ...r.value, data: Buffer.from(r.value.data) })
  }
  assertSameRecords(got, want)
  assert.ok(trims > 0)
  await log.close()
})

test('a store that cannot be listed at open: ERR_STORE, and the directory is not created', async (t) => {
  class Unlistable extends MemoryStore {
    // eslint-disable-next-line require-yield
    override async *list(): AsyncIterable<never> {
      throw storeError(this.name, 'list', '', new Error('403 Forbidden'), false, 403)
    }
  }
  const dir = path.join(tmpDir(t, 'seglog-tierlog-unlistable'), 'log')
  await rejectsWith(Log.open(dir, { tier: { store: new Unlistable(), prefix: 'p', retry: { maxAttempts: 1 } } }), 'ERR_STORE')
  assert.equal(fs.existsSync(dir), false)
})

test('rollAfterMs seals the active segment by age on the log\'s clock, so it ships without syncTier({ all }); an empty one is never rolled', async (t) => {
  const store = new MemoryStore()
  const clock = manualClock(1_780_000_000_000)
  const log = await Log.open(tmpDir(t, 'seglog-tierlog-rollage'), { sync: 'never', clock, rollAfterMs: 1000, tier: { store, prefix: 'r' } })
  clock.fire()
  assert.equal(log.segmentsInfo().length, 1, 'an empty active segment is not rolled')
  await log.append('one')
  await log.sync()
  clock.advance(999)
  clock.fire()
  assert.equal(log.segmentsInfo().length, 1, 'not old enough yet')
  clock.advance(1)
  clock.fire()
  assert.equal(log.segmentsInfo().length, 2, 'rolled by age')
  await log.syncTier()
  assert.deepEqual(log.tierState, { uploadedOffset: 1, localFirstOffset: 0, pendingSegments: 0 })
  clock.advance(5000)
  clock.fire()
  assert.equal(log.segmentsInfo().length, 2, 'the new, empty active segment is not rolled')
  await log.close()
  await rejectsWith(Log.open(tmpDir(t, 'seglog-tierlog-rollbad'), { rollAfterMs: 0 }), 'ERR_INVALID_ARGUMENT')
})
