import { SeglogError } from '../errors.js'

/** Builds the `ERR_CONFLICT` a store throws when a put precondition fails. */
export function conflictError(store: string, key: string, cause?: unknown): SeglogError {
  return new SeglogError('ERR_CONFLICT',
    `${store}: precondition failed for ${JSON.stringify(key)} (the object exists or changed); read it again before writing`,
    { cause, details: { file: key } })
}

/**
 * Builds an `ERR_STORE`. `transient` marks failures worth retrying (5xx, throttling, timeouts,
 * connection resets).
 */
export function storeError(store: string, op: string, key: string, cause: unknown, transient: boolean, status?: number): SeglogError {
  const msg = cause instanceof Error ? cause.message : String(cause)
  return new SeglogError('ERR_STORE',
    `${store}: ${op} ${JSON.stringify(key)} failed${status === undefined ? '' : ` (HTTP ${status})`}: ${msg}` +
    (transient ? '; the store may be unavailable, it is retried with backoff' : '; check credentials, bucket/container and permissions'),
    { cause, details: { file: key, op, transient, status } })
}

/** True when `err` is an `ERR_STORE` marked transient. */
export function isTransient(err: unknown): boolean {
  return err instanceof SeglogError && err.code === 'ERR_STORE' && err.details.transient === true
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED',
  'UND_ERR_SOCKET', 'REQUEST_SEND_ERROR', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_STREAM_PREMATURE_CLOSE', 'EHOSTUNREACH', 'ENETUNREACH',
])
const TRANSIENT_NAMES = new Set([
  'TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'SlowDown', 'Throttling', 'ThrottlingException',
  'ServiceUnavailable', 'InternalError', 'RequestTimeTooSkewed', 'ServerBusy', 'OperationTimedOut',
])

/** Classifies an arbitrary network/SDK error: is a retry worth it? */
export function looksTransient(err: unknown, status?: number): boolean {
  if (status !== undefined && (status >= 500 || status === 429 || status === 408)) return true
  if (typeof err !== 'object' || err === null) return false
  const e = err as { code?: unknown; name?: unknown; cause?: unknown; $metadata?: unknown }
  if (typeof e.code === 'string' && TRANSIENT_CODES.has(e.code)) return true
  if (typeof e.name === 'string' && TRANSIENT_NAMES.has(e.name)) return true
  if (e.cause !== undefined && e.cause !== err) return looksTransient(e.cause)
  return false
}

/**
 * The error an aborted store call rejects with: the signal's reason when it is a `SeglogError`
 * (the journal aborts with `ERR_CLOSED` when it closes), else `ERR_CLOSED` with
 * `details.aborted` and the reason as `cause`.
 */
export function abortedError(signal: AbortSignal, store: string, op: string, key: string): SeglogError {
  const reason: unknown = signal.reason
  if (reason instanceof SeglogError) return reason
  return new SeglogError('ERR_CLOSED', `${store}: ${op} ${JSON.stringify(key)} was aborted by its signal (${reason instanceof Error ? reason.message : String(reason)})`,
    { cause: reason, details: { file: key, op, aborted: true } })
}

/** Throws {@link abortedError} when `signal` is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined, store: string, op: string, key: string): void {
  if (signal?.aborted === true) throw abortedError(signal, store, op, key)
}
