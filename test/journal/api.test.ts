// The journal's API for learning where events went (issue 12): flush() results, appendDurable,
// endCursor, onError, ERR_READ_ONLY, iterate({ to }).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { isSeglogError, type SeglogError } from '../../src/errors.js'
import { JOURNAL_START, Journal, ManualClock } from '../../src/journal/index.js'
import { FaultStore, MemoryStore } from '../../src/objects/index.js'
import { readAll } from './helpers.js'

const FAST = { retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 } }
const NEVER = 0x7fff_ffff

describe('journal: where did my events go', () => {
  test('flush() resolves with the cursors it made durable, undefined when empty', async () => {
    const store = new MemoryStore()
    const j = await Journal.open<number>(store, 'f', { flushEvents: 1000, lingerMs: NEVER })
    assert.equal(await j.flush(), undefined)
    for (let i = 0; i < 3; i++) await j.append(i)
    assert.deepEqual(await j.flush(), { seq: 0, first: '0:0', last: '0:2', events: 3 })
    assert.equal(await j.flush(), undefined)
    await j.append(3)
    assert.deepEqual(await j.flush(), { seq: 1, first: '1:0', last: '1:0', events: 1 })
    assert.deepEqual((await readAll(j)).map((e) => e.cursor), ['0:0', '0:1', '0:2', '1:0'])
    await j.close()
  })

  test('a flush that writes the in-doubt batch and a new one reports both', async () => {
    const mem = new MemoryStore()
    let down = true
    const store = new FaultStore(mem, (op) => (down && op === 'put' ? 'fail-after' : down && op === 'get' ? 'fail' : 'ok'))
    const j = await Journal.open<number>(store, 'd', { ...FAST, flushEvents: 1000, lingerMs: NEVER })
    await j.append(0)
    await j.append(1)
    await assert.rejects(j.flush(), (e) => isSeglogError(e, 'ERR_STORE'))
    await j.append(2)
    down = false
    const r = await j.flush()
    assert.deepEqual(r, { seq: 1, first: '0:0', last: '1:0', events: 3 })
    assert.deepEqual((await readAll(j)).map((e) => [e.cursor, e.value]), [['0:0', 0], ['0:1', 1], ['1:0', 2]])
    await j.close()
  })

  test('appendDurable resolves with the cursor once the linger flush has made the event durable', async () => {
    const world = new ManualClock()
    const store = new MemoryStore()
    const j = await Journal.open<string>(store, 'ad', { clock: world, lingerMs: 100, flushEvents: 1000 })
    const settled: string[] = []
    const a = j.appendDurable('a').then((c) => { settled.push(c); return c })
    const b = j.appendDurable('b').then((c) => { settled.push(c); return c })
    await new Promise((res) => setImmediate(res))
    assert.deepEqual(settled, [], 'not durable before the linger flush')
    assert.equal(store.size, 0)
    await world.advance(100)
    assert.deepEqual(await Promise.all([a, b]), ['0:0', '0:1'])
    const c = j.appendDurable('c') // the linger timer starts within the call
    await world.advance(100)
    assert.equal(await c, '1:0')
    const read = await readAll(j)
    assert.deepEqual(read.map((e) => [e.cursor, e.value]), [['0:0', 'a'], ['0:1', 'b'], ['1:0', 'c']])
    await j.close()
  })

  test('endCursor names the last durable event, across compaction; JOURNAL_START when empty', async () => {
    const store = new MemoryStore()
    const j = await Journal.open<number>(store, 'e', { flushEvents: 1000, lingerMs: NEVER, graceMs: 0 })
    assert.equal(await j.endCursor(), JOURNAL_START)
    for (let k = 0; k < 4; k++) { await j.append(2 * k); await j.append(2 * k + 1); await j.flush() }
    assert.equal(await j.endCursor(), '3:1')
    await j.append(99) // buffered only: not in the end cursor
    assert.equal(await j.endCursor(), '3:1')
    await j.flush()
    await j.compact()
    assert.equal(await j.endCursor(), '4:0')
    const after: number[] = []
    for await (const e of j.iterate({ after: await j.endCursor() })) after.push(e.value)
    assert.deepEqual(after, [])
    await j.close()
  })

  test('onError sees background flush failures as they happen; the events stay and go later', async () => {
    const world = new ManualClock()
    const mem = new MemoryStore()
    let down = true
    const store = new FaultStore(mem, (op) => (down && op === 'put' ? 'fatal' : 'ok'))
    const errors: SeglogError[] = []
    const j = await Journal.open<number>(store, 'oe', { ...FAST, clock: world, lingerMs: 50, flushEvents: 1000, onError: (e) => { errors.push(e) } })
    await j.append(1)
    await world.advance(50)
    while (errors.length === 0) await new Promise((res) => setImmediate(res))
    assert.ok(isSeglogError(errors[0], 'ERR_STORE'), String(errors[0]))
    assert.equal(j.bufferedEvents, 1)
    down = false
    await world.advance(5000) // the backoff retry
    while (j.bufferedEvents > 0) await new Promise((res) => setImmediate(res))
    assert.deepEqual((await readAll(j)).map((e) => e.value), [1])
    await j.close()
    await assert.rejects(Journal.open(mem, 'x', { onError: 'no' as unknown as () => void }), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
  })

  test('writes on a read-only journal are ERR_READ_ONLY, and change nothing', async () => {
    const store = new MemoryStore()
    const w = await Journal.open<number>(store, 'ro', { flushEvents: 1 })
    await w.append(1); await w.flush()
    const r = await Journal.open<number>(store, 'ro', { readOnly: true })
    await assert.rejects(r.append(2), (e) => isSeglogError(e, 'ERR_READ_ONLY'))
    await assert.rejects(r.appendDurable(2), (e) => isSeglogError(e, 'ERR_READ_ONLY'))
    await assert.rejects(r.compact(), (e) => isSeglogError(e, 'ERR_READ_ONLY'))
    await assert.rejects(r.deleteBefore('0:0'), (e) => isSeglogError(e, 'ERR_READ_ONLY'))
    assert.deepEqual((await readAll(r)).map((e) => e.value), [1])
    assert.equal(store.size, 1)
  })

  test('iterate({ after, to }) ends at to; with follow it waits for to', async () => {
    const world = new ManualClock()
    const store = new MemoryStore()
    const j = await Journal.open<number>(store, 'it', { clock: world, flushEvents: 1000, lingerMs: NEVER, pollMs: 1000 })
    for (let i = 0; i < 6; i++) { await j.append(i); if (i % 2 === 1) await j.flush() } // batches 0..2 of two events
    const got = async (o: Parameters<Journal<number>['iterate']>[0]): Promise<number[]> => {
      const out: number[] = []
      for await (const e of j.iterate(o)) out.push(e.value)
      return out
    }
    assert.deepEqual(await got({ after: '0:1', to: '2:0' }), [2, 3, 4])
    assert.deepEqual(await got({ to: JOURNAL_START }), [])
    assert.deepEqual(await got({}), [0, 1, 2, 3, 4, 5])
    await j.append(6)
    assert.deepEqual(await got({ to: '2:1' }), [0, 1, 2, 3, 4, 5], 'buffered events are left out with to')
    await assert.rejects(got({ to: 'nope' }), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
    // follow: ends by itself once to has been read.
    let settled = false
    const following = got({ after: '2:1', to: '3:0', follow: true }).finally(() => { settled = true })
    await j.flush() // cancels the linger timer: any timer now is the follower's poll
    while (!settled && world.pendingTimers === 0) await new Promise((res) => setImmediate(res))
    await world.advance(1000)
    assert.deepEqual(await following, [6])
    await j.close()
  })
})
