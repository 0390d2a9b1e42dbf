import { SeglogError } from '../errors.js'
import { storeError, throwIfAborted } from './errors.js'
import { joinKey, validateKey, validateListPrefix, validatePrefix } from './keys.js'
import type { GetOptions, GetResult, ListOptions, ObjectMeta, ObjectStore, PutOptions, PutResult } from './types.js'

/**
 * Confines a store to `<prefix>/`: every key is validated and prefixed, listings are stripped of
 * the prefix. With {@link validateKey} rejecting `..` and absolute keys, nothing can escape it.
 */
export class PrefixStore implements ObjectStore {
  readonly name: string
  readonly prefix: string
  readonly inner: ObjectStore

  constructor(inner: ObjectStore, prefix: string) {
    this.inner = inner
    this.prefix = validatePrefix(prefix)
    this.name = this.prefix === '' ? inner.name : `${inner.name.replace(/\/$/, '')}/${this.prefix}`
  }

  get enforcesCreateOnly(): boolean { return this.inner.enforcesCreateOnly }
  get createOnlyUnverified(): boolean { return this.inner.createOnlyUnverified === true }
  #k(key: string): string { return joinKey(this.prefix, validateKey(key)) }
  #strip(meta: ObjectMeta): ObjectMeta {
    return { ...meta, key: this.prefix === '' ? meta.key : meta.key.slice(this.prefix.length + 1) }
  }

  async put(key: string, data: Uint8Array, options?: PutOptions): Promise<PutResult> { return this.inner.put(this.#k(key), data, options) }
  async get(key: string, options?: GetOptions): Promise<GetResult | undefined> {
    const r = await this.inner.get(this.#k(key), options)
    return r === undefined ? undefined : { data: r.data, meta: this.#strip(r.meta) }
  }
  async head(key: string, options?: { signal?: AbortSignal }): Promise<ObjectMeta | undefined> {
    const m = await this.inner.head(this.#k(key), options)
    return m === undefined ? undefined : this.#strip(m)
  }
  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectMeta> {
    validateListPrefix(prefix)
    const base = this.prefix === '' ? '' : `${this.prefix}/`
    const startAfter = options.startAfter === undefined ? undefined : base + options.startAfter
    for await (const m of this.inner.list(base + prefix, { ...options, startAfter })) yield this.#strip(m)
  }
  async delete(key: string, options?: { signal?: AbortSignal }): Promise<void> { return this.inner.delete(this.#k(key), options) }
  async deleteMany(keys: readonly string[], options?: { signal?: AbortSignal }): Promise<void> {
    return this.inner.deleteMany(keys.map((k) => this.#k(k)), options)
  }
  async close(): Promise<void> { await this.inner.close?.() }
}

/** The store operations a {@link FaultStore} can fail. */
export type StoreOp = 'put' | 'get' | 'head' | 'list' | 'delete' | 'deleteMany'

/**
 * Decides the fate of one call: `'ok'` runs it, `'fail'` throws a transient `ERR_STORE` without
 * running it, `'fail-after'` runs it and then throws (the write landed but the caller does not
 * know: a lost response), `'fatal'` throws a non-transient `ERR_STORE`. An `Error` is thrown as is.
 */
export type Fault = 'ok' | 'fail' | 'fail-after' | 'fatal' | Error

/**
 * Wraps a store and injects failures, for tests: each call asks `decide(op, key)` what to do.
 * Counts calls per operation in {@link FaultStore.calls}.
 */
export class FaultStore implements ObjectStore {
  readonly inner: ObjectStore
  /** Replace at any time to change the fault plan. */
  decide: (op: StoreOp, key: string) => Fault
  /** Calls seen per operation (failed ones included). */
  readonly calls: Record<StoreOp, number> = { put: 0, get: 0, head: 0, list: 0, delete: 0, deleteMany: 0 }
  /** Overrides the inner store's create-only capability (to model stores that ignore it). */
  enforcesCreateOnlyOverride: boolean | undefined

  constructor(inner: ObjectStore, decide: (op: StoreOp, key: string) => Fault = () => 'ok') {
    this.inner = inner
    this.decide = decide
  }

  get name(): string { return `fault+${this.inner.name}` }
  get enforcesCreateOnly(): boolean { return this.enforcesCreateOnlyOverride ?? this.inner.enforcesCreateOnly }
  get createOnlyUnverified(): boolean { return this.enforcesCreateOnlyOverride === undefined && this.inner.createOnlyUnverified === true }

  async #run<T>(op: StoreOp, key: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    // An aborted call is refused before the fault plan is asked, as a real store would refuse it.
    throwIfAborted(signal, this.name, op, key)
    this.calls[op]++
    const f = this.decide(op, key)
    if (f instanceof Error) throw f
    if (f === 'fail') throw storeError(this.name, op, key, new Error('injected transient fault'), true, 503)
    if (f === 'fatal') throw storeError(this.name, op, key, new Error('injected fatal fault'), false, 403)
    const out = await fn()
    if (f === 'fail-after') throw storeError(this.name, op, key, new Error('injected fault after the operation ran (lost response)'), true, 503)
    return out
  }

  put(key: string, data: Uint8Array, options?: PutOptions): Promise<PutResult> { return this.#run('put', key, () => this.inner.put(key, data, options), options?.signal) }
  get(key: string, options?: GetOptions): Promise<GetResult | undefined> { return this.#run('get', key, () => this.inner.get(key, options), options?.signal) }
  head(key: string, options?: { signal?: AbortSignal }): Promise<ObjectMeta | undefined> { return this.#run('head', key, () => this.inner.head(key, options), options?.signal) }
  async *list(prefix: string, options?: ListOptions): AsyncIterable<ObjectMeta> {
    const items = await this.#run('list', prefix, async () => {
      const out: ObjectMeta[] = []
      for await (const m of this.inner.list(prefix, options)) out.push(m)
      return out
    }, options?.signal)
    yield* items
  }
  delete(key: string, options?: { signal?: AbortSignal }): Promise<void> { return this.#run('delete', key, () => this.inner.delete(key, options), options?.signal) }
  deleteMany(keys: readonly string[], options?: { signal?: AbortSignal }): Promise<void> {
    return this.#run('deleteMany', keys[0] ?? '', () => this.inner.deleteMany(keys, options), options?.signal)
  }
  async close(): Promise<void> { await this.inner.close?.() }
}

/** True when `err` is an error a {@link FaultStore} injected or any `ERR_STORE`. */
export function isStoreError(err: unknown): err is SeglogError {
  return err instanceof SeglogError && err.code === 'ERR_STORE'
}
