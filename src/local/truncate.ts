/**
 * truncate(): removes every record at or after an offset, crash-safely. Readers learn of the cut
 * first (an odd truncate generation), an intent file makes a crash part-way complete at the next
 * open, then the files change and the generation is even again. Runs under the exclusive gate.
 */
import { type BatchHeader, encodeBatch, forEachRecord } from '../format/index.js'
import { findBatchHolding, type LocatedBatch } from './batch-reader.js'
import { SeglogError } from '../errors.js'
import type { FileSystem } from '../io/file-system.js'
import type { CursorWatch } from './cursor-source.js'
import { mergeGaps, writeGaps, type Gap } from './gaps.js'
import type { GroupCommitter } from './group-commit.js'
import type { ReaderSync } from './reader-sync.js'
import { Segment } from './segment.js'
import { closeQuietly, closeSegmentQuietly, type SegmentSet } from './segment-set.js'
import { beginTruncate, endTruncate, writeTruncations } from './truncations.js'
import { applyIntent, recordIntent } from './truncate-intent.js'

/** What truncate needs of its log. */
export interface TruncateHost {
  readonly fsys: FileSystem
  readonly dir: string
  readonly tag: number
  readonly segments: SegmentSet
  readonly committer: GroupCommitter
  readonly readers: ReaderSync
  readonly watch: CursorWatch
  firstOffset(): number
  nextOffset(): number
  /** Writes the append buffer out; throws the log's error when that fails. */
  flush(): void
  isOpen(): boolean
  unusable(): SeglogError
  fail(cause: unknown): void
  /** Every offset counter (assigned, written, durable) is now `end`. */
  setEnd(end: number): void
}

/** A batch found in a segment (none when the cut lies in a recorded gap past the segment). */
type Cut = Omit<LocatedBatch, 'header'> & { header: BatchHeader | undefined }

/** The truncate itself (the caller holds the exclusive gate and checked the argument). */
export async function truncateLog(host: TruncateHost, offset: number): Promise<void> {
  const { fsys, dir, segments: set, committer } = host
  if (offset < host.firstOffset() || offset > host.nextOffset()) {
    throw new SeglogError('ERR_OFFSET_OUT_OF_RANGE',
      `truncate(${offset}) is outside the log's offsets [${host.firstOffset()}, ${host.nextOffset()}]; nothing was changed`,
      { details: { offset } })
  }
  if (offset === host.nextOffset()) return
  host.flush()
  // The intent (and the checkpoint its replay writes) vouch for every byte before the cut: those
  // must be durable first, also under sync 'never' or an interval, or a power cut can leave
  // a checkpoint over torn data.
  await committer.waitDurable(committer.written)
  await committer.settled()
  if (!host.isOpen()) throw host.unusable()
  // Derived only now, after the last await before the change; the gate keeps every other job
  // (retention, rolls, deleteBefore) from changing the segment list until the truncate is done.
  const at = set.at(offset)
  const segment = set.segments[at]
  let index = set.indexOf(at)
  // A lazily decoded index (the active segment's, see SparseIndex.decode) is cut by its entries:
  // check them all first, and rebuild it from the batches if one fails, before anything changes.
  if (!index.checkAll()) index = set.rebuildIndexOf(at, () => host.flush())
  // An offset past the end of a sealed segment lies in a gap a repair recorded: cut after that
  // segment, then start the new end at `offset` with the part of the gap below it still recorded.
  const gapFrom = set.lostAt(offset, at) ? index.nextOffset : undefined
  const cut: Cut = gapFrom !== undefined
    ? { position: segment.size, baseOffset: gapFrom, header: undefined, bytes: Buffer.alloc(0) }
    : findBatchHolding(segment.handle(fsys), segment.path, segment.size, segment.base, host.tag, index, offset)
  let replacement: Buffer = Buffer.alloc(0)
  if (cut.header && cut.baseOffset < offset) {
    const records: Buffer[] = []
    forEachRecord(cut.bytes, 0, cut.header, (data, off) => {
      if (off < offset) records.push(Buffer.from(data))
    })
    replacement = encodeBatch(records, cut.baseOffset, cut.header.timestamp, host.tag)
  }
  const intent = { segmentBase: segment.base, cutPosition: cut.position, nextOffset: gapFrom ?? offset, replacement }
  // Readers learn of the cut before any byte changes (an odd generation: wait), and again once it is done.
  const begun = beginTruncate(host.readers.truncations, offset)
  host.readers.truncations = begun
  host.watch.stamp++
  try {
    await writeTruncations(fsys, dir, begun)
    await recordIntent(fsys, dir, intent)
    const kept = set.segments.indexOf(segment)
    if (kept < 0) throw new Error(`the segment ${segment.path} left the log during truncate`)
    for (const s of set.segments.slice(kept)) closeSegmentQuietly(s)
    if (set.writer && set.active !== segment) closeQuietly(set.writer)
    committer.dropUnsynced()
    set.writer = undefined
    await applyIntent(fsys, dir, intent)
    set.cutAfter(segment, kept, index)
    segment.size = cut.position + replacement.length
    segment.forgetFrom(cut.position)
    index.truncateTo(intent.nextOffset, segment.size)
    set.writer = fsys.open(segment.path, 'write')
    segment.adoptHandle(set.writer)
    host.setEnd(intent.nextOffset)
    committer.checkpointAt(segment.base, segment.size)
    const keptGaps = set.gaps.filter((g) => g.to <= intent.nextOffset)
    if (gapFrom !== undefined && offset > gapFrom) await startAfterGap(host, keptGaps, gapFrom, offset)
    else if (keptGaps.length !== set.gaps.length) {
      set.gaps = keptGaps
      await writeGaps(fsys, dir, keptGaps)
    }
    const ended = endTruncate(begun)
    await writeTruncations(fsys, dir, ended)
    host.readers.truncations = ended
    host.watch.stamp++
  } catch (err) {
    host.fail(err)
    throw host.unusable()
  }
}

/**
 * After a truncate into a recorded gap `[from, …)`: records `[from, to)` as lost and makes a new,
 * empty active segment at `to`, so the next append gets `to` as truncate() promises.
 */
async function startAfterGap(host: TruncateHost, kept: Gap[], from: number, to: number): Promise<void> {
  const { fsys, dir, segments: set } = host
  const gaps = mergeGaps(kept, [{ from, to }])
  await writeGaps(fsys, dir, gaps)
  set.gaps = gaps
  const segment = new Segment(dir, to, 0, host.tag)
  const handle = fsys.open(segment.path, 'create-new')
  await fsys.syncDir(dir)
  set.active.adoptHandle(undefined)
  if (set.writer) closeQuietly(set.writer)
  set.activate(segment, handle)
  host.setEnd(to)
  // The checkpoint names the sealed segment; the next round writes one for this segment.
  host.committer.checkpointAt(-1, 0)
}
