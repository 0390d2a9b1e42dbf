// Process crashes: a real child process SIGKILLs itself at the n-th file-system operation of a
// workload (appends, batches, segment rolls, retention, truncate, deleteBefore), then recovery
// runs in children that are killed part-way too, and the parent checks the log.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Log, type LogOptions } from '../../src/index.js'
import { prng, randInt } from '../helpers/power-loss-fs.js'
import { parseRecord } from './lib/records.js'
import { scratchDir } from './lib/sim-log.js'

const SOAK = Boolean(process.env.SOAK)
const TRIALS = Number(process.env.SEGLOG_CRASH_TRIALS ?? (SOAK ? 600 : 40))
const SEED = Number(process.env.SEGLOG_SEED ?? Math.floor(Math.random() * 2 ** 31))
const child = fileURLToPath(new URL('../fixtures/faults-child.js', import.meta.url))

interface ChildResult { lines: string[]; signal: NodeJS.Signals | null; code: number | null; stderr: string }

function runChild(args: string[]): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    proc.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    proc.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    proc.on('error', reject)
    proc.on('close', (code, signal) => resolve({ lines: stdout.split('\n').filter(Boolean), signal, code, stderr }))
  })
}

test(`SIGKILL at every kind of file-system operation, and during recovery, never loses an acknowledged record (seed ${SEED})`, async (t) => {
  const rng = prng(SEED)
  const dir = scratchDir(t, 'seglog-kill')
  const acked = new Map<number, number>()
  let everDeleted = false
  const stats = { kills: 0, recoveryKills: 0, recoveriesDone: 0, truncates: 0, replayed: 0, torn: 0 }
  const countRecovery = (lines: string[]): void => {
    for (const line of lines) {
      const [kind, replayed, torn] = line.split(' ')
      if (kind === 'r') {
        stats.replayed += Number(replayed)
        stats.torn += Number(torn)
      }
    }
  }
  for (let trial = 0; trial < TRIALS; trial++) {
    const options: LogOptions & { truncates: boolean; deletes: boolean } = {
      sync: 'always', segmentBytes: 4096, indexIntervalBytes: 256,
      truncates: rng() < 0.5, deletes: rng() < 0.3,
      ...(rng() < 0.3 ? { retention: { maxBytes: 30_000 } } : {}),
    }
    everDeleted ||= options.deletes || options.retention !== undefined
    const killAt = randInt(rng, 1, 400)
    const context = `seed ${SEED} trial ${trial} killAt ${killAt} ${JSON.stringify(options)}`
    const res = await runChild([dir, 'work', String(killAt), String(randInt(rng, 0, 2 ** 30)), String(trial * 1_000_000 + 1), String(trial), JSON.stringify(options)])
    assert.equal(res.signal, 'SIGKILL', `${context}: the child dies at its crash point (${res.code}: ${res.stderr})`)
    stats.kills++
    countRecovery(res.lines)
    for (const line of res.lines) {
      const [kind, a, b] = line.split(' ')
      if (kind === 'a') acked.set(Number(a), Number(b))
      if (kind === 't') {
        stats.truncates++
        for (const off of [...acked.keys()]) if (off >= Number(a)) acked.delete(off)
      }
    }
    // Crash during recovery, possibly more than once, before a recovery that completes.
    for (let k = randInt(rng, 0, 2); k > 0; k--) {
      const r = await runChild([dir, 'recover', String(randInt(rng, 1, 8)), '1', '0', '0', JSON.stringify(options)])
      countRecovery(r.lines)
      if (r.signal === 'SIGKILL') stats.recoveryKills++
      else {
        assert.equal(r.code, 0, `${context}: recovery child failed: ${r.stderr}`)
        stats.recoveriesDone++
      }
    }
    const { truncates: _t, deletes: _d, ...logOptions } = options
    const log = await Log.open(dir, logOptions)
    try {
      if (log.recovery.replayedTruncate) stats.replayed++
      if (log.recovery.truncated) stats.torn++
      if (!everDeleted) assert.equal(log.firstOffset, 0, `${context}: nothing was deleted`)
      let expected = log.firstOffset
      let lastGen = -1
      const seen = new Map<number, number>()
      for await (const rec of log.iterate()) {
        assert.equal(rec.offset, expected++, `${context}: offsets are contiguous`)
        const parsed = parseRecord(rec.data)
        assert.ok(typeof parsed !== 'string', `${context}: offset ${rec.offset}: ${String(parsed)}`)
        assert.equal(parsed.offset, rec.offset, `${context}: offset ${rec.offset} holds a record appended there`)
        assert.ok(parsed.gen >= lastGen, `${context}: no old record comes back after a newer one`)
        lastGen = parsed.gen
        seen.set(rec.offset, parsed.uid)
      }
      assert.equal(expected, log.nextOffset)
      for (const [off, uid] of acked) {
        if (off < log.firstOffset) {
          acked.delete(off)
          continue
        }
        assert.equal(seen.get(off), uid, `${context}: acknowledged record at offset ${off} is ${seen.has(off) ? 'replaced' : 'missing'}`)
      }
    } finally {
      await log.close()
    }
  }
  const report = await Log.verify(dir)
  assert.deepEqual(report.faults.filter((f) => f.kind !== 'index'), [])
  t.diagnostic(JSON.stringify(stats))
})
