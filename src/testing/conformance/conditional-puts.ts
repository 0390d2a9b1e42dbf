// Conformance: create-only and if-match puts, alone and raced by concurrent writers.
import assert from 'node:assert/strict'
import { withRetry } from '../../objects/retry.js'
import type { PutOptions } from '../../objects/types.js'
import { isCode, type ConformanceRun } from './run.js'

export async function conditionalPutCases({ t, store, caps, k }: ConformanceRun): Promise<void> {
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
}
