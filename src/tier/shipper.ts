/**
 * The background shipper of one tiered log: uploads its sealed segments in order through a
 * {@link SegmentUploader}, remembers how far the store holds the log (`uploadedOffset`), answers
 * `syncTier` waiters, and turns a fork (ERR_CONFLICT) into the log's failure. Transient store
 * failures are retried with backoff on the log's clock; the queue is never dropped.
 */
import { SeglogError, isSeglogError } from '../errors.js'
import type { LogAttachment } from '../local/log-types.js'
import type { LogClock } from '../local/options.js'
import type { SealedSegment as LocalSealed } from '../local/segment-set.js'
import type { SealedSegment, SegmentUploader } from './uploader.js'

/** What the shipper needs of its log. */
export interface ShipperHost {
  readonly clock: LogClock
  /** Resolves once the local records below `offset` are fsynced (never ship what a power loss could take back). */
  waitDurable(offset: number): Promise<void>
  /** `segment` was confirmed: local retention may now delete it. */
  confirmed(segment: SealedSegment): void
  /** Fails the log (a fork: appends must stop). */
  fail(error: SeglogError): void
}

/** First and largest wait before shipping again after a store failure. */
const FIRST_BACKOFF_MS = 100
const MAX_BACKOFF_MS = 30_000

interface Waiter { offset: number; resolve: () => void; reject: (err: SeglogError) => void }

export class TierShipper implements LogAttachment {
  readonly #uploader: SegmentUploader
  readonly #host: ShipperHost
  readonly #queue: SealedSegment[] = []
  readonly #waiters: Waiter[] = []
  readonly #abort = new AbortController()
  #uploaded: number
  /** Why shipping stopped for good (a fork, a damaged or misplaced local segment, close). */
  #stopped: SeglogError | undefined
  #running: Promise<void> | undefined
  /** Resolves when shipping stops for good. */
  readonly #stoppedPromise: Promise<void>
  #resolveStopped: () => void = () => undefined
  #cancelBackoff: (() => void) | undefined
  #wakeBackoff: (() => void) | undefined
  /** The last store failure, while shipping waits to retry it. */
  #lastError: SeglogError | undefined

  /**
   * `uploaded`: every local record below it is known to be in the store; `pending`: the sealed
   * segments still to ship (oldest first), shipped as soon as the shipper is constructed.
   */
  constructor(uploader: SegmentUploader, host: ShipperHost, uploaded: number, pending: readonly SealedSegment[]) {
    this.#uploader = uploader
    this.#host = host
    this.#uploaded = uploaded
    this.#stoppedPromise = new Promise((resolve) => { this.#resolveStopped = resolve })
    this.#queue.push(...pending)
    this.#kick()
  }

  /** Every local record below this is confirmed in the store. */
  get uploadedOffset(): number {
    return this.#uploaded
  }

  /** Sealed segments not confirmed yet. */
  get pendingSegments(): number {
    return this.#queue.length
  }

  /** The end of the newest sealed segment handed over (what a syncTier now must wait for). */
  get sealedEnd(): number {
    return this.#queue.at(-1)?.end ?? this.#uploaded
  }

  /** The store failure shipping is waiting to retry, if any. */
  get lastError(): SeglogError | undefined {
    return this.#lastError
  }

  segmentSealed(segment: LocalSealed): void {
    if (this.#stopped) return
    this.#queue.push({ path: segment.path, base: segment.base, end: segment.end, size: segment.bytes })
    this.#kick()
  }

  /** Resolves once every record below `offset` is confirmed in the store. */
  waitFor(offset: number): Promise<void> {
    if (this.#uploaded >= offset) return Promise.resolve()
    if (this.#stopped) return Promise.reject(this.#stopped)
    return new Promise((resolve, reject) => {
      this.#waiters.push({ offset, resolve, reject })
      // A syncTier is a reason to try now rather than at the end of a long backoff.
      this.#wakeBackoff?.()
    })
  }

  async close(error?: SeglogError): Promise<void> {
    this.#stop(error ?? new SeglogError('ERR_CLOSED', 'the log was closed before its sealed segments were all shipped to the store; open it again with tier to go on shipping'))
    await this.#running
  }

  #kick(): void {
    if (this.#running || this.#stopped || this.#queue.length === 0) return
    // #run handles store and file errors itself; anything else (a clock seam that throws) stops shipping, never the process.
    this.#running = this.#run().catch((err: unknown) => {
      this.#stop(err instanceof SeglogError ? err : new SeglogError('ERR_IO', `shipping to the store stopped: ${(err as Error)?.message ?? String(err)}`, { cause: err }))
    }).finally(() => {
      this.#running = undefined
      this.#kick()
    })
  }

  async #run(): Promise<void> {
    let backoff = FIRST_BACKOFF_MS
    while (this.#queue.length > 0 && !this.#stopped) {
      const segment = this.#queue[0]
      try {
        // Raced with close: a close must not wait for an fsync round that the closing log may never run.
        await Promise.race([this.#host.waitDurable(segment.end), this.#stoppedPromise])
        if (this.#stopped) return
        await this.#uploader.upload(segment, { signal: this.#abort.signal })
      } catch (err) {
        if (this.#stopped) return
        if (isSeglogError(err, 'ERR_STORE')) {
          this.#lastError = err
          await this.#sleep(backoff)
          backoff = Math.min(backoff * 2, MAX_BACKOFF_MS)
          continue
        }
        const error = err instanceof SeglogError ? err : new SeglogError('ERR_IO', `shipping ${segment.path} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err })
        // A fork: another writer extended the remote log. The log must stop accepting appends.
        if (error.code === 'ERR_CONFLICT') this.#host.fail(error)
        this.#stop(error)
        return
      }
      // Every outcome (uploaded, resumed, present, expired) means the store holds, or held and
      // retention has since removed, exactly these bytes.
      backoff = FIRST_BACKOFF_MS
      this.#lastError = undefined
      this.#queue.shift()
      this.#uploaded = segment.end
      this.#settleWaiters()
      this.#host.confirmed(segment)
    }
  }

  #settleWaiters(): void {
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const w = this.#waiters[i]
      if (w.offset <= this.#uploaded) {
        this.#waiters.splice(i, 1)
        w.resolve()
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.#cancelBackoff?.()
        this.#cancelBackoff = undefined
        this.#wakeBackoff = undefined
        resolve()
      }
      this.#wakeBackoff = done
      let fired = false
      this.#cancelBackoff = this.#host.clock.every(ms, () => {
        if (fired) return
        fired = true
        done()
      })
    })
  }

  #stop(error: SeglogError): void {
    if (this.#stopped) return
    this.#stopped = error
    this.#resolveStopped()
    this.#abort.abort(error)
    this.#wakeBackoff?.()
    for (const w of this.#waiters.splice(0)) w.reject(error)
  }
}
