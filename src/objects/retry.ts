import { SeglogError } from '../errors.js'
import { isTransient } from './errors.js'

/** How transient store failures are retried. */
export interface RetryPolicy {
  /** Attempts in all, the first included. Default 6. */
  maxAttempts?: number
  /** First backoff delay. Default 50 ms. */
  baseDelayMs?: number
  /** Largest backoff delay. Default 2,000 ms. */
  maxDelayMs?: number
}

/** The defaults of {@link RetryPolicy}. */
export const DEFAULT_RETRY: Required<RetryPolicy> = { maxAttempts: 6, baseDelayMs: 50, maxDelayMs: 2000 }

/** Sleeps `ms`, or rejects early with the signal's reason. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(signal.reason); return }
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    const onAbort = (): void => { clearTimeout(t); reject(signal?.reason) }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** The seams of a retry loop: how it waits and where its jitter comes from (tests inject both). */
export interface RetryTiming {
  /** Waits `ms`, rejecting early when `signal` aborts. Default {@link delay} (real time). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  /** A number in [0, 1) for the jitter. Default `Math.random`. */
  random?: () => number
}

/**
 * The one retry loop: runs `fn`, retrying transient `ERR_STORE` failures with full-jitter
 * exponential backoff. After the budget the last error is rethrown as `ERR_STORE` naming the
 * attempts (`details.attempts`), with the cause. `onRetry` sees each failed attempt.
 */
export async function retrying<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy, timing: RetryTiming,
  onRetry?: (err: unknown, attempt: number) => void, signal?: AbortSignal): Promise<T> {
  const p = { ...DEFAULT_RETRY, ...policy }
  const sleep = timing.sleep ?? delay
  const random = timing.random ?? Math.random
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt)
    } catch (err) {
      if (!isTransient(err) || signal?.aborted === true) throw err
      if (attempt >= p.maxAttempts) {
        const se = err as SeglogError
        throw new SeglogError('ERR_STORE', `${se.message} (gave up after ${attempt} attempts)`, { cause: err, details: { ...se.details, attempts: attempt } })
      }
      onRetry?.(err, attempt)
      const cap = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** (attempt - 1))
      await sleep(random() * cap + 1, signal)
    }
  }
}

/**
 * Runs `fn`, retrying transient `ERR_STORE` failures with full-jitter exponential backoff.
 * After the budget the last error is rethrown as `ERR_STORE` naming the attempts, with the cause.
 * `onRetry` sees each failed attempt. Prefer wrapping the store once in a `RetryStore`.
 */
export function withRetry<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy = {},
  onRetry?: (err: unknown, attempt: number) => void, signal?: AbortSignal): Promise<T> {
  return retrying(fn, policy, {}, onRetry, signal)
}
