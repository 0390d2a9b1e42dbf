/**
 * Where a point read is served from, for `read()` and `readSync()`: the local segments (a
 * read-only handle checked against the writer's truncates), or, for a tiered log, the object store
 * below the local first offset. `read()` waits for an exclusive operation (truncate, deleteBefore,
 * a tiered roll) and for a read-only reload; `readSync()` cannot, and says so with `ERR_BUSY`.
 */
import { SeglogError } from '../errors.js'
import type { LogCore } from './log-core.js'
import { readFollowing, readFollowingNow, readNow } from './point-read.js'
import type { LogRecord } from './segment.js'

/** The record at `offset`, waiting for whatever rewrites the log's state first (see `LocalLog.read`). */
export function readWaiting(core: LogCore, offset: number, again: (offset: number) => Promise<LogRecord | undefined>): Promise<LogRecord | undefined> {
  // While a truncate rewrites files, the state to read from is being replaced: wait for it.
  if (core.gate.current) return core.gate.current.then(() => again(offset))
  const below = core.below
  if (below && Number.isSafeInteger(offset) && offset >= 0 && (offset < core.firstOffset || offset < below.retainedFrom())) {
    try {
      core.state.checkReadable()
    } catch (err) {
      return Promise.reject(err)
    }
    // Below the whole log's retention point nothing is read, even a local copy not deleted yet.
    if (offset < below.retainedFrom()) return Promise.resolve(undefined)
    return below.read(offset)
  }
  if (core.options.readOnly) {
    if (below === undefined) return readFollowing(core.reads, offset)
    // The writer may have deleted the local copy since this reader last looked: a tiered writer
    // deletes only what the store holds, so the store has it.
    return readFollowing(core.reads, offset).then(
      (r) => (r === undefined && offset < core.firstOffset ? below.read(offset) : r),
      (err: unknown) => {
        if ((err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return below.read(offset)
        throw err
      })
  }
  try {
    return Promise.resolve(readNow(core.reads, offset))
  } catch (err) {
    return Promise.reject(err)
  }
}

/** The record at `offset` now, from the local segments only (see `LocalLog.readSync`). */
export function readLocalNow(core: LogCore, offset: number): LogRecord | undefined {
  if (core.gate.current) {
    // close() holds the gate to its end: that is ERR_CLOSED, as read() would reject once it waited.
    if (core.state.name === 'closing') throw core.state.unusable()
    throw new SeglogError('ERR_BUSY', `readSync(${offset}) cannot wait for the exclusive operation (truncate, deleteBefore or a tiered roll) running on the log in ${core.dir}, ` +
      'which may be replacing the records it would read; nothing was read: await that call (or await read(), which waits for it) and read again', { details: { offset } })
  }
  const below = core.below
  if (below && Number.isSafeInteger(offset) && offset >= 0 && (offset < core.firstOffset || offset < below.retainedFrom())) {
    core.state.checkReadable()
    if (offset < below.retainedFrom()) return undefined
    throw inStore(core, offset)
  }
  if (!core.options.readOnly) return readNow(core.reads, offset)
  let record: LogRecord | undefined
  try {
    record = readFollowingNow(core.reads, offset)
  } catch (err) {
    if (below !== undefined && (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') throw inStore(core, offset)
    throw err
  }
  if (record === undefined && below !== undefined && offset < core.firstOffset) throw inStore(core, offset)
  return record
}

function inStore(core: LogCore, offset: number): SeglogError {
  return new SeglogError('ERR_OFFSET_OUT_OF_RANGE', `readSync(${offset}) reads local segments only, and offset ${offset} of the tiered log in ${core.dir} lies below ` +
    `its local first offset ${core.firstOffset}, in the object store; await read(${offset}), which fetches it from there`, { details: { offset, localFirstOffset: core.firstOffset } })
}
