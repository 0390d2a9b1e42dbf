// Tiered storage through the HTTP fault proxy (500/503, throttling, resets before forwarding and
// mid-body, slow answers, lost replies) in front of s3rver's enforcing proxy and Azurite. Every
// upload ends in success or a SeglogError; nothing already shipped ever changes; shipping again
// completes without a duplicate; reads through the faults yield the local records or ERR_STORE.
import assert from 'node:assert/strict'
import { after, before, describe, test, type TestContext } from 'node:test'
import { isSeglogError } from '../../src/errors.js'
import { AzureBlobStore, S3Store, type ObjectStore } from '../../src/objects/index.js'
import { openRemoteLog, readCatalog, SegmentUploader } from '../../src/tier/index.js'
import type { LogRecord } from '../../src/index.js'
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js'
import { prng } from '../helpers/power-loss-fs.js'
import { startAzurite, startS3, type AzuriteServer, type S3Server } from '../helpers/servers.js'
import { assertSameRecords, buildLocalLog, snapshot } from './helpers.js'

const SEED = Number(process.env.SEGLOG_SEED ?? Math.floor(Math.random() * 2 ** 31))
const RATES = { error500: 0.05, error503: 0.04, throttle: 0.03, reset: 0.05, resetMidBody: 0.06, slow: 0.04, lostResponse: 0.06 }
const RETRY = { maxAttempts: 3, baseDelayMs: 2, maxDelayMs: 10 }

async function scenario(t: TestContext, faulty: ObjectStore, clean: ObjectStore, proxy: FaultProxy, prefix: string): Promise<Record<string, number>> {
  const { sealed, records } = await buildLocalLog(t, { count: 300 })
  const up = new SegmentUploader(faulty, prefix, { indexIntervalBytes: 1024, retry: RETRY })
  let failures = 0
  let shipped = new Map<string, string>()
  for (const seg of sealed) {
    for (let attempt = 0; ; attempt++) {
      try {
        await up.upload(seg)
        break
      } catch (err) {
        assert.ok(isSeglogError(err, 'ERR_STORE'), `upload of ${seg.base}: ${String(err)}`)
        failures++
        assert.ok(attempt < 40, 'an upload keeps failing')
      } finally {
        // Whatever happened, what was shipped before is byte for byte unchanged.
        const now = await snapshot(clean, prefix)
        for (const [k, v] of shipped) assert.equal(now.get(k), v, `${k} changed`)
      }
    }
    shipped = await snapshot(clean, prefix)
  }
  assert.equal(shipped.size, 2 * sealed.length, 'two objects per segment, no duplicate')
  const cat = await readCatalog(clean, prefix)
  assert.deepEqual(cat.segments.map((s) => [s.base, s.end]), sealed.map((s) => [s.base, s.end]))

  // Reads through the faults: each read is the record or ERR_STORE; an iterator resumes after one.
  const remote = await openRemoteLogRetrying(faulty, prefix)
  let readFailures = 0
  for (let off = 0; off < records.length; off += 7) {
    try {
      const r = await remote.read(off)
      assertSameRecords(r ? [r] : [], [records[off]])
    } catch (err) {
      assert.ok(isSeglogError(err, 'ERR_STORE'), String(err))
      readFailures++
    }
  }
  const got: LogRecord[] = []
  for (let attempt = 0; got.length < records.length; attempt++) {
    try {
      for await (const r of remote.iterate({ from: got.length })) got.push({ ...r, data: Buffer.from(r.data) })
    } catch (err) {
      assert.ok(isSeglogError(err, 'ERR_STORE'), String(err))
      readFailures++
      assert.ok(attempt < 100)
    }
  }
  assertSameRecords(got, records)
  assert.deepEqual(await snapshot(clean, prefix), shipped)
  return { uploadFailures: failures, readFailures, ...proxy.counts }
}

async function openRemoteLogRetrying(store: ObjectStore, prefix: string): Promise<Awaited<ReturnType<typeof openRemoteLog>>> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await openRemoteLog(store, prefix, { retry: RETRY, cacheBytes: 8 << 10 })
    } catch (err) {
      assert.ok(isSeglogError(err, 'ERR_STORE') && attempt < 20, String(err))
    }
  }
}

describe(`tiered storage behind the fault proxy (seed ${SEED})`, () => {
  let s3: S3Server
  let az: AzuriteServer
  const proxies: FaultProxy[] = []
  before(async () => { [s3, az] = await Promise.all([startS3(), startAzurite()]) })
  after(async () => {
    await Promise.all(proxies.map((p) => p.stop()))
    await Promise.all([s3?.stop(), az?.stop()])
  })

  test('S3 (s3rver behind its enforcing proxy)', async (t) => {
    const proxy = await startFaultProxy({ upstream: s3.endpoint, rates: RATES, rng: prng(SEED) })
    proxies.push(proxy)
    const faulty = new S3Store({ ...s3.storeOptions, endpoint: proxy.endpoint, requestTimeoutMs: 3000 })
    t.diagnostic(JSON.stringify(await scenario(t, faulty, new S3Store({ ...s3.storeOptions }), proxy, 'tier/s3')))
  })

  test('Azure Blob (Azurite)', async (t) => {
    const proxy = await startFaultProxy({ upstream: `http://127.0.0.1:${az.port}`, rates: RATES, rng: prng(SEED ^ 0x5555) })
    proxies.push(proxy)
    const viaProxy = az.connectionString.replace(`127.0.0.1:${az.port}`, `127.0.0.1:${proxy.port}`)
    const faulty = new AzureBlobStore({ container: az.container, connectionString: viaProxy, requestTimeoutMs: 3000 })
    const clean = new AzureBlobStore({ container: az.container, connectionString: az.connectionString })
    t.diagnostic(JSON.stringify(await scenario(t, faulty, clean, proxy, 'tier/azure')))
  })
})
