// The remote side of tiered storage piece by piece, on MemoryStore: keys, catalog checks,
// uploader outcomes and refusals, reader checks and the cache bound.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { isSeglogError } from '../../src/errors.js'
import { ManualClock } from '../../src/journal/clock.js'
import { MemoryStore } from '../../src/objects/memory.js'
import { FaultStore, PrefixStore } from '../../src/objects/wrappers.js'
import {
  applyRemoteRetention, ByteLru, dataKey, openRemoteLog, parseSegmentKey, readCatalog, sealKey, segmentsPrefix, SegmentUploader,
} from '../../src/tier/index.js'
import { compareKeys } from '../../src/objects/keys.js'
import { batchPositions, flipByte } from '../helpers/segments.js'
import { tmpDir } from '../helpers/tmp.js'
import { assertSameRecords, buildLocalLog, collect, flipStoredByte, snapshot } from './helpers.js'

const P = 'logs/t'

async function shipped(t: Parameters<typeof buildLocalLog>[0], opts: Parameters<typeof buildLocalLog>[1] = {}) {
  const local = await buildLocalLog(t, opts)
  const store = new MemoryStore({ pageSize: 5 })
  const up = new SegmentUploader(store, P, { indexIntervalBytes: 1024 })
  for (const s of local.sealed) await up.upload(s)
  return { local, store, up }
}

describe('layout', () => {
  test('keys sort by offset, a data key just before its seal key, and parse back', () => {
    const keys = [dataKey(P, 0), sealKey(P, 0, 10, 1_700_000_000_000), dataKey(P, 10), sealKey(P, 10, 95, 5), dataKey(P, 95), dataKey(P, 1000)]
    assert.deepEqual([...keys].sort(compareKeys), keys)
    const root = segmentsPrefix(P)
    assert.equal(root, 'logs/t/segments/')
    assert.deepEqual(parseSegmentKey(keys[1].slice(root.length)), { kind: 'seal', base: 0, end: 10, maxTimestamp: 1_700_000_000_000 })
    assert.deepEqual(parseSegmentKey(keys[2].slice(root.length)), { kind: 'data', base: 10 })
    for (const junk of ['x.log', '0.log', `${'0'.repeat(20)}.seal.${'0'.repeat(20)}.${'0'.repeat(20)}`, `${'9'.repeat(20)}.log`, 'readme']) {
      assert.equal(parseSegmentKey(junk), undefined, junk)
    }
    assert.equal(segmentsPrefix(''), 'segments/')
    assert.throws(() => dataKey('../x', 0), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
  })
})

describe('catalog', () => {
  test('a gap, an overlap, a seal without data and an unsealed object inside the log are ERR_CORRUPT naming the keys; nothing is deleted', async (t) => {
    const { local, store } = await shipped(t)
    const cat = await readCatalog(store, P)
    assert.equal(cat.segments.length, local.sealed.length)
    assert.equal(cat.firstOffset, 0)
    assert.equal(cat.endOffset, local.sealed.at(-1)!.end)
    const s = cat.segments
    const expectCorrupt = async (keys: string[]): Promise<void> => {
      const before = await snapshot(store)
      await assert.rejects(readCatalog(store, P), (e) => {
        assert.ok(isSeglogError(e, 'ERR_CORRUPT'), String(e))
        assert.deepEqual(e.details.keys, keys)
        for (const k of keys) assert.ok(e.message.includes(k), e.message)
        return true
      })
      assert.deepEqual(await snapshot(store), before)
    }
    // Seal without its data object.
    const data2 = (await store.get(s[2].dataKey))!.data
    await store.delete(s[2].dataKey)
    await expectCorrupt([s[2].sealKey])
    // Unsealed data inside the log.
    await store.put(s[2].dataKey, data2)
    const seal2 = (await store.get(s[2].sealKey))!.data
    await store.delete(s[2].sealKey)
    await expectCorrupt([s[2].dataKey])
    // A gap: segment 2 entirely gone.
    await store.delete(s[2].dataKey)
    await expectCorrupt([s[1].sealKey, s[3].sealKey])
    await store.put(s[2].dataKey, data2)
    await store.put(s[2].sealKey, seal2)
    // An overlap: a seal claiming more offsets than its segment has.
    const longer = sealKey(P, s[1].base, s[2].base + 1, s[1].maxTimestamp)
    await store.delete(s[1].sealKey)
    await store.put(longer, (await store.get(s[2].sealKey))!.data)
    await expectCorrupt([longer, s[2].sealKey])
  })

  test('an unsealed data object at the end is a pending upload; one before the start is a leftover retention deletes', async (t) => {
    const { local, store } = await shipped(t)
    const last = local.sealed.at(-1)!
    await store.put(dataKey(P, last.end), Buffer.from('half-shipped'))
    const first = await readCatalog(store, P)
    await store.delete(first.segments[0].sealKey)
    const cat = await readCatalog(store, P)
    assert.deepEqual(cat.pending.map((p) => p.key), [dataKey(P, last.end)])
    assert.deepEqual(cat.leftovers, [first.segments[0].dataKey])
    assert.equal(cat.firstOffset, first.segments[1].base)
    const r = await applyRemoteRetention(store, P, {}, { now: Date.now() })
    assert.deepEqual(r.leftovers, [first.segments[0].dataKey])
    assert.equal(await store.head(first.segments[0].dataKey), undefined)
    assert.ok(await store.head(dataKey(P, last.end)), 'a pending upload is not a leftover')
  })
})

describe('uploader', () => {
  test('a crash between the data and the seal object is resumed by the next upload; readers never see the half', async (t) => {
    const local = await buildLocalLog(t)
    const mem = new MemoryStore()
    const up = new SegmentUploader(mem, P)
    await up.upload(local.sealed[0])
    const seg = local.sealed[1]
    const faulty = new FaultStore(mem, (op, key) => (op === 'put' && key.includes('.seal.') ? 'fatal' : 'ok'))
    await assert.rejects(new SegmentUploader(faulty, P).upload(seg), (e) => isSeglogError(e, 'ERR_STORE'))
    const cat = await readCatalog(mem, P)
    assert.equal(cat.endOffset, seg.base)
    assert.deepEqual(cat.pending.map((p) => p.base), [seg.base])
    const remote = await openRemoteLog(mem, P)
    assert.equal(await remote.read(seg.base), undefined)
    assertSameRecords(await collect(remote.iterate()), local.records.slice(0, seg.base))
    const again = await new SegmentUploader(mem, P).upload(seg)
    assert.equal(again.outcome, 'resumed')
    assert.equal(mem.size, 4)
    assertSameRecords(await collect(remote.iterate()), local.records.slice(0, seg.end))
  })

  test('an in-doubt put (it landed, the reply was lost) is success with no duplicate, with or without retries', async (t) => {
    const local = await buildLocalLog(t)
    const mem = new MemoryStore()
    let lose = 2
    const faulty = new FaultStore(mem, (op) => (op === 'put' && lose-- > 0 ? 'fail-after' : 'ok'))
    const r = await new SegmentUploader(faulty, P, { retry: { baseDelayMs: 1, maxDelayMs: 2 } }).upload(local.sealed[0])
    assert.equal(r.outcome, 'resumed')
    assert.equal(mem.size, 2)
    // Without retries the caller sees ERR_STORE, and calling again completes.
    lose = 1
    const noRetry = new SegmentUploader(faulty, P, { retry: { maxAttempts: 1 } })
    await assert.rejects(noRetry.upload(local.sealed[1]), (e) => isSeglogError(e, 'ERR_STORE'))
    assert.equal((await noRetry.upload(local.sealed[1])).outcome, 'resumed')
    assert.equal(mem.size, 4)
  })

  test('fencing: two writers at one remote end, the second to put gets ERR_CONFLICT and the store is unchanged', async (t) => {
    const a = await buildLocalLog(t)
    const b = await buildLocalLog(t, { variant: 7 })
    const mem = new MemoryStore()
    const upA = new SegmentUploader(mem, P)
    await upA.upload(a.sealed[0])
    // B restores from the same remote and ships its own segment 1 first (b.sealed[0] is identical? no: its bytes differ).
    await assert.rejects(new SegmentUploader(mem, P).upload(b.sealed[0]), (e) => isSeglogError(e, 'ERR_CONFLICT'))
    const upB = new SegmentUploader(mem, P)
    const bSeg1 = { ...b.sealed[1] }
    assert.equal(bSeg1.base, a.sealed[1].base)
    await upB.upload(bSeg1)
    const before = await snapshot(mem)
    // A still believes the remote ends where it left it, and finds B's object at its key.
    await assert.rejects(upA.upload(a.sealed[1]), (e) => {
      assert.ok(isSeglogError(e, 'ERR_CONFLICT'), String(e))
      assert.equal(e.details.file, dataKey(P, a.sealed[1].base))
      return true
    })
    // And a writer with other segment boundaries cannot slip in beside them.
    const c = await buildLocalLog(t, { segmentBytes: 3000 })
    const inside = c.sealed.find((s) => s.base > a.sealed[0].base && s.base < a.sealed[1].end && s.base !== a.sealed[1].base)!
    await assert.rejects(new SegmentUploader(mem, P).upload(inside), (e) => isSeglogError(e, 'ERR_CONFLICT'))
    assert.deepEqual(await snapshot(mem), before)
  })

  test('a segment past the remote end is refused (a gap), a damaged local segment is never shipped', async (t) => {
    const local = await buildLocalLog(t)
    const mem = new MemoryStore()
    const up = new SegmentUploader(mem, P)
    await up.upload(local.sealed[0])
    await assert.rejects(up.upload(local.sealed[2]), (e) => isSeglogError(e, 'ERR_OFFSET_OUT_OF_RANGE'))
    assert.equal(mem.size, 2)
    const dir = tmpDir(t)
    const copy = path.join(dir, path.basename(local.sealed[1].path))
    fs.copyFileSync(local.sealed[1].path, copy)
    const bad = batchPositions(copy)[3]
    flipByte(copy, bad + 50)
    await assert.rejects(up.upload({ ...local.sealed[1], path: copy }), (e) => {
      assert.ok(isSeglogError(e, 'ERR_CORRUPT'), String(e))
      assert.equal(e.details.file, copy)
      assert.equal(e.details.position, bad)
      return true
    })
    await assert.rejects(up.upload({ ...local.sealed[1], end: local.sealed[1].end + 1 }), (e) => isSeglogError(e, 'ERR_CORRUPT'))
    await assert.rejects(up.upload({ ...local.sealed[1], size: local.sealed[1].size + 10 }), (e) => isSeglogError(e, 'ERR_CORRUPT'))
    await assert.rejects(up.upload({ ...local.sealed[1], end: local.sealed[1].base }), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
    assert.equal(mem.size, 2)
    assert.equal((await up.upload(local.sealed[1])).outcome, 'uploaded')
  })

  test('shipping again a segment remote retention has deleted is not a fork; overlapping the first segment is', async (t) => {
    const { local, store } = await shipped(t)
    const r = await applyRemoteRetention(store, P, { maxBytes: 1 }, { now: 0 })
    assert.ok(r.deleted.length >= 2)
    const before = await snapshot(store)
    const up = new SegmentUploader(store, P)
    assert.equal((await up.upload(local.sealed[0])).outcome, 'expired')
    const c = await buildLocalLog(t, { segmentBytes: 3000 })
    const across = c.sealed.find((s) => s.base < r.firstOffset && s.end > r.firstOffset)!
    await assert.rejects(up.upload(across), (e) => isSeglogError(e, 'ERR_CONFLICT'))
    assert.deepEqual(await snapshot(store), before)
  })
})

describe('remote reads', () => {
  test('a point read costs one ranged GET once the seal is cached', async (t) => {
    const { local, store } = await shipped(t)
    const counting = new FaultStore(store)
    const remote = await openRemoteLog(counting, P, { cacheBytes: 1 << 20 })
    const seg = remote.segments[3]
    await remote.read(seg.base)
    const gets = counting.calls.get
    const far = local.records.find((r) => r.offset > seg.base + 20 && r.offset < seg.end)!
    assertSameRecords([(await remote.read(far.offset))!], [far])
    assert.equal(counting.calls.get - gets, 1)
    assert.equal(counting.calls.list, 1)
  })

  test('a sequential scan reads each segment in blocks of scanBytes (here one GET per segment), not one GET per index interval', async (t) => {
    const { local, store } = await shipped(t)
    const counting = new FaultStore(store)
    const remote = await openRemoteLog(counting, P, { cacheBytes: 1 << 20 })
    const segments = remote.segments.length
    assert.ok(segments >= 3 && remote.segments.every((s) => s.size > 2 * 1024), 'segments span several 1 KiB index intervals')
    const gets = counting.calls.get
    assertSameRecords(await collect(remote.iterate({ from: 0 })), local.records)
    // One seal and one data object per segment: the 4 KiB segments are below scanBytes (256 KiB here).
    assert.equal(counting.calls.get - gets, 2 * segments)
    await remote.close()
  })

  test('a damaged seal object is ERR_CORRUPT naming it; other segments read', async (t) => {
    const { local, store } = await shipped(t)
    const cat = await readCatalog(store, P)
    await flipStoredByte(store, cat.segments[1].sealKey, 45)
    const remote = await openRemoteLog(store, P)
    await assert.rejects(remote.read(cat.segments[1].base), (e) => isSeglogError(e, 'ERR_CORRUPT') && String(e.details.file).endsWith(cat.segments[1].sealKey))
    assertSameRecords([(await remote.read(cat.segments[2].base))!], [local.records[cat.segments[2].base]])
  })

  test('batches larger than the whole cache are read without caching', async (t) => {
    const { local, store } = await shipped(t, { count: 40, size: 3000, perBatch: 2, segmentBytes: 16384 })
    const remote = await openRemoteLog(store, P, { cacheBytes: 2000 })
    assertSameRecords(await collect(remote.iterate()), local.records)
    for (const r of local.records) assertSameRecords([(await remote.read(r.offset))!], [r])
    assert.ok(remote.cachedBytes <= 2000)
  })

  test('property: the cache never holds more than cacheBytes, whatever is read in whatever order', async (t) => {
    const { local, store } = await shipped(t, { count: 200, size: 60, perBatch: 4 })
    const end = local.records.length
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 6000 }), fc.array(fc.integer({ min: 0, max: end - 1 }), { minLength: 1, maxLength: 30 }), async (cacheBytes, offsets) => {
      const remote = await openRemoteLog(store, P, { cacheBytes })
      for (const off of offsets) {
        assertSameRecords([(await remote.read(off))!], [local.records[off]])
        assert.ok(remote.cachedBytes <= cacheBytes, `${remote.cachedBytes} > ${cacheBytes}`)
      }
      await remote.close()
    }), { numRuns: 60, examples: [[0, [12, 0]]] }) // seed 1426022746: an offset after its index entry's block
  })

  test('property: ByteLru holds at most its limit, exactly the sizes it holds, and the entry just set when it fits', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('set' as const), key: fc.integer({ min: 0, max: 9 }), bytes: fc.integer({ min: 0, max: 400 }) }),
      fc.record({ k: fc.constant('get' as const), key: fc.integer({ min: 0, max: 9 }) }),
      fc.record({ k: fc.constant('del' as const), key: fc.integer({ min: 0, max: 9 }) }))
    fc.assert(fc.property(fc.integer({ min: 0, max: 1000 }), fc.array(op, { maxLength: 80 }), (limit, ops) => {
      const lru = new ByteLru<number>(limit)
      const model = new Map<string, number>()
      for (const o of ops) {
        const key = String(o.key)
        if (o.k === 'set') {
          const cached = lru.set(key, o.bytes, o.bytes)
          assert.equal(cached, o.bytes <= limit)
          if (cached) assert.equal(lru.get(key), o.bytes)
          else assert.equal(lru.get(key), undefined)
        } else if (o.k === 'get') {
          lru.get(key)
        } else {
          lru.delete(key)
        }
        model.clear()
        for (let i = 0; i < 10; i++) { const v = lru.get(String(i)); if (v !== undefined) model.set(String(i), v) }
        assert.ok(lru.bytes <= limit)
        assert.equal(lru.bytes, [...model.values()].reduce((a, b) => a + b, 0))
        assert.equal(lru.size, model.size)
      }
    }), { numRuns: 300 })
  })
})

describe('remote retention', () => {
  test('by age of the newest record (not store times), oldest first, always keeping the newest segment', async (t) => {
    const { store } = await shipped(t, { tickMs: 1000 })
    const cat = await readCatalog(store, P)
    const s = cat.segments
    assert.equal(new Set(s.map((x) => x.maxTimestamp)).size, s.length)
    const maxAgeMs = 60_000
    // Everything up to segment 2 is older than the cutoff.
    const r = await applyRemoteRetention(store, P, { maxAgeMs }, { now: s[2].maxTimestamp + maxAgeMs + 1 })
    assert.deepEqual(r.deleted.map((d) => d.base), [s[0].base, s[1].base, s[2].base])
    // Store modification times play no part: every object here was written just now.
    assert.equal((await readCatalog(store, P)).firstOffset, s[3].base)
    const all = await applyRemoteRetention(store, P, { maxAgeMs }, { now: Number.MAX_SAFE_INTEGER - 1 })
    assert.equal((await readCatalog(store, P)).segments.length, 1)
    assert.equal(all.firstOffset, s.at(-1)!.base)
    await assert.rejects(applyRemoteRetention(store, P, { maxBytes: -1 }, { now: 0 }), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
  })
})

describe('openRemoteLog', () => {
  test('an empty store; following it with an injected clock sees segments as they ship; close ends the follower', async (t) => {
    const local = await buildLocalLog(t)
    const mem = new MemoryStore()
    const clock = new ManualClock()
    const remote = await openRemoteLog(mem, P, { clock, pollMs: 500 })
    assert.equal(remote.firstOffset, 0)
    assert.equal(remote.nextOffset, 0)
    assert.equal(await remote.read(0), undefined)
    assert.deepEqual(await collect(remote.iterate()), [])
    const got: number[] = []
    let done = false
    const following = (async () => { for await (const r of remote.iterate({ follow: true })) got.push(r.offset) })().finally(() => { done = true })
    const up = new SegmentUploader(mem, P)
    for (const seg of local.sealed.slice(0, 3)) {
      await up.upload(seg)
      while (got.length < seg.end) await clock.advance(500)
    }
    assert.deepEqual(got, local.records.slice(0, local.sealed[2].end).map((r) => r.offset))
    assert.equal(done, false)
    // An abort while it waits for the next poll ends a follower cleanly.
    const ac = new AbortController()
    const aborted: number[] = []
    const timers = clock.pendingTimers
    const stopping = (async () => { for await (const r of remote.iterate({ follow: true, from: local.sealed[2].end, signal: ac.signal })) aborted.push(r.offset) })()
    while (clock.pendingTimers === timers) await new Promise((r) => setImmediate(r)) // until it waits on its poll timer
    ac.abort()
    await stopping
    assert.deepEqual(aborted, [])
    assert.equal(clock.pendingTimers, timers, 'its timer is cancelled')
    await remote.close()
    await following
    await assert.rejects(remote.read(0), (e) => isSeglogError(e, 'ERR_CLOSED'))
  })

  test('bad arguments are ERR_INVALID_ARGUMENT before any request', async () => {
    const mem = new FaultStore(new MemoryStore())
    const bad = (e: unknown): boolean => isSeglogError(e, 'ERR_INVALID_ARGUMENT')
    await assert.rejects(openRemoteLog(mem, P, { cacheBytes: -1 }), bad)
    await assert.rejects(openRemoteLog(mem, P, { pollMs: 0 }), bad)
    await assert.rejects(openRemoteLog(mem, '/abs'), bad)
    assert.equal(mem.calls.list, 0)
    const remote = await openRemoteLog(mem, P)
    await assert.rejects(remote.read(-1), bad)
    await assert.rejects(remote.read(1.5), bad)
    assert.throws(() => remote.iterate({ deleted: 'later' as 'skip' }), bad)
    assert.throws(() => remote.iterate({ from: -3 }), bad)
    assert.throws(() => new SegmentUploader(mem, P, { indexIntervalBytes: 3 }), bad)
  })
})

describe('objects listed but unreadable', () => {
  test('a data object that is listed but cannot be read is ERR_CORRUPT, not an endless retry', async (t) => {
    const { store } = await shipped(t)
    const cat = await readCatalog(store, P)
    const victim = cat.segments[2]
    // A store whose GET does not find what its listing shows (a broken or inconsistent store).
    const inner = store.get.bind(store)
    const view = new FaultStore({
      name: store.name, enforcesCreateOnly: true,
      put: (k, d, o) => store.put(k, d, o), head: (k) => store.head(k), list: (p, o) => store.list(p, o),
      delete: (k) => store.delete(k), deleteMany: (k) => store.deleteMany(k),
      get: async (k, o) => (k === victim.dataKey ? undefined : inner(k, o)),
    })
    const remote = await openRemoteLog(view, P)
    await assert.rejects(remote.read(victim.base), (e) => isSeglogError(e, 'ERR_CORRUPT') && e.details.file === victim.dataKey)
    await assert.rejects(collect(remote.iterate({ from: victim.base })), (e) => isSeglogError(e, 'ERR_CORRUPT') && e.details.file === victim.dataKey)
  })
})

describe('concurrent listings', () => {
  test('a listing that started earlier but finishes later does not move the catalog back', async (t) => {
    const { local, store } = await shipped(t)
    let hold: (() => void) | undefined
    let holding = false
    const view = new FaultStore(store)
    const slow = {
      name: store.name, enforcesCreateOnly: true,
      put: view.put.bind(view), get: view.get.bind(view), head: view.head.bind(view), delete: view.delete.bind(view), deleteMany: view.deleteMany.bind(view),
      async *list(prefix: string) {
        // The first listing taken while `holding` sees the store as it is, then waits.
        const items = []
        for await (const m of store.list(prefix)) items.push(m)
        if (holding) { holding = false; await new Promise<void>((r) => { hold = r }) }
        yield* items
      },
    }
    const remote = await openRemoteLog(slow, P)
    holding = true
    const stale = remote.refresh()
    await applyRemoteRetention(store, P, { maxBytes: 1 }, { now: 0 })
    await remote.refresh()
    const first = remote.firstOffset
    assert.equal(first, local.sealed.at(-1)!.base)
    hold!()
    await stale
    assert.equal(remote.firstOffset, first)
  })
})

describe('prefixes', () => {
  test("a PrefixStore with the tier prefix '' and the plain store with the prefix name the same objects", async (t) => {
    const local = await buildLocalLog(t, { count: 120 })
    const mem = new MemoryStore()
    const up = new SegmentUploader(new PrefixStore(mem, 'tenant/a'), '')
    for (const seg of local.sealed) await up.upload(seg)
    assert.ok([...(await snapshot(mem)).keys()].every((k) => k.startsWith('tenant/a/segments/')))
    assertSameRecords(await collect((await openRemoteLog(mem, 'tenant/a')).iterate()), local.records)
    assertSameRecords(await collect((await openRemoteLog(new PrefixStore(mem, 'tenant'), 'a')).iterate()), local.records)
    assert.equal((await openRemoteLog(mem, 'tenant/b')).nextOffset, 0)
  })
})

describe('short bodies', () => {
  test('a ranged GET cut short in transit is retried as a transient store failure, never taken for damage', async (t) => {
    const { local, store } = await shipped(t)
    let cut = 2
    const inner = store.get.bind(store)
    const view = new FaultStore({
      name: store.name, enforcesCreateOnly: true,
      put: (k, d, o) => store.put(k, d, o), head: (k) => store.head(k), list: (p, o) => store.list(p, o),
      delete: (k) => store.delete(k), deleteMany: (k) => store.deleteMany(k),
      get: async (k, o) => {
        const r = await inner(k, o)
        if (r && o?.range && k.endsWith('.log') && cut > 0) { cut--; return { ...r, data: r.data.subarray(0, r.data.length - 7) } }
        return r
      },
    })
    const remote = await openRemoteLog(view, P, { retry: { baseDelayMs: 1, maxDelayMs: 2 } })
    assertSameRecords(await collect(remote.iterate()), local.records)
    assert.equal(cut, 0)
    cut = 10
    const noRetry = await openRemoteLog(view, P, { retry: { maxAttempts: 1 } })
    await assert.rejects(noRetry.read(5), (e) => isSeglogError(e, 'ERR_STORE'))
  })
})
