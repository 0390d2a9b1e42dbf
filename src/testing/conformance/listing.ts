// Conformance: listing by prefix and startAfter, in code-point order, with odd keys and many pages.
import assert from 'node:assert/strict'
import { compareKeys } from '../../objects/keys.js'
import { keysOf, type ConformanceRun } from './run.js'

export async function listingCases({ t, store, caps, k, listed, deleteMany }: ConformanceRun): Promise<void> {
  await t.test('list: order, prefix, startAfter, pages, deleteMany', async () => {
    const keys = ['l/b', 'l/a', 'l/c/1', 'l/c/2', 'l-other', 'l/a0']
    for (const key of keys) await store.put(k(key), Buffer.from(key))
    const all = ['l/a', 'l/a0', 'l/b', 'l/c/1', 'l/c/2'].map(k)
    assert.deepEqual(await listed(store.list(k('l/'))), all)
    assert.deepEqual(await listed(store.list(k('l/a'))), ['l/a', 'l/a0'].map(k))
    assert.deepEqual(await listed(store.list(k('l/'), { startAfter: k('l/a0') })), ['l/b', 'l/c/1', 'l/c/2'].map(k))
    assert.deepEqual(await listed(store.list(k('l/'), { startAfter: k('l/a1') })), ['l/b', 'l/c/1', 'l/c/2'].map(k))
    assert.deepEqual(await listed(store.list(k('l/'), { startAfter: '' })), all, 'an empty startAfter means from the start')
    assert.deepEqual(await listed(store.list(k('l/'), { pageSize: 2 })), all)
    assert.deepEqual(await listed(store.list(k('l/'), { pageSize: 1, startAfter: k('l/a') })), all.slice(1))
    assert.deepEqual(await listed(store.list(k('nothing/'))), [])
    assert.deepEqual(await listed(store.list(k('l/c/2/'))), [], 'listing below an object lists nothing')
    const sizes = new Map<string, number>()
    for await (const m of store.list(k('l/'))) sizes.set(m.key, m.size)
    assert.equal(sizes.get(k('l/c/1')), 'l/c/1'.length)
    await deleteMany([...keys, 'does/not/exist'].map(k))
    assert.deepEqual(await listed(store.list(k('l'))), [])
    await store.deleteMany([])
  })

  await t.test('list order and startAfter by code point = UTF-8 byte order', async () => {
    // UTF-8 bytes: a 61, é C3 A9, ～ EF BD 9E, 😀 F0 9F 98 80. UTF-16 code units put 😀 (D83D DE00)
    // before ～ (FF5E): a store that compares JS strings with < gets this wrong.
    const keys = ['o/😀', 'o/～', 'o/a', 'o/é', 'o/😀😀', 'o/～～']
    for (const key of keys) await store.put(k(key), Buffer.from('x'))
    const want = ['o/a', 'o/é', 'o/～', 'o/～～', 'o/😀', 'o/😀😀'].map(k)
    assert.deepEqual([...want].sort(compareKeys), want)
    assert.deepEqual([...want].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))), want)
    if (caps.keyOrder !== 'utf-16') {
      assert.deepEqual(await listed(store.list(k('o/'))), want)
      if (caps.keyOrder === 'code-point') assert.deepEqual(await listed(store.list(k('o/'), { pageSize: 2 })), want)
      assert.deepEqual(await listed(store.list(k('o/'), { startAfter: k('o/～') })), want.slice(3))
      assert.deepEqual(await listed(store.list(k('o/'), { startAfter: k('o/～～') })), want.slice(4))
      assert.deepEqual(await listed(store.list(k('o/'), { startAfter: k('o/😀') })), want.slice(5))
    } else {
      const utf16 = [...want].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      assert.deepEqual(await listed(store.list(k('o/'))), utf16)
      assert.deepEqual(await listed(store.list(k('o/'), { pageSize: 2 })), utf16)
    }
    // Where both orders agree, startAfter and prefixes give the same answer everywhere.
    assert.deepEqual((await listed(store.list(k('o/'), { startAfter: k('o/é') }))).sort(compareKeys), want.slice(2))
    assert.deepEqual(await listed(store.list(k('o/😀'))), want.slice(4))
    assert.deepEqual(await listed(store.list(k('o/～'))), want.slice(2, 4))
    await deleteMany(keys.map(k))
    assert.deepEqual(await listed(store.list(k('o/'))), [])
  })

  await t.test('list with offsets (object_store list_with_offset cases)', async () => {
    const files = ['a a/b.file', 'a%2Fa.file', 'a/😀.file', 'a/a file', 'a/a%2F.file', 'a/a.file', 'a/a/b.file', 'a/b.file', 'aa/a.file', 'ab/a.file']
    for (const f of files) await store.put(k(`w/${f}`), Buffer.from('foo'))
    const cases: [string, string][] = [
      ['', 'a'], ['', 'a/a file'], ['', 'a/a/b.file'], ['', 'ab/a.file'], ['', 'a%2Fa.file'], ['', 'a/😀.file'],
      ['a/', ''], ['a/', 'a'], ['a/', 'a/😀'], ['a/', 'a/😀.file'], ['a/', 'a/b'], ['a/', 'a/a/b.file'],
    ]
    for (const [prefix, offset] of cases) {
      const got = await listed(store.list(k(`w/${prefix}`), { startAfter: k(`w/${offset}`) }))
      const want = files.filter((f) => f.startsWith(prefix) && compareKeys(f, offset) > 0).sort(compareKeys).map((f) => k(`w/${f}`))
      assert.deepEqual(got, want, `prefix ${JSON.stringify(prefix)}, startAfter ${JSON.stringify(offset)}`)
    }
    await deleteMany(files.map((f) => k(`w/${f}`)))
    assert.deepEqual(await listed(store.list(k('w/'))), [])
  })

  await t.test('keys with spaces, percent signs, emoji and punctuation (object_store put_get_delete_list)', async () => {
    const odd = ['🙀/😀.parquet', '%48%45%4C%4C%4F/foo.parquet', '🇦🇺/$shenanigans@@~.txt', '%Q.parquet',
      'foo bar/I contain spaces.parquet', "I'm a < & weird path", 'q?x=1&y=2#frag', 'plus+sign=eq', 'tilde~ and ,;:!*()\'']
    for (const [i, key] of odd.entries()) {
      await store.put(k(`s/${key}`), Buffer.from(`v${i}`))
      assert.equal((await store.get(k(`s/${key}`)))?.data.toString(), `v${i}`, key)
      assert.equal((await store.head(k(`s/${key}`)))?.size, `v${i}`.length, key)
    }
    assert.deepEqual(await listed(store.list(k('s/'))), odd.map((o) => k(`s/${o}`)).sort(compareKeys))
    assert.deepEqual(await listed(store.list(k('s/🙀'))), [k('s/🙀/😀.parquet')])
    assert.deepEqual(await listed(store.list(k('s/foo bar/'))), [k('s/foo bar/I contain spaces.parquet')])
    // A percent-encoded key is stored as written, never decoded.
    assert.deepEqual(await listed(store.list(k('s/HELLO'))), [])
    assert.equal(await store.head(k('s/HELLO/foo.parquet')), undefined)
    assert.deepEqual(await listed(store.list(k('s/%48%45'))), [k('s/%48%45%4C%4C%4F/foo.parquet')])
    await deleteMany(odd.map((o) => k(`s/${o}`)))
    assert.deepEqual(await listed(store.list(k('s/'))), [])
  })
}

/** Listing past 1,000 keys (continuation tokens), when the capabilities ask for it; runs last. */
export async function manyKeysCase({ t, store, caps, k, deleteMany }: ConformanceRun): Promise<void> {
  if (caps.manyKeys !== undefined) {
    await t.test(`list past 1,000 keys (${caps.manyKeys})`, async () => {
      const n = caps.manyKeys as number
      const names = Array.from({ length: n }, (_, i) => k(`many/${String(i).padStart(6, '0')}`))
      for (let i = 0; i < n; i += 50) await Promise.all(names.slice(i, i + 50).map((key) => store.put(key, Buffer.from('x'))))
      const listed = await keysOf(store.list(k('many/')))
      assert.equal(listed.length, n)
      assert.deepEqual(listed, names)
      const after = await keysOf(store.list(k('many/'), { startAfter: names[n - 3] }))
      assert.deepEqual(after, names.slice(n - 2))
      await deleteMany(names)
      assert.deepEqual(await keysOf(store.list(k('many/'))), [])
    })
  }
}
