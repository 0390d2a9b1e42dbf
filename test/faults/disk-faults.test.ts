// Disk faults through the I/O seam: EIO and ENOSPC on write, fsync and directory fsync, short
// writes, a disk that fills up and frees space later, faults inside truncate and inside recovery.
// The log must fail closed with ERR_IO (naming the cause), publish the failure, refuse further
// work, release its lock, and a reopen must recover every record acknowledged before the fault.
import assert from 'node:assert/strict'
import diagnostics_channel from 'node:diagnostics_channel'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { isSeglogError, Log, SeglogError, type LogOptions } from '../../src/index.js'
import { FaultFs, type FaultRule } from './lib/fault-fs.js'
import { makeRecord, parseRecord } from './lib/records.js'
import { scratchDir } from './lib/sim-log.js'

const SOAK = Boolean(process.env.SOAK)
const isLog = (name: string): boolean => name.endsWith('.log')
// The lock's temp file is fdatasynced through a handle too (Log.open overlaps it with a look ahead): not the log's data.
const notLock = (name: string): boolean => !/(^|\/)LOCK\./.test(name)
const OPTS: LogOptions = { sync: 'always', segmentBytes: 4096, indexIntervalBytes: 256 }

const rec = (offset: number): Buffer => makeRecord(offset + 1, offset, 0, 40 + ((offset * 37) % 300))

/** Appends in concurrent waves until the log fails (or `limit` appends); returns what was acknowledged. */
async function appendUntilFailure(log: Log, limit: number): Promise<{ acked: Set<number>; failure?: SeglogError }> {
  const acked = new Set<number>()
  let failure: SeglogError | undefined
  for (let issued = 0; issued < limit && !failure;) {
    const wave: Promise<void>[] = []
    for (let i = 0; i < 8; i++, issued++) {
      const offset = log.nextOffset
      const p = i % 5 === 4
        ? log.appendBatch([rec(offset), rec(offset + 1)]).then((r) => { acked.add(r.first); acked.add(r.last) })
        : log.append(rec(offset)).then((o) => { acked.add(o) })
      wave.push(p.catch((err: unknown) => {
        assert.ok(isSeglogError(err, 'ERR_IO'), `a failed append rejects with ERR_IO, got ${String(err)}`)
        failure = err as SeglogError
      }))
      if (failure) break
    }
    await Promise.all(wave)
  }
  return { acked, failure }
}

/** Reopens with the real file system and checks acknowledged records, contents and contiguity. */
async function checkRecovered(dir: string, acked: Set<number>): Promise<number> {
  const log = await Log.open(dir, OPTS)
  try {
    let expected = log.firstOffset
    for await (const r of log.iterate()) {
      assert.equal(r.offset, expected++, 'offsets are contiguous')
      const parsed = parseRecord(r.data)
      assert.ok(typeof parsed !== 'string' && parsed.offset === r.offset, `offset ${r.offset} holds the record appended there`)
    }
    for (const off of acked) assert.ok(off < log.nextOffset, `acknowledged offset ${off} survived (log ends at ${log.nextOffset})`)
    // The reopened log works.
    const next = log.nextOffset
    assert.equal(await log.append(rec(next)), next)
    return next
  } finally {
    await log.close()
  }
}

const rules: { name: string; rule: FaultRule }[] = [
  { name: 'EIO on the first segment write', rule: { kind: 'write', nth: 1, code: 'EIO', file: isLog } },
  { name: 'EIO on a later segment write', rule: { kind: 'write', nth: 9, code: 'EIO', file: isLog } },
  { name: 'ENOSPC after a short write', rule: { kind: 'write', nth: 6, code: 'ENOSPC', partialBytes: 77, file: isLog } },
  { name: 'EIO after a short write of one byte', rule: { kind: 'write', nth: 4, code: 'EIO', partialBytes: 1, file: isLog } },
  { name: 'EIO on the first fdatasync', rule: { kind: 'datasync', nth: 1, code: 'EIO', file: notLock } },
  { name: 'EIO on a later fdatasync', rule: { kind: 'datasync', nth: 7, code: 'EIO', file: notLock } },
  { name: 'ENOSPC on fdatasync', rule: { kind: 'datasync', nth: 3, code: 'ENOSPC', file: notLock } },
  { name: 'EIO on the directory fsync of a roll', rule: { kind: 'syncDir', nth: 2, code: 'EIO' } },
  { name: 'EIO creating the next segment', rule: { kind: 'open', nth: 1, code: 'EIO', file: isLog, mode: 'create-new' } },
]

for (const { name, rule } of rules) {
  test(`${name}: the log fails closed with ERR_IO, reports it, and a reopen recovers every acknowledged record`, async (t) => {
    const dir = scratchDir(t, 'seglog-disk')
    const ffs = new FaultFs()
    ffs.rules = [rule]
    const published: unknown[] = []
    const onFailure = (m: unknown): void => { published.push(m) }
    diagnostics_channel.subscribe('seglog:log:failure', onFailure)
    t.after(() => diagnostics_channel.unsubscribe('seglog:log:failure', onFailure))
    const log = await Log.open(dir, { ...OPTS, fileSystem: ffs.fileSystem() })
    const { acked, failure } = await appendUntilFailure(log, SOAK ? 4000 : 600)
    assert.ok(ffs.injected.length > 0, 'the fault was injected')
    assert.ok(failure, 'the log failed')
    assert.equal((failure.cause as NodeJS.ErrnoException | undefined)?.code, rule.code, 'the cause names the errno')
    assert.match(failure.message, new RegExp(rule.code))
    // Fails closed: every later call gets the same error, and the failure was published once.
    await assert.rejects(log.append(rec(log.nextOffset)), (err) => err === failure)
    await assert.rejects(log.appendBatch([rec(0)]), (err) => err === failure)
    await assert.rejects(log.sync(), (err) => err === failure)
    await assert.rejects(log.read(0), (err) => err === failure)
    await assert.rejects(log.truncate(0), (err) => err === failure)
    const mine = published.filter((m) => (m as { dir: string }).dir === dir)
    assert.equal(mine.length, 1, 'the failure is published on seglog:log:failure')
    await assert.rejects(log.close(), (err) => isSeglogError(err, 'ERR_IO'))
    assert.equal(Log.lockHolder(dir), undefined, 'close after a failure releases the lock')
    await checkRecovered(dir, acked)
  })
}

test('a full disk: ERR_IO names ENOSPC, a reopen on the still-full disk recovers and fails again, and once space frees up the log works', async (t) => {
  const dir = scratchDir(t, 'seglog-full')
  const ffs = new FaultFs()
  ffs.budget = 30_000
  let log = await Log.open(dir, { ...OPTS, fileSystem: ffs.fileSystem() })
  const first = await appendUntilFailure(log, 100_000)
  assert.ok(first.failure)
  assert.equal((first.failure.cause as NodeJS.ErrnoException).code, 'ENOSPC')
  assert.match(first.failure.message, /ENOSPC/)
  await log.close().catch(() => undefined)
  // Still full: recovery works (it only cuts the torn tail), the next append fails the same way.
  log = await Log.open(dir, { ...OPTS, fileSystem: ffs.fileSystem() })
  for (const off of first.acked) assert.ok(off < log.nextOffset)
  await assert.rejects(log.append(rec(log.nextOffset)), (err) => isSeglogError(err, 'ERR_IO') && /ENOSPC/.test(err.message))
  await log.close().catch(() => undefined)
  // Space frees up.
  ffs.budget = undefined
  log = await Log.open(dir, { ...OPTS, fileSystem: ffs.fileSystem() })
  const more = await appendUntilFailure(log, 200)
  assert.equal(more.failure, undefined)
  await log.close()
  await checkRecovered(dir, new Set([...first.acked, ...more.acked]))
})

test('failures writing hints (index, checkpoint) do not fail the log and lose nothing', async (t) => {
  const dir = scratchDir(t, 'seglog-hints')
  const ffs = new FaultFs()
  ffs.rules = [{ kind: 'writeFile', nth: 1, sticky: true, code: 'EIO', file: (n) => n.endsWith('.index') || n === 'checkpoint.tmp' }]
  const log = await Log.open(dir, { ...OPTS, fileSystem: ffs.fileSystem() })
  const { acked, failure } = await appendUntilFailure(log, 400)
  assert.equal(failure, undefined)
  assert.ok(ffs.injected.length > 0)
  // close() must write the clean checkpoint durably: that failure is an ERR_IO, and the data is safe.
  await assert.rejects(log.close(), (err) => isSeglogError(err, 'ERR_IO'))
  await checkRecovered(dir, acked)
})

test('faults inside truncate: the truncate fails with ERR_IO, and after reopen it either happened entirely or not at all', async (t) => {
  const cases: FaultRule[] = [
    { kind: 'writeFile', nth: 1, code: 'EIO', file: (n) => n === 'truncate.pending' },
    { kind: 'syncDir', nth: 1, code: 'EIO' },
    { kind: 'truncate', nth: 1, code: 'EIO', file: isLog },
    { kind: 'datasync', nth: 1, code: 'EIO' },
    { kind: 'unlink', nth: 1, code: 'EIO', file: isLog },
    { kind: 'rename', nth: 1, code: 'EIO' },
  ]
  for (const rule of cases) {
    const dir = scratchDir(t, 'seglog-trunc')
    const ffs = new FaultFs()
    let log = await Log.open(dir, { ...OPTS, fileSystem: ffs.fileSystem() })
    const { acked } = await appendUntilFailure(log, 300)
    const before = log.nextOffset
    const cut = Math.floor(before / 3) + 1
    ffs.rules = [rule]
    await assert.rejects(log.truncate(cut), (err) => isSeglogError(err, 'ERR_IO'), `${rule.kind} fault fails the truncate`)
    await log.close().catch(() => undefined)
    log = await Log.open(dir, OPTS)
    assert.ok(log.nextOffset === cut || log.nextOffset === before, `${rule.kind}: log ends at ${log.nextOffset}, not ${cut} or ${before}`)
    await log.close()
    await checkRecovered(dir, new Set([...acked].filter((o) => o < log.nextOffset)))
  }
})

test('faults inside recovery: open fails with ERR_IO, changes nothing it cannot finish, and the next open recovers', async (t) => {
  const cases: FaultRule[] = [
    { kind: 'truncate', nth: 1, code: 'EIO' },
    { kind: 'datasync', nth: 1, code: 'EIO' },
    { kind: 'open', nth: 1, code: 'EMFILE' },
  ]
  for (const rule of cases) {
    const dir = scratchDir(t, 'seglog-recover')
    const log = await Log.open(dir, OPTS)
    const { acked } = await appendUntilFailure(log, 60)
    await log.close()
    // A torn tail and no checkpoint: recovery has work to do.
    const seg = fs.readdirSync(dir).filter(isLog).sort().at(-1) as string
    fs.appendFileSync(path.join(dir, seg), Buffer.from('SEGL-torn-tail-bytes'))
    fs.rmSync(path.join(dir, 'checkpoint'))
    const ffs = new FaultFs()
    ffs.rules = [rule]
    await assert.rejects(Log.open(dir, { ...OPTS, fileSystem: ffs.fileSystem() }), (err) => isSeglogError(err, 'ERR_IO'), `${rule.kind} fault fails open`)
    assert.equal(Log.lockHolder(dir), undefined, 'a failed open releases the lock')
    await checkRecovered(dir, acked)
  }
})
