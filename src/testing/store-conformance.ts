// The conformance suite every ObjectStore must pass, shipped so that authors of their own stores
// can run it. Modelled on the Rust object_store crate's src/integration.rs, with seglog's own
// promises added (create-only races, if-match on a missing key, code-point key order, hostile
// keys). It imports only node: built-ins and seglog's own modules, never test helpers.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { TestContext } from 'node:test'
import { SeglogError } from '../errors.js'
import { compareKeys } from '../objects/keys.js'
import { withRetry } from '../objects/retry.js'
import type { ByteRange, ObjectStore, PutOptions } from '../objects/types.js'

/**
 * What a store can do, for {@link storeConformance}. Every flag is a documented difference from
 * the full contract: a check that a store cannot pass is replaced by one that pins what it does
 * instead, never dropped silently.
 */
export interface StoreCapabilities {
  /**
   * `put(…, { mode: 'create' })` fails with `ERR_CONFLICT` when the key exists, also when writers
   * race. Default: the store's own `enforcesCreateOnly`.
   */
  enforcesCreateOnly?: boolean
  /**
   * `put(…, { mode: { ifMatch } })` is supported: puts return a version and a stale or missing
   * version fails with `ERR_CONFLICT`. Default true.
   */
  ifMatch?: boolean
  /**
   * A key can name an object and, at the same time, be a folder of other keys (`a` and `a/b`), as
   * on S3 and Azure. Default true. When false (a filesystem), such a put must fail with a
   * non-transient `ERR_STORE` that leaves every object in place.
   */
  objectAndFolder?: boolean
  /**
   * Run the listing test with this many keys (more than 1,000 exercises continuation tokens).
   * Default: skipped.
   */
  manyKeys?: number
  /**
   * How the server orders keys in a listing: `'code-point'` (the contract: UTF-8 byte order, as
   * S3 does) or `'utf-16'` (UTF-16 code units, as Azurite 3.35 does; the two differ only between
   * characters above U+FFFF and U+E000–U+FFFF). With `'utf-16'` the order check pins that order
   * instead. `'unordered'` (s3rver 3.7, which walks its folders: `a/x` before `a a/y`, and whose
   * continuation tokens skip keys above U+FFFF): only which keys are listed is checked.
   * Default `'code-point'`.
   */
  keyOrder?: 'code-point' | 'utf-16' | 'unordered'
  /**
   * A ranged read of an empty object works (an empty result). Default true; s3rver 3.7 drops the
   * connection instead.
   */
  rangedReadOfEmptyObject?: boolean
  /**
   * A put and a delete racing in one folder both work. Default true; s3rver 3.7 answers 500 or
   * crashes (it removes emptied folders without guarding against a concurrent put).
   */
  racingPutAndDelete?: boolean
  /**
   * Retry `deleteMany` on transient failures inside the suite (s3rver answers 500 when one
   * multi-delete empties nested folders concurrently). Default false.
   */
  retryDeleteMany?: boolean
}

async function keysOf(it: AsyncIterable<{ key: string }>): Promise<string[]> {
  const out: string[] = []
  for await (const m of it) out.push(m.key)
  return out
}

function isCode(code: string): (e: unknown) => boolean {
  return (e) => e instanceof SeglogError && e.code === code
}

function isFatalStoreError(e: unknown): boolean {
  return e instanceof SeglogError && e.code === 'ERR_STORE' && e.details.transient !== true
}

/**
 * Runs the object-store conformance suite as subtests of `t`, against `store`, under the key
 * prefix `base` (a fresh, unique folder: the suite writes and deletes keys below it only).
 *
 * ```ts
 * import { test } from 'node:test'
 * import { storeConformance } from 'seglog/testing'
 * test('my store', (t) => storeConformance(t, new MyStore(), `run-${Date.now()}`, { manyKeys: 1100 }))
 * ```
 *
 * @param t - the test context the subtests run under.
 * @param store - the store under test.
 * @param base - a unique key prefix for this run, such as `run-<timestamp>`.
 * @param capabilities - what the store can do; see {@link StoreCapabilities}.
 */
export async function storeConformance(t: TestContext, store: ObjectStore, base: string, capabilities: StoreCapabilities = {}): Promise<void> {
  const caps = {
    enforcesCreateOnly: capabilities.enforcesCreateOnly ?? store.enforcesCreateOnly,
    ifMatch: capabilities.ifMatch ?? true,
    objectAndFolder: capabilities.objectAndFolder ?? true,
    manyKeys: capabilities.manyKeys,
    retryDeleteMany: capabilities.retryDeleteMany ?? false,
    keyOrder: capabilities.keyOrder ?? 'code-point',
    rangedReadOfEmptyObject: capabilities.rangedReadOfEmptyObject ?? true,
    racingPutAndDelete: capabilities.racingPutAndDelete ?? true,
  }
  // The keys a listing returns, in its order, or sorted where the server's order is not checked.
  const listed = async (it: AsyncIterable<{ key: string }>): Promise<string[]> => {
    const got = await keysOf(it)
    return caps.keyOrder === 'unordered' ? got.sort(compareKeys) : got
  }
  const k = (s: string): string => `${base}/${s}`
  const deleteMany = (keys: readonly string[]): Promise<void> =>
    caps.retryDeleteMany ? withRetry(() => store.deleteMany(keys), { baseDelayMs: 5 }) : store.deleteMany(keys)

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

  await t.test('create-only put', async () => {
    await store.put(k('once'), Buffer.from('first'), { mode: 'create' })
    if (!caps.enforcesCreateOnly) return
    await assert.rejects(store.put(k('once'), Buffer.from('second'), { mode: 'create' }), isCode('ERR_CONFLICT'))
    assert.equal((await store.get(k('once')))?.data.toString(), 'first')
    // Racing creates: exactly one wins, and what is stored is the winner's.
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.put(k('race'), Buffer.from(`w${i}`), { mode: 'create' })))
    const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []))
    assert.equal(won.length, 1)
    for (const r of results) if (r.status === 'rejected') assert.ok(isCode('ERR_CONFLICT')(r.reason), String(r.reason))
    assert.equal((await store.get(k('race')))?.data.toString(), `w${won[0]}`)
  })

  await t.test('if-match put (object_store put_opts)', async () => {
    if (!caps.ifMatch) return
    const v1 = await store.put(k('cas'), Buffer.from('1'))
    assert.ok(v1.version !== undefined, 'a store that supports ifMatch returns versions')
    const v2 = await store.put(k('cas'), Buffer.from('2'), { mode: { ifMatch: v1.version } })
    assert.ok(v2.version !== undefined)
    assert.notEqual(v2.version, v1.version)
    assert.equal((await store.head(k('cas')))?.version, v2.version)
    assert.equal((await store.get(k('cas')))?.data.toString(), '2')
    await assert.rejects(store.put(k('cas'), Buffer.from('3'), { mode: { ifMatch: v1.version } }), isCode('ERR_CONFLICT'))
    assert.equal((await store.get(k('cas')))?.data.toString(), '2')
    await store.put(k('cas'), Buffer.from('4'), { mode: { ifMatch: v2.version } })
    assert.equal((await store.get(k('cas')))?.data.toString(), '4')
  })

  await t.test('if-match on a missing key is ERR_CONFLICT (S3 answers 404 NoSuchKey there)', async () => {
    if (!caps.ifMatch) return
    const v = await store.put(k('cas-ref'), Buffer.from('1'))
    assert.ok(v.version !== undefined)
    await assert.rejects(store.put(k('cas-missing'), Buffer.from('x'), { mode: { ifMatch: v.version } }), isCode('ERR_CONFLICT'))
    assert.equal(await store.head(k('cas-missing')), undefined)
  })

  await t.test('if-match counter raced by 5 writers × 10 increments (object_store put_opts RACE)', async () => {
    if (!caps.ifMatch || !caps.enforcesCreateOnly) return
    const key = k('counter')
    const increment = async (): Promise<void> => {
      for (;;) {
        // A read may be retried (a server may fail a read that races a write); a put may not: a
        // lost answer to a put that landed would count twice.
        const cur = await withRetry(() => store.get(key), { baseDelayMs: 5 })
        const mode: PutOptions['mode'] = cur === undefined ? 'create' : { ifMatch: cur.meta.version ?? '' }
        const next = cur === undefined ? 1 : Number(cur.data.toString()) + 1
        try {
          await store.put(key, Buffer.from(String(next)), { mode })
          return
        } catch (err) {
          if (!isCode('ERR_CONFLICT')(err)) throw err
        }
      }
    }
    await Promise.all(Array.from({ length: 5 }, async () => { for (let i = 0; i < 10; i++) await increment() }))
    assert.equal((await store.get(key))?.data.toString(), '50')
  })

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

  await t.test('folders are not objects; a deleted folder leaves nothing behind', async () => {
    await store.put(k('dir/test_file.json'), Buffer.from('x'))
    // object_store: a "directory" is not found by get or head.
    assert.equal(await store.get(k('dir')), undefined)
    assert.equal(await store.head(k('dir')), undefined)
    assert.equal(await store.get(k('dir'), { range: { start: 0, end: 1 } }), undefined)
    await store.delete(k('dir')) // deleting a "folder" key deletes nothing
    assert.equal((await store.get(k('dir/test_file.json')))?.data.toString(), 'x')

    await store.put(k('gone/deep/x'), Buffer.from('x'))
    await store.delete(k('gone/deep/x'))
    assert.equal(await store.head(k('gone')), undefined)
    assert.deepEqual(await keysOf(store.list(k('gone'))), [])
    // With nothing left under it, the name is free for an object, whether created or overwritten.
    await store.put(k('gone'), Buffer.from('file'), { mode: 'create' })
    assert.equal((await store.get(k('gone')))?.data.toString(), 'file')
    await store.put(k('gone'), Buffer.from('file2'))
    assert.equal((await store.get(k('gone')))?.data.toString(), 'file2')
    await store.delete(k('gone'))
    await store.put(k('gone/deep'), Buffer.from('again'))
    assert.equal((await store.get(k('gone/deep')))?.data.toString(), 'again')
    await deleteMany([k('gone/deep'), k('dir/test_file.json')])
    assert.deepEqual(await keysOf(store.list(k('gone'))), [])
    assert.deepEqual(await keysOf(store.list(k('dir'))), [])
  })

  await t.test('concurrent puts and deletes in one folder lose no object', async () => {
    if (!caps.racingPutAndDelete) return
    // A delete that empties a folder races puts into the same folder: every put that resolved
    // and was not deleted afterwards must be readable.
    for (let round = 0; round < 20; round++) {
      await store.put(k(`churn/${round}/old`), Buffer.from('old'))
      const [, put] = await Promise.all([
        store.delete(k(`churn/${round}/old`)),
        store.put(k(`churn/${round}/new`), Buffer.from(`new${round}`)),
      ])
      assert.ok(put)
      assert.equal((await store.get(k(`churn/${round}/new`)))?.data.toString(), `new${round}`, `round ${round}`)
      assert.equal(await store.get(k(`churn/${round}/old`)), undefined)
    }
    await deleteMany(Array.from({ length: 20 }, (_, r) => k(`churn/${r}/new`)))
    assert.deepEqual(await keysOf(store.list(k('churn/'))), [])
  })

  await t.test(caps.objectAndFolder ? 'a key can be an object and a folder of other keys' : 'an object and a folder of one name are refused without loss', async () => {
    await store.put(k('both/x'), Buffer.from('child'))
    if (caps.objectAndFolder) {
      await store.put(k('both'), Buffer.from('parent'))
      assert.equal((await store.get(k('both')))?.data.toString(), 'parent')
      assert.deepEqual(await listed(store.list(k('both'))), [k('both'), k('both/x')])
      await store.put(k('both/x/y'), Buffer.from('grandchild'))
      assert.equal((await store.get(k('both/x/y')))?.data.toString(), 'grandchild')
    } else {
      await assert.rejects(store.put(k('both'), Buffer.from('parent')), isFatalStoreError)
      await assert.rejects(store.put(k('both'), Buffer.from('parent'), { mode: 'create' }), isFatalStoreError)
      await assert.rejects(store.put(k('both/x/y'), Buffer.from('grandchild')), isFatalStoreError)
      assert.equal(await store.head(k('both')), undefined)
      assert.equal(await store.head(k('both/x/y')), undefined)
    }
    assert.equal((await store.get(k('both/x')))?.data.toString(), 'child')
    await deleteMany([k('both/x/y'), k('both/x'), k('both')])
    assert.deepEqual(await keysOf(store.list(k('both'))), [])
  })

  await t.test('hostile keys and bad arguments are refused and change nothing', async () => {
    await store.put(k('keep'), Buffer.from('kept'))
    for (const bad of ['', '/abs', '../x', 'a/../../x', 'a//b', 'a/./b', 'a/', 'a\\b', 'nul\u0000', 'C:/x', 'x'.repeat(2000)]) {
      await assert.rejects(store.put(bad, Buffer.from('x')), isCode('ERR_INVALID_ARGUMENT'), JSON.stringify(bad))
      await assert.rejects(store.get(bad), isCode('ERR_INVALID_ARGUMENT'))
      await assert.rejects(store.head(bad), isCode('ERR_INVALID_ARGUMENT'))
      await assert.rejects(store.delete(bad), isCode('ERR_INVALID_ARGUMENT'))
      await assert.rejects(store.deleteMany([k('keep'), bad]), isCode('ERR_INVALID_ARGUMENT'))
    }
    await assert.rejects(keysOf(store.list('../')), isCode('ERR_INVALID_ARGUMENT'))
    await assert.rejects(keysOf(store.list(k(''), { pageSize: 0 })), isCode('ERR_INVALID_ARGUMENT'))
    await assert.rejects(keysOf(store.list(k(''), { pageSize: 1.5 })), isCode('ERR_INVALID_ARGUMENT'))
    await assert.rejects(store.put(k('keep'), 'text' as unknown as Uint8Array), isCode('ERR_INVALID_ARGUMENT'))
    await assert.rejects(store.put(k('keep'), Buffer.from('y'), { mode: 'append' as unknown as 'create' }), isCode('ERR_INVALID_ARGUMENT'))
    await assert.rejects(store.put(k('keep'), Buffer.from('y'), { mode: { ifMatch: '' } }), isCode('ERR_INVALID_ARGUMENT'))
    assert.equal((await store.get(k('keep')))?.data.toString(), 'kept')
    assert.deepEqual(await keysOf(store.list(k('keep'))), [k('keep')])
    await store.delete(k('keep'))
  })

  await t.test('an aborted signal: every call rejects with a SeglogError and changes nothing', async () => {
    await store.put(k('abort/kept'), Buffer.from('kept'))
    const plain = new AbortController()
    plain.abort(new Error('caller gave up'))
    const closing = new AbortController()
    const reason = new SeglogError('ERR_CLOSED', 'closing (test)')
    closing.abort(reason)
    const aborted = (e: unknown): boolean => e instanceof SeglogError && e.code === 'ERR_CLOSED'
    for (const { signal } of [plain, closing]) {
      const check = signal === closing.signal ? (e: unknown) => e === reason : aborted
      await assert.rejects(store.put(k('abort/new'), Buffer.from('x'), { mode: 'create', signal }), check)
      await assert.rejects(store.put(k('abort/new'), Buffer.from('x'), { signal }), check)
      await assert.rejects(store.put(k('abort/kept'), Buffer.from('other'), { signal }), check)
      await assert.rejects(store.get(k('abort/kept'), { signal }), check)
      await assert.rejects(store.head(k('abort/kept'), { signal }), check)
      await assert.rejects(keysOf(store.list(k('abort/'), { signal })), check)
      await assert.rejects(store.delete(k('abort/kept'), { signal }), check)
      await assert.rejects(store.deleteMany([k('abort/kept')], { signal }), check)
    }
    assert.equal(await store.head(k('abort/new')), undefined)
    assert.equal((await store.get(k('abort/kept')))?.data.toString(), 'kept')
    assert.deepEqual(await listed(store.list(k('abort/'))), [k('abort/kept')])
    await store.delete(k('abort/kept'))
  })

  await t.test('a create-only put aborted in flight has happened wholly or not at all', async () => {
    const data = randomBytes(64 << 10)
    for (let i = 0; i < 4; i++) {
      const key = k(`abort-flight/${i}`)
      const c = new AbortController()
      const put = store.put(key, data, { mode: 'create', signal: c.signal })
      // Abort at a different point of the call each round: at once, after one or more turns.
      for (let turn = 0; turn < i * 2; turn++) await new Promise<void>((r) => setImmediate(r))
      c.abort(new Error('caller gave up'))
      const outcome = await put.then(() => 'ok' as const, (e: unknown) => e)
      const there = await store.get(key)
      if (outcome === 'ok') {
        assert.ok(there?.data.equals(data), 'a put that resolved holds its bytes')
      } else {
        assert.ok(aborted(outcome), `an aborted put rejects with ERR_CLOSED, got ${String(outcome)}`)
        assert.ok(there === undefined || there.data.equals(data), 'an aborted put leaves nothing or exactly its bytes')
      }
      await store.delete(key)
    }
    function aborted(e: unknown): boolean { return e instanceof SeglogError && e.code === 'ERR_CLOSED' }
  })

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
