// Decoders on random and mutated input: no crash (only a SeglogError with ERR_CORRUPT or
// ERR_FORMAT_VERSION, or a status/undefined where the API says so), no hang, no allocation
// driven by an untrusted length, and any successful decode is a correct one.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { isSeglogError } from '../../src/index.js'
import { BatchHeader, BatchStatus, decodeBatch, encodeBatch, parseBatch } from '../../src/format/index.js'
import { decodeCheckpoint, encodeCheckpoint } from '../../src/local/checkpoint.js'
import { scanSegment } from '../../src/local/scan.js'
import { SparseIndex } from '../../src/local/sparse-index.js'
import { allocatedBy, bufferHandle, fcParams, fixCrc, mutate, mutation } from './lib.js'

const TIMEOUT = { timeout: 10 * 60_000 }
const records = fc.array(fc.uint8Array({ maxLength: 64 }), { minLength: 1, maxLength: 8 })
const baseOffset = fc.oneof(fc.nat({ max: 1000 }), fc.constant(Number.MAX_SAFE_INTEGER - 8))
const validBatch = fc.tuple(records, baseOffset, fc.nat({ max: 2 ** 42 })).map(([r, b, ts]) => encodeBatch(r.map((x) => Buffer.from(x)), b, ts))
/** A valid batch, mutated, and sometimes re-checksummed so the structural checks are reached. */
const mutatedBatch = fc.tuple(validBatch, fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean()).map(([b, ms, fix]) => {
  const m = mutate(b, ms)
  if (fix && m.length >= 16) fixCrc(m, 4, 8, Math.min(m.length, Math.max(8, m.readUInt32LE(12))))
  return m
})
const anyBytes = fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u))

function expectDecodeError(err: unknown): void {
  assert.ok(isSeglogError(err, 'ERR_CORRUPT') || isSeglogError(err, 'ERR_FORMAT_VERSION'), `unexpected ${String(err)}`)
}

test('decodeBatch: ERR_CORRUPT / ERR_FORMAT_VERSION or an exact decode', TIMEOUT, () => {
  fc.assert(fc.property(fc.oneof(mutatedBatch, anyBytes, validBatch), (buf) => {
    let decoded
    try {
      decoded = decodeBatch(buf)
    } catch (err) {
      return expectDecodeError(err)
    }
    assert.ok(decoded.length <= buf.length)
    assert.ok(decoded.records.length >= 1)
    assert.ok(Number.isSafeInteger(decoded.baseOffset + decoded.records.length - 1))
    // Correct: re-encoding the decoded records gives back the same bytes (reserved fields aside).
    const again = encodeBatch(decoded.records, decoded.baseOffset, decoded.timestamp)
    const original = Buffer.from(buf.subarray(0, decoded.length))
    original.fill(0, 9, 12)
    original.fill(0, 36, 40)
    again.fill(0, 4, 8)
    original.fill(0, 4, 8)
    assert.deepEqual(again, original)
  }), fcParams())
})

test('parseBatch at any position and limit returns a status and never throws', TIMEOUT, () => {
  const header = new BatchHeader()
  fc.assert(fc.property(fc.oneof(mutatedBatch, anyBytes), fc.nat(), fc.nat(), fc.boolean(), (buf, p, l, verify) => {
    const pos = buf.length === 0 ? 0 : p % (buf.length + 1)
    const limit = pos + (l % (buf.length - pos + 1))
    const status = parseBatch(buf, pos, limit, header, verify)
    assert.ok(status >= BatchStatus.Ok && status <= BatchStatus.BadStructure)
    if (status === BatchStatus.Ok) assert.ok(pos + header.length <= limit && header.count >= 1)
  }), fcParams())
})

const validIndex = fc.tuple(fc.nat({ max: 1000 }), fc.array(fc.integer({ min: 1, max: 600 }), { maxLength: 40 })).map(([base, sizes]) => {
  const index = new SparseIndex(base)
  let pos = 0
  sizes.forEach((size, i) => {
    index.maybeAdd(base + i, pos + 40, pos, 256)
    pos += 44 + size
  })
  index.coveredBytes = pos
  index.nextOffset = base + sizes.length
  return { bytes: index.encode(), base, size: pos }
})

test('SparseIndex.decode: undefined or an index whose entries are sane', TIMEOUT, () => {
  fc.assert(fc.property(validIndex, fc.array(mutation, { maxLength: 4 }), fc.boolean(), fc.nat({ max: 5000 }), ({ bytes, base, size }, ms, fix, otherSize) => {
    const buf = mutate(bytes, ms)
    if (fix) fixCrc(buf, 4, 8)
    const segmentSize = ms.length % 2 === 0 ? size : otherSize
    const index = SparseIndex.decode(buf, base, segmentSize)
    if (!index) return
    assert.equal(index.coveredBytes, segmentSize)
    assert.ok(index.nextOffset >= base && Number.isSafeInteger(index.nextOffset))
    for (let i = 0; i < index.count; i++) {
      assert.ok(index.recordPosAt(i) < segmentSize && index.batchPosAt(i) <= index.recordPosAt(i))
      assert.ok(index.offsetAt(i) < index.nextOffset)
      if (i > 0) assert.ok(index.offsetAt(i) > index.offsetAt(i - 1) && index.recordPosAt(i) > index.recordPosAt(i - 1))
    }
  }), fcParams())
})

test('decodeCheckpoint: undefined or safe, ordered fields', TIMEOUT, () => {
  const cp = fc.record({ segmentBase: fc.nat({ max: 2 ** 40 }), position: fc.nat({ max: 2 ** 31 }), extra: fc.nat({ max: 1000 }), clean: fc.boolean() })
    .map((c) => encodeCheckpoint({ segmentBase: c.segmentBase, position: c.position, nextOffset: c.segmentBase + c.extra, clean: c.clean }))
  fc.assert(fc.property(fc.oneof(cp, anyBytes), fc.array(mutation, { maxLength: 3 }), fc.boolean(), (bytes, ms, fix) => {
    const buf = mutate(bytes, ms)
    if (fix) fixCrc(buf, 4, 8)
    const decoded = decodeCheckpoint(buf)
    if (!decoded) return
    for (const v of [decoded.segmentBase, decoded.position, decoded.nextOffset]) assert.ok(Number.isSafeInteger(v) && v >= 0)
    assert.ok(decoded.nextOffset >= decoded.segmentBase)
  }), fcParams())
})

// The truncate intent's decoder: see test/faults/regression-intent-fields.test.ts.

const validSegment = fc.tuple(fc.array(records, { minLength: 1, maxLength: 6 }), fc.nat({ max: 1000 })).map(([batches, base]) => {
  let next = base
  const parts = batches.map((r) => {
    const b = encodeBatch(r.map((x) => Buffer.from(x)), next, 1_700_000_000_000)
    next += r.length
    return b
  })
  return { bytes: Buffer.concat(parts), base, ends: parts.map((p, i) => parts.slice(0, i + 1).reduce((a, x) => a + x.length, 0)) }
})

test('scanSegment on damaged segments: stops at a batch boundary, everything before it valid; no throw, no hang', TIMEOUT, () => {
  fc.assert(fc.property(validSegment, fc.array(mutation, { maxLength: 4 }), fc.boolean(), ({ bytes, base }, ms, fix) => {
    const buf = mutate(bytes, ms)
    if (fix && buf.length >= 16) fixCrc(buf, 4, 8, Math.min(buf.length, Math.max(8, buf.readUInt32LE(12))))
    const scan = scanSegment(bufferHandle(buf), buf.length, 0, base)
    assert.ok(scan.validEnd >= 0 && scan.validEnd <= buf.length)
    assert.ok(['end', 'torn', 'corrupt', 'newer-version'].includes(scan.stop))
    if (scan.stop === 'end') assert.equal(scan.validEnd, buf.length)
    else assert.ok(scan.validEnd < buf.length)
    if (scan.stop === 'corrupt' || scan.stop === 'torn') assert.ok(scan.damageEnd !== undefined && scan.damageEnd > scan.validEnd && scan.damageEnd <= buf.length)
    // Corruption means valid data follows the fault, or the fault is itself a whole misplaced batch.
    if (scan.stop === 'corrupt') assert.ok(scan.validAfter || /misplaced|another log/.test(scan.fault ?? ''))
    if (scan.validAfter) assert.ok(scan.validAfter.position >= (scan.damageEnd ?? 0) && scan.validAfter.baseOffset >= scan.nextOffset)
    // Everything before validEnd decodes as contiguous valid batches.
    let p = 0
    let expected = base
    let count = 0
    while (p < scan.validEnd) {
      const d = decodeBatch(buf, p)
      assert.equal(d.baseOffset, expected)
      expected += d.records.length
      count += d.records.length
      p += d.length
    }
    assert.equal(p, scan.validEnd)
    assert.equal(scan.nextOffset, expected)
    assert.equal(scan.records, count)
  }), fcParams())
})

test('scanSegment over random bytes', TIMEOUT, () => {
  fc.assert(fc.property(anyBytes, fc.nat({ max: 100 }), (buf, expected) => {
    const scan = scanSegment(bufferHandle(buf), buf.length, 0, expected)
    assert.ok(scan.validEnd <= buf.length)
  }), fcParams())
})

test('untrusted lengths and counts never drive allocation or time', TIMEOUT, () => {
  // A 40-byte batch header claiming a 1 GiB batch of 4 billion records; an index claiming 4 billion
  // entries; a checkpoint of the wrong size. Each call must allocate far less than a megabyte.
  const header = Buffer.alloc(40)
  header.writeUInt32LE(0x4c474553, 0)
  header[8] = 1
  header.writeUInt32LE(0x40000000, 12)
  header.writeUInt32LE(0xffffffff, 32)
  const index = Buffer.alloc(40)
  index.writeUInt32LE(0x58494753, 0)
  index[8] = 1
  index.writeUInt32LE(0xffffffff, 12)
  const started = performance.now()
  let worst = 0
  for (let i = 0; i < 2000; i++) {
    worst = Math.max(worst, allocatedBy(() => {
      try { decodeBatch(header) } catch (err) { expectDecodeError(err) }
      assert.equal(SparseIndex.decode(index, 0, 1 << 30), undefined)
      assert.equal(decodeCheckpoint(header), undefined)
    }))
  }
  assert.ok(worst < 64 * 1024, `allocated ${worst} bytes for 40-byte inputs`)
  assert.ok(performance.now() - started < 5000, 'no hang')
})
