// Regression test for a defect found by the power-loss suite (fixed in 583dfe8, recovery.ts).
//
// A segment roll creates the next segment while the sealed one's tail is not yet fsynced (its
// fdatasync and the directory's fsync run together in the next group-commit round). A power cut
// in that window can keep the new segment's name but lose the sealed segment's tail. Before the
// fix, open() checked only the last segment, "recovered" a log with a hole in its offsets, and
// reads then failed with ERR_CORRUPT; new appends were numbered after the hole, and a later
// repair would cut them (acknowledged records) away.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isSeglogError, Log } from '../../src/index.js'
import type { Snapshot } from '../helpers/power-loss-fs.js'
import { materialize, pendingCreates, pendingOps, readAll, scratchDir, simOptions, simWithTrigger } from './lib/sim-log.js'

const SEGMENT = 1024
const SEG0 = '00000000000000000000.log'

/** Fills segment 0 with acknowledged records, then appends until a roll creates segment `next`. */
async function rollUnderPowerCut(t: import('node:test').TestContext, when: (snap: Snapshot, dir: string) => boolean) {
  const dir = scratchDir(t, 'seglog-roll')
  const { sim, taken } = simWithTrigger((snap) => when(snap, dir))
  const log = await Log.open(dir, simOptions(sim, { sync: 'always', segmentBytes: SEGMENT }))
  const acked: number[] = []
  // Acknowledged one by one: durable before the roll.
  for (let i = 0; i < 6; i++) acked.push(await log.append(Buffer.alloc(100, i)))
  // A burst that fills segment 0 and rolls; none of it is acknowledged before the cut.
  const burst = Array.from({ length: 12 }, (_, i) => log.append(Buffer.alloc(100, 50 + i)))
  await Promise.all(burst)
  await log.close()
  const snap = taken()
  assert.ok(snap, 'the roll happened')
  return { snap, dir, acked }
}

test('power cut during a roll: the new, empty segment survives but the sealed tail does not; open recovers a contiguous log', async (t) => {
  // Cut while the new segment's name is pending and the sealed segment's tail is not yet durable.
  const { snap, dir, acked } = await rollUnderPowerCut(t, (s, d) =>
    pendingCreates(s, d).some((n) => n.endsWith('.log')) && pendingOps(s, d, SEG0) > 0)
  const image = materialize(t, snap, dir, { mode: 'none', dirOps: 'all' })
  const log = await Log.open(image, { segmentBytes: SEGMENT })
  try {
    const records = await readAll(log)
    assert.deepEqual(records.map(([o]) => o), Array.from({ length: log.nextOffset - log.firstOffset }, (_, i) => i), 'offsets are contiguous')
    for (const off of acked) assert.deepEqual(records[off][1], Buffer.alloc(100, off))
    // New appends continue right after the last record, with no hole.
    assert.equal(await log.append('next'), records.length)
  } finally {
    await log.close()
  }
  const report = await Log.verify(image)
  assert.deepEqual(report.faults.filter((f) => f.kind !== 'index'), [])
})

test('power cut during a roll that kept data of the new segment but not the sealed tail: ERR_CORRUPT, and repair keeps every acknowledged record', async (t) => {
  // Cut once the new segment has data pending while the sealed segment's tail is still pending.
  const { snap, dir, acked } = await rollUnderPowerCut(t, (s, d) =>
    pendingCreates(s, d).some((n) => n.endsWith('.log') && pendingOps(s, d, n) > 0) && pendingOps(s, d, SEG0) > 0)
  const newest = pendingCreates(snap, dir).filter((n) => n.endsWith('.log')).pop() as string
  const image = materialize(t, snap, dir, { mode: 'none', modes: { [newest]: 'all' }, dirOps: 'all' })
  await assert.rejects(Log.open(image, { segmentBytes: SEGMENT }), (err) => isSeglogError(err, 'ERR_CORRUPT'))
  const log = await Log.open(image, { segmentBytes: SEGMENT, repair: true })
  try {
    // Repair keeps the new segment's intact (never acknowledged) batches at their offsets and
    // records the lost sealed tail as a gap, instead of deleting everything after the hole.
    assert.equal(log.gaps.length, 1)
    const [gap] = log.gaps
    assert.ok(gap.from > acked[acked.length - 1], 'nothing acknowledged is in the gap')
    await assert.rejects(readAll(log), (err) => isSeglogError(err, 'ERR_OFFSET_LOST') && err.details.from === gap.from && err.details.to === gap.to)
    const records: [number, Buffer][] = []
    for await (const rec of log.iterate({ gaps: 'skip' })) records.push([rec.offset, Buffer.from(rec.data)])
    const want = Array.from({ length: log.nextOffset }, (_, i) => i).filter((o) => o < gap.from || o >= gap.to)
    assert.deepEqual(records.map(([o]) => o), want, 'offsets are contiguous except across the recorded gap')
    for (const off of acked) assert.deepEqual(records[off][1], Buffer.alloc(100, off))
  } finally {
    await log.close()
  }
  const report = await Log.verify(image)
  assert.deepEqual(report.faults.filter((f) => f.kind !== 'index'), [])
  assert.equal(report.gaps.length, 1)
})
