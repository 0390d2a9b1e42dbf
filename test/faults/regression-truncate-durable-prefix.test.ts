// Regression test for a defect found by the power-loss suite (fixed in 583dfe8, log.ts).
//
// truncate() records an intent whose replay writes a checkpoint vouching for every byte before the
// cut. Under sync 'never' (or an interval) those bytes were not fsynced: a power cut right after
// the intent became durable could tear them, and the replay then extended the file with zeros to
// the cut and checkpointed there. Recovery trusts the checkpointed prefix (it re-indexes it
// without checksums), so open() "recovered", and reading offset 0 failed with ERR_CORRUPT; the
// damage hides before the checkpoint, so `repair: true` at open cannot fix it either.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isSeglogError, Log } from '../../src/index.js'
import { durableBytes, materialize, pendingOps, readAll, scratchDir, simOptions, simWithTrigger } from './lib/sim-log.js'

for (const sync of ['never', { intervalMs: 60_000 }] as const) {
  test(`truncate under sync ${JSON.stringify(sync)}: a power cut once the intent is durable leaves a readable log that keeps what precedes the cut`, async (t) => {
    const dir = scratchDir(t, 'seglog-trunc')
    // The instant the intent's content is durable (its name is made durable right after).
    const { sim, taken } = simWithTrigger((s) => durableBytes(s, dir, 'truncate.pending') > 0 && pendingOps(s, dir, 'truncate.pending') === 0)
    const log = await Log.open(dir, simOptions(sim, { sync }))
    // One batch per record, so the cut falls on a batch boundary (no replacement batch).
    for (let i = 0; i < 10; i++) await log.appendBatch([Buffer.alloc(100, i + 1)])
    await log.truncate(1) // cuts at byte 144, the end of the first batch
    await log.close()
    const snap = taken()
    assert.ok(snap, 'the intent became durable')
    // The cut loses the segment's unsynced write but for its first 100 bytes: the first batch's
    // header survives, its records do not.
    const image = materialize(t, snap, dir, { mode: 'none', dirOps: 'all', tear: { '00000000000000000000.log': 100 } })
    let reopened: Log
    try {
      reopened = await Log.open(image)
    } catch (err) {
      assert.ok(isSeglogError(err, 'ERR_CORRUPT'), `open may only fail with ERR_CORRUPT: ${String(err)}`)
      return assert.fail('the records before the cut should have been made durable before the intent')
    }
    try {
      const records = await readAll(reopened) // must not throw: open said the log is fine
      assert.deepEqual(records.map(([o]) => o), [0], 'truncate made the records it keeps durable')
      for (const [o, data] of records) assert.deepEqual(data, Buffer.alloc(100, o + 1))
    } finally {
      await reopened.close()
    }
  })
}
