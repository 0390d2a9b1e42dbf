// The drainer's modules through the real RingDrainer, in this thread: a dead producer skipped on
// an injected clock (no real timeout is waited), the invariants it checks on what it reads from
// shared memory, and the error-code table that crosses it.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { describe, test } from 'node:test'
import { SeglogError } from '../../src/errors.js'
import { InvariantError } from '../../src/invariant.js'
import { CODE_NUMBERS, codeFromNumber, codeNumber } from '../../src/threads/codes.js'
import { Completer } from '../../src/threads/completer.js'
import { FLAG_PAD, frameBytes, readGeometry } from '../../src/threads/layout.js'
import { createRing, reserveSpace, ringView, signalDrainer, wordAt, type Ring } from '../../src/threads/protocol.js'
import { LogWriter, RingDrainer, type SkipEvent } from '../../src/threads/index.js'
import type { SeglogErrorCode } from '../../src/errors.js'
import { FakeSink } from './helpers.js'
import { FakeClock, SimProducer } from './sim.js'
import { geometry } from '../../src/threads/layout.js'

/** The ring behind a drainer's handle, seen as a producer in this thread sees it. */
function ringOf(drainer: RingDrainer): Ring {
  const handle = drainer.handle()
  return ringView(handle.buffer, readGeometry(handle))
}

/** Starts the drainer failing on what a foreign writer put in the ring; resolves with its error. */
async function failureAfter(drainer: RingDrainer, w: LogWriter, corrupt: (ring: Ring) => void): Promise<{ error: SeglogError; append: string }> {
  const failed = once(drainer, 'sinkError') as Promise<[SeglogError]>
  corrupt(ringOf(drainer))
  const append = w.append('after').then(() => 'resolved', (e: SeglogError) => e.code)
  const [error] = await failed
  return { error, append: await append }
}

describe('RingDrainer parts', () => {
  test('a dead producer is skipped on the injected clock: an hour-long timeout passes without waiting for it', async () => {
    const sink = new FakeSink()
    const clock = new FakeClock()
    const hourMs = 3_600_000
    const drainer = new RingDrainer(sink, { ringBytes: 4096, deadProducerTimeoutMs: hourMs, clock: clock.now })
    const ring = ringOf(drainer)
    const dead = new SimProducer(ring, [40])
    while (dead.state !== 'reserved') dead.step()
    dead.dead = true
    const w = await LogWriter.connect(drainer.handle())
    const stuck = clock.nextRead()
    const results = [w.append('a'), w.append('b')]
    await stuck // the reaper has looked at the clock: the drainer waits on the dead reservation
    let looked = clock.nextRead()
    clock.advance(hourMs - 1)
    signalDrainer(ring)
    await looked
    assert.equal(drainer.stats().skips, 0, 'one millisecond short of the timeout')
    const skipped = once(drainer, 'skip') as Promise<[SkipEvent]>
    looked = clock.nextRead()
    clock.advance(1)
    signalDrainer(ring)
    await looked
    const [event] = await skipped
    assert.deepEqual(event, { position: 0, bytes: frameBytes(40), producerId: dead.id, reason: 'dead-producer', waitedMs: hourMs })
    assert.deepEqual(await Promise.all(results), [0, 1])
    assert.deepEqual(sink.records.map((r) => Buffer.from(r).toString()), ['a', 'b'])
    await drainer.close()
  })

  test('a zero-length frame in the ring stops the drainer with the invariant named, instead of spinning; earlier records stay', async () => {
    const sink = new FakeSink()
    const drainer = new RingDrainer(sink, { ringBytes: 4096 })
    const w = await LogWriter.connect(drainer.handle())
    assert.equal(await w.append('before'), 0)
    const { error, append } = await failureAfter(drainer, w, (ring) => {
      const pos = reserveSpace(ring.i32, 16)
      Atomics.store(ring.i32, wordAt(ring, pos), FLAG_PAD) // "padding" of length 0
    })
    assert.equal(error.code, 'ERR_IO')
    assert.ok(error.cause instanceof InvariantError)
    assert.equal(error.cause.invariant, 'published frame length is nonzero')
    assert.equal(append, 'ERR_IO')
    await assert.rejects(w.append('later'), { code: 'ERR_IO' })
    await drainer.close()
    assert.deepEqual(sink.records.map((r) => Buffer.from(r).toString()), ['before'])
  })

  test('a frame longer than the space reserved for it, or out of sequence, stops the drainer naming the invariant', async () => {
    const cases: { invariant: string; corrupt: (ring: Ring) => void }[] = [
      {
        invariant: 'a frame ends within reserved space',
        corrupt: (ring) => {
          const pos = reserveSpace(ring.i32, 16)
          Atomics.store(ring.i32, wordAt(ring, pos), 64 | FLAG_PAD)
        },
      },
      {
        invariant: 'each producer publishes consecutive sequences',
        corrupt: (ring) => {
          // Producer 0 (the LogWriter) has published sequence 0; this frame claims sequence 5.
          const pos = reserveSpace(ring.i32, 16)
          const w = wordAt(ring, pos)
          ring.i32[w + 1] = 0
          ring.i32[w + 2] = 5
          ring.i32[w + 3] = 0
          Atomics.store(ring.i32, w, 16)
        },
      },
    ]
    for (const c of cases) {
      const sink = new FakeSink()
      const drainer = new RingDrainer(sink, { ringBytes: 4096 })
      const w = await LogWriter.connect(drainer.handle())
      assert.equal(await w.append('before'), 0)
      const { error, append } = await failureAfter(drainer, w, c.corrupt)
      assert.ok(error.cause instanceof InvariantError, c.invariant)
      assert.equal(error.cause.invariant, c.invariant)
      assert.equal(append, 'ERR_IO')
      await drainer.close()
      assert.equal(sink.records.length, 1)
    }
  })

  test('the completer frees ring space only in order', () => {
    const ring = createRing(geometry(4096, 1, 1), 1000)
    const completer = new Completer(ring, 0, { sinkFailed: (e) => e as SeglogError, released: () => {}, completed: () => {} })
    completer.release(0, 64)
    assert.throws(() => completer.release(128, 192), (e: unknown) => e instanceof InvariantError && e.invariant === 'ring space is released in order')
    completer.release(64, 128)
  })

  test('error codes cross shared memory as themselves: every code has its own number', () => {
    const codes = Object.keys(CODE_NUMBERS) as SeglogErrorCode[]
    assert.ok(codes.includes('ERR_READ_ONLY'))
    assert.equal(new Set(codes.map(codeNumber)).size, codes.length)
    for (const code of codes) {
      assert.ok(codeNumber(code) > 0)
      assert.equal(codeFromNumber(codeNumber(code)), code)
    }
    // Numbers from a newer release read as ERR_IO rather than as some other code.
    assert.equal(codeFromNumber(0), 'ERR_IO')
    assert.equal(codeFromNumber(1000), 'ERR_IO')
  })
})
