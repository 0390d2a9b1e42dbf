import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Log } from '../../src/index.js'
import { recordFor } from '../fixtures/records.js'
import { tmpDir } from '../helpers/tmp.js'

const writer = fileURLToPath(new URL('../fixtures/crash-writer.js', import.meta.url))
const TRIALS = Number(process.env.SEGLOG_CRASH_TRIALS ?? (process.env.SOAK ? 300 : 12))

/** Runs the writer until it has acknowledged `killAfter` more records, then SIGKILLs it. */
function runAndKill(dir: string, killAfter: number, args: string[]): Promise<{ acked: number; start: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let acked = -1
    let start = -1
    let seen = 0
    let buffered = ''
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString()
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines) {
        if (line.startsWith('start ')) {
          start = Number(line.slice(6))
          continue
        }
        acked = Math.max(acked, Number(line))
        if (++seen === killAfter) child.kill('SIGKILL')
      }
    })
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve({ acked, start })
      else reject(new Error(`writer exited with ${code}: ${stderr}`))
    })
  })
}

async function checkLog(dir: string, acked: number): Promise<number> {
  const log = await Log.open(dir, { sync: 'always', segmentBytes: 65536 })
  try {
    assert.ok(log.nextOffset > acked, `acknowledged offset ${acked} lost: log ends at ${log.nextOffset}`)
    let expected = 0
    for await (const rec of log.iterate()) {
      assert.equal(rec.offset, expected, 'offsets are contiguous')
      assert.deepEqual(rec.data, recordFor(rec.offset), `record ${rec.offset} is byte-identical`)
      expected++
    }
    assert.equal(expected, log.nextOffset)
    return log.nextOffset
  } finally {
    await log.close()
  }
}

test('SIGKILL at random moments never loses an acknowledged record (append, group commit, rolls)', async (t) => {
  const dir = tmpDir(t, 'crash')
  let total = 0
  for (let trial = 0; trial < TRIALS; trial++) {
    const killAfter = 1 + Math.floor(Math.random() * 400)
    const { acked, start } = await runAndKill(dir, killAfter, ['8', '65536', trial % 3 === 2 ? 'batch' : 'append'])
    assert.equal(start, total, 'the writer resumed at the recovered end')
    total = await checkLog(dir, acked)
  }
  const report = await Log.verify(dir)
  assert.equal(report.ok, true, JSON.stringify(report.faults))
  assert.equal(report.records, total)
})
