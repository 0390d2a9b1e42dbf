// Concurrency: readers while the writer appends, rolls segments and deletes old ones; and a reader
// in this process following (read-only) a writer in other processes that is SIGKILLed and
// restarted again and again. Readers never see a gap, a duplicate, a reordering or wrong bytes,
// and they agree with the log as finally recovered.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { isSeglogError, Log, type LogRecord } from '../../src/index.js'
import { prng, randInt } from '../helpers/power-loss-fs.js'
import { makeRecord, parseRecord } from './lib/records.js'
import { scratchDir } from './lib/sim-log.js'

const SOAK = Boolean(process.env.SOAK)
const SEED = Number(process.env.SEGLOG_SEED ?? Math.floor(Math.random() * 2 ** 31))
const child = fileURLToPath(new URL('../fixtures/faults-child.js', import.meta.url))

function checkRecord(rec: LogRecord): number {
  const parsed = parseRecord(rec.data)
  assert.ok(typeof parsed !== 'string', `offset ${rec.offset}: ${String(parsed)}`)
  assert.equal(parsed.offset, rec.offset, `offset ${rec.offset} holds the record appended there`)
  return parsed.uid
}

test(`readers while writing, rolling and deleting: in order, no gap or duplicate, correct bytes (seed ${SEED})`, async (t) => {
  const rng = prng(SEED)
  const dir = scratchDir(t, 'seglog-conc')
  const log = await Log.open(dir, { sync: 'always', segmentBytes: 2048, indexIntervalBytes: 128, retention: { maxBytes: 16_384 } })
  const total = SOAK ? 20_000 : 2_500
  const controller = new AbortController()
  const followers = Array.from({ length: 3 }, async () => {
    const seen: number[] = []
    for await (const rec of log.iterate({ follow: true, signal: controller.signal })) {
      checkRecord(rec)
      if (seen.length > 0) assert.ok(rec.offset > seen[seen.length - 1], 'strictly increasing')
      // A follower keeps up unless retention deleted what it had not read yet: then it skips ahead.
      if (seen.length > 0 && rec.offset !== seen[seen.length - 1] + 1) assert.ok(rec.offset <= log.firstOffset, `gap at ${rec.offset} above the first offset`)
      seen.push(rec.offset)
      if (rec.offset === total - 1) break
    }
    return seen
  })
  let pointReads = 0
  let scans = 0
  const writer = (async () => {
    let next = 0
    while (next < total) {
      const wave: Promise<unknown>[] = []
      for (let i = randInt(rng, 1, 16); i > 0 && next < total; i--) {
        const size = randInt(rng, 16, 300)
        if (rng() < 0.2 && next + 3 <= total) {
          wave.push(log.appendBatch([0, 1, 2].map((j) => makeRecord(next + j + 1, next + j, 0, size))))
          next += 3
        } else {
          wave.push(log.append(makeRecord(next + 1, next, 0, size)))
          next++
        }
      }
      if (rng() < 0.1) wave.push(log.deleteBefore(Math.max(0, next - randInt(rng, 50, 400))))
      // Point reads and short scans race with the writes, rolls and deletions.
      for (let k = 0; k < 4; k++) {
        const off = randInt(rng, 0, Math.max(0, log.nextOffset - 1))
        wave.push(log.read(off).then((rec) => {
          pointReads++
          if (rec) checkRecord(rec)
          else assert.ok(off < log.firstOffset || off >= log.nextOffset, `read(${off}) found nothing inside [${log.firstOffset}, ${log.nextOffset})`)
        }))
      }
      wave.push((async () => {
        const from = Math.max(log.firstOffset, log.nextOffset - 60)
        let expected = -1
        try {
          for await (const rec of log.iterate({ from, to: from + 40 })) {
            checkRecord(rec)
            if (expected >= 0) assert.equal(rec.offset, expected)
            expected = rec.offset + 1
          }
        } catch (err) {
          // The only acceptable failure: the range was deleted under the scan.
          assert.ok(isSeglogError(err, 'ERR_OFFSET_OUT_OF_RANGE'), String(err))
        }
        scans++
      })())
      await Promise.all(wave)
    }
  })()
  await writer
  const seen = await Promise.all(followers)
  controller.abort()
  for (const s of seen) assert.equal(s[s.length - 1], total - 1, 'every follower reached the end')
  await log.close()
  t.diagnostic(JSON.stringify({ pointReads, scans, followerRecords: seen.map((s) => s.length) }))
})

test(`a read-only follower in another process's log, whose writer is SIGKILLed and restarted, sees one order (seed ${SEED})`, async (t) => {
  const rng = prng(SEED ^ 0xabcdef)
  const dir = scratchDir(t, 'seglog-follow')
  const options = JSON.stringify({ sync: 'always', segmentBytes: 4096, indexIntervalBytes: 256 })
  const run = (args: string[]): Promise<NodeJS.Signals | null> => new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, dir, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    proc.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    proc.on('error', reject)
    proc.on('close', (code, signal) => (signal || code === 0 ? resolve(signal) : reject(new Error(`child exited ${code}: ${stderr}`))))
  })
  // Create the log, then follow it.
  await run(['recover', '0', '1', '0', '0', options])
  const follower = await Log.open(dir, { readOnly: true, followPollMs: 10 })
  const seen: [number, number][] = []
  let target = Infinity
  let reached: () => void = () => undefined
  const done = new Promise<void>((resolve) => { reached = resolve })
  const controller = new AbortController()
  const following = (async () => {
    for await (const rec of follower.iterate({ from: 0, follow: true, signal: controller.signal })) {
      if (seen.length > 0) assert.equal(rec.offset, seen[seen.length - 1][0] + 1, 'the follower sees every offset once, in order')
      else assert.equal(rec.offset, 0)
      seen.push([rec.offset, checkRecord(rec)])
      if (rec.offset + 1 >= target) reached()
    }
  })()
  const cycles = SOAK ? 100 : 12
  for (let c = 0; c < cycles; c++) {
    const signal = await run(['work', String(randInt(rng, 50, 600)), String(randInt(rng, 0, 2 ** 30)), String((c + 1) * 1_000_000), String(c), options])
    assert.equal(signal, 'SIGKILL')
  }
  await run(['recover', '0', '1', '0', '0', options])
  const final = await Log.open(dir, { readOnly: true })
  const truth = new Map<number, number>()
  for await (const rec of final.iterate()) truth.set(rec.offset, checkRecord(rec))
  target = final.nextOffset
  await final.close()
  if (seen.length >= target) reached()
  await done
  controller.abort()
  await following
  await follower.close()
  assert.equal(seen.length, target)
  for (const [off, uid] of seen) assert.equal(uid, truth.get(off), `the follower and the recovered log agree at offset ${off}`)
  t.diagnostic(JSON.stringify({ cycles, records: target }))
})
