// The tiered Log end to end on one store: ship, syncTier / syncTier({ all }), tierState,
// Log.openRemote, restore into an empty directory and continue, fencing of a stale writer (nothing
// changed), local trim and read-through, a fork found while shipping failing the log.
import assert from 'node:assert/strict'
import diagnostics_channel from 'node:diagnostics_channel'
import fs from 'node:fs'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { Log, isSeglogError, type LogRecord } from '../../src/index.js'
import type { ObjectStore } from '../../src/objects/types.js'
import { readCatalog } from '../../src/tier/index.js'
import { manualClock } from '../helpers/manual-clock.js'
import { payload, tmpDir } from '../helpers/tmp.js'
import { assertSameRecords, collect, snapshot } from './helpers.js'

const T0 = 1_780_000_000_000

/** Appends `count` records (batches of 3) numbered from `first`; returns copies of what was appended. */
export async function appendRecords(log: Log, first: number, count: number, clock: { advance(ms: number): void; now(): number }, variant = 0): Promise<LogRecord[]> {
  const out: LogRecord[] = []
  for (let i = first; i < first + count; i += 3) {
    clock.advance(1)
    const batch: Buffer[] = []
    for (let k = i; k < Math.min(first + count, i + 3); k++) batch.push(payload(k + variant * 1_000_003, 100))
    const { first: at } = await log.appendBatch(batch)
    batch.forEach((data, j) => out.push({ offset: at + j, timestamp: clock.now(), data }))
  }
  return out
}

function segmentFiles(dir: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const name of fs.readdirSync(dir).sort()) if (name.endsWith('.log')) out.set(name, fs.readFileSync(path.join(dir, name)).toString('base64'))
  return out
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<Error> {
  try {
    await p
  } catch (err) {
    assert.ok(isSeglogError(err, code as 'ERR_CONFLICT'), `expected ${code}, got ${String(err)}`)
    return err as Error
  }
  assert.fail(`expected ${code}, but it resolved`)
}

export async function tieredLogScenario(t: TestContext, store: ObjectStore, prefix: string): Promise<Record<string, number>> {
  const clock = manualClock(T0)
  const base = { segmentBytes: 4096, sync: 'never' as const, clock }
  const dirA = tmpDir(t, 'seglog-tierlog-a')

  // Ship: every sealed segment reaches the store; syncTier({ all }) the active one too.
  const a = await Log.open(dirA, { ...base, tier: { store, prefix } })
  const want = await appendRecords(a, 0, 300, clock)
  await a.syncTier()
  const sealedEnd = a.segmentsInfo().at(-1)?.base ?? 0
  assert.ok(sealedEnd > 0, 'the appends sealed segments')
  assert.equal(a.tierState.pendingSegments, 0)
  assert.ok(a.tierState.uploadedOffset >= sealedEnd, `uploaded ${a.tierState.uploadedOffset} covers the sealed segments (${sealedEnd})`)
  assert.equal(a.tierState.localFirstOffset, 0)
  want.push(...await appendRecords(a, 300, 10, clock))
  await a.syncTier({ all: true })
  assert.deepEqual(a.tierState, { uploadedOffset: 310, localFirstOffset: 0, pendingSegments: 0 })
  let catalog = await readCatalog(store, prefix)
  assert.equal(catalog.endOffset, 310)
  const segmentsShipped = catalog.segments.length
  // The active segment is empty now: syncTier({ all }) seals nothing and ships no empty segment.
  await a.syncTier({ all: true })
  catalog = await readCatalog(store, prefix)
  assert.equal(catalog.segments.length, segmentsShipped)
  assert.equal(a.nextOffset, 310)

  // Log.openRemote reads exactly what was appended.
  const remote = await Log.openRemote(store, prefix)
  assertSameRecords(await collect(remote.iterate()), want)
  assertSameRecords([(await remote.read(123)) as LogRecord], [want[123]])
  await remote.close()
  await a.close()

  // Restore into an empty directory: continues at the remote end, the whole log readable.
  const dirB = path.join(tmpDir(t, 'seglog-tierlog-b'), 'restored')
  const b = await Log.open(dirB, { ...base, tier: { store, prefix } })
  assert.equal(b.nextOffset, 310)
  assert.equal(b.firstOffset, 0)
  assert.equal(b.tierState.localFirstOffset, 310)
  assertSameRecords([(await b.read(0)) as LogRecord, (await b.read(309)) as LogRecord], [want[0], want[309]])
  assert.equal(await b.read(310), undefined)
  assertSameRecords(await collect(b.iterate()), want)
  assertSameRecords(await collect(b.iterate({ from: 200, to: 250 })), want.slice(200, 250))
  want.push(...await appendRecords(b, 310, 50, clock, 1))
  assertSameRecords(await collect(b.iterate({ from: 290 })), want.slice(290))
  const batches = []
  for await (const group of b.iterateBatches()) batches.push(...group.map((r) => ({ offset: r.offset, timestamp: r.timestamp, data: Buffer.from(r.data) })))
  assertSameRecords(batches, want)
  await b.syncTier({ all: true })
  assert.equal((await readCatalog(store, prefix)).endOffset, 360)
  await b.close()

  // Fencing: the old directory ends at 310, the store at 360: ERR_CONFLICT, nothing changed.
  const storeBefore = await snapshot(store, prefix)
  const filesBefore = segmentFiles(dirA)
  const err = await rejectsWith(Log.open(dirA, { ...base, tier: { store, prefix } }), 'ERR_CONFLICT')
  assert.deepEqual((err as { details?: unknown }).details, { localEnd: 310, remoteEnd: 360 })
  assert.deepEqual(await snapshot(store, prefix), storeBefore)
  assert.deepEqual(segmentFiles(dirA), filesBefore)
  // The directory is still a good log holding what it held (opened without tier).
  const old = await Log.open(dirA, { readOnly: true })
  assertSameRecords(await collect(old.iterate()), want.slice(0, 310))
  await old.close()

  // Local trim: confirmed segments leave the disk past localRetention; reads go through the store.
  const trimPrefix = `${prefix}-trim`
  const dirC = tmpDir(t, 'seglog-tierlog-c')
  const c = await Log.open(dirC, { ...base, tier: { store, prefix: trimPrefix, localRetention: { maxBytes: 8192 }, cacheBytes: 1 << 16 } })
  const deleted = new Promise<void>((resolve) => {
    const onDelete = (msg: unknown): void => {
      if ((msg as { dir: string }).dir !== dirC) return
      diagnostics_channel.unsubscribe('seglog:log:retention', onDelete)
      resolve()
    }
    diagnostics_channel.subscribe('seglog:log:retention', onDelete)
  })
  const wantC = await appendRecords(c, 0, 600, clock)
  await c.syncTier({ all: true })
  await deleted
  const state = c.tierState
  assert.ok(state.localFirstOffset > 0, `local segments were trimmed (local first ${state.localFirstOffset})`)
  assert.equal(state.uploadedOffset, 600)
  assert.equal(c.firstOffset, 0)
  assertSameRecords([(await c.read(0)) as LogRecord, (await c.read(state.localFirstOffset - 1)) as LogRecord, (await c.read(599)) as LogRecord],
    [wantC[0], wantC[state.localFirstOffset - 1], wantC[599]])
  assertSameRecords(await collect(c.iterate()), wantC)
  assertSameRecords(await collect(c.iterate({ from: 5, to: state.localFirstOffset + 5 })), wantC.slice(5, state.localFirstOffset + 5))
  await c.close()

  // A fork found while shipping: a writer that opened before another extended the remote log
  // fails with ERR_CONFLICT, appends then fail with it, and the store keeps the other's records.
  const forkPrefix = `${prefix}-fork`
  const d1 = await Log.open(tmpDir(t, 'seglog-tierlog-d1'), { ...base, tier: { store, prefix: forkPrefix } })
  const d2 = await Log.open(tmpDir(t, 'seglog-tierlog-d2'), { ...base, tier: { store, prefix: forkPrefix } })
  const wantD = await appendRecords(d1, 0, 60, clock)
  await d1.syncTier({ all: true })
  await d1.close()
  const forkBefore = await snapshot(store, forkPrefix)
  await appendRecords(d2, 0, 60, clock, 2)
  await rejectsWith(d2.syncTier({ all: true }), 'ERR_CONFLICT')
  await rejectsWith(d2.append('more'), 'ERR_CONFLICT')
  await rejectsWith(d2.close(), 'ERR_CONFLICT')
  assert.deepEqual(await snapshot(store, forkPrefix), forkBefore)
  const forkRemote = await Log.openRemote(store, forkPrefix)
  assertSameRecords(await collect(forkRemote.iterate()), wantD)
  await forkRemote.close()

  return { shipped: segmentsShipped, trimmedTo: state.localFirstOffset }
}
