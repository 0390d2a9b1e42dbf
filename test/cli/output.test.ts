// The built `seglog` binary's output path: back-pressure waits must not leak listeners, and Ctrl-C
// must stop `cat` whatever stdout is (a pipe, a file, /dev/null), with exit 130. Also the help
// texts that described options or exit codes a command does not have.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { Log } from '../../src/index.js'
import { tmpDir } from '../helpers/tmp.js'
import { CLI, runCli } from './helpers.js'

/** A log of `batches` × 1,000 records of 100 bytes (text, so ndjson prints them as strings). */
async function bigLog(dir: string, batches: number): Promise<number> {
  const log = await Log.open(dir, { sync: 'never' })
  const batch = Array.from({ length: 1000 }, (_, i) => `record ${String(i).padStart(4, '0')} `.padEnd(100, 'x'))
  for (let b = 0; b < batches; b++) await log.appendBatch(batch)
  await log.close()
  return batches * 1000
}

test('cat into a slow pipe waits for the reader without piling up listeners (no MaxListenersExceededWarning)', async (t) => {
  const dir = tmpDir(t)
  const records = await bigLog(dir, 50)
  // ~8 MB of ndjson read by a slow consumer (one chunk per timer tick), so the pipe is full and
  // nearly every 64 KiB chunk the CLI writes is a back-pressure wait: more than a hundred of them.
  const child = spawn(process.execPath, [CLI, 'cat', dir], { stdio: ['ignore', 'pipe', 'pipe'] })
  const out: Buffer[] = []
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8') })
  child.stdout.on('data', (d: Buffer) => {
    out.push(d)
    child.stdout.pause()
    setTimeout(() => child.stdout.resume(), 1)
  })
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)))
  assert.equal(code, 0, stderr)
  assert.doesNotMatch(stderr, /MaxListenersExceededWarning/)
  assert.equal(stderr, '')
  const lines = Buffer.concat(out).toString('utf8').split('\n')
  assert.equal(lines.pop(), '')
  assert.equal(lines.length, records)
})

/**
 * Starts `seglog cat` with stdout on `fd`, sends SIGINT once `progressed()` says it has printed
 * something, and resolves with how it exited.
 */
async function interruptCat(args: string[], fd: number, progressed: (pid: number) => boolean): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', fd, 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString('utf8') })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }))
  })
  // Nothing in the child announces "printing has begun" except the output itself, so look at it
  // each millisecond; the log is large enough that printing it all takes far longer.
  let done = false
  void exited.then(() => { done = true })
  while (!done && !progressed(child.pid ?? 0)) await new Promise((resolve) => setTimeout(resolve, 1))
  child.kill('SIGINT')
  const { code, signal } = await exited
  return { code, signal, stderr }
}

test('Ctrl-C stops cat when stdout is a file: exit 130, output cut short, every printed line whole', async (t) => {
  const dir = tmpDir(t)
  const records = await bigLog(dir, 1000)
  const outFile = path.join(tmpDir(t, 'seglog-out'), 'out.ndjson')
  const fd = fs.openSync(outFile, 'w')
  t.after(() => fs.closeSync(fd))
  const r = await interruptCat(['cat', dir], fd, () => fs.statSync(outFile).size > 0)
  assert.equal(r.code, 130, `exit ${r.code} (${r.signal}); stderr: ${r.stderr}`)
  const lines = fs.readFileSync(outFile, 'utf8').split('\n')
  assert.equal(lines.pop(), '', 'the output ends with a complete line')
  assert.ok(lines.length > 0 && lines.length < records, `printed ${lines.length} of ${records}`)
  lines.forEach((l, i) => assert.equal((JSON.parse(l) as { offset: number }).offset, i))
})

test('Ctrl-C stops cat when stdout is /dev/null: exit 130 long before the end', async (t) => {
  const dir = tmpDir(t)
  await bigLog(dir, 1000)
  const fd = fs.openSync('/dev/null', 'w')
  t.after(() => fs.closeSync(fd))
  // /dev/null keeps nothing, so progress is read from the child's own count of bytes written.
  const progressed = (pid: number): boolean => {
    try {
      return Number(/wchar: (\d+)/.exec(fs.readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0) > 1 << 20
    } catch {
      return false
    }
  }
  const r = await interruptCat(['cat', dir, '--format', 'json'], fd, progressed)
  assert.equal(r.code, 130, `exit ${r.code} (${r.signal}); stderr: ${r.stderr}`)
  assert.equal(r.stderr, '')
})

test('help texts list only what each command accepts', async () => {
  const [repair, compact, bench] = await Promise.all([runCli(['repair', '--help']), runCli(['compact', '--help']), runCli(['bench', '--help'])])
  for (const r of [repair, compact, bench]) assert.equal(r.code, 0, r.stderr)
  // repair works on local logs only: no journal URL options.
  assert.doesNotMatch(repair.stdout, /Store URL options|Journal URL options|--endpoint|--connection-string/)
  assert.match(repair.stdout, /1 +--dry-run: a repair is needed/)
  // compact refuses local logs, and says so.
  assert.doesNotMatch(compact.stdout, /local log directory, or a journal URL/)
  assert.match(compact.stdout, /TARGET is a journal URL \(a local log directory is refused\)/)
  assert.doesNotMatch(compact.stdout, /locked/)
  // bench neither verifies nor takes a lock.
  assert.doesNotMatch(bench.stdout, /verify|locked|data fault/)
  assert.match(bench.stdout, /130 +interrupted/)
})
