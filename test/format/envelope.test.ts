/**
 * The file envelope (src/format/envelope.ts): one header for the index, checkpoint, truncate
 * intent, gaps, identity and truncations files and the journal's binary section header. It must
 * describe the bytes seglog has always written (the golden fixtures open through it), catch every
 * single flipped byte and every truncation, and tell damage (ERR_CORRUPT, naming kind and byte)
 * from a newer release (ERR_FORMAT_VERSION).
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { isSeglogError, Log } from '../../src/index.js'
import {
  allocEnvelope, checkEnvelope, crc32c, envelopeHeaderBytes, openEnvelope, sealEnvelope, type EnvelopeKind,
} from '../../src/format/index.js'
import { CHECKPOINT_ENVELOPE, decodeCheckpoint, encodeCheckpoint } from '../../src/local/checkpoint.js'
import { decodeGaps, encodeGaps, GAPS_ENVELOPE } from '../../src/local/gaps.js'
import { encodeIdentity, IDENTITY_ENVELOPE } from '../../src/local/identity.js'
import { INDEX_ENVELOPE, SparseIndex } from '../../src/local/sparse-index.js'
import { INTENT_ENVELOPE } from '../../src/local/truncate-intent.js'
import { encodeTruncations, TRUNCATIONS_ENVELOPE } from '../../src/local/truncations.js'
import { BINARY_SECTION_ENVELOPE, BINARY_SECTION_HEADER, encodeBinarySection } from '../../src/journal/codec.js'
import { fcParams } from '../fuzz/lib.js'
import { writeU64 } from '../../src/format/index.js'
import { tmpDir } from '../helpers/tmp.js'

const GOLDEN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/golden')
const VERSIONED: EnvelopeKind = { name: 'test file', magic: 0x54534554, version: 3, remedy: 'Delete it' }
const UNVERSIONED: EnvelopeKind = { name: 'test header', magic: 0x48534554, remedy: 'Delete it' }
const ALL_KINDS = [INDEX_ENVELOPE, CHECKPOINT_ENVELOPE, INTENT_ENVELOPE, GAPS_ENVELOPE, IDENTITY_ENVELOPE, TRUNCATIONS_ENVELOPE, BINARY_SECTION_ENVELOPE]

function seal(kind: EnvelopeKind, body: Uint8Array): Buffer {
  const buf = allocEnvelope(kind, body.length)
  buf.set(body, envelopeHeaderBytes(kind))
  return sealEnvelope(buf)
}

/** The ERR_CORRUPT or ERR_FORMAT_VERSION openEnvelope throws for `buf`. */
function refusal(buf: Buffer, kind: EnvelopeKind, position = 0): Error & { code: string; details: Record<string, unknown> } {
  try {
    openEnvelope(buf, kind, { file: 'the-file', position })
  } catch (err) {
    assert.ok(isSeglogError(err, 'ERR_CORRUPT') || isSeglogError(err, 'ERR_FORMAT_VERSION'), String(err))
    return err as Error & { code: string; details: Record<string, unknown> }
  }
  assert.fail('openEnvelope accepted a bad envelope')
}

test('layout: magic at 0, CRC32C of [8, end) at 4, version at 8, reserved 9-11, body at 12 (8 without a version)', () => {
  const buf = seal(VERSIONED, Buffer.from('body'))
  assert.equal(buf.length, 16)
  assert.equal(buf.readUInt32LE(0), VERSIONED.magic)
  assert.equal(buf.readUInt32LE(4), crc32c(buf.subarray(8)))
  assert.deepEqual([...buf.subarray(8, 12)], [3, 0, 0, 0])
  assert.equal(buf.subarray(12).toString(), 'body')
  const bare = seal(UNVERSIONED, Buffer.from('body'))
  assert.equal(bare.length, 12)
  assert.equal(bare.readUInt32LE(4), crc32c(bare.subarray(8)))
  assert.equal(bare.subarray(8).toString(), 'body')
})

test('property: round trip; any single changed byte or any truncation is ERR_CORRUPT naming kind and byte', () => {
  const kind = fc.constantFrom(VERSIONED, UNVERSIONED, ...ALL_KINDS)
  fc.assert(fc.property(kind, fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.integer({ min: 1, max: 255 }), fc.nat(), fc.nat({ max: 1000 }),
    (k, body, at, xor, cut, base) => {
      const buf = seal(k, body)
      assert.deepEqual(openEnvelope(buf, k, { file: 'f' }), Buffer.from(body))
      assert.equal(checkEnvelope(buf, k), undefined)

      const flipped = Buffer.from(buf)
      const i = at % flipped.length
      flipped[i] ^= xor
      const fault = checkEnvelope(flipped, k)
      assert.ok(fault, `flip at ${i} undetected`)
      // The version byte is under the checksum: a flip anywhere is damage, never "newer".
      const err = refusal(flipped, k, base)
      assert.equal(err.code, 'ERR_CORRUPT')
      assert.equal(err.details.kind, k.name)
      assert.equal(err.details.position, base + fault.position)
      assert.equal(err.details.file, 'the-file')
      assert.equal(fault.position, i < 4 ? 0 : 4, 'the magic is named by byte 0, the rest by the checksum at byte 4')

      const short = buf.subarray(0, cut % buf.length)
      assert.ok(checkEnvelope(short, k), `truncation to ${short.length} bytes undetected`)
      assert.equal(refusal(short, k).code, 'ERR_CORRUPT')
    }), fcParams(2000))
})

test('an intact envelope with a newer version is ERR_FORMAT_VERSION; an older or zero version is ERR_CORRUPT', () => {
  const buf = seal(VERSIONED, Buffer.from('x'))
  buf[8] = 4
  sealEnvelope(buf)
  const newer = refusal(buf, VERSIONED, 100)
  assert.equal(newer.code, 'ERR_FORMAT_VERSION')
  assert.equal(newer.details.kind, 'test file')
  assert.equal(newer.details.position, 108)
  assert.equal(newer.details.version, 4)
  assert.match(newer.message, /version 4 is newer than this seglog reads \(3\)/)
  for (const v of [0, 2]) {
    buf[8] = v
    sealEnvelope(buf)
    const older = refusal(buf, VERSIONED)
    assert.equal(older.code, 'ERR_CORRUPT')
    assert.equal(older.details.position, 8)
  }
})

test('every file kind has its own magic, and every encoder writes its kind\'s envelope', () => {
  assert.equal(new Set(ALL_KINDS.map((k) => k.magic)).size, ALL_KINDS.length)
  assert.equal(new Set(ALL_KINDS.map((k) => k.name)).size, ALL_KINDS.length)
  const encoded: [EnvelopeKind, Buffer][] = [
    [CHECKPOINT_ENVELOPE, encodeCheckpoint({ segmentBase: 10, position: 200, nextOffset: 17, clean: true })],
    [GAPS_ENVELOPE, encodeGaps([{ from: 3, to: 9 }])],
    [IDENTITY_ENVELOPE, encodeIdentity(Buffer.alloc(16, 7))],
    [TRUNCATIONS_ENVELOPE, encodeTruncations({ generation: 2, cuts: [{ generation: 1, offset: 5 }] })],
    [BINARY_SECTION_ENVELOPE, encodeBinarySection([Buffer.from('e')], 4, 1_700_000_000_000, Buffer.alloc(8, 1)).subarray(0, BINARY_SECTION_HEADER)],
  ]
  for (const [kind, buf] of encoded) assert.equal(checkEnvelope(buf, kind), undefined, kind.name)
})

test('golden files of format 1 and 1.1 open through the envelope unchanged', () => {
  const kinds: Record<string, EnvelopeKind> = { checkpoint: CHECKPOINT_ENVELOPE, 'truncate.pending': INTENT_ENVELOPE, gaps: GAPS_ENVELOPE, identity: IDENTITY_ENVELOPE }
  let seen = 0
  for (const version of ['v1', 'v1.1']) {
    for (const log of fs.readdirSync(path.join(GOLDEN, version))) {
      const dir = path.join(GOLDEN, version, log)
      if (!fs.statSync(dir).isDirectory()) continue
      for (const name of fs.readdirSync(dir)) {
        const kind = name.endsWith('.index') ? INDEX_ENVELOPE : kinds[name]
        if (!kind) continue
        assert.equal(checkEnvelope(fs.readFileSync(path.join(dir, name)), kind), undefined, `${version}/${log}/${name}`)
        seen++
      }
    }
  }
  assert.ok(seen >= 20, `only ${seen} golden files checked`)
})

test('the encoders write the golden files byte for byte: decode then encode gives the same bytes', () => {
  const dir = path.join(GOLDEN, 'v1.1/log-with-gap')
  const read = (name: string): Buffer => fs.readFileSync(path.join(dir, name))
  const cp = decodeCheckpoint(read('checkpoint'))
  assert.ok(cp)
  assert.deepEqual(encodeCheckpoint(cp), read('checkpoint'))
  const gaps = decodeGaps(read('gaps'))
  assert.ok(gaps && gaps.length > 0)
  assert.deepEqual(encodeGaps(gaps), read('gaps'))
  assert.deepEqual(encodeIdentity(read('identity').subarray(12, 28)), read('identity'))
  let indexes = 0
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.index'))) {
    const base = Number(name.slice(0, 20))
    const index = SparseIndex.decode(read(name), base, fs.statSync(path.join(dir, `${name.slice(0, 20)}.log`)).size)
    assert.ok(index, name)
    assert.deepEqual(index.encode(), read(name), name)
    indexes++
  }
  assert.ok(indexes >= 3)
})

test('a journal binary section is the same bytes the pre-envelope encoder wrote', () => {
  // The encoder before the envelope existed, kept here as the reference.
  const legacyHeader = (seq: number, nonce: Buffer): Buffer => {
    const out = Buffer.alloc(24)
    out.writeUInt32LE(0x424a4753, 0)
    writeU64(out, 8, seq)
    nonce.copy(out, 16, 0, 8)
    out.writeUInt32LE(crc32c(out.subarray(8, 24)), 4)
    return out
  }
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 5 }), fc.nat({ max: 2 ** 40 }), fc.nat({ max: 2 ** 42 }), fc.uint8Array({ minLength: 8, maxLength: 8 }),
    (records, seq, ts, nonce) => {
      const section = encodeBinarySection(records.map((r) => Buffer.from(r)), seq, ts, Buffer.from(nonce))
      assert.deepEqual(section.subarray(0, BINARY_SECTION_HEADER), legacyHeader(seq, Buffer.from(nonce)))
    }), fcParams(500))
})

async function writtenLog(t: Parameters<typeof tmpDir>[0]): Promise<string> {
  const dir = tmpDir(t, 'envelope')
  const log = await Log.open(dir, { segmentBytes: 1024 })
  for (let i = 0; i < 50; i++) await log.append(Buffer.from(`record-${i}`))
  await log.close()
  return dir
}

async function expectAllRecords(dir: string): Promise<void> {
  const log = await Log.open(dir, { readOnly: true })
  try {
    const got: string[] = []
    for await (const r of log.iterate()) got.push(r.data.toString())
    assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => `record-${i}`))
  } finally {
    await log.close()
  }
}

function rewriteVersion(file: string, version: number): Buffer {
  const original = fs.readFileSync(file)
  const changed = Buffer.from(original)
  changed[8] = version
  fs.writeFileSync(file, sealEnvelope(changed))
  return original
}

test('an identity file from a newer release is ERR_FORMAT_VERSION (not damage); every record is still there', async (t) => {
  const dir = await writtenLog(t)
  const file = path.join(dir, 'identity')
  const original = rewriteVersion(file, 2)
  await assert.rejects(Log.open(dir), (err: unknown) => isSeglogError(err, 'ERR_FORMAT_VERSION') && err.details.kind === 'identity' && err.details.position === 8)
  fs.writeFileSync(file, original)
  await expectAllRecords(dir)
})

test('a damaged identity file is ERR_CORRUPT naming kind and byte; every record is still there', async (t) => {
  const dir = await writtenLog(t)
  const file = path.join(dir, 'identity')
  const original = fs.readFileSync(file)
  const damaged = Buffer.from(original)
  damaged[20] ^= 0x10
  fs.writeFileSync(file, damaged)
  await assert.rejects(Log.open(dir), (err: unknown) => isSeglogError(err, 'ERR_CORRUPT') && err.details.kind === 'identity' && err.details.position === 4 && err.details.file === file)
  fs.writeFileSync(file, original)
  await expectAllRecords(dir)
})

test('a truncate intent from a newer release is refused with ERR_FORMAT_VERSION, not dropped or applied', async (t) => {
  const dir = await writtenLog(t)
  const segments = fs.readdirSync(dir).filter((n) => n.endsWith('.log'))
  assert.ok(segments.length > 1)
  // An intent that would cut the log back to its first segment, had it been applied.
  const intent = Buffer.alloc(40)
  intent.writeUInt32LE(INTENT_ENVELOPE.magic, 0)
  intent[8] = 2
  intent.writeUInt32LE(0, 24)
  const file = path.join(dir, 'truncate.pending')
  fs.writeFileSync(file, sealEnvelope(intent))
  await assert.rejects(Log.open(dir), (err: unknown) => isSeglogError(err, 'ERR_FORMAT_VERSION') && err.details.kind === 'truncate intent')
  assert.ok(fs.existsSync(file), 'the intent is kept for the release that wrote it')
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.endsWith('.log')), segments, 'no segment changed')
  fs.unlinkSync(file)
  await expectAllRecords(dir)
})
