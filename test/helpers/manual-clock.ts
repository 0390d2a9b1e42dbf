import type { LogClock } from '../../src/index.js'

/** A clock that moves only when told: `advance()` moves time, `fire()` runs every timer once. */
export interface ManualClock extends LogClock {
  advance(ms: number): void
  /** Runs each registered timer's callback once (as if its interval elapsed). */
  fire(): void
  /** Timers registered and not cancelled. */
  readonly timers: number
}

export function manualClock(start = Date.now()): ManualClock {
  let now = start
  const timers = new Set<() => void>()
  return {
    now: () => now,
    every(_intervalMs, fn) {
      const entry = (): void => fn()
      timers.add(entry)
      return () => {
        timers.delete(entry)
      }
    },
    advance(ms) {
      now += ms
    },
    fire() {
      for (const fn of [...timers]) fn()
    },
    get timers() {
      return timers.size
    },
  }
}
