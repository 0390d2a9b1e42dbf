// Whole-log retention of a tiered log (`retention` with `tier`): the store included, on the log's
// clock and record timestamps (never store modification times), local copies below the new first
// offset deleted too, reads below it undefined, an iterator below it skipping forward as a local
// iterator does when local retention deletes under it, and the limits kept across a reopen.
import assert from 'node:assert/strict'
import diagnostics_channel from 'node:diagnostics_channel'
import fs from 'node:fs'
import { test } from 'node:test'
import { Log, MemoryStore, type LogRecord } from '../../src/index.js'
import { readCatalog } from '../../src/tier/index.js'
import type { WholeLogRetention } from '../../src/tier/whole-retention.js'
import { manualClock } from '../helpers/manual-clock.js'
import { tmpDir } from '../helpers/tmp.js'
import { assertSameRecords, collect } from './helpers.js'
import { appendRecords } from './log-scenario.js'

/** The whole-log retention runner of a tiered log (private; the tests wait on its passes). */
function runner(log: Log): WholeLogRetention {
  const r = (log as unknown as { tier: { retention: WholeLogRetention | undefined } }).tier.retention
  assert.ok(r, 'whole-log retention is running')
  return r
}

/** Resolves at the next local retention deletion in `dir` (the diagnostics channel event). */
function nextLocalDeletion(dir: string): Promise<string[]> {
  return new Promise((resolve) => {
    const on = (m: unknown): void => {
      const msg = m as { dir: string; files: string[] }
      if (msg.dir !== dir) return
      diagnostics_channel.unsubscribe('seglog:log:retention', on)
      resolve(msg.files)
    }
    diagnostics_channel.subscribe('seglog:log:retention', on)
  })
}

/** Resolves once local retention has moved the log's local first offset past `min` (checked at each deletion event). */
function localFirstPast(log: Log, dir: string, min: number): Promise<void> {
  return new Promise((resolve) => {
    if (log.tierState.localFirstOffset > min) { resolve(); return }
    const on = (m: unknown): void => {
      if ((m as { dir: string }).dir !== dir || log.tierState.localFirstOffset <= min) return
      diagnostics_channel.unsubscribe('seglog:log:retention', on)
      resolve()
    }
    diagnostics_channel.subscribe('seglog:log:retention', on)
  })
}

function localBases(dir: string): number[] {
  return fs.readdirSync(dir).filter((n) => /^\d{20}\.log$/.test(n)).map((n) => Number(n.slice(0, 20))).sort((a, b) => a - b)
}

const YEAR_MS = 365 * 24 * 3600 * 1000

test('maxAgeMs: by record timestamps on the log\'s clock, never store times; the store and the local disk trimmed alike', async (t) => {
  const store = new MemoryStore()
  // Ten years past the store's own clock: judged by store modification times every object would
  // look ten years old and go at the first pass.
  const clock = manualClock(Date.now() + 10 * YEAR_MS)
  const dir = tmpDir(t, 'seglog-tierlog-age')
  const log = await Log.open(dir, { segmentBytes: 2048, sync: 'never', clock, retention: { maxAgeMs: 10_000 }, tier: { store, prefix: 'a' } })
  const old = await appendRecords(log, 0, 90, clock)
  await log.syncTier({ all: true })
  clock.fire()
  await runner(log).idle()
  assert.ok(runner(log).passes >= 1)
  assert.equal((await readCatalog(store, 'a')).firstOffset, 0, 'records 90 ms old are kept, whatever the store\'s times say')
  assert.equal(log.firstOffset, 0)

  clock.advance(20_000)
  const young = await appendRecords(log, 90, 60, clock)
  await log.syncTier({ all: true })
  const deleted = nextLocalDeletion(dir)
  clock.fire()
  await runner(log).idle()
  const catalog = await readCatalog(store, 'a')
  // syncTier({ all }) sealed the old records' last segment at 90: every segment of old records
  // went, every young one stayed.
  assert.equal(catalog.firstOffset, 90, `store starts at ${catalog.firstOffset}`)
  assert.equal(log.firstOffset, catalog.firstOffset, 'the whole log starts where the store does')
  await deleted
  assert.ok(localBases(dir)[0] >= catalog.firstOffset, `local segments below ${catalog.firstOffset} deleted too (${localBases(dir).join(',')})`)
  assert.equal(await log.read(0), undefined, 'below the first offset: undefined, as the local log')
  assert.equal(await log.read(catalog.firstOffset - 1), undefined)
  const want = [...old, ...young].filter((r) => r.offset >= catalog.firstOffset)
  assertSameRecords(await collect(log.iterate({ from: 0 })), want)
  assertSameRecords(await collect(log.iterate()), want)
  await log.close()
})

test('maxBytes: bounds the whole log, the store counted once and what is not shipped yet counted locally', async (t) => {
  const store = new MemoryStore()
  const clock = manualClock(1_780_000_000_000)
  const dir = tmpDir(t, 'seglog-tierlog-bytes')
  const maxBytes = 8192
  const log = await Log.open(dir, { segmentBytes: 2048, sync: 'never', clock, retention: { maxBytes }, tier: { store, prefix: 'b', localRetention: { maxBytes: 4096 } } })
  const want = await appendRecords(log, 0, 300, clock)
  await log.syncTier({ all: true })
  await runner(log).idle()
  const catalog = await readCatalog(store, 'b')
  assert.ok(catalog.firstOffset > 0, 'old segments left the store')
  assert.ok(catalog.bytes <= maxBytes, `the store holds ${catalog.bytes} bytes, at most ${maxBytes}`)
  assert.ok(catalog.bytes + catalog.segments[0].size > maxBytes, 'no more was deleted than the limit asks')
  assert.equal(log.firstOffset, catalog.firstOffset)
  assert.equal(await log.read(catalog.firstOffset - 1), undefined)
  assertSameRecords(await collect(log.iterate()), want.filter((r) => r.offset >= catalog.firstOffset))
  await log.close()

  // Reopened with the same limits: the log starts where the store does; the local disk too.
  const deleted = nextLocalDeletion(dir)
  const again = await Log.open(dir, { segmentBytes: 2048, sync: 'never', clock, retention: { maxBytes }, tier: { store, prefix: 'b', localRetention: { maxBytes: 4096 } } })
  assert.equal(again.firstOffset, catalog.firstOffset)
  await deleted
  assert.ok(localBases(dir)[0] >= catalog.firstOffset, `local segments below ${catalog.firstOffset} deleted (${localBases(dir).join(',')})`)
  assertSameRecords(await collect(again.iterate({ from: 0 })), want.filter((r) => r.offset >= catalog.firstOffset))
  await again.close()
})

test('an iterator standing below the new first offset skips to it, as a local iterator does under local retention', async (t) => {
  // The local log's behaviour, for comparison: its iterator skips what retention deleted under it.
  const clock = manualClock(1_780_000_000_000)
  async function run(tiered: boolean): Promise<{ got: LogRecord[]; first: number; want: LogRecord[] }> {
    const store = new MemoryStore()
    const dir = tmpDir(t, tiered ? 'seglog-tierlog-skip' : 'seglog-local-skip')
    const log = await Log.open(dir, tiered
      ? { segmentBytes: 2048, sync: 'never', clock, retention: { maxBytes: 6144 }, tier: { store, prefix: 's' } }
      : { segmentBytes: 2048, sync: 'never', clock, retention: { maxBytes: 6144 } })
    const want = await appendRecords(log, 0, 15, clock)
    const iter = log.iterate({ from: 0 })
    const got: LogRecord[] = []
    const r0 = await iter.next()
    assert.equal(r0.done, false)
    got.push({ ...r0.value, data: Buffer.from(r0.value.data) })
    const deleted = nextLocalDeletion(dir)
    want.push(...await appendRecords(log, 15, 285, clock))
    if (tiered) {
      await log.syncTier({ all: true })
      await runner(log).idle()
    }
    await deleted
    const first = log.firstOffset
    assert.ok(first > 20, `retention moved the first offset (${first})`)
    got.push(...await collect(iter))
    await log.close()
    return { got, first, want }
  }
  for (const tiered of [false, true]) {
    const { got, first, want } = await run(tiered)
    const offsets = got.map((r) => r.offset)
    for (let i = 1; i < offsets.length; i++) assert.ok(offsets[i] > offsets[i - 1], `${tiered ? 'tiered' : 'local'}: offsets increase`)
    // Records the iterator had already fetched may come before the jump; after it, every offset from `first` on.
    const after = got.filter((r) => r.offset >= first)
    assertSameRecords(after, want.filter((r) => r.offset >= first))
    for (const r of got) assert.ok(Buffer.from(r.data).equals(want[r.offset].data), `${tiered ? 'tiered' : 'local'}: offset ${r.offset} has its bytes`)
    assert.ok(got.some((r) => r.offset < 20), 'it had read below before the jump')
  }
})

test('a failed pass deletes nothing locally and is tried again at the next trigger', async (t) => {
  class Undeletable extends MemoryStore {
    failing = true
    override delete(key: string, options?: { signal?: AbortSignal }): Promise<void> {
      if (this.failing) return Promise.reject(new Error('403 AccessDenied'))
      return super.delete(key, options)
    }
  }
  const store = new Undeletable()
  const clock = manualClock(1_780_000_000_000)
  const dir = tmpDir(t, 'seglog-tierlog-nodelete')
  const log = await Log.open(dir, { segmentBytes: 2048, sync: 'never', clock, retention: { maxBytes: 4096 }, tier: { store, prefix: 'f', retry: { maxAttempts: 1 } } })
  const want = await appendRecords(log, 0, 150, clock)
  await log.syncTier({ all: true })
  await runner(log).idle()
  assert.ok(runner(log).lastError !== undefined, 'the pass failed')
  assert.equal(log.firstOffset, 0)
  assert.equal(localBases(dir)[0], 0)
  assertSameRecords(await collect(log.iterate()), want)
  store.failing = false
  clock.fire()
  await runner(log).idle()
  assert.equal(runner(log).lastError, undefined)
  assert.ok(log.firstOffset > 0)
  assert.equal(log.firstOffset, (await readCatalog(store, 'f')).firstOffset)
  await log.close()
})

test('an iterator reading from the store when retention deletes the segments ahead of it skips to the new first offset', async (t) => {
  const store = new MemoryStore()
  const clock = manualClock(1_780_000_000_000)
  const dir = tmpDir(t, 'seglog-tierlog-skip-remote')
  const log = await Log.open(dir, { segmentBytes: 2048, sync: 'never', clock, retention: { maxBytes: 80_000 }, tier: { store, prefix: 'r', localRetention: { maxBytes: 4096 } } })
  // More than 256 records below the disk: the tiered iterator hands them out in groups of 256, so
  // after the first group its store iterator stands inside the store's part of the log.
  const trimmed = localFirstPast(log, dir, 400)
  const want = await appendRecords(log, 0, 600, clock)
  await log.syncTier({ all: true })
  await trimmed
  await runner(log).idle()
  assert.equal(log.firstOffset, 0, 'nothing left the whole log yet')
  const iter = log.iterate({ from: 0 })
  const got: LogRecord[] = []
  const r0 = await iter.next()
  assert.equal(r0.done, false)
  assert.equal(r0.value.offset, 0)
  got.push({ ...r0.value, data: Buffer.from(r0.value.data) })
  // Retention now deletes, in the store, the segments the iterator was about to read.
  want.push(...await appendRecords(log, 600, 900, clock))
  await log.syncTier({ all: true })
  await runner(log).idle()
  const first = log.firstOffset
  assert.ok(first > 400, `the log now starts at ${first}`)
  got.push(...await collect(iter))
  const offsets = got.map((r) => r.offset)
  for (let i = 1; i < offsets.length; i++) assert.ok(offsets[i] > offsets[i - 1], 'offsets increase')
  for (const r of got) assert.ok(r.data.equals(want[r.offset].data), `offset ${r.offset} has its bytes`)
  assertSameRecords(got.filter((r) => r.offset >= first), want.filter((r) => r.offset >= first))
  await log.close()
})
