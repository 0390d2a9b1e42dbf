/**
 * A byte progress bar on stderr (bytes done, rate, time left), shown only on a terminal unless
 * forced with --progress, so that piped and logged output stays clean.
 */
import cliProgress from 'cli-progress'
import { formatBytes } from './ui.js'

/** `auto`: only when stderr is a terminal; `on`: always; `off`: never. */
export type ProgressMode = 'auto' | 'on' | 'off'

/** A bar that can be updated and stopped (a no-op when not shown). */
export interface Progress {
  update(done: number, total: number): void
  stop(): void
}

/** Starts a byte progress bar labelled `label`. */
export function byteProgress(label: string, mode: ProgressMode): Progress {
  const tty = process.stderr.isTTY === true
  if (mode === 'off' || (mode === 'auto' && !tty)) return { update: () => undefined, stop: () => undefined }
  const started = performance.now()
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: `${label} [{bar}] {percentage}% | {doneBytes} of {totalBytes} | {rate}/s | {eta_formatted} left`,
    hideCursor: tty,
    clearOnComplete: false,
    noTTYOutput: !tty,
    notTTYSchedule: 250,
    etaBuffer: 50,
    barsize: 24,
  }, tty ? cliProgress.Presets.shades_classic : cliProgress.Presets.legacy)
  let running = false
  const payload = (done: number, total: number): Record<string, string> => {
    const seconds = (performance.now() - started) / 1000
    return { doneBytes: formatBytes(done), totalBytes: formatBytes(total), rate: formatBytes(seconds > 0 ? Math.round(done / seconds) : 0) }
  }
  return {
    update(done, total) {
      if (!running) {
        bar.start(Math.max(total, 1), 0, payload(0, total))
        running = true
      }
      bar.setTotal(Math.max(total, 1))
      bar.update(done, payload(done, total))
    },
    stop() {
      if (running) bar.stop()
      running = false
    },
  }
}
