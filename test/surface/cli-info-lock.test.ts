import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { Log } from '../../src/index.js'
import { runCli } from '../cli/helpers.js'
import { tmpDir } from '../helpers/tmp.js'

test('seglog info shows an empty LOCK as held by an unknown owner (text and --json), as writers treat it', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir)
  await log.append('kept')
  await log.close()
  fs.writeFileSync(path.join(dir, 'LOCK'), '')
  const text = await runCli(['info', dir])
  assert.equal(text.code, 0, text.stderr)
  assert.match(text.stdout, /lock\s+held by an unknown owner/)
  const json = await runCli(['info', dir, '--json'])
  assert.equal(json.code, 0, json.stderr)
  const info = JSON.parse(json.stdout) as { lock: unknown; nextOffset: number }
  assert.deepEqual(info.lock, { alive: true, unknownOwner: true })
  assert.equal(info.nextOffset, 1)
  const append = await runCli(['append', dir], { input: 'more\n' })
  assert.notEqual(append.code, 0, 'a writer is refused')
  assert.match(append.stderr, /locked/)
})
