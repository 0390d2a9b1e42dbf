// The `seglog` binary on tiered logs: a directory with --tier URL, and the store URL alone, on
// FsStore (file://) for every command and on s3rver (behind the enforcing proxy) end to end.
// Every command must leave the directory and the store byte-identical.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { FsStore, Log, type ObjectStore } from '../../src/index.js'
import { S3Store } from '../../src/s3.js'
import { startS3 } from '../helpers/servers.js'
import { tmpDir } from '../helpers/tmp.js'
import { CLI, ndjson, runCli, startCli, type CliResult } from './helpers.js'

const PREFIX = 'logs/orders'
const text = (i: number): string => `order ${i} ${'x'.repeat(50)}`

/**
 * A tiered log of `records` records in 4 KiB segments with a local retention of 10,000 bytes:
 * the oldest segments are only in the store, the newest only on disk. One batch per record
 * (sync 'always' does not coalesce appends), so segments hold 40 records each. Returns the first
 * offset left on disk: local retention runs on its own turn after each upload, and how full the
 * active segment is at that turn decides whether one more sealed segment goes (with 300 records:
 * 200 or 240; 160 if its last turn comes after close), so the tests take it from the directory.
 */
async function tieredLog(dir: string, store: ObjectStore, records = 300, from = 0): Promise<number> {
  const log = await Log.open(dir, { segmentBytes: 4096, tier: { store, prefix: PREFIX, localRetention: { maxBytes: 10_000 } } })
  for (let i = from; i < from + records; i++) await log.append(text(i))
  await log.syncTier()
  await log.close()
  return Math.min(...fs.readdirSync(dir).filter((n) => n.endsWith('.log')).map((n) => Number(n.slice(0, 20))))
}

/** Every file and folder under `root`, with a hash of each file's bytes. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name)
      const rel = path.relative(root, p)
      if (e.isDirectory()) { out[`${rel}/`] = 'dir'; walk(p) } else out[rel] = crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex')
    }
  }
  walk(root)
  return out
}

function records(r: CliResult): { offset: number; data: string }[] {
  assert.equal(r.code, 0, r.stderr)
  return ndjson(r.stdout).map((x) => ({ offset: x.offset as number, data: x.data as string }))
}

function expected(from: number, to: number): { offset: number; data: string }[] {
  return Array.from({ length: to - from }, (_, k) => ({ offset: from + k, data: text(from + k) }))
}

test('file:// tiered log: info, cat, tail and verify on the directory with --tier and on the store URL alone, changing nothing', async (t) => {
  const base = tmpDir(t)
  const dir = path.join(base, 'log')
  const root = path.join(base, 'store')
  const localFirst = await tieredLog(dir, new FsStore({ root }))
  assert.ok(localFirst >= 160 && localFirst <= 240 && localFirst % 40 === 0, `local retention left the newest two to four segments (from ${localFirst})`)
  const url = `file://${path.join(root, PREFIX)}`
  const before = { dir: snapshot(dir), store: snapshot(root) }
  const unchanged = (what: string): void => {
    assert.deepEqual(snapshot(dir), before.dir, `${what} changed the directory`)
    assert.deepEqual(snapshot(root), before.store, `${what} changed the store`)
  }

  // info: the local log as before, plus the tier's state.
  const info = await runCli(['info', dir, '--tier', url, '--json'])
  assert.equal(info.code, 0, info.stderr)
  const i = JSON.parse(info.stdout) as { firstOffset: number; nextOffset: number; tier: Record<string, unknown> & { remote: Record<string, unknown> } }
  assert.equal(i.firstOffset, localFirst, 'the local part starts where local retention left it')
  assert.equal(i.nextOffset, 300)
  const dataBytes = fs.readdirSync(path.join(root, PREFIX, 'segments')).filter((n) => n.endsWith('.log')).reduce((n, f) => n + fs.statSync(path.join(root, PREFIX, 'segments', f)).size, 0)
  assert.deepEqual(
    { ...i.tier, remote: { ...i.tier.remote, newestTimestamp: typeof i.tier.remote.newestTimestamp } },
    {
      url, store: i.tier.store, prefix: '', uploadedOffset: 280, localFirstOffset: localFirst, pendingSegments: 0, firstOffset: 0, nextOffset: 300,
      remote: { segments: 7, firstOffset: 0, nextOffset: 280, records: 280, bytes: dataBytes, newestTimestamp: 'number', unsealed: [] },
      missing: null, remoteAhead: false,
    })
  unchanged('info --json')
  const infoText = await runCli(['info', dir, '--tier', url])
  assert.equal(infoText.code, 0, infoText.stderr)
  assert.match(infoText.stdout, /uploaded +every record below 280 is in the store: 7 segments, offsets 0 … 279/)
  assert.match(infoText.stdout, new RegExp(`local +from offset ${localFirst} \\(offsets below are read from the store\\)`))
  assert.match(infoText.stdout, /whole +offsets 0 … 299 \(next 300\)/)
  const remoteInfo = JSON.parse((await runCli(['info', url, '--json'])).stdout) as Record<string, unknown>
  assert.deepEqual([remoteInfo.kind, remoteInfo.segments, remoteInfo.firstOffset, remoteInfo.nextOffset, remoteInfo.bytes], ['tiered', 7, 0, 280, dataBytes])
  unchanged('info')

  // cat: the whole log, across the store/disk boundary, and ranges on either side of it.
  assert.deepEqual(records(await runCli(['cat', dir, '--tier', url])), expected(0, 300))
  assert.deepEqual(records(await runCli(['cat', dir, '--tier', url, '--from', '195', '--to', '205'])), expected(195, 205))
  assert.deepEqual(records(await runCli(['cat', dir, '--tier', url, '--from', '10', '--limit', '3'])), expected(10, 13))
  assert.deepEqual(records(await runCli(['cat', dir, '--tier', url, '--from', '250'])), expected(250, 300))
  assert.deepEqual(records(await runCli(['cat', url])), expected(0, 280))
  assert.deepEqual(records(await runCli(['cat', url, '--from', '100', '--to', '103'])), expected(100, 103))
  const raw = await runCli(['cat', dir, '--tier', url, '--format', 'raw'])
  assert.equal(raw.stdout, expected(0, 300).map((r) => `${r.data}\n`).join(''))
  // Without --tier the directory is what it holds: its own offsets only.
  assert.deepEqual(records(await runCli(['cat', dir])), expected(localFirst, 300))
  unchanged('cat')

  // tail: the last records, reaching into the store when -n goes below the local first offset.
  assert.deepEqual(records(await runCli(['tail', dir, '--tier', url, '-n', '103'])), expected(197, 300))
  assert.deepEqual(records(await runCli(['tail', url, '-n', '2'])), expected(278, 280))
  unchanged('tail')

  // verify: both sides.
  const v = await runCli(['verify', dir, '--tier', url])
  assert.equal(v.code, 0, v.stdout + v.stderr)
  assert.match(v.stdout, new RegExp(`${(280 - localFirst) / 40 + 1} segments, ${300 - localFirst} batches, ${300 - localFirst} records \\(offsets ${localFirst}…299\\)`))
  assert.match(v.stdout, /7 segments in the store, 280 records \(offsets 0…279\)/)
  assert.match(v.stdout, /ok: no faults\n$/)
  const vr = await runCli(['verify', url, '--json'])
  assert.equal(vr.code, 0, vr.stderr)
  const report = JSON.parse(vr.stdout) as { ok: boolean; local: unknown; remote: { records: number; segments: number; faults: unknown[] } }
  assert.deepEqual([report.ok, report.local, report.remote.records, report.remote.segments, report.remote.faults], [true, null, 280, 7, []])
  unchanged('verify')
})

test('file:// tiered log: damage in the store is exit 1 naming the object and byte, every fault is reported, and nothing is lost or changed', async (t) => {
  const base = tmpDir(t)
  const dir = path.join(base, 'log')
  const root = path.join(base, 'store')
  await tieredLog(dir, new FsStore({ root }))
  const url = `file://${path.join(root, PREFIX)}`
  const seg = (b: number): string => path.join(root, PREFIX, 'segments', `${String(b).padStart(20, '0')}.log`)
  // One flipped byte inside a record of two shipped segments.
  for (const b of [40, 120]) {
    const bytes = fs.readFileSync(seg(b))
    bytes[700] ^= 0x01
    fs.writeFileSync(seg(b), bytes)
  }
  const before = { dir: snapshot(dir), store: snapshot(root) }

  const v = await runCli(['verify', dir, '--tier', url])
  assert.equal(v.code, 1, v.stdout + v.stderr)
  assert.match(v.stdout, /FAULT corrupt +\S*segments\/0{18}40\.log byte \d+: .*\(first unreadable offset 4\d\)/)
  assert.match(v.stdout, /FAULT corrupt +\S*segments\/0{17}120\.log byte \d+: /)
  assert.match(v.stdout, /2 faults\n$/)
  assert.match(v.stderr, /never repaired in place/)
  const json = JSON.parse((await runCli(['verify', url, '--json'])).stdout) as { ok: boolean; remote: { faults: { kind: string; key: string; offset: number }[]; records: number } }
  assert.equal(json.ok, false)
  assert.deepEqual(json.remote.faults.map((f) => [f.kind, /segments\/(\d+)\.log/.exec(f.key)?.[1]]), [['corrupt', '00000000000000000040'], ['corrupt', '00000000000000000120']])
  // Every record outside the two damaged segments was still read and counted.
  assert.ok(json.remote.records >= 280 - 80 + 2, `records checked: ${json.remote.records}`)

  // cat stops at the damage with a data fault, after printing every record before it.
  const c = await runCli(['cat', dir, '--tier', url])
  assert.equal(c.code, 1, c.stderr)
  assert.match(c.stderr, /segments\/0{18}40\.log/)
  const printed = ndjson(c.stdout).map((r) => r.offset as number)
  assert.deepEqual(printed, expected(0, printed.length).map((r) => r.offset))
  assert.ok(printed.length >= 40, `printed ${printed.length} records before the damage`)
  // Everything else is still there: the intact store segments and the local disk.
  assert.deepEqual(records(await runCli(['cat', dir, '--tier', url, '--from', '160'])), expected(160, 300))
  assert.deepEqual(records(await runCli(['cat', url, '--from', '0', '--to', '40'])), expected(0, 40))
  assert.deepEqual(snapshot(dir), before.dir)
  assert.deepEqual(snapshot(root), before.store)
})

test('file:// tiered log: pending segments, offsets in neither place, and URLs that hold no log', async (t) => {
  const base = tmpDir(t)
  const dir = path.join(base, 'log')
  const root = path.join(base, 'store')
  const localFirst = await tieredLog(dir, new FsStore({ root }))
  // Opened without tier, the log seals segments that are not shipped: pending.
  const plain = await Log.open(dir, { segmentBytes: 4096 })
  for (let i = 300; i < 420; i++) await plain.append(text(i))
  await plain.close()
  const url = `file://${path.join(root, PREFIX)}`
  const i = JSON.parse((await runCli(['info', dir, '--tier', url, '--json'])).stdout) as { tier: { pendingSegments: number; uploadedOffset: number } }
  assert.deepEqual([i.tier.uploadedOffset, i.tier.pendingSegments], [280, 3])
  assert.deepEqual(records(await runCli(['cat', dir, '--tier', url, '--from', '270', '--to', '330'])), expected(270, 330))

  // A store that ends before the directory starts (here: a copy holding only the first two
  // segments): the offsets between are in neither place, a data fault, and nothing else is lost.
  const short = path.join(base, 'short')
  fs.mkdirSync(path.join(short, 'segments'), { recursive: true })
  for (const name of fs.readdirSync(path.join(root, PREFIX, 'segments'))) {
    if (/^0{19}0\.|^0{18}40\./.test(name)) fs.copyFileSync(path.join(root, PREFIX, 'segments', name), path.join(short, 'segments', name))
  }
  const shortUrl = `file://${short}`
  const c = await runCli(['cat', dir, '--tier', shortUrl])
  assert.equal(c.code, 1)
  assert.match(c.stderr, new RegExp(`offsets 80…${localFirst - 1} are neither in the store .* nor in .* \\(it starts at ${localFirst}\\)`))
  assert.deepEqual(ndjson(c.stdout).map((r) => r.offset), expected(0, 80).map((r) => r.offset))
  const v = await runCli(['verify', dir, '--tier', shortUrl])
  assert.equal(v.code, 1)
  assert.match(v.stdout, new RegExp(`FAULT missing +offsets 80…${localFirst - 1} are neither in the store`))
  const info = JSON.parse((await runCli(['info', dir, '--tier', shortUrl, '--json'])).stdout) as { tier: { missing: unknown } }
  assert.deepEqual(info.tier.missing, { from: 80, to: localFirst })
  assert.deepEqual(records(await runCli(['cat', dir, '--tier', shortUrl, '--from', String(localFirst)])), expected(localFirst, 420))

  // A prefix holding neither a tiered log nor a journal; --tier misused; writing a journal into a tiered log.
  const before = snapshot(root)
  const empty = path.join(base, 'empty')
  fs.mkdirSync(empty)
  const cases: [string[], RegExp][] = [
    [['cat', `file://${empty}`], /the root of file:\/\/.*empty holds neither a tiered log \(no segments\/ objects\) nor a journal/],
    [['info', `file://${path.join(root, 'logs')}`], /holds neither a tiered log/],
    [['tail', `file://${empty}`, '-f'], /holds neither/],
    [['verify', `file://${empty}`], /holds neither/],
    [['cat', dir, '--tier', path.join(root, PREFIX)], /--tier takes the store URL the log ships to/],
    [['cat', url, '--tier', url], /--tier applies to a local log directory/],
    [['cat', url, '--after', '0:0'], /--after takes a journal cursor; a tiered log is read by offset/],
    [['append', url], /holds a tiered log \(segments\/ objects\), not a journal/],
    [['compact', url], /holds a tiered log/],
  ]
  for (const [args, re] of cases) {
    const r = await runCli(args, { input: '{"a":1}\n' })
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}, ${r.stderr}`)
    assert.match(r.stderr, re, args.join(' '))
    assert.equal(r.stdout, '')
  }
  assert.deepEqual(snapshot(root), before, 'the refused commands changed nothing in the store')
  assert.deepEqual(records(await runCli(['cat', dir, '--tier', url])), expected(0, 420))

  // Another machine restores from the store and writes past this directory's end: info says the
  // directory is stale (a tiered open of it would be fenced).
  const other = await Log.open(path.join(base, 'other'), { segmentBytes: 4096, tier: { store: new FsStore({ root }), prefix: PREFIX } })
  for (let k = 0; k < 200; k++) await other.append(`other ${k}`)
  await other.syncTier({ all: true })
  await other.close()
  const stale = await runCli(['info', dir, '--tier', url])
  assert.equal(stale.code, 0, stale.stderr)
  assert.match(stale.stdout, /fenced +the store holds the log up to 480, past this directory's end 420: another machine has written since/)
  assert.equal((JSON.parse((await runCli(['info', dir, '--tier', url, '--json'])).stdout) as { tier: { remoteAhead: boolean } }).tier.remoteAhead, true)
})

test('cat on a tiered directory while its writer trims the local disk: offsets deleted under the reader are read from the store, none skipped', async (t) => {
  const base = tmpDir(t)
  const dir = path.join(base, 'log')
  const root = path.join(base, 'store')
  const store = new FsStore({ root })
  const big = (i: number): string => `rec ${i} ${'y'.repeat(1000)}`
  const N = 3000
  const plain = await Log.open(dir, { segmentBytes: 8192, sync: 'never' })
  for (let i = 0; i < N; i += 10) await plain.appendBatch(Array.from({ length: 10 }, (_, k) => big(i + k)))
  await plain.close()
  const url = `file://${path.join(root, PREFIX)}`

  // The reader opens the directory (nothing shipped yet), starts printing, and then blocks on a
  // full pipe, because this test stops reading its stdout, a few hundred records in.
  const child = spawn(process.execPath, [CLI, 'cat', dir, '--tier', url, '--format', 'raw'], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(() => child.kill('SIGKILL'))
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const chunks: Buffer[] = []
  await new Promise<void>((resolve) => child.stdout.once('data', (d: Buffer) => { chunks.push(d); child.stdout.pause(); resolve() }))

  // Meanwhile the writer ships everything and deletes all but the newest local segments.
  const log = await Log.open(dir, { segmentBytes: 8192, sync: 'never', tier: { store, prefix: PREFIX } })
  await log.syncTier()
  await log.deleteBefore(N - 100)
  const localFirst = log.tierState.localFirstOffset
  await log.close()
  // The reader cannot be past what fits in the pipe and its output buffer (~128 KiB, ~130 records).
  assert.ok(localFirst > 1000, `local first offset ${localFirst}`)

  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  child.stdout.on('data', (d: Buffer) => chunks.push(d))
  child.stdout.resume()
  assert.equal(await exited, 0, stderr)
  const lines = Buffer.concat(chunks).toString('utf8').split('\n')
  assert.equal(lines.pop(), '')
  assert.equal(lines.length, N)
  lines.forEach((l, i) => assert.equal(l, big(i), `record ${i}`))
})

test('tail -f follows a tiered log: the store URL by polling as segments ship, the directory as records land', async (t) => {
  const base = tmpDir(t)
  const dir = path.join(base, 'log')
  const root = path.join(base, 'store')
  const store = new FsStore({ root })
  await tieredLog(dir, store, 100)
  const url = `file://${path.join(root, PREFIX)}`
  const remote = startCli(['tail', '-f', '-n', '1', url, '--poll-ms', '50'])
  const local = startCli(['tail', '-f', '-n', '1', dir, '--tier', url])
  t.after(() => { remote.child.kill('SIGKILL'); local.child.kill('SIGKILL') })
  const shippedEnd = JSON.parse((await runCli(['info', url, '--json'])).stdout).nextOffset as number
  assert.deepEqual((await remote.waitForLines(1)).map((l) => JSON.parse(l).offset), [shippedEnd - 1])
  assert.deepEqual((await local.waitForLines(1)).map((l) => JSON.parse(l).offset), [99])

  const log = await Log.open(dir, { segmentBytes: 4096, sync: 'never', tier: { store, prefix: PREFIX } })
  for (let i = 100; i < 110; i++) await log.append(text(i))
  await log.syncTier({ all: true })
  await log.close()
  const l = await local.waitForLines(11)
  assert.deepEqual(l.map((x) => JSON.parse(x).offset), expected(99, 110).map((r) => r.offset))
  const r = await remote.waitForLines(1 + 110 - shippedEnd)
  assert.deepEqual(r.map((x) => JSON.parse(x).offset), expected(shippedEnd - 1, 110).map((x) => x.offset))
  assert.deepEqual(r.map((x) => JSON.parse(x).data), expected(shippedEnd - 1, 110).map((x) => x.data))
  remote.child.kill('SIGINT')
  local.child.kill('SIGINT')
  assert.equal((await remote.exited).code, 0)
  assert.equal((await local.exited).code, 0)
})

test('s3:// tiered log through s3rver: info, cat, tail and verify on the bucket URL and with --tier, store unchanged', async (t) => {
  const s3 = await startS3()
  t.after(() => s3.stop())
  const store = new S3Store(s3.storeOptions)
  t.after(() => store.close?.())
  const dir = path.join(tmpDir(t), 'log')
  await tieredLog(dir, store, 190)
  const env = { AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey, AWS_REGION: s3.region }
  const url = `s3://${s3.bucket}/${PREFIX}`
  const conn = ['--endpoint', s3.endpoint, '--path-style']
  const listing = async (): Promise<string[]> => {
    const out: string[] = []
    for await (const m of store.list('')) out.push(`${m.key} ${m.size}`)
    return out
  }
  const before = await listing()
  const writesBefore = s3.proxy.requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD').length

  const info = JSON.parse((await runCli(['info', url, ...conn, '--json'], { env })).stdout) as Record<string, number>
  assert.deepEqual([info.firstOffset, info.nextOffset], [0, 160])
  const all = await runCli(['cat', dir, '--tier', url, ...conn], { env })
  assert.deepEqual(records(all), expected(0, 190))
  assert.deepEqual(records(await runCli(['cat', url, ...conn, '--from', '5', '--to', '8'], { env })), expected(5, 8))
  assert.deepEqual(records(await runCli(['tail', url, ...conn, '-n', '3'], { env })), expected(157, 160))
  const v = await runCli(['verify', dir, '--tier', url, ...conn], { env })
  assert.equal(v.code, 0, v.stdout + v.stderr)
  assert.match(v.stdout, /segments in the store, 160 records/)
  const dirInfo = JSON.parse((await runCli(['info', dir, '--tier', url, ...conn, '--json'], { env })).stdout) as { tier: Record<string, number> }
  const localFirst = Math.min(...fs.readdirSync(dir).filter((n) => n.endsWith('.log')).map((n) => Number(n.slice(0, 20))))
  assert.ok(localFirst > 0, 'local retention left the oldest segments only in the store')
  assert.deepEqual([dirInfo.tier.uploadedOffset, dirInfo.tier.localFirstOffset, dirInfo.tier.firstOffset, dirInfo.tier.nextOffset], [160, localFirst, 0, 190])

  assert.deepEqual(await listing(), before)
  assert.equal(s3.proxy.requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD').length, writesBefore, 'the CLI sent no PUT, POST or DELETE')
})
