// Hostile objects in the store — damaged (bit flip, truncated), foreign (random bytes, valid bytes
// of another journal) and misnamed (a batch under the wrong number, compacted objects whose name
// claims more or less than they hold, keys that do not parse) — against every journal operation:
// open, append/flush (claiming past them), read, follow, compact, the sweep, deleteBefore.
// Each case checks: no wrong or duplicated event, no silent loss of an intact acknowledged event,
// and ERR_CORRUPT naming the key where the journal cannot go on.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import { isSeglogError, type SeglogError } from '../../src/errors.js'
import { Journal, ManualClock, type JournalEntry, type JournalOptions } from '../../src/journal/index.js'
import { MemoryStore } from '../../src/objects/index.js'
import { ClockedStore } from './clocked-store.js'
import { nextFlush, readAll } from './helpers.js'

type Ev = { w: string; i: number }
interface Acked { seq: number; value: Ev }

const G = 10_000
const P = 'h'
const pad = (n: number): string => String(n).padStart(20, '0')
const bkey = (s: number): string => `${P}/b/${pad(s)}`
const ckey = (a: number, b: number): string => `${P}/c/${pad(a)}-${pad(b)}`

function namesKey(e: unknown, key: string): boolean {
  if (!isSeglogError(e, 'ERR_CORRUPT')) return false
  const d = (e as SeglogError).details
  return d.file === key || (Array.isArray(d.keys) && d.keys.includes(key))
}

/** Flips one bit inside the last event of a section (the body, under the checksum). */
function flipBody(section: Buffer): Buffer {
  const b = Buffer.from(section)
  b[b.length - 3] ^= 0x04
  return b
}

interface Case {
  name: string
  /** Puts the hostile object(s) in the store; returns the key the journal must name. */
  plant: (store: ClockedStore, own: Buffer[], foreign: Buffer[]) => Promise<string>
  /** Acknowledged batches the hostile object destroyed in place (their events cannot be intact). */
  destroyed?: number[]
  /** Readers cannot go past it: nothing else holds what it claims. */
  blocksReads?: boolean
  /** Compaction and retention report it. */
  reported: boolean
  /** Readers cannot tell it from the journal's own (valid sections, right numbers; see docs). */
  indistinguishable?: boolean
}

const cases: Case[] = [
  { name: 'an acknowledged batch with a flipped bit', reported: true, blocksReads: true, destroyed: [3],
    plant: async (s, own) => { await s.plant(bkey(3), flipBody(own[3])); return bkey(3) } },
  { name: 'an acknowledged batch cut short', reported: true, blocksReads: true, destroyed: [3],
    plant: async (s, own) => { await s.plant(bkey(3), own[3].subarray(0, own[3].length - 5)); return bkey(3) } },
  { name: 'random bytes at the next free number', reported: true, blocksReads: true,
    plant: async (s) => { await s.plant(bkey(10), randomBytes(200)); return bkey(10) } },
  { name: "a valid batch of this journal's under the wrong number", reported: true, blocksReads: true,
    plant: async (s, own) => { await s.plant(bkey(10), own[4]); return bkey(10) } },
  { name: "another journal's valid batch under a number it does not hold", reported: true, blocksReads: true,
    plant: async (s, _own, foreign) => { await s.plant(bkey(10), foreign[2]); return bkey(10) } },
  { name: 'random bytes under a compacted key', reported: true,
    plant: async (s) => { await s.plant(ckey(0, 9), randomBytes(900)); return ckey(0, 9) } },
  { name: 'a merge with a flipped bit', reported: true,
    plant: async (s, own) => { await s.plant(ckey(0, 9), Buffer.concat([...own.slice(0, 5), flipBody(own[5]), ...own.slice(6)])); return ckey(0, 9) } },
  { name: 'a merge cut short', reported: true,
    plant: async (s, own) => { await s.plant(ckey(0, 9), Buffer.concat(own).subarray(0, -9)); return ckey(0, 9) } },
  { name: "another journal's valid merge under this journal's range", reported: true, indistinguishable: true,
    plant: async (s, _own, foreign) => { await s.plant(ckey(0, 9), Buffer.concat(foreign)); return ckey(0, 9) } },
  { name: 'a compacted name wider than its content', reported: true, blocksReads: true,
    plant: async (s, own) => { await s.plant(ckey(0, 15), Buffer.concat(own)); return ckey(0, 15) } },
  { name: 'a compacted name narrower than its content', reported: true,
    plant: async (s, own) => { await s.plant(ckey(0, 5), Buffer.concat(own)); return ckey(0, 5) } },
  { name: 'keys that do not parse', reported: false,
    plant: async (s, own) => {
      for (const k of [`${P}/b/12`, `${P}/b/0000000000000000001x`, `${P}/c/${pad(9)}-${pad(1)}`, `${P}/c/${pad(0)}`, `${P}/junk`, `${P}/r/abc`, `${P}/b/${pad(3)}/x`, `${P}/b/${'9'.repeat(20)}`]) {
        await s.plant(k, own[0])
      }
      return `${P}/junk`
    } },
]

async function follow(r: Journal<Ev>, clock: ManualClock, want: number): Promise<{ got: Ev[]; error: unknown }> {
  const ac = new AbortController()
  const got: Ev[] = []
  let error: unknown
  let done = false
  const timersBefore = clock.pendingTimers
  const reading = (async () => {
    try {
      for await (const e of r.read({ follow: true, signal: ac.signal })) got.push(e.value)
    } catch (err) { error = err }
    done = true
  })()
  // The follower has read what is there once it waits for its next poll (no event to await).
  while (!done && got.length < want && clock.pendingTimers === timersBefore) await new Promise((res) => setImmediate(res))
  ac.abort()
  await reading
  return { got, error }
}

describe('hostile objects against every journal operation', () => {
  for (const c of cases) {
    test(c.name, async () => {
      const world = new ManualClock()
      const store = new ClockedStore({ now: () => world.now(), resolutionMs: 1000 })
      const opts: JournalOptions = { clock: world, graceMs: G, lingerMs: 0x7fff_ffff, flushEvents: 1000, pollMs: 1000 }
      const acked: Acked[] = []
      const write = async (j: Journal<Ev>, w: string, n: number): Promise<void> => {
        for (let k = 0; k < n; k++) {
          const events = [{ w, i: acked.length }, { w, i: acked.length + 1 }]
          for (const e of events) await j.append(e)
          const flushed = nextFlush(P)
          await j.flush()
          const seq = (await flushed).seq as number
          acked.push(...events.map((value) => ({ seq, value })))
        }
      }
      const a = await Journal.open<Ev>(store, P, opts)
      await write(a, 'a', 10)
      await a.close()
      const own = await Promise.all(Array.from({ length: 10 }, async (_, s) => (await store.inner.get(bkey(s)))?.data as Buffer))
      const foreign = await (async () => {
        const other = new MemoryStore()
        const f = await Journal.open<Ev>(other, 'other', { flushEvents: 1000 })
        for (let s = 0; s < 10; s++) { await f.append({ w: 'foreign', i: s }); await f.flush() }
        return Promise.all(Array.from({ length: 10 }, async (_, s) => (await other.get(`other/b/${pad(s)}`))?.data as Buffer))
      })()
      const key = await c.plant(store, own, foreign)
      const destroyed = new Set(c.destroyed ?? [])
      const intact = (): Ev[] => acked.filter((x) => !destroyed.has(x.seq)).map((x) => x.value)

      // open, then append/flush past the hostile object.
      const b = await Journal.open<Ev>(store, P, opts)
      await write(b, 'b', 2)
      const r = await Journal.open<Ev>(store, P, { ...opts, readOnly: true })
      const checkReads = async (what: string): Promise<void> => {
        if (c.indistinguishable === true) return
        if (c.blocksReads === true) {
          await assert.rejects(readAll(r), (e) => namesKey(e, key), `${what}: read names ${key}`)
          const f = await follow(r, world, intact().length)
          assert.ok(namesKey(f.error, key), `${what}: follow names ${key}: ${String(f.error)}`)
          // What it yielded before stopping is a prefix of the intact events: nothing wrong, nothing twice.
          assert.deepEqual(f.got, intact().slice(0, f.got.length), what)
        } else {
          assert.deepEqual((await readAll(r)).map((e: JournalEntry<Ev>) => e.value), intact(), `${what}: read`)
          const f = await follow(r, world, intact().length)
          assert.equal(f.error, undefined, `${what}: follow`)
          assert.deepEqual(f.got, intact(), `${what}: follow`)
        }
      }
      await checkReads('before compaction')

      // compact, then let the grace period pass and compact again (the sweep).
      const comp = await Journal.open<Ev>(store, P, opts)
      const expectReport = async (p: Promise<unknown>, what: string, must: boolean): Promise<void> => {
        const error = await p.then(() => undefined, (e: unknown) => e)
        if (error !== undefined || (must && c.reported)) assert.ok(c.reported && namesKey(error, key), `${what} reports ${key}: ${String(error)}`)
      }
      // A hostile compacted object is found at the latest when the sweep would delete what it
      // covers (after the grace period); a bad batch when compaction reads it.
      await expectReport(comp.compact(), 'compact', key.startsWith(`${P}/b/`))
      await world.advance(2 * G + 2000)
      await expectReport(comp.compact(), 'compact after grace', true)
      await world.advance(2 * G + 2000)
      await expectReport(comp.compact(), 'compact again', true)
      await checkReads('after the sweep')
      if (c.indistinguishable === true) {
        // Compaction never deleted the originals on the strength of the foreign merge.
        const left = await store.keys(`${P}/b/`)
        for (let s = 0; s < 10; s++) assert.ok(left.includes(bkey(s)), `b/${s} kept`)
      }

      // deleteBefore batch 2; the hostile object may be reported again, the marker stands.
      await expectReport(comp.deleteBefore('2:0'), 'deleteBefore', false)
      await world.advance(2 * G + 2000)
      await comp.compact().catch(() => undefined)
      const retained = (): Ev[] => acked.filter((x) => x.seq >= 2 && !destroyed.has(x.seq)).map((x) => x.value)

      // The user removes the hostile object: every intact acknowledged event at or after batch 2
      // is there exactly once, in order, and the journal works normally again.
      await store.inner.delete(key)
      assert.deepEqual((await readAll(r)).map((e) => e.value), retained(), 'after removing the hostile object')
      await write(b, 'b', 1)
      await world.advance(2 * G + 2000)
      await comp.compact()
      await world.advance(2 * G + 2000)
      await comp.compact()
      const fresh = await Journal.open<Ev>(store, P, { ...opts, readOnly: true })
      assert.deepEqual((await readAll(fresh)).map((e) => e.value), retained(), 'a fresh reader after compaction')
      await Promise.all([b.close(), comp.close()])
    })
  }

  test('an original damaged after a sound merge covers it: the original is blamed, the merge still serves', async () => {
    const world = new ManualClock()
    const store = new ClockedStore({ now: () => world.now(), resolutionMs: 1000 })
    const j = await Journal.open<Ev>(store, P, { clock: world, graceMs: G, flushEvents: 1000, lingerMs: 0x7fff_ffff })
    for (let i = 0; i < 10; i++) { await j.append({ w: 'a', i }); await j.flush() }
    assert.equal((await j.compact()).merged.length, 1)
    const b3 = (await store.inner.get(bkey(3)))?.data as Buffer
    await store.plant(bkey(3), flipBody(b3))
    await world.advance(2 * G + 2000)
    await assert.rejects(j.compact(), (e) => namesKey(e, bkey(3)) && !namesKey(e, ckey(0, 9)))
    assert.deepEqual(await store.keys(`${P}/b/`), [bkey(3)], 'the sound originals went, the damaged one is kept for a person')
    const all = Array.from({ length: 10 }, (_, i) => ({ w: 'a', i }))
    assert.deepEqual((await readAll(j)).map((e) => e.value), all, 'the merge holds batch 3 intact')
    await store.inner.delete(bkey(3))
    await j.compact()
    assert.deepEqual((await readAll(await Journal.open<Ev>(store, P, { readOnly: true, clock: world }))).map((e) => e.value), all)
  })

  test('deleteBefore past the end is refused and loses nothing', async () => {
    const store = new MemoryStore()
    const j = await Journal.open<Ev>(store, P, { graceMs: 0, flushEvents: 1 })
    for (let i = 0; i < 3; i++) { await j.append({ w: 'a', i }); await j.flush() }
    await assert.rejects(j.deleteBefore('4:0'), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT') && /beyond the journal's end/.test(e.message))
    assert.deepEqual((await readAll(j)).map((e) => e.value.i), [0, 1, 2])
    await j.deleteBefore('3:0') // the end itself: everything so far
    await j.append({ w: 'a', i: 3 }); await j.flush()
    assert.deepEqual((await readAll(j)).map((e) => e.value.i), [3])
  })
})
