// Object stores behind a fault proxy (s3rver behind its enforcing proxy, and Azurite): 500 and 503
// answers, throttling, connections reset before forwarding or mid-body, slow answers, and lost
// responses (the PUT landed, the reply never arrived). Several writers, a compactor and readers
// share one journal. Nothing acknowledged is lost, nothing is duplicated, and every reader, even
// one reading through the faults and resuming from its cursor, sees the same single order.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { isSeglogError } from '../../src/index.js'
import { Journal, type JournalCursor } from '../../src/journal/index.js'
import { AzureBlobStore, S3Store, type ObjectStore } from '../../src/objects/index.js'
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js'
import { prng } from '../helpers/power-loss-fs.js'
import { startAzurite, startS3, type AzuriteServer, type S3Server } from '../helpers/servers.js'

type Ev = { w: number; i: number }
const SOAK = Boolean(process.env.SOAK)
const SEED = Number(process.env.SEGLOG_SEED ?? Math.floor(Math.random() * 2 ** 31))
const WRITERS = 3
const EVENTS = SOAK ? 600 : 120
const RETRY = { maxAttempts: 8, baseDelayMs: 5, maxDelayMs: 50 }
/** SEGLOG_FAULT_SCALE multiplies every fault rate (SOAK doubles them). */
const SCALE = Number(process.env.SEGLOG_FAULT_SCALE ?? (SOAK ? 2 : 1))
const RATES = Object.fromEntries(Object.entries({ error500: 0.04, error503: 0.03, throttle: 0.03, reset: 0.03, resetMidBody: 0.04, slow: 0.05, lostResponse: 0.04 })
  .map(([k, v]) => [k, v * SCALE]))

/** Flushes until it succeeds (a failed flush keeps its events for the next one). */
async function flushHard(j: Journal<Ev>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await j.flush()
      return
    } catch (err) {
      assert.ok(isSeglogError(err, 'ERR_STORE') || isSeglogError(err, 'ERR_CONFLICT'), String(err))
      if (attempt > 50) throw err
    }
  }
}

/** Reads to the end, resuming from the last cursor after a store failure. */
async function readResuming(j: Journal<Ev>): Promise<{ values: Ev[]; cursors: JournalCursor[]; resumed: number }> {
  const values: Ev[] = []
  const cursors: JournalCursor[] = []
  let resumed = 0
  for (;;) {
    try {
      const after = cursors.at(-1)
      for await (const e of j.read({ pending: false, ...(after === undefined ? {} : { after }) })) {
        values.push(e.value)
        cursors.push(e.cursor)
      }
      return { values, cursors, resumed }
    } catch (err) {
      // A cut or lost response is a store failure, never "corrupt data" (nor wrong data).
      assert.ok(isSeglogError(err, 'ERR_STORE'), String(err))
      if (++resumed > 200) throw err
    }
  }
}

async function scenario(faulty: ObjectStore, clean: ObjectStore, proxy: FaultProxy, prefix: string): Promise<Record<string, unknown>> {
  const opts = { flushEvents: 8, lingerMs: 15, retry: RETRY, graceMs: 300 }
  const writers = await Promise.all(Array.from({ length: WRITERS }, async () => {
    for (;;) {
      try {
        return await Journal.open<Ev>(faulty, prefix, opts)
      } catch (err) {
        assert.ok(isSeglogError(err, 'ERR_STORE'), String(err))
      }
    }
  }))
  const accepted: Ev[] = []
  let appendFailures = 0
  let compactions = 0
  let compactFailures = 0
  let writing = true
  const compactor = await Journal.open<Ev>(clean, prefix, { retry: RETRY, graceMs: 300 })
  const faultyCompactor = await Journal.open<Ev>(faulty, prefix, { retry: RETRY, graceMs: 300 })
  const compacting = (async () => {
    while (writing) {
      try {
        await faultyCompactor.compact()
        compactions++
      } catch (err) {
        assert.ok(isSeglogError(err, 'ERR_STORE') || isSeglogError(err, 'ERR_CONFLICT'), String(err))
        compactFailures++
      }
      await new Promise((resolve) => setTimeout(resolve, 20)) // pacing, not synchronisation
    }
  })()
  await Promise.all(writers.map(async (j, w) => {
    for (let i = 0; i < EVENTS; i++) {
      try {
        await j.append({ w, i })
        accepted.push({ w, i })
      } catch (err) {
        assert.ok(isSeglogError(err, 'ERR_STORE'), String(err))
        appendFailures++
      }
      if (i % 25 === 24) await j.flush().catch((err: unknown) => assert.ok(isSeglogError(err, 'ERR_STORE'), String(err)))
    }
  }))
  writing = false
  await compacting
  // A reader through the faults, resuming after each failure, while faults are still on.
  const throughFaults = await Journal.open<Ev>(faulty, prefix, { readOnly: true, retry: RETRY })
  proxy.enabled = false
  for (const j of writers) {
    await flushHard(j)
    await j.close()
  }
  proxy.enabled = true
  const faultyRead = await readResuming(throughFaults)
  proxy.enabled = false
  const compacted = await compactor.compact()
  // Readers on a clean path agree with each other.
  const readers = await Promise.all([0, 1].map(async () => {
    const r = await Journal.open<Ev>(clean, prefix, { readOnly: true })
    const out = await readResuming(r)
    await r.close()
    return out
  }))
  await Promise.all([compactor.close(), faultyCompactor.close(), throughFaults.close()])
  proxy.enabled = true

  const [a, b] = readers
  assert.deepEqual(a.values, b.values, 'two readers see one order')
  assert.deepEqual(a.cursors, b.cursors, 'and the same cursors')
  // Nothing lost, nothing duplicated, each writer's events in its order.
  const seen = new Set<string>()
  const last = new Map<number, number>()
  for (const v of a.values) {
    const id = `${v.w}/${v.i}`
    assert.ok(!seen.has(id), `duplicate ${id}`)
    seen.add(id)
    assert.ok(v.i > (last.get(v.w) ?? -1), `writer ${v.w} out of order at ${v.i}`)
    last.set(v.w, v.i)
  }
  for (const v of accepted) assert.ok(seen.has(`${v.w}/${v.i}`), `accepted event ${v.w}/${v.i} lost`)
  assert.equal(seen.size, accepted.length, 'only accepted events are stored')
  // The reader that went through the faults (before the final flush) saw a prefix of the same order.
  assert.deepEqual(faultyRead.values, a.values.slice(0, faultyRead.values.length), 'a reader through the faults sees a prefix of the same order')
  return { faults: { ...proxy.counts }, appendFailures, compactions, compactFailures, resumedReads: faultyRead.resumed, merged: compacted.merged.length, events: a.values.length }
}

describe('object-store faults', { timeout: 10 * 60_000 }, () => {
  let s3: S3Server
  let az: AzuriteServer
  const proxies: FaultProxy[] = []
  before(async () => {
    ;[s3, az] = await Promise.all([startS3(), startAzurite()])
  })
  after(async () => {
    await Promise.all(proxies.map((p) => p.stop()))
    await Promise.all([s3?.stop(), az?.stop()])
  })

  test(`S3 (s3rver behind its enforcing proxy) behind the fault proxy (seed ${SEED})`, async (t) => {
    const proxy = await startFaultProxy({ upstream: s3.endpoint, rates: RATES, rng: prng(SEED) })
    proxies.push(proxy)
    const faulty = new S3Store({ ...s3.storeOptions, endpoint: proxy.endpoint, requestTimeoutMs: 3000 })
    const clean = new S3Store({ ...s3.storeOptions })
    t.diagnostic(JSON.stringify(await scenario(faulty, clean, proxy, 'faults/s3')))
  })

  test(`Azure Blob (Azurite) behind the fault proxy (seed ${SEED})`, async (t) => {
    const proxy = await startFaultProxy({ upstream: `http://127.0.0.1:${az.port}`, rates: RATES, rng: prng(SEED ^ 0x5555) })
    proxies.push(proxy)
    const viaProxy = az.connectionString.replace(`127.0.0.1:${az.port}`, `127.0.0.1:${proxy.port}`)
    const faulty = new AzureBlobStore({ container: az.container, connectionString: viaProxy, requestTimeoutMs: 3000 })
    const clean = new AzureBlobStore({ container: az.container, connectionString: az.connectionString })
    t.diagnostic(JSON.stringify(await scenario(faulty, clean, proxy, 'faults/azure')))
  })
})
