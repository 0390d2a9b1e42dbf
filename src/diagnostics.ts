/**
 * seglog publishes what it does on `node:diagnostics_channel`, so applications can trace and
 * measure without a logger dependency. Messages are built only when someone subscribes.
 *
 * ```ts
 * import diagnostics_channel from 'node:diagnostics_channel'
import { compactChannel, flushChannel } from './journal/index.js'
 * diagnostics_channel.subscribe('seglog:log:fsync', (m) => console.log(m))
 * ```
 */
import diagnostics_channel from 'node:diagnostics_channel'
import { compactChannel, flushChannel } from './journal/index.js'

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
  journalFlush: flushChannel,
  /** A journal compaction step (see `CompactMessage`). */
  journalCompact: compactChannel,
} as const
