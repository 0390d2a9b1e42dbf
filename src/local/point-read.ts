/**
 * Point reads: the record at one offset, through the segment set's lookup and index. A read-only
 * handle's read is checked like a sequence lock against the writer's truncates.
 */
import { SeglogError } from '../errors.js'
import type { FileSystem } from '../io/file-system.js'
import { offsetLostError } from './gaps.js'
import type { ReaderSync } from './reader-sync.js'
import { checkOffset } from '../record-input.js'
import { InconsistentIndexError, type LogRecord } from './segment.js'
import type { SegmentSet } from './segment-set.js'

/** A read-only read raced by this many truncates in another process gives up (with ERR_IO). */
const MAX_READ_RETRIES = 16

/** What a point read needs of its log. */
export interface PointReadHost {
  readonly fsys: FileSystem
  readonly dir: string
  readonly readOnly: boolean
  /** Bytes fetched from the index entry on: one interval plus a typical record. */
  readonly readAheadBytes: number
  readonly segments: SegmentSet
  readonly readers: ReaderSync
  checkReadable(): void
  firstOffset(): number
  /** Offset the next append gets. */
  assigned(): number
  /** Offset after the last record written to the OS. */
  written(): number
  /** Writes the append buffer out; throws the log's error when that fails. */
  flush(): void
  /** Read-only: picks up the writer's appends. */
  refresh(): void
  /** An exclusive operation or a reload to wait for first; undefined when none. */
  settle(): Promise<void> | undefined
}

/** The record at `offset` now (no waiting), or undefined outside the log. */
export function readNow(host: PointReadHost, offset: number): LogRecord | undefined {
  host.checkReadable()
  checkOffset(offset, 'read')
  if (host.readOnly && offset >= host.assigned()) host.refresh()
  if (offset >= host.assigned() || offset < host.firstOffset()) return undefined
  if (offset >= host.written()) host.flush()
  const set = host.segments
  const at = set.at(offset)
  const lost = set.lostAt(offset, at)
  if (lost) throw offsetLostError(offset, lost, host.dir)
  try {
    return set.segments[at].read(host.fsys, offset, set.indexOf(at), host.readAheadBytes, set.readBuffers)
  } catch (err) {
    if (!(err instanceof InconsistentIndexError)) throw err
    // The index is derived data that contradicts the segment: build it again from the batches.
    return set.segments[at].read(host.fsys, offset, set.rebuildIndexOf(at, () => host.flush()), host.readAheadBytes, set.readBuffers)
  }
}

/** What one read-only attempt asks of its caller: read again. */
const AGAIN: unique symbol = Symbol('again')

/**
 * One attempt of a read-only read: the truncate generation must be even and unchanged from before
 * the read to after it, or the result (or error) may come from files the writer was rewriting, and
 * the read is done again ({@link AGAIN}). The caller has settled any reload first.
 */
function readOnce(host: PointReadHost, offset: number, attempt: number): LogRecord | undefined | typeof AGAIN {
  const generation = host.readers.truncations.generation
  let record: LogRecord | undefined
  try {
    record = readNow(host, offset)
  } catch (err) {
    if (attempt >= MAX_READ_RETRIES) throw err
    if ((err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      // The writer deleted the segment (retention, deleteBefore) after this handle last looked:
      // look again, and the offset is then below the first offset (undefined) or elsewhere.
      host.refresh()
      return AGAIN
    }
    if (!host.readers.changedSince(generation)) throw err
    return AGAIN
  }
  if (!host.readers.changedSince(generation)) return record
  if (attempt >= MAX_READ_RETRIES) {
    throw new SeglogError('ERR_IO', `the log in ${host.dir} was truncated ${MAX_READ_RETRIES} times while read(${offset}) ran; read again`,
      { details: { offset } })
  }
  return AGAIN
}

/** A read-only read: see {@link readOnce}; waits for a reload the writer's truncate made necessary. */
export async function readFollowing(host: PointReadHost, offset: number): Promise<LogRecord | undefined> {
  for (let attempt = 0; ; attempt++) {
    const pending = host.settle()
    if (pending) await pending
    const record = readOnce(host, offset, attempt)
    if (record !== AGAIN) return record
  }
}

/**
 * A read-only read that cannot wait: when the writer truncated since this handle last looked,
 * the reload that follows is started and the read throws `ERR_BUSY` (a later read, or an awaited
 * `read()`, sees the log after the truncate).
 */
export function readFollowingNow(host: PointReadHost, offset: number): LogRecord | undefined {
  for (let attempt = 0; ; attempt++) {
    const pending = host.settle()
    if (pending) {
      // Its failure reaches the next read that waits for it; nobody waits for this one.
      pending.catch(() => undefined)
      throw new SeglogError('ERR_BUSY', `readSync(${offset}) cannot wait while this read-only handle reloads the log in ${host.dir} after the writer truncated it; ` +
        'nothing was read: call it again once the reload is done, or await read(), which waits for it', { details: { offset } })
    }
    const record = readOnce(host, offset, attempt)
    if (record !== AGAIN) return record
  }
}
