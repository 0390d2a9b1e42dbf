// Conformance: hostile keys, bad arguments and aborted signals are refused and change nothing.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { SeglogError } from '../../errors.js'
import { isCode, keysOf, type ConformanceRun } from './run.js'

export async function refusalCases({ t, store, k, listed }: ConformanceRun): Promise<void> {
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
}
