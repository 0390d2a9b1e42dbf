// The `seglog` binary against real local logs: output of each command, exit codes, a log locked
// by a running writer, a corrupt log for verify and repair, and bad arguments.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Log } from '../../src/index.js'
import { batchPositions, flipByte, segmentFiles } from '../helpers/segments.js'
import { payload, tmpDir } from '../helpers/tmp.js'
import { CLI, ndjson, runCli, startCli } from './helpers.js'

const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
const holderScript = fileURLToPath(new URL('./holder.js', import.meta.url))

async function seeded(dir: string, records = 300): Promise<void> {
  const log = await Log.open(dir, { sync: 'never', segmentBytes: 4096 })
  for (let i = 0; i < records; i += 3) await log.appendBatch([payload(i, 80), payload(i + 1, 80), payload(i + 2, 80)])
  await log.close()
}

test('--version, --help with examples and exit codes on every command', async () => {
  const v = await runCli(['--version'])
  assert.equal(v.code, 0)
  assert.equal(v.stdout.trim(), pkg.version)
  const h = await runCli(['--help'])
  assert.equal(h.code, 0)
  for (const cmd of ['info', 'cat', 'tail', 'append', 'verify', 'repair', 'compact', 'bench']) assert.match(h.stdout, new RegExp(`\\b${cmd}\\b`))
  assert.match(h.stdout, /Exit codes:/)
  const helps = await Promise.all(['info', 'cat', 'tail', 'append', 'verify', 'repair', 'compact', 'bench'].map((c) => runCli([c, '--help'])))
  for (const r of helps) {
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /Examples:\n {2}.*seglog /)
    assert.match(r.stdout, /Exit codes:\n {2}0 /)
  }
})

test('bad arguments are usage errors (exit 2) with a message on stderr and nothing on stdout', async (t) => {
  const dir = tmpDir(t)
  await seeded(dir, 30)
  const cases: [string[], RegExp][] = [
    [['frobnicate'], /unknown command/],
    [['cat'], /missing required argument/],
    [['cat', dir, '--from', 'x'], /--from must be a non-negative integer; got "x"/],
    [['cat', dir, '--format', 'yaml'], /Allowed choices are ndjson, json, raw, hex/],
    [['cat', dir, '--from', '20', '--to', '10'], /--to 10 is below --from 20/],
    [['cat', dir, '--after', '1:0'], /--after takes a journal cursor/],
    [['cat', dir, '--framing', 'length'], /--framing applies to --format raw only/],
    [['info', path.join(dir, 'missing')], /does not exist\nhint: check the path/],
    [['info', path.dirname(dir)], /holds no seglog segments/],
    [['info', 'ftp://host/x'], /unsupported URL scheme ftp:\/\//],
    [['info', 'az://container/prefix'], /needs an Azure storage connection string\nhint: pass --connection-string/],
    [['compact', dir], /works on journals/],
    [['repair', `file://${dir}`], /never repaired in place/],
    [['append', dir, '--sync', 'sometimes'], /--sync must be 'always' or 'never', or an integer from 1 to 3600000; got "sometimes"/],
    [['tail', dir, '-f', '--format', 'json'], /cannot be followed/],
    [['bench', '--records', '0'], /--records must be a positive integer; got "0"/],
  ]
  const results = await Promise.all(cases.map(([args]) => runCli(args, { env: { AZURE_STORAGE_CONNECTION_STRING: '' } })))
  results.forEach((r, i) => {
    const [args, re] = cases[i]
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`)
    assert.match(r.stderr, re, args.join(' '))
    assert.match(r.stderr, /^seglog: error: /)
    assert.equal(r.stdout, '', args.join(' '))
  })
  // Nothing above changed the log.
  const log = await Log.open(dir, { readOnly: true })
  assert.equal(log.nextOffset, 30)
  await log.close()
})

test('append reads lines or length-prefixed records from stdin and prints their offsets; cat, tail and info show them', async (t) => {
  const dir = path.join(tmpDir(t), 'log')
  const a = await runCli(['append', dir], { input: 'hello\nwörld\n\n{"id":1}\nlast line without LF' })
  assert.equal(a.code, 0, a.stderr)
  assert.equal(a.stdout, '0\n1\n2\n3\n4\n')
  assert.match(a.stderr, /appended 5 records .*offsets 0…4/)

  const binary = Buffer.from([0, 1, 2, 0xff, 0x1b, 0x5b])
  const frames = Buffer.concat([Buffer.from([6, 0, 0, 0]), binary, Buffer.from([5, 0, 0, 0]), Buffer.from('a\nb\tc')])
  const b = await runCli(['append', dir, '--framing', 'length', '--sync', 'never'], { input: frames })
  assert.equal(b.code, 0, b.stderr)
  assert.equal(b.stdout, '5\n6\n')

  const c = await runCli(['cat', dir])
  assert.equal(c.code, 0, c.stderr)
  const recs = ndjson(c.stdout)
  assert.deepEqual(recs.map((r) => r.offset), [0, 1, 2, 3, 4, 5, 6])
  assert.deepEqual(recs.map((r) => r.data), ['hello', 'wörld', '', '{"id":1}', 'last line without LF', { base64: binary.toString('base64') }, 'a\nb\tc'])
  for (const r of recs) assert.ok(typeof r.timestamp === 'number' && Math.abs((r.timestamp as number) - Date.now()) < 600_000)

  const forced = ndjson((await runCli(['cat', dir, '--base64', '--limit', '1'])).stdout)
  assert.deepEqual(forced.map((r) => r.data), [{ base64: Buffer.from('hello').toString('base64') }])

  const range = await runCli(['cat', dir, '--from', '1', '--to', '4', '--format', 'json'])
  assert.equal(range.code, 0)
  assert.deepEqual((JSON.parse(range.stdout) as { offset: number }[]).map((r) => r.offset), [1, 2, 3])
  assert.equal((await runCli(['cat', dir, '--from', '99', '--format', 'json'])).stdout, '[]\n')

  const hex = await runCli(['cat', dir, '--from', '5', '--limit', '1', '--format', 'hex'])
  assert.match(hex.stdout, /^offset 5 {2}\d{4}-\d\d-\d\dT[\d:.]+Z {2}6 bytes\n {2}00000000 {2}00 01 02 ff 1b 5b {2}.*\|\.\.\.\.\.\[\|\n$/)
  assert.ok(!hex.stdout.includes('\u001b'), 'hex output never passes control bytes through')

  // raw + length framing round-trips byte for byte into another log.
  const raw = await runCli(['cat', dir, '--format', 'raw', '--framing', 'length'])
  const copy = path.join(path.dirname(dir), 'copy')
  const back = await runCli(['append', copy, '--framing', 'length', '-q'], { input: raw.stdoutBytes })
  assert.equal(back.code, 0, back.stderr)
  assert.equal(back.stdout, '')
  assert.deepEqual((await runCli(['cat', copy, '--format', 'raw', '--framing', 'length'])).stdoutBytes, raw.stdoutBytes)
  assert.equal((await runCli(['cat', dir, '--format', 'raw', '--to', '2'])).stdout, 'hello\nwörld\n')

  const tl = await runCli(['tail', dir, '-n', '2'])
  assert.deepEqual(ndjson(tl.stdout).map((r) => r.offset), [5, 6])

  const info = await runCli(['info', dir, '--json'])
  assert.equal(info.code, 0, info.stderr)
  const i = JSON.parse(info.stdout) as Record<string, unknown>
  assert.equal(i.firstOffset, 0)
  assert.equal(i.nextOffset, 7)
  assert.equal(i.records, 7)
  assert.equal(i.formatVersion, 1)
  assert.equal(i.lock, null)
  assert.equal((i.segments as unknown[]).length, 1)
  assert.equal((i.recovery as { clean: boolean }).clean, true)
  const text = await runCli(['info', dir], { env: { NO_COLOR: '1' } })
  assert.match(text.stdout, /^log +.*\nsegments +1: 0{20}\.log/)
  assert.match(text.stdout, /\noffsets +0 … 6 \(next 7\)\nrecords +7\n/)
  assert.match(text.stdout, /\nformat +version 1\n/)
  assert.match(text.stdout, /\nlock +none\n/)
  assert.ok(!(text.stdout + text.stderr).includes('\u001b'), 'no colour when not a terminal')
})

test('a record over 16 MiB or a truncated frame stops append with exit 2; the records before it stay', async (t) => {
  const dir = tmpDir(t)
  const partial = Buffer.concat([Buffer.from([1, 0, 0, 0]), Buffer.from('x'), Buffer.from([9, 0, 0, 0]), Buffer.from('abc')])
  const r = await runCli(['append', dir, '--framing', 'length'], { input: partial })
  assert.equal(r.code, 2)
  assert.equal(r.stdout, '0\n')
  assert.match(r.stderr, /input ends inside record 2: 3 of 9 bytes arrived\nhint: records before it were appended/)
  const big = await runCli(['append', dir], { input: `ok\n${'y'.repeat((16 << 20) + 10)}\n` })
  assert.equal(big.code, 2)
  assert.equal(big.stdout, '1\n')
  assert.match(big.stderr, /record 2 has .* bytes or more, over the limit/)
  assert.deepEqual(ndjson((await runCli(['cat', dir])).stdout).map((x) => x.data), ['x', 'ok'])
})

test('a log locked by a running writer: info, cat, verify and tail -f work; append and repair exit 4', async (t) => {
  const dir = tmpDir(t)
  await seeded(dir, 30)
  const holder = spawn(process.execPath, [holderScript, dir], { stdio: ['pipe', 'pipe', 'inherit'] })
  t.after(() => { holder.kill() })
  const holderLines: string[] = []
  let holderWake: (() => void) | undefined
  holder.stdout.on('data', (d: Buffer) => {
    holderLines.push(...d.toString().split('\n').filter((l) => l !== ''))
    holderWake?.()
  })
  const holderSays = (re: RegExp): Promise<void> => new Promise((resolve) => {
    const check = (): void => { if (holderLines.some((l) => re.test(l))) resolve(); else holderWake = check }
    check()
  })
  await holderSays(/^ready/)

  const info = JSON.parse((await runCli(['info', dir, '--json'])).stdout) as { lock: { pid: number; alive: boolean }; nextOffset: number }
  assert.equal(info.lock.pid, holder.pid)
  assert.equal(info.lock.alive, true)
  assert.equal(info.nextOffset, 30)
  assert.match((await runCli(['info', dir])).stdout, new RegExp(`lock +held by process ${holder.pid} on .* \\(running\\)`))
  const c = await runCli(['cat', dir, '--from', '28'])
  assert.equal(c.code, 0, c.stderr)
  assert.deepEqual(ndjson(c.stdout).map((r) => r.offset), [28, 29])
  const v = await runCli(['verify', dir])
  assert.equal(v.code, 0, v.stdout + v.stderr)

  const ap = await runCli(['append', dir], { input: 'x\n' })
  assert.equal(ap.code, 4)
  assert.match(ap.stderr, new RegExp(`locked by a running writer \\(process ${holder.pid}.*\\nhint: stop that writer first`))
  const rp = await runCli(['repair', dir])
  assert.equal(rp.code, 4)

  // tail -f follows the other process's appends as they are written, and ends with 0 on Ctrl-C.
  const tail = startCli(['tail', '-f', '-n', '2', dir])
  assert.deepEqual((await tail.waitForLines(2)).map((l) => JSON.parse(l).offset), [28, 29])
  holder.stdin.write('live one\nlive two\n')
  const lines = await tail.waitForLines(4)
  assert.deepEqual(lines.slice(2).map((l) => JSON.parse(l).data), ['live one', 'live two'])
  tail.child.kill('SIGINT')
  const end = await tail.exited
  assert.equal(end.code, 0, end.stderr)
  holder.stdin.end()
  await new Promise((resolve) => holder.once('exit', resolve))
})

test('verify and repair on a corrupt log: every fault reported, exit 1; repair copies aside and prints what it dropped', async (t) => {
  const dir = tmpDir(t)
  await seeded(dir)
  const files = segmentFiles(dir)
  const damaged = files[2]
  const pos = batchPositions(damaged)[3]
  flipByte(damaged, pos + 50)
  const base = Number(path.basename(damaged, '.log'))

  const v = await runCli(['verify', dir])
  assert.equal(v.code, 1)
  assert.match(v.stdout, new RegExp(`FAULT corrupt +\\S*${path.basename(damaged)} byte ${pos}: .*first unreadable offset ${base + 9}`))
  assert.match(v.stdout, /1 fault\n$/)
  assert.match(v.stderr, /next: `seglog repair .* --dry-run`/)
  const vj = JSON.parse((await runCli(['verify', dir, '--json'])).stdout) as { ok: boolean; faults: { file: string; position: number; kind: string }[] }
  assert.equal(vj.ok, false)
  assert.deepEqual(vj.faults.map((f) => [f.file, f.position, f.kind]), [[damaged, pos, 'corrupt']])

  // Reading into the damage fails as a data fault, with what to do next.
  const c = await runCli(['cat', dir])
  assert.equal(c.code, 1)
  assert.match(c.stderr, /hint: run `seglog verify/)

  const before = fs.readdirSync(dir).sort()
  const dry = await runCli(['repair', dir, '--dry-run'])
  assert.equal(dry.code, 1)
  assert.match(dry.stdout, new RegExp(`would copy ${path.basename(damaged)} aside`))
  assert.match(dry.stdout, new RegExp(`would cut out ${path.basename(damaged)} from byte ${pos}: lose offsets ${base + 9}…${base + 11} \\(3 records\\), recorded as a gap`))
  assert.match(dry.stdout, /dry run: nothing changed/)
  assert.deepEqual(fs.readdirSync(dir).sort(), before)

  const r = await runCli(['repair', dir])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, new RegExp(`copied ${path.basename(damaged)} aside to (\\S+)\\n`))
  const backup = /aside to (\S+)\n/.exec(r.stdout)?.[1] as string
  assert.ok(fs.existsSync(backup))
  assert.match(r.stdout, new RegExp(`cut out ${path.basename(damaged)} from byte ${pos}: lost offsets ${base + 9}…${base + 11}`))
  assert.match(r.stdout, new RegExp(`moved the intact batches after the damage to ${String(base + 12).padStart(20, '0')}\\.log`))
  for (const f of files) assert.ok(fs.existsSync(f), `${f} is kept`)
  const info = await runCli(['info', dir])
  assert.match(info.stdout, new RegExp(`gaps +${base + 9}…${base + 11} `))
  const after = await runCli(['verify', dir])
  assert.equal(after.code, 0, after.stdout)
  assert.match(after.stdout, /ok: no faults/)
  assert.match(after.stdout, new RegExp(`GAP +offsets ${base + 9}…${base + 11} `))
  assert.match((await runCli(['repair', dir])).stdout, /nothing to repair/)
})

test('a torn tail: verify reports it (exit 1), repair cuts it without a copy', async (t) => {
  const dir = tmpDir(t)
  await seeded(dir)
  const last = segmentFiles(dir).at(-1) as string
  fs.truncateSync(last, fs.statSync(last).size - 30)
  const v = await runCli(['verify', dir, '--json'])
  assert.equal(v.code, 1)
  assert.deepEqual((JSON.parse(v.stdout) as { faults: { kind: string }[] }).faults.map((f) => f.kind), ['torn-tail'])
  const r = await runCli(['repair', dir, '--json'])
  assert.equal(r.code, 0)
  const report = JSON.parse(r.stdout) as { cut: { fromOffset: number; backup?: string } }
  assert.equal(report.cut.fromOffset, 297)
  assert.equal(report.cut.backup, undefined)
  assert.equal((await runCli(['verify', dir])).code, 0)
  // info shows what a writer's recovery will find on a torn tail too.
  fs.appendFileSync(last, Buffer.from('SEGL'))
  assert.match((await runCli(['info', dir])).stdout, /recovery +checked .*torn tail of 4 bytes/)
})

test('verify --progress draws a bar with bytes, rate and time left on stderr', async (t) => {
  const dir = tmpDir(t)
  await seeded(dir)
  const r = await runCli(['verify', dir, '--progress'])
  assert.equal(r.code, 0)
  assert.match(r.stderr, /verifying \[[=-]+\] 100% \| [\d.]+ KiB of [\d.]+ KiB \| [\d.]+ [KMG]?i?B\/s \| \d+s left/)
  assert.doesNotMatch(r.stdout, /verifying/, 'the bar never goes to stdout')
  const quiet = await runCli(['verify', dir])
  assert.equal(quiet.stderr, '', 'no bar when stderr is not a terminal')
})

test('cat into a closed pipe ends quietly', async (t) => {
  const dir = tmpDir(t)
  await seeded(dir, 3000)
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL('../../src/cli/main.js', import.meta.url)), 'cat', dir], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.stdout.once('data', () => child.stdout.destroy())
    child.on('close', (code) => resolve({ code, stderr }))
  })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stderr, '')
})

test('bench runs the built-in workloads and prints a table', async () => {
  const r = await runCli(['bench', '--records', '3000'])
  assert.equal(r.code, 0, r.stderr)
  const lines = r.stdout.split('\n')
  assert.match(lines[0], /^workload +records +time +records\/s +MB\/s$/)
  assert.equal(lines.filter((l) => /\d+\.\d\d s +[\d,]+ +[\d.]+$/.test(l)).length, 5)
  const j = JSON.parse((await runCli(['bench', '--records', '1000', '--json'])).stdout) as { results: { recordsPerSec: number }[] }
  assert.equal(j.results.length, 5)
  for (const row of j.results) assert.ok(row.recordsPerSec > 0)
})

test('on a terminal: colour and a progress bar; NO_COLOR turns colour off', async (t) => {
  const dir = tmpDir(t)
  await seeded(dir)
  flipByte(segmentFiles(dir)[1], 100)
  // `script` (util-linux) gives the command a pseudo-terminal for stdout and stderr.
  const inTty = (env: NodeJS.ProcessEnv): Promise<string> => new Promise((resolve, reject) => {
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} verify ${JSON.stringify(dir)}`
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.on('error', reject)
    child.on('close', () => resolve(out))
  })
  const colour = await inTty({ NO_COLOR: '' })
  assert.ok(colour.includes('\u001b[31mFAULT\u001b[39m'), colour)
  assert.match(colour, /verifying \[.*\] 100% \| .* of .* \| .*\/s \| \d+s left/)
  const plain = await inTty({ NO_COLOR: '1' })
  assert.match(plain, /FAULT corrupt/)
  assert.ok(!plain.includes('\u001b[31m'), 'no colour with NO_COLOR')
})
