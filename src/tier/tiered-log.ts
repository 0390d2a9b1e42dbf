/**
 * One local log's tier: its options, the fencing check at open, the shipper of its sealed
 * segments and the reads below its local first offset. The composition root (src/log.ts) opens
 * the local log with {@link TierPlan.internal} and attaches a {@link LogTier} to it.
 */
import { SeglogError } from '../errors.js'
import type { LogHooks, ReadBelow } from '../local/log-types.js'
import type { ResolvedOptions, RetentionOptions } from '../local/options.js'
import type { RetryPolicy } from '../objects/retry.js'
import type { ObjectStore } from '../objects/types.js'
import { checkOptions, opt } from '../option-schema.js'
import { readCatalog, type Catalog } from './catalog.js'
import { RemoteLog } from './remote-log.js'
import { TierShipper } from './shipper.js'
import { SegmentUploader, type SealedSegment } from './uploader.js'
import { WholeLogRetention } from './whole-retention.js'

/** The `tier` option of `Log.open`: where the log's sealed segments are shipped. */
export interface TierOptions {
  /** Any ObjectStore (S3Store, AzureBlobStore, FsStore, MemoryStore, PrefixStore…). */
  store: ObjectStore
  /** Key prefix of this log in the store, e.g. `'logs/orders'`. */
  prefix: string
  /**
   * Sealed segments confirmed in the store may leave the local disk once the local log is larger
   * than `maxBytes` or their newest record is older than `maxAgeMs`; a segment not confirmed in
   * the store is never deleted. Without it, the local log keeps everything.
   */
  localRetention?: RetentionOptions
  /** Bound on the read-through cache for reads below the local first offset; default 64 MiB. */
  cacheBytes?: number
  /** Retries of transient store failures within one upload or read (shipping itself retries forever). */
  retry?: RetryPolicy
}

/** What {@link Log.tierState} reports. */
export interface TierState {
  /** Every record below this offset is confirmed in the store. */
  uploadedOffset: number
  /** The first offset still on the local disk; reads below it go to the store. */
  localFirstOffset: number
  /** Sealed segments not confirmed in the store yet. */
  pendingSegments: number
}

const tierShape = {
  store: opt.required(opt.implementing<ObjectStore>('an ObjectStore', ['put', 'get', 'list', 'delete', 'head'])),
  prefix: opt.required(opt.string(true)),
  localRetention: opt.object({
    maxBytes: opt.integer(1, Number.MAX_SAFE_INTEGER),
    maxAgeMs: opt.integer(1, Number.MAX_SAFE_INTEGER),
  }),
  cacheBytes: opt.integer(0, Number.MAX_SAFE_INTEGER),
  retry: opt.object({
    maxAttempts: opt.integer(1, 100),
    baseDelayMs: opt.integer(0, 3_600_000),
    maxDelayMs: opt.integer(0, 3_600_000),
  }),
}

const wholeRetentionShape = {
  retention: opt.object({
    maxBytes: opt.integer(1, Number.MAX_SAFE_INTEGER),
    maxAgeMs: opt.integer(1, Number.MAX_SAFE_INTEGER),
  }),
}

/** What is known before the local log opens: the checked options and the remote log as listed. */
export interface TierPlan {
  readonly options: TierOptions
  /** Whole-log retention (the `retention` option of `Log.open`, the store included); undefined without. */
  readonly retention: RetentionOptions | undefined
  readonly catalog: Catalog
  /** Local retention keeps a segment until the tier confirmed it (set once the tier is attached). */
  readonly internal: Required<Pick<ResolvedOptions, 'initialOffset' | 'mayDelete' | 'truncateRefusal'>>
  /** The tier, once attached. */
  tier: LogTier | undefined
}

/**
 * Checks the options and lists the remote log. `retention` is whole-log retention (the store
 * included); the local disk is bounded by `tier.localRetention`. A read-only open applies neither.
 */
export async function planTier(tier: unknown, local: { retention?: unknown }): Promise<TierPlan> {
  const options = checkOptions('Log.open tier', tier, tierShape) as TierOptions
  const { retention } = checkOptions('Log.open', { retention: local.retention }, wholeRetentionShape) as { retention?: RetentionOptions }
  new SegmentUploader(options.store, options.prefix) // validates the prefix before anything is created
  const catalog = await readCatalog(options.store, options.prefix, { retry: options.retry })
  const plan: TierPlan = {
    options,
    retention: retention !== undefined && (retention.maxBytes !== undefined || retention.maxAgeMs !== undefined) ? retention : undefined,
    catalog,
    internal: {
      // A new, empty directory continues the remote log at its end (a restore).
      initialOffset: catalog.endOffset,
      mayDelete: (segment) => plan.tier !== undefined && segment.end <= plan.tier.uploadedOffset,
      // Sealed segments are in the store or on their way there: cutting them would fork the log.
      truncateRefusal: (offset) => {
        const sealed = plan.tier?.sealedEnd ?? 0
        if (offset >= sealed) return undefined
        return new SeglogError('ERR_INVALID_ARGUMENT',
          `truncate(${offset}) would cut records below ${sealed}, which are sealed and shipped (or being shipped) to the store under '${options.prefix}'; a tiered log can only truncate its active segment. Nothing was changed`,
          { details: { offset, sealedEnd: sealed } })
      },
    },
    tier: undefined,
  }
  return plan
}

/** ERR_CONFLICT when the store holds records past the local log's end: another machine wrote since. */
export function fenceError(plan: TierPlan, dir: string, localEnd: number): SeglogError | undefined {
  const remoteEnd = plan.catalog.endOffset
  if (remoteEnd <= localEnd) return undefined
  return new SeglogError('ERR_CONFLICT',
    `the store under '${plan.options.prefix}' holds the log up to offset ${remoteEnd}, but the local log in ${dir} ends at ${localEnd}: another machine has written to this log since. ` +
    'Nothing was changed. Restore into an empty directory to continue from the store, or use another prefix',
    { details: { localEnd, remoteEnd } })
}

/** The tier of one open log: its shipper and its reads below the local first offset. */
export class LogTier {
  readonly #shipper: TierShipper
  readonly #remote: RemoteLog
  readonly #hooks: LogHooks
  readonly #retention: WholeLogRetention | undefined
  /** The first offset the store holds, as last known; undefined while it holds nothing. */
  #remoteFirst: number | undefined
  /** Offsets below this have left the whole log (whole-log retention); 0 without it. */
  #retainedFrom = 0

  constructor(plan: TierPlan, hooks: LogHooks) {
    const { options, catalog } = plan
    this.#hooks = hooks
    this.#remoteFirst = catalog.segments.length > 0 ? catalog.firstOffset : undefined
    this.#remote = new RemoteLog(options.store, options.prefix, { cacheBytes: options.cacheBytes, retry: options.retry })
    const sealed = hooks.sealedSegments().map((s): SealedSegment => ({ path: s.path, base: s.base, end: s.end, size: s.bytes }))
    // Segments past the remote end are shipped; the newest one the store should already hold is
    // shipped again too, which compares it byte for byte ('present', or ERR_CONFLICT for a fork).
    const pending = sealed.filter((s) => s.end > catalog.endOffset)
    const newestHeld = sealed.filter((s) => s.end <= catalog.endOffset && s.end > catalog.firstOffset).at(-1)
    if (newestHeld) pending.unshift(newestHeld)
    const uploaded = pending[0]?.base ?? sealed.at(-1)?.end ?? hooks.localFirstOffset()
    const uploader = new SegmentUploader(options.store, options.prefix, { fileSystem: hooks.fileSystem, retry: options.retry })
    this.#shipper = new TierShipper(uploader, {
      clock: hooks.clock,
      waitDurable: (offset) => hooks.waitDurable(offset),
      confirmed: (segment) => {
        this.#remoteFirst ??= segment.base
        hooks.scheduleRetention()
        this.#retention?.schedule()
      },
      fail: (error) => hooks.fail(error),
    }, uploaded, pending)
    if (plan.retention !== undefined) {
      this.#retention = new WholeLogRetention({
        store: options.store,
        prefix: options.prefix,
        retry: options.retry,
        clock: hooks.clock,
        unshippedBytes: (remoteEnd) => {
          let bytes = hooks.activeBytes()
          for (const s of hooks.sealedSegments()) if (s.base >= remoteEnd) bytes += s.bytes
          return bytes
        },
        removed: (first) => this.#retainFrom(first),
      }, plan.retention)
      // What the store no longer holds has left the log (a pass while this log was closed, by its
      // previous run or by another tool), and a pass now catches up with time spent closed.
      if (catalog.segments.length > 0) this.#retainFrom(catalog.firstOffset)
      this.#retention.schedule()
    }
    const below: ReadBelow = {
      retainedFrom: () => this.#retainedFrom,
      firstOffset: () => this.#remoteFirst,
      read: (offset) => this.#remote.read(offset),
      // Skips what remote retention deleted under it, as a local iterator skips what local retention deleted.
      iterate: (from, to, signal) => this.#remote.iterate({ from, to, signal, deleted: 'skip' }),
    }
    hooks.setReadBelow(below)
  }

  /** Whole-log retention moved the log's start to `first`: the local copies below it go too. */
  #retainFrom(first: number): void {
    if (first <= this.#retainedFrom) return
    this.#retainedFrom = first
    if (this.#remoteFirst !== undefined && first > this.#remoteFirst) this.#remoteFirst = first
    this.#hooks.retainFrom(first)
  }

  /** The whole-log retention runner, when `retention` was given (tests wait on it). */
  get retention(): WholeLogRetention | undefined {
    return this.#retention
  }

  get uploadedOffset(): number {
    return this.#shipper.uploadedOffset
  }

  /** The end of the newest sealed segment (every record below it is shipped or queued). */
  get sealedEnd(): number {
    return this.#shipper.sealedEnd
  }

  get state(): TierState {
    return { uploadedOffset: this.#shipper.uploadedOffset, localFirstOffset: this.#hooks.localFirstOffset(), pendingSegments: this.#shipper.pendingSegments }
  }

  /** Resolves once every segment sealed before the call (with `all`, every record appended before it) is confirmed in the store. */
  async sync(all: boolean): Promise<void> {
    if (all) await this.#hooks.rollActive()
    await this.#shipper.waitFor(this.#shipper.sealedEnd)
  }

  segmentSealed: TierShipper['segmentSealed'] = (segment) => this.#shipper.segmentSealed(segment)

  async close(error?: SeglogError): Promise<void> {
    await this.#retention?.close(error)
    await this.#shipper.close(error)
    await this.#remote.close()
  }
}

/**
 * The tier of a log opened read-only: reads below the local first offset go to the store, and
 * nothing else happens: no shipping, no retention, no write or deletion anywhere. The local
 * directory follows its writer as any read-only log does; the store is listed again when a read
 * needs offsets past what the last listing showed.
 */
export class ReadOnlyTier {
  readonly #remote: RemoteLog
  readonly #hooks: LogHooks

  constructor(plan: TierPlan, hooks: LogHooks) {
    const { options } = plan
    this.#hooks = hooks
    this.#remote = new RemoteLog(options.store, options.prefix, { cacheBytes: options.cacheBytes, retry: options.retry })
    this.#remote.adopt(plan.catalog)
    hooks.setReadBelow({
      retainedFrom: () => 0,
      firstOffset: () => (this.#remote.segments.length > 0 ? this.#remote.firstOffset : undefined),
      read: (offset) => this.#remote.read(offset),
      iterate: (from, to, signal) => this.#remote.iterate({ from, to, signal, deleted: 'skip' }),
    })
  }

  /** `uploadedOffset` is the store's end as last listed; nothing is pending here (the writer ships). */
  get state(): TierState {
    return { uploadedOffset: this.#remote.nextOffset, localFirstOffset: this.#hooks.localFirstOffset(), pendingSegments: 0 }
  }
}
