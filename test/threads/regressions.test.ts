// Defects of the worker ring found while splitting it (each test fails on commit 0aa50b0):
// - a Uint8Array whose buffer was transferred or shrunk made LogWriter.append throw a TypeError
//   half-way through a frame; the half-written header later made the drainer spin forever on a
//   zero-length padding frame (the log's thread hung);
// - ERR_READ_ONLY (and any code missing from the ring's own table) reached workers as ERR_IO.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { SeglogError } from '../../src/errors.js'
import { LogWriter, RingDrainer } from '../../src/threads/index.js'
import { FakeSink } from './helpers.js'

const text = (r: Uint8Array): string => Buffer.from(r).toString()

/** Detaches `view`'s buffer, as `postMessage(x, [x.buffer])` does. */
function detach(view: Uint8Array): void {
  const buffer = view.buffer as ArrayBuffer
  structuredClone(buffer, { transfer: [buffer] })
}

/** A view over a resizable buffer, and a way to shrink the buffer under it. */
function shrinkable(bytes: number): { view: Uint8Array; shrink: () => void } {
  const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void }
  const buffer = new Resizable(bytes, { maxByteLength: bytes })
  const view = new Uint8Array(buffer, 0, bytes)
  view.fill(0x61)
  return { view, shrink: () => buffer.resize(bytes / 2) }
}

describe('worker ring regressions', () => {
  test('a string with a lone UTF-16 surrogate is refused with ERR_INVALID_ARGUMENT, as Log.append refuses it; nothing is written', async () => {
    const sink = new FakeSink()
    const drainer = new RingDrainer(sink, { ringBytes: 4096, deadProducerTimeoutMs: 50 })
    const w = await LogWriter.connect(drainer.handle())
    assert.equal(await w.append('before'), 0)
    for (const bad of ['\uD800', 'a\uDC00b', 'x\uD83D']) {
      await assert.rejects(() => w.append(bad), { code: 'ERR_INVALID_ARGUMENT' })
    }
    assert.equal(await w.append('pair \uD83D\uDE00 is fine'), 1)
    assert.deepEqual(sink.records.map(text), ['before', 'pair \uD83D\uDE00 is fine'])
    await drainer.close()
  })

  test('a Uint8Array with a detached or shrunk buffer is refused with ERR_INVALID_ARGUMENT; nothing is written, nothing is skipped', async () => {
    const sink = new FakeSink()
    const drainer = new RingDrainer(sink, { ringBytes: 4096, deadProducerTimeoutMs: 50 })
    const w = await LogWriter.connect(drainer.handle())
    assert.equal(await w.append('before'), 0)
    const gone = new Uint8Array(10)
    detach(gone)
    await assert.rejects(() => w.append(gone), { code: 'ERR_INVALID_ARGUMENT' })
    const empty = new Uint8Array(0)
    detach(empty)
    await assert.rejects(() => w.append(empty), { code: 'ERR_INVALID_ARGUMENT' })
    const s = shrinkable(32)
    s.shrink()
    await assert.rejects(() => w.append(s.view), { code: 'ERR_INVALID_ARGUMENT' })
    assert.equal(await w.append('after'), 1)
    assert.equal(await w.append(new Uint8Array(0)), 2, 'an ordinary empty record still goes')
    assert.deepEqual(sink.records.map(text), ['before', 'after', ''])
    assert.equal(drainer.stats().skips, 0)
    await drainer.close()
  })

  test('a queued append whose buffer is detached or shrunk before its turn fails alone; the appends around it keep their order', async () => {
    const sink = new FakeSink()
    sink.gated = true
    // A window of one: every append after the first waits in the writer's queue for the one before.
    const drainer = new RingDrainer(sink, { ringBytes: 4096, producerWindow: 1, deadProducerTimeoutMs: 50 })
    const w = await LogWriter.connect(drainer.handle())
    const settle = (p: Promise<number>): Promise<number | string> => p.catch((e: SeglogError) => e.code)
    const firstBatch = sink.nextBatch()
    const first = settle(w.append('one'))
    await firstBatch
    const transferred = new Uint8Array([1, 2, 3])
    const s = shrinkable(16)
    const queued = [settle(w.append(transferred)), settle(w.append('two')), settle(w.append(s.view)), settle(w.append('three'))]
    assert.equal(w.pending, 5)
    detach(transferred)
    s.shrink()
    sink.open()
    assert.deepEqual(await Promise.all([first, ...queued]), [0, 'ERR_INVALID_ARGUMENT', 1, 'ERR_INVALID_ARGUMENT', 2])
    assert.deepEqual(sink.records.map(text), ['one', 'two', 'three'])
    assert.equal(drainer.stats().skips, 0)
    await drainer.close()
  })

  test('ERR_READ_ONLY from the log reaches the worker as ERR_READ_ONLY, and later appends go through', async () => {
    const sink = new FakeSink()
    const drainer = new RingDrainer(sink)
    const w = await LogWriter.connect(drainer.handle())
    assert.equal(await w.append('kept'), 0)
    sink.failWith = new SeglogError('ERR_READ_ONLY', 'the log was opened read-only')
    await assert.rejects(w.append('refused'), { code: 'ERR_READ_ONLY' })
    sink.failWith = undefined
    assert.equal(await w.append('after'), 1)
    assert.deepEqual(sink.records.map(text), ['kept', 'after'])
    await drainer.close()
  })
})
