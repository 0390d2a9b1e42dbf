/**
 * What point reads have checked of one segment, one slot per entry of its sparse index: the end,
 * first offset and timestamp of the batch the entry points into, set once that batch's checksum
 * and structure were verified and the entry was found to name one of its record boundaries.
 *
 * Flat typed arrays beside the index entries rather than a map of objects: a warm read costs two
 * array loads, memory is bounded by the index (24 bytes per entry, dropped with it), and
 * nothing is cleared all at once when a count is reached. Slots belong to one index object; a
 * rebuilt or reloaded index starts with none.
 *
 * The bytes of verified batches may be kept in the log's {@link BatchCache}, keyed here by file
 * position. They are dropped by every method that forgets slots, in the same call, so cached bytes
 * never outlive the verification they came from.
 */
import type { BatchCache, CachedBatch, CachedBatchOwner } from './batch-cache.js'
import type { SparseIndex } from './sparse-index.js'

/** Per slot: batch end (file position; 0 = not verified), first offset, timestamp: adjacent, so a warm read touches one cache line. */
const WORDS = 3

export class VerifiedBatches implements CachedBatchOwner {
  private spans: Float64Array
  /** The index whose entries the slots stand for. */
  private index: SparseIndex | undefined
  /** Cached bytes of verified batches by file position, and the cache holding them. */
  private readonly cached = new Map<number, CachedBatch>()
  /**
   * The same entries by first offset (their offset ranges are disjoint): a read finds the batch
   * holding its offset here without the index lookup, touching one small array instead of the
   * index's entries and a hash table (random reads pay a cache and TLB miss for each).
   */
  private byOffset: CachedBatch[] = []
  private cache: BatchCache | undefined

  constructor(capacity = 0) {
    this.spans = new Float64Array(capacity * WORDS)
  }

  /** Makes the slots stand for `index`'s entries, forgetting everything if they stood for another. */
  bind(index: SparseIndex): void {
    if (this.index === index) return
    this.index = index
    this.clear()
  }

  /** True when the slots stand for `index`. */
  boundTo(index: SparseIndex): boolean {
    return this.index === index
  }

  /** Forgets every slot and the index. */
  reset(): void {
    this.index = undefined
    this.clear()
  }

  /** Batch end of slot `j`, or 0 when its batch was not verified. */
  endAt(j: number): number {
    return j * WORDS < this.spans.length ? this.spans[j * WORDS] : 0
  }

  /** First offset of slot `j`'s batch (valid when {@link endAt} is not 0). */
  baseAt(j: number): number {
    return this.spans[j * WORDS + 1]
  }

  timestampAt(j: number): number {
    return this.spans[j * WORDS + 2]
  }

  /**
   * The cached entry of the verified batch holding `offset`, marked as just used; undefined when
   * none is cached.
   */
  cachedHolding(offset: number): CachedBatch | undefined {
    const lo = this.firstAbove(offset)
    if (lo === 0) return undefined
    const entry = this.byOffset[lo - 1]
    if (offset - entry.baseOffset >= entry.positions.length) return undefined
    ;(this.cache as BatchCache).hit(entry)
    return entry
  }

  /** The cached bytes of the verified batch at file `position`, marked as just used; undefined when not cached. */
  cachedAt(position: number): CachedBatch | undefined {
    const entry = this.cached.get(position)
    if (entry !== undefined) (this.cache as BatchCache).hit(entry)
    return entry
  }

  /**
   * Keeps what the read path needs of the batch at `position`, just verified, in `cache` (when it
   * takes it): with `bytes` (from the batch header to its end) a copy of them, without, the record
   * positions only. `fillPositions` writes where its records start.
   */
  keep(cache: BatchCache, position: number, bytes: Buffer | undefined, length: number, baseOffset: number, timestamp: number, records: number,
    fillPositions: (positions: Uint32Array) => void): void {
    if (!cache.enabled) return
    if (this.cache !== cache) {
      this.dropCached()
      this.cache = cache
    }
    const old = this.cached.get(position)
    if (old !== undefined) this.drop(old)
    const entry = bytes === undefined
      ? cache.insertPositions(this, position, length, baseOffset, timestamp, records, fillPositions)
      : cache.insert(this, position, bytes, baseOffset, timestamp, records, fillPositions)
    if (entry === undefined) return
    this.cached.set(position, entry)
    const list = this.byOffset
    let at = this.firstAbove(entry.baseOffset)
    // Entries whose offsets overlap this batch's describe bytes no longer there: drop them.
    while (at > 0 && list[at - 1].baseOffset + list[at - 1].positions.length > entry.baseOffset) this.drop(list[--at])
    while (at < list.length && list[at].baseOffset < entry.baseOffset + entry.positions.length) this.drop(list[at])
    list.splice(at, 0, entry)
  }

  /** Drops `entry` from this segment's entries and from the cache. */
  private drop(entry: CachedBatch): void {
    this.cached.delete(entry.position)
    this.unlist(entry)
    ;(this.cache as BatchCache).remove(entry)
  }

  /** Position in {@link byOffset} of the first entry whose first offset is above `offset`. */
  private firstAbove(offset: number): number {
    const list = this.byOffset
    let lo = 0
    let hi = list.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (list[mid].baseOffset <= offset) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  private unlist(entry: CachedBatch): void {
    const at = this.firstAbove(entry.baseOffset) - 1
    if (at >= 0 && this.byOffset[at] === entry) this.byOffset.splice(at, 1)
  }

  /** Called by the cache when it evicts one of this segment's entries. */
  evicted(entry: CachedBatch): void {
    if (this.cached.get(entry.position) !== entry) return
    this.cached.delete(entry.position)
    this.unlist(entry)
  }

  /** Batches whose bytes are cached (for tests and tools). */
  cachedCount(): number {
    return this.cached.size
  }

  /** Records slot `j`'s batch as verified. */
  set(j: number, end: number, baseOffset: number, timestamp: number): void {
    if ((j + 1) * WORDS > this.spans.length) this.grow(j + 1)
    this.spans[j * WORDS] = end
    this.spans[j * WORDS + 1] = baseOffset
    this.spans[j * WORDS + 2] = timestamp
  }

  /** Records slots `[from, to)` as pointing into one verified batch (one call per batch). */
  mark(from: number, to: number, end: number, baseOffset: number, timestamp: number): void {
    if (to * WORDS > this.spans.length) this.grow(to)
    const spans = this.spans
    for (let w = from * WORDS; w < to * WORDS; w += WORDS) {
      spans[w] = end
      spans[w + 1] = baseOffset
      spans[w + 2] = timestamp
    }
  }

  /**
   * Forgets every batch that reaches past `position` (a truncate rewrote the file from there).
   * Slots past the index's entries are cleared too: entries added later reuse them.
   */
  forgetFrom(position: number): void {
    const spans = this.spans
    for (let j = 0; j * WORDS < spans.length; j++) if (spans[j * WORDS] > position) spans[j * WORDS] = 0
    for (const entry of this.cached.values()) if (entry.end > position) this.drop(entry)
  }

  /** Slots verified (for tests and tools). */
  verifiedCount(): number {
    let n = 0
    for (let j = 0; j * WORDS < this.spans.length; j++) if (this.spans[j * WORDS] !== 0) n++
    return n
  }

  private clear(): void {
    this.spans.fill(0)
    this.dropCached()
  }

  private dropCached(): void {
    const cache = this.cache
    if (cache === undefined) return
    for (const entry of this.cached.values()) cache.remove(entry)
    this.cached.clear()
    this.byOffset = []
  }

  private grow(slots: number): void {
    const capacity = Math.max(slots, 64, (this.spans.length / WORDS) * 2)
    const spans = new Float64Array(capacity * WORDS)
    spans.set(this.spans)
    this.spans = spans
  }
}
