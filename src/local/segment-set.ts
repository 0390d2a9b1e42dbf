/**
 * The segment set: the log's segment files in offset order, the active one and its writer, lookup
 * by offset, the sealed segments' indexes kept in memory (an LRU), the gaps a repair recorded, the
 * roll, and (read-only handles) picking up another process's new segments. `generation` is bumped
 * whenever the list of segments changes, so holders of a position can tell it may be stale.
 */
import { SeglogError } from '../errors.js'
import type { FileHandle, FileSystem } from '../io/file-system.js'
import { gapAt, type Gap } from './gaps.js'
import { parseSegmentName } from './names.js'
import type { RecoveredLog } from './recovery.js'
import { scanSegment } from './scan.js'
import { corruptError, PointReadBuffers, Segment } from './segment.js'
import { SparseIndex } from './sparse-index.js'

/** Sealed segments kept with their index in memory (each up to ~400 KiB at the defaults). */
export const MAX_LOADED_SEALED_SEGMENTS = 16

export interface SegmentSetConfig {
  readonly fsys: FileSystem
  readonly dir: string
  /** The tag every batch of this log carries. */
  readonly tag: number
  readonly indexIntervalBytes: number
  /** Read-only handles never write index files and refresh from the directory. */
  readonly readOnly: boolean
  /** Sealed segments whose index stays loaded; default {@link MAX_LOADED_SEALED_SEGMENTS}. */
  readonly maxLoaded?: number
  /** Budget of the point-read cache of verified batches (batch-cache.ts); default 0 (none). */
  readonly readCacheBytes?: number
}

/** What a segment-set listener learns when a segment is sealed (e.g. a tiered store uploads it). */
export interface SealedSegment {
  readonly base: number
  /** Offset after its last record. */
  readonly end: number
  readonly path: string
  readonly indexPath: string
  readonly bytes: number
  /** Largest batch timestamp it holds (ms on the log's clock). */
  readonly maxTimestamp: number
}

export class SegmentSet {
  segments: Segment[]
  active: Segment
  activeIndex: SparseIndex
  /** The handle appends write through (the active segment's); undefined when read-only, failed or closed. */
  writer: FileHandle | undefined
  /** Holes recorded by repair (sorted): offsets lost to damage, between two segments. */
  gaps: Gap[]
  /** Bumped whenever the list of segments changes. */
  generation = 0
  /** The buffers every point read into these segments uses (one set per log). */
  readonly readBuffers: PointReadBuffers
  /** Sealed segments whose index is in memory, least recently loaded first. */
  private loaded: Segment[] = []
  private readonly maxLoaded: number

  constructor(private readonly config: SegmentSetConfig, recovered: Pick<RecoveredLog, 'segments' | 'activeIndex' | 'nextOffset' | 'gaps'>) {
    this.maxLoaded = config.maxLoaded ?? MAX_LOADED_SEALED_SEGMENTS
    this.readBuffers = new PointReadBuffers(config.tag, config.readCacheBytes ?? 0)
    this.segments = recovered.segments
    this.gaps = recovered.gaps
    this.activeIndex = recovered.activeIndex
    this.active = this.segments[this.segments.length - 1] ?? new Segment(config.dir, recovered.nextOffset, 0, config.tag)
  }

  /** Opens the active segment for appending (writable logs). */
  openWriter(): void {
    this.writer = this.config.fsys.open(this.active.path, 'write')
    this.active.closeHandle()
    this.active.adoptHandle(this.writer)
  }

  /** Base of the oldest segment, or undefined when there is none. */
  get firstBase(): number | undefined {
    return this.segments.length > 0 ? this.segments[0].base : undefined
  }

  /** Position in {@link segments} of the segment that holds (or would hold) `offset`. */
  at(offset: number): number {
    const segs = this.segments
    let lo = 0
    let hi = segs.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (segs[mid].base <= offset) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  /** The index of segment `at`, loading it (and evicting the least recently loaded one) if needed. */
  indexOf(at: number): SparseIndex {
    const segment = this.segments[at]
    if (segment === this.active) return this.activeIndex
    if (segment.index) return segment.index
    const index = segment.ensureIndex(this.config.fsys, this.config.indexIntervalBytes, this.expectedEnd(at), !this.config.readOnly)
    this.remember(segment)
    return index
  }

  /** Memory must not grow with the log: keep the indexes (and read handles) of a few sealed segments. */
  private remember(segment: Segment): void {
    this.loaded.push(segment)
    if (this.loaded.length > this.maxLoaded) (this.loaded.shift() as Segment).unload()
  }

  /** Sealed segments whose index is loaded, least recently loaded first (for tests and tools). */
  loadedSealed(): readonly Segment[] {
    return this.loaded
  }

  /** Where sealed segment `at` must end: the next segment's base, or the start of a recorded gap before it. */
  expectedEnd(at: number): number | undefined {
    const following = this.segments[at + 1]
    if (!following) return undefined
    const gap = this.gaps.find((g) => g.to === following.base)
    return gap ? gap.from : following.base
  }

  /**
   * Replaces the index of segment `at` with one scanned from its verified batches. For the
   * active segment `flushActive` first writes buffered records, so the scan sees them all.
   */
  rebuildIndexOf(at: number, flushActive: () => void): SparseIndex {
    const segment = this.segments[at]
    if (segment !== this.active) return segment.rebuildIndex(this.config.fsys, this.config.indexIntervalBytes, this.expectedEnd(at), !this.config.readOnly)
    flushActive()
    const index = segment.rebuildIndex(this.config.fsys, this.config.indexIntervalBytes, undefined, false)
    this.activeIndex = index
    return index
  }

  /**
   * The recorded gap holding `offset` when it lies past the end of its (sealed) segment `at`.
   * A hole that no repair recorded is damage: ERR_CORRUPT.
   */
  lostAt(offset: number, at: number): Gap | undefined {
    if (at >= this.segments.length - 1) return undefined
    const end = this.indexOf(at).nextOffset
    if (offset < end) return undefined
    const gap = gapAt(this.gaps, offset)
    if (gap) return gap
    const next = this.segments[at + 1]
    throw corruptError(this.segments[at].path, this.segments[at].size,
      `offsets ${end}…${next.base - 1} are missing between this segment and the next, and no repair recorded them`)
  }

  /** Makes a freshly created, empty segment the active one, written through `handle`. */
  activate(segment: Segment, handle: FileHandle): void {
    this.writer = handle
    segment.adoptHandle(handle)
    segment.index = new SparseIndex(segment.base)
    this.activeIndex = segment.index
    this.segments.push(segment)
    this.active = segment
    this.generation++
  }

  /**
   * Seals the active segment at `written` (its index file is written, best effort: derived
   * data) and starts a new one there. Returns the sealed segment and its old writer, which the
   * caller still has to fsync and close.
   */
  roll(written: number): { sealed: SealedSegment; writer: FileHandle | undefined } {
    const sealed = this.active
    const index = this.activeIndex
    index.coveredBytes = sealed.size
    index.nextOffset = written
    try {
      this.config.fsys.writeFile(sealed.indexPath, index.encode(), false)
    } catch {
      // Derived data: a missing index is rebuilt when the segment is next read.
    }
    const segment = new Segment(this.config.dir, written, 0, this.config.tag)
    const handle = this.config.fsys.open(segment.path, 'create-new')
    const writer = this.writer
    sealed.adoptHandle(undefined)
    this.activate(segment, handle)
    // A segment sealed here keeps its index only while it is among the recently used.
    this.remember(sealed)
    return {
      writer,
      sealed: { base: sealed.base, end: written, path: sealed.path, indexPath: sealed.indexPath, bytes: sealed.size, maxTimestamp: index.maxTimestamp },
    }
  }

  /** Unlinks the oldest (sealed) segment first and forgets it only then, so a failed unlink leaves a consistent log. */
  deleteOldest(): string {
    const segment = this.segments[0]
    if (segment === this.active || this.segments.length < 2) throw new Error('seglog bug: asked to delete the active segment')
    this.config.fsys.unlink(segment.path)
    this.segments.shift()
    this.generation++
    this.loaded = this.loaded.filter((s) => s !== segment)
    closeSegmentQuietly(segment)
    try {
      this.config.fsys.unlink(segment.indexPath)
    } catch {
      // No index file (never sealed cleanly): nothing to remove.
    }
    return segment.path
  }

  /** After a truncate kept segments up to `segment` (which becomes the active one): forgets the rest. */
  cutAfter(segment: Segment, kept: number, index: SparseIndex): void {
    // A point read during the truncate's awaits may have cached batches of the segments cut off.
    for (const s of this.segments.slice(kept + 1)) s.verified.reset()
    this.segments = this.segments.slice(0, kept + 1)
    this.loaded = this.loaded.filter((s) => s !== segment && s.base < segment.base)
    this.active = segment
    segment.index = index
    this.activeIndex = index
    this.generation++
  }

  /** Read-only: takes the segments of a fresh recovery in place of ours (after another process truncated). */
  replace(recovered: Pick<RecoveredLog, 'segments' | 'activeIndex' | 'nextOffset'>): void {
    for (const s of this.segments) closeSegmentQuietly(s)
    this.readBuffers.cache.clear()
    this.segments = recovered.segments
    this.activeIndex = recovered.activeIndex
    this.active = this.segments[this.segments.length - 1] ?? new Segment(this.config.dir, recovered.nextOffset, 0)
    this.loaded = []
    this.generation++
  }

  /**
   * For a read-only log: picks up what the writer (another process) added since the last look:
   * new batches at the end of the last segment, new segments, segments deleted by retention.
   * Returns the new end offset, or undefined when it did not move.
   */
  refresh(end: number): number | undefined {
    const { fsys, dir, tag } = this.config
    const names = fsys.readdir(dir)
    const bases = names.map(parseSegmentName).filter((b): b is number => b !== undefined).sort((a, b) => a - b)
    if (bases.length === 0) return undefined
    let written = end
    let moved = false
    while (this.segments.length > 0 && this.segments[0].base < bases[0]) {
      closeSegmentQuietly(this.segments.shift() as Segment)
      this.generation++
    }
    if (this.segments.length === 0) {
      // Everything we knew was deleted: start over from the oldest segment present.
      this.startEmpty(bases[0])
      written = bases[0]
      moved = true
    }
    for (;;) {
      const active = this.active
      const size = fsys.stat(active.path)?.size ?? active.size
      if (size > active.size) {
        const scan = scanSegment(active.handle(fsys), size, active.size, written,
          { index: this.activeIndex, indexIntervalBytes: this.config.indexIntervalBytes, tag })
        if (scan.stop === 'newer-version') {
          throw new SeglogError('ERR_FORMAT_VERSION', `${active.path} byte ${scan.validEnd}: ${scan.fault}; upgrade seglog`,
            { details: { file: active.path, position: scan.validEnd } })
        }
        if (scan.stop === 'corrupt') throw corruptError(active.path, scan.validEnd, scan.fault ?? 'damaged batch')
        // 'torn' here is usually a write in progress: take what is complete and look again later.
        active.size = scan.validEnd
        this.activeIndex.coveredBytes = scan.validEnd
        this.activeIndex.nextOffset = scan.nextOffset
        written = scan.nextOffset
        moved = true
      }
      const newer = bases.find((b) => b > this.active.base)
      if (newer === undefined || newer !== written) return moved ? written : undefined
      this.startEmpty(newer)
    }
  }

  private startEmpty(base: number): void {
    const seg = new Segment(this.config.dir, base, 0, this.config.tag)
    seg.index = new SparseIndex(base)
    this.segments.push(seg)
    this.active = seg
    this.activeIndex = seg.index
    this.generation++
  }

  /** Closes every segment's descriptor but the writer's (the caller closes that). */
  closeAll(): void {
    this.active.verified.reset()
    this.readBuffers.cache.clear()
    for (const s of this.segments) if (s !== this.active) closeSegmentQuietly(s)
    this.active.adoptHandle(undefined)
    if (this.writer) closeQuietly(this.writer)
    else closeSegmentQuietly(this.active)
    this.writer = undefined
  }
}

/** Closes `segment`'s descriptor and forgets what point reads verified and cached of it: it leaves the log, or its bytes change. */
export function closeSegmentQuietly(segment: Segment): void {
  segment.verified.reset()
  try {
    segment.closeHandle()
  } catch {
    // Its descriptor was closed already (it was the writer's): nothing left to release.
  }
}

export function closeQuietly(handle: FileHandle): void {
  try {
    handle.close()
  } catch {
    // Closing after a failure: the descriptor is gone either way.
  }
}
