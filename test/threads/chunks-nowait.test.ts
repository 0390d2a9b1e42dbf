// Chunked reservations and promise-free appends (issue 13, third session), in one thread against
// the real RingDrainer and LogWriter with an in-memory sink:
// - one turn of appends shares a few reservations (chunks), and the rest of the last one is
//   padded when the turn ends, so another writer's records behind it flow without the reaper;
// - appendNoWait() refuses what append() refuses, synchronously and with nothing written;
//   flush() waits for every earlier append and reports an appendNoWait failure once;
// - a queued appendNoWait keeps its own copy of the bytes.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { SeglogError } from '../../src/errors.js'
import { LogWriter, RingDrainer } from '../../src/threads/index.js'
import { P_RESV, RING_VERSION, geometry } from '../../src/threads/layout.js'
import { FakeSink, recordFor, sameRecord } from './helpers.js'

const text = (r: Uint8Array): string => Buffer.from(r).toString()

/** Reservations producer `id` made so far: its generation counts one per reservation. */
function reservations(handle: ReturnType<RingDrainer['handle']>, id: number): number {
  assert.equal(handle.version, RING_VERSION)
  const i = new Int32Array(handle.buffer)
  const g = geometry(i[2], i[4], i[5])
  return Atomics.load(i, (g.producersOffset >> 2) + id * 16 + P_RESV) >>> 3
}

describe('chunked reservations', () => {
  test('one turn of 1,000 appends takes a few reservations, not one per record; every record drains once, in order', async () => {
    const sink = new FakeSink()
    const drainer = new RingDrainer(sink, { ringBytes: 1 << 20 })
    const w = await LogWriter.connect(drainer.handle())
    const before = reservations(drainer.handle(), w.id)
    const inputs = Array.from({ length: 1000 }, (_, k) => recordFor(0, k, { kind: 'bytes', filler: 120, vary: false }))
    for (const d of inputs) w.appendNoWait(d)
    const made = reservations(drainer.handle(), w.id) - before
    // 1,000 frames of 144 B: the first reservation of the turn is one frame, then 16 KiB chunks.
    assert.ok(made >= 2 && made <= 12, `${made} reservations for 1,000 records`)
    await w.flush()
    assert.equal(sink.records.length, 1000)
    inputs.forEach((d, k) => assert.ok(sameRecord(sink.records[k], d), `record ${k}`))
    assert.equal(drainer.stats().skips, 0)
    await drainer.close()
  })

  test('the rest of a chunk is padded when the turn ends: a second writer behind it drains without a skip', async () => {
    const sink = new FakeSink()
    const drainer = new RingDrainer(sink, { ringBytes: 1 << 16, deadProducerTimeoutMs: 60_000 })
    const a = await LogWriter.connect(drainer.handle())
    const b = await LogWriter.connect(drainer.handle())
    // a: an exact first reservation, then a chunk with room to spare; b reserves behind that chunk.
    const pa = [a.append('a0'), a.append('a1'), a.append('a2')]
    const pb = b.append('b0')
    // With an hour-like timeout, only the padding at the end of this turn lets b0 through.
    assert.deepEqual(await Promise.all([...pa, pb]), [0, 1, 2, 3])
    assert.deepEqual(sink.records.map(text), ['a0', 'a1', 'a2', 'b0'])
    assert.equal(drainer.stats().skips, 0)
    await drainer.close()
  })

  test('many turns through a 4 KiB ring (chunks cross the ring end and wait for space): once each, in order', async () => {
    const sink = new FakeSink()
    const drainer = new RingDrainer(sink, { ringBytes: 4096, deadProducerTimeoutMs: 60_000 })
    const ws = [await LogWriter.connect(drainer.handle()), await LogWriter.connect(drainer.handle())]
    const sent: (Uint8Array | string)[][] = [[], []]
    for (let turn = 0; turn < 40; turn++) {
      for (let p = 0; p < 2; p++) {
        for (let k = 0; k < 7; k++) {
          const d = recordFor(p, sent[p].length, { kind: 'mixed', filler: 90, vary: true })
          sent[p].push(d)
          ws[p].appendNoWait(d)
        }
      }
      if (turn % 5 === 4) await Promise.all(ws.map((w) => w.flush()))
      else await new Promise<void>((resolve) => setImmediate(resolve))
    }
    await Promise.all(ws.map((w) => w.flush()))
    const next = [0, 0]
    for (const r of sink.records) {
      const p = Buffer.from(r).toString().startsWith('p1:') || (r[0] === 1 && r[1] === 0 && r[2] === 0 && r[3] === 0) ? 1 : 0
      assert.ok(sameRecord(r, sent[p][next[p]]), `producer ${p} record ${next[p]}`)
      next[p]++
    }
    assert.deepEqual(next, [sent[0].length, sent[1].length])
    assert.equal(drainer.stats().skips, 0)
    await drainer.close()
  })
})

describe('appendNoWait and flush', () => {
  test('refusals are thrown at once with nothing written; the records around them are intact', async () => {
    const sink = new FakeSink()
    const drainer = new RingDrainer(sink, { ringBytes: 4096 })
    const w = await LogWriter.connect(drainer.handle())
    w.appendNoWait('before')
    assert.throws(() => w.appendNoWait(42 as unknown as string), { code: 'ERR_INVALID_ARGUMENT' })
    assert.throws(() => w.appendNoWait('\ud800'), { code: 'ERR_INVALID_ARGUMENT' })
    assert.throws(() => w.appendNoWait(new Uint8Array(w.maxRecordBytes + 1)), { code: 'ERR_RECORD_TOO_LARGE' })
    const detached = new Uint8Array(8)
    structuredClone(detached.buffer, { transfer: [detached.buffer] })
    assert.throws(() => w.appendNoWait(detached), { code: 'ERR_INVALID_ARGUMENT' })
    w.appendNoWait(new Uint8Array([1, 2, 3]))
    await w.flush()
    assert.deepEqual(sink.records.map((r) => Array.from(r)), [Array.from(Buffer.from('before')), [1, 2, 3]])
    await w.close()
    assert.throws(() => w.appendNoWait('after close'), { code: 'ERR_CLOSED' })
    await drainer.close()
    assert.equal(sink.records.length, 2)
  })

  test('a batch the log refuses rejects the next flush once with its code; later records go through', async () => {
    const sink = new FakeSink()
    const drainer = new RingDrainer(sink)
    const w = await LogWriter.connect(drainer.handle())
    w.appendNoWait('kept')
    await w.flush()
    sink.failWith = new SeglogError('ERR_READ_ONLY', 'the log was opened read-only')
    w.appendNoWait('refused')
    await assert.rejects(w.flush(), { code: 'ERR_READ_ONLY' })
    sink.failWith = undefined
    w.appendNoWait('after')
    await w.flush() // the failure was reported once
    assert.deepEqual(sink.records.map(text), ['kept', 'after'])
    await drainer.close()
  })

  test('flush waits for appends queued behind a full ring; a queued appendNoWait keeps its own copy of the bytes', async () => {
    const sink = new FakeSink()
    sink.gated = true
    const drainer = new RingDrainer(sink, { ringBytes: 4096 })
    const w = await LogWriter.connect(drainer.handle())
    const buf = new Uint8Array(100)
    for (let k = 0; k < 100; k++) {
      buf.fill(k)
      w.appendNoWait(buf) // the same buffer each time, changed right after the call
    }
    let flushed = false
    const queued = w.pending
    const f = w.flush().then(() => { flushed = true })
    assert.equal(w.pending, queued, 'a flush waiting in the queue is not an append')
    await sink.nextBatch()
    assert.ok(w.pending > 20, `${w.pending} appends still queued or in flight`)
    assert.equal(flushed, false)
    sink.open()
    await f
    assert.equal(w.pending, 0)
    assert.equal(sink.records.length, 100)
    sink.records.forEach((r, k) => assert.ok(r.length === 100 && r.every((x) => x === k), `record ${k}`))
    await drainer.close()
  })

  test('closing the log fails what was not durable: the next flush rejects with ERR_CLOSED, and nothing hangs', async () => {
    const sink = new FakeSink()
    sink.gated = true
    const drainer = new RingDrainer(sink, { ringBytes: 4096 })
    const w = await LogWriter.connect(drainer.handle())
    for (let k = 0; k < 200; k++) w.appendNoWait(recordFor(0, k, { kind: 'bytes', filler: 60, vary: false }))
    await sink.nextBatch()
    const closing = drainer.close()
    sink.open()
    await closing
    await assert.rejects(w.flush(), { code: 'ERR_CLOSED' })
    // What reached the sink before the close is a prefix of what was sent, in order.
    sink.records.forEach((r, k) => assert.ok(sameRecord(r, recordFor(0, k, { kind: 'bytes', filler: 60, vary: false })), `record ${k}`))
    assert.ok(sink.records.length < 200)
  })
})

