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

/**
 * A read-only read: the truncate generation must be even and unchanged from before the read to
 * after it, or the result (or error) may come from files the writer was rewriting, and the read
 * is done again.
 */
export async function readFollowing(host: PointReadHost, offset: number): Promise<LogRecord | undefined> {
  for (let attempt = 0; ; attempt++) {
    const pending = host.settle()
    if (pending) await pending
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
        continue
      }
      if (!host.readers.changedSince(generation)) throw err
      continue
    }
    if (!host.readers.changedSince(generation)) return record
    if (attempt >= MAX_READ_RETRIES) {
      throw new SeglogError('ERR_IO', `the log in ${host.dir} was truncated ${MAX_READ_RETRIES} times while read(${offset}) ran; read again`,
        { details: { offset } })
    }
  }
}
