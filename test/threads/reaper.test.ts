// The reaper and the drainer's parts without threads and without real timeouts: a ring in this
// thread, producers stepped through the protocol functions (and stopped between any two steps to
// play dead), and a fake clock that moves only when the test says so.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { frameBytes } from '../../src/threads/layout.js'
import { headOf, isRevoked, publishFrame, tailOf, wordAt } from '../../src/threads/protocol.js'
import { SimDrainer, SimProducer, payloadFor, type SimState } from './sim.js'

function stepUntil(p: SimProducer, state: SimState): void {
  for (let n = 0; p.state !== state; n++) {
    assert.ok(n < 100 && p.step(), `producer ${p.id} could not reach ${state} (stuck in ${p.state})`)
  }
}

/** Steps `p` until it can do nothing more without the drainer. */
function runFree(p: SimProducer): void {
  while (p.step());
}

/** Runs the drainer until it can do nothing more without the clock. */
async function drain(d: SimDrainer): Promise<void> {
  while (await d.step());
}

function tags(d: SimDrainer): string[] {
  return d.stored.map((r) => {
    const v = new DataView(r.buffer, r.byteOffset, r.byteLength)
    return `${v.getUint32(0, true)}:${v.getUint32(4, true)}`
  })
}

describe('reaper (fake clock, one thread)', () => {
  test('a producer that dies between reserve and publish is skipped after exactly the timeout; later records flow', async () => {
    const d = new SimDrainer({ deadMs: 1000 })
    const a = new SimProducer(d.ring, [40])
    const b = new SimProducer(d.ring, [20, 30])
    stepUntil(a, 'reserved')
    a.dead = true
    runFree(b)
    assert.equal(b.state, 'done')
    assert.equal(await d.step(), false, 'the frame at the head is unpublished: the drainer waits')
    d.clock.advance(999)
    assert.equal(await d.step(), false)
    assert.deepEqual(d.skips, [])
    d.clock.advance(1)
    assert.equal(await d.step(), true)
    assert.deepEqual(d.skips, [{ position: 0, bytes: frameBytes(40), producerId: a.id, reason: 'dead-producer', waitedMs: 1000 }])
    assert.ok(isRevoked(d.ring.i32, a.rec))
    await drain(d)
    runFree(b)
    assert.deepEqual(tags(d), [`${b.id}:0`, `${b.id}:1`])
    assert.deepEqual(b.acked, [0, 1])
    assert.equal(headOf(d.ring.i32), tailOf(d.ring.i32), 'every reserved byte was freed')
  })

  test('a producer that dies mid-write is skipped only after twice the timeout, and its bytes never reach the sink', async () => {
    for (const diesIn of ['writing', 'written'] as const) {
      const d = new SimDrainer({ deadMs: 1000 })
      const a = new SimProducer(d.ring, [64])
      const b = new SimProducer(d.ring, [8])
      stepUntil(a, diesIn)
      a.dead = true
      runFree(b)
      assert.equal(await d.step(), false)
      d.clock.advance(1000)
      assert.equal(await d.step(), false, `${diesIn}: not yet at one timeout`)
      d.clock.advance(999)
      assert.equal(await d.step(), false)
      d.clock.advance(1)
      assert.equal(await d.step(), true)
      assert.deepEqual(d.skips, [{ position: 0, bytes: frameBytes(64), producerId: a.id, reason: 'stalled-writer', waitedMs: 2000 }])
      await drain(d)
      assert.deepEqual(tags(d), [`${b.id}:0`], diesIn)
    }
  })

  test('a reservation that was never announced (death right after Atomics.add) is found by elimination', async () => {
    const d = new SimDrainer({ deadMs: 1000 })
    const a = new SimProducer(d.ring, [100])
    const b = new SimProducer(d.ring, [10])
    stepUntil(a, 'added') // reserved with Atomics.add, position not announced: phase stays INTENT
    a.dead = true
    runFree(b)
    assert.equal(await d.step(), false)
    d.clock.advance(1000)
    assert.equal(await d.step(), false, 'first look at the INTENT words')
    d.clock.advance(999)
    assert.equal(await d.step(), false)
    d.clock.advance(1)
    assert.equal(await d.step(), true)
    assert.deepEqual(d.skips, [{ position: 0, bytes: frameBytes(100), producerId: -1, reason: 'unknown-owner', waitedMs: 2000 }])
    await drain(d)
    assert.deepEqual(tags(d), [`${b.id}:0`])
    assert.equal(headOf(d.ring.i32), tailOf(d.ring.i32))
  })

  test('a live producer seen entering INTENT postpones an unknown-owner skip by a whole timeout', async () => {
    const d = new SimDrainer({ deadMs: 1000 })
    const a = new SimProducer(d.ring, [100])
    const c = new SimProducer(d.ring, [16])
    stepUntil(a, 'added')
    a.dead = true
    assert.equal(await d.step(), false)
    d.clock.advance(1500)
    stepUntil(c, 'intent')
    assert.equal(await d.step(), false, 'c is in INTENT: it could be the owner')
    runFree(c)
    d.clock.advance(500)
    assert.equal(await d.step(), false, 'two timeouts have passed, but only half a timeout since an INTENT changed')
    assert.equal(d.skips.length, 0)
    d.clock.advance(500)
    assert.equal(await d.step(), true)
    assert.equal(d.skips[0].reason, 'unknown-owner')
    assert.equal(d.skips[0].bytes, frameBytes(100))
    await drain(d)
    runFree(c)
    assert.deepEqual(tags(d), [`${c.id}:0`])
    assert.deepEqual(c.acked, [0])
  })

  test('an unknown-owner skip covers only the dead reservation, never a live neighbour that reserved right after it', async () => {
    for (const neighbour of ['added', 'reserved'] as const) {
      const d = new SimDrainer({ deadMs: 1000 })
      const a = new SimProducer(d.ring, [100])
      const c = new SimProducer(d.ring, [40])
      stepUntil(a, 'added')
      a.dead = true
      assert.equal(await d.step(), false)
      d.clock.advance(2000)
      // c reserves the bytes right after a's, and has not written them yet: they read as zeros too.
      stepUntil(c, neighbour)
      assert.equal(await d.step(), false, `${neighbour}: c's INTENT changed just now`)
      stepUntil(c, 'reserved') // announced, still unwritten: only its announcement bounds the skip
      d.clock.advance(1000)
      assert.equal(await d.step(), true)
      assert.deepEqual(d.skips, [{ position: 0, bytes: frameBytes(100), producerId: -1, reason: 'unknown-owner', waitedMs: 3000 }], neighbour)
      runFree(c)
      await drain(d)
      runFree(c)
      assert.deepEqual(tags(d), [`${c.id}:0`], neighbour)
      assert.deepEqual(c.acked, [0])
    }
  })

  test('a slow (not dead) producer whose reservation was revoked reserves again: its record is kept, once', async () => {
    const d = new SimDrainer({ deadMs: 1000 })
    const a = new SimProducer(d.ring, [30, 30])
    const b = new SimProducer(d.ring, [20])
    stepUntil(a, 'reserved')
    runFree(b)
    assert.equal(await d.step(), false)
    d.clock.advance(1000)
    assert.equal(await d.step(), true)
    assert.equal(d.skips[0].reason, 'dead-producer')
    await drain(d)
    runFree(a) // wakes up: beginWrite fails on the revoked reservation, so it reserves again
    await drain(d)
    runFree(a)
    await drain(d)
    runFree(a)
    runFree(b)
    assert.deepEqual(tags(d), [`${b.id}:0`, `${a.id}:0`, `${a.id}:1`])
    assert.deepEqual(a.acked, [1, 2])
    assert.ok(a.finished && b.finished)
  })

  test('a producer that publishes while being revoked wins: nothing is skipped, its record drains', async () => {
    const d = new SimDrainer({ deadMs: 1000 })
    const a = new SimProducer(d.ring, [24])
    stepUntil(a, 'written')
    assert.equal(await d.step(), false)
    d.clock.advance(2000)
    // The producer's publish lands between the reaper's look at the frame and its revoke.
    assert.ok(publishFrame(d.ring.i32, wordAt(d.ring, a.position), a.length))
    a.dead = true
    assert.equal(d.reaper.check(0, tailOf(d.ring.i32)), 0, 'the reaper sees the publish and asks the drainer to look again')
    assert.deepEqual(d.skips, [])
    await drain(d)
    assert.deepEqual(tags(d), [`${a.id}:0`])
    assert.deepEqual(d.stored[0], payloadFor(a.id, 0, 24))
  })

  test('the timeout restarts at every new stuck position', async () => {
    const d = new SimDrainer({ deadMs: 1000 })
    const b = new SimProducer(d.ring, [20])
    const a = new SimProducer(d.ring, [20])
    stepUntil(b, 'reserved') // slow, alive
    stepUntil(a, 'reserved') // will die, right behind b
    a.dead = true
    assert.equal(await d.step(), false)
    d.clock.advance(900)
    runFree(b)
    await drain(d)
    assert.deepEqual(tags(d), [`${b.id}:0`])
    d.clock.advance(100)
    assert.equal(await d.step(), false, 'a has blocked the drainer for 100 ms only')
    d.clock.advance(899)
    assert.equal(await d.step(), false)
    d.clock.advance(1)
    assert.equal(await d.step(), true)
    assert.equal(d.skips[0].waitedMs, 1000)
  })

  test('time is the injected clock only: a frozen clock never skips', async () => {
    const d = new SimDrainer({ deadMs: 1 })
    const a = new SimProducer(d.ring, [8])
    stepUntil(a, 'reserved')
    a.dead = true
    for (let k = 0; k < 1000; k++) assert.equal(await d.step(), false)
    assert.deepEqual(d.skips, [])
  })

  test('records a producer published before it died are drained and kept', async () => {
    const d = new SimDrainer({ deadMs: 1000 })
    const a = new SimProducer(d.ring, [10, 10, 10])
    const b = new SimProducer(d.ring, [10])
    stepUntil(a, 'written')
    a.step() // publishes record 0
    stepUntil(a, 'written')
    a.step() // publishes record 1
    stepUntil(a, 'reserved')
    a.dead = true
    runFree(b)
    await drain(d)
    d.clock.advance(1000)
    await drain(d)
    assert.deepEqual(tags(d), [`${a.id}:0`, `${a.id}:1`, `${b.id}:0`])
    assert.equal(d.skips.length, 1)
  })
})
