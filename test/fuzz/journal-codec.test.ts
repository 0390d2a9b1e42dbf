// The journal's object decoder on random and mutated objects (jsonl and binary sections, one or
// many per object, as compaction concatenates them): ERR_CORRUPT / ERR_FORMAT_VERSION or a decode
// whose sections are exactly the object's bytes, in order; no allocation from untrusted lengths.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { isSeglogError } from '../../src/index.js'
import { decodeSections, encodeBinarySection, encodeJsonlSection } from '../../src/journal/codec.js'
import { allocatedBy, fcParams, fixCrc, mutate, mutation } from './lib.js'

const TIMEOUT = { timeout: 10 * 60_000 }
const json = fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null')
const nonce = fc.uint8Array({ minLength: 8, maxLength: 8 }).map((u) => Buffer.from(u))
const jsonlSection = fc.tuple(fc.array(json, { minLength: 1, maxLength: 5 }), fc.nat({ max: 10_000 }), fc.nat({ max: 2 ** 42 }), nonce)
  .map(([lines, seq, ts, n]) => encodeJsonlSection(lines, seq, ts, n))
const binarySection = fc.tuple(fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 5 }), fc.nat({ max: 10_000 }), fc.nat({ max: 2 ** 42 }), nonce)
  .map(([records, seq, ts, n]) => encodeBinarySection(records.map((r) => Buffer.from(r)), seq, ts, n))
const object = fc.array(fc.oneof(jsonlSection, binarySection), { minLength: 1, maxLength: 4 }).map((parts) => Buffer.concat(parts))

function check(buf: Buffer): void {
  let sections
  try {
    sections = decodeSections(buf, 'fuzz-object')
  } catch (err) {
    assert.ok(isSeglogError(err, 'ERR_CORRUPT') || isSeglogError(err, 'ERR_FORMAT_VERSION'), `unexpected ${String(err)}`)
    return
  }
  // A successful decode accounts for every byte, section after section.
  assert.deepEqual(Buffer.concat(sections.map((s) => s.raw)), buf)
  for (const s of sections) {
    assert.ok(Number.isSafeInteger(s.seq) && s.seq >= 0)
    assert.ok(s.values.length >= 1)
    if (s.codec === 'binary') {
      const again = encodeBinarySection(s.values as Buffer[], s.seq, s.timestamp, Buffer.from(s.nonce, 'hex'))
      assert.deepEqual(again.subarray(24 + 8), s.raw.subarray(24 + 8), 'binary sections re-encode to the same records')
    }
  }
}

test('decodeSections: valid objects decode exactly', TIMEOUT, () => {
  fc.assert(fc.property(object, check), fcParams())
})

test('decodeSections: mutated objects fail with ERR_CORRUPT or decode exactly', TIMEOUT, () => {
  fc.assert(fc.property(object, fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), (obj, ms, fix) => {
    const buf = mutate(obj, ms)
    // Re-checksum a binary section's header so the fields behind it are exercised too.
    if (fix && buf.length >= 24 && buf[0] !== 0x7b) fixCrc(buf, 4, 8, 24)
    check(buf)
  }), fcParams())
})

test('decodeSections: random bytes', TIMEOUT, () => {
  fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.string({ maxLength: 200 }).map((s) => new TextEncoder().encode(`{"seglog":1,${s}\n`))),
    (u) => check(Buffer.from(u))), fcParams())
})

test('decodeSections: claimed sizes do not drive allocation', TIMEOUT, () => {
  const huge: Buffer[] = [
    Buffer.from(`{"seglog":1,"seq":1,"n":4294967295,"ts":1,"bytes":${2 ** 50},"nonce":"0123456789abcdef","crc":1}\nx\n`),
    Buffer.from(`{"seglog":1,"seq":1,"n":${2 ** 40},"ts":1,"bytes":2,"nonce":"0123456789abcdef","crc":1}\nx\n`),
  ]
  const binary = encodeBinarySection([Buffer.from('abc')], 7, 1, Buffer.alloc(8))
  binary.writeUInt32LE(0x40000000, 24 + 12) // the batch claims 1 GiB
  binary.writeUInt32LE(0xffffffff, 24 + 32) // and 4 billion records
  huge.push(binary)
  let worst = 0
  for (let i = 0; i < 1000; i++) {
    for (const buf of huge) worst = Math.max(worst, allocatedBy(() => check(buf)))
  }
  // The decoder takes small Buffers from Node's shared pool, and whichever call finds the pool
  // empty is charged for one fresh slab of Buffer.poolSize bytes (8 KiB up to Node 22, 64 KiB from
  // Node 24). Measured worst: exactly one slab on Node 20.20 (8,192) and on Node 24.22 (65,536),
  // nothing else. So the bound is one slab plus a few KiB for copies of the input; a decoder that
  // believed the claims (1 GiB, 2^50 bytes, 4 billion records) would exceed it by far.
  const bound = Buffer.poolSize + 4096
  assert.ok(worst <= bound, `allocated ${worst} bytes for inputs under 200 bytes (bound ${bound}: one Buffer pool slab and a few KiB)`)
})
