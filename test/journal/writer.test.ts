// The batch writer alone: MemoryStore (through FaultStore and RetryStore) and a ManualClock.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isSeglogError } from '../../src/errors.js'
import { Catalog } from '../../src/journal/catalog.js'
import { ManualClock } from '../../src/journal/clock.js'
import { decodeSections } from '../../src/journal/codec.js'
import { JournalKeys } from '../../src/journal/keys.js'
import { BatchWriter, encodeEvent, type BatchWriterConfig } from '../../src/journal/writer.js'
import { FaultStore, MemoryStore, RetryStore, type Fault, type StoreOp } from '../../src/objects/index.js'

function setup(options: Partial<BatchWriterConfig> = {}, decide: (op: StoreOp) => Fault = () => 'ok') {
  const inner = new MemoryStore()
  const faults = new FaultStore(inner, decide)
  const store = new RetryStore(faults, { sleep: async () => undefined, policy: { maxAttempts: 2 } })
  const clock = new ManualClock()
  const keys = new JournalKeys('j')
  const catalog = new Catalog(store, keys, clock, 1000)
  const writer = new BatchWriter({
    store, keys, catalog, clock, codec: 'jsonl', flushEvents: 100, flushBytes: 1 << 20, lingerMs: 100,
    maxBufferedBytes: 1 << 20, graceMs: 1000, onError: undefined, ...options,
  })
  const push = (v: unknown): Promise<number> => writer.push(encodeEvent('jsonl', v), () => undefined)
  /** Every event in the store, batch by batch, in key order. */
  const stored = async (): Promise<{ seq: number; values: unknown[] }[]> => {
    const out: { seq: number; values: unknown[] }[] = []
    for await (const m of inner.list('j/b/')) {
      for (const s of decodeSections((await inner.get(m.key))!.data, m.key)) out.push({ seq: s.seq, values: s.values })
    }
    return out
  }
  return { inner, faults, clock, writer, push, stored }
}

test('linger: a lone event is flushed when lingerMs has passed on the clock, not before', async () => {
  const { clock, writer, push, stored } = setup()
  await push({ a: 1 })
  await clock.advance(99)
  await writer.idle()
  assert.deepEqual(await stored(), [])
  await clock.advance(1)
  await writer.idle()
  assert.deepEqual(await stored(), [{ seq: 0, values: [{ a: 1 }] }])
  assert.equal(writer.bufferedEvents, 0)
  assert.equal(clock.pendingTimers, 0)
})

test('flushEvents: the event that reaches it starts a flush at once, as one batch', async () => {
  const { writer, push, stored } = setup({ flushEvents: 3 })
  for (let i = 0; i < 3; i++) await push(i)
  await writer.idle()
  assert.deepEqual(await stored(), [{ seq: 0, values: [0, 1, 2] }])
})

test('back-pressure: an append past maxBufferedBytes waits for a flush and fails with ERR_STORE when it fails; nothing buffered is lost', async () => {
  let down = true
  const { writer, push, stored } = setup({ maxBufferedBytes: 64, flushBytes: 1 << 20, lingerMs: 1_000_000 }, (op) => (down && op === 'put' ? 'fatal' : 'ok'))
  const values = ['x'.repeat(20), 'y'.repeat(20)]
  for (const v of values) await push(v)
  const before = writer.bufferedBytes
  await assert.rejects(push('z'.repeat(30)), (e) => isSeglogError(e, 'ERR_STORE') && e.details.buffered === before)
  assert.equal(writer.bufferedEvents, 2)
  assert.deepEqual(await stored(), [])
  await assert.rejects(push('w'.repeat(100)), (e) => isSeglogError(e, 'ERR_RECORD_TOO_LARGE'))
  down = false
  await push('z'.repeat(30)) // now the flush it waits for succeeds
  await writer.flush()
  assert.deepEqual((await stored()).flatMap((b) => b.values), [...values, 'z'.repeat(30)])
})

test('in doubt: a batch whose write may have landed is written again under its number with the same bytes, later events in the next batch', async () => {
  let plan: Fault[] = ['fail-after', 'fail'] // the object lands, its reply is lost, the retry fails too
  const { inner, writer, push, stored } = setup({}, (op) => (op === 'put' ? plan.shift() ?? 'ok' : 'ok'))
  await push('a')
  await push('b')
  await assert.rejects(writer.flush(), (e) => isSeglogError(e, 'ERR_STORE'))
  const landed = (await inner.get('j/b/00000000000000000000'))!.data
  assert.equal(writer.bufferedEvents, 2, 'not durable as far as the writer knows')
  await push('c')
  plan = ['fail'] // the retry of the batch in doubt: one more transient failure first
  const r = await writer.flush()
  assert.deepEqual(r, { seq: 1, first: '0:0', last: '1:0', events: 3 })
  assert.deepEqual(await stored(), [{ seq: 0, values: ['a', 'b'] }, { seq: 1, values: ['c'] }])
  assert.ok((await inner.get('j/b/00000000000000000000'))!.data.equals(landed), 'the first object was not replaced')
  assert.equal(writer.bufferedEvents, 0)
})

test('a number taken by another writer is skipped: the batch goes to the next free one', async () => {
  const { inner, writer, push, stored } = setup()
  const other = setup()
  await other.push('theirs')
  await other.writer.flush()
  for await (const m of other.inner.list('j/')) await inner.put(m.key, (await other.inner.get(m.key))!.data)
  await push('mine')
  const r = await writer.flush()
  assert.equal(r?.seq, 1)
  assert.deepEqual(await stored(), [{ seq: 0, values: ['theirs'] }, { seq: 1, values: ['mine'] }])
})

test('a flush is one PUT and nothing else while the writer knows the next number; it lists again only once that knowledge is graceMs / 2 old', async () => {
  const ops: string[] = []
  const { clock, writer, push, stored } = setup({}, (op) => { ops.push(op); return 'ok' })
  await push({ n: 0 })
  await writer.flush() // the first claim lists what is taken
  assert.ok(ops.includes('list') && ops.filter((o) => o === 'put').length === 1, ops.join(','))
  for (let f = 1; f <= 5; f++) {
    ops.length = 0
    await clock.advance(400) // < graceMs / 2 (500) since the last PUT began
    for (let i = 0; i < 32; i++) await push({ n: f * 100 + i })
    await writer.flush()
    assert.deepEqual(ops, ['put'], `flush ${f}`)
  }
  ops.length = 0
  await clock.advance(600) // the knowledge is now too old to trust: list before and check after
  await push({ n: 'late' })
  await writer.flush()
  assert.equal(ops.filter((o) => o === 'put').length, 1)
  assert.ok(ops.includes('list'), ops.join(','))
  assert.deepEqual((await stored()).map((b) => b.seq), [0, 1, 2, 3, 4, 5, 6])
})
