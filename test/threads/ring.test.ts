// The shared-memory ring against an in-memory sink: ordering, exactly-once, wraps, backpressure,
// dead producers, closing, errors. Tests against the real Log are in log.test.ts.
import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { once } from 'node:events'
import { describe, test } from 'node:test'
import { Worker } from 'node:worker_threads'
import { SeglogError } from '../../src/errors.js'
import { LogWriter, RingDrainer, type SkipEvent, type WorkerHandle } from '../../src/threads/index.js'
import { FakeSink, recordFor, sameRecord, tagOf, type ProducerJob } from './helpers.js'

const producerScript = new URL('../fixtures/threads-producer.js', import.meta.url)
const rawScript = new URL('../fixtures/threads-raw.js', import.meta.url)

interface DoneMessage { type: 'done'; producer: number; offsets: number[]; errors: string[] }
interface AckMessage { type: 'ack'; producer: number; index: number; offset: number }

function startProducer(handle: WorkerHandle, job: Omit<ProducerJob, 'handle'>, onAck?: (m: AckMessage) => void): { worker: Worker; done: Promise<DoneMessage> } {
  const worker = new Worker(producerScript, { workerData: { ...job, handle } })
  const done = new Promise<DoneMessage>((resolve, reject) => {
    worker.on('message', (m: DoneMessage | AckMessage | { type: 'ready' }) => {
      if (m.type === 'done') resolve(m)
      else if (m.type === 'ack') onAck?.(m)
    })
    worker.on('error', reject)
    worker.on('exit', (code) => reject(new Error(`producer ${job.producer} exited with ${code} before finishing`)))
  })
  return { worker, done }
}

/** Checks the sink's contents: every listed record exactly once, each producer's in its own order. */
function checkExactlyOnce(sink: FakeSink, jobs: Omit<ProducerJob, 'handle'>[], done: DoneMessage[]): void {
  const lastIndex = new Map<number, number>()
  const seen = new Set<string>()
  sink.records.forEach((data, offset) => {
    const { producer, index } = tagOf(data)
    const key = `${producer}:${index}`
    assert.ok(!seen.has(key), `record ${key} stored twice`)
    seen.add(key)
    assert.ok((lastIndex.get(producer) ?? -1) < index, `producer ${producer} out of order at offset ${offset}`)
    lastIndex.set(producer, index)
    const job = jobs.find((j) => j.producer === producer)
    assert.ok(job !== undefined)
    assert.ok(sameRecord(data, recordFor(producer, index, job)), `record ${key} content differs`)
  })
  for (const d of done) {
    assert.deepEqual(d.errors, [])
    d.offsets.forEach((off, index) => {
      assert.deepEqual(tagOf(sink.records[off]), { producer: d.producer, index }, `offset ${off} acknowledged to ${d.producer}:${index}`)
    })
  }
  assert.equal(seen.size, jobs.reduce((n, j) => n + j.count, 0))
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((resolve) => setImmediate(resolve))
}

describe('worker ring (fake sink)', () => {
  test('same-thread writer: bytes and strings come back with their offsets, in call order', async () => {
    const sink = new FakeSink()
    const drainer = new RingDrainer(sink, { ringBytes: 4096 })
    const w = await LogWriter.connect(drainer.handle())
    const inputs: (Uint8Array | string)[] = ['hello', new Uint8Array([1, 2, 3]), '', new Uint8Array(0), 'ünïcödé ✓ 🎉', 'x'.repeat(900)]
    const offsets = await Promise.all(inputs.map((d) => w.append(d)))
    assert.deepEqual(offsets, [0, 1, 2, 3, 4, 5])
    inputs.forEach((d, k) => assert.ok(sameRecord(sink.records[k], d)))
    assert.equal(w.pending, 0)
    await w.close()
    await drainer.close()
  })

  test('4 workers x 3000 records through a 4 KiB ring: every record once, each producer in order', async () => {
    const sink = new FakeSink()
    const drainer = new RingDrainer(sink, { ringBytes: 4096, producerWindow: 64 })
    const jobs: Omit<ProducerJob, 'handle'>[] = [0, 1, 2, 3].map((producer) => ({
      producer, count: 3000, concurrency: 48, kind: producer === 3 ? 'mixed' : producer === 2 ? 'string' : 'bytes',
      filler: 300, vary: true, stream: false,
    }))
    const started = jobs.map((j) => startProducer(drainer.handle(), j))
    const done = await Promise.all(started.map((s) => s.done))
    await Promise.all(started.map((s) => s.worker.terminate()))
    checkExactlyOnce(sink, jobs, done)
    // The frames went round the 4 KiB ring hundreds of times (and padded at its end each time).
    const frameBytes = sink.records.reduce((n, r) => n + ((16 + r.byteLength + 7) & ~7), 0)
    assert.ok(frameBytes / 4096 > 300, `only ${frameBytes / 4096} laps`)
    const stats = drainer.stats()
    assert.equal(stats.records, 12000)
    // Notifications are batched: far fewer batches (each one a wake-up per producer) than records.
    assert.ok(stats.batches < stats.records / 4, `${stats.batches} batches for ${stats.records} records`)
    assert.equal(stats.skips, 0)
    await drainer.close()
  })

  test('record size limit, argument types and a bad handle', async () => {
    const sink = new FakeSink()
    const drainer = new RingDrainer(sink, { ringBytes: 4096, maxRecordBytes: 100 })
    const w = await LogWriter.connect(drainer.handle())
    assert.equal(w.maxRecordBytes, 100)
    await assert.rejects(w.append(new Uint8Array(101)), { code: 'ERR_RECORD_TOO_LARGE' })
    await assert.rejects(w.append('é'.repeat(51)), { code: 'ERR_RECORD_TOO_LARGE' })
    await assert.rejects(w.append(42 as unknown as string), { code: 'ERR_INVALID_ARGUMENT' })
    assert.equal(await w.append(new Uint8Array(100)), 0)
    assert.equal(sink.records.length, 1)
    await assert.rejects(LogWriter.connect({} as WorkerHandle), { code: 'ERR_INVALID_ARGUMENT' })
    assert.throws(() => new RingDrainer(sink, { ringBytes: 5000 }), { code: 'ERR_INVALID_ARGUMENT' })
    assert.throws(() => new RingDrainer(sink, { ringBytes: 4096, maxRecordBytes: 4096 }), { code: 'ERR_INVALID_ARGUMENT' })
    await drainer.close()
  })

  test('a handle used after the log closed fails with ERR_CLOSED', async () => {
    const sink = new FakeSink()
    const drainer = new RingDrainer(sink)
    const handle = drainer.handle()
    const w = await LogWriter.connect(handle)
    assert.equal(await w.append('before'), 0)
    await drainer.close()
    await assert.rejects(w.append('after'), { code: 'ERR_CLOSED' })
    await assert.rejects(LogWriter.connect(handle), { code: 'ERR_CLOSED' })
    assert.throws(() => drainer.handle(), { code: 'ERR_CLOSED' })
    assert.equal(sink.records.length, 1)
  })

  test('a full ring applies backpressure: appends wait, nothing is dropped or overwritten', async () => {
    const sink = new FakeSink()
    sink.gated = true
    const drainer = new RingDrainer(sink, { ringBytes: 4096 })
    const w = await LogWriter.connect(drainer.handle())
    const inputs = Array.from({ length: 300 }, (_, k) => recordFor(0, k, { kind: 'bytes', filler: 100, vary: false }))
    const firstBatch = sink.nextBatch()
    const results = inputs.map((d) => w.append(d))
    await firstBatch
    await until(() => drainer.stats().usedBytes + 128 > 4096)
    // The sink holds one batch (a slow fsync); the ring is full and the rest wait in the writer.
    assert.ok(sink.heldBatches >= 1)
    assert.ok(w.pending === 300)
    sink.open()
    const offsets = await Promise.all(results)
    assert.deepEqual(offsets, inputs.map((_, k) => k))
    inputs.forEach((d, k) => assert.ok(sameRecord(sink.records[k], d)))
    await drainer.close()
  })

  test('a worker terminated between reserve and publish is skipped after the timeout; others keep flowing in order', async () => {
    const sink = new FakeSink()
    const drainer = new RingDrainer(sink, { ringBytes: 4096, deadProducerTimeoutMs: 100 })
    const channelEvents: SkipEvent[] = []
    const onChannel = (m: unknown): void => { channelEvents.push(m as SkipEvent) }
    subscribe('seglog:threads:skip', onChannel)
    try {
      const raw = new Worker(rawScript, { workerData: { handle: drainer.handle(), announce: true, payload: 40 } })
      const [reserved] = await once(raw, 'message') as [{ id: number; pos: number; len: number }]
      await raw.terminate()
      const skipped = once(drainer, 'skip') as Promise<[SkipEvent]>
      const job: Omit<ProducerJob, 'handle'> = { producer: 7, count: 500, concurrency: 16, kind: 'bytes', filler: 50, vary: true, stream: false }
      const p = startProducer(drainer.handle(), job)
      const [event] = await skipped
      assert.equal(event.reason, 'dead-producer')
      assert.equal(event.producerId, reserved.id)
      assert.equal(event.position, reserved.pos)
      assert.equal(event.bytes, reserved.len)
      assert.ok(event.waitedMs >= 100)
      const done = await p.done
      await p.worker.terminate()
      checkExactlyOnce(sink, [job], [done])
      assert.deepEqual(channelEvents, [event])
    } finally {
      unsubscribe('seglog:threads:skip', onChannel)
    }
    await drainer.close()
  })

  test('a reservation that was never announced is skipped too (longer wait)', async () => {
    const sink = new FakeSink()
    const drainer = new RingDrainer(sink, { ringBytes: 4096, deadProducerTimeoutMs: 50 })
    const raw = new Worker(rawScript, { workerData: { handle: drainer.handle(), announce: false, payload: 100 } })
    const [reserved] = await once(raw, 'message') as [{ id: number; pos: number; len: number }]
    await raw.terminate()
    const skipped = once(drainer, 'skip') as Promise<[SkipEvent]>
    const w = await LogWriter.connect(drainer.handle())
    const results = Array.from({ length: 200 }, (_, k) => w.append(recordFor(1, k, { kind: 'bytes', filler: 20, vary: false })))
    const [event] = await skipped
    assert.equal(event.reason, 'unknown-owner')
    assert.equal(event.producerId, -1)
    assert.equal(event.bytes, reserved.len)
    assert.ok(event.waitedMs >= 100)
    assert.deepEqual(await Promise.all(results), results.map((_, k) => k))
    await drainer.close()
  })

  test('a worker terminated mid-stream: its acknowledged records stay, the others finish in order', async () => {
    const sink = new FakeSink()
    const drainer = new RingDrainer(sink, { ringBytes: 8192, deadProducerTimeoutMs: 100, producerWindow: 128 })
    const victimJob: Omit<ProducerJob, 'handle'> = { producer: 0, count: 1_000_000, concurrency: 64, kind: 'bytes', filler: 40, vary: true, stream: true }
    const acked: AckMessage[] = []
    let enough: () => void = () => {}
    const reached = new Promise<void>((resolve) => { enough = resolve })
    const victim = startProducer(drainer.handle(), victimJob, (m) => { acked.push(m); if (acked.length === 2000) enough() })
    victim.done.catch(() => {})
    const jobs: Omit<ProducerJob, 'handle'>[] = [1, 2].map((producer) => ({ producer, count: 4000, concurrency: 32, kind: 'mixed', filler: 60, vary: true, stream: false }))
    const others = jobs.map((j) => startProducer(drainer.handle(), j))
    await reached
    await victim.worker.terminate()
    const done = await Promise.all(others.map((o) => o.done))
    await Promise.all(others.map((o) => o.worker.terminate()))
    // Whatever the victim was doing when it died, the ring still works for a new writer.
    const w = await LogWriter.connect(drainer.handle())
    const off = await w.append('after the victim')
    assert.equal(off, sink.records.length - 1)
    sink.records.pop()
    const victimRecords = sink.records.map((r) => tagOf(r)).filter((t) => t.producer === 0)
    const jobsWithVictim = [...jobs, { ...victimJob, count: victimRecords.length }]
    // Victim: stored records are an in-order prefix-free sequence with no duplicates, and include every ack.
    const stored = new Map(victimRecords.map((t, k) => [t.index, k]))
    assert.equal(stored.size, victimRecords.length)
    for (const a of acked) assert.deepEqual(tagOf(sink.records[a.offset]), { producer: 0, index: a.index })
    const others2 = sink.records.filter((r) => tagOf(r).producer !== 0)
    const otherSink = Object.assign(new FakeSink(), { records: others2 })
    checkExactlyOnce(otherSink, jobs, [])
    assert.equal(others2.length, 8000)
    assert.ok(jobsWithVictim.length === 3)
    for (const d of done) assert.deepEqual(d.errors, [])
    await drainer.close()
  })

  test('20 workers terminated at random moments while 2 others stream: no loss, duplicate or reorder, no wedge', async () => {
    const sink = new FakeSink()
    const drainer = new RingDrainer(sink, { ringBytes: 8192, producerWindow: 64, deadProducerTimeoutMs: 50 })
    const skips: SkipEvent[] = []
    drainer.on('skip', (e: SkipEvent) => skips.push(e))
    const jobs: Omit<ProducerJob, 'handle'>[] = [1000, 1001].map((producer) => ({ producer, count: 5000, concurrency: 16, kind: 'mixed', filler: 200, vary: true, stream: false }))
    const steady = jobs.map((j) => startProducer(drainer.handle(), j))
    const acked: AckMessage[] = []
    for (let v = 0; v < 20; v++) {
      const killAt = 1 + Math.floor(Math.random() * 200)
      let seen = 0
      let kill: () => void = () => {}
      const reached = new Promise<void>((resolve) => { kill = resolve })
      const victim = startProducer(drainer.handle(), { producer: v, count: 1_000_000, concurrency: 16, kind: 'mixed', filler: 200, vary: true, stream: true }, (m) => {
        acked.push(m)
        if (++seen === killAt) kill()
      })
      victim.done.catch(() => {})
      await reached
      await victim.worker.terminate()
    }
    const done = await Promise.all(steady.map((s) => s.done))
    await Promise.all(steady.map((s) => s.worker.terminate()))
    const seen = new Set<string>()
    const last = new Map<number, number>()
    for (const r of sink.records) {
      const { producer, index } = tagOf(r)
      assert.ok(!seen.has(`${producer}:${index}`), `${producer}:${index} twice`)
      seen.add(`${producer}:${index}`)
      assert.ok((last.get(producer) ?? -1) < index, `producer ${producer} out of order`)
      last.set(producer, index)
      assert.ok(sameRecord(r, recordFor(producer, index, { kind: 'mixed', filler: 200, vary: true })))
    }
    for (const a of acked) assert.deepEqual(tagOf(sink.records[a.offset]), { producer: a.producer, index: a.index })
    for (const d of done) {
      assert.deepEqual(d.errors, [])
      d.offsets.forEach((off, index) => assert.deepEqual(tagOf(sink.records[off]), { producer: d.producer, index }))
    }
    for (const e of skips) assert.ok(['dead-producer', 'stalled-writer', 'unknown-owner'].includes(e.reason))
    await drainer.close()
  })

  test('closing while producers wait: published records drain, the rest fail with ERR_CLOSED, nobody hangs', async () => {
    const sink = new FakeSink()
    sink.gated = true
    const drainer = new RingDrainer(sink, { ringBytes: 4096, producerWindow: 32 })
    const jobs: Omit<ProducerJob, 'handle'>[] = [0, 1].map((producer) => ({ producer, count: 2000, concurrency: 64, kind: 'bytes', filler: 40, vary: false, stream: false }))
    const firstBatch = sink.nextBatch()
    const started = jobs.map((j) => startProducer(drainer.handle(), j))
    await firstBatch
    await until(() => drainer.stats().usedBytes + 64 > 4096)
    const closing = drainer.close()
    sink.open()
    await closing
    const done = await Promise.all(started.map((s) => s.done))
    await Promise.all(started.map((s) => s.worker.terminate()))
    let acked = 0
    let failed = 0
    for (const d of done) {
      for (const e of d.errors) assert.equal(e, 'ERR_CLOSED')
      failed += d.errors.length
      d.offsets.forEach((off, index) => {
        if (off < 0) return
        acked++
        assert.deepEqual(tagOf(sink.records[off]), { producer: d.producer, index })
      })
    }
    assert.equal(acked, sink.records.length)
    assert.equal(acked + failed, 4000)
    assert.ok(failed > 0, 'the producers were still waiting when the log closed')
  })

  test('close(err) after a log failure fails every waiting append with that code', async () => {
    const sink = new FakeSink()
    sink.gated = true
    const drainer = new RingDrainer(sink, { ringBytes: 4096 })
    const w = await LogWriter.connect(drainer.handle())
    const firstBatch = sink.nextBatch()
    const results = Array.from({ length: 100 }, (_, k) => w.append(`record ${k}`).then(() => 'ok', (e: SeglogError) => e.code))
    await firstBatch
    sink.failWith = new SeglogError('ERR_IO', 'fsync failed')
    const closing = drainer.close(new SeglogError('ERR_IO', 'fsync failed'))
    sink.open()
    await closing
    const codes = await Promise.all(results)
    assert.deepEqual(new Set(codes), new Set(['ERR_IO']))
    await assert.rejects(w.append('later'), { code: 'ERR_IO' })
  })

  test('a failed batch fails its appends with the sink\'s code; later appends succeed', async () => {
    const sink = new FakeSink()
    const drainer = new RingDrainer(sink)
    const errors: SeglogError[] = []
    drainer.on('sinkError', (e: SeglogError) => errors.push(e))
    const w = await LogWriter.connect(drainer.handle())
    sink.failWith = new SeglogError('ERR_RECORD_TOO_LARGE', 'batch too large')
    await assert.rejects(w.append('doomed'), { code: 'ERR_RECORD_TOO_LARGE' })
    sink.failWith = undefined
    assert.equal(await w.append('fine'), 0)
    assert.equal(errors.length, 1)
    await drainer.close()
  })

  test('producer slots: a closed writer frees its slot; too many writers fail clearly', async () => {
    const sink = new FakeSink()
    const drainer = new RingDrainer(sink, { maxProducers: 2 })
    const a = await LogWriter.connect(drainer.handle())
    const b = await LogWriter.connect(drainer.handle())
    await assert.rejects(LogWriter.connect(drainer.handle()), { code: 'ERR_INVALID_ARGUMENT' })
    await a.append('a0')
    await a.close()
    await assert.rejects(a.append('a1'), { code: 'ERR_CLOSED' })
    const c = await LogWriter.connect(drainer.handle())
    assert.equal(c.id, a.id)
    assert.deepEqual(await Promise.all([c.append('c0'), b.append('b0'), c.append('c1')]), [1, 2, 3])
    await drainer.close()
  })
})
