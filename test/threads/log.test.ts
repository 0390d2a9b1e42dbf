// Worker appends against the real local log: exactly-once and per-producer order through the
// checksummed batch format and group commit, close while producers wait, and SIGKILL of the whole
// process under sync 'always' (every acknowledged record survives).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { Log } from '../../src/index.js'
import { LogWriter, RingDrainer, type WorkerHandle } from '../../src/threads/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { recordFor, sameRecord, tagOf, type ProducerJob } from './helpers.js'

const producerScript = new URL('../fixtures/threads-producer.js', import.meta.url)
const crashChild = fileURLToPath(new URL('../fixtures/threads-crash-child.js', import.meta.url))

interface DoneMessage { type: 'done'; producer: number; offsets: number[]; errors: string[] }

function runProducer(handle: WorkerHandle, job: Omit<ProducerJob, 'handle'>): Promise<DoneMessage> {
  const worker = new Worker(producerScript, { workerData: { ...job, handle } })
  return new Promise<DoneMessage>((resolve, reject) => {
    worker.on('message', (m: DoneMessage | { type: string }) => { if (m.type === 'done') { resolve(m as DoneMessage); void worker.terminate() } })
    worker.on('error', reject)
  })
}

/**
 * Reads records [from, to) of the log: each is a tagged worker record of one of `jobs` (except the
 * offsets in `skip`), stored once, each producer's in its own order, byte-identical.
 * Returns where each `producer:index` landed.
 */
async function checkLog(log: Log, jobs: Omit<ProducerJob, 'handle'>[], range: { from?: number; to?: number; skip?: Set<number> } = {}): Promise<Map<string, number>> {
  const where = new Map<string, number>()
  const last = new Map<number, number>()
  let expected = range.from ?? log.firstOffset
  for await (const rec of log.iterate({ from: range.from, to: range.to })) {
    assert.equal(rec.offset, expected++)
    if (range.skip?.has(rec.offset)) continue
    const { producer, index } = tagOf(rec.data)
    const key = `${producer}:${index}`
    assert.ok(!where.has(key), `${key} stored twice`)
    where.set(key, rec.offset)
    assert.ok((last.get(producer) ?? -1) < index, `producer ${producer} out of order at ${rec.offset}`)
    last.set(producer, index)
    const job = jobs.find((j) => j.producer === producer)
    assert.ok(job !== undefined, `unexpected producer ${producer}`)
    assert.ok(sameRecord(rec.data, recordFor(producer, index, job)), `${key} content differs`)
  }
  return where
}

describe('worker appends into the real Log', () => {
  test('3 workers x 2000 records under sync always: once each, in order, offsets match, survive reopen', async (t) => {
    const dir = tmpDir(t, 'threads-log')
    const log = await Log.open(dir, { sync: 'always', segmentBytes: 65536 })
    const handle = log.workerHandle() as WorkerHandle
    assert.equal(log.workerHandle(), log.workerHandle(), 'one ring per log')
    const jobs: Omit<ProducerJob, 'handle'>[] = [0, 1, 2].map((producer) => ({
      producer, count: 2000, concurrency: 32, kind: producer === 1 ? 'string' : 'mixed', filler: 200, vary: true, stream: false,
    }))
    const mine = await LogWriter.connect(handle)
    const [done, own] = await Promise.all([Promise.all(jobs.map((j) => runProducer(handle, j))), mine.append('from the log thread too')])
    assert.ok(sameRecord((await log.read(own))!.data, 'from the log thread too'))
    await mine.close()
    const where = await checkLog(log, jobs, { skip: new Set([own]) })
    assert.equal(where.size, 6000)
    for (const d of done) {
      assert.deepEqual(d.errors, [])
      d.offsets.forEach((off, index) => assert.equal(where.get(`${d.producer}:${index}`), off))
    }
    assert.equal(log.durableOffset, log.nextOffset)
    await log.close()
    await assert.rejects(LogWriter.connect(handle), { code: 'ERR_CLOSED' })
    const again = await Log.open(dir, { sync: 'always' })
    assert.equal(again.nextOffset, 6001)
    await again.close()
  })

  test('4 workers through a 4 KiB ring into the real log (many wraps, group commit): once each, in order', async (t) => {
    const dir = tmpDir(t, 'threads-small-ring')
    const log = await Log.open(dir, { sync: 'always' })
    const drainer = new RingDrainer(log, { ringBytes: 4096, producerWindow: 64 })
    const jobs: Omit<ProducerJob, 'handle'>[] = [0, 1, 2, 3].map((producer) => ({
      producer, count: 1500, concurrency: 32, kind: 'mixed', filler: 300, vary: true, stream: false,
    }))
    const done = await Promise.all(jobs.map((j) => runProducer(drainer.handle(), j)))
    await drainer.close()
    const where = await checkLog(log, jobs)
    assert.equal(where.size, 6000)
    for (const d of done) d.offsets.forEach((off, index) => assert.equal(where.get(`${d.producer}:${index}`), off))
    await log.close()
  })

  test('8 workers each awaiting every append (parks on every record): every append settles, once each, in order', { timeout: 120_000 }, async (t) => {
    // Each append parks its worker on DURABLE until the drainer notifies it: a lost wake-up hangs
    // one of them, and node:test's timeout fails the test.
    const dir = tmpDir(t, 'threads-await-each')
    const log = await Log.open(dir, { sync: 'never' })
    const jobs: Omit<ProducerJob, 'handle'>[] = [0, 1, 2, 3, 4, 5, 6, 7].map((producer) => ({
      producer, count: 600, concurrency: 1, kind: producer % 2 === 0 ? 'bytes' : 'mixed', filler: 40, vary: true, stream: false,
    }))
    const handle = log.workerHandle() as WorkerHandle
    const done = await Promise.all(jobs.map((j) => runProducer(handle, j)))
    const where = await checkLog(log, jobs)
    assert.equal(where.size, 4800)
    for (const d of done) {
      assert.deepEqual(d.errors, [])
      d.offsets.forEach((off, index) => assert.equal(where.get(`${d.producer}:${index}`), off))
    }
    await log.close()
  })

  test('log.close() while producers wait: acknowledged records are in the log, the rest fail with ERR_CLOSED', async (t) => {
    const dir = tmpDir(t, 'threads-close')
    const log = await Log.open(dir, { sync: 'always' })
    const handle = log.workerHandle() as WorkerHandle
    const w = await LogWriter.connect(handle)
    const results: Promise<number | string>[] = []
    for (let k = 0; k < 3000; k++) results.push(w.append(recordFor(0, k, { kind: 'bytes', filler: 100, vary: false })).catch((e: { code: string }) => e.code))
    await results[10]
    await log.close()
    const settled = await Promise.all(results)
    const acked = settled.filter((r): r is number => typeof r === 'number')
    assert.ok(settled.every((r) => typeof r === 'number' || r === 'ERR_CLOSED'))
    const again = await Log.open(dir)
    assert.equal(again.nextOffset, acked.length)
    for (const off of acked) assert.deepEqual(tagOf((await again.read(off))!.data), { producer: 0, index: off })
    await again.close()
  })

  test('SIGKILL of the whole process during worker appends under sync always loses no acknowledged record', async (t) => {
    const dir = tmpDir(t, 'threads-crash')
    const jobs: Omit<ProducerJob, 'handle'>[] = [0, 1].map((producer) => ({ producer, count: 1_000_000, concurrency: 32, kind: 'mixed', filler: 120, vary: true, stream: true }))
    for (let trial = 0; trial < 3; trial++) {
      const killAfter = 300 + Math.floor(Math.random() * 1500)
      let start = -1
      const acks = await new Promise<{ producer: number; index: number; offset: number }[]>((resolve, reject) => {
        const child = spawn(process.execPath, [crashChild, dir, '2'], { stdio: ['ignore', 'pipe', 'pipe'] })
        const seen: { producer: number; index: number; offset: number }[] = []
        let buffered = ''
        let stderr = ''
        child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
        child.stdout.on('data', (d: Buffer) => {
          buffered += d.toString()
          const lines = buffered.split('\n')
          buffered = lines.pop() ?? ''
          for (const line of lines) {
            if (line.startsWith('start ')) { start = Number(line.slice(6)); continue }
            const [producer, index, offset] = line.split(' ').map(Number)
            seen.push({ producer, index, offset })
            if (seen.length === killAfter) child.kill('SIGKILL')
          }
        })
        child.on('exit', (code, signal) => signal === 'SIGKILL' ? resolve(seen) : reject(new Error(`child exited with ${code}: ${stderr}`)))
      })
      const log = await Log.open(dir, { sync: 'always' })
      try {
        // Each trial restarts the producers' indexes: check this trial's part of the log. Whatever
        // reached the log is once and in order; every acknowledged record is there, byte for byte.
        assert.ok(start >= 0)
        const where = await checkLog(log, jobs, { from: start })
        for (const a of acks) assert.equal(where.get(`${a.producer}:${a.index}`), a.offset, `acknowledged ${a.producer}:${a.index} lost (trial ${trial})`)
      } finally {
        await log.close()
      }
    }
  })
})
