/**
 * The point-read cache: bytes of batches a point read verified, kept so that a later read into
 * one of them makes no syscall. One per log, bounded by a byte budget shared by all its segments,
 * evicted by CLOCK (second chance): a hit only sets a flag on the entry it already holds, so a
 * random read over a large cache touches no other entry's memory, as an LRU list's relinking would.
 * Once full, it takes a new batch in only after serving hits (see {@link BatchCache.insert}).
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

/** Hits a full cache must have served since its last admission before it takes another batch in. */
export const HITS_PER_ADMISSION = 16
/** Credit saved up at most, so a burst of hits long ago does not admit a long run of batches. */
const MAX_CREDIT = 4 * HITS_PER_ADMISSION

/** The holder of an entry, told when the cache evicts it. */
export interface CachedBatchOwner {
  evicted(entry: CachedBatch): void
}

/** One verified batch's bytes, from its header to its end, with what the read path needs of its header. */
export class CachedBatch {
  /** Set by a hit, cleared as the clock hand passes: an entry is evicted only after a full turn without a hit. */
  referenced = false
  /** Its place in the cache's ring; -1 once dropped. */
  slot = -1

  constructor(
    readonly owner: CachedBatchOwner,
    /** File position of the batch in its segment. */
    readonly position: number,
    readonly bytes: Buffer,
    readonly baseOffset: number,
    readonly timestamp: number,
    /**
     * Where each record's header starts in {@link bytes}, by offset from {@link baseOffset}: found
     * once from the verified batch, so a read into a cached batch jumps to its record instead of
     * walking from an index entry through memory it would otherwise touch.
     */
    readonly positions: Uint32Array,
  ) {}

  /** File position after the batch. */
  get end(): number {
    return this.position + this.bytes.length
  }

  get charge(): number {
    return this.bytes.length + this.positions.byteLength + ENTRY_OVERHEAD_BYTES
  }
}

export class BatchCache {
  /** Bytes charged for the entries held; never above {@link budget}. */
  used = 0
  /** The ring the clock hand sweeps; dropped entries leave holes, reused by later inserts. */
  private ring: (CachedBatch | undefined)[] = []
  private holes: number[] = []
  private hand = 0
  private count = 0
  /** Hits not yet spent on admitting a batch into a full cache (see {@link insert}). */
  private credit = 0

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

  /** Whether a batch of `bytes` holding `records` would be kept. */
  accepts(bytes: number, records: number): boolean {
    return (bytes + 4 * records + ENTRY_OVERHEAD_BYTES) * 4 <= this.budget
  }

  /**
   * Keeps `bytes` (a verified batch at `position` holding `records` records) for `owner`,
   * evicting entries to make room, and copies them (the caller may reuse `bytes`);
   * `fillPositions` writes where each record starts into the entry's table.
   * Returns the entry, or undefined when the batch is too big to keep, or the cache is full and
   * has not served {@link HITS_PER_ADMISSION} hits since it last let a batch in.
   */
  insert(owner: CachedBatchOwner, position: number, bytes: Buffer, baseOffset: number, timestamp: number, records: number,
    fillPositions: (positions: Uint32Array) => void): CachedBatch | undefined {
    if (!this.accepts(bytes.length, records)) return undefined
    const charge = bytes.length + 4 * records + ENTRY_OVERHEAD_BYTES
    if (this.used + charge > this.budget) {
      // Full: a new batch must displace one, and copying it in costs about as much as 30 warm reads
      // save. Reads that keep missing a full cache (random reads over a log many times its size)
      // would pay that on every first read of a batch for nothing, so only hits earn admissions.
      if (this.credit < HITS_PER_ADMISSION) return undefined
      this.credit -= HITS_PER_ADMISSION
    }
    let recycled: CachedBatch | undefined
    while (this.used + charge > this.budget && this.count > 0) {
      const victim = this.evictOne()
      // Batches made by appendBatch are often all one size: memory the process already touched
      // costs a copy, fresh memory a page fault per 4 KiB as well (about 3 µs each, measured here).
      if (recycled === undefined && victim.bytes.length === bytes.length && victim.positions.length === records) recycled = victim
    }
    // Always a copy, into memory of its own: the caller's buffer is reused by its next read, and a
    // slice of a larger one (Node's pool, a read block) would keep all of it alive beyond the budget.
    const kept = recycled?.bytes ?? Buffer.allocUnsafeSlow(bytes.length)
    bytes.copy(kept)
    const positions = recycled?.positions ?? new Uint32Array(records)
    fillPositions(positions)
    const entry = new CachedBatch(owner, position, kept, baseOffset, timestamp, positions)
    const slot = this.holes.length > 0 ? (this.holes.pop() as number) : this.ring.push(undefined) - 1
    this.ring[slot] = entry
    entry.slot = slot
    this.used += entry.charge
    this.count++
    return entry
  }

  /** Records a read served from `entry`: it survives the clock hand's next pass, and earns credit towards admitting another batch. */
  hit(entry: CachedBatch): void {
    entry.referenced = true
    if (this.credit < MAX_CREDIT) this.credit++
  }

  /** Drops `entry` (its owner forgot the batch); the owner is not told. */
  remove(entry: CachedBatch): void {
    if (entry.slot < 0) return
    this.ring[entry.slot] = undefined
    this.holes.push(entry.slot)
    entry.slot = -1
    this.used -= entry.charge
    this.count--
    if (this.count === 0) {
      this.ring = []
      this.holes = []
      this.hand = 0
    }
  }

  /** Drops every entry, telling each owner (the log is closing or reloading its segments). */
  clear(): void {
    for (const entry of this.ring) {
      if (entry === undefined) continue
      this.remove(entry)
      entry.owner.evicted(entry)
    }
  }

  /** Evicts the next entry the hand finds unreferenced; its bytes are no longer read by anyone. */
  private evictOne(): CachedBatch {
    const ring = this.ring
    for (;;) {
      if (this.hand >= ring.length) this.hand = 0
      const entry = ring[this.hand++]
      if (entry === undefined) continue
      if (entry.referenced) {
        entry.referenced = false
        continue
      }
      this.remove(entry)
      entry.owner.evicted(entry)
      return entry
    }
  }
}
