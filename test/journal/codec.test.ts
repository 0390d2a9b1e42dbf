import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { test } from 'node:test'
import fc from 'fast-check'
import { SeglogError } from '../../src/errors.js'
import { crc32c } from '../../src/format/index.js'
import { decodeSections, encodeBinarySection, encodeJsonlEvents, encodeJsonlSection } from '../../src/journal/codec.js'
import { encodeEvent } from '../../src/journal/writer.js'
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

/** A jsonl section as docs/FORMAT-journal.md describes it, built the plain way (join, concat). */
function referenceJsonl(lines: readonly string[], seq: number, ts: number, nonce: Buffer): Buffer {
  const body = Buffer.from(lines.length === 0 ? '' : `${lines.join('\n')}\n`)
  const hex = nonce.toString('hex')
  const crc = crc32c(body, crc32c(Buffer.from(`${seq}:${lines.length}:${ts}:${body.length}:${hex}`)))
  return Buffer.concat([Buffer.from(`{"seglog":1,"seq":${seq},"n":${lines.length},"ts":${ts},"bytes":${body.length},"nonce":"${hex}","crc":${crc}}\n`), body])
}

test('a flush encodes its jsonl section in one buffer, byte for byte the format, from the first count events', () => {
  // Any JSON value (strings of any code points, lone surrogates included), any count up to all,
  // sequence numbers and timestamps up to the largest safe integer (the longest header line).
  const value = fc.jsonValue({ maxDepth: 2, stringUnit: 'binary' })
  fc.assert(fc.property(
    fc.array(value, { minLength: 1, maxLength: 12 }), fc.nat(), fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.uint8Array({ minLength: 8, maxLength: 8 }),
    (values, cut, seq, ts, nonceBytes) => {
      const events = values.map((v) => encodeEvent('jsonl', v))
      const count = 1 + (cut % events.length)
      const nonce = Buffer.from(nonceBytes)
      const got = encodeJsonlEvents(events, count, seq, ts, nonce)
      const want = referenceJsonl(events.slice(0, count).map((e) => e.data as string), seq, ts, nonce)
      assert.ok(got.equals(want), `${got.toString('latin1')} !== ${want.toString('latin1')}`)
      const [section] = decodeSections(got, 'prop')
      assert.deepEqual(section.values, values.slice(0, count).map((v) => JSON.parse(JSON.stringify(v)) as unknown))
    }), { numRuns: 500 })
})

test('an event whose size does not match its line is refused, and nothing is encoded', () => {
  const ok = encodeEvent('jsonl', { a: 'é' })
  const refused = (i: number, n: number, said: number) => (e: unknown) =>
    e instanceof SeglogError && e.code === 'ERR_INVALID_ARGUMENT' && e.message.includes(`event ${i} of batch 1 encodes to ${n} bytes but its size says ${said}`)
  // Too short a size, in the middle and last (where a 2-byte character would straddle the end).
  assert.throws(() => encodeJsonlEvents([ok, { data: '{"b":1}', size: 5 }, ok], 3, 1, 1, randomBytes(8)), refused(1, 7, 4))
  assert.throws(() => encodeJsonlEvents([ok, { data: '"ééé"', size: 7 }], 2, 1, 1, randomBytes(8)), refused(1, 8, 6))
  // Too long a size.
  assert.throws(() => encodeJsonlEvents([{ data: '{"b":1}', size: 9 }, ok], 2, 1, 1, randomBytes(8)), refused(0, 7, 8))
  // The events themselves are untouched: encoded with their right sizes they still round-trip.
  const [s] = decodeSections(encodeJsonlEvents([ok, encodeEvent('jsonl', { b: 1 })], 2, 1, 1, randomBytes(8)), 'obj')
  assert.deepEqual(s.values, [{ a: 'é' }, { b: 1 }])
})
