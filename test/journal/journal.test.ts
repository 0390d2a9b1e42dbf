import assert from 'node:assert/strict'
import diagnostics_channel from 'node:diagnostics_channel'
import { describe, test } from 'node:test'
import { isSeglogError } from '../../src/errors.js'
import { Journal, JOURNAL_START, compareCursors, parseCursor, type CompactMessage } from '../../src/journal/index.js'
import { FaultStore, MemoryStore, type ObjectStore } from '../../src/objects/index.js'
import { checkExactlyOnce, nextFlush, readAll } from './helpers.js'

type Ev = { w: string | number; i: number }

async function keys(store: ObjectStore, prefix = ''): Promise<string[]> {
  const out: string[] = []
  for await (const m of store.list(prefix)) out.push(m.key)
  return out
}

const FAST = { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 } }

describe('Journal basics', () => {
  test('append is visible at once; flush writes exactly one object; close flushes', async () => {
    const store = new MemoryStore()
    const j = await Journal.open<Ev>(store, 'j', { flushEvents: 1000, lingerMs: 60_000 })
    await j.append({ w: 'a', i: 0 })
    await j.append({ w: 'a', i: 1 })
    const pending = []
    for await (const e of j.read()) pending.push(e)
    assert.deepEqual(pending.map((e) => [e.value.i, e.durable]), [[0, false], [1, false]])
    assert.equal(store.size, 0)
    await j.flush()
    assert.deepEqual(await keys(store), ['j/b/00000000000000000000'])
    await j.flush() // no-op when empty
    assert.equal(store.size, 1)
    await j.append({ w: 'a', i: 2 })
    await j.close()
    assert.deepEqual(await keys(store), ['j/b/00000000000000000000', 'j/b/00000000000000000001'])
    await assert.rejects(j.append({ w: 'a', i: 3 }), (e) => isSeglogError(e, 'ERR_CLOSED'))
    const r = await Journal.open<Ev>(store, 'j', { readOnly: true })
    const all = await readAll(r)
    assert.deepEqual(all.map((e) => e.cursor), ['0:0', '0:1', '1:0'])
    assert.ok(all.every((e) => e.durable && typeof e.timestamp === 'number'))
    await assert.rejects(r.append({ w: 'x', i: 0 }), (e) => isSeglogError(e, 'ERR_READ_ONLY'))
  })

  test('flushEvents, flushBytes and lingerMs trigger flushes', async () => {
    const store = new MemoryStore()
    const j = await Journal.open<Ev>(store, 'trig', { flushEvents: 4, flushBytes: 1 << 20, lingerMs: 20 })
    const f1 = nextFlush('trig')
    for (let i = 0; i < 4; i++) await j.append({ w: 0, i })
    assert.equal((await f1).events, 4)
    const f2 = nextFlush('trig')
    await j.append({ w: 0, i: 4 })
    const m2 = await f2 // by linger
    assert.equal(m2.events, 1)
    assert.equal(m2.seq, 1)
    await j.close()
    const big = await Journal.open<string>(store, 'bytes', { flushEvents: 1000, flushBytes: 100, lingerMs: 60_000 })
    const f3 = nextFlush('bytes')
    await big.append('x'.repeat(60))
    await big.append('y'.repeat(60))
    assert.equal((await f3).events, 2)
    await big.close()
  })

  test('binary codec reuses the checksummed batch format', async () => {
    const store = new MemoryStore()
    const j = await Journal.open<Buffer>(store, 'bin', { codec: 'binary' })
    await j.append(Buffer.from([1, 2, 3]))
    await j.append(Buffer.alloc(0))
    await j.close()
    const obj = await store.get('bin/b/00000000000000000000')
    assert.ok(obj)
    assert.equal(obj.data.toString('latin1', 0, 4), 'SGJB')
    assert.equal(obj.data.toString('latin1', 24, 28), 'SEGL')
    const r = await Journal.open<Buffer>(store, 'bin', { readOnly: true })
    assert.deepEqual((await readAll(r)).map((e) => [...e.value]), [[1, 2, 3], []])
    const jb = await Journal.open<unknown>(store, 'bin2', { codec: 'binary' })
    await assert.rejects(jb.append('not bytes'), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
  })

  test('bad input: prefixes, events, options, cursors', async () => {
    const store = new MemoryStore()
    for (const p of ['../x', '/abs', 'a//b', 'a/../b', 'a\\b']) {
      await assert.rejects(Journal.open(store, p), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'), p)
    }
    await assert.rejects(Journal.open(store, 'j', { flushEvents: 0 }), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
    const j = await Journal.open<unknown>(store, 'j')
    await assert.rejects(j.append(undefined), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
    await assert.rejects(j.append(10n), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    await assert.rejects(j.append(cyclic), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
    await j.append({ ok: true })
    await assert.rejects(async () => { for await (const _ of j.read({ after: 'b/0001' })) { /* none */ } }, (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
    assert.throws(() => parseCursor('1.5'), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
    const small = await Journal.open<string>(store, 'small', { maxBufferedBytes: 100 })
    await assert.rejects(small.append('x'.repeat(200)), (e) => isSeglogError(e, 'ERR_RECORD_TOO_LARGE'))
    await j.close()
    assert.deepEqual((await readAll(await Journal.open(store, 'j', { readOnly: true }))).map((e) => e.value), [{ ok: true }])
    assert.equal(compareCursors('2:0', '10:0') < 0, true)
  })

  test('cursors resume exactly and survive compaction', async () => {
    const store = new MemoryStore()
    const j = await Journal.open<Ev>(store, 'cur', { flushEvents: 3, graceMs: 0 })
    for (let i = 0; i < 20; i++) await j.append({ w: 0, i })
    await j.flush()
    const all = await readAll(j)
    assert.equal(all.length, 20)
    const mid = all[7].cursor
    const before = (await readAll(j, mid)).map((e) => e.value.i)
    assert.deepEqual(before, Array.from({ length: 12 }, (_, k) => k + 8))
    const res = await j.compact()
    assert.ok(res.merged.length === 1 && res.deleted.length > 0)
    assert.ok((await keys(store)).every((k) => k.startsWith('cur/c/')))
    assert.deepEqual((await readAll(j, mid)).map((e) => e.value.i), before)
    assert.deepEqual((await readAll(j)).map((e) => e.cursor), all.map((e) => e.cursor))
    assert.deepEqual((await readAll(j, JOURNAL_START)).length, 20)
    await j.close()
  })

  test('corrupt objects are ERR_CORRUPT, not garbage', async () => {
    for (const codec of ['jsonl', 'binary'] as const) {
      const store = new MemoryStore()
      const j = await Journal.open<unknown>(store, 'bad', { codec })
      await j.append(codec === 'jsonl' ? { a: 'hello world' } : Buffer.from('hello world'))
      await j.close()
      const key = 'bad/b/00000000000000000000'
      const obj = await store.get(key)
      assert.ok(obj)
      for (const pos of [0, 5, 30, obj.data.length - 2]) {
        const damaged = Buffer.from(obj.data)
        damaged[pos] ^= 0x20
        await store.put(key, damaged)
        const r = await Journal.open(store, 'bad', { readOnly: true })
        await assert.rejects(readAll(r), (e) => isSeglogError(e, 'ERR_CORRUPT') || isSeglogError(e, 'ERR_FORMAT_VERSION'), `${codec} byte ${pos}`)
      }
      await store.put(key, obj.data.subarray(0, obj.data.length - 3))
      await assert.rejects(readAll(await Journal.open(store, 'bad', { readOnly: true })), (e) => isSeglogError(e, 'ERR_CORRUPT'))
      // An object whose content does not match its key.
      await store.put(key, obj.data)
      await store.put('bad/b/00000000000000000001', obj.data)
      await assert.rejects(readAll(await Journal.open(store, 'bad', { readOnly: true })), (e) => isSeglogError(e, 'ERR_CORRUPT'))
    }
  })
})

describe('Journal writers and failures', () => {
  test('stores without create-only are refused unless singleWriter; probe detects them', async () => {
    const loose = new FaultStore(new MemoryStore())
    loose.enforcesCreateOnlyOverride = false
    await assert.rejects(Journal.open(loose, 'j'), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT') && /singleWriter/.test(e.message))
    const j = await Journal.open(loose, 'j', { singleWriter: true })
    await j.append(1)
    await j.close()
    await Journal.open(loose, 'j', { readOnly: true })
    // A store that claims enforcement but overwrites: the probe catches it.
    const liar = new FaultStore(new MemoryStore())
    liar.decide = () => 'ok'
    const lying: ObjectStore = {
      name: 'liar', enforcesCreateOnly: true,
      put: (k, d) => liar.put(k, d), get: (k, o) => liar.get(k, o), head: (k) => liar.head(k),
      list: (p, o) => liar.list(p, o), delete: (k) => liar.delete(k), deleteMany: (k) => liar.deleteMany(k),
    }
    await assert.rejects(Journal.open(lying, 'j', { probe: true }), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
    assert.equal(await Journal.probe(new MemoryStore(), 'j'), true)
    const probed = new MemoryStore()
    await Journal.open(probed, 'x', { probe: true })
    assert.equal(probed.size, 0) // the probe cleans up
  })

  test('many writers in one process: every event once, one order for all readers', async () => {
    const store = new MemoryStore()
    const writers = await Promise.all(Array.from({ length: 6 }, (_, w) => Journal.open<Ev>(store, 'race', { flushEvents: 1 + w, lingerMs: 1 })))
    await Promise.all(writers.map(async (j, w) => {
      for (let i = 0; i < 60; i++) {
        await j.append({ w, i })
        if (i % 7 === 0) await j.flush()
      }
      await j.close()
    }))
    const r1 = (await readAll(await Journal.open<Ev>(store, 'race', { readOnly: true }))).map((e) => e.value)
    assert.equal(checkExactlyOnce(r1, [0, 1, 2, 3, 4, 5], 60), undefined)
    const r2 = (await readAll(await Journal.open<Ev>(store, 'race', { readOnly: true }))).map((e) => e.value)
    assert.deepEqual(r2, r1)
  })

  test('a lost response on PUT is recognised as our own write (no duplicate)', async () => {
    const mem = new MemoryStore()
    let n = 0
    const store = new FaultStore(mem, (op) => (op === 'put' && n++ === 0 ? 'fail-after' : 'ok'))
    const j = await Journal.open<Ev>(store, 'lost', { ...FAST })
    for (let i = 0; i < 5; i++) await j.append({ w: 0, i })
    await j.flush()
    await j.close()
    assert.equal(mem.size, 1)
    assert.equal(checkExactlyOnce((await readAll(await Journal.open<Ev>(mem, 'lost', { readOnly: true }))).map((e) => e.value), [0], 5), undefined)
  })

  test('a failed flush rejects, keeps the events, and the next flush writes them once', async () => {
    const mem = new MemoryStore()
    let mode: 'down' | 'landed-but-down' | 'up' = 'down'
    const store = new FaultStore(mem, (op) => (mode === 'up' || (op !== 'put' && op !== 'get') ? 'ok' : mode === 'down' || op === 'get' ? 'fail' : 'fail-after'))
    const j = await Journal.open<Ev>(store, 'ff', { ...FAST, flushEvents: 1000, lingerMs: 60_000 })
    for (let i = 0; i < 3; i++) await j.append({ w: 0, i })
    await assert.rejects(j.flush(), (e) => isSeglogError(e, 'ERR_STORE') && e.cause !== undefined)
    assert.equal(j.bufferedEvents, 3)
    assert.equal(mem.size, 0)
    // The write lands but every response is lost: the flush fails, the object exists.
    // The write lands but every response is lost and reads fail too: the outcome stays unknown.
    mode = 'landed-but-down'
    await j.append({ w: 0, i: 3 })
    await assert.rejects(j.flush(), (e) => isSeglogError(e, 'ERR_STORE'))
    assert.equal(mem.size, 1)
    assert.equal(j.bufferedEvents, 4)
    mode = 'up'
    await j.append({ w: 0, i: 4 })
    await j.flush()
    assert.equal(j.bufferedEvents, 0)
    await j.close()
    const vals = (await readAll(await Journal.open<Ev>(mem, 'ff', { readOnly: true }))).map((e) => e.value)
    assert.equal(checkExactlyOnce(vals, [0], 5), undefined)
  })

  test('maxBufferedBytes bounds memory while the store is down', async () => {
    const mem = new MemoryStore()
    let down = true
    const store = new FaultStore(mem, (op) => (down && op === 'put' ? 'fail' : 'ok'))
    const j = await Journal.open<string>(store, 'full', { ...FAST, flushEvents: 1000, flushBytes: 64, maxBufferedBytes: 256, lingerMs: 60_000 })
    let appended = 0
    let error: unknown
    for (let i = 0; i < 100 && error === undefined; i++) {
      try { await j.append(`event-${String(i).padStart(20, '0')}`); appended++ } catch (err) { error = err }
    }
    assert.ok(isSeglogError(error, 'ERR_STORE') && /buffer full/.test(error.message), String(error))
    assert.ok(j.bufferedBytes <= 256)
    down = false
    await j.close()
    const vals = (await readAll(await Journal.open<string>(mem, 'full', { readOnly: true }))).map((e) => e.value)
    assert.equal(vals.length, appended)
    assert.deepEqual(vals, Array.from({ length: appended }, (_, i) => `event-${String(i).padStart(20, '0')}`))
  })

  test('a writer with an old idea of the next number is never hidden by compaction', async () => {
    const store = new MemoryStore()
    // graceMs 0: every compaction deletes at once, so every writer's knowledge is stale.
    const a = await Journal.open<Ev>(store, 'stale', { graceMs: 0 })
    const b = await Journal.open<Ev>(store, 'stale', { graceMs: 0 })
    await a.append({ w: 'a', i: 0 }); await a.flush()
    for (let i = 0; i < 5; i++) { await b.append({ w: 'b', i }); await b.flush() }
    await b.compact()
    assert.ok((await keys(store, 'stale/b/')).length === 0)
    await a.append({ w: 'a', i: 1 }); await a.flush()
    await a.close(); await b.close()
    const vals = (await readAll(await Journal.open<Ev>(store, 'stale', { readOnly: true }))).map((e) => e.value)
    assert.equal(checkExactlyOnce(vals.filter((v) => v.w === 'a'), ['a'], 2), undefined)
    assert.equal(checkExactlyOnce(vals.filter((v) => v.w === 'b'), ['b'], 5), undefined)
  })

  test('follow sees new batches from other handles and stops on abort', async () => {
    const store = new MemoryStore()
    const w = await Journal.open<Ev>(store, 'fol', { flushEvents: 2, lingerMs: 5 })
    const r = await Journal.open<Ev>(store, 'fol', { readOnly: true, pollMs: 10 })
    const ac = new AbortController()
    const got: number[] = []
    const reading = (async () => {
      for await (const e of r.read({ follow: true, signal: ac.signal })) {
        got.push(e.value.i)
        if (got.length === 10) ac.abort()
      }
    })()
    for (let i = 0; i < 10; i++) await w.append({ w: 0, i })
    await w.close()
    await reading
    assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  })
})

describe('Journal compaction and retention', () => {
  test('compaction racing with writers and readers: no duplicate, no gap', async () => {
    const store = new MemoryStore({ pageSize: 50 })
    const opts = { flushEvents: 2, lingerMs: 1, graceMs: 5, pollMs: 5 }
    const writers = await Promise.all([0, 1, 2].map(() => Journal.open<Ev>(store, 'cr', opts)))
    const compactors = await Promise.all([0, 1].map(() => Journal.open<Ev>(store, 'cr', opts)))
    const reader = await Journal.open<Ev>(store, 'cr', { ...opts, readOnly: true })
    const ac = new AbortController()
    const followed: Ev[] = []
    const total = 3 * 80
    const following = (async () => {
      for await (const e of reader.read({ follow: true, signal: ac.signal })) {
        followed.push(e.value)
        if (followed.length === total) ac.abort()
      }
    })()
    let writing = true
    const compacting = compactors.map(async (c) => {
      while (writing) { await c.compact(); await new Promise((r) => setImmediate(r)) }
    })
    const snapshots: Ev[][] = []
    const snapshotting = (async () => {
      while (writing) {
        snapshots.push((await readAll(reader)).map((e) => e.value))
        await new Promise((r) => setImmediate(r)) // MemoryStore answers in microtasks: let timers run
      }
    })()
    await Promise.all(writers.map(async (j, w) => {
      for (let i = 0; i < 80; i++) { await j.append({ w, i }); if (i % 5 === 0) await new Promise((r) => setImmediate(r)) }
      await j.close()
    }))
    writing = false
    await Promise.all([...compacting, snapshotting])
    await following
    assert.equal(checkExactlyOnce(followed, [0, 1, 2], 80), undefined)
    const final = (await readAll(reader)).map((e) => e.value)
    assert.deepEqual(final, followed)
    // Every snapshot taken during the race is a prefix of the final order.
    for (const s of snapshots) assert.deepEqual(s, final.slice(0, s.length))
    await compactors[0].compact({ graceMs: 0 })
    assert.deepEqual((await readAll(reader)).map((e) => e.value), final)
    const left = await keys(store, 'cr/')
    assert.ok(left.filter((k) => k.startsWith('cr/c/')).length >= 1)
    assert.equal(left.filter((k) => k.startsWith('cr/b/')).length, 0)
  })

  test('a crash at any step of compaction loses nothing', async () => {
    const mem = new MemoryStore()
    const j = await Journal.open<Ev>(mem, 'crash', { flushEvents: 1 })
    for (let i = 0; i < 12; i++) { await j.append({ w: 0, i }); await j.flush() }
    const expected = (await readAll(j)).map((e) => e.value)
    // Fail the k-th mutating call of a compaction (put or delete), for every k.
    for (let k = 0; k < 6; k++) {
      let n = 0
      const store = new FaultStore(mem, (op) => ((op === 'put' || op === 'deleteMany' || op === 'delete') && n++ === k ? 'fatal' : 'ok'))
      const c = await Journal.open<Ev>(store, 'crash', { graceMs: 0, compactTargetBytes: 400, ...FAST })
      await c.compact().catch(() => undefined)
      assert.deepEqual((await readAll(await Journal.open<Ev>(mem, 'crash', { readOnly: true }))).map((e) => e.value), expected, `crash at step ${k}`)
      await j.append({ w: 0, i: 12 + k }); await j.flush()
      expected.push({ w: 0, i: 12 + k })
    }
    await (await Journal.open(mem, 'crash', { graceMs: 0 })).compact()
    assert.deepEqual((await readAll(await Journal.open<Ev>(mem, 'crash', { readOnly: true }))).map((e) => e.value), expected)
  })

  test('originals wait for the grace period; two compactors agree', async () => {
    const store = new MemoryStore()
    const j = await Journal.open<Ev>(store, 'grace', { flushEvents: 1, graceMs: 60_000 })
    for (let i = 0; i < 6; i++) { await j.append({ w: 0, i }); await j.flush() }
    const msgs: CompactMessage[] = []
    const on = (m: unknown): void => { msgs.push(m as CompactMessage) }
    diagnostics_channel.subscribe('seglog:journal:compact', on)
    const [r1, r2] = await Promise.all([j.compact(), (await Journal.open(store, 'grace', { graceMs: 60_000 })).compact()])
    diagnostics_channel.unsubscribe('seglog:journal:compact', on)
    assert.equal(msgs.length, 2)
    assert.deepEqual(r1.deleted, [])
    assert.deepEqual(r2.deleted, [])
    assert.equal((await keys(store, 'grace/b/')).length, 6) // kept: grace not over
    assert.deepEqual(await keys(store, 'grace/c/'), ['grace/c/00000000000000000000-00000000000000000005'])
    assert.deepEqual((await readAll(j)).map((e) => e.value.i), [0, 1, 2, 3, 4, 5])
    const after = await j.compact({ graceMs: 0 })
    assert.equal(after.deleted.length, 6)
    assert.deepEqual((await readAll(j)).map((e) => e.value.i), [0, 1, 2, 3, 4, 5])
  })

  test('a large compacted object is not rewritten to add a few batches', async () => {
    const store = new MemoryStore()
    const j = await Journal.open<Ev>(store, 'amp', { flushEvents: 1000, graceMs: 0 })
    for (let i = 0; i < 40; i++) { await j.append({ w: 0, i }); await j.flush() }
    assert.deepEqual((await j.compact()).merged.map((m) => m.key), [`amp/c/${'0'.padStart(20, '0')}-${'39'.padStart(20, '0')}`])
    for (let i = 40; i < 42; i++) { await j.append({ w: 0, i }); await j.flush() }
    assert.deepEqual((await j.compact()).merged.map((m) => m.key), [`amp/c/${'40'.padStart(20, '0')}-${'41'.padStart(20, '0')}`])
    for (let i = 42; i < 60; i++) { await j.append({ w: 0, i }); await j.flush() }
    assert.deepEqual((await j.compact()).merged.map((m) => m.key), [`amp/c/${'0'.padStart(20, '0')}-${'59'.padStart(20, '0')}`])
    assert.deepEqual((await readAll(j)).map((e) => e.value.i), Array.from({ length: 60 }, (_, i) => i))
    assert.equal((await keys(store, 'amp/')).length, 1)
  })

  test('overlapping compacted objects from racing compactors read once', async () => {
    const store = new MemoryStore()
    const j = await Journal.open<Ev>(store, 'ov', { flushEvents: 1, graceMs: 0 })
    for (let i = 0; i < 10; i++) { await j.append({ w: 0, i }); await j.flush() }
    // Hand-made overlap: c/0-5 and c/3-9 (what two compactors with different views produce).
    const section = async (s: number): Promise<Buffer> => (await store.get(`ov/b/${String(s).padStart(20, '0')}`))!.data
    const cat = async (a: number, b: number): Promise<Buffer> => Buffer.concat(await Promise.all(Array.from({ length: b - a + 1 }, (_, k) => section(a + k))))
    await store.put(`ov/c/${'0'.padStart(20, '0')}-${'5'.padStart(20, '0')}`, await cat(0, 5))
    await store.put(`ov/c/${'3'.padStart(20, '0')}-${'9'.padStart(20, '0')}`, await cat(3, 9))
    assert.deepEqual((await readAll(j)).map((e) => e.value.i), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    await j.compact()
    assert.deepEqual((await readAll(j)).map((e) => e.value.i), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    await j.compact()
    assert.deepEqual(await keys(store, 'ov/'), [`ov/c/${'0'.padStart(20, '0')}-${'9'.padStart(20, '0')}`])
  })

  test('deleteBefore and age-based retention', async () => {
    const store = new MemoryStore()
    const j = await Journal.open<Ev>(store, 'ret', { flushEvents: 1000, graceMs: 0 })
    for (let i = 0; i < 10; i++) { await j.append({ w: 0, i }); if (i % 2 === 1) await j.flush() }
    const all = await readAll(j)
    const cut = all[5].cursor // batch 2 holds events 4, 5
    await j.deleteBefore(cut)
    assert.deepEqual((await readAll(j)).map((e) => e.value.i), [4, 5, 6, 7, 8, 9])
    assert.deepEqual((await keys(store, 'ret/b/')).length, 3)
    // A reader holding an old cursor continues from the first retained batch.
    assert.deepEqual((await readAll(j, all[0].cursor)).map((e) => e.value.i), [4, 5, 6, 7, 8, 9])
    // Writers continue above the marker.
    await j.append({ w: 0, i: 10 }); await j.flush()
    assert.equal((await readAll(j)).at(-1)?.value.i, 10)
    assert.deepEqual(await j.retain({ maxAgeMs: 3_600_000 }), [])
    const removed = await j.retain({ maxAgeMs: 0 })
    assert.ok(removed.length >= 3)
    assert.deepEqual(await readAll(j), [])
    await j.append({ w: 0, i: 11 }); await j.flush()
    assert.deepEqual((await readAll(j)).map((e) => e.value.i), [11])
    await j.close()
  })
})
