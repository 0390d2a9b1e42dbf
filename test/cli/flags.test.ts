/**
 * Flag values go through the one option checker (src/cli/flags.ts → src/option-schema.ts): a bad
 * value is a usage error (exit 2) naming the flag, nothing is written, and every record written
 * before is still there. Flags that become Log.open options refuse exactly what Log.open refuses.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { isSeglogError, Log, type LogOptions } from '../../src/index.js'
import { flagValue, segmentBytesRule, syncMode, syncRule } from '../../src/cli/flags.js'
import { tmpDir } from '../helpers/tmp.js'
import { ndjson, runCli } from './helpers.js'

test('bad flag values are usage errors naming the flag; nothing is created or written, earlier records stay', async (t) => {
  const dir = tmpDir(t)
  const first = await runCli(['append', dir, '-q'], { input: 'a\nb\nc\n' })
  assert.equal(first.code, 0, first.stderr)
  const missing = path.join(tmpDir(t), 'not-yet')
  const cases: [string[], RegExp][] = [
    [['append', dir, '--segment-bytes', '10'], /--segment-bytes must be an integer from 1024 to 1073741824; got "10"/],
    [['append', missing, '--segment-bytes', '2147483648'], /--segment-bytes must be an integer from 1024/],
    [['append', dir, '--segment-bytes', '4k'], /--segment-bytes must be an integer from 1024 to 1073741824; got "4k"/],
    [['append', missing, '--sync', '0'], /--sync must be 'always' or 'never', or an integer from 1 to 3600000; got "0"/],
    [['append', dir, '--sync', '3600001'], /--sync must be .* got "3600001"/],
    [['append', dir, '--sync', 'Always'], /--sync must be .* got "Always"/],
    [['append', dir, '--batch-events', '0'], /--batch-events must be a positive integer; got "0"/],
    [['tail', dir, '--poll-ms', '-5'], /--poll-ms must be a positive integer; got "-5"/],
    [['tail', dir, '--lines', '1.5'], /--lines must be a non-negative integer; got "1.5"/],
    [['cat', dir, '--limit', '1e3'], /--limit must be a non-negative integer; got "1e3"/],
    [['cat', dir, '--to', '99999999999999999999'], /--to must be a non-negative integer/],
    [['bench', '--size', 'big'], /--size must be a positive integer; got "big"/],
  ]
  const results = await Promise.all(cases.map(([args]) => runCli(args, { input: 'x\ny\n' })))
  results.forEach((r, i) => {
    const [args, re] = cases[i]
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`)
    assert.match(r.stderr, re, args.join(' '))
    assert.equal(r.stdout, '', args.join(' '))
  })
  assert.equal(fs.existsSync(missing), false, 'a refused flag creates no log')
  const cat = await runCli(['cat', dir])
  assert.deepEqual(ndjson(cat.stdout).map((r) => r.data), ['a', 'b', 'c'])
})

test('valid flag values are taken: --sync as a number of ms, --segment-bytes at its bounds', async (t) => {
  const dir = tmpDir(t)
  const r = await runCli(['append', dir, '--sync', '50', '--segment-bytes', '1024'], { input: `${'x'.repeat(100)}\n`.repeat(30) })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout.trim().split('\n').length, 30)
  assert.ok(fs.readdirSync(dir).filter((n) => n.endsWith('.log')).length > 1, '--segment-bytes 1024 rolled segments')
  assert.deepEqual(syncMode(flagValue('--sync', syncRule)('50')), { intervalMs: 50 })
  assert.equal(syncMode(flagValue('--sync', syncRule)('never')), 'never')
})

test('--sync and --segment-bytes refuse exactly what Log.open refuses (no drift between the two checks)', async (t) => {
  const probe = async (options: LogOptions): Promise<boolean> => {
    try {
      const log = await Log.open(tmpDir(t), options)
      await log.close()
      return true
    } catch (err) {
      assert.ok(isSeglogError(err, 'ERR_INVALID_ARGUMENT'), String(err))
      return false
    }
  }
  const cli = <T>(parse: (raw: string) => T, raw: string): T | undefined => {
    try { return parse(raw) } catch { return undefined }
  }
  for (const raw of ['0', '1', '1023', '1024', '1025', String(1 << 30), String((1 << 30) + 1)]) {
    const byCli = cli(flagValue('--segment-bytes', segmentBytesRule), raw)
    assert.equal(byCli !== undefined, await probe({ segmentBytes: Number(raw) }), `--segment-bytes ${raw}`)
  }
  for (const raw of ['0', '1', '3600000', '3600001', 'always', 'never']) {
    const byCli = cli(flagValue('--sync', syncRule), raw)
    const sync = /^\d+$/.test(raw) ? { intervalMs: Number(raw) } : raw as 'always' | 'never'
    assert.equal(byCli !== undefined, await probe({ sync, readOnly: false }), `--sync ${raw}`)
  }
})
