// Conformance: writing, reading back and deleting one object, whole and by byte range.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { ByteRange } from '../../objects/types.js'
import { isCode, type ConformanceRun } from './run.js'

export async function objectCases({ t, store, caps, k }: ConformanceRun): Promise<void> {
  await t.test('put, get, head, overwrite, delete', async () => {
    assert.equal(await store.get(k('missing')), undefined)
    assert.equal(await store.head(k('missing')), undefined)
    const data = randomBytes(1000)
    const r = await store.put(k('a'), data)
    const got = await store.get(k('a'))
    assert.ok(got)
    assert.deepEqual(got.data, data)
    assert.equal(got.meta.size, 1000)
    assert.equal(got.meta.key, k('a'))
    const h = await store.head(k('a'))
    assert.equal(h?.size, 1000)
    assert.equal(h?.key, k('a'))
    if (r.version !== undefined) assert.equal(h?.version, r.version)
    await store.put(k('a'), Buffer.from('second'))
    assert.equal((await store.get(k('a')))?.data.toString(), 'second')
    await store.delete(k('a'))
    assert.equal(await store.get(k('a')), undefined)
    assert.equal(await store.head(k('a')), undefined)
    await store.delete(k('a')) // idempotent
  })

  await t.test('empty object', async () => {
    await store.put(k('empty'), Buffer.alloc(0))
    assert.equal((await store.head(k('empty')))?.size, 0)
    const got = await store.get(k('empty'))
    assert.equal(got?.data.length, 0)
    assert.equal(got?.meta.size, 0)
    assert.equal((await store.get(k('empty'), { range: { start: 0 } }))?.data.length, 0)
    assert.equal((await store.get(k('empty'), { range: { start: 0, end: 0 } }))?.data.length, 0)
    if (caps.rangedReadOfEmptyObject) {
      for (const range of [{ start: 0, end: 5 }, { start: 3 }, { start: 1, end: 2 }]) {
        const r = await store.get(k('empty'), { range })
        assert.equal(r?.data.length, 0, JSON.stringify(range))
        assert.equal(r?.meta.size, 0)
      }
    }
    await store.delete(k('empty'))
  })

  await t.test('byte ranges return exactly the bytes asked for (object_store put_get_delete_list)', async () => {
    const data = Buffer.from('arbitrary data') // 14 bytes
    await store.put(k('range'), data)
    const cases: [ByteRange, string][] = [
      [{ start: 0, end: 2 }, 'ar'], // s3rver answers bytes=0-1 with the whole object
      [{ start: 3, end: 7 }, 'itra'],
      [{ start: 2, end: 5 }, 'bit'],
      [{ start: 2, end: 100 }, 'bitrary data'], // clamped to the object
      [{ start: 3 }, 'itrary data'],
      [{ start: 0 }, 'arbitrary data'],
      [{ start: 13 }, 'a'],
      [{ start: 13, end: 14 }, 'a'],
      [{ start: 5, end: 5 }, ''],
      [{ start: 14 }, ''], // at the end
      [{ start: 100 }, ''], // past the end: empty, not an error
      [{ start: 200, end: 300 }, ''],
    ]
    for (const [range, want] of cases) {
      const got = await store.get(k('range'), { range })
      assert.ok(got, JSON.stringify(range))
      assert.equal(got.data.toString(), want, JSON.stringify(range))
      assert.equal(got.meta.size, 14, `meta.size is the whole object's for ${JSON.stringify(range)}`)
    }
    assert.equal(await store.get(k('range-missing'), { range: { start: 1, end: 2 } }), undefined)
  })

  await t.test('invalid ranges are ERR_INVALID_ARGUMENT on every store, and change nothing', async () => {
    await store.put(k('badrange'), Buffer.from('arbitrary data'))
    const bad: unknown[] = [
      { start: -2 }, { start: -1, end: 3 }, { start: 1.5 }, { start: 0, end: 2.5 }, { start: 5, end: 4 },
      { start: Number.NaN }, { start: 0, end: Number.NaN }, { start: Number.POSITIVE_INFINITY },
      { start: 2 ** 53 }, { start: '3' }, { end: 3 }, null,
    ]
    for (const range of bad) {
      await assert.rejects(store.get(k('badrange'), { range: range as ByteRange }), isCode('ERR_INVALID_ARGUMENT'), JSON.stringify(range))
      await assert.rejects(store.get(k('badrange-missing'), { range: range as ByteRange }), isCode('ERR_INVALID_ARGUMENT'), JSON.stringify(range))
    }
    assert.equal((await store.get(k('badrange')))?.data.toString(), 'arbitrary data')
  })
}
