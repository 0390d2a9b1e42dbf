// iterate({ reuseBuffer: true }) and iterateBatches({ reuseBuffer: true }): one read buffer for
// the whole scan, each record's bytes valid until the iterator's next step (issue 13, W3). They
// must yield exactly what the default iterators yield, step by step, whatever happens to the log
// between steps.
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { test } from 'node:test'
import { isSeglogError, Log, MemoryStore, type LogRecord } from '../../src/index.js'
import { payload, tmpDir } from '../helpers/tmp.js'

async function filled(dir: string, batches: number, perBatch: number, size = 128, segmentBytes = 1 << 20): Promise<Log> {
  const log = await Log.open(dir, { sync: 'never', segmentBytes })
  for (let b = 0; b < batches; b++) await log.appendBatch(Array.from({ length: perBatch }, (_, k) => payload(b * perBatch + k, size)))
  return log
}

test('with reuseBuffer, iterate and iterateBatches yield every record right at its step, across segments and ranges', async (t) => {
  const dir = tmpDir(t)
  // 2,000 records of 700 B in batches of 50: 35 KiB batches straddle the 256 KiB blocks, 1 MiB segments.
  await using log = await filled(dir, 40, 50, 700)
  for (const [from, to] of [[0, 2000], [17, 1999], [613, 1400], [1999, 2000]]) {
    let next = from
    for await (const r of log.iterate({ from, to, reuseBuffer: true })) {
      assert.equal(r.offset, next++)
      assert.deepEqual(r.data, payload(r.offset, 700), `iterate: record ${r.offset}`)
    }
    assert.equal(next, to)
    next = from
    for await (const rs of log.iterateBatches({ from, to, reuseBuffer: true })) {
      // Every record of one array is checked before the next step: an array never spans a refill.
      for (const r of rs) {
        assert.equal(r.offset, next++)
        assert.deepEqual(r.data, payload(r.offset, 700), `iterateBatches: record ${r.offset}`)
      }
    }
    assert.equal(next, to)
  }
})

test('with reuseBuffer, the scan reads into one buffer; without it, views held past their step stay valid', async (t) => {
  const dir = tmpDir(t)
  await using log = await filled(dir, 20, 1000)
  const buffers = new Set<ArrayBufferLike>()
  for await (const rs of log.iterateBatches({ reuseBuffer: true })) buffers.add(rs[0].data.buffer)
  assert.equal(buffers.size, 1, 'one read buffer for the whole scan')

  const held: LogRecord[] = []
  for await (const rs of log.iterateBatches()) held.push(...rs)
  assert.equal(held.length, 20_000)
  for (const r of held) assert.deepEqual(r.data, payload(r.offset, 128), `held record ${r.offset}`)
})

test('createReadStream refuses reuseBuffer (a stream reads ahead); a bad reuseBuffer is refused; the log is intact', async (t) => {
  const dir = tmpDir(t)
  await using log = await filled(dir, 2, 100)
  assert.throws(() => log.createReadStream({ reuseBuffer: true }), (err: unknown) => isSeglogError(err) && err.code === 'ERR_INVALID_ARGUMENT' && /createReadStream/.test(err.message))
  for (const bad of ['yes', 1, null]) {
    assert.throws(() => log.iterate({ reuseBuffer: bad as unknown as boolean }), (err: unknown) => isSeglogError(err) && err.code === 'ERR_INVALID_ARGUMENT' && /reuseBuffer/.test(err.message))
    assert.throws(() => log.iterateBatches({ reuseBuffer: bad as unknown as boolean }), (err: unknown) => isSeglogError(err) && err.code === 'ERR_INVALID_ARGUMENT')
  }
  let n = 0
  for await (const r of log.createReadStream()) assert.deepEqual((r as LogRecord).data, payload(n++, 128))
  assert.equal(n, 200)
})

test('with reuseBuffer, a tiered log yields the store\'s records and the local ones right', async (t) => {
  const dir = tmpDir(t)
  const store = new MemoryStore()
  await using log = await Log.open(dir, { sync: 'never', segmentBytes: 4096, tier: { store, prefix: 'p', localRetention: { maxBytes: 8192 } } })
  for (let b = 0; b < 30; b++) await log.appendBatch(Array.from({ length: 10 }, (_, k) => payload(b * 10 + k, 100)))
  await log.syncTier({ all: true })
  // Local retention ran on the shipped segments, so the scan starts in the store.
  assert.ok(log.tierState.localFirstOffset > 0, `local first offset ${log.tierState.localFirstOffset}`)
  let next = 0
  for await (const rs of log.iterateBatches({ reuseBuffer: true })) for (const r of rs) {
    assert.equal(r.offset, next++)
    assert.deepEqual(r.data, payload(r.offset, 100))
  }
  assert.equal(next, 300)
})

type Step = { kind: 'read' } | { kind: 'append'; n: number } | { kind: 'truncate'; back: number }

/**
 * Runs one script against a fresh log: iterate and, between the iterator's steps, append or
 * truncate. Returns what each step saw at the moment it was yielded.
 */
async function observe(dir: string, steps: Step[], reuseBuffer: boolean, batches: boolean): Promise<string[]> {
  const seen: string[] = []
  const log = await Log.open(dir, { sync: 'never', segmentBytes: 8192 })
  let written = 0
  let version = 0
  const add = async (n: number): Promise<void> => {
    await log.appendBatch(Array.from({ length: n }, (_, k) => payload((written + k) * 1000 + version, 90)))
    written += n
  }
  try {
    await add(60)
    const it = batches ? log.iterateBatches({ reuseBuffer }) : log.iterate({ reuseBuffer })
    for (const step of steps) {
      if (step.kind === 'append') await add(step.n)
      else if (step.kind === 'truncate') {
        const to = Math.max(0, written - step.back)
        await log.truncate(to)
        written = to
        version++
      } else {
        try {
          const res = await it.next()
          if (res.done) {
            seen.push('done')
            break
          }
          const recs = Array.isArray(res.value) ? res.value as LogRecord[] : [res.value as LogRecord]
          seen.push(recs.map((r) => `${r.offset}:${r.data.toString('hex')}`).join(','))
        } catch (err) {
          seen.push(`error:${isSeglogError(err) ? err.code : String(err)}`)
          break
        }
      }
    }
    await it.return?.()
  } finally {
    await log.close()
  }
  return seen
}

test('reuseBuffer changes nothing a step sees, whatever appends and truncates run between steps (property, against the default)', async (t) => {
  const root = tmpDir(t)
  let run = 0
  const step = fc.oneof(
    { weight: 5, arbitrary: fc.constant<Step>({ kind: 'read' }) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 150 }).map<Step>((n) => ({ kind: 'append', n })) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 80 }).map<Step>((back) => ({ kind: 'truncate', back })) },
  )
  await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), fc.boolean(), async (steps, batches) => {
    const plain = await observe(`${root}/${run++}`, steps, false, batches)
    const reused = await observe(`${root}/${run++}`, steps, true, batches)
    assert.deepEqual(reused, plain)
  }), { numRuns: 60 })
})
