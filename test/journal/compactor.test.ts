// Compaction planning alone (planRuns), and that a compaction run lists the journal once.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { planRuns } from '../../src/journal/compactor.js'
import { Journal } from '../../src/journal/index.js'
import type { JournalObject, Step } from '../../src/journal/plan.js'
import { FaultStore, MemoryStore } from '../../src/objects/index.js'

const batch = (seq: number, size = 10): Step => ({ obj: { key: `b/${seq}`, kind: 'b', first: seq, last: seq, size, modifiedMs: 0 } satisfies JournalObject, from: seq, to: seq })
const comp = (first: number, last: number, size: number): Step => ({ obj: { key: `c/${first}-${last}`, kind: 'c', first, last, size, modifiedMs: 0 }, from: first, to: last })
const ranges = (runs: Step[][]): number[][] => runs.map((r) => [r[0].from, r[r.length - 1].to])

test('runs: contiguous steps up to the target; a gap or the target closes a run; lone steps are left alone', () => {
  assert.deepEqual(ranges(planRuns([batch(0), batch(1), batch(2), batch(4), batch(5), batch(7)], 100)), [[0, 2], [4, 5]])
  assert.deepEqual(ranges(planRuns([0, 1, 2, 3, 4].map((s) => batch(s)), 25)), [[0, 1], [2, 3]])
  assert.deepEqual(ranges(planRuns([batch(0, 200), batch(1), batch(2)], 100)), [[1, 2]], 'an object at the target is never rewritten')
})

test('runs: a large compacted head waits until what follows is a quarter of its size', () => {
  assert.deepEqual(ranges(planRuns([comp(0, 9, 100), batch(10), batch(11)], 1000)), [[10, 11]])
  assert.deepEqual(ranges(planRuns([comp(0, 9, 100), batch(10), batch(11), batch(12)], 1000)), [[0, 12]])
})

test('a compaction run lists the journal once (no grace), where it listed it five times before', async () => {
  const inner = new MemoryStore()
  const store = new FaultStore(inner)
  const j = await Journal.open(store, 'j', { flushEvents: 1, graceMs: 0 })
  for (let i = 0; i < 5; i++) await j.appendDurable(i)
  const before = store.calls.list
  const r = await j.compact()
  assert.equal(r.merged.length, 1)
  assert.equal(r.deleted.length, 5)
  assert.equal(store.calls.list - before, 1)
  const got: unknown[] = []
  for await (const e of j.read()) got.push(e.value)
  assert.deepEqual(got, [0, 1, 2, 3, 4])
  await j.close()
})
