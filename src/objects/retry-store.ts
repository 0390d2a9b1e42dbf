/**
 * A store wrapper that retries transient failures, so that code above it calls plain store
 * methods. Modelled on SlateDB's `RetryingObjectStore`: it also answers, once and for everyone,
 * "did my conditional put land?" when a retry of it meets `ERR_CONFLICT`.
 */
import { SeglogError, isSeglogError } from '../errors.js'
import { abortedError, throwIfAborted } from './errors.js'
import { retrying, type RetryPolicy, type RetryTiming } from './retry.js'
import type { GetOptions, GetResult, ListOptions, ObjectMeta, ObjectStore, PutOptions, PutResult } from './types.js'

/** Options of {@link RetryStore}: the policy and, for tests, the backoff's sleep and jitter. */
export interface RetryStoreOptions extends RetryTiming {
  /** Attempts and backoff. Default 6 attempts, 50 ms to 2 s. */
  policy?: RetryPolicy
}

/**
 * Retries every call of `inner` that fails with a transient `ERR_STORE` (5xx, throttling,
 * timeouts, resets), with full-jitter exponential backoff on an injectable sleep, up to the
 * policy's attempts; then rejects with `ERR_STORE` carrying `details.attempts`. Other errors
 * pass through at once.
 *
 * **Conditional puts** (`mode: 'create'` or `{ ifMatch }`): when an attempt failed transiently, it
 * may have landed with only its reply lost, so a retry that then gets `ERR_CONFLICT` reads the
 * object back: the same bytes mean the put landed (it resolves, with the version read back); other
 * bytes or no object reject with `ERR_CONFLICT` and `details.afterRetry: true`. A conflict on the
 * first attempt is passed through unchanged. So a create-only put through a `RetryStore` either
 * resolves with the store holding exactly its bytes, or rejects — and then the store holds either
 * nothing new or exactly its bytes, never a second copy (keys are unique) and never other bytes
 * written by it.
 *
 * **Listings** resume after the last key already yielded, so a reset in the middle of a long
 * listing neither repeats nor skips keys.
 *
 * **Signals**: an aborted signal stops the retries (and the backoff wait) at once, rejecting with
 * the signal's reason when it is a `SeglogError`, else `ERR_CLOSED` with `details.aborted`.
 */
export class RetryStore implements ObjectStore {
  readonly inner: ObjectStore
  readonly #policy: RetryPolicy
  readonly #timing: RetryTiming

  constructor(inner: ObjectStore, options: RetryStoreOptions = {}) {
    this.inner = inner
    this.#policy = options.policy ?? {}
    this.#timing = {
      ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
      ...(options.random === undefined ? {} : { random: options.random }),
    }
  }

  get name(): string { return this.inner.name }
  get enforcesCreateOnly(): boolean { return this.inner.enforcesCreateOnly }
  get createOnlyUnverified(): boolean { return this.inner.createOnlyUnverified === true }

  async #retry<T>(op: string, key: string, signal: AbortSignal | undefined, fn: () => Promise<T>, onRetry?: () => void): Promise<T> {
    throwIfAborted(signal, this.name, op, key)
    try {
      return await retrying(fn, this.#policy, this.#timing, onRetry, signal)
    } catch (err) {
      // The backoff's sleep rejects with the bare reason; callers get a SeglogError.
      if (signal?.aborted === true && !(err instanceof SeglogError)) throw abortedError(signal, this.name, op, key)
      throw err
    }
  }

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    const mode = options.mode ?? 'overwrite'
    if (mode === 'overwrite') return this.#retry('put', key, options.signal, () => this.inner.put(key, data, options))
    let mayHaveLanded = false
    try {
      return await this.#retry('put', key, options.signal, () => this.inner.put(key, data, options), () => { mayHaveLanded = true })
    } catch (err) {
      if (!mayHaveLanded || !isSeglogError(err, 'ERR_CONFLICT')) throw err
      return this.#landed(key, data, options.signal, err)
    }
  }

  /** After a conflict that followed a possibly landed attempt: is the object ours? */
  async #landed(key: string, data: Uint8Array, signal: AbortSignal | undefined, conflict: SeglogError): Promise<PutResult> {
    const there = await this.get(key, signal === undefined ? {} : { signal })
    if (there !== undefined && Buffer.from(data.buffer, data.byteOffset, data.byteLength).equals(there.data)) {
      return { version: there.meta.version }
    }
    throw new SeglogError('ERR_CONFLICT',
      `${this.name}: a conditional put of ${JSON.stringify(key)} lost its reply and its retry found ${there === undefined ? 'no object (it was deleted since)' : 'other bytes there'}; read it again before writing`,
      { cause: conflict, details: { ...conflict.details, file: key, afterRetry: true } })
  }

  get(key: string, options: GetOptions = {}): Promise<GetResult | undefined> {
    return this.#retry('get', key, options.signal, () => this.inner.get(key, options))
  }

  head(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectMeta | undefined> {
    return this.#retry('head', key, options.signal, () => this.inner.head(key, options))
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectMeta> {
    let after = options.startAfter
    let it: AsyncIterator<ObjectMeta> | undefined
    // One inner listing while it works; a failed step opens a new one after the last key handed
    // out, so nothing is repeated or skipped. Each step has the whole retry budget.
    const open = (): AsyncIterator<ObjectMeta> =>
      this.inner.list(prefix, { ...options, ...(after === undefined ? {} : { startAfter: after }) })[Symbol.asyncIterator]()
    try {
      for (;;) {
        const r = await this.#retry('list', prefix, options.signal, async () => {
          it ??= open()
          try {
            return await it.next()
          } catch (err) {
            it = undefined
            throw err
          }
        })
        if (r.done === true) { it = undefined; return }
        after = r.value.key
        yield r.value
      }
    } finally {
      await it?.return?.()
    }
  }

  delete(key: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.#retry('delete', key, options.signal, () => this.inner.delete(key, options))
  }

  deleteMany(keys: readonly string[], options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.#retry('deleteMany', keys[0] ?? '', options.signal, () => this.inner.deleteMany(keys, options))
  }

  async close(): Promise<void> { await this.inner.close?.() }
}
