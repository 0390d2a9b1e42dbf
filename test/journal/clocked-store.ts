import { storeError } from '../../src/objects/errors.js'
import { MemoryStore, type ObjectMeta, type ObjectStore } from '../../src/objects/index.js'
import type { GetOptions, GetResult, ListOptions, PutOptions, PutResult } from '../../src/objects/types.js'

/** What a {@link ClockedStore} lets a test control. */
export interface ClockedStoreOptions {
  /** The store's own clock, ms since the epoch: the `lastModified` of each object it writes. */
  now: () => number
  /** Timestamps are cut to this resolution (S3 and Azure: 1,000 ms). Default 1. */
  resolutionMs?: number
  /** Awaited before every operation: lets a scheduler interleave the calls of several handles. */
  gate?: (what: string) => Promise<void>
  /** When it says so for a put, the object is stored but the caller gets a transient error (a lost response). */
  loseResponse?: (key: string) => boolean
}

/**
 * A {@link MemoryStore} whose `lastModified` comes from a clock the test moves (cut to a
 * resolution), and whose every call can be held by a scheduler.
 */
export class ClockedStore implements ObjectStore {
  readonly name = 'clocked-memory://'
  readonly enforcesCreateOnly = true
  readonly inner = new MemoryStore()
  readonly #times = new Map<string, number>()
  readonly #options: ClockedStoreOptions

  constructor(options: ClockedStoreOptions) {
    this.#options = options
  }

  async #gate(what: string): Promise<void> {
    if (this.#options.gate !== undefined) await this.#options.gate(what)
  }

  #meta(m: ObjectMeta): ObjectMeta {
    return { ...m, lastModified: new Date(this.#times.get(m.key) ?? m.lastModified.getTime()) }
  }

  async put(key: string, data: Uint8Array, options?: PutOptions): Promise<PutResult> {
    await this.#gate(`put ${key}`)
    const r = await this.inner.put(key, data, options)
    const res = this.#options.resolutionMs ?? 1
    this.#times.set(key, Math.floor(this.#options.now() / res) * res)
    if (this.#options.loseResponse?.(key) === true) throw storeError(this.name, 'put', key, new Error('response lost (injected)'), true, 503)
    return r
  }

  async get(key: string, options?: GetOptions): Promise<GetResult | undefined> {
    await this.#gate(`get ${key}`)
    const r = await this.inner.get(key, options)
    return r === undefined ? undefined : { data: r.data, meta: this.#meta(r.meta) }
  }

  async head(key: string): Promise<ObjectMeta | undefined> {
    await this.#gate(`head ${key}`)
    const m = await this.inner.head(key)
    return m === undefined ? undefined : this.#meta(m)
  }

  async *list(prefix: string, options?: ListOptions): AsyncIterable<ObjectMeta> {
    await this.#gate(`list ${prefix}`)
    for await (const m of this.inner.list(prefix, options)) yield this.#meta(m)
  }

  async delete(key: string): Promise<void> {
    await this.#gate(`delete ${key}`)
    await this.inner.delete(key)
    this.#times.delete(key)
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    await this.#gate(`deleteMany ${keys.length}`)
    await this.inner.deleteMany(keys)
    for (const k of keys) this.#times.delete(k)
  }

  /** Every key under `prefix`, without going through the gate. */
  async keys(prefix = ''): Promise<string[]> {
    const out: string[] = []
    for await (const m of this.inner.list(prefix)) out.push(m.key)
    return out
  }

  /** Writes an object directly (no gate), timestamped by the store's clock. */
  async plant(key: string, data: Uint8Array): Promise<void> {
    await this.inner.put(key, data)
    const res = this.#options.resolutionMs ?? 1
    this.#times.set(key, Math.floor(this.#options.now() / res) * res)
  }
}
