/**
 * The point-read cache: bytes of batches a point read verified, kept so that a later read into
 * one of them makes no syscall. One per log, bounded by a byte budget shared by all its segments,
 * least recently used evicted first.
 *
 * The cache never decides what is valid. Each entry belongs to one segment's
 * {@link VerifiedBatches}, which inserts it right after verifying the batch and drops it whenever
 * it forgets what it verified (truncate, repair, a rebuilt or reloaded index, the segment leaving
 * the log, close): bytes are served from here exactly as long as the verification they came from
 * stands.
 */

/** What one entry costs besides its bytes (the entry object, the Buffer and its ArrayBuffer), charged against the budget. */
export const ENTRY_OVERHEAD_BYTES = 192

/** The default budget: small next to the process (LevelDB's and RocksDB's block caches also default to 8 MiB). */
export const DEFAULT_READ_CACHE_BYTES = 8 << 20

/** The holder of an entry, told when the cache evicts it. */
export interface CachedBatchOwner {
  evicted(entry: CachedBatch): void
}

/** One verified batch's bytes, from its header to its end, with what the read path needs of its header. */
export class CachedBatch {
  /** Neighbours in the recency list (older, newer). */
  older: CachedBatch | undefined = undefined
  newer: CachedBatch | undefined = undefined

  constructor(
    readonly owner: CachedBatchOwner,
    /** File position of the batch in its segment. */
    readonly position: number,
    readonly bytes: Buffer,
    readonly baseOffset: number,
    readonly timestamp: number,
  ) {}

  /** File position after the batch. */
  get end(): number {
    return this.position + this.bytes.length
  }

  get charge(): number {
    return this.bytes.length + ENTRY_OVERHEAD_BYTES
  }
}

export class BatchCache {
  /** Bytes charged for the entries held; never above {@link budget}. */
  used = 0
  /** Least recently used first. */
  private oldest: CachedBatch | undefined
  private newest: CachedBatch | undefined
  private count = 0

  /**
   * `budget`: bytes for all entries with their overhead; 0 keeps nothing. One batch may take at most
   * a quarter of it, so a single large batch cannot empty the cache.
   */
  constructor(readonly budget: number) {}

  get enabled(): boolean {
    return this.budget > 0
  }

  /** Entries held (for tests and tools). */
  get size(): number {
    return this.count
  }

  /** Whether a batch of `bytes` would be kept. */
  accepts(bytes: number): boolean {
    return (bytes + ENTRY_OVERHEAD_BYTES) * 4 <= this.budget
  }

  /**
   * Keeps a copy of `bytes` (a verified batch at `position`) for `owner`, evicting the least recently
   * used entries to make room. Returns the entry, or undefined when the batch is too big to keep.
   */
  insert(owner: CachedBatchOwner, position: number, bytes: Buffer, baseOffset: number, timestamp: number): CachedBatch | undefined {
    if (!this.accepts(bytes.length)) return undefined
    // Its own ArrayBuffer: a slice of Node's shared pool would keep the whole pool slab alive beyond the budget.
    const copy = Buffer.allocUnsafeSlow(bytes.length)
    bytes.copy(copy)
    const entry = new CachedBatch(owner, position, copy, baseOffset, timestamp)
    while (this.used + entry.charge > this.budget && this.oldest) {
      const victim = this.oldest
      this.remove(victim)
      victim.owner.evicted(victim)
    }
    this.link(entry)
    this.used += entry.charge
    this.count++
    return entry
  }

  /** Marks `entry` as just used. */
  touch(entry: CachedBatch): void {
    if (entry === this.newest) return
    this.unlink(entry)
    this.link(entry)
  }

  /** Drops `entry` (its owner forgot the batch); the owner is not told. */
  remove(entry: CachedBatch): void {
    this.unlink(entry)
    this.used -= entry.charge
    this.count--
  }

  /** Drops every entry, telling each owner (the log is closing or reloading its segments). */
  clear(): void {
    while (this.oldest) {
      const victim = this.oldest
      this.remove(victim)
      victim.owner.evicted(victim)
    }
  }

  private link(entry: CachedBatch): void {
    entry.older = this.newest
    entry.newer = undefined
    if (this.newest) this.newest.newer = entry
    else this.oldest = entry
    this.newest = entry
  }

  private unlink(entry: CachedBatch): void {
    if (entry.older) entry.older.newer = entry.newer
    else this.oldest = entry.newer
    if (entry.newer) entry.newer.older = entry.older
    else this.newest = entry.older
    entry.older = undefined
    entry.newer = undefined
  }
}
