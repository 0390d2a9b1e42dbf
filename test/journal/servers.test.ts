// The journal against real servers (s3rver behind the enforcing proxy, Azurite) and a real
// folder, with writer processes racing, compaction, faults and restarts.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, test } from 'node:test'
import { isSeglogError } from '../../src/errors.js'
import { Journal } from '../../src/journal/index.js'
import { AzureBlobStore, FsStore, S3Store, type ObjectStore } from '../../src/objects/index.js'
import { startAzurite, startS3, type AzuriteServer, type S3Server } from '../helpers/servers.js'
import { checkExactlyOnce, readAll } from './helpers.js'
import type { WriterConfig } from './writer-child.js'

type Ev = { w: string; i: number }
const here = path.dirname(fileURLToPath(import.meta.url))
const FAST_RETRY = { maxAttempts: 4, baseDelayMs: 20, maxDelayMs: 100 }

function runWriter(cfg: WriterConfig): Promise<{ conflicts: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, 'writer-child.js'), JSON.stringify(cfg)], {
      env: { ...process.env, SEGLOG_TEST_CHILD: 'writer', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    child.on('exit', (code) => {
      if (code !== 0) { reject(new Error(`writer ${cfg.writer} exited with ${code}: ${err}`)); return }
      resolve(JSON.parse(out.trim().split('\n').at(-1) as string) as { conflicts: number })
    })
  })
}

/**
 * Several writer processes race on one journal while this process compacts and follows it.
 * Every event must be present exactly once, in one order that every reader agrees on.
 */
async function raceProcesses(store: ObjectStore, storeCfg: WriterConfig['store'], prefix: string, writers = 4, count = 100): Promise<void> {
  const graceMs = 400
  const names = Array.from({ length: writers }, (_, k) => `w${k}`)
  const follower = await Journal.open<Ev>(store, prefix, { readOnly: true, pollMs: 25, graceMs })
  const compactor = await Journal.open<Ev>(store, prefix, { graceMs, retry: FAST_RETRY })
  const ac = new AbortController()
  const deadline = AbortSignal.timeout(90_000)
  const followed: Ev[] = []
  const following = (async () => {
    for await (const e of follower.read({ follow: true, signal: AbortSignal.any([ac.signal, deadline]) })) {
      followed.push(e.value)
      if (followed.length === writers * count) ac.abort()
    }
  })()
  let running = true
  let compactions = 0
  const compacting = (async () => {
    while (running) {
      await compactor.compact()
      compactions++
      await new Promise((r) => setTimeout(r, 30)) // pacing, not synchronisation
    }
  })()
  const results = await Promise.all(names.map((writer, k) => runWriter({ store: storeCfg, prefix, writer, count, flushEvents: 1 + (k % 4) * 3, graceMs })))
  running = false
  await compacting
  await following
  assert.ok(!deadline.aborted, `follower saw ${followed.length} of ${writers * count} events`)
  assert.equal(checkExactlyOnce(followed, names, count), undefined)
  const fresh = (await readAll(await Journal.open<Ev>(store, prefix, { readOnly: true, graceMs }))).map((e) => e.value)
  assert.deepEqual(fresh, followed)
  await compactor.compact({ graceMs: 0 })
  const compacted = (await readAll(await Journal.open<Ev>(store, prefix, { readOnly: true, graceMs }))).map((e) => e.value)
  assert.deepEqual(compacted, followed)
  assert.ok(compactions > 0)
  assert.ok(results.length === writers)
}

describe('journal on FsStore (real folder)', () => {
  let root: string
  before(async () => { root = await mkdtemp(path.join(tmpdir(), 'seglog-journal-fs-')) })
  after(async () => { await rm(root, { recursive: true, force: true }) })

  test('writer processes racing, with compaction and a follower', async () => {
    await raceProcesses(new FsStore({ root, fsync: false }), { kind: 'fs', root }, 'race/fs', 4, 100)
  })
})

describe('journal on S3 (s3rver + enforcing proxy)', () => {
  let s3: S3Server
  before(async () => { s3 = await startS3() })
  after(async () => { await s3.stop() })
  const store = (): S3Store => new S3Store({ ...s3.storeOptions })

  test('writer processes racing, with compaction and a follower', async () => {
    const { bucket, endpoint, region, credentials } = s3.storeOptions
    await raceProcesses(store(), { kind: 's3', bucket, endpoint, region, credentials }, 'race/s3', 4, 80)
  })

  test('refuses raw s3rver (no conditional writes) unless single-writer; the probe agrees', async () => {
    const raw = new S3Store({ ...s3.storeOptions, endpoint: s3.rawEndpoint, conditionalWrites: true })
    await assert.rejects(Journal.open(raw, 'probe', { probe: true }), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
    assert.equal(await Journal.probe(store(), 'probe'), true)
    const single = await Journal.open<number>(raw, 'single', { probe: true, singleWriter: true })
    await single.append(1)
    await single.close()
    assert.deepEqual((await readAll(single.store === raw ? await Journal.open<number>(raw, 'single', { readOnly: true }) : single)).map((e) => e.value), [1])
  })

  test('a store that fails mid-flush: lost responses and 5xx are retried without duplicates', async () => {
    const j = await Journal.open<Ev>(store(), 'faults', { flushEvents: 1000, lingerMs: 60_000, retry: FAST_RETRY })
    for (let i = 0; i < 5; i++) await j.append({ w: 'x', i })
    s3.proxy.inject({ method: 'PUT', pathIncludes: '/faults/b/', kind: 'drop-response' })
    await j.flush()
    for (let i = 5; i < 10; i++) await j.append({ w: 'x', i })
    s3.proxy.inject({ method: 'PUT', pathIncludes: '/faults/b/', kind: 'status', status: 503, times: 2 })
    await j.flush()
    // 409 ConditionalRequestConflict (a racing conditional write) is retried, not taken as a loss.
    await j.append({ w: 'x', i: 10 })
    s3.proxy.inject({ method: 'PUT', pathIncludes: '/faults/b/', kind: 'status', status: 409, times: 1 })
    await j.flush()
    for (let i = 11; i < 15; i++) await j.append({ w: 'x', i })
    s3.proxy.inject({ method: 'PUT', pathIncludes: '/faults/b/', kind: 'reset', times: 1 })
    await j.flush()
    // Budget exhausted: the flush rejects with ERR_STORE and keeps the events.
    for (let i = 15; i < 20; i++) await j.append({ w: 'x', i })
    s3.proxy.inject({ method: 'PUT', pathIncludes: '/faults/b/', kind: 'drop-response', times: 4 })
    await assert.rejects(j.flush(), (e) => isSeglogError(e, 'ERR_STORE') && e.cause !== undefined && /gave up after 4 attempts/.test(e.message))
    assert.equal(j.bufferedEvents, 5)
    await j.close()
    const vals = (await readAll(await Journal.open<Ev>(store(), 'faults', { readOnly: true }))).map((e) => e.value)
    assert.equal(checkExactlyOnce(vals, ['x'], 20), undefined)
    const objects: string[] = []
    for await (const m of store().list('faults/b/')) objects.push(m.key)
    assert.equal(objects.length, 5)
    // Sequence numbers are contiguous: no number was skipped by a lost or conflicting write.
    assert.deepEqual(objects, [0, 1, 2, 3, 4].map((n) => `faults/b/${String(n).padStart(20, '0')}`))
  })

  test('the server stopped and restarted mid-run loses nothing', async () => {
    const j = await Journal.open<Ev>(store(), 'restart', { flushEvents: 5, lingerMs: 5, retry: FAST_RETRY })
    for (let i = 0; i < 30; i++) await j.append({ w: 'r', i })
    await j.flush()
    await s3.kill()
    for (let i = 30; i < 60; i++) await j.append({ w: 'r', i })
    await assert.rejects(j.flush(), (e) => isSeglogError(e, 'ERR_STORE'))
    await s3.restart()
    for (let i = 60; i < 70; i++) await j.append({ w: 'r', i })
    await j.close()
    const vals = (await readAll(await Journal.open<Ev>(store(), 'restart', { readOnly: true }))).map((e) => e.value)
    assert.equal(checkExactlyOnce(vals, ['r'], 70), undefined)
  })

  test('a journal of more than 1,000 objects lists, reads and compacts', async () => {
    const j = await Journal.open<Ev>(store(), 'many', { flushEvents: 1 })
    const n = 1050
    for (let i = 0; i < n; i++) { await j.append({ w: 'm', i }); await j.flush() }
    await j.close()
    const r = await Journal.open<Ev>(store(), 'many', { readOnly: true })
    const vals = (await readAll(r)).map((e) => e.value)
    assert.equal(checkExactlyOnce(vals, ['m'], n), undefined)
    const c = await Journal.open<Ev>(store(), 'many', { graceMs: 0 })
    const res = await c.compact()
    assert.equal(res.merged.length, 1)
    assert.equal(res.deleted.length, n)
    assert.deepEqual((await readAll(r)).map((e) => e.value), vals)
  })

  test('hostile prefixes and keys are refused', async () => {
    assert.throws(() => new S3Store({ ...s3.storeOptions, prefix: '../other' }), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
    for (const p of ['../x', '/etc', 'a/../../b', 'a//b']) {
      await assert.rejects(Journal.open(store(), p), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
    }
    const confined = new S3Store({ ...s3.storeOptions, prefix: 'tenant' })
    const j = await Journal.open(confined, 'j')
    await j.append({ a: 1 })
    await j.close()
    assert.ok(await store().head('tenant/j/b/00000000000000000000'))
  })
})

describe('journal on Azure Blob (Azurite)', () => {
  let az: AzuriteServer
  before(async () => { az = await startAzurite() })
  after(async () => { await az.stop() })
  const store = (): AzureBlobStore => new AzureBlobStore({ container: az.container, connectionString: az.connectionString })

  test('writer processes racing, with compaction and a follower', async () => {
    await raceProcesses(store(), { kind: 'azure', container: az.container, connectionString: az.connectionString }, 'race/az', 4, 80)
  })

  test('the server stopped and restarted mid-run loses nothing', async () => {
    const j = await Journal.open<Ev>(store(), 'restart', { flushEvents: 5, lingerMs: 5, retry: FAST_RETRY })
    for (let i = 0; i < 20; i++) await j.append({ w: 'r', i })
    await j.flush()
    await az.kill()
    for (let i = 20; i < 40; i++) await j.append({ w: 'r', i })
    await assert.rejects(j.flush(), (e) => isSeglogError(e, 'ERR_STORE'))
    await az.restart()
    await j.close()
    const vals = (await readAll(await Journal.open<Ev>(store(), 'restart', { readOnly: true }))).map((e) => e.value)
    assert.equal(checkExactlyOnce(vals, ['r'], 40), undefined)
  })
})
