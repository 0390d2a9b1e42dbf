// appendNoWait(): the promise-free append. Its records are durable exactly when the documented
// await (sync()) resolves, or once durableOffset passes them under sync: 'always' — checked against
// every crash image the power-loss file system can leave at that instant. Every error is thrown
// synchronously with nothing written, and the records before it survive.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { isSeglogError, Log, type SyncMode } from '../../src/index.js'
import { crashImage, PowerLossFs, prng, randInt, type Snapshot } from '../helpers/power-loss-fs.js'
import { faultyFileSystem } from '../helpers/faulty-fs.js'
import { payload, tmpDir } from '../helpers/tmp.js'

const SIM_DIR = '/sim/nowait'

function record(i: number): Buffer {
  return payload(i, 20 + (i % 90))
}

/** Writes one crash image of `snap` to a fresh real directory and reads every record back. */
async function recordsInImage(t: Parameters<typeof tmpDir>[0], snap: Snapshot, rng: () => number): Promise<Map<number, Buffer>> {
  const dir = tmpDir(t, 'nowait-image')
  const { files } = crashImage(snap, SIM_DIR, rng)
  for (const [name, bytes] of files) fs.writeFileSync(path.join(dir, name), bytes)
  let log: Log
  try {
    log = await Log.open(dir, { sync: 'never' })
  } catch (err) {
    // Writes not yet fsynced may reach the disk out of order: a hole before intact batches in the
    // unsynced tail. Recovery refuses to guess (ERR_CORRUPT) and repair keeps every intact batch
    // at its offset; nothing acknowledged as durable may be in the hole, which assertHolds checks.
    if (!isSeglogError(err, 'ERR_CORRUPT')) throw err
    log = await Log.open(dir, { sync: 'never', repair: true })
  }
  const out = new Map<number, Buffer>()
  // A repaired hole is a recorded gap: read past it (assertHolds finds any record missing below the durable offset).
  for await (const r of log.iterate({ gaps: 'skip' })) out.set(r.offset, Buffer.from(r.data))
  await log.close()
  return out
}

function assertHolds(found: Map<number, Buffer>, below: number, what: string): void {
  for (let i = 0; i < below; i++) {
    const got = found.get(i)
    assert.ok(got, `${what}: record ${i} (below ${below}) is missing from a crash image`)
    assert.deepEqual(got, record(i), `${what}: record ${i} changed`)
  }
}

for (const sync of ['always', 'never', { intervalMs: 60_000 }] as SyncMode[]) {
  test(`appendNoWait under sync ${JSON.stringify(sync)}: every crash image taken when sync() resolves holds every record appended before it`, async (t) => {
    for (let seed = 1; seed <= 4; seed++) {
      const rng = prng(seed * 104729)
      const sim = new PowerLossFs({ rng })
      const fsys = sim.view()
      const log = await Log.open(SIM_DIR, { sync, segmentBytes: 2048, indexIntervalBytes: 128, writeBufferBytes: 4096, fileSystem: fsys })
      let next = 0
      for (let round = 0; round < 6; round++) {
        const n = randInt(rng, 1, 40)
        for (let k = 0; k < n; k++) {
          assert.equal(log.appendNoWait(record(next)), next, 'returns the offset the record got')
          next++
          // Let write-outs and fsync rounds run between some appends.
          if (rng() < 0.1) await new Promise((resolve) => setImmediate(resolve))
        }
        await log.sync()
        const snap = sim.snapshot('sync resolved')
        for (let k = 0; k < 3; k++) assertHolds(await recordsInImage(t, snap, rng), next, `seed ${seed} round ${round}`)
      }
      await log.close()
    }
  })
}

test('appendNoWait under sync: always: durableOffset is a promise of what every crash image holds, without calling sync()', async (t) => {
  const rng = prng(77)
  const sim = new PowerLossFs({ rng })
  const log = await Log.open(SIM_DIR, { sync: 'always', segmentBytes: 4096, indexIntervalBytes: 128, writeBufferBytes: 4096, fileSystem: sim.view() })
  let next = 0
  let checked = 0
  while (next < 300) {
    for (let k = randInt(rng, 1, 20); k > 0; k--) log.appendNoWait(record(next++))
    await new Promise((resolve) => setImmediate(resolve))
    const durable = log.durableOffset
    if (durable > checked) {
      assertHolds(await recordsInImage(t, sim.snapshot('durable'), rng), durable, `durableOffset ${durable}`)
      checked = durable
    }
  }
  // The group commit made them durable unasked: sync() finds nothing left to wait for beyond them.
  await log.sync()
  assert.equal(log.durableOffset, next)
  assert.ok(checked > 0, 'the group commit advanced durableOffset between turns')
  await log.close()
})

test('appendNoWait: a bad record throws its error code at once, nothing is written, and every record before it is kept', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'never', maxRecordBytes: 1000 })
  for (let i = 0; i < 10; i++) log.appendNoWait(record(i))
  const detached = new Uint8Array(new ArrayBuffer(8))
  structuredClone(detached.buffer, { transfer: [detached.buffer] })
  const bad: [unknown, string][] = [
    [42, 'ERR_INVALID_ARGUMENT'], [null, 'ERR_INVALID_ARGUMENT'], [detached, 'ERR_INVALID_ARGUMENT'],
    ['lone \uD800 surrogate', 'ERR_INVALID_ARGUMENT'], [Buffer.alloc(1001), 'ERR_RECORD_TOO_LARGE'],
  ]
  for (const [data, code] of bad) {
    assert.throws(() => log.appendNoWait(data as Uint8Array), (err: unknown) => isSeglogError(err) && err.code === code)
    assert.equal(log.nextOffset, 10)
  }
  assert.equal(log.appendNoWait(record(10)), 10, 'the log goes on after a refused record')
  await log.close()
  const again = await Log.open(dir, { sync: 'never' })
  assert.equal(again.nextOffset, 11)
  for (let i = 0; i < 11; i++) assert.deepEqual((await again.read(i))?.data, record(i))
  await again.close()
})

test('appendNoWait: ERR_BUSY while a truncate runs (nothing written), ERR_CLOSED after close, ERR_READ_ONLY on a read-only log', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'never', segmentBytes: 1024 })
  for (let i = 0; i < 40; i++) log.appendNoWait(record(i))
  const cut = log.truncate(25)
  assert.throws(() => log.appendNoWait(record(99)), (err: unknown) => isSeglogError(err, 'ERR_BUSY') && /nothing was written/.test(err.message))
  await cut
  assert.equal(log.nextOffset, 25, 'the refused record took no offset')
  assert.equal(log.appendNoWait(record(25)), 25)
  const reader = await Log.open(dir, { readOnly: true })
  assert.throws(() => reader.appendNoWait(record(0)), (err: unknown) => isSeglogError(err, 'ERR_READ_ONLY'))
  await reader.close()
  await log.close()
  assert.throws(() => log.appendNoWait(record(26)), (err: unknown) => isSeglogError(err, 'ERR_CLOSED'))
  const again = await Log.open(dir, { sync: 'never' })
  assert.equal(again.nextOffset, 26)
  for (let i = 0; i < 26; i++) assert.deepEqual((await again.read(i))?.data, record(i))
  await again.close()
})

test('appendNoWait: a failed fsync reaches the caller through the next sync() (ERR_IO) and later appendNoWait calls; what was durable stays', async (t) => {
  const dir = tmpDir(t)
  const fsys = faultyFileSystem({ datasyncFailsFrom: 2 })
  const log = await Log.open(dir, { sync: 'always', fileSystem: fsys })
  for (let i = 0; i < 5; i++) log.appendNoWait(record(i))
  await log.sync()
  assert.equal(log.durableOffset, 5)
  for (let i = 5; i < 9; i++) log.appendNoWait(record(i))
  await assert.rejects(log.sync(), (err: unknown) => isSeglogError(err, 'ERR_IO'))
  assert.throws(() => log.appendNoWait(record(9)), (err: unknown) => isSeglogError(err, 'ERR_IO'))
  await log.close().catch(() => undefined)
  const again = await Log.open(dir, { sync: 'never' })
  assert.ok(again.nextOffset >= 5)
  for (let i = 0; i < 5; i++) assert.deepEqual((await again.read(i))?.data, record(i))
  await again.close()
})

test('appendNoWait on an encoded log encodes the value (json), and a value that cannot be encoded throws with nothing written', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open<{ n: number }>(dir, { sync: 'never', encoding: 'json' })
  assert.equal(log.appendNoWait({ n: 1 }), 0)
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic
  assert.throws(() => log.appendNoWait(cyclic as unknown as { n: number }), (err: unknown) => isSeglogError(err, 'ERR_INVALID_ARGUMENT'))
  assert.equal(log.appendNoWait({ n: 2 }), 1)
  await log.sync()
  assert.deepEqual((await log.read(1))?.data, { n: 2 })
  await log.close()
})
