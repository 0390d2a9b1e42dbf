// One conformance suite every ObjectStore must pass (like object_store's integration.rs).
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { TestContext } from 'node:test'
import { isSeglogError } from '../../src/errors.js'
import { withRetry, type ObjectStore } from '../../src/objects/index.js'

async function collect(it: AsyncIterable<{ key: string }>): Promise<string[]> {
  const out: string[] = []
  for await (const m of it) out.push(m.key)
  return out
}

/** Runs the suite as subtests of `t`. `base` is a fresh, unique prefix for this run. */
export async function conformance(t: TestContext, store: ObjectStore, base: string, opts: { manyKeys?: number } = {}): Promise<void> {
  const k = (s: string): string => `${base}/${s}`

  await t.test('put, get, head, overwrite, delete', async () => {
    assert.equal(await store.get(k('missing')), undefined)
    assert.equal(await store.head(k('missing')), undefined)
    const data = randomBytes(1000)
    const r = await store.put(k('a'), data)
    const got = await store.get(k('a'))
    assert.ok(got)
    assert.deepEqual(got.data, data)
    assert.equal(got.meta.size, 1000)
    const h = await store.head(k('a'))
    assert.equal(h?.size, 1000)
    if (r.version !== undefined) assert.equal(h?.version, r.version)
    await store.put(k('a'), Buffer.from('second'))
    assert.equal((await store.get(k('a')))?.data.toString(), 'second')
    await store.delete(k('a'))
    assert.equal(await store.get(k('a')), undefined)
    await store.delete(k('a')) // idempotent
  })

  await t.test('empty object and byte ranges', async () => {
    await store.put(k('empty'), Buffer.alloc(0))
    assert.equal((await store.get(k('empty')))?.data.length, 0)
    const data = Buffer.from('0123456789')
    await store.put(k('range'), data)
    assert.equal((await store.get(k('range'), { range: { start: 2, end: 5 } }))?.data.toString(), '234')
    assert.equal((await store.get(k('range'), { range: { start: 7 } }))?.data.toString(), '789')
    const whole = await store.get(k('range'), { range: { start: 3, end: 4 } })
    assert.equal(whole?.meta.size, 10)
  })

  await t.test('create-only put', async () => {
    await store.put(k('once'), Buffer.from('first'), { mode: 'create' })
    await assert.rejects(store.put(k('once'), Buffer.from('second'), { mode: 'create' }), (e) => isSeglogError(e, 'ERR_CONFLICT'))
    assert.equal((await store.get(k('once')))?.data.toString(), 'first')
    // Racing creates: exactly one wins.
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.put(k('race'), Buffer.from(`w${i}`), { mode: 'create' })))
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
    for (const r of results) if (r.status === 'rejected') assert.ok(isSeglogError(r.reason, 'ERR_CONFLICT'), String(r.reason))
  })

  await t.test('if-match put', async () => {
    const v1 = await store.put(k('cas'), Buffer.from('1'))
    if (v1.version === undefined) return
    const v2 = await store.put(k('cas'), Buffer.from('2'), { mode: { ifMatch: v1.version } })
    assert.equal((await store.get(k('cas')))?.data.toString(), '2')
    await assert.rejects(store.put(k('cas'), Buffer.from('3'), { mode: { ifMatch: v1.version } }), (e) => isSeglogError(e, 'ERR_CONFLICT'))
    await assert.rejects(store.put(k('cas-missing'), Buffer.from('3'), { mode: { ifMatch: v1.version } }), (e) => isSeglogError(e, 'ERR_CONFLICT'))
    assert.ok(v2.version !== undefined)
  })

  await t.test('list: order, prefix, startAfter, deleteMany', async () => {
    const keys = ['l/b', 'l/a', 'l/c/1', 'l/c/2', 'l-other', 'l/a0']
    for (const key of keys) await store.put(k(key), Buffer.from(key))
    assert.deepEqual(await collect(store.list(k('l/'))), ['l/a', 'l/a0', 'l/b', 'l/c/1', 'l/c/2'].map(k))
    assert.deepEqual(await collect(store.list(k('l/a'))), ['l/a', 'l/a0'].map(k))
    assert.deepEqual(await collect(store.list(k('l/'), { startAfter: k('l/a0') })), ['l/b', 'l/c/1', 'l/c/2'].map(k))
    assert.deepEqual(await collect(store.list(k('l/'), { pageSize: 2 })), ['l/a', 'l/a0', 'l/b', 'l/c/1', 'l/c/2'].map(k))
    assert.deepEqual(await collect(store.list(k('nothing/'))), [])
    // s3rver answers 500 when a multi-delete empties nested folders concurrently (its own race);
    // deletes are idempotent, so a retry is what real callers do too.
    await withRetry(() => store.deleteMany(keys.map(k)), { baseDelayMs: 5 })
    assert.deepEqual(await collect(store.list(k('l'))), [])
  })

  await t.test('hostile keys are refused and write nothing', async () => {
    for (const bad of ['', '/abs', '../x', 'a/../../x', 'a//b', 'a/./b', 'a/', 'a\\b', 'nul\u0000', 'C:/x', 'x'.repeat(2000)]) {
      await assert.rejects(store.put(bad, Buffer.from('x')), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'), JSON.stringify(bad))
      await assert.rejects(store.get(bad), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
      await assert.rejects(store.delete(bad), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
    }
    await assert.rejects(collect(store.list('../')), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
  })

  if (opts.manyKeys !== undefined) {
    await t.test(`list past 1,000 keys (${opts.manyKeys})`, async () => {
      const n = opts.manyKeys as number
      const names = Array.from({ length: n }, (_, i) => k(`many/${String(i).padStart(6, '0')}`))
      for (let i = 0; i < n; i += 50) await Promise.all(names.slice(i, i + 50).map((key) => store.put(key, Buffer.from('x'))))
      const listed = await collect(store.list(k('many/')))
      assert.equal(listed.length, n)
      assert.deepEqual(listed, names)
      const after = await collect(store.list(k('many/'), { startAfter: names[n - 3] }))
      assert.deepEqual(after, names.slice(n - 2))
      await withRetry(() => store.deleteMany(names), { baseDelayMs: 5 })
      assert.deepEqual(await collect(store.list(k('many/'))), [])
    })
  }
}
