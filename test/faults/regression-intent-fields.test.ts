// Regression test for a defect found by the decoder fuzzing (fixed in 583dfe8, truncate-intent.ts).
//
// The truncate intent's decoder trusts every field once the checksum matches. A u64 that is not a
// safe integer reads as -1, and replaying an intent whose segment base is -1 deletes every segment
// ("every segment with a higher base") before failing. Only a checksum collision or a deliberate
// edit gets there, but the batch decoder already treats impossible fields behind a valid
// checksum as damage (a checksum collision must not yield garbage); the intent must too, and
// then it is treated like a torn intent: the truncate it records never resolved.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import fc from 'fast-check'
import { isSeglogError, Log } from '../../src/index.js'
import { nodeFileSystem } from '../../src/testing/index.js'
import { readIntent } from '../../src/local/truncate-intent.js'
import { fcParams, fixCrc, mutate, mutation, RUNS } from '../fuzz/lib.js'
import { scratchDir } from './lib/sim-log.js'

function intent(base: number, cut: number, next: number, hiBase = 0): Buffer {
  const buf = Buffer.alloc(40)
  buf.writeUInt32LE(0x52544753, 0)
  buf[8] = 1
  buf.writeUInt32LE(base, 16)
  buf.writeUInt32LE(hiBase, 20)
  buf.writeUInt32LE(cut, 24)
  buf.writeUInt32LE(next, 32)
  fixCrc(buf, 4, 8)
  return buf
}

test('an intent with a valid checksum but an impossible segment base deletes nothing', async (t) => {
  const dir = scratchDir(t, 'seglog-intent')
  const log = await Log.open(dir, { segmentBytes: 1024, sync: 'never' })
  for (let i = 0; i < 100; i++) await log.append(Buffer.alloc(60, i))
  await log.close()
  const before = fs.readdirSync(dir).filter((n) => n.endsWith('.log')).length
  fs.writeFileSync(path.join(dir, 'truncate.pending'), intent(0, 0, 0, 0xffffffff)) // base reads as -1
  try {
    const again = await Log.open(dir, { segmentBytes: 1024 })
    assert.equal(again.nextOffset, 100)
    await again.close()
  } catch (err) {
    assert.equal((err as { code?: string }).code, 'ERR_CORRUPT', String(err))
  }
  assert.equal(fs.readdirSync(dir).filter((n) => n.endsWith('.log')).length, before, 'no segment was deleted')
})

test('fuzz: a decoded intent always has safe, ordered fields', () => {
  const intentBytes = fc.tuple(fc.nat({ max: 1000 }), fc.nat({ max: 100_000 }), fc.nat({ max: 10 })).map(([b, cut, extra]) => intent(b, cut, b + extra))
  fc.assert(fc.property(intentBytes, fc.array(mutation, { maxLength: 3 }), fc.boolean(), (bytes, ms, fix) => {
    const buf = mutate(bytes, ms)
    if (fix) fixCrc(buf, 4, 8)
    let decoded
    try {
      decoded = readIntent({ ...nodeFileSystem, readFile: () => buf }, '/nowhere').intent
    } catch (err) {
      // An intact intent from a newer release is refused, never dropped or acted on.
      assert.ok(isSeglogError(err, 'ERR_FORMAT_VERSION') && buf[8] > 1, `unexpected ${String(err)}`)
      return
    }
    if (!decoded) return
    for (const v of [decoded.segmentBase, decoded.cutPosition, decoded.nextOffset]) assert.ok(Number.isSafeInteger(v) && v >= 0)
    assert.ok(decoded.nextOffset >= decoded.segmentBase)
  }), fcParams(Math.min(RUNS, 5000)))
})
