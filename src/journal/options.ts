/** The journal's options: their types, one declarative schema, defaults and limits. */
import { SeglogError } from '../errors.js'
import type { RetryPolicy } from '../objects/retry.js'
import { checkOptions, opt } from '../option-schema.js'
import { systemClock, type JournalClock } from './clock.js'
import type { JournalCodec } from './codec.js'

/** Options of {@link Journal.open}. */
export interface JournalOptions {
  /** `'jsonl'` (JSON values, default) or `'binary'` (Uint8Array events, the core batch format). */
  codec?: JournalCodec
  /** Flush when this many events are buffered. Default 32. */
  flushEvents?: number
  /** Flush when the buffered events reach this many bytes. Default 1 MiB. */
  flushBytes?: number
  /** Flush events that waited this long. Default 250 ms. */
  lingerMs?: number
  /**
   * Most bytes buffered while the store is slow or down. An append past it waits for a flush and
   * fails with `ERR_STORE` if that flush fails. Default max(16 MiB, 4 × flushBytes).
   */
  maxBufferedBytes?: number
  /** Open for reading only: no probe, appends fail. */
  readOnly?: boolean
  /**
   * Allow writing through a store that cannot enforce create-only writes. Safe only when exactly
   * one process (one Journal) writes this journal: two writers could overwrite each other.
   */
  singleWriter?: boolean
  /**
   * Probe the store at open (write one object twice, create-only) instead of trusting its
   * `enforcesCreateOnly` flag. Default: probe only a store whose flag is unverified
   * (`store.createOnlyUnverified`, e.g. an `S3Store` on a custom endpoint without
   * `conditionalWrites`); `false` trusts the flag.
   */
  probe?: boolean
  /**
   * Grace period before compaction and retention delete objects, and the freshness window of a
   * writer's cached sequence number (half of it). Every process using the journal must use the
   * same value, larger than any clock skew between them and the store. Default 60,000 ms.
   */
  graceMs?: number
  /** Poll interval of `read`/`iterate` with `follow: true`. Default 1,000 ms. Same name as the `Log` option. */
  followPollMs?: number
  /** @deprecated Use `followPollMs` (the `Log` name). Still accepted; both with different values is `ERR_INVALID_ARGUMENT`. */
  pollMs?: number
  /** Objects fetched ahead while reading. Default 8. */
  readAhead?: number
  /**
   * Retry of transient store failures: the journal wraps its store once in a `RetryStore` with
   * this policy. Default 6 attempts, 50 ms to 2 s backoff.
   */
  retry?: RetryPolicy
  /** Compaction: merged objects grow up to this size. Default 64 MiB. */
  compactTargetBytes?: number
  /**
   * The clocks the journal reads (wall clock for batch timestamps; monotonic clock for timers and
   * trust windows). Default: `Date.now`, `performance.now`, `setTimeout`. Tests inject a
   * `ManualClock` to move time instead of waiting. Object ages are always measured on the
   * store's clock, never on this one.
   */
  clock?: JournalClock
  /**
   * Called with the error of every background flush that fails (the events stay buffered and the
   * flush is retried with a backoff). Without it, failures show only on `seglog:journal:flush`
   * and at the next `flush()`/`close()`.
   */
  onError?: (error: SeglogError) => void
}

/** Longest delay setTimeout honours (larger ones fire at once). */
export const MAX_TIMER_MS = 0x7fff_ffff

const MAX = Number.MAX_SAFE_INTEGER

/** Every option of {@link JournalOptions} and what it accepts; anything else is refused. */
export const journalOptionsShape = {
  codec: opt.oneOf<JournalCodec>('jsonl', 'binary'),
  flushEvents: opt.integer(1, MAX),
  flushBytes: opt.integer(1, MAX),
  lingerMs: opt.integer(0, MAX_TIMER_MS),
  maxBufferedBytes: opt.integer(1, MAX),
  readOnly: opt.boolean(),
  singleWriter: opt.boolean(),
  probe: opt.boolean(),
  graceMs: opt.integer(0, MAX),
  followPollMs: opt.integer(1, MAX_TIMER_MS),
  pollMs: opt.integer(1, MAX_TIMER_MS),
  readAhead: opt.integer(1, MAX),
  retry: opt.object({
    maxAttempts: opt.integer(1, 1000),
    baseDelayMs: opt.integer(0, MAX_TIMER_MS),
    maxDelayMs: opt.integer(0, MAX_TIMER_MS),
  }),
  compactTargetBytes: opt.integer(1, MAX),
  clock: opt.implementing<JournalClock>('a JournalClock', ['now', 'monotonic', 'setTimer']),
  onError: opt.func<(error: SeglogError) => void>(),
}

/** The options with every default filled in. */
export interface ResolvedJournalOptions {
  codec: JournalCodec
  flushEvents: number
  flushBytes: number
  lingerMs: number
  maxBufferedBytes: number
  readOnly: boolean
  singleWriter: boolean
  probe: boolean | undefined
  graceMs: number
  followPollMs: number
  readAhead: number
  retry: RetryPolicy
  compactTargetBytes: number
  clock: JournalClock
  onError: ((error: SeglogError) => void) | undefined
}

/** Checks `options` (unknown keys and wrong types are `ERR_INVALID_ARGUMENT` with `details.option`) and fills defaults. */
export function resolveJournalOptions(options: JournalOptions | undefined): ResolvedJournalOptions {
  const o = checkOptions('Journal.open', options, journalOptionsShape)
  if (o.followPollMs !== undefined && o.pollMs !== undefined && o.followPollMs !== o.pollMs) {
    throw new SeglogError('ERR_INVALID_ARGUMENT', `journal options followPollMs (${o.followPollMs}) and pollMs (${o.pollMs}) disagree; pass only followPollMs (pollMs is its deprecated alias)`,
      { details: { option: 'pollMs' } })
  }
  const flushBytes = o.flushBytes ?? 1 << 20
  return {
    codec: o.codec ?? 'jsonl',
    flushEvents: o.flushEvents ?? 32,
    flushBytes,
    lingerMs: o.lingerMs ?? 250,
    maxBufferedBytes: o.maxBufferedBytes ?? Math.max(16 << 20, 4 * flushBytes),
    readOnly: o.readOnly ?? false,
    singleWriter: o.singleWriter ?? false,
    probe: o.probe,
    graceMs: o.graceMs ?? 60_000,
    followPollMs: o.followPollMs ?? o.pollMs ?? 1000,
    readAhead: o.readAhead ?? 8,
    retry: o.retry ?? {},
    compactTargetBytes: o.compactTargetBytes ?? 64 << 20,
    clock: o.clock ?? systemClock,
    onError: o.onError,
  }
}
