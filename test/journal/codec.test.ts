import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import fc from 'fast-check'
import { SeglogError } from '../../src/errors.js'
import { decodeSections, encodeBinarySection, encodeJsonlSection } from '../../src/journal/codec.js'
import { parseKey, pad } from '../../src/journal/keys.js'

function decodesOrFailsCleanly(buf: Buffer): void {
  try {
    const sections = decodeSections(buf, 'fuzz')
    let total = 0
    for (const s of sections) total += s.raw.length
    assert.equal(total, buf.length)
  } catch (err) {
    assert.ok(err instanceof SeglogError && (err.code === 'ERR_CORRUPT' || err.code === 'ERR_FORMAT_VERSION'), String(err))
  }
}

test('sections round-trip, concatenated as compaction does', () => {
  const a = encodeJsonlSection([JSON.stringify({ x: 1 }), JSON.stringify('line\nbreak'), 'null'], 7, 1234, randomBytes(8))
  const b = encodeBinarySection([Buffer.from('one'), Buffer.alloc(0)], 8, 1235, randomBytes(8))
  const s = decodeSections(Buffer.concat([a, b]), 'obj')
  assert.deepEqual(s.map((x) => [x.seq, x.codec, x.timestamp]), [[7, 'jsonl', 1234], [8, 'binary', 1235]])
  assert.deepEqual(s[0].values, [{ x: 1 }, 'line\nbreak', null])
  assert.deepEqual(s[1].values.map((v) => (v as Buffer).toString()), ['one', ''])
  assert.ok(s[0].raw.equals(a) && s[1].raw.equals(b))
})

test('decoders survive random input and every single-byte mutation', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => { decodesOrFailsCleanly(Buffer.from(bytes)) }), { numRuns: 2000 })
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => { decodesOrFailsCleanly(Buffer.concat([Buffer.from('{"seglog":1,'), Buffer.from(bytes)])) }), { numRuns: 1000 })
  const good = Buffer.concat([
    encodeJsonlSection(['{"a":1}', '[1,2]'], 1, 99, randomBytes(8)),
    encodeBinarySection([Buffer.from('abc')], 2, 100, randomBytes(8)),
  ])
  for (let i = 0; i < good.length; i++) {
    for (const flip of [0x01, 0x80]) {
      const bad = Buffer.from(good)
      bad[i] ^= flip
      decodesOrFailsCleanly(bad)
    }
    decodesOrFailsCleanly(good.subarray(0, i))
  }
})

test('keys parse only what the journal writes', () => {
  assert.deepEqual(parseKey(`b/${pad(42)}`), { kind: 'b', first: 42, last: 42 })
  assert.deepEqual(parseKey(`c/${pad(1)}-${pad(9)}`), { kind: 'c', first: 1, last: 9 })
  assert.deepEqual(parseKey(`r/${pad(3)}`), { kind: 'r', first: 3, last: 3 })
  for (const k of [`b/${pad(1)}.json`, 'b/1', `c/${pad(9)}-${pad(1)}`, `x/${pad(1)}`, `b/${'9'.repeat(20)}`]) assert.equal(parseKey(k), undefined, k)
})
