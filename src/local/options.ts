/** Options of {@link Log.open}, their defaults and their validation. */
import { invalidArgument } from '../errors.js'
import { checkOptions, opt } from '../option-schema.js'
import { nodeFileSystem, type FileSystem } from '../io/file-system.js'
import { DEFAULT_READ_CACHE_BYTES } from './batch-cache.js'

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
   * Delete sealed segments whose newest record is older than this: the largest batch timestamp
   * in the segment's index (stamped by the log's `clock` at append), never the file's modification
   * time, which a copy, backup or restore changes. Checked at open, after each roll (on its own
   * turn of the event loop, not inside the append that filled the segment) and every
   * `maxAgeMs / 4` (10 ms to 60 s); a turn that meets truncate, deleteBefore or close waits for it.
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
  /**
   * Also roll the active segment once its oldest record was written this long ago (on the log's
   * `clock`, checked every `rollAfterMs / 4`, 10 ms to 60 s), so a slow log's records are sealed
   * (and, on a tiered log, shipped) within about this time. An empty segment is never rolled.
   * Default: roll by size only.
   */
  rollAfterMs?: number
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
  /**
   * Bytes of memory point reads (`read`, `readSync`) may use to keep what they learned of the
   * batches they verified. Each kept batch first holds its record positions (4 bytes per record),
   * so a read into it is one `pread` of exactly its record; once it has served 128 such reads, its
   * bytes are kept too and reads into it make no system call. Eviction is CLOCK (roughly least
   * recently used first); once full, a new batch is let in only after the cache served 16 hits
   * since it last let one in, and bytes displace others only after 128 reads were served from
   * kept bytes, so uniform random reads over a log far larger than the budget do not churn it.
   * Shared by all segments of this log; a batch bigger than a quarter of it is never kept. Default
   * 8 MiB (8,388,608 bytes), which holds the positions of about 2 million records of 128 bytes;
   * 0 keeps nothing (each read then costs one `pread` of about `indexIntervalBytes` into a batch
   * verified before). Iteration does not use it.
   */
  readCacheBytes?: number
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
  rollAfterMs: number | undefined
  maxRecordBytes: number
  maxBatchBytes: number
  retention: RetentionOptions
  readOnly: boolean
  repair: boolean
  indexIntervalBytes: number
  writeBufferBytes: number
  followPollMs: number
  readCacheBytes: number
  fileSystem: FileSystem
  clock: LogClock
  /**
   * Set by a layer above (never by users): the base offset of the first segment when the
   * directory holds no log yet (a restore continues a remote log at its end). Default 0.
   */
  initialOffset?: number
  /**
   * Set by a layer above (tiered storage): retention and deleteBefore delete a sealed segment
   * only when this says yes (it is safely stored elsewhere). Default: every segment may go.
   */
  mayDelete?: (segment: { base: number; end: number }) => boolean
  /**
   * Set by a layer above (tiered storage): why `truncate(offset)` must not cut there (records
   * already handed to the store), checked under the exclusive gate; undefined when it may.
   */
  truncateRefusal?: (offset: number) => Error | undefined
}

const clockRule = opt.implementing<LogClock>('a clock', ['now', 'every'])

/** Every option of {@link LogOptions} and what it accepts; anything else is refused. */
export const logOptionsShape = {
  sync: opt.anyOf(opt.oneOf('always', 'never'), opt.object({ intervalMs: opt.required(opt.integer(1, 3_600_000)) })),
  segmentBytes: opt.integer(1024, 1 << 30),
  rollAfterMs: opt.integer(1, Number.MAX_SAFE_INTEGER),
  maxRecordBytes: opt.integer(1, 1 << 29),
  maxBatchBytes: opt.integer(64, 1 << 30),
  retention: opt.object({
    maxBytes: opt.integer(1, Number.MAX_SAFE_INTEGER),
    maxAgeMs: opt.integer(1, Number.MAX_SAFE_INTEGER),
  }),
  readOnly: opt.boolean(),
  repair: opt.boolean(),
  indexIntervalBytes: opt.integer(64, 1 << 24),
  writeBufferBytes: opt.integer(4096, 1 << 28),
  followPollMs: opt.integer(1, 60_000),
  readCacheBytes: opt.integer(0, Number.MAX_SAFE_INTEGER),
  fileSystem: opt.implementing<FileSystem>('a FileSystem', ['open', 'stat']),
  clock: clockRule,
  encoding: opt.oneOf('bytes', 'utf8', 'json'),
}

export function resolveOptions(options: LogOptions = {}): ResolvedOptions {
  const o = checkOptions('Log.open', options, logOptionsShape)
  const sync: SyncMode = o.sync ?? 'always'
  const syncIntervalMs = typeof sync === 'object' ? sync.intervalMs : 0
  if (o.readOnly && o.repair) throw invalidArgument('Log.open: repair needs write access: do not combine it with readOnly')
  const maxRecordBytes = o.maxRecordBytes ?? 16 << 20
  return {
    sync,
    syncAlways: sync === 'always',
    syncIntervalMs,
    segmentBytes: o.segmentBytes ?? 64 << 20,
    rollAfterMs: o.rollAfterMs,
    maxRecordBytes,
    maxBatchBytes: o.maxBatchBytes ?? Math.max(64 << 20, maxRecordBytes + 64),
    retention: o.retention ?? {},
    readOnly: o.readOnly ?? false,
    repair: o.repair ?? false,
    indexIntervalBytes: o.indexIntervalBytes ?? 2048,
    writeBufferBytes: o.writeBufferBytes ?? 1 << 20,
    followPollMs: o.followPollMs ?? 100,
    readCacheBytes: o.readCacheBytes ?? DEFAULT_READ_CACHE_BYTES,
    fileSystem: o.fileSystem ?? nodeFileSystem,
    clock: o.clock ?? systemClock,
  }
}
