/**
 * The journal's clock seam. The journal reads two clocks of its own process and never compares
 * either with another process's clock or with the store's timestamps:
 * - the wall clock (`now`, ms since the epoch): only for the timestamp stored in each batch and
 *   shown to readers;
 * - the monotonic clock (`monotonic`, ms from an arbitrary origin): linger, poll and backoff
 *   timers, how long a writer trusts the sequence number it last learned, how long a reader reuses
 *   its listing of compacted objects.
 * Object ages (grace period, age retention) are measured on the store's own clock instead; see
 * `storeNow` in journal.ts.
 */
// `performance` is Node's global: importing node:perf_hooks would load its histograms, timerify and
// event-loop-delay modules at import time (about 1 ms of a cold start) for the same object.

/** Clock readings and timers the journal uses; inject one to move time in tests. */
export interface JournalClock {
  /** Wall-clock time in ms since the epoch (`Date.now()` by default). */
  now(): number
  /** Monotonic time in ms (`performance.now()` by default); never goes back. */
  monotonic(): number
  /** Calls `callback` once `ms` of monotonic time have passed; returns a function that cancels it. */
  setTimer(callback: () => void, ms: number): () => void
}

/** The real clocks: `Date.now()`, `performance.now()` and `setTimeout`. */
export const systemClock: JournalClock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimer(callback, ms) {
    const t = setTimeout(callback, ms)
    return () => clearTimeout(t)
  },
}

/** Sleeps `ms` of the clock's monotonic time; rejects with the signal's reason when it aborts. */
export function sleep(clock: JournalClock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) { reject(signal.reason); return }
    const onAbort = (): void => { cancel(); reject(signal?.reason) }
    const cancel = clock.setTimer(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * Elapsed time since a reading taken with {@link readInstant}: the larger of the monotonic and the
 * wall-clock difference. A monotonic clock may stand still while the machine sleeps and the wall
 * clock may be stepped back; taking the larger errs towards "more time has passed", which is the
 * safe side for every trust window the journal keeps.
 */
export function elapsedSince(clock: JournalClock, at: Instant): number {
  return Math.max(clock.monotonic() - at.monotonic, clock.now() - at.wall)
}

/** Both clock readings at one moment. */
export interface Instant { monotonic: number; wall: number }

/** Reads both clocks. */
export function readInstant(clock: JournalClock): Instant {
  return { monotonic: clock.monotonic(), wall: clock.now() }
}

/**
 * A clock that moves only when told to, for tests: `advance(ms)` moves both readings and fires
 * the timers that come due, in order. `view({ wallOffsetMs, rate })` gives another process's
 * view of the same time: a wall clock `wallOffsetMs` off, and a monotonic clock running at `rate`
 * times the speed of this one (0: a process whose clocks stand still).
 */
export class ManualClock implements JournalClock {
  #monotonic = 0
  #wall: number
  #seq = 0
  readonly #timers = new Map<number, { at: number; callback: () => void }>()

  constructor(startWallMs = 1_700_000_000_000) {
    this.#wall = startWallMs
  }

  now(): number { return this.#wall }
  monotonic(): number { return this.#monotonic }

  setTimer(callback: () => void, ms: number): () => void {
    const id = ++this.#seq
    this.#timers.set(id, { at: this.#monotonic + Math.max(0, ms), callback })
    return () => { this.#timers.delete(id) }
  }

  /** Timers waiting to fire. */
  get pendingTimers(): number { return this.#timers.size }

  /**
   * Moves time forward by `ms`, firing due timers in order (each at its own time), and lets the
   * work they start run (a macrotask turn after each) before moving on.
   */
  async advance(ms: number): Promise<void> {
    const end = this.#monotonic + ms
    for (;;) {
      let next: [number, { at: number; callback: () => void }] | undefined
      for (const e of this.#timers) if (e[1].at <= end && (next === undefined || e[1].at < next[1].at)) next = e
      if (next === undefined) break
      this.#step(next[1].at - this.#monotonic)
      this.#timers.delete(next[0])
      next[1].callback()
      await new Promise<void>((r) => setImmediate(r))
    }
    this.#step(end - this.#monotonic)
  }

  #step(ms: number): void {
    this.#monotonic += ms
    this.#wall += ms
  }

  /** Another process's view of this time (see the class comment). */
  view(options: { wallOffsetMs?: number; rate?: number } = {}): JournalClock {
    const offset = options.wallOffsetMs ?? 0
    const rate = options.rate ?? 1
    const origin = { monotonic: this.#monotonic, wall: this.#wall }
    return {
      now: () => origin.wall + offset + (this.#wall - origin.wall) * rate,
      monotonic: () => origin.monotonic + (this.#monotonic - origin.monotonic) * rate,
      setTimer: (callback, ms) => this.setTimer(callback, rate === 0 ? Number.MAX_SAFE_INTEGER : ms / rate),
    }
  }
}
