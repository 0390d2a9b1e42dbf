// Corruption: bit flips and zeroed ranges anywhere in segments, indexes and the checkpoint.
// Damage to a segment is always detected and located (file and batch position) by verify and by
// reads, never skipped; open fails with ERR_CORRUPT when recovery reads it and valid data follows,
// or cuts and reports it when nothing follows; repair loses exactly the damaged batches, records
// them as a gap and keeps every other record at its offset. Damage to derived files (index,
// checkpoint) only costs a rebuild.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { isSeglogError, Log } from '../../src/index.js'
import { prng, randInt } from '../helpers/power-loss-fs.js'
import { makeRecord } from './lib/records.js'
import { scratchDir } from './lib/sim-log.js'

const SOAK = Boolean(process.env.SOAK)
const TRIALS = Number(process.env.SEGLOG_CORRUPT_TRIALS ?? (SOAK ? 10000 : 400))
const SEED = Number(process.env.SEGLOG_SEED ?? Math.floor(Math.random() * 2 ** 31))
const OPTS = { segmentBytes: 8192, indexIntervalBytes: 512 }
const rec = (offset: number): Buffer => makeRecord(offset + 1, offset, 0, 20 + ((offset * 53) % 500))

/** Batch boundaries of a segment file: [start, end) of each batch. */
function batches(file: string): [number, number][] {
  const buf = fs.readFileSync(file)
  const out: [number, number][] = []
  for (let p = 0; p + 40 <= buf.length; p += buf.readUInt32LE(p + 12)) out.push([p, p + buf.readUInt32LE(p + 12)])
  return out
}

/** First offset of the batch at `position` of a (pristine) segment. */
function batchBase(file: string, position: number): number {
  const buf = fs.readFileSync(file)
  const lo = buf.readUInt32LE(position + 16)
  const hi = buf.readUInt32LE(position + 20)
  return hi * 2 ** 32 + lo
}

async function buildPristine(dir: string): Promise<number> {
  const log = await Log.open(dir, { ...OPTS, sync: 'never' })
  for (let i = 0; i < 420;) {
    if (i % 7 === 3) {
      await log.appendBatch([rec(i), rec(i + 1), rec(i + 2)])
      i += 3
    } else {
      await log.append(rec(i++))
    }
    if (i % 5 === 0) await new Promise<void>((resolve) => setImmediate(resolve)) // vary batch sizes
  }
  const next = log.nextOffset
  await log.close()
  return next
}

test(`bit flips and zeroed ranges are detected, located and never silently dropped (seed ${SEED})`, async (t) => {
  const rng = prng(SEED)
  const pristine = scratchDir(t, 'seglog-pristine')
  const total = await buildPristine(pristine)
  const names = fs.readdirSync(pristine).sort()
  const segments = names.filter((n) => n.endsWith('.log'))
  const indexes = names.filter((n) => n.endsWith('.index'))
  assert.ok(segments.length >= 4 && indexes.length >= 3)
  const stats = { segment: 0, index: 0, checkpoint: 0, openCorrupt: 0, openTorn: 0 }

  for (let trial = 0; trial < TRIALS; trial++) {
    const dir = fs.mkdtempSync(path.join(path.dirname(pristine), 'seglog-damaged-'))
    try {
      for (const n of names) fs.copyFileSync(path.join(pristine, n), path.join(dir, n))
      const pick = rng()
      const target = pick < 0.7 ? segments[randInt(rng, 0, segments.length - 1)] : pick < 0.9 ? indexes[randInt(rng, 0, indexes.length - 1)] : 'checkpoint'
      const file = path.join(dir, target)
      const bytes = fs.readFileSync(file)
      const at = randInt(rng, 0, bytes.length - 1)
      const zero = rng() < 0.4
      const len = zero ? Math.min(randInt(rng, 1, 64), bytes.length - at) : 1
      const damaged = Buffer.from(bytes)
      if (zero) damaged.fill(0, at, at + len)
      else damaged[at] ^= 1 << randInt(rng, 0, 7)
      if (damaged.equals(bytes)) continue
      fs.writeFileSync(file, damaged)
      const context = `seed ${SEED} trial ${trial}: ${zero ? `zeroed ${len} bytes` : 'flipped a bit'} at byte ${at} of ${target}`
      const noCheckpoint = rng() < 0.3
      if (noCheckpoint && target !== 'checkpoint') fs.rmSync(path.join(dir, 'checkpoint'))

      if (!target.endsWith('.log')) {
        // Derived data: rebuilt, never trusted; every record reads back intact.
        if (target === 'checkpoint') stats.checkpoint++
        else stats.index++
        const report = await Log.verify(dir)
        assert.ok(report.faults.every((f) => f.kind === 'index' && f.file === file), `${context}: ${JSON.stringify(report.faults)}`)
        const log = await Log.open(dir, OPTS)
        try {
          assert.equal(log.nextOffset, total, context)
          let n = 0
          for await (const r of log.iterate()) assert.deepEqual(r.data, rec(n++), context)
          assert.equal(n, total)
          for (let k = 0; k < 20; k++) {
            const off = randInt(rng, 0, total - 1)
            assert.deepEqual((await log.read(off))?.data, rec(off), `${context}: read(${off})`)
          }
        } finally {
          await log.close()
        }
        continue
      }

      stats.segment++
      const pristineFile = path.join(pristine, target)
      const all = batches(pristineFile)
      const hit = all.filter(([s, e]) => at < e && at + len > s)
      const [batchStart] = hit[0]
      const firstLost = batchBase(pristineFile, batchStart)
      const isLast = target === segments[segments.length - 1]
      const lastHit = all.indexOf(hit[hit.length - 1])
      // Damage that reaches into the segment's last batch leaves nothing valid after it there.
      const lastBatchOfSegment = lastHit === all.length - 1
      const lastBatchOfLog = isLast && lastBatchOfSegment
      // What a repair loses: exactly the damaged batches' offsets (up to the next intact batch,
      // or the next segment), or, at the very end of the log, everything from the damage on.
      const nextSegment = segments[segments.indexOf(target) + 1]
      const lostTo = lastBatchOfLog ? total
        : lastBatchOfSegment ? Number(nextSegment.slice(0, 20)) : batchBase(pristineFile, all[lastHit + 1][0])

      // verify locates the damage: this file, the damaged batch, its first offset.
      const report = await Log.verify(dir)
      const fault = report.faults.find((f) => f.kind !== 'index')
      assert.ok(fault, `${context}: verify finds the damage`)
      assert.equal(fault.file, file, context)
      assert.equal(fault.position, batchStart, `${context}: located at the damaged batch`)
      assert.equal(fault.offset, firstLost, context)

      // open: recovery reads what follows the checkpoint (after a clean close: nothing). Without
      // one it reads every segment, so it meets the damage, and valid data follows it unless the
      // damage is in the log's very last batch (a torn tail).
      let log: Log | undefined
      try {
        log = await Log.open(dir, OPTS)
      } catch (err) {
        assert.ok(isSeglogError(err, 'ERR_CORRUPT'), `${context}: ${String(err)}`)
        assert.ok(noCheckpoint && !lastBatchOfLog, `${context}: only recovery reading the damage may fail open`)
        assert.equal(err.details.file, file)
        assert.equal(err.details.position, batchStart)
        stats.openCorrupt++
      }
      if (log) {
        assert.ok(noCheckpoint || !log.recovery.truncated, `${context}: with a checkpoint after a clean close, recovery reads nothing`)
        try {
          if (log.recovery.truncated) {
            // Reported, never silent: the damaged batch was the end of the log (a torn tail).
            assert.ok(lastBatchOfLog, `${context}: only the log's last batch may read as torn`)
            assert.equal(log.recovery.truncated.fromOffset, firstLost, context)
            assert.equal(log.nextOffset, firstLost, context)
            stats.openTorn++
          }
          // Reading through the damage fails with ERR_CORRUPT naming the file; nothing is skipped.
          let expected = 0
          let failed: unknown
          try {
            for await (const r of log.iterate()) {
              assert.equal(r.offset, expected, `${context}: no record skipped`)
              assert.deepEqual(r.data, rec(expected), `${context}: record ${expected} intact`)
              expected++
            }
          } catch (err) {
            failed = err
          }
          if (log.recovery.truncated) {
            assert.equal(failed, undefined, `${context}: ${String(failed)}`)
            assert.equal(expected, firstLost)
          } else {
            assert.ok(isSeglogError(failed, 'ERR_CORRUPT'), `${context}: reading through the damage fails (${String(failed)})`)
            assert.equal(failed.details.file, file, context)
            assert.ok(expected <= firstLost, `${context}: read ${expected} records, damage starts at ${firstLost}`)
            await assert.rejects(log.read(firstLost), (err) => isSeglogError(err, 'ERR_CORRUPT'), `${context}: read(${firstLost})`)
            if (firstLost > 0) assert.deepEqual((await log.read(firstLost - 1))?.data, rec(firstLost - 1))
          }
        } finally {
          await log.close()
        }
        if (log.recovery.truncated) continue
      }

      // Repair (offline, or at open) loses exactly the damaged batches and reports them.
      const atOpen = rng() < 0.5
      const after = atOpen ? await Log.open(dir, { ...OPTS, repair: true }) : undefined
      const repaired = atOpen ? after?.recovery.repaired : await Log.repair(dir)
      assert.ok(repaired && !repaired.clean, context)
      if (lastBatchOfLog) {
        assert.equal(repaired.cut?.file, file, context)
        assert.equal(repaired.cut?.fromOffset, firstLost, context)
        assert.deepEqual(repaired.lost, [], context)
      } else {
        assert.deepEqual(repaired.lost.map((l) => [l.file, l.position, l.from, l.to]), [[file, batchStart, firstLost, lostTo]], context)
      }
      const verified = await Log.verify(dir)
      assert.deepEqual(verified.faults.filter((f) => f.kind !== 'index'), [], context)
      assert.deepEqual(verified.gaps, lastBatchOfLog ? [] : [{ from: firstLost, to: lostTo }], context)
      const reopened = after ?? await Log.open(dir, OPTS)
      try {
        const end = lastBatchOfLog ? firstLost : total
        assert.equal(reopened.nextOffset, end, context)
        let n = 0
        for await (const r of reopened.iterate({ gaps: 'skip' })) {
          if (n === firstLost && !lastBatchOfLog) n = lostTo
          assert.equal(r.offset, n, `${context}: intact records keep their offsets`)
          assert.deepEqual(r.data, rec(n++), context)
        }
        assert.equal(n, end, context)
        if (!lastBatchOfLog) {
          await assert.rejects(reopened.read(firstLost), (err) => isSeglogError(err, 'ERR_OFFSET_LOST') && err.details.from === firstLost && err.details.to === lostTo, context)
          let stopped = 0
          await assert.rejects(async () => { for await (const r of reopened.iterate()) stopped = r.offset + 1 }, (err) => isSeglogError(err, 'ERR_OFFSET_LOST'), context)
          assert.equal(stopped, firstLost, `${context}: iterate stops at the gap by default`)
          if (lostTo < total) assert.deepEqual((await reopened.read(lostTo))?.data, rec(lostTo), context)
        }
      } finally {
        await reopened.close()
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  t.diagnostic(JSON.stringify(stats))
})
