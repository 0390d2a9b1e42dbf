// Clock skew, grace periods and the journal's clock seam. Every test moves time with a
// ManualClock; the store's lastModified comes from its own clock (ClockedStore), cut to whole
// seconds like S3 and Azure. Nothing here waits for real time.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { isSeglogError } from '../../src/errors.js'
import { Journal, ManualClock, type JournalClock, type JournalOptions } from '../../src/journal/index.js'
import { ClockedStore } from './clocked-store.js'
import type { ObjectStore } from '../../src/objects/index.js'
import { nextFlush, readAll } from './helpers.js'

type Ev = { w: string | number; i: number }

const NEVER = 0x7fff_ffff
const FAST = { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 } }

function options(clock: JournalClock, graceMs: number, extra: JournalOptions = {}): JournalOptions {
  return { graceMs, clock, lingerMs: NEVER, flushEvents: 1000, ...FAST, ...extra }
}

async function write<T>(j: Journal<T>, ...events: T[]): Promise<void> {
  for (const e of events) await j.append(e)
  await j.flush()
}

async function values(store: ClockedStore, prefix: string, clock: JournalClock): Promise<Ev[]> {
  const r = await Journal.open<Ev>(store, prefix, { readOnly: true, clock })
  return (await readAll(r)).map((e) => e.value)
}

describe('journal clock seam', () => {
  test('lingerMs runs on the injected clock', async () => {
    const world = new ManualClock()
    const store = new ClockedStore({ now: () => world.now() })
    const j = await Journal.open<number>(store, 'linger', { clock: world, lingerMs: 250, flushEvents: 1000 })
    const flushed = nextFlush('linger')
    await j.append(1)
    await world.advance(249)
    assert.equal(store.inner.size, 0, 'not flushed before lingerMs')
    await world.advance(1)
    assert.equal((await flushed).events, 1)
    assert.deepEqual(await store.keys('linger/b/'), ['linger/b/00000000000000000000'])
    await j.close()
  })

  test('follow polls on the injected clock', async () => {
    const world = new ManualClock()
    const store = new ClockedStore({ now: () => world.now() })
    const w = await Journal.open<number>(store, 'poll', options(world, 60_000))
    const r = await Journal.open<number>(store, 'poll', { readOnly: true, clock: world, pollMs: 1000 })
    const ac = new AbortController()
    const got: number[] = []
    let seen!: () => void
    let waiting = new Promise<void>((res) => { seen = res })
    await write(w, 1)
    const reading = (async () => {
      for await (const e of r.read({ follow: true, signal: ac.signal })) { got.push(e.value); seen() }
    })()
    await waiting
    waiting = new Promise<void>((res) => { seen = res })
    // The reader has read to the end and now waits for its poll timer (no event to await here).
    while (world.pendingTimers === 0) await new Promise((res) => setImmediate(res))
    await write(w, 2)
    // The next poll is due 1,000 ms after the first read: nothing happens before it.
    await world.advance(999)
    assert.deepEqual(got, [1])
    await world.advance(1)
    await waiting
    assert.deepEqual(got, [1, 2])
    ac.abort()
    await reading
    await w.close()
  })
})

describe('journal grace period on the store clock', () => {
  test('regression (171579b): whole-second store timestamps never shorten the grace period', async () => {
    // Compaction at x.900 s is stamped x.000; 150 ms later the store says (x+1).000: one second
    // by the timestamps, 150 ms in truth. Grace 200 ms must not have passed.
    const world = new ManualClock(1_700_000_000_000)
    const store = new ClockedStore({ now: () => world.now(), resolutionMs: 1000 })
    const j = await Journal.open<Ev>(store, 'g', options(world, 200))
    for (let i = 0; i < 4; i++) await write(j, { w: 0, i })
    await world.advance(900)
    assert.equal((await j.compact()).merged.length, 1)
    await world.advance(150)
    assert.deepEqual((await j.compact()).deleted, [])
    assert.equal((await store.keys('g/b/')).length, 4, 'every original is still there')
    // Past grace plus the resolution: now they go, and nothing is lost.
    await world.advance(1200)
    assert.equal((await j.compact()).deleted.length, 4)
    assert.deepEqual((await values(store, 'g', world)).map((v) => v.i), [0, 1, 2, 3])
    await j.close()
  })

  test('regression (issue 10 defect 3): a compactor 7.5 s ahead with graceMs 10 s loses no acknowledged event', async () => {
    const world = new ManualClock()
    const store = new ClockedStore({ now: () => world.now(), resolutionMs: 1000 })
    const a = await Journal.open<Ev>(store, 'skew', options(world.view(), 10_000))
    const b = await Journal.open<Ev>(store, 'skew', options(world.view(), 10_000))
    const c = await Journal.open<Ev>(store, 'skew', options(world.view({ wallOffsetMs: 7_500 }), 10_000))
    await write(a, { w: 'a', i: 0 }) // a now trusts "next is 1" for graceMs / 2
    await write(b, { w: 'b', i: 0 }) // b takes 1
    assert.equal((await c.compact()).merged.length, 1) // c/0-1
    await world.advance(3_600)
    // By c's wall clock the merged object is 11.1 s old; by the store's it is 3.6 s old.
    assert.deepEqual((await c.compact()).deleted, [])
    await write(a, { w: 'a', i: 1 }) // a's cached number 1 is taken: it must land at 2
    assert.deepEqual(await values(store, 'skew', world), [{ w: 'a', i: 0 }, { w: 'b', i: 0 }, { w: 'a', i: 1 }])
    await world.advance(20_000)
    await c.compact()
    await c.compact()
    assert.deepEqual(await values(store, 'skew', world), [{ w: 'a', i: 0 }, { w: 'b', i: 0 }, { w: 'a', i: 1 }])
    await Promise.all([a.close(), b.close(), c.close()])
  })

  test('a PUT that finishes after the trust window is checked against the merge that covers it', async () => {
    // The writer's number was fresh when it claimed it, but its PUT was held until another
    // writer's batch with that number had been merged, covered for the grace period and deleted.
    // The PUT then succeeds; readers would read the merge instead. The writer must notice,
    // remove its hidden batch and write the events again under a new number.
    const world = new ManualClock()
    let hold: Promise<void> | undefined
    let release!: () => void
    let held!: () => void
    const isHeld = new Promise<void>((res) => { held = res })
    const store = new ClockedStore({
      now: () => world.now(), resolutionMs: 1000,
      gate: async (what) => {
        if (hold !== undefined && what === 'put late/b/00000000000000000001') { const h = hold; hold = undefined; held(); await h }
      },
    })
    const a = await Journal.open<Ev>(store, 'late', options(world, 10_000))
    const b = await Journal.open<Ev>(store, 'late', options(world, 10_000))
    await write(a, { w: 'a', i: 0 })
    await write(b, { w: 'b', i: 0 })
    hold = new Promise<void>((res) => { release = res })
    await a.append({ w: 'a', i: 1 })
    const flushing = a.flush() // claims 1 from its fresh cache; the PUT waits
    await isHeld
    await b.compact()
    await world.advance(12_000)
    assert.equal((await b.compact()).deleted.length, 2) // b/0 and b/1 are gone: only c/0-1 holds them
    release()
    await flushing
    assert.deepEqual(await values(store, 'late', world), [{ w: 'a', i: 0 }, { w: 'b', i: 0 }, { w: 'a', i: 1 }])
    assert.deepEqual(await store.keys('late/b/'), ['late/b/00000000000000000002'], 'the hidden batch was removed')
    await Promise.all([a.close(), b.close()])
  })

  test('age retention measures age on the store clock, not the caller\'s', async () => {
    const world = new ManualClock()
    const store = new ClockedStore({ now: () => world.now(), resolutionMs: 1000 })
    // A process whose wall clock is a day ahead: by it, everything is a day old.
    const j = await Journal.open<Ev>(store, 'age', options(world.view({ wallOffsetMs: 86_400_000 }), 0))
    for (let i = 0; i < 3; i++) await write(j, { w: 0, i })
    assert.deepEqual(await j.retain({ maxAgeMs: 60_000 }), [])
    assert.equal((await values(store, 'age', world)).length, 3)
    await world.advance(61_000)
    assert.equal((await j.retain({ maxAgeMs: 60_000 })).length, 3)
    assert.deepEqual(await values(store, 'age', world), [])
    await j.close()
  })

  test('beyond the bound: a writer whose clocks stand still for longer than graceMs can lose an event (documented)', async () => {
    // docs/guarantees.md: each writer's clocks must advance at least half as fast as the store's.
    // A writer frozen (both clocks) while the store moves 12 s past a 10 s grace period trusts a
    // sequence number that a compactor has since merged and deleted.
    const world = new ManualClock()
    const store = new ClockedStore({ now: () => world.now(), resolutionMs: 1000 })
    const frozen = await Journal.open<Ev>(store, 'frozen', options(world.view({ rate: 0 }), 10_000))
    const b = await Journal.open<Ev>(store, 'frozen', options(world.view(), 10_000))
    await write(frozen, { w: 'a', i: 0 })
    await write(b, { w: 'b', i: 0 })
    await b.compact()
    await world.advance(12_000)
    assert.equal((await b.compact()).deleted.length, 2)
    await write(frozen, { w: 'a', i: 1 })
    assert.deepEqual(await values(store, 'frozen', world), [{ w: 'a', i: 0 }, { w: 'b', i: 0 }],
      'the frozen writer recreated batch 1 under the merged object: outside the documented bound')
    await Promise.all([frozen.close(), b.close()])
  })
})

describe('journal skew suite (fast-check: skews, clock rates and interleavings)', () => {
  const G = 10_000
  const skewProperty = fc.asyncProperty(
    fc.scheduler(),
    fc.record({
      // Offsets well beyond graceMs: no offset between any two clocks enters the mechanism.
      storeOffsetMs: fc.integer({ min: -3 * G, max: 3 * G }),
      offsetsMs: fc.array(fc.integer({ min: -3 * G, max: 3 * G }), { minLength: 4, maxLength: 4 }),
      // Rates inside the documented bound (at least half the store's speed).
      rates: fc.array(fc.double({ min: 0.5, max: 2, noNaN: true }), { minLength: 4, maxLength: 4 }),
      flushes: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 2, maxLength: 2 }),
      compactions: fc.integer({ min: 1, max: 6 }),
      // Steps around the interesting lengths: within the trust window, past it, past grace + 1 s.
      stepsMs: fc.array(fc.oneof(fc.integer({ min: 0, max: 2 * G }), fc.constantFrom(G / 2, G + 1000, 2 * G)), { minLength: 1, maxLength: 8 }),
      reads: fc.integer({ min: 0, max: 2 }),
      // Batch PUTs (counted across writers) that land but whose response is lost: the writer's
      // retry then meets its own object, or, after a merge and sweep, a hole it must not refill.
      lostPuts: fc.uniqueArray(fc.nat(12), { maxLength: 3 }),
      // How many scheduling turns each writer's PUTs wait: a slow PUT spans merges and sweeps.
      putDelays: fc.array(fc.nat(120), { minLength: 2, maxLength: 2 }),
    }),
    async (s, p) => {
      const world = new ManualClock()
      const storeClock = world.view({ wallOffsetMs: p.storeOffsetMs })
      let batchPuts = 0
      const store = new ClockedStore({
        now: () => storeClock.now(), resolutionMs: 1000,
        gate: async (what) => { await s.schedule(Promise.resolve(what)) },
        loseResponse: (key) => key.includes('/b/') && p.lostPuts.includes(batchPuts++),
      })
      const clocks = p.offsetsMs.map((o, k) => world.view({ wallOffsetMs: o, rate: p.rates[k] }))
      const slow = (turns: number): ObjectStore => ({
        name: store.name, enforcesCreateOnly: true,
        put: async (key, data, o) => {
          for (let t = 0; t < turns; t++) await s.schedule(Promise.resolve('slow put'))
          return store.put(key, data, o)
        },
        get: (key, o) => store.get(key, o), head: (key) => store.head(key), list: (prefix, o) => store.list(prefix, o),
        delete: (key) => store.delete(key), deleteMany: (keys) => store.deleteMany(keys),
      })
      const writers = await Promise.all([0, 1].map((k) => Journal.open<Ev>(slow(p.putDelays[k]), 's', options(clocks[k], G))))
      const compactor = await Journal.open<Ev>(store, 's', options(clocks[2], G))
      const reader = await Journal.open<Ev>(store, 's', { readOnly: true, clock: clocks[3], graceMs: G })
      const acked: Ev[] = []
      const snapshots: Ev[][] = []
      const chains = [
        ...writers.map(async (j, w) => {
          let i = 0
          for (let f = 0; f < p.flushes[w]; f++) {
            const batch = [{ w, i: i++ }, { w, i: i++ }]
            for (const e of batch) await j.append(e)
            // A failed flush keeps its events; the next one writes them (and the in-doubt batch) once.
            for (let attempt = 0; ; attempt++) {
              try { await j.flush(); break } catch (err) { if (attempt > 5) throw err }
            }
            acked.push(...batch)
          }
        }),
        (async () => { for (let k = 0; k < p.compactions; k++) await compactor.compact() })(),
        (async () => {
          for (const ms of p.stepsMs) {
            await s.schedule(Promise.resolve('tick'))
            await world.advance(ms)
          }
        })(),
        (async () => { for (let k = 0; k < p.reads; k++) snapshots.push((await readAll(reader)).map((e) => e.value)) })(),
      ]
      await s.waitFor(Promise.all(chains))
      // Let every grace period run out, finish compaction, and read with a fresh handle.
      await world.advance(3 * G)
      await s.waitFor(compactor.compact())
      await world.advance(3 * G)
      await s.waitFor(compactor.compact())
      const final = await s.waitFor(values(store, 's', world))
      const ids = final.map((v) => `${v.w}/${v.i}`)
      assert.equal(new Set(ids).size, ids.length, 'no event twice')
      for (const w of [0, 1]) {
        assert.deepEqual(final.filter((v) => v.w === w), acked.filter((v) => v.w === w), `writer ${w}: ${s.report().map((r) => r.label).join(' | ')}`)
      }
      assert.equal(final.length, acked.length)
      for (const snap of snapshots) assert.deepEqual(snap, final.slice(0, snap.length))
      // Compaction finished: no original is left that a compacted object covers.
      const ranges = (await store.keys('s/c/')).map((k) => k.slice(4).split('-').map(Number))
      const covered = (await store.keys('s/b/')).filter((k) => ranges.some(([a, b]) => a <= Number(k.slice(4)) && Number(k.slice(4)) <= b))
      assert.deepEqual(covered, [])
    },
  )
  test('every acknowledged event is read back exactly once, in order, for any clock offset', async () => {
    await fc.assert(skewProperty, { numRuns: Number(process.env.SEGLOG_SKEW_RUNS ?? 60), ...(process.env.SEGLOG_SKEW_SEED === undefined ? {} : { seed: Number(process.env.SEGLOG_SKEW_SEED) }) })
      .catch((err: unknown) => { console.error((err as Error).cause); throw err })
  })
  test('replay: a slow PUT spanning a merge and a sweep (found with the post-PUT check reverted)', async () => {
    // Seed 1368641838, run 545, shrunk: lost an event when the check after a slow PUT compared
    // the batch with itself.
    await fc.assert(skewProperty, { seed: 1368641838, path: '545:0:0:0:0:0:0:0:0:0', endOnFailure: true })
  })
})

test('compact and deleteBefore report, not swallow, a store that loses the reference object', async () => {
  // The sweep measures age from an object it writes; a store that is not read-after-write
  // consistent is outside what the journal supports, and must be said so, not guessed.
  const world = new ManualClock()
  const store = new ClockedStore({ now: () => world.now() })
  const j = await Journal.open<Ev>(store, 'ref', options(world, 1000))
  await write(j, { w: 0, i: 0 })
  await write(j, { w: 0, i: 1 })
  await j.compact()
  const forgetful: ObjectStore = {
    name: store.name, enforcesCreateOnly: true,
    put: (key, data, o) => store.put(key, data, o), get: (key, o) => store.get(key, o), head: async () => undefined,
    list: (prefix, o) => store.list(prefix, o), delete: (key) => store.delete(key), deleteMany: (keys) => store.deleteMany(keys),
  }
  const k = await Journal.open<Ev>(forgetful, 'ref', options(world, 1000))
  await assert.rejects(k.compact(), (e) => isSeglogError(e, 'ERR_STORE') && /read-after-write/.test(e.message))
  assert.equal((await values(store, 'ref', world)).length, 2)
})
