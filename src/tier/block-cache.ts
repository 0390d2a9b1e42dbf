/**
 * A least-recently-used cache bounded by bytes, not entries: remote blocks differ in size by
 * orders of magnitude, and the bound is what the caller budgets memory by. The sum of cached
 * entries' sizes never exceeds the limit, at any moment; a value larger than the whole limit is
 * not cached at all (the caller uses it once and lets it go).
 */
import { invariantViolated } from '../invariant.js'

export class ByteLru<V> {
  // A Map iterates in insertion order; re-inserting on use makes the first key the least recent.
  readonly #entries = new Map<string, { value: V; bytes: number }>()
  #bytes = 0

  constructor(readonly limitBytes: number) {}

  /** Bytes held now (≤ {@link limitBytes}). */
  get bytes(): number { return this.#bytes }
  /** Entries held now. */
  get size(): number { return this.#entries.size }

  /** The value under `key`, marked most recently used. */
  get(key: string): V | undefined {
    const e = this.#entries.get(key)
    if (e === undefined) return undefined
    this.#entries.delete(key)
    this.#entries.set(key, e)
    return e.value
  }

  /**
   * Caches `value` (of `bytes` bytes) under `key`, evicting the least recently used entries to
   * make room. Returns false, caching nothing, when `bytes` exceeds the whole limit.
   */
  set(key: string, value: V, bytes: number): boolean {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw invariantViolated('cache entry sizes are whole byte counts', { bytes })
    this.delete(key)
    if (bytes > this.limitBytes) return false
    for (const [k, e] of this.#entries) {
      if (this.#bytes + bytes <= this.limitBytes) break
      this.#entries.delete(k)
      this.#bytes -= e.bytes
    }
    this.#entries.set(key, { value, bytes })
    this.#bytes += bytes
    if (this.#bytes > this.limitBytes) throw invariantViolated('the remote cache stays within cacheBytes', { bytes: this.#bytes, limit: this.limitBytes })
    return true
  }

  /** Drops `key` if cached. */
  delete(key: string): void {
    const e = this.#entries.get(key)
    if (e === undefined) return
    this.#entries.delete(key)
    this.#bytes -= e.bytes
  }

  /** Drops every entry whose key starts with `prefix` (a deleted object's blocks). */
  deletePrefix(prefix: string): void {
    for (const k of [...this.#entries.keys()]) if (k.startsWith(prefix)) this.delete(k)
  }

  clear(): void {
    this.#entries.clear()
    this.#bytes = 0
  }
}
