/**
 * The one reader of record batches in a segment file. Recovery's scan, the iterator's cursor,
 * point reads, verify, repair and truncate all read batches through it, so they classify the same
 * bytes the same way (docs/FORMAT.md, "Record batch", rules 1–7):
 *
 * - {@link BatchRead.Valid}: checksum, structure, offsets and log tag all hold;
 * - {@link BatchRead.Incomplete}: the batch runs past the bytes there are (a torn write, or one
 *   still being written);
 * - {@link BatchRead.Damaged}: not a batch (no magic, checksum mismatch, inconsistent fields);
 * - {@link BatchRead.NewerVersion}: a valid checksum over a version this release does not know;
 * - {@link BatchRead.Misplaced}: complete and valid, but not at the offsets expected there;
 * - {@link BatchRead.Foreign}: complete, valid and in place, but written by another log.
 *
 * Whether a stop is a torn tail or corruption depends on what follows it; that rule lives in
 * scan.ts ({@link findDataAfterFault}), on top of this reader.
 *
 * The reader owns the buffer policy. It reads in blocks (or, with a block of one header, each
 * batch exactly: header, then body); a batch cut by a block's end is read again from its start;
 * it never parses bytes a read did not return; every length it reads is bounded by the limit the
 * caller gives (the verified size of the file) and by the format's 1 GiB cap before it allocates.
 * With `freshBlocks`, a block is never refilled once read, because the caller hands out views
 * into it (the cursor's zero-copy records).
 */
import { BATCH_HEADER_BYTES, BatchHeader, BatchStatus, describeStatus, MAX_BATCH_BYTES, parseBatch } from '../format/index.js'
import { invariantViolated } from '../invariant.js'
import { corruptError, newerVersionError } from './batch-errors.js'
import { foreignError } from './identity.js'
import type { SparseIndex } from './sparse-index.js'

/** Where batch bytes come from: a file handle, or anything that reads like one. */
export interface ByteSource {
  /** Reads up to `length` bytes at `position`; returns how many were read (0 at end of file). */
  read(buf: Uint8Array, offset: number, length: number, position: number): number
}

/** How the reader classified the batch it looked at. Numbers, so the hot loop allocates nothing. */
export const enum BatchRead {
  /** A verified batch: its header in `header`, its bytes at `bytes[at, at + header.length)`. */
  Valid = 0,
  /** Nothing to read: the position is at (or past) the limit. */
  End = 1,
  /** The batch runs past the bytes there are (the limit, or a read that came back short). */
  Incomplete = 2,
  /** Not a valid batch: `status` says why (no magic, checksum mismatch, inconsistent fields). */
  Damaged = 3,
  /** A valid checksum over a format version this release does not know (`header.version`). */
  NewerVersion = 4,
  /** A complete batch with a valid checksum at offsets other than the expected ones (rule 6). */
  Misplaced = 5,
  /** A complete, valid batch in place, written by another log (`header.tag`, rule 7). */
  Foreign = 6,
}

export interface BatchReaderOptions {
  /** The log's tag; a valid batch carrying another is {@link BatchRead.Foreign}. Undefined: any tag. */
  tag?: number
  /** Bytes per read while walking. {@link BATCH_HEADER_BYTES} reads each batch exactly (point reads). */
  blockBytes?: number
  /** Never refill a block that was read: the caller keeps views into it. Each read gets a new buffer. */
  freshBlocks?: boolean
  /** Largest buffer kept for the next read; a bigger batch gets its own buffer, dropped after. */
  keepBytes?: number
  /** False skips checksums and the record walk (bytes verified before, e.g. a checkpointed prefix). */
  verify?: boolean
}

const EMPTY = Buffer.alloc(0)
const DEFAULT_BLOCK_BYTES = 1 << 20
const MIN_KEPT_BYTES = 1 << 16

export class BatchReader {
  /** The last batch looked at (for {@link BatchRead.Valid}: verified). Reused across reads. */
  readonly header = new BatchHeader()
  /** Where bytes come from; may be swapped between reads (a segment's handle changes). */
  source: ByteSource
  /** Why the last read was {@link BatchRead.Damaged}. */
  status: BatchStatus = BatchStatus.Ok
  /** The buffer holding the last valid batch, and where in it that batch starts. */
  bytes: Buffer = EMPTY
  at = 0
  /** File position of the batch the last read looked at. */
  position = 0
  /** File position the next {@link next} reads from. */
  nextPosition = 0
  /** Base offset the next batch must have; -1 for any. */
  expectedBase = -1
  /** An offset the next batch must hold (after a seek through an index); -1 for none. */
  mustHold = -1

  /** The log's tag every valid batch must carry; undefined: any. */
  readonly tag: number | undefined
  private readonly blockBytes: number
  private readonly freshBlocks: boolean
  private readonly keepBytes: number
  private readonly verify: boolean
  private block: Buffer = EMPTY
  /** File position of `block[0]`, and how many bytes from there the last read returned. */
  private blockPos = 0
  private blockLen = 0
  /** Bytes the read that filled `block` asked for (more than `blockLen` when it came back short). */
  private asked = 0

  constructor(source: ByteSource, options: BatchReaderOptions = {}) {
    this.source = source
    this.tag = options.tag
    this.blockBytes = Math.max(BATCH_HEADER_BYTES, options.blockBytes ?? DEFAULT_BLOCK_BYTES)
    this.freshBlocks = options.freshBlocks ?? false
    this.keepBytes = Math.max(this.blockBytes, options.keepBytes ?? this.blockBytes)
    this.verify = options.verify ?? true
  }

  /**
   * The next {@link next} reads the batch at `position`, which must start at `expectedBase`
   * (-1: any) and hold `mustHold` (-1: no such check). Keeps the current block if it covers it.
   */
  seek(position: number, expectedBase = -1, mustHold = -1): void {
    if (!(position >= 0)) throw invariantViolated('batch reader seeks to a file position', { position })
    this.nextPosition = position
    this.expectedBase = expectedBase
    this.mustHold = mustHold
  }

  /** Forgets the bytes read so far (the file may have changed under them); keeps the buffer. */
  reset(): void {
    this.blockPos = 0
    this.blockLen = 0
    this.asked = 0
  }

  /** True when the batch at {@link nextPosition} lies whole in the block already read. */
  buffered(): boolean {
    const rel = this.nextPosition - this.blockPos
    if (rel < 0 || rel + BATCH_HEADER_BYTES > this.blockLen) return false
    const length = this.block.readUInt32LE(rel + 12)
    return length >= BATCH_HEADER_BYTES && rel + length <= this.blockLen
  }

  /**
   * Reads and classifies the batch at {@link nextPosition}, using no byte at or past `limit`.
   * On {@link BatchRead.Valid} it moves past the batch and expects its successor next.
   */
  next(limit: number): BatchRead {
    const pos = this.nextPosition
    this.position = pos
    // Fast path, kept small so it inlines into the callers' loops: the batch lies whole in the block.
    const rel = pos - this.blockPos
    if (pos < limit && rel >= 0 && rel < this.blockLen) {
      const header = this.header
      // blockLen itself when the limit lies beyond the block (usual): a small integer, where the
      // limit may be a double (a size from stat).
      const end = limit - this.blockPos < this.blockLen ? limit - this.blockPos : this.blockLen
      const status = parseBatch(this.block, rel, end, header, this.verify)
      if (status === BatchStatus.Ok && header.baseOffset === this.expectedBase && header.tag === this.tag) {
        // The common case, in sequence and ours, without the general classification.
        this.bytes = this.block
        this.at = rel
        this.nextPosition = pos + header.length
        this.expectedBase += header.count
        this.mustHold = -1
        return BatchRead.Valid
      }
      if (status !== BatchStatus.Incomplete) return this.classify(status, pos, rel)
    }
    return this.nextRead(pos, limit)
  }

  /** {@link next} when the batch is not whole in the block: reads from its start, as much as it says it needs. */
  private nextRead(pos: number, limit: number): BatchRead {
    if (pos >= limit) return BatchRead.End
    for (;;) {
      const rel = pos - this.blockPos
      const inBlock = this.blockLen > 0 && rel >= 0 && rel < this.blockLen
      // The first pass re-parses what the fast path saw: it was Incomplete, so this costs no checksum.
      if (inBlock) {
        const status = parseBatch(this.block, rel, Math.min(this.blockLen, limit - this.blockPos), this.header, this.verify)
        if (status !== BatchStatus.Incomplete) return this.classify(status, pos, rel)
      }
      const have = inBlock ? Math.min(this.blockLen, limit - this.blockPos) - rel : 0
      let need = BATCH_HEADER_BYTES
      if (have >= 16) {
        const length = this.block.readUInt32LE(rel + 12)
        if (length >= BATCH_HEADER_BYTES && length <= MAX_BATCH_BYTES) need = length
      }
      const want = Math.min(limit - pos, Math.max(this.blockBytes, need))
      // Nothing more to learn: these bytes were asked for here already (a short read), or the
      // block already reaches the limit.
      if ((rel === 0 && this.blockLen > 0 && this.asked >= want) || have >= limit - pos) return BatchRead.Incomplete
      this.fill(pos, want)
      if (this.blockLen === 0) return BatchRead.Incomplete
    }
  }

  /** {@link seek} then {@link next}: the batch at `position`, for random access. */
  readAt(position: number, limit: number, expectedBase = -1, mustHold = -1): BatchRead {
    this.seek(position, expectedBase, mustHold)
    return this.next(limit)
  }

  /**
   * Makes the block start at `position` and hold up to one block of bytes (fewer at `limit`);
   * returns how many it holds. For searches over raw bytes ({@link blockBytes}); refills only
   * when the block does not start there.
   */
  window(position: number, limit: number): number {
    if (this.blockPos !== position || this.blockLen === 0) {
      if (position >= limit) return 0
      this.fill(position, Math.min(this.blockBytes, limit - position))
    }
    return Math.min(this.blockLen, limit - position)
  }

  /** The bytes of the current block (valid until the next read). */
  blockBuffer(): Buffer {
    return this.block
  }

  private fill(position: number, want: number): void {
    if (!(want > 0 && want <= MAX_BATCH_BYTES)) throw invariantViolated('batch reader reads a bounded length', { position, want })
    let block = this.block
    if (this.freshBlocks || block.length < want || block.length > this.keepBytes) {
      block = Buffer.allocUnsafe(this.freshBlocks || want > this.keepBytes ? want : Math.min(this.keepBytes, Math.max(want, MIN_KEPT_BYTES, 2 * Math.min(block.length, this.keepBytes))))
    }
    this.block = block
    this.blockPos = position
    this.asked = want
    const got = this.source.read(block, 0, want, position)
    if (!(got >= 0 && got <= want)) throw invariantViolated('a read returns at most the bytes asked for', { position, want, got })
    this.blockLen = got
  }

  private classify(status: BatchStatus, pos: number, rel: number): BatchRead {
    const header = this.header
    if (status === BatchStatus.NewerVersion) return BatchRead.NewerVersion
    if (status !== BatchStatus.Ok) {
      this.status = status
      return BatchRead.Damaged
    }
    if (!(header.length >= BATCH_HEADER_BYTES && rel + header.length <= this.blockLen)) {
      throw invariantViolated('a parsed batch lies inside the bytes read', { position: pos, length: header.length, read: this.blockLen - rel })
    }
    const base = header.baseOffset
    if (this.expectedBase >= 0 ? base !== this.expectedBase : this.mustHold >= 0 && !(base <= this.mustHold && this.mustHold < base + header.count)) {
      return BatchRead.Misplaced
    }
    if (this.tag !== undefined && header.tag !== this.tag) return BatchRead.Foreign
    this.bytes = this.block
    this.at = rel
    this.nextPosition = pos + header.length
    this.expectedBase = base + header.count
    this.mustHold = -1
    return BatchRead.Valid
  }
}

/** What the expectation of a {@link BatchRead.Misplaced} batch was, in words. */
export function describeExpectation(expectedBase: number, mustHold: number): string {
  return expectedBase >= 0 ? `offset ${expectedBase}` : `a batch holding offset ${mustHold}`
}

/** A verified batch of a segment, copied out: what truncate needs to cut inside it. */
export interface LocatedBatch {
  /** File position of the batch. */
  position: number
  baseOffset: number
  header: BatchHeader
  /** The whole batch (a copy the caller owns). */
  bytes: Buffer
}

/**
 * The verified batch of a segment that holds `offset`, found from the segment's index: the walk
 * starts at the batch the last index entry at or before `offset` names, which must hold that
 * entry's offset (the segment's first batch must start at its base), and goes on only while
 * offsets continue. For truncate (it cuts inside this batch). Throws ERR_CORRUPT naming `file`
 * for anything else, ERR_FORMAT_VERSION for a newer batch.
 */
export function findBatchHolding(source: ByteSource, file: string, size: number, base: number, tag: number, index: SparseIndex, offset: number): LocatedBatch {
  const reader = new BatchReader(source, { tag, blockBytes: BATCH_HEADER_BYTES })
  const i = index.floor(offset)
  if (i < 0) reader.seek(0, base)
  else reader.seek(index.batchPosAt(i), -1, index.offsetAt(i))
  for (;;) {
    const expectedBase = reader.expectedBase
    const mustHold = reader.mustHold
    const read = reader.next(size)
    if (read !== BatchRead.Valid) throw batchReadError(reader, read, file, expectedBase, mustHold, `offset ${offset} not found in its segment`)
    const header = reader.header
    if (offset < header.baseOffset + header.count) {
      const copy = new BatchHeader()
      copy.length = header.length
      copy.baseOffset = header.baseOffset
      copy.timestamp = header.timestamp
      copy.count = header.count
      copy.version = header.version
      copy.tag = header.tag
      return { position: reader.position, baseOffset: header.baseOffset, header: copy, bytes: Buffer.from(reader.bytes.subarray(reader.at, reader.at + header.length)) }
    }
  }
}

/**
 * The error for a read that was not {@link BatchRead.Valid} where a valid batch must be (a sealed
 * segment, or bytes already known to be written). `end` names what it means to run out of bytes.
 */
export function batchReadError(reader: BatchReader, read: BatchRead, file: string, expectedBase: number, mustHold: number, end: string): Error {
  const position = reader.position
  const header = reader.header
  switch (read) {
    case BatchRead.Valid:
      throw invariantViolated('a valid batch is not an error', { position })
    case BatchRead.End:
      return corruptError(file, position, end)
    case BatchRead.Incomplete:
      return corruptError(file, position, 'checksum mismatch', 'batch length runs past the segment')
    case BatchRead.NewerVersion:
      return newerVersionError(file, position, header.version)
    case BatchRead.Misplaced:
      return corruptError(file, position, `batch holds offsets ${header.baseOffset} to ${header.baseOffset + header.count - 1} where ${describeExpectation(expectedBase, mustHold)} was expected`)
    case BatchRead.Foreign:
      return foreignError(file, position, header.tag, reader.tag ?? 0)
    case BatchRead.Damaged:
      return corruptError(file, position, describeStatus(reader.status))
  }
}
