// Journal.verify and Journal.listObjects (issue 12): a read-only check that goes on past every
// damaged, foreign or misnamed object and reports each one, and changes nothing in the store.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import { isSeglogError } from '../../src/errors.js'
import { Journal, ManualClock, type JournalClock, type JournalOptions, type JournalVerifyReport } from '../../src/journal/index.js'
import { FaultStore, MemoryStore, type ObjectStore } from '../../src/objects/index.js'
import { readAll } from './helpers.js'

const P = 'v'
const pad = (n: number): string => String(n).padStart(20, '0')
const bkey = (s: number): string => `${P}/b/${pad(s)}`
const ckey = (a: number, b: number): string => `${P}/c/${pad(a)}-${pad(b)}`
const NEVER = 0x7fff_ffff

/** A journal of `batches` batches of two events each, `{ n }` numbered from 0; returns each batch's bytes. */
async function build(store: MemoryStore, prefix = P, batches = 6, tag = 'own'): Promise<Buffer[]> {
  const j = await Journal.open<{ n: number; tag: string }>(store, prefix, { flushEvents: 1000, lingerMs: NEVER })
  for (let b = 0; b < batches; b++) {
    await j.append({ n: 2 * b, tag })
    await j.append({ n: 2 * b + 1, tag })
    await j.flush()
  }
  await j.close()
  const out: Buffer[] = []
  for (let b = 0; b < batches; b++) {
    const got = await store.get(`${prefix}/b/${pad(b)}`)
    assert.ok(got !== undefined)
    out.push(got.data)
  }
  return out
}

/** Every key and its bytes: verify must leave the store exactly as it found it. */
async function snapshot(store: MemoryStore): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for await (const m of store.list('')) out.set(m.key, (await store.get(m.key))?.data.toString('hex') ?? '')
  return out
}

function flipBody(section: Buffer): Buffer {
  const b = Buffer.from(section)
  b[b.length - 3] ^= 0x04
  return b
}

function faultsOf(r: JournalVerifyReport): [string, string][] {
  return r.faults.map((f) => [f.kind, f.key])
}

describe('Journal.verify', () => {
  test('a sound journal, before and after compaction, counts each batch once', async () => {
    const store = new MemoryStore()
    await build(store)
    let r = await Journal.verify(store, P)
    assert.equal(r.ok, true)
    assert.deepEqual([r.objects, r.batches, r.events, r.firstBatch, r.lastBatch, r.retentionMarker], [6, 6, 12, 0, 5, null])
    assert.deepEqual(r.faults, [])
    assert.deepEqual(r.unrecognized, [])
    // Within the grace period the originals stay beside the merge: both are checked, counted once.
    const j = await Journal.open(store, P, {})
    assert.equal((await j.compact()).merged.length, 1)
    await j.close()
    r = await Journal.verify(store, P)
    assert.equal(r.ok, true)
    assert.deepEqual([r.objects, r.batches, r.events], [7, 6, 12])
  })

  test('an empty journal is ok; a bad prefix is ERR_INVALID_ARGUMENT', async () => {
    const r = await Journal.verify(new MemoryStore(), 'none')
    assert.deepEqual([r.ok, r.objects, r.batches, r.events, r.firstBatch, r.lastBatch], [true, 0, 0, 0, null, null])
    await assert.rejects(Journal.verify(new MemoryStore(), '/abs'), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
    await assert.rejects(Journal.verify(new MemoryStore(), 'v', { concurrency: 0 }), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
  })

  test('reports every damaged, foreign and misnamed object at once, and changes nothing', async () => {
    const store = new MemoryStore()
    const own = await build(store)
    const foreign = await build(store, 'other', 6, 'foreign')
    await store.put(bkey(1), flipBody(own[1]))                         // bit flip in an acknowledged batch
    await store.put(bkey(2), own[2].subarray(0, own[2].length - 5))    // cut short
    await store.put(bkey(6), randomBytes(200))                         // random bytes at the next number
    await store.put(bkey(7), own[4])                                   // own batch under the wrong number
    await store.put(bkey(8), foreign[3])                               // another journal's batch, wrong number
    await store.put(ckey(0, 9), Buffer.concat(own))                    // name wider than its content
    await store.put(ckey(3, 4), Buffer.concat(foreign.slice(3, 5)))    // another journal's merge, right numbers
    await store.put(`${P}/b/12`, own[0])                               // keys the journal never writes
    await store.put(`${P}/r/abc`, Buffer.from('x'))
    await store.put(`${P}/junk`, Buffer.from('x'))                     // not under b/ c/ r/: ignored by readers
    const before = await snapshot(store)

    const r = await Journal.verify(store, P)
    assert.equal(r.ok, false)
    assert.deepEqual(faultsOf(r).sort(), [
      ['conflict', ckey(3, 4)],
      ['corrupt', bkey(1)],
      ['corrupt', bkey(2)],
      ['corrupt', bkey(6)],
      ['misnamed', `${P}/b/12`],
      ['misnamed', `${P}/r/abc`],
      ['range', bkey(7)],
      ['range', bkey(8)],
      ['range', ckey(0, 9)],
    ].sort())
    assert.deepEqual(r.unrecognized, [`${P}/junk`])
    const flip = r.faults.find((f) => f.key === bkey(1))
    assert.ok(flip !== undefined && flip.position === 0 && /checksum/.test(flip.message), flip?.message)
    assert.match(r.faults.find((f) => f.key === bkey(7))?.message ?? '', /holds batch 4 but its key names batch 7/)
    assert.match(r.faults.find((f) => f.key === ckey(0, 9))?.message ?? '', /holds batches 0,1,2,3,4,5 but its key names batches 0\.\.9/)
    assert.match(r.faults.find((f) => f.key === ckey(3, 4))?.message ?? '', new RegExp(`batch 3 differs from the batch 3 in ${bkey(3)}`))
    // The intact batches 0, 3, 4, 5 (1 and 2 are damaged; nothing else holds them).
    assert.deepEqual([r.batches, r.events, r.firstBatch, r.lastBatch], [4, 8, 0, 5])
    assert.equal(r.objects, 11)
    assert.deepEqual(await snapshot(store), before)
    // The other journal under its own prefix is untouched by all this and still verifies.
    assert.equal((await Journal.verify(store, 'other')).ok, true)
  })

  test('a damaged original beside its sound merge is reported; the merge still serves its events', async () => {
    const store = new MemoryStore()
    const own = await build(store)
    const j = await Journal.open<{ n: number }>(store, P, {})
    await j.compact()
    await store.put(bkey(2), flipBody(own[2]))
    const r = await Journal.verify(store, P)
    assert.deepEqual(faultsOf(r), [['corrupt', bkey(2)]])
    assert.deepEqual([r.batches, r.events], [6, 12])
    assert.deepEqual((await readAll(j)).map((e) => e.value.n), Array.from({ length: 12 }, (_, i) => i))
    await j.close()
  })

  test('a batch from a newer seglog is newer-version, not corrupt', async () => {
    const store = new MemoryStore()
    await build(store, P, 2)
    const got = await store.get(bkey(1))
    assert.ok(got !== undefined)
    await store.put(bkey(1), Buffer.from(got.data.toString('utf8').replace('{"seglog":1', '{"seglog":2')))
    const r = await Journal.verify(store, P)
    assert.deepEqual(faultsOf(r), [['newer-version', bkey(1)]])
  })

  test('retention markers are reported, progress reaches the total, an aborted check rejects', async () => {
    const store = new MemoryStore()
    await build(store)
    const j = await Journal.open(store, P, {})
    await j.deleteBefore('3:0')
    await j.close()
    const seen: [number, number][] = []
    const r = await Journal.verify(store, P, { concurrency: 2, onProgress: (d, t) => seen.push([d, t]) })
    assert.equal(r.retentionMarker, 3)
    assert.equal(r.ok, true)
    assert.equal(seen.length, 3)
    assert.equal(seen[seen.length - 1][0], r.bytes)
    assert.ok(seen.every(([, t]) => t === r.bytes))
    const ac = new AbortController()
    ac.abort(new Error('stop'))
    await assert.rejects(Journal.verify(store, P, { signal: ac.signal }), /stop/)
  })

  test('objects compacted away between the listing and the read are skipped, not faults', async () => {
    const store = new MemoryStore()
    await build(store)
    const compactor = await Journal.open(store, P, {})
    let compacted = false
    // The listing is done before the first read: compaction merges and deletes every original then.
    const racing: ObjectStore = {
      name: store.name, enforcesCreateOnly: true,
      put: (key, data, options) => store.put(key, data, options),
      get: async (key, options) => {
        if (!compacted) { compacted = true; await compactor.compact({ graceMs: 0 }) }
        return store.get(key, options)
      },
      head: (key) => store.head(key),
      list: (prefix, options) => store.list(prefix, options),
      delete: (key) => store.delete(key),
      deleteMany: (keys) => store.deleteMany(keys),
    }
    const r = await Journal.verify(racing, P)
    assert.equal(compacted, true)
    assert.deepEqual([r.ok, r.objects, r.faults.length], [true, 6, 0])
    assert.deepEqual(await Journal.listObjects(store, P).then((l) => l.map((o) => o.key)), [ckey(0, 5)])
    assert.deepEqual([(await Journal.verify(store, P)).batches, (await Journal.verify(store, P)).events], [6, 12])
    await compactor.close()
  })

  test('a transient store failure is retried; a lasting one rejects with ERR_STORE', async () => {
    const mem = new MemoryStore()
    await build(mem)
    let failures = 1
    const flaky = new FaultStore(mem, (op, key) => (op === 'get' && key === bkey(2) && failures-- > 0 ? 'fail' : 'ok'))
    const r = await Journal.verify(flaky, P, { retry: { baseDelayMs: 1, maxDelayMs: 2 } })
    assert.deepEqual([r.ok, r.batches, r.events], [true, 6, 12])
    failures = 100
    await assert.rejects(Journal.verify(flaky, P, { retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 } }),
      (e) => isSeglogError(e, 'ERR_STORE'))
  })

  test('listObjects names what each key claims'
, async () => {
    const store = new MemoryStore()
    await build(store, P, 2)
    await store.put(ckey(0, 1), Buffer.from('x'))
    await store.put(`${P}/r/${pad(1)}`, Buffer.from(''))
    await store.put(`${P}/p/abc`, Buffer.from('1'))
    await store.put(`${P}/c/${pad(0)}`, Buffer.from('x'))
    await store.put(`${P}/junk`, Buffer.from('x'))
    await store.put('vv/b/00000000000000000000', Buffer.from('x'))  // a sibling prefix is not listed
    const list = await Journal.listObjects(store, P)
    assert.deepEqual(list.map((o) => [o.key, o.kind, o.first, o.last]), [
      [bkey(0), 'batch', 0, 0],
      [bkey(1), 'batch', 1, 1],
      [`${P}/c/${pad(0)}`, 'misnamed', -1, -1],
      [ckey(0, 1), 'compacted', 0, 1],
      [`${P}/junk`, 'other', -1, -1],
      [`${P}/p/abc`, 'probe', -1, -1],
      [`${P}/r/${pad(1)}`, 'marker', 1, 1],
    ])
    assert.ok(list.every((o) => o.lastModified instanceof Date && o.size >= 0))
  })
})

/** The delay a following reader waits between polls at the journal's end, with `options`. */
async function followPoll(store: MemoryStore, options: JournalOptions): Promise<number> {
  const world = new ManualClock()
  const delays: number[] = []
  const clock: JournalClock = {
    now: () => world.now(), monotonic: () => world.monotonic(),
    setTimer: (cb, ms) => { delays.push(ms); return world.setTimer(cb, ms) },
  }
  const j = await Journal.open<unknown>(store, P, { ...options, readOnly: true, clock })
  const ac = new AbortController()
  let got = 0
  const reading = (async () => { for await (const _ of j.read({ follow: true, signal: ac.signal })) got++ })()
  // The follower has read what is there once it sets its poll timer (no event to await).
  while (delays.length === 0) await new Promise((res) => setImmediate(res))
  ac.abort()
  await reading
  await j.close()
  assert.equal(got, 2)
  return delays[0]
}

describe('followPollMs: one name for the follow poll option', () => {
  test('followPollMs sets the poll, pollMs still works, both disagreeing is ERR_INVALID_ARGUMENT', async () => {
    const store = new MemoryStore()
    await build(store, P, 1)
    assert.equal(await followPoll(store, {}), 1000)
    assert.equal(await followPoll(store, { followPollMs: 7 }), 7)
    assert.equal(await followPoll(store, { pollMs: 9 }), 9)
    assert.equal(await followPoll(store, { followPollMs: 11, pollMs: 11 }), 11)
    await assert.rejects(Journal.open(store, P, { followPollMs: 5, pollMs: 6 }),
      (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT') && /followPollMs \(5\) and pollMs \(6\) disagree/.test(e.message))
    await assert.rejects(Journal.open(store, P, { followPollMs: 0 }),
      (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT') && /followPollMs/.test(e.message))
    // Nothing written before is lost by the refused opens.
    const j = await Journal.open(store, P, { readOnly: true })
    assert.equal((await readAll(j)).length, 2)
    await j.close()
  })
})
