/** Options of {@link Log.open}, their defaults and their validation. */
import { invalidArgument } from '../errors.js'
import { nodeFileSystem, type FileSystem } from '../io/file-system.js'

/**
 * When appends become durable.
 * - `'always'`: an append resolves only after the fdatasync that covers it; concurrent appends
 *   share fsyncs (group commit).
 * - `'never'`: an append resolves once the record is in the log's write buffer; it reaches the OS
 *   within one event-loop turn and the disk on `sync()`, a segment roll or `close()`.
 * - `{ intervalMs }`: as `'never'`, plus an fdatasync every `intervalMs` while there is new data.
 */
export type SyncMode = 'always' | 'never' | { intervalMs: number }

/** Retention deletes whole sealed segments only; the active segment is never deleted. */
export interface RetentionOptions {
  /** Delete the oldest sealed segments while the log holds more than this many bytes. */
  maxBytes?: number
  /**
   * Delete sealed segments last written longer ago than this (file modification time against
   * the log's clock), checked at open, at each roll and every `maxAgeMs / 4` (10 ms to 60 s).
   */
  maxAgeMs?: number
}

/**
 * Time as the log sees it: batch timestamps, the age-retention cutoff and the log's periodic
 * timers (age retention, interval sync). Tests pass a manual clock to move time instead of waiting.
 */
export interface LogClock {
  /** Milliseconds since the epoch. */
  now(): number
  /**
   * Calls `fn` every `intervalMs` until the returned function is called. The timer must not keep
   * the process alive.
   */
  every(intervalMs: number, fn: () => void): () => void
}

/** The real clock: `Date.now()` and unref'd `setInterval`. */
export const systemClock: LogClock = {
  now: () => Date.now(),
  every(intervalMs, fn) {
    const timer = setInterval(fn, intervalMs)
    timer.unref()
    return () => clearInterval(timer)
  },
}

export interface LogOptions {
  /** Durability mode; default `'always'`. */
  sync?: SyncMode
  /** Roll to a new segment once the active one reaches this size; default 64 MiB. */
  segmentBytes?: number
  /** Larger records fail with `ERR_RECORD_TOO_LARGE` and nothing is written; default 16 MiB. */
  maxRecordBytes?: number
  /** Larger `appendBatch` calls fail with `ERR_RECORD_TOO_LARGE`; default 64 MiB. */
  maxBatchBytes?: number
  retention?: RetentionOptions
  /** Open without the write lock and without changing any file; can follow another process's writes. */
  readOnly?: boolean
  /**
   * Check the whole log first and repair it (see `Log.repair`): damaged bytes anywhere are cut out,
   * every intact batch keeps its offset, lost ranges are recorded as gaps and reported in
   * `log.recovery.repaired`. Costs a read of the whole log.
   */
  repair?: boolean
  /** One sparse-index entry per this many bytes of log; default 2048. */
  indexIntervalBytes?: number
  /** Size of the write buffer that batches appends; default 1 MiB. */
  writeBufferBytes?: number
  /** How often a read-only follower looks for new data when no file event arrives; default 100 ms. */
  followPollMs?: number
  /** The file-I/O seam; tests pass a fault-injecting one. Default: the real file system. */
  fileSystem?: FileSystem
  /** The clock and timer seam; default {@link systemClock}. */
  clock?: LogClock
}

export interface ResolvedOptions {
  sync: SyncMode
  syncAlways: boolean
  syncIntervalMs: number
  segmentBytes: number
  maxRecordBytes: number
  maxBatchBytes: number
  retention: RetentionOptions
  readOnly: boolean
  repair: boolean
  indexIntervalBytes: number
  writeBufferBytes: number
  followPollMs: number
  fileSystem: FileSystem
  clock: LogClock
}

function positiveInt(name: string, value: unknown, fallback: number, min = 1, max = 2 ** 31): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument(`${name} must be an integer from ${min} to ${max}; got ${String(value)}`)
  }
  return value
}

export function resolveOptions(options: LogOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw invalidArgument('Log.open options must be an object')
  const sync = options.sync ?? 'always'
  let syncIntervalMs = 0
  if (typeof sync === 'object' && sync !== null) {
    syncIntervalMs = positiveInt('sync.intervalMs', sync.intervalMs, 0, 1, 3_600_000)
  } else if (sync !== 'always' && sync !== 'never') {
    throw invalidArgument(`sync must be 'always', 'never' or { intervalMs }; got ${JSON.stringify(sync)}`)
  }
  const maxRecordBytes = positiveInt('maxRecordBytes', options.maxRecordBytes, 16 << 20, 1, 1 << 29)
  const retention = options.retention ?? {}
  if (typeof retention !== 'object' || retention === null) throw invalidArgument('retention must be an object { maxBytes?, maxAgeMs? }')
  if (retention.maxBytes !== undefined) positiveInt('retention.maxBytes', retention.maxBytes, 0, 1, Number.MAX_SAFE_INTEGER)
  if (retention.maxAgeMs !== undefined) positiveInt('retention.maxAgeMs', retention.maxAgeMs, 0, 1, Number.MAX_SAFE_INTEGER)
  const clock = options.clock ?? systemClock
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function' || typeof clock.every !== 'function') {
    throw invalidArgument('clock must be an object with now() and every(intervalMs, fn) functions')
  }
  if (options.readOnly && options.repair) throw invalidArgument('repair needs write access: do not combine it with readOnly')
  return {
    sync,
    syncAlways: sync === 'always',
    syncIntervalMs,
    segmentBytes: positiveInt('segmentBytes', options.segmentBytes, 64 << 20, 1024, 1 << 30),
    maxRecordBytes,
    maxBatchBytes: positiveInt('maxBatchBytes', options.maxBatchBytes, Math.max(64 << 20, maxRecordBytes + 64), 64, 1 << 30),
    retention,
    readOnly: options.readOnly ?? false,
    repair: options.repair ?? false,
    indexIntervalBytes: positiveInt('indexIntervalBytes', options.indexIntervalBytes, 2048, 64, 1 << 24),
    writeBufferBytes: positiveInt('writeBufferBytes', options.writeBufferBytes, 1 << 20, 4096, 1 << 28),
    followPollMs: positiveInt('followPollMs', options.followPollMs, 100, 1, 60_000),
    fileSystem: options.fileSystem ?? nodeFileSystem,
    clock,
  }
}
