/**
 * The point-read cache: what point reads learned of the batches they verified, so that a later
 * read into one of them is cheap. An entry always holds the batch's record positions, so a read
 * makes one exact read of its record's bytes (no window, no walk); once a batch has served
 * {@link PROMOTE_AFTER_HITS} reads that way, its bytes are read once into memory the entry keeps,
 * and later reads make no syscall. One cache per log, bounded by a byte budget shared by all its segments,
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

/**
 * Reads a batch serves from its record positions before its bytes are kept (ski rental: keep them
 * once the reads paid for cost about what keeping does). Keeping a 132 KB batch costs a read of it,
 * its checksum and a page fault per 4 KiB of fresh memory, about 150 µs on the reference VM; each
 * read it then saves is one `pread` of 1.2–1.5 µs. A batch read fewer times is never copied.
 */
export const PROMOTE_AFTER_HITS = 128

/** Hits a full cache must have served since its last admission before it takes another batch in. */
export const HITS_PER_ADMISSION = 16
/** Credit saved up at most, so a burst of hits long ago does not admit a long run of batches. */
const MAX_CREDIT = 4 * HITS_PER_ADMISSION

/** The holder of an entry, told when the cache evicts it. */
export interface CachedBatchOwner {
  evicted(entry: CachedBatch): void
}

/** One verified batch: its record positions, what the read path needs of its header, and (once it earned them) its bytes. */
export class CachedBatch {
  /** Set by a hit, cleared as the clock hand passes: an entry is evicted only after a full turn without a hit. */
  referenced = false
  /** Its place in the cache's ring; -1 once dropped. */
  slot = -1
  /** Reads served from the positions alone since the entry was made (or last refused its bytes). */
  hits = 0

  constructor(
    readonly owner: CachedBatchOwner,
    /** File position of the batch in its segment. */
    readonly position: number,
    /** The batch's length in bytes, header included. */
    readonly length: number,
    /**
     * The batch's bytes from its header to its end, when kept; undefined while the entry holds
     * its positions only. Set and dropped by the cache alone.
     */
    public bytes: Buffer | undefined,
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
    return this.position + this.length
  }

  get charge(): number {
    return (this.bytes === undefined ? 0 : this.length) + this.positions.byteLength + ENTRY_OVERHEAD_BYTES
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
  /** Entries holding their bytes (the candidates {@link dropBytesOfOne} looks for). */
  private withBytes = 0
  /** Reads served from kept bytes, not yet spent on keeping another batch's bytes in a full cache (see {@link keepBytes}). */
  private bytesCredit = 0

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

  /** Whether the record positions of a batch holding `records` would be kept. */
  acceptsPositions(records: number): boolean {
    return (4 * records + ENTRY_OVERHEAD_BYTES) * 4 <= this.budget
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
    const recycled = this.admit(bytes.length + 4 * records + ENTRY_OVERHEAD_BYTES, bytes.length, records)
    if (recycled === false) return undefined
    // Always a copy, into memory of its own: the caller's buffer is reused by its next read, and a
    // slice of a larger one (Node's pool, a read block) would keep all of it alive beyond the budget.
    const kept = recycled?.bytes ?? Buffer.allocUnsafeSlow(bytes.length)
    bytes.copy(kept)
    const positions = recycled?.positions ?? new Uint32Array(records)
    fillPositions(positions)
    return this.place(new CachedBatch(owner, position, bytes.length, kept, baseOffset, timestamp, positions))
  }

  /**
   * Keeps the record positions of a verified batch of `length` bytes at `position` (not its
   * bytes: see {@link PROMOTE_AFTER_HITS}), under the same admission rule as {@link insert}.
   */
  insertPositions(owner: CachedBatchOwner, position: number, length: number, baseOffset: number, timestamp: number, records: number,
    fillPositions: (positions: Uint32Array) => void): CachedBatch | undefined {
    if (!this.acceptsPositions(records)) return undefined
    const recycled = this.admit(4 * records + ENTRY_OVERHEAD_BYTES, -1, records)
    if (recycled === false) return undefined
    const positions = recycled?.positions ?? new Uint32Array(records)
    fillPositions(positions)
    return this.place(new CachedBatch(owner, position, length, undefined, baseOffset, timestamp, positions))
  }

  /**
   * Called on each read `entry` served from its positions alone: true once it has served
   * {@link PROMOTE_AFTER_HITS} of them and its bytes may be kept (then call {@link keepBytes}).
   */
  earnedBytes(entry: CachedBatch): boolean {
    return ++entry.hits >= PROMOTE_AFTER_HITS && entry.bytes === undefined && entry.slot >= 0 && this.accepts(entry.length, entry.positions.length)
  }

  /**
   * Gives `entry` its bytes: memory of its own (another entry's, of the same size, when one gives
   * its bytes up to make room), filled by `fill` straight from the file, which returns false when
   * what it read is not the batch verified before (nothing is kept then). In a full cache, room is
   * made by dropping other entries' bytes by CLOCK (they keep their positions), once
   * {@link PROMOTE_AFTER_HITS} reads were served from kept bytes since the last time.
   */
  keepBytes(entry: CachedBatch, fill: (into: Buffer) => boolean): void {
    entry.hits = 0
    if (entry.bytes !== undefined || entry.slot < 0) return
    const length = entry.length
    let recycled: Buffer | undefined
    if (this.used + length > this.budget) {
      // Full: these bytes would displace another entry's. Only reads served from bytes pay for that
      // (see bytesCredit); reads spread over a log many times the budget serve few, so they cannot
      // churn the cache through a promotion every few reads.
      if (this.bytesCredit < PROMOTE_AFTER_HITS) return
      this.bytesCredit -= PROMOTE_AFTER_HITS
      while (this.used + length > this.budget) {
        const freed = this.dropBytesOfOne(entry)
        if (freed === undefined) return
        if (recycled === undefined && freed.length === length) recycled = freed
      }
    }
    const kept = recycled ?? Buffer.allocUnsafeSlow(length)
    if (!fill(kept)) return
    entry.bytes = kept
    this.used += length
    this.withBytes++
  }

  /** Records a read served from `entry`: it survives the clock hand's next pass, and earns credit towards admitting another batch. */
  hit(entry: CachedBatch): void {
    entry.referenced = true
    if (this.credit < MAX_CREDIT) this.credit++
    if (entry.bytes !== undefined && this.bytesCredit < 2 * PROMOTE_AFTER_HITS) this.bytesCredit++
  }

  /** Drops `entry` (its owner forgot the batch); the owner is not told. */
  remove(entry: CachedBatch): void {
    if (entry.slot < 0) return
    this.ring[entry.slot] = undefined
    this.holes.push(entry.slot)
    entry.slot = -1
    this.used -= entry.charge
    if (entry.bytes !== undefined) this.withBytes--
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

  /**
   * Makes room for an entry charged `charge`: at once when it fits, else (full) only with credit,
   * evicting by CLOCK. Returns an evicted entry whose memory may be reused (bytes of `bytesLength`
   * and a table of `records`; `bytesLength` -1 for a positions-only entry), undefined when none,
   * false when the entry is not let in.
   */
  private admit(charge: number, bytesLength: number, records: number): CachedBatch | undefined | false {
    if (this.used + charge > this.budget) {
      // Full: a new batch must displace one, and copying it in costs about as much as 30 warm reads
      // save. Reads that keep missing a full cache (random reads over a log many times its size)
      // would pay that on every first read of a batch for nothing, so only hits earn admissions.
      if (this.credit < HITS_PER_ADMISSION) return false
      this.credit -= HITS_PER_ADMISSION
    }
    let recycled: CachedBatch | undefined
    while (this.used + charge > this.budget && this.count > 0) {
      const victim = this.evictOne()
      // Batches made by appendBatch are often all one size: memory the process already touched
      // costs a copy, fresh memory a page fault per 4 KiB as well (about 3 µs each, measured here).
      const sameBytes = bytesLength < 0 || victim.bytes?.length === bytesLength
      if (recycled === undefined && sameBytes && victim.positions.length === records) recycled = victim
    }
    return recycled
  }

  private place(entry: CachedBatch): CachedBatch {
    const slot = this.holes.length > 0 ? (this.holes.pop() as number) : this.ring.push(undefined) - 1
    this.ring[slot] = entry
    entry.slot = slot
    this.used += entry.charge
    if (entry.bytes !== undefined) this.withBytes++
    this.count++
    return entry
  }

  /**
   * Drops the bytes of the next entry holding bytes the hand finds unreferenced, other than
   * `keep`; the entry stays, with its positions. Returns the memory freed, undefined when no
   * other entry holds bytes.
   */
  private dropBytesOfOne(keep: CachedBatch): Buffer | undefined {
    if (this.withBytes - (keep.bytes !== undefined ? 1 : 0) <= 0) return undefined
    const ring = this.ring
    for (;;) {
      if (this.hand >= ring.length) this.hand = 0
      const entry = ring[this.hand++]
      if (entry === undefined || entry === keep || entry.bytes === undefined) continue
      if (entry.referenced) {
        entry.referenced = false
        continue
      }
      const bytes = entry.bytes
      entry.bytes = undefined
      this.used -= bytes.length
      this.withBytes--
      return bytes
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
