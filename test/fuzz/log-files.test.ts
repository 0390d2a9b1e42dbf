// Decoders of the log directory's small files added for issue 10 (gaps, identity) and the
// torn-versus-corrupt search, on random and mutated input: no crash, no allocation driven by an
// untrusted count, and any successful decode is a correct one.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { isSeglogError } from '../../src/index.js'
import { encodeBatch } from '../../src/format/index.js'
import { decodeGaps, encodeGaps, type Gap } from '../../src/local/gaps.js'
import { decodeIdentity, encodeIdentity } from '../../src/local/identity.js'
import { findDataAfterFault, scanSegment } from '../../src/local/scan.js'
import { allocatedBy, bufferHandle, fcParams, fixCrc, mutate, mutation } from './lib.js'

const TIMEOUT = { timeout: 10 * 60_000 }

/**
 * `decode()`, or undefined when it threw ERR_FORMAT_VERSION, which it may only do for an intact
 * envelope (the mutation re-checksummed) whose version byte is above 1.
 */
function newerOrDecode<T>(buf: Buffer, decode: () => T): T | undefined {
  try {
    return decode()
  } catch (err) {
    assert.ok(isSeglogError(err, 'ERR_FORMAT_VERSION') && buf[8] > 1, `unexpected ${String(err)}`)
    return undefined
  }
}

const gapsArb = fc.array(fc.tuple(fc.nat({ max: 1000 }), fc.integer({ min: 1, max: 50 })), { maxLength: 8 }).map((parts) => {
  const out: Gap[] = []
  let at = 0
  for (const [skip, len] of parts) {
    at += skip
    out.push({ from: at, to: at + len })
    at += len
  }
  return out
})

test('gaps file: round trip, and mutated input decodes to undefined or to sorted, disjoint, non-empty ranges', TIMEOUT, () => {
  fc.assert(fc.property(gapsArb, fc.array(mutation, { maxLength: 4 }), fc.boolean(), (gaps, ms, fix) => {
    assert.deepEqual(decodeGaps(encodeGaps(gaps)), gaps)
    const buf = mutate(encodeGaps(gaps), ms)
    if (fix) fixCrc(buf, 4, 8)
    const decoded = newerOrDecode(buf, () => decodeGaps(buf))
    if (decoded === undefined) return
    let prev = -1
    for (const g of decoded) {
      assert.ok(Number.isSafeInteger(g.from) && Number.isSafeInteger(g.to) && g.from < g.to && g.from >= prev)
      prev = g.to
    }
  }), fcParams())
})

test('identity file: round trip, and mutated input is undefined or self-consistent', TIMEOUT, () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.array(mutation, { maxLength: 3 }), fc.boolean(), (id, ms, fix) => {
    const buf = encodeIdentity(Buffer.from(id))
    assert.equal(decodeIdentity(buf)?.id, Buffer.from(id).toString('hex'))
    const m = mutate(buf, ms)
    if (fix) fixCrc(m, 4, 8)
    const decoded = newerOrDecode(m, () => decodeIdentity(m))
    if (decoded) assert.match(decoded.id, /^[0-9a-f]{32}$/)
  }), fcParams())
})

test('a gaps or identity header claiming 4 billion entries allocates nothing from that count', () => {
  const gaps = encodeGaps([])
  gaps.writeUInt32LE(0xffffffff, 12)
  fixCrc(gaps, 4, 8)
  let worst = 0
  for (let i = 0; i < 1000; i++) worst = Math.max(worst, allocatedBy(() => assert.equal(decodeGaps(gaps), undefined)))
  assert.ok(worst < 64 * 1024, `allocated ${worst} bytes`)
})

test('torn versus corrupt: valid data after a fault always continues the offsets and lies past the fault', TIMEOUT, () => {
  const segment = fc.tuple(fc.array(fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 4 }), { minLength: 2, maxLength: 6 }), fc.nat({ max: 1000 }))
    .map(([batches, base]) => {
      let next = base
      return { bytes: Buffer.concat(batches.map((r) => { const b = encodeBatch(r.map((x) => Buffer.from(x)), next, 1); next += r.length; return b })), base }
    })
  fc.assert(fc.property(segment, fc.array(mutation, { minLength: 1, maxLength: 3 }), ({ bytes, base }, ms) => {
    const buf = mutate(bytes, ms)
    const scan = scanSegment(bufferHandle(buf), buf.length, 0, base)
    if (scan.stop !== 'torn' && scan.stop !== 'corrupt') return
    const after = findDataAfterFault(bufferHandle(buf), buf.length, scan.validEnd, scan.nextOffset)
    if (scan.stop === 'torn') assert.equal(after, undefined)
    if (after) {
      assert.ok(after.position > scan.validEnd)
      assert.ok(after.baseOffset >= scan.nextOffset)
    }
  }), fcParams())
})
