/**
 * Terminal conventions: data goes to stdout, messages to stderr; colour only on a terminal and
 * never when NO_COLOR is set (https://no-color.org: any non-empty value).
 */
import type { Writable } from 'node:stream'
import { setImmediate as nextTurn } from 'node:timers/promises'

/** True when `stream` is a terminal and the user has not asked for no colour. */
export function colorEnabled(stream: NodeJS.WriteStream | Writable): boolean {
  const noColor = process.env.NO_COLOR
  if (noColor !== undefined && noColor !== '') return false
  return (stream as NodeJS.WriteStream).isTTY === true
}

type Paint = (text: string) => string

/** ANSI styles that turn into no-ops where colour is off. */
export interface Palette {
  red: Paint
  yellow: Paint
  green: Paint
  dim: Paint
  bold: Paint
}

const sgr = (open: number, close: number): Paint => (s) => `\u001b[${open}m${s}\u001b[${close}m`
const plain: Paint = (s) => s

/** A palette for `stream`. */
export function palette(stream: NodeJS.WriteStream | Writable): Palette {
  if (!colorEnabled(stream)) return { red: plain, yellow: plain, green: plain, dim: plain, bold: plain }
  return { red: sgr(31, 39), yellow: sgr(33, 39), green: sgr(32, 39), dim: sgr(2, 22), bold: sgr(1, 22) }
}

/** Messages for people, on stderr. */
export const messages = {
  error(message: string, hint?: string): void {
    const p = palette(process.stderr)
    process.stderr.write(`${p.red('seglog: error:')} ${message}\n`)
    if (hint !== undefined) process.stderr.write(`${p.dim('hint:')} ${hint}\n`)
  },
  warn(message: string): void {
    process.stderr.write(`${palette(process.stderr).yellow('seglog: warning:')} ${message}\n`)
  },
  info(message: string): void {
    process.stderr.write(`${message}\n`)
  },
}

/** Raised inside a command when stdout's reader went away (`seglog cat | head`): not a failure. */
export class StdoutClosed extends Error {
  constructor() {
    super('stdout closed')
    this.name = 'StdoutClosed'
  }
}

/**
 * Buffered writes to stdout that respect backpressure, so `cat` of a large log runs in bounded
 * memory, and that turn EPIPE into {@link StdoutClosed}.
 */
export class Output {
  private chunks: (string | Buffer)[] = []
  private pending = 0
  private closed = false
  private readonly onError = (err: NodeJS.ErrnoException): void => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') this.closed = true
  }

  constructor(private readonly stream: Writable = process.stdout, private readonly highWater = 64 << 10) {
    stream.on('error', this.onError)
  }

  /** True when the reader of stdout is gone. */
  get isClosed(): boolean {
    return this.closed
  }

  /** Queues data; flushes once a chunk's worth is queued. */
  async write(data: string | Buffer): Promise<void> {
    if (this.closed) throw new StdoutClosed()
    this.chunks.push(data)
    this.pending += data.length
    if (this.pending >= this.highWater) await this.flush()
  }

  /** Writes everything queued and waits for the stream to drain if it is full. */
  async flush(): Promise<void> {
    if (this.closed) throw new StdoutClosed()
    if (this.chunks.length === 0) return
    const chunks = this.chunks
    this.chunks = []
    this.pending = 0
    const data = chunks.every((c) => typeof c === 'string') ? chunks.join('') : Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c)))
    if (!this.stream.write(data)) await this.drained()
    // Writes to files (and, on Linux, to pipes) complete synchronously and 'drain' comes on
    // process.nextTick, so a long `cat` would never leave the microtask queue and a Ctrl-C
    // (SIGINT is delivered as an event-loop task) would wait until the whole log was printed.
    // One turn of the event loop per flushed chunk (64 KiB) lets the signal in.
    await nextTurn()
    if (this.closed) throw new StdoutClosed()
  }

  /** Waits for 'drain' or 'close', then removes both listeners (one wait per chunk adds up). */
  private drained(): Promise<void> {
    const stream = this.stream
    return new Promise((resolve) => {
      if (stream.destroyed || !stream.writableNeedDrain) {
        resolve()
        return
      }
      const done = (): void => {
        stream.off('drain', done)
        stream.off('close', done)
        resolve()
      }
      stream.on('drain', done)
      stream.on('close', done)
    })
  }
}

/** `1.5 MiB` style sizes. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = bytes
  let u = -1
  do {
    v /= 1024
    u++
  } while (v >= 1024 && u < units.length - 1)
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`
}

/** Thousands separators, locale-independent so output is the same everywhere. */
export function formatCount(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}

/** `12 ms` / `3.4 s`. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(ms < 10 ? 1 : 0)} ms` : `${(ms / 1000).toFixed(2)} s`
}
