// The tiered Log through the HTTP fault proxy (500/503, throttling, resets before forwarding and
// mid-body, cut bodies, slow answers, lost replies) in front of s3rver's enforcing proxy: a writer
// appends under sync 'always', ships, trims its disk by localRetention and reads through the
// store; it closes, a restore into an empty directory reads everything back and appends more.
// Every call ends in success or a SeglogError of a documented code; at the end, on the store
// without the faults: every acknowledged record readable exactly once and byte for byte, each
// segment in the store once (two objects), nothing unsealed, no fork.
import assert from 'node:assert/strict'
import { after, before, describe, test, type TestContext } from 'node:test'
import { Log, isSeglogError, type LogRecord } from '../../src/index.js'
import { S3Store, type ObjectStore } from '../../src/objects/index.js'
import { openRemoteLog, readCatalog } from '../../src/tier/index.js'
import type { WholeLogRetention } from '../../src/tier/whole-retention.js'
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js'
import { prng } from '../helpers/power-loss-fs.js'
import { startS3, type S3Server } from '../helpers/servers.js'
import { payload, tmpDir } from '../helpers/tmp.js'
import { assertSameRecords, snapshot } from './helpers.js'

// Seeds that once failed are kept here and run every time, besides one new random seed.
const KEPT_SEEDS: number[] = []
const SEEDS = process.env.SEGLOG_SEED !== undefined ? [Number(process.env.SEGLOG_SEED)] : [...KEPT_SEEDS, Math.floor(Math.random() * 2 ** 31)]
const RATES = { error500: 0.05, error503: 0.04, throttle: 0.03, reset: 0.05, resetMidBody: 0.06, slow: 0.03, lostResponse: 0.06 }
const RETRY = { maxAttempts: 3, baseDelayMs: 2, maxDelayMs: 10 }

/** Runs `fn` again while it fails with ERR_STORE (the store through the faults, after the per-call retries). */
async function untilStored<T>(what: string, fn: () => Promise<T>, counts: { storeErrors: number }): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn()
    } catch (err) {
      assert.ok(isSeglogError(err, 'ERR_STORE'), `${what}: ${String(err)}`)
      assert.ok(attempt < 60, `${what} keeps failing`)
      counts.storeErrors++
    }
  }
}

/** Every record from `from` on, resuming after each ERR_STORE where it stopped. */
async function readAll(log: Log, from: number, counts: { storeErrors: number }): Promise<LogRecord[]> {
  const got: LogRecord[] = []
  for (let attempt = 0; ; attempt++) {
    try {
      for await (const r of log.iterate({ from: from + got.length })) got.push({ offset: r.offset, timestamp: r.timestamp, data: Buffer.from(r.data) })
      return got
    } catch (err) {
      assert.ok(isSeglogError(err, 'ERR_STORE'), `iterate: ${String(err)}`)
      assert.ok(attempt < 200, 'iteration keeps failing')
      counts.storeErrors++
    }
  }
}

async function appendSome(log: Log, first: number, count: number, want: LogRecord[]): Promise<void> {
  for (let i = first; i < first + count; i += 4) {
    const batch = [0, 1, 2, 3].map((k) => payload(i + k, 100))
    const { first: at } = await log.appendBatch(batch)
    assert.equal(at, i)
    batch.forEach((data, k) => want.push({ offset: at + k, timestamp: 0, data }))
  }
}

async function scenario(t: TestContext, faulty: ObjectStore, clean: ObjectStore, prefix: string): Promise<Record<string, number>> {
  const counts = { storeErrors: 0 }
  const tier = { store: faulty, prefix, localRetention: { maxBytes: 6000 }, retry: RETRY, cacheBytes: 8 << 10 }
  const options = { segmentBytes: 2048, sync: 'always' as const }
  const want: LogRecord[] = []

  const dir = tmpDir(t, 'seglog-tierlog-faults')
  const writer = await untilStored('open', () => Log.open(dir, { ...options, tier }), counts)
  await appendSome(writer, 0, 200, want)
  await writer.syncTier()
  await appendSome(writer, 200, 200, want)
  await writer.syncTier({ all: true })
  assert.equal(writer.tierState.uploadedOffset, 400)
  assert.ok(writer.tierState.localFirstOffset > 0, 'localRetention trimmed the disk')
  // Point reads below the disk and a whole scan, through the faults.
  for (let off = 0; off < 400; off += 13) {
    const r = await untilStored(`read(${off})`, () => writer.read(off), counts)
    assert.ok(r?.data.equals(want[off].data), `read(${off})`)
  }
  assertSameRecords((await readAll(writer, 0, counts)).map((r) => ({ ...r, timestamp: 0 })), want)
  await writer.close()

  // Restore on "another machine": continues at the store's end, reads everything, appends more.
  const restored = await untilStored('restore', () => Log.open(tmpDir(t, 'seglog-tierlog-faults-restored'), { ...options, tier }), counts)
  assert.equal(restored.nextOffset, 400)
  assert.equal(restored.firstOffset, 0)
  assertSameRecords((await readAll(restored, 0, counts)).map((r) => ({ ...r, timestamp: 0 })), want)
  await appendSome(restored, 400, 120, want)
  await restored.syncTier({ all: true })
  await restored.close()

  // The old writer comes back: fenced (the store is past its end), nothing changed.
  const before = await snapshot(clean, prefix)
  for (let attempt = 0; ; attempt++) {
    try {
      const stale = await Log.open(dir, { ...options, tier })
      await stale.close()
      assert.fail('a stale writer opened')
    } catch (err) {
      if (isSeglogError(err, 'ERR_STORE') && attempt < 60) { counts.storeErrors++; continue }
      assert.ok(isSeglogError(err, 'ERR_CONFLICT'), String(err))
      break
    }
  }
  assert.deepEqual(await snapshot(clean, prefix), before)

  // On the store without faults: each segment once, nothing unsealed, every record once and intact.
  const catalog = await readCatalog(clean, prefix)
  assert.equal(catalog.firstOffset, 0)
  assert.equal(catalog.endOffset, 520)
  assert.equal(catalog.pending.length, 0, 'nothing unsealed')
  assert.equal(catalog.leftovers.length, 0)
  assert.equal(before.size, 2 * catalog.segments.length, 'two objects per segment, no duplicate')
  const remote = await openRemoteLog(clean, prefix)
  const got: LogRecord[] = []
  for await (const r of remote.iterate()) got.push({ offset: r.offset, timestamp: 0, data: Buffer.from(r.data) })
  await remote.close()
  assertSameRecords(got, want)
  return counts
}

/** Whole-log retention through the faults: passes that fail are retried; what stays is intact and contiguous. */
async function retentionScenario(t: TestContext, faulty: ObjectStore, clean: ObjectStore, prefix: string): Promise<Record<string, number>> {
  const counts = { storeErrors: 0 }
  const tier = { store: faulty, prefix, localRetention: { maxBytes: 6000 }, retry: RETRY, cacheBytes: 8 << 10 }
  const options = { segmentBytes: 2048, sync: 'always' as const, retention: { maxBytes: 10_000 } }
  const want: LogRecord[] = []
  const log = await untilStored('open', () => Log.open(tmpDir(t, 'seglog-tierlog-faults-ret'), { ...options, tier }), counts)
  await appendSome(log, 0, 400, want)
  await log.syncTier({ all: true })
  // One more pass after everything shipped, asked for again while passes fail through the faults.
  const runner = (log as unknown as { tier: { retention: WholeLogRetention } }).tier.retention
  let passes = 0
  do {
    runner.schedule()
    await runner.idle()
    assert.ok(++passes < 60, 'retention passes keep failing')
  } while (runner.lastError !== undefined)
  const first = log.firstOffset
  assert.ok(first > 0, 'retention moved the first offset')
  assert.equal(await untilStored('read below', () => log.read(first - 1), counts), undefined)
  const got = await readAll(log, 0, counts)
  assert.equal(got[0]?.offset, first)
  assertSameRecords(got.map((r) => ({ ...r, timestamp: 0 })), want.slice(first))
  await log.close()
  const catalog = await readCatalog(clean, prefix)
  assert.ok(catalog.firstOffset >= first, 'the store starts at or past where the log did')
  assert.equal(catalog.endOffset, 400)
  assert.equal(catalog.pending.length, 0, 'nothing unsealed')
  assert.equal((await snapshot(clean, prefix)).size, 2 * catalog.segments.length + catalog.leftovers.length)
  return counts
}

describe('the tiered Log behind the fault proxy', () => {
  let s3: S3Server
  const proxies: FaultProxy[] = []
  before(async () => { s3 = await startS3() })
  after(async () => {
    await Promise.all(proxies.map((p) => p.stop()))
    await s3?.stop()
  })

  for (const seed of SEEDS) {
    test(`S3 (s3rver behind its enforcing proxy), seed ${seed}`, async (t) => {
      const proxy = await startFaultProxy({ upstream: s3.endpoint, rates: RATES, rng: prng(seed) })
      proxies.push(proxy)
      const faulty = new S3Store({ ...s3.storeOptions, endpoint: proxy.endpoint, requestTimeoutMs: 3000 })
      const counts = await scenario(t, faulty, new S3Store({ ...s3.storeOptions }), `tierlog/${seed}`)
      t.diagnostic(JSON.stringify({ seed, ...counts, ...proxy.counts }))
      assert.ok(proxy.counts.forwarded > 0)
    })

    test(`S3 with whole-log retention, seed ${seed}`, async (t) => {
      const proxy = await startFaultProxy({ upstream: s3.endpoint, rates: RATES, rng: prng(seed ^ 0x3333) })
      proxies.push(proxy)
      const faulty = new S3Store({ ...s3.storeOptions, endpoint: proxy.endpoint, requestTimeoutMs: 3000 })
      const counts = await retentionScenario(t, faulty, new S3Store({ ...s3.storeOptions }), `tierlog-ret/${seed}`)
      t.diagnostic(JSON.stringify({ seed, ...counts, ...proxy.counts }))
    })
  }
})
