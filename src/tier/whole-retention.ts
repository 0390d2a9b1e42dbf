/**
 * Whole-log retention of a tiered log (`retention` with `tier`): bounds the log with its store
 * included. Each pass is one {@link applyRemoteRetention} on the log's clock, run after a segment
 * is confirmed in the store and on a timer while the log is open, never on the append path. What
 * a pass deletes in the store then leaves the local disk too (the host's `removed`).
 *
 * Passes never overlap: a request while one runs makes one more pass after it. A failed pass
 * (store down, an anomaly in a listing) changes nothing that matters and is simply tried again at
 * the next trigger.
 */
import type { SeglogError } from '../errors.js'
import type { LogClock, RetentionOptions } from '../local/options.js'
import type { RetryPolicy } from '../objects/retry.js'
import type { ObjectStore } from '../objects/types.js'
import { applyRemoteRetention } from './remote-retention.js'

/** What whole-log retention needs of its tiered log. */
export interface WholeRetentionHost {
  readonly store: ObjectStore
  readonly prefix: string
  readonly retry: RetryPolicy | undefined
  readonly clock: LogClock
  /** Bytes of the log past `remoteEnd`, not in the store yet (sealed segments waiting to ship, the active segment). */
  unshippedBytes(remoteEnd: number): number
  /** A pass ended with the store's log starting at `firstOffset`: everything below has left the log. */
  removed(firstOffset: number): void
}

/** How often the timer asks for a pass: a quarter of maxAgeMs within [10 ms, 1 min]; 1 min for size alone. */
export function wholeRetentionTickMs(limits: RetentionOptions): number {
  return limits.maxAgeMs === undefined ? 60_000 : Math.min(Math.max(Math.floor(limits.maxAgeMs / 4), 10), 60_000)
}

export class WholeLogRetention {
  readonly #host: WholeRetentionHost
  readonly #limits: RetentionOptions
  readonly #abort = new AbortController()
  readonly #stopTimer: () => void
  #running: Promise<void> | undefined
  #again = false
  #closed = false
  /** Passes completed (tests and diagnostics). */
  passes = 0
  /** Why the last pass failed, until one succeeds. */
  lastError: unknown

  constructor(host: WholeRetentionHost, limits: RetentionOptions) {
    this.#host = host
    this.#limits = limits
    this.#stopTimer = host.clock.every(wholeRetentionTickMs(limits), () => this.schedule())
  }

  /** Asks for a pass soon (one more after the running one, if any). */
  schedule(): void {
    if (this.#closed) return
    if (this.#running) {
      this.#again = true
      return
    }
    this.#running = this.#loop().finally(() => { this.#running = undefined })
  }

  /** Resolves when no pass runs or is asked for (tests). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false
      // A turn of the event loop first: a confirmation's caller (the shipper) goes on at once.
      await Promise.resolve()
      if (this.#closed) return
      const { maxBytes, maxAgeMs } = this.#limits
      try {
        // Every segment counted once: the store's, then the local ones past its end (not shipped yet).
        const result = await applyRemoteRetention(this.#host.store, this.#host.prefix, { maxBytes, maxAgeMs },
          { now: this.#host.clock.now(), retry: this.#host.retry, signal: this.#abort.signal, beyondEnd: (end) => this.#host.unshippedBytes(end) })
        this.passes++
        this.lastError = undefined
        if (!this.#closed) this.#host.removed(result.firstOffset)
      } catch (err) {
        this.lastError = err
      }
    } while (this.#again && !this.#closed)
  }

  /** Stops the timer and any pass (what it deleted stays deleted; the next open goes on). */
  async close(_error?: SeglogError): Promise<void> {
    this.#closed = true
    this.#stopTimer()
    this.#abort.abort()
    await this.#running
  }
}
