// RetryStore alone, over MemoryStore and FaultStore, with an injected sleep (no real waiting).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { SeglogError, isSeglogError } from '../../src/errors.js'
import { FaultStore, MemoryStore, RetryStore, type Fault, type StoreOp } from '../../src/objects/index.js'

/** A sleep that records the delays asked for and returns at once. */
function recordingSleep(): { sleep: (ms: number, signal?: AbortSignal) => Promise<void>; delays: number[] } {
  const delays: number[] = []
  return {
    delays,
    sleep: async (ms, signal) => {
      delays.push(ms)
      signal?.throwIfAborted()
    },
  }
}

/** Fails the given operation with the faults in `plan`, in order, then succeeds. */
function planned(inner: MemoryStore, op: StoreOp, plan: Fault[]): FaultStore {
  let i = 0
  return new FaultStore(inner, (o) => (o === op && i < plan.length ? plan[i++] : 'ok'))
}

test('transient failures are retried with capped, jittered backoff on the injected sleep', async () => {
  const inner = new MemoryStore()
  const { sleep, delays } = recordingSleep()
  const store = new RetryStore(planned(inner, 'put', ['fail', 'fail', 'fail']), { sleep, random: () => 0.5, policy: { baseDelayMs: 100, maxDelayMs: 250 } })
  await store.put('k', Buffer.from('v'))
  assert.equal((await inner.get('k'))?.data.toString(), 'v')
  // Full jitter: random × min(max, base × 2^(n-1)) + 1.
  assert.deepEqual(delays, [51, 101, 126])
})

test('after the attempts: ERR_STORE with details.attempts and the cause; fatal errors pass at once', async () => {
  const inner = new MemoryStore()
  const { sleep, delays } = recordingSleep()
  const always = new RetryStore(new FaultStore(inner, () => 'fail'), { sleep, policy: { maxAttempts: 4 } })
  await assert.rejects(always.get('k'), (e) => isSeglogError(e, 'ERR_STORE') && e.details.attempts === 4 && e.cause instanceof SeglogError)
  assert.equal(delays.length, 3)
  const fatal = new FaultStore(inner, () => 'fatal')
  await assert.rejects(new RetryStore(fatal, { sleep }).get('k'), (e) => isSeglogError(e, 'ERR_STORE') && e.details.transient === false)
  assert.equal(fatal.calls.get, 1)
})

test('a create-only put whose reply was lost resolves: the retry finds its own bytes', async () => {
  const inner = new MemoryStore()
  const faulty = planned(inner, 'put', ['fail-after'])
  const store = new RetryStore(faulty, { sleep: recordingSleep().sleep })
  const r = await store.put('b/1', Buffer.from('mine'), { mode: 'create' })
  assert.equal(r.version, (await inner.head('b/1'))?.version)
  assert.equal(faulty.calls.put, 2)
  assert.equal(inner.size, 1)
})

test('a lost reply whose retry finds other bytes is ERR_CONFLICT (afterRetry); a first-attempt conflict passes unchanged', async () => {
  const inner = new MemoryStore()
  // The reply is lost and, before the retry, another writer replaces the object.
  let calls = 0
  const faulty = new FaultStore(inner, (op) => {
    if (op !== 'put') return 'ok'
    if (++calls === 1) return 'fail-after'
    return 'ok'
  })
  const store = new RetryStore(faulty, {
    sleep: async () => { await inner.put('b/1', Buffer.from('theirs')) },
  })
  await assert.rejects(store.put('b/1', Buffer.from('mine'), { mode: 'create' }), (e) => isSeglogError(e, 'ERR_CONFLICT') && e.details.afterRetry === true)
  assert.equal((await inner.get('b/1'))?.data.toString(), 'theirs')
  await assert.rejects(new RetryStore(inner).put('b/1', Buffer.from('x'), { mode: 'create' }), (e) => isSeglogError(e, 'ERR_CONFLICT') && e.details.afterRetry === undefined)
})

test('a listing that fails midway resumes after the last key it handed out', async () => {
  const inner = new MemoryStore({ pageSize: 3 })
  const keys = Array.from({ length: 10 }, (_, i) => `k/${String(i).padStart(2, '0')}`)
  for (const k of keys) await inner.put(k, Buffer.from('x'))
  // The inner listing dies after 4 keys, twice.
  let failures = 0
  const flaky = {
    ...Object.fromEntries(['put', 'get', 'head', 'delete', 'deleteMany'].map((m) => [m, (...a: unknown[]) => (inner as unknown as Record<string, (...x: unknown[]) => unknown>)[m](...a)])),
    name: 'flaky', enforcesCreateOnly: true,
    async *list(prefix: string, options: { startAfter?: string } = {}) {
      let n = 0
      for await (const m of inner.list(prefix, options)) {
        if (n++ === 4 && failures < 2) { failures++; throw new SeglogError('ERR_STORE', 'reset', { details: { transient: true } }) }
        yield m
      }
    },
  } as unknown as MemoryStore
  const store = new RetryStore(flaky, { sleep: recordingSleep().sleep })
  const got: string[] = []
  for await (const m of store.list('k/')) got.push(m.key)
  assert.deepEqual(got, keys)
  assert.equal(failures, 2)
})

test('an abort during the backoff stops the retries with ERR_CLOSED (or the SeglogError reason)', async () => {
  const inner = new MemoryStore()
  const c = new AbortController()
  const store = new RetryStore(new FaultStore(inner, () => 'fail'), {
    sleep: async (_ms, signal) => { c.abort(new Error('user')); signal?.throwIfAborted() },
  })
  await assert.rejects(store.put('k', Buffer.from('v'), { mode: 'create', signal: c.signal }), (e) => isSeglogError(e, 'ERR_CLOSED') && e.details.aborted === true)
  assert.equal(inner.size, 0)
  const closing = new AbortController()
  const reason = new SeglogError('ERR_CLOSED', 'journal closing')
  closing.abort(reason)
  await assert.rejects(store.get('k', { signal: closing.signal }), (e) => e === reason)
})

// For any fault sequence: a create-only put through RetryStore either resolves with the store
// holding its bytes, or rejects with a SeglogError leaving the store unchanged or holding its
// bytes; never another object, never a second copy.
test('property: a create-only put through RetryStore is never lost, duplicated or replaced', async () => {
  const fault = fc.constantFrom<Fault>('ok', 'fail', 'fail-after', 'fatal')
  await fc.assert(fc.asyncProperty(
    fc.array(fault, { maxLength: 8 }), fc.array(fault, { maxLength: 4 }), fc.boolean(), fc.integer({ min: 1, max: 6 }),
    async (putFaults, getFaults, preexisting, maxAttempts) => {
      const inner = new MemoryStore()
      if (preexisting) await inner.put('b/7', Buffer.from('theirs'))
      const before = inner.size
      let p = 0
      let g = 0
      const faulty = new FaultStore(inner, (op) => {
        if (op === 'put') return putFaults[p++] ?? 'ok'
        if (op === 'get') return getFaults[g++] ?? 'ok'
        return 'ok'
      })
      const store = new RetryStore(faulty, { sleep: async () => undefined, policy: { maxAttempts } })
      const mine = Buffer.from('mine')
      const outcome = await store.put('b/7', mine, { mode: 'create' }).then(() => 'ok' as const, (e: unknown) => e)
      const there = await inner.get('b/7')
      assert.ok(inner.size === before || inner.size === before + 1)
      if (outcome === 'ok') {
        assert.ok(there?.data.equals(mine), 'resolved: the store holds exactly our bytes')
      } else {
        assert.ok(outcome instanceof SeglogError, `rejected with a SeglogError, got ${String(outcome)}`)
        if (preexisting) assert.equal(there?.data.toString(), 'theirs', 'another writer\'s object is never replaced')
        else assert.ok(there === undefined || there.data.equals(mine), 'rejected: unchanged, or our bytes')
        if (preexisting) assert.ok(isSeglogError(outcome, 'ERR_CONFLICT') || isSeglogError(outcome, 'ERR_STORE'))
      }
    }), { numRuns: 300 })
})
