// What every group of the conformance suite works with: the store, its capabilities, the run's key
// prefix, and the small helpers the checks share.
import type { TestContext } from 'node:test'
import { SeglogError } from '../../errors.js'
import { compareKeys } from '../../objects/keys.js'
import { withRetry } from '../../objects/retry.js'
import type { ObjectStore } from '../../objects/types.js'
import type { ResolvedCapabilities } from './capabilities.js'

/** One run of the suite against one store. */
export interface ConformanceRun {
  readonly t: TestContext
  readonly store: ObjectStore
  readonly caps: ResolvedCapabilities
  /** The key `s` under the run's prefix. */
  k(s: string): string
  /** The keys a listing returns, in its order, or sorted where the server's order is not checked. */
  listed(it: AsyncIterable<{ key: string }>): Promise<string[]>
  /** `store.deleteMany`, retried on transient failures when the capabilities ask for it. */
  deleteMany(keys: readonly string[]): Promise<void>
}

export function conformanceRun(t: TestContext, store: ObjectStore, base: string, caps: ResolvedCapabilities): ConformanceRun {
  return {
    t,
    store,
    caps,
    k: (s) => `${base}/${s}`,
    listed: async (it) => {
      const got = await keysOf(it)
      return caps.keyOrder === 'unordered' ? got.sort(compareKeys) : got
    },
    deleteMany: (keys) =>
      caps.retryDeleteMany ? withRetry(() => store.deleteMany(keys), { baseDelayMs: 5 }) : store.deleteMany(keys),
  }
}

export async function keysOf(it: AsyncIterable<{ key: string }>): Promise<string[]> {
  const out: string[] = []
  for await (const m of it) out.push(m.key)
  return out
}

export function isCode(code: string): (e: unknown) => boolean {
  return (e) => e instanceof SeglogError && e.code === code
}

export function isFatalStoreError(e: unknown): boolean {
  return e instanceof SeglogError && e.code === 'ERR_STORE' && e.details.transient !== true
}
