// The segment set and retention alone (in the simulated file system, on a manual clock): roll and
// lookup, the bounded set of loaded indexes, and retention's decisions on record timestamps,
// off the append path and behind the exclusive gate.
import assert from 'node:assert/strict'
import path from 'node:path'
import { test } from 'node:test'
import { AppendBuffer } from '../../src/local/append-buffer.js'
import { Retention } from '../../src/local/retention.js'
import { Segment } from '../../src/local/segment.js'
import { SegmentSet, type SealedSegment } from '../../src/local/segment-set.js'
import { SparseIndex } from '../../src/local/sparse-index.js'
import { PowerLossFs } from '../helpers/power-loss-fs.js'
import { manualClock, type ManualClock } from '../helpers/manual-clock.js'

const DIR = '/sim/segments'
const SEGMENT_BYTES = 2048

interface Rig {
  set: SegmentSet
  clock: ManualClock
  sealed: SealedSegment[]
  /** Appends `n` records of 100 bytes the way the log does: frame, write out, roll when full. */
  fill(n: number): void
  written(): number
}

function rig(maxLoaded = 16): Rig {
  const fsys = new PowerLossFs().view()
  fsys.mkdir(DIR)
  const first = new Segment(DIR, 0, 0)
  fsys.open(first.path, 'create-new').close()
  const clock = manualClock(1_000_000)
  const set = new SegmentSet({ fsys, dir: DIR, tag: 0, indexIntervalBytes: 256, readOnly: false, maxLoaded }, { segments: [first], activeIndex: new SparseIndex(0), nextOffset: 0, gaps: [] })
  set.openWriter()
  const buffer = new AppendBuffer({ bufferBytes: 1 << 16, maxRecordBytes: 1 << 16, indexIntervalBytes: 256, tag: 0, clock }, 0, set)
  const sealed: SealedSegment[] = []
  let written = 0
  return {
    set, clock, sealed, written: () => written,
    fill(n) {
      for (let i = 0; i < n; i++) {
        buffer.add(Buffer.alloc(100, i & 0xff), set.active.size)
        buffer.seal()
        const active = set.active
        set.writer?.write(buffer.buf, 0, buffer.used, active.size)
        active.size += buffer.used
        buffer.written()
        written = buffer.next
        set.activeIndex.coveredBytes = active.size
        set.activeIndex.nextOffset = written
        if (active.size >= SEGMENT_BYTES) sealed.push(set.roll(written).sealed)
      }
    },
  }
}

test('roll seals at the written offset and lookup finds the segment of every offset', () => {
  const r = rig()
  const generation = r.set.generation
  r.fill(200)
  assert.ok(r.sealed.length >= 8, `${r.sealed.length} rolls`)
  assert.equal(r.set.generation, generation + r.sealed.length, 'each roll is a new generation')
  for (let i = 0; i < r.sealed.length; i++) {
    const s = r.sealed[i]
    assert.equal(s.end, (r.sealed[i + 1]?.base ?? r.set.active.base), 'sealed segments tile the offsets')
    assert.equal(s.maxTimestamp, 1_000_000)
  }
  for (let o = 0; o < r.written(); o++) {
    const seg = r.set.segments[r.set.at(o)]
    const next = r.set.segments[r.set.at(o) + 1]
    assert.ok(seg.base <= o && (next === undefined || o < next.base), `offset ${o} in segment ${seg.base}`)
  }
})

test('at most maxLoaded sealed segments keep their index in memory, rolled or loaded, and evicted ones load again', () => {
  const r = rig(2)
  r.fill(200)
  const inMemory = (): number => r.set.segments.filter((s) => s !== r.set.active && s.index !== undefined).length
  assert.ok(inMemory() <= 2, `${inMemory()} sealed indexes in memory after the rolls`)
  for (let at = 0; at < r.set.segments.length; at++) {
    const index = r.set.indexOf(at)
    assert.equal(index.base, r.set.segments[at].base)
    assert.ok(inMemory() <= 2)
  }
  assert.deepEqual(r.set.loadedSealed().map((s) => s.base), r.set.segments.slice(-3, -1).map((s) => s.base), 'the most recently loaded stay')
})

test('retention by age decides on each sealed segment\'s newest record timestamp and never deletes the active segment', () => {
  const r = rig()
  for (let k = 0; k < 6; k++) {
    r.fill(20)
    r.clock.advance(1000)
  }
  const before = r.set.segments.map((s) => ({ base: s.base, newest: r.set.indexOf(r.set.segments.indexOf(s)).maxTimestamp }))
  let dirty = 0
  const retention = new Retention({ dir: DIR, segments: r.set, clock: r.clock, blocked: () => undefined, deleted: () => dirty++ }, { maxAgeMs: 2500 })
  const cutoff = r.clock.now() - 2500
  const removed = retention.apply()
  const expected = before.slice(0, -1).filter((s, i, all) => all.slice(0, i + 1).every((p) => p.newest < cutoff))
  assert.equal(removed.length, expected.length)
  assert.ok(removed.length > 0 && r.set.segments.length > 1, 'some, not all')
  assert.equal(dirty, 1, 'the directory is marked for the next fsync round')
  for (const s of r.set.segments.slice(0, -1)) assert.ok(r.set.indexOf(r.set.segments.indexOf(s)).maxTimestamp >= cutoff)
  r.clock.advance(1_000_000)
  retention.apply()
  assert.deepEqual(r.set.segments, [r.set.active], 'only the active segment is left')
})

test('retention by bytes keeps the newest segments within maxBytes', () => {
  const r = rig()
  r.fill(200)
  const retention = new Retention({ dir: DIR, segments: r.set, clock: r.clock, blocked: () => undefined, deleted: () => undefined }, { maxBytes: 3 * SEGMENT_BYTES })
  retention.apply()
  const total = r.set.segments.reduce((a, s) => a + s.size, 0)
  assert.ok(total <= 3 * SEGMENT_BYTES, `kept ${total} bytes`)
  assert.ok(total + r.sealed[0].bytes > 3 * SEGMENT_BYTES - SEGMENT_BYTES, 'deleted no more than needed')
})

test('a scheduled retention waits out the exclusive gate, then runs; a closed log deletes nothing', async () => {
  const r = rig()
  r.fill(100)
  r.clock.advance(10_000)
  let gate: Promise<void> | undefined
  let release: () => void = () => undefined
  gate = new Promise<void>((resolve) => {
    release = resolve
  })
  let open = true
  const retention = new Retention({ dir: DIR, segments: r.set, clock: r.clock, blocked: () => (open ? gate : 'never'), deleted: () => undefined }, { maxAgeMs: 1000 })
  const count = r.set.segments.length
  retention.schedule()
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(r.set.segments.length, count, 'nothing deleted while the gate is held')
  gate = undefined
  release()
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(r.set.segments.length, 1, 'run once the gate opened')
  r.fill(100)
  r.clock.advance(10_000)
  open = false
  const now = r.set.segments.length
  retention.tick()
  assert.equal(r.set.segments.length, now, 'a closed log deletes nothing')
  assert.ok(path.isAbsolute(r.set.active.path))
})
