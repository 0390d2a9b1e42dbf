import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Log, isSeglogError, type TypedLog } from '../../src/index.js'
import { tmpDir } from '../helpers/tmp.js'

interface Order { id: number; items: string[]; note?: string }

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

test("encoding 'json': append takes values, every read path gives them back parsed", async (t) => {
  const dir = tmpDir(t)
  const log: TypedLog<Order> = await Log.open<Order>(dir, { encoding: 'json' })
  assert.equal(await log.append({ id: 1, items: ['a'] }), 0)
  assert.deepEqual(await log.appendBatch([{ id: 2, items: [] }, { id: 3, items: ['b', 'c'], note: 'ü ✓' }]), { first: 1, last: 2 })
  const one = await log.read(2)
  assert.deepEqual(one?.data, { id: 3, items: ['b', 'c'], note: 'ü ✓' })
  const ids: number[] = (await all(log.iterate())).map((r) => r.data.id)
  assert.deepEqual(ids, [1, 2, 3])
  assert.deepEqual((await all(log.iterateBatches({ from: 1 }))).flat().map((r) => r.data.id), [2, 3])
  assert.deepEqual((await all(log.createReadStream({ to: 2 }) as AsyncIterable<{ data: Order }>)).map((r) => r.data.id), [1, 2])
  await log.close()
  // The same bytes through a plain Log: JSON text, which is what makes the encoding inspectable.
  const raw = await Log.open(dir, { readOnly: true })
  assert.equal((await raw.read(0))?.data.toString(), '{"id":1,"items":["a"]}')
  await raw.close()
})

test("encoding 'utf8': strings in, strings out; a non-string is ERR_INVALID_ARGUMENT", async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { encoding: 'utf8' })
  await log.append('héllo')
  const data: string | undefined = (await log.read(0))?.data
  assert.equal(data, 'héllo')
  await assert.rejects(log.append(Buffer.from('x') as unknown as string), { code: 'ERR_INVALID_ARGUMENT' })
  assert.equal(log.nextOffset, 1)
  await log.close()
})

test('a JSON value that cannot be encoded (BigInt, cycle, undefined) is ERR_INVALID_ARGUMENT and writes nothing', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open<unknown>(dir, { encoding: 'json' })
  await log.append({ kept: true })
  const cycle: Record<string, unknown> = {}
  cycle.self = cycle
  for (const bad of [{ n: 1n }, cycle, undefined, () => 1]) {
    const err: unknown = await log.append(bad).then(() => undefined, (e: unknown) => e)
    assert.ok(isSeglogError(err, 'ERR_INVALID_ARGUMENT'), String(err))
    assert.match(err.message, /nothing was written/)
  }
  // One bad value in a batch: the whole batch is refused before anything is appended.
  await assert.rejects(log.appendBatch([{ ok: 1 }, { n: 2n }]), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT') && /record 1/.test(e.message))
  assert.equal(log.nextOffset, 1)
  assert.equal(await log.append({ after: true }), 1, 'the log goes on')
  await log.close()
  const again = await Log.open(dir, { encoding: 'json' })
  assert.deepEqual((await all(again.iterate())).map((r) => r.data), [{ kept: true }, { after: true }])
  await again.close()
})

test("default 'bytes' is today's Log; an unknown encoding is ERR_INVALID_ARGUMENT; reading non-JSON with 'json' says so", async (t) => {
  const dir = tmpDir(t)
  await assert.rejects(Log.open(dir, { encoding: 'yaml' } as unknown as { encoding: 'json' }), { code: 'ERR_INVALID_ARGUMENT' })
  const log = await Log.open(dir, { encoding: 'bytes' })
  await log.append(Buffer.from([0xff, 0x00]))
  await log.append('text')
  const data: Buffer | undefined = (await log.read(0))?.data
  assert.ok(Buffer.isBuffer(data))
  assert.equal(Object.hasOwn(log, 'append'), false, "no per-instance wrapper on a 'bytes' log")
  await log.close()
  const json = await Log.open(dir, { encoding: 'json' })
  const err: unknown = await json.read(0).then(() => undefined, (e: unknown) => e)
  assert.ok(isSeglogError(err, 'ERR_INVALID_ARGUMENT'), String(err))
  assert.match(err.message, /record 0 .* is not JSON/)
  await assert.rejects(all(json.iterate()), { code: 'ERR_INVALID_ARGUMENT' })
  await json.close()
  const bytes = await Log.open(dir)
  assert.deepEqual([...((await bytes.read(0))?.data ?? [])], [0xff, 0x00], 'the data is untouched')
  await bytes.close()
})

test('an encoded append that waits behind an exclusive operation or a full buffer is encoded once', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open<string>(dir, { encoding: 'json', writeBufferBytes: 4096, sync: 'never' })
  const big = 'x'.repeat(3000)
  const pending = [log.append(big), log.append(big), log.deleteBefore(0).then(() => -1), log.append('after')]
  await Promise.all(pending)
  await log.close()
  const again = await Log.open<string>(dir, { encoding: 'json' })
  assert.deepEqual((await all(again.iterate())).map((r) => r.data.length), [3000, 3000, 5])
  await again.close()
})
