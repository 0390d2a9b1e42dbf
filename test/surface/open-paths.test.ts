import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { Log, isSeglogError } from '../../src/index.js'
import { tmpDir } from '../helpers/tmp.js'

test('a read-only open of a log nobody created yet is ERR_NOT_FOUND (retry), and works once a writer creates it', async (t) => {
  const dir = path.join(tmpDir(t), 'later')
  const err: unknown = await Log.open(dir, { readOnly: true }).then(() => undefined, (e: unknown) => e)
  assert.ok(isSeglogError(err, 'ERR_NOT_FOUND'), String(err))
  assert.match(err.message, /retry/)
  assert.equal(fs.existsSync(dir), false, 'the follower created nothing')
  const writer = await Log.open(dir)
  await writer.append('first')
  const follower = await Log.open(dir, { readOnly: true })
  assert.equal((await follower.read(0))?.data.toString(), 'first')
  await follower.close()
  await writer.close()
})

test('Log.open on a path that is a file is ERR_INVALID_ARGUMENT and leaves the file as it was', async (t) => {
  const root = tmpDir(t)
  const file = path.join(root, 'not-a-dir')
  fs.writeFileSync(file, 'precious')
  for (const [target, options] of [[file, {}], [file, { readOnly: true }], [path.join(file, 'below'), {}], [path.join(file, 'below'), { readOnly: true }]] as const) {
    const err: unknown = await Log.open(target, options).then(() => undefined, (e: unknown) => e)
    assert.ok(isSeglogError(err, 'ERR_INVALID_ARGUMENT'), `${target} ${JSON.stringify(options)}: ${String(err)}`)
    assert.match(err.message, /not a directory/)
  }
  assert.equal(fs.readFileSync(file, 'utf8'), 'precious')
  assert.deepEqual(fs.readdirSync(root), ['not-a-dir'])
})

test('lockHolder reports an empty or foreign LOCK as held by an unknown owner, as writers treat it; data stays', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir)
  await log.append('kept')
  await log.close()
  assert.equal(Log.lockHolder(dir), undefined)
  for (const contents of ['', 'written by another tool\n', '{"pid":"x"}']) {
    fs.writeFileSync(path.join(dir, 'LOCK'), contents)
    assert.deepEqual(Log.lockHolder(dir), { alive: true, unknownOwner: true }, JSON.stringify(contents))
    await assert.rejects(Log.open(dir), { code: 'ERR_LOCKED' })
  }
  const reader = await Log.open(dir, { readOnly: true })
  assert.equal((await reader.read(0))?.data.toString(), 'kept')
  await reader.close()
  fs.unlinkSync(path.join(dir, 'LOCK'))
  const again = await Log.open(dir)
  assert.equal(Log.lockHolder(dir)?.pid, process.pid)
  assert.equal(Log.lockHolder(dir)?.unknownOwner, undefined)
  await again.close()
})
