import assert from 'node:assert/strict'
import { execFile, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Log } from '../../src/index.js'
import { tmpDir } from '../helpers/tmp.js'

const tryOpen = fileURLToPath(new URL('../fixtures/try-open.js', import.meta.url))
const run = promisify(execFile)

test('a second writer, in this process or another, gets ERR_LOCKED and changes nothing', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir)
  await log.append('mine')
  await assert.rejects(Log.open(dir), { code: 'ERR_LOCKED' })
  const { stdout } = await run(process.execPath, [tryOpen, dir])
  assert.deepEqual(JSON.parse(stdout), { ok: false, code: 'ERR_LOCKED' })
  assert.equal(await log.append('still mine'), 1)
  await log.close()
  const again = await Log.open(dir)
  assert.equal(again.nextOffset, 2)
  assert.equal((await again.read(1))?.data.toString(), 'still mine')
  await again.close()
})

test('a lock left by a killed process is reclaimed', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir)
  await log.append('before')
  await log.close()
  const dead = spawnSync(process.execPath, ['-e', '0'])
  fs.writeFileSync(path.join(dir, 'LOCK'), JSON.stringify({ pid: dead.pid, start: '1', host: (await import('node:os')).hostname() }))
  const { stdout } = await run(process.execPath, [tryOpen, dir])
  assert.deepEqual(JSON.parse(stdout), { ok: true, off: 1 })
  const again = await Log.open(dir)
  assert.equal((await again.read(0))?.data.toString(), 'before')
  await again.close()
})

test('a torn, empty lock file counts as stale', async (t) => {
  const dir = tmpDir(t)
  fs.writeFileSync(path.join(dir, 'LOCK'), '')
  const log = await Log.open(dir)
  assert.equal(await log.append('x'), 0)
  await log.close()
})

test('readOnly opens take no lock and follow a writer in another process', async (t) => {
  const dir = tmpDir(t)
  const writer = await Log.open(dir, { sync: 'never', segmentBytes: 2048 })
  for (let i = 0; i < 10; i++) await writer.append(`w${i}`.padEnd(60, '.'))
  await writer.sync()
  const reader = await Log.open(dir, { readOnly: true, followPollMs: 5 })
  assert.equal(reader.nextOffset, 10)
  const ac = new AbortController()
  const seen: string[] = []
  const following = (async () => {
    for await (const rec of reader.iterate({ follow: true, signal: ac.signal })) {
      seen.push(rec.data.toString())
      if (seen.length === 200) ac.abort()
    }
  })()
  for (let i = 10; i < 200; i++) await writer.append(`w${i}`.padEnd(60, '.'))
  await writer.sync()
  await following
  assert.deepEqual(seen, Array.from({ length: 200 }, (_, i) => `w${i}`.padEnd(60, '.')))
  assert.ok(writer.segmentsInfo().length > 1, 'the follower crossed segment rolls')
  await assert.rejects(reader.append('nope'), { code: 'ERR_READ_ONLY' })
  await assert.rejects(reader.truncate(0), { code: 'ERR_READ_ONLY' })
  await reader.close()
  await writer.close()
})
