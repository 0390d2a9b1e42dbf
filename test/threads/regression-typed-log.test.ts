// A log opened with an encoding ('json', 'utf8') stores worker appends as the bytes the worker sent.
// Before issue 13 the ring drained into the log's public appendBatch, which an encoding wraps: each
// record (a view into the ring) was JSON-encoded as an object of byte values, so `read()` gave
// `{ "0": 123, "1": 34, … }` instead of the value. Fails on 46bd01c.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Log } from '../../src/index.js'
import { LogWriter, type WorkerHandle } from '../../src/threads/index.js'
import { tmpDir } from '../helpers/tmp.js'

test('worker appends to a json log are stored as sent and read back as the value', async (t) => {
  const dir = tmpDir(t, 'threads-typed')
  const log = await Log.open<{ a: number; s: string }>(dir, { sync: 'always', encoding: 'json' })
  const w = await LogWriter.connect(log.workerHandle() as WorkerHandle)
  assert.equal(await log.append({ a: 0, s: 'main' }), 0)
  assert.equal(await w.append(JSON.stringify({ a: 1, s: 'worker' })), 1)
  assert.equal(await w.append(Buffer.from(JSON.stringify({ a: 2, s: 'bytes' }))), 2)
  await w.close()
  assert.deepEqual((await log.read(1))?.data, { a: 1, s: 'worker' })
  assert.deepEqual((await log.read(2))?.data, { a: 2, s: 'bytes' })
  await log.close()
  const again = await Log.open<{ a: number; s: string }>(dir, { encoding: 'json' })
  const all = []
  for await (const r of again.iterate()) all.push(r.data)
  assert.deepEqual(all, [{ a: 0, s: 'main' }, { a: 1, s: 'worker' }, { a: 2, s: 'bytes' }])
  await again.close()
})

test('worker appends to a utf8 log read back as the strings sent', async (t) => {
  const dir = tmpDir(t, 'threads-typed')
  const log = await Log.open(dir, { sync: 'never', encoding: 'utf8' })
  const w = await LogWriter.connect(log.workerHandle() as WorkerHandle)
  assert.equal(await w.append('héllo wörld'), 0)
  await w.close()
  assert.equal((await log.read(0))?.data, 'héllo wörld')
  await log.close()
})
