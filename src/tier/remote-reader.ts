/**
 * Reads shipped segments with ranged GETs through a byte-bounded cache. The seal (sparse index)
 * splits a segment into blocks of whole batches, from one distinct entry position to the next;
 * finding an offset costs one GET of the seal (cached) and one of the block that holds it.
 *
 * Nothing fetched is trusted: every batch's CRC32C and structure is checked as local reads do, its
 * offsets must continue, and the seal must describe the data object's size. Damage is ERR_CORRUPT
 * naming the key and the byte; batches before the damage in the same block stay readable.
 */
import { SeglogError } from '../errors.js'
import { BatchHeader, BatchStatus, describeStatus, parseBatch } from '../format/index.js'
import type { SparseIndex } from '../local/sparse-index.js'
import { storeError } from '../objects/errors.js'
import { withRetry, type RetryPolicy } from '../objects/retry.js'
import type { ObjectStore } from '../objects/types.js'
import { ByteLru } from './block-cache.js'
import type { RemoteSegment } from './catalog.js'
import { decodeSeal, remoteCorrupt, Seal } from './seal.js'

/** One verified batch of a block. */
export interface RemoteBatch {
  /** Position in the block's buffer. */
  at: number
  baseOffset: number
  count: number
  timestamp: number
  length: number
}

/** A run of whole batches of one data object, checked. */
export interface Block {
  /** Byte range in the data object. */
  start: number
  end: number
  buf: Buffer
  /** The batches that passed their checks, in order. */
  batches: RemoteBatch[]
  /** The damage found after the last good batch, if any (thrown when a read reaches it). */
  damage: SeglogError | undefined
}

/** A segment's data or seal object was not there: deleted by retention after it was listed. */
export class RemoteObjectMissing extends Error {
  constructor(readonly key: string) {
    super(`${key} is gone`)
  }
}

const ADVICE = 'the copy in the object store is damaged; records before this byte are still readable. Restore the object from a copy, or delete the segment (and those before it)'

export class RemoteReader {
  readonly cache: ByteLru<Block | Seal>
  /**
   * Bytes a sequential scan asks for per GET (whole index intervals up to this much): a quarter of
   * the cache, at most 4 MiB. On S3 a GET costs milliseconds of latency and of SDK CPU whatever its
   * size, so a scan in 256 KiB interval blocks spent most of its time per request.
   */
  readonly scanBytes: number

  constructor(private readonly store: ObjectStore, cacheBytes: number, private readonly retry: RetryPolicy | undefined) {
    this.cache = new ByteLru(cacheBytes)
    this.scanBytes = Math.min(4 << 20, Math.floor(cacheBytes / 4))
  }

  #where(key: string): string { return `${this.store.name.replace(/\/$/, '')}/${key}` }

  /** The segment's seal (its sparse index, and its tag and CRC when it has a trailer), checked against the data object's size, end and timestamp. */
  async seal(seg: RemoteSegment, signal?: AbortSignal): Promise<Seal> {
    const cached = this.cache.get(seg.sealKey)
    if (cached instanceof Seal) return cached
    const got = await withRetry(async () => {
      const r = await this.store.get(seg.sealKey, { signal })
      if (r !== undefined && r.data.length !== r.meta.size) {
        throw storeError(this.store.name, 'get', seg.sealKey, new Error(`got ${r.data.length} of ${r.meta.size} bytes`), true)
      }
      return r
    }, this.retry, undefined, signal)
    if (got === undefined) throw new RemoteObjectMissing(seg.sealKey)
    const seal = decodeSeal(got.data, seg.base, seg.size)
    if (seal === undefined || seal.index.nextOffset !== seg.end || seal.index.maxTimestamp !== seg.maxTimestamp) {
      throw remoteCorrupt(this.#where(seg.sealKey), 0,
        `the seal object does not describe the ${seg.size}-byte data object of offsets ${seg.base}…${seg.end - 1}`,
        'restore it from a copy; the data object itself may be intact')
    }
    this.cache.set(seg.sealKey, seal, got.data.length)
    return seal
  }

  /**
   * The checked block holding `offset` (which lies in `seg`). The index entry at or before
   * `offset` names a batch at or before the one holding it; blocks are walked forward from there
   * (or from `after`, a block boundary known to be at or before it, during a sequential scan).
   * A block spans whole index intervals until it holds at least `minBytes` (0: one interval, what
   * a point read wants; a scan passes {@link RemoteReader.scanBytes}).
   */
  async locate(seg: RemoteSegment, seal: Seal, offset: number, after = 0, signal?: AbortSignal, minBytes = 0): Promise<Block> {
    const index = seal.index
    const i = index.floor(offset)
    let start = Math.max(i < 0 ? 0 : index.batchPosAt(i), after)
    for (;;) {
      const block = await this.block(seg, { start, end: this.#blockEnd(seg, index, start, minBytes) }, seal.tag, signal)
      const last = block.batches.at(-1)
      if (block.damage || last === undefined || offset < last.baseOffset + last.count || block.end >= seg.size) return block
      start = block.end
    }
  }

  #blockEnd(seg: RemoteSegment, index: SparseIndex, start: number, minBytes: number): number {
    let j = index.firstAtOrAfterPos(start + 1)
    while (j < index.count && index.batchPosAt(j) < start + Math.max(1, minBytes)) j++
    return j < index.count ? index.batchPosAt(j) : seg.size
  }

  /**
   * Fetches and checks the block `[start, end)` of `seg` (the first block's first batch must start
   * at the segment's base; with `tag`, from the seal's trailer, every batch must carry it). Cached
   * unless damaged or larger than the whole cache.
   */
  async block(seg: RemoteSegment, range: { start: number; end: number }, tag: number | undefined, signal?: AbortSignal): Promise<Block> {
    const cacheKey = `${seg.dataKey}@${range.start}`
    const cached = this.cache.get(cacheKey)
    if (cached !== undefined && !(cached instanceof Seal)) return cached
    const got = await withRetry(async () => {
      const r = await this.store.get(seg.dataKey, { range, signal })
      // A body shorter than the range of an object of the right size was cut in transit, not damaged at rest.
      if (r !== undefined && r.meta.size === seg.size && r.data.length !== Math.min(range.end, seg.size) - range.start) {
        throw storeError(this.store.name, 'get', seg.dataKey, new Error(`got ${r.data.length} of ${range.end - range.start} bytes`), true)
      }
      return r
    }, this.retry, undefined, signal)
    if (got === undefined) throw new RemoteObjectMissing(seg.dataKey)
    const where = this.#where(seg.dataKey)
    const buf = got.data
    const block: Block = { start: range.start, end: range.start + buf.length, buf, batches: [], damage: undefined }
    if (got.meta.size !== seg.size) {
      block.damage = remoteCorrupt(where, Math.min(got.meta.size, seg.size), `the data object has ${got.meta.size} bytes where its listing and seal say ${seg.size}`, ADVICE)
      return block
    }
    const header = new BatchHeader()
    let at = 0
    let expected = range.start === 0 ? seg.base : -1
    while (at < buf.length) {
      const status = parseBatch(buf, at, buf.length, header, true)
      if (status === BatchStatus.NewerVersion) {
        block.damage = new SeglogError('ERR_FORMAT_VERSION', `${where} byte ${range.start + at}: batch format version ${header.version} is newer than this seglog reads; upgrade seglog`,
          { details: { file: where, position: range.start + at } })
        return block
      }
      if (status !== BatchStatus.Ok) {
        block.damage = remoteCorrupt(where, range.start + at, status === BatchStatus.Incomplete ? 'batch runs past the block its seal names' : describeStatus(status), ADVICE)
        return block
      }
      if (expected >= 0 && header.baseOffset !== expected) {
        block.damage = remoteCorrupt(where, range.start + at, `batch offset ${header.baseOffset} where ${expected} was expected`, ADVICE)
        return block
      }
      if (tag !== undefined && header.tag !== tag) {
        block.damage = foreignObject(where, range.start + at, header.tag, tag)
        return block
      }
      block.batches.push({ at, baseOffset: header.baseOffset, count: header.count, timestamp: header.timestamp, length: header.length })
      expected = header.nextOffset
      at += header.length
    }
    if (buf.length !== range.end - range.start) {
      block.damage = remoteCorrupt(where, block.end, `the store returned ${buf.length} of the ${range.end - range.start} bytes asked for`, ADVICE)
      return block
    }
    this.cache.set(cacheKey, block, buf.length)
    return block
  }

  /** Forgets what is cached of `seg` (after retention deleted it). */
  forget(seg: RemoteSegment): void {
    this.cache.delete(seg.sealKey)
    this.cache.deletePrefix(`${seg.dataKey}@`)
  }
}

function hex(tag: number): string {
  return `0x${tag.toString(16).padStart(8, '0')}`
}

/** A batch whose tag is not the one its seal names: an object of another log was copied under the prefix. */
function foreignObject(where: string, position: number, found: number, sealed: number): SeglogError {
  return new SeglogError('ERR_CORRUPT',
    `${where} byte ${position}: batch belongs to another log (log tag ${hex(found)}, the seal of this segment names ${hex(sealed)}); ` +
    'an object was copied or written under this prefix by something other than this log\'s writer. It is not read; restore the object from a copy of this log',
    { details: { file: where, position, kind: 'foreign' } })
}
