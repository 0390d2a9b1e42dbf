/**
 * `seglog info` learns the format version through the public API (Log.read of each segment's
 * first record), not by parsing segment headers itself: version 1 for a log this release wrote;
 * a sealed segment from a newer format is reported (exit 0, nothing changed), not misread.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { FORMAT_VERSION, Log } from '../../src/index.js'
import { segmentFiles, setBatchVersion } from '../helpers/segments.js'
import { tmpDir } from '../helpers/tmp.js'
import { runCli } from './helpers.js'

async function written(dir: string): Promise<void> {
  const log = await Log.open(dir, { segmentBytes: 1024, sync: 'never' })
  for (let i = 0; i < 60; i++) await log.append(`record-${i}-${'x'.repeat(40)}`)
  await log.close()
}

test('info reports the format version of a log written by this release', async (t) => {
  const dir = tmpDir(t)
  await written(dir)
  const r = await runCli(['info', dir, '--json'])
  assert.equal(r.code, 0, r.stderr)
  const info = JSON.parse(r.stdout) as { formatVersion: unknown; newerFormat?: unknown; segments: unknown[] }
  assert.ok(info.segments.length > 2)
  assert.equal(info.formatVersion, FORMAT_VERSION)
  assert.equal(info.newerFormat, undefined)
  const empty = tmpDir(t)
  await (await Log.open(empty)).close()
  const e = JSON.parse((await runCli(['info', empty, '--json'])).stdout) as { formatVersion: unknown }
  assert.equal(e.formatVersion, null)
})

test('a sealed segment from a newer format is reported by info; every byte stays as it was', async (t) => {
  const dir = tmpDir(t)
  await written(dir)
  const second = segmentFiles(dir)[1]
  setBatchVersion(second, 0, 2)
  const before = new Map(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f))]))
  const r = await runCli(['info', dir, '--json'])
  assert.equal(r.code, 0, r.stderr)
  const info = JSON.parse(r.stdout) as { newerFormat?: { file: string; message: string }; nextOffset: number }
  assert.equal(info.newerFormat?.file, path.basename(second))
  assert.match(info.newerFormat.message, /newer/)
  assert.equal(info.nextOffset, 60)
  const text = await runCli(['info', dir], { env: { NO_COLOR: '1' } })
  assert.match(text.stdout, new RegExp(`format +newer than version 1 in ${path.basename(second)}: upgrade seglog`))
  for (const [f, bytes] of before) assert.deepEqual(fs.readFileSync(path.join(dir, f)), bytes, `${f} changed`)
})

test('info.ts reads no segment bytes itself: it imports neither node:fs nor anything below the public API', () => {
  const source = fs.readFileSync(fileURLToPath(new URL('../../../src/cli/commands/info.ts', import.meta.url)), 'utf8')
  assert.doesNotMatch(source, /from 'node:fs'/)
  assert.doesNotMatch(source, /'SEGL'|readSync|openSync/)
  for (const m of source.matchAll(/from '(\.\.\/\.\.\/[^']+)'/g)) assert.equal(m[1], '../../index.js', `info.ts imports ${m[1]}`)
})
