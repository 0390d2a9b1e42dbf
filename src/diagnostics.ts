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
 */
import diagnostics_channel from 'node:diagnostics_channel'

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
