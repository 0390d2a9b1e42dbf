// The seal trailer (docs/FORMAT.md, "Seal trailer"): the CRC32C of the data object, which lets a
// tiered open check every segment both the disk and the store hold (a fork in an OLDER segment,
// with the same base, end and size, is ERR_CONFLICT at open), and the log tag of its batches,
// which remote reads check (an object of another log copied under the prefix is refused as
// foreign). Seals without a trailer, shipped by earlier versions, are still read.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { Log, MemoryStore, isSeglogError, type SeglogError } from '../../src/index.js'
import { BatchHeader, BatchStatus, encodeBatch, forEachRecord, parseBatch } from '../../src/format/index.js'
import { SparseIndex } from '../../src/local/sparse-index.js'
import { readCatalog } from '../../src/tier/index.js'
import { decodeSeal, encodeSeal, SEAL_TRAILER_BYTES } from '../../src/tier/seal.js'
import { manualClock } from '../helpers/manual-clock.js'
import { tmpDir } from '../helpers/tmp.js'
import { assertSameRecords, collect, snapshot } from './helpers.js'
import { appendRecords } from './log-scenario.js'

function segmentFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => /^\d{20}\.log$/.test(n)).sort()
}

/** Rewrites every batch of a segment file with other record bytes of the same lengths, the same tag and valid CRCs: a fork no size check can see. */
function forkSegment(file: string): void {
  const buf = fs.readFileSync(file)
  const header = new BatchHeader()
  const out: Buffer[] = []
  for (let pos = 0; pos < buf.length; pos += header.length) {
    assert.equal(parseBatch(buf, pos, buf.length, header, true), BatchStatus.Ok)
    const records: Buffer[] = []
    forEachRecord(buf, pos, header, (data) => records.push(Buffer.from(data).map((b) => b ^ 0x5a) as Buffer))
    out.push(encodeBatch(records, header.baseOffset, header.timestamp, header.tag))
  }
  const forked = Buffer.concat(out)
  assert.equal(forked.length, buf.length)
  assert.ok(!forked.equals(buf))
  fs.writeFileSync(file, forked)
}

function copyDir(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true })
  for (const name of fs.readdirSync(from)) if (name !== 'LOCK') fs.copyFileSync(path.join(from, name), path.join(to, name))
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<SeglogError> {
  try {
    await p
  } catch (err) {
    assert.ok(isSeglogError(err, code as 'ERR_CONFLICT'), `expected ${code}, got ${String(err)}`)
    return err as SeglogError
  }
  assert.fail(`expected ${code}`)
}

test('a fork in an older segment with the same base, end and size is ERR_CONFLICT at open, with one small GET per segment', async (t) => {
  const store = new MemoryStore()
  const clock = manualClock(1_780_000_000_000)
  const base = { segmentBytes: 2048, sync: 'never' as const, clock }
  const dir = tmpDir(t, 'seglog-tierlog-fork-old')
  const log = await Log.open(dir, { ...base, tier: { store, prefix: 'p' } })
  const want = await appendRecords(log, 0, 150, clock)
  await log.syncTier({ all: true })
  await log.close()
  const shipped = await readCatalog(store, 'p')
  assert.ok(shipped.segments.length >= 6)

  // A copy of the directory whose second segment was rewritten: same base, end and size, other bytes.
  const forkDir = path.join(tmpDir(t, 'seglog-tierlog-fork-copy'), 'log')
  copyDir(dir, forkDir)
  const second = segmentFiles(forkDir)[1]
  forkSegment(path.join(forkDir, second))
  const storeBefore = await snapshot(store)
  const filesBefore = new Map(segmentFiles(forkDir).map((n) => [n, fs.readFileSync(path.join(forkDir, n)).toString('base64')]))
  let gets = 0
  let dataGets = 0
  const counted = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'get') {
        return (key: string, o?: unknown) => {
          gets++
          if (key.endsWith('.log')) dataGets++
          return target.get(key, o as never)
        }
      }
      const v = Reflect.get(target, prop, receiver) as unknown
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    },
  })
  const err = await rejectsWith(Log.open(forkDir, { ...base, tier: { store: counted, prefix: 'p' } }), 'ERR_CONFLICT')
  assert.equal(err.details?.offset, shipped.segments[1].base, 'the forked segment is named')
  assert.ok(gets <= shipped.segments.length, `${gets} GETs for ${shipped.segments.length} segments`)
  assert.equal(dataGets, 0, 'no data object is read')
  assert.deepEqual(await snapshot(store), storeBefore, 'the store unchanged')
  assert.deepEqual(new Map(segmentFiles(forkDir).map((n) => [n, fs.readFileSync(path.join(forkDir, n)).toString('base64')])), filesBefore, 'the segment files unchanged')

  // The unforked original opens and reads as before.
  const again = await Log.open(dir, { ...base, tier: { store, prefix: 'p' } })
  assertSameRecords(await collect(again.iterate()), want)
  await again.close()
})

test('an object of another log copied under the prefix is refused as foreign (ERR_CORRUPT), never read as this log\'s records', async (t) => {
  const store = new MemoryStore()
  const clock = manualClock(1_780_000_000_000)
  const base = { segmentBytes: 2048, sync: 'never' as const, clock }
  // Two logs of the same shape: their segments have the same offsets and sizes, other tags.
  const mine = await Log.open(tmpDir(t, 'seglog-tierlog-mine'), { ...base, tier: { store, prefix: 'mine' } })
  const want = await appendRecords(mine, 0, 90, clock)
  await mine.syncTier({ all: true })
  await mine.close()
  const theirs = await Log.open(tmpDir(t, 'seglog-tierlog-theirs'), { ...base, tier: { store, prefix: 'theirs' } })
  await appendRecords(theirs, 0, 90, clock, 3)
  await theirs.syncTier({ all: true })
  await theirs.close()
  const a = await readCatalog(store, 'mine')
  const b = await readCatalog(store, 'theirs')
  const victim = a.segments[2]
  const foreign = b.segments[2]
  assert.equal(foreign.base, victim.base)
  assert.equal(foreign.size, victim.size)
  const copied = await store.get(foreign.dataKey)
  assert.ok(copied)
  await store.put(victim.dataKey, copied.data)

  const remote = await Log.openRemote(store, 'mine')
  const err = await rejectsWith(remote.read(victim.base), 'ERR_CORRUPT')
  assert.equal(err.details?.kind, 'foreign')
  assert.match(err.message, /another log/)
  assert.equal(err.details?.file, `${store.name.replace(/\/$/, '')}/${victim.dataKey}`)
  // Iteration yields every record before the foreign object, then refuses it.
  const got: typeof want = []
  await rejectsWith((async () => { for await (const r of remote.iterate()) got.push({ ...r, data: Buffer.from(r.data) }) })(), 'ERR_CORRUPT')
  assertSameRecords(got, want.slice(0, victim.base))
  await remote.close()

  // A restore reads through the same check.
  const restored = await Log.open(tmpDir(t, 'seglog-tierlog-restored'), { ...base, tier: { store, prefix: 'mine' } })
  assert.equal((await restored.read(victim.base - 1))?.data.equals(want[victim.base - 1].data), true)
  assert.equal((await rejectsWith(restored.read(victim.base + 1), 'ERR_CORRUPT')).details?.kind, 'foreign')
  await restored.close()
})

test('seals shipped before the trailer existed are still read; a trailer is checked like the rest of the seal', async (t) => {
  const store = new MemoryStore()
  const clock = manualClock(1_780_000_000_000)
  const dir = tmpDir(t, 'seglog-tierlog-legacy')
  const log = await Log.open(dir, { segmentBytes: 2048, sync: 'never', clock, tier: { store, prefix: 'p' } })
  const want = await appendRecords(log, 0, 90, clock)
  await log.syncTier({ all: true })
  await log.close()
  // Strip every trailer, as an earlier version shipped them.
  const catalog = await readCatalog(store, 'p')
  for (const s of catalog.segments) {
    const got = await store.get(s.sealKey)
    assert.ok(got)
    const seal = decodeSeal(got.data, s.base, s.size)
    assert.ok(seal?.tag !== undefined && seal.dataCrc !== undefined, 'this version writes the trailer')
    const legacy = seal.index.encode()
    assert.ok(SparseIndex.decode(legacy, s.base, s.size))
    await store.put(s.sealKey, legacy)
    assert.equal(decodeSeal(legacy, s.base, s.size)?.tag, undefined)
  }
  const remote = await Log.openRemote(store, 'p')
  assertSameRecords(await collect(remote.iterate()), want)
  await remote.close()
  // The writer reopens over legacy seals (matched by base, end and size; the newest compared by bytes) and goes on.
  const again = await Log.open(dir, { segmentBytes: 2048, sync: 'never', clock, tier: { store, prefix: 'p' } })
  want.push(...await appendRecords(again, 90, 30, clock))
  await again.syncTier({ all: true })
  assertSameRecords(await collect(again.iterate()), want)
  await again.close()
  // A trailer is checked like the rest of the seal: any damaged byte of it makes the seal unreadable.
  const first = catalog.segments[0]
  const legacy = await store.get(first.sealKey)
  assert.ok(legacy)
  const index = decodeSeal(legacy.data, first.base, first.size)?.index
  assert.ok(index)
  const sealed = encodeSeal(index, 0x1234abcd, 0x0badf00d)
  assert.deepEqual({ ...decodeSeal(sealed, first.base, first.size), index: undefined }, { index: undefined, tag: 0x1234abcd, dataCrc: 0x0badf00d })
  for (let i = sealed.length - SEAL_TRAILER_BYTES; i < sealed.length; i++) {
    const bad = Buffer.from(sealed)
    bad[i] ^= 0x01
    assert.equal(decodeSeal(bad, first.base, first.size), undefined, `trailer byte ${i - (sealed.length - SEAL_TRAILER_BYTES)} flipped`)
  }
})
