import { conflictError, throwIfAborted } from './errors.js'
import { validateListOptions, validatePut } from './arguments.js'
import { compareKeys, validateKey, validateListPrefix } from './keys.js'
import { clampRange, validateRange } from './ranges.js'
import type { GetOptions, GetResult, ListOptions, ObjectMeta, ObjectStore, PutOptions, PutResult } from './types.js'

interface Entry { data: Buffer; meta: ObjectMeta }

/**
 * An in-memory {@link ObjectStore} for tests and examples. Enforces create-only and if-match
 * writes; lists in pages (default 1,000) like a real store. Data is copied in and out.
 *
 * Signals: every call checks its `signal` before it changes or reads anything and then runs to the
 * end without waiting, so an aborted call (`ERR_CLOSED`, or the signal's reason when that is a
 * `SeglogError`) has done nothing, and a call that resolves has fully happened. A listing also
 * checks between pages.
 */
export class MemoryStore implements ObjectStore {
  readonly name: string
  readonly enforcesCreateOnly = true
  readonly #objects = new Map<string, Entry>()
  #version = 0
  readonly #pageSize: number

  /** `pageSize` bounds each internal listing page (to exercise pagination). */
  constructor(options: { name?: string; pageSize?: number } = {}) {
    this.name = options.name ?? 'memory://'
    this.#pageSize = options.pageSize ?? 1000
  }

  /** Number of stored objects. */
  get size(): number { return this.#objects.size }

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    validateKey(key)
    validatePut(data, options)
    throwIfAborted(options.signal, this.name, 'put', key)
    const mode = options.mode ?? 'overwrite'
    const cur = this.#objects.get(key)
    if (mode === 'create' && cur !== undefined) throw conflictError(this.name, key)
    if (typeof mode === 'object' && (cur === undefined || cur.meta.version !== mode.ifMatch)) throw conflictError(this.name, key)
    const version = `v${++this.#version}`
    const copy = Buffer.from(data)
    this.#objects.set(key, { data: copy, meta: { key, size: copy.length, lastModified: new Date(), version } })
    return { version }
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult | undefined> {
    validateKey(key)
    validateRange(options.range)
    throwIfAborted(options.signal, this.name, 'get', key)
    const e = this.#objects.get(key)
    if (e === undefined) return undefined
    const { start, end } = clampRange(options.range, e.data.length)
    const data = e.data.subarray(start, end)
    return { data: Buffer.from(data), meta: { ...e.meta } }
  }

  async head(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectMeta | undefined> {
    validateKey(key)
    throwIfAborted(options.signal, this.name, 'head', key)
    const e = this.#objects.get(key)
    return e === undefined ? undefined : { ...e.meta }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectMeta> {
    validateListPrefix(prefix)
    validateListOptions(options)
    let after = options.startAfter
    const page = Math.max(1, Math.min(options.pageSize ?? this.#pageSize, this.#pageSize))
    for (;;) {
      throwIfAborted(options.signal, this.name, 'list', prefix)
      // Each page is a fresh look at the map, as a paginated listing of a live store would be.
      const keys = [...this.#objects.keys()].filter((k) => k.startsWith(prefix) && (after === undefined || compareKeys(k, after) > 0)).sort(compareKeys).slice(0, page)
      for (const k of keys) {
        const e = this.#objects.get(k)
        if (e !== undefined) yield { ...e.meta }
      }
      if (keys.length < page) return
      after = keys[keys.length - 1]
    }
  }

  async delete(key: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    validateKey(key)
    throwIfAborted(options.signal, this.name, 'delete', key)
    this.#objects.delete(key)
  }

  async deleteMany(keys: readonly string[], options: { signal?: AbortSignal } = {}): Promise<void> {
    for (const k of keys) validateKey(k)
    throwIfAborted(options.signal, this.name, 'deleteMany', keys[0] ?? '')
    for (const k of keys) this.#objects.delete(k)
  }
}
