// The end-to-end tiered-storage scenario, run against every store (memory, folder, s3rver behind
// the enforcing proxy, Azurite): ship, follow while shipping, an in-doubt upload, read everything
// back, fencing of a forked writer, retention under open iterators, and damage in the store.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import type { TestContext } from 'node:test'
import { isSeglogError } from '../../src/errors.js'
import { FaultStore } from '../../src/objects/wrappers.js'
import type { ObjectStore } from '../../src/objects/types.js'
import { applyRemoteRetention, dataKey, openRemoteLog, readCatalog, SegmentUploader, type UploadResult } from '../../src/tier/index.js'
import { batchPositions } from '../helpers/segments.js'
import { assertSameRecords, buildLocalLog, collect, flipStoredByte, snapshot } from './helpers.js'

export const FAST_RETRY = { maxAttempts: 5, baseDelayMs: 5, maxDelayMs: 20 }

/**
 * `loseReply(store, key)` arranges that the next put of `key` lands but its reply is lost, and
 * returns the store to upload through (default: a FaultStore that runs the put and then fails).
 */
export async function tierScenario(t: TestContext, store: ObjectStore, prefix: string,
  loseReply?: (key: string) => ObjectStore): Promise<Record<string, number>> {
  const local = await buildLocalLog(t, { count: 300 })
  const { sealed, records } = local
  assert.ok(sealed.length >= 6, `the local log has ${sealed.length} sealed segments`)
  const half = Math.floor(sealed.length / 2)

  // 1. Ship the first half, then follow while the rest ships (one upload's reply lost).
  const uploader = new SegmentUploader(store, prefix, { indexIntervalBytes: 1024, retry: FAST_RETRY })
  for (const seg of sealed.slice(0, half)) assert.equal((await uploader.upload(seg)).outcome, 'uploaded')
  const follower = await openRemoteLog(store, prefix, { pollMs: 10, retry: FAST_RETRY, cacheBytes: 64 << 10 })
  assert.equal(follower.firstOffset, 0)
  assert.equal(follower.nextOffset, sealed[half - 1].end)
  const end = sealed.at(-1)!.end
  // The timeout only turns a hang (a bug) into a failed comparison below.
  const followed = collect(follower.iterate({ follow: true, to: end, signal: AbortSignal.timeout(120_000) }))
  const inDoubt = sealed[half + 1]
  const faulty = loseReply?.(dataKey(prefix, inDoubt.base)) ?? lostReplyStore(store, dataKey(prefix, inDoubt.base))
  const shipper = new SegmentUploader(faulty, prefix, { indexIntervalBytes: 1024, retry: FAST_RETRY })
  const outcomes: UploadResult['outcome'][] = []
  for (const seg of sealed.slice(half)) outcomes.push((await shipper.upload(seg)).outcome)
  assert.equal(outcomes[1], 'resumed', 'the in-doubt upload is recognised as landed')
  assert.ok(outcomes.every((o, i) => i === 1 || o === 'uploaded'), outcomes.join())
  assertSameRecords(await followed, records)

  // 2. The catalog: contiguous, two objects per segment, no duplicate.
  const catalog = await readCatalog(store, prefix)
  assert.deepEqual(catalog.segments.map((s) => [s.base, s.end, s.size]), sealed.map((s) => [s.base, s.end, s.size]))
  assert.equal(catalog.pending.length, 0)
  const before = await snapshot(store, prefix)
  assert.equal(before.size, 2 * sealed.length)

  // 3. A fresh reader: iterate and point reads equal the local log's.
  const remote = await openRemoteLog(store, prefix, { retry: FAST_RETRY, cacheBytes: 16 << 10 })
  assertSameRecords(await collect(remote.iterate()), records)
  assertSameRecords(await collect(remote.iterate({ from: 100, to: 150 })), records.slice(100, 150))
  for (let off = 0; off < end; off += 13) {
    const r = await remote.read(off)
    assertSameRecords(r ? [r] : [], [records[off]])
  }
  assert.equal(await remote.read(end), undefined)
  assert.ok(remote.cachedBytes <= 16 << 10)

  // 4. Shipping again changes nothing; a forked writer is refused and changes nothing.
  const again = new SegmentUploader(store, prefix, { indexIntervalBytes: 4096, retry: FAST_RETRY })
  for (const seg of sealed) assert.equal((await again.upload(seg)).outcome, 'present')
  const fork = await buildLocalLog(t, { count: 300, variant: 1 })
  assert.equal(fork.sealed[2].base, sealed[2].base)
  await assert.rejects(new SegmentUploader(store, prefix, { retry: FAST_RETRY }).upload(fork.sealed[2]), (e) => isSeglogError(e, 'ERR_CONFLICT'))
  assert.deepEqual(await snapshot(store, prefix), before)

  // 5. Retention under open iterators: 'stop' fails with ERR_OFFSET_OUT_OF_RANGE, 'skip' jumps.
  const stopping = remote.iterate({ deleted: 'stop' })
  const skipping = remote.iterate({ deleted: 'skip' })
  const head = [(await stopping.next()).value, (await skipping.next()).value]
  assert.equal(head[0]?.offset, 0)
  const keep = catalog.segments.slice(-3).reduce((n, s) => n + s.size, 0)
  const retained = await applyRemoteRetention(store, prefix, { maxBytes: keep }, { now: Date.now(), retry: FAST_RETRY })
  assert.equal(retained.deleted.length, sealed.length - 3)
  assert.equal(retained.firstOffset, sealed.at(-3)!.base)
  await assert.rejects(collect(stopping), (e) => {
    assert.ok(isSeglogError(e, 'ERR_OFFSET_OUT_OF_RANGE'), String(e))
    assert.equal(e.details.firstOffset, retained.firstOffset)
    return true
  })
  const skipped = await collect(skipping)
  // Whatever the iterator still had cached comes first, contiguous; then the jump; then the rest.
  const jump = skipped.findIndex((r) => r.offset === retained.firstOffset)
  assert.ok(jump >= 0)
  assertSameRecords(skipped.slice(0, jump), records.slice(1, 1 + jump))
  assertSameRecords(skipped.slice(jump), records.slice(retained.firstOffset))
  assert.equal(await remote.read(0), undefined)
  assert.equal(remote.firstOffset, retained.firstOffset)

  // 6. Damage in the store: one flipped byte is ERR_CORRUPT naming key and byte; what precedes it reads.
  const victim = sealed.at(-2)!
  const positions = batchPositions(victim.path)
  const bad = positions[Math.floor(positions.length / 2)]
  await flipStoredByte(store, dataKey(prefix, victim.base), bad + 60)
  const fresh = await openRemoteLog(store, prefix, { retry: FAST_RETRY, cacheBytes: 1 << 20 })
  const badOffset = records.findIndex((r) => r.offset >= victim.base && positionOf(victim.path, r.offset) === bad)
  await assert.rejects(fresh.read(badOffset), (e) => {
    assert.ok(isSeglogError(e, 'ERR_CORRUPT'), String(e))
    assert.ok(String(e.details.file).endsWith(dataKey(prefix, victim.base)), String(e.details.file))
    assert.equal(e.details.position, bad)
    assert.match(e.message, new RegExp(`byte ${bad}`))
    return true
  })
  assertSameRecords([(await fresh.read(victim.base))!], [records[victim.base]])
  const partial: number[] = []
  await assert.rejects((async () => { for await (const r of fresh.iterate({ from: retained.firstOffset })) partial.push(r.offset) })(), (e) => isSeglogError(e, 'ERR_CORRUPT'))
  assert.deepEqual(partial, records.slice(retained.firstOffset, badOffset).map((r) => r.offset))
  await Promise.all([follower.close(), remote.close(), fresh.close()])
  return { segments: sealed.length, records: records.length, deleted: retained.deleted.length }
}

/** The base offset of the batch holding `offset` in a local segment file. */
function positionOf(file: string, offset: number): number {
  const buf = fs.readFileSync(file)
  for (const p of batchPositions(file)) {
    const base = buf.readUInt32LE(p + 16)
    const count = buf.readUInt32LE(p + 32)
    if (offset >= base && offset < base + count) return p
  }
  return -1
}

/** A FaultStore whose first put of `key` lands and then fails as if its reply were lost. */
export function lostReplyStore(store: ObjectStore, key: string): FaultStore {
  let armed = true
  return new FaultStore(store, (op, k) => {
    if (op === 'put' && k === key && armed) { armed = false; return 'fail-after' }
    return 'ok'
  })
}
