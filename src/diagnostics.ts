/**
 * seglog publishes what it does on `node:diagnostics_channel`, so applications can trace and
 * measure without a logger dependency. Messages are built only when someone subscribes.
 *
 * ```ts
 * import diagnostics_channel from 'node:diagnostics_channel'
 * diagnostics_channel.subscribe('seglog:log:fsync', (m) => console.log(m))
 * ```
 *
 * This module is the one table of channels and imports no feature module: feature modules import
 * their channels from here. (`channel(name)` returns the same object for the same name, so a
 * module that still declares its channel by name publishes on the one listed here.)
 *
 * With `NODE_DEBUG=seglog` (util.debuglog's rules: `NODE_DEBUG=fs,seglog` works too) every channel
 * in the table is printed to stderr, one line per message: `SEGLOG <pid>: seglog:log:fsync { … }`.
 * Without it nothing subscribes, so publishers keep skipping the message entirely.
 */
import diagnostics_channel from 'node:diagnostics_channel'
import { debuglog, inspect } from 'node:util'

export const channels = {
  /** A write of buffered batches to the OS: `{ dir, records, bytes }`. */
  write: diagnostics_channel.channel('seglog:log:write'),
  /** An fsync round finished: `{ dir, durableOffset, durationMs, files }`. */
  fsync: diagnostics_channel.channel('seglog:log:fsync'),
  /** A new segment was started: `{ dir, sealed, base }`. */
  roll: diagnostics_channel.channel('seglog:log:roll'),
  /** open() finished recovery: `{ dir, report }`. */
  recovery: diagnostics_channel.channel('seglog:log:recovery'),
  /** Segments deleted by retention or deleteBefore: `{ dir, files, reason }`. */
  retention: diagnostics_channel.channel('seglog:log:retention'),
  /** The log failed on an I/O error: `{ dir, error }`. */
  failure: diagnostics_channel.channel('seglog:log:failure'),
  /** A journal flush wrote one object (see `FlushMessage`). */
  journalFlush: diagnostics_channel.channel('seglog:journal:flush'),
  /** A journal compaction step (see `CompactMessage`). */
  journalCompact: diagnostics_channel.channel('seglog:journal:compact'),
  /** The worker ring skipped a dead or stalled producer's region (see `SkipEvent`). */
  threadsSkip: diagnostics_channel.channel('seglog:threads:skip'),
  /** The worker ring handed a batch to the log and it became durable (see `DrainBatchEvent`). */
  threadsBatch: diagnostics_channel.channel('seglog:threads:batch'),
} as const

const debug = debuglog('seglog')

/** One line per message, whatever it holds (an error's stack included). */
function oneLine(message: unknown): string {
  return inspect(message, { depth: 3, breakLength: Infinity, compact: true }).replace(/\n\s*/g, ' ')
}

// NODE_DEBUG is read once, at process start, so this decision is made once, at load.
if (debug.enabled) {
  for (const channel of Object.values(channels)) {
    const name = String(channel.name)
    channel.subscribe((message) => debug('%s %s', name, oneLine(message)))
  }
}
