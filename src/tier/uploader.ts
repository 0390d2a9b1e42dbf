/**
 * Ships sealed segments to the store, create-only, so that a retry, an in-doubt put and a
 * crashed upload resumed later all end in one copy, and a second writer extending the same
 * remote log is refused (ERR_CONFLICT) instead of forking it.
 *
 * The order of one upload: check where the remote log ends; put the data object create-only;
 * put the seal object create-only. The seal commits the segment. A crash between the two leaves a
 * data object without a seal at the remote end, which readers ignore and the next upload of the
 * same segment finds identical and completes. "Already exists" is never taken on trust: the
 * existing object is read back and compared.
 */
import { SeglogError, isSeglogError } from '../errors.js'
import { nodeFileSystem, type FileSystem } from '../io/file-system.js'
import { crc32c } from '../format/index.js'
import { withRetry, type RetryPolicy } from '../objects/retry.js'
import type { ObjectStore } from '../objects/types.js'
import { readCatalog, type Catalog, type RemoteSegment } from './catalog.js'
import { dataKey, sealKey } from './layout.js'
import { decodeSeal, DEFAULT_REMOTE_INDEX_INTERVAL, encodeSeal, indexSegmentBytes } from './seal.js'

/** A sealed local segment, as the local log hands it over. */
export interface SealedSegment {
  /** Path of the segment file (read through the {@link UploaderOptions.fileSystem} seam). */
  path: string
  /** Its first offset. */
  base: number
  /** The offset after its last record (the next segment's base). */
  end: number
  /** Its size in bytes (the file may not be longer than this). */
  size: number
}

/** Options of {@link SegmentUploader}. */
export interface UploaderOptions {
  /** The file seam segment files are read through; default the real file system. */
  fileSystem?: FileSystem
  /** One entry of the remote index per this many bytes; default 256 KiB (one ranged GET per read). */
  indexIntervalBytes?: number
  /** Retries of transient store failures. */
  retry?: RetryPolicy
}

/**
 * How an upload ended: `'uploaded'` (both objects written now), `'resumed'` (the data object was
 * already there, identical: an in-doubt put that landed or an upload cut short; the seal was
 * written now), `'present'` (the whole segment was already shipped, identical), `'expired'` (the
 * segment lies wholly below the remote log's first offset: it was shipped before and remote
 * retention has deleted it since; nothing is written).
 */
export type UploadOutcome = 'uploaded' | 'resumed' | 'present' | 'expired'

/** What {@link SegmentUploader.upload} resolves with. */
export interface UploadResult extends RemoteSegment {
  outcome: UploadOutcome
}

const COMPARE_CHUNK = 8 << 20

/** Ships sealed segments of one log to `<prefix>/segments/` of a store. */
export class SegmentUploader {
  readonly #store: ObjectStore
  readonly #prefix: string
  readonly #fs: FileSystem
  readonly #interval: number
  readonly #retry: RetryPolicy | undefined
  /** Where the remote log ended after our last successful upload; undefined until learned. */
  #remoteEnd: number | undefined

  constructor(store: ObjectStore, prefix: string, options: UploaderOptions = {}) {
    this.#store = store
    this.#prefix = prefix
    dataKey(prefix, 0) // validates the prefix now, not at the first upload
    this.#fs = options.fileSystem ?? nodeFileSystem
    this.#interval = options.indexIntervalBytes ?? DEFAULT_REMOTE_INDEX_INTERVAL
    if (!Number.isSafeInteger(this.#interval) || this.#interval < 64) {
      throw new SeglogError('ERR_INVALID_ARGUMENT', `indexIntervalBytes must be an integer of at least 64; got ${String(options.indexIntervalBytes)}`)
    }
    this.#retry = options.retry
  }

  /**
   * Ships `segment`, which must start where the remote log ends (or be a segment already shipped,
   * byte for byte). ERR_CONFLICT when the store holds different bytes for its offsets (another
   * writer extended the remote log: stop appending); ERR_OFFSET_OUT_OF_RANGE when it would leave a
   * gap; ERR_CORRUPT when the local file is damaged (nothing is shipped); ERR_STORE after retries.
   * Safe to call again after any failure: it resumes, never duplicates.
   */
  async upload(segment: SealedSegment, options: { signal?: AbortSignal } = {}): Promise<UploadResult> {
    const { base, end, size } = segment
    if (!Number.isSafeInteger(base) || base < 0 || !Number.isSafeInteger(end) || end <= base || !Number.isSafeInteger(size) || size <= 0) {
      throw new SeglogError('ERR_INVALID_ARGUMENT', `a sealed segment needs whole offsets base < end and a positive size; got base ${base}, end ${end}, size ${size}`)
    }
    const bytes = this.#readFile(segment)
    const { index, end: scannedEnd, maxTimestamp, tag } = indexSegmentBytes(bytes, base, segment.path, this.#interval)
    if (scannedEnd !== end) {
      throw new SeglogError('ERR_CORRUPT', `${segment.path}: the segment holds offsets ${base}…${scannedEnd - 1}, not ${base}…${end - 1} as the log says; run Log.verify()`,
        { details: { file: segment.path, position: size, kind: 'segment end' } })
    }
    const keys = { dataKey: dataKey(this.#prefix, base), sealKey: sealKey(this.#prefix, base, end, maxTimestamp) }
    const result = (outcome: UploadOutcome): UploadResult => ({ outcome, base, end, size, maxTimestamp, ...keys })
    const signal = options.signal

    if (this.#remoteEnd !== base) {
      const catalog = await readCatalog(this.#store, this.#prefix, { retry: this.#retry, signal })
      const shipped = catalog.segments.find((s) => s.base === base)
      if (shipped) {
        if (shipped.end !== end || shipped.size !== size || !(await this.#sameBytes(shipped.dataKey, bytes, signal))) throw this.#fork(shipped.dataKey, base, catalog)
        this.#remoteEnd = catalog.endOffset
        return result('present')
      }
      // Only a segment shipped earlier can lie wholly below the first offset (the local log ships
      // in order, and a forked writer must still collide at the end to extend the log): shipping
      // it again after a crash that lost the confirmation is not a fork.
      if (catalog.segments.length > 0 && end <= catalog.firstOffset) return result('expired')
      this.#checkPlace(base, end, catalog)
    }

    let outcome: UploadOutcome = 'uploaded'
    if (!(await this.#create(keys.dataKey, bytes, signal))) {
      if (!(await this.#sameBytes(keys.dataKey, bytes, signal))) throw this.#fork(keys.dataKey, base, undefined)
      outcome = 'resumed'
    }
    const dataCrc = crc32c(bytes)
    if (!(await this.#create(keys.sealKey, encodeSeal(index, tag, dataCrc), signal))) {
      // The index is derived data: any valid index of these very bytes will do (another interval,
      // or no trailer from an earlier version); a trailer must name these bytes.
      const got = await withRetry(() => this.#store.get(keys.sealKey, { signal }), this.#retry, undefined, signal)
      const theirs = got && decodeSeal(got.data, base, size)
      if (!theirs || theirs.index.nextOffset !== end || theirs.index.maxTimestamp !== maxTimestamp ||
        (theirs.dataCrc !== undefined && theirs.dataCrc !== dataCrc) || (theirs.tag !== undefined && theirs.tag !== tag)) throw this.#fork(keys.sealKey, base, undefined)
    }
    this.#remoteEnd = end
    return result(outcome)
  }

  /** Reads exactly `size` bytes of the segment file through the file seam. */
  #readFile(segment: SealedSegment): Buffer {
    const handle = this.#fs.open(segment.path, 'read')
    try {
      const buf = Buffer.allocUnsafe(segment.size)
      const n = handle.read(buf, 0, segment.size, 0)
      if (n !== segment.size) {
        throw new SeglogError('ERR_CORRUPT', `${segment.path}: the file has ${n} bytes, the log says ${segment.size}; run Log.verify()`,
          { details: { file: segment.path, position: n, kind: 'segment size' } })
      }
      return buf
    } finally {
      handle.close()
    }
  }

  /** A new segment must start at the remote end (anywhere, for an empty remote log). */
  #checkPlace(base: number, end: number, catalog: Catalog): void {
    if (catalog.segments.length === 0 || base === catalog.endOffset) return
    if (base > catalog.endOffset) {
      throw new SeglogError('ERR_OFFSET_OUT_OF_RANGE',
        `cannot ship offsets ${base}…${end - 1}: the remote log under '${this.#prefix}' ends at ${catalog.endOffset}, and shipping this would leave a gap; ship the segments before it first`,
        { details: { offset: base, remoteEnd: catalog.endOffset } })
    }
    throw this.#fork(undefined, base, catalog)
  }

  /** Creates `key` create-only; false when it already exists (retries that find their own put landed included). */
  async #create(key: string, data: Uint8Array, signal: AbortSignal | undefined): Promise<boolean> {
    try {
      await withRetry(() => this.#store.put(key, data, { mode: 'create', signal }), this.#retry, undefined, signal)
      return true
    } catch (err) {
      if (isSeglogError(err, 'ERR_CONFLICT')) return false
      throw err
    }
  }

  /** True when the object under `key` holds exactly `bytes` (read back in ranged chunks). */
  async #sameBytes(key: string, bytes: Buffer, signal: AbortSignal | undefined): Promise<boolean> {
    const head = await withRetry(() => this.#store.head(key, { signal }), this.#retry, undefined, signal)
    if (head === undefined || head.size !== bytes.length) return false
    for (let start = 0; start < bytes.length; start += COMPARE_CHUNK) {
      const end = Math.min(bytes.length, start + COMPARE_CHUNK)
      const got = await withRetry(() => this.#store.get(key, { range: { start, end }, signal }), this.#retry, undefined, signal)
      if (got === undefined || !got.data.equals(bytes.subarray(start, end))) return false
    }
    return true
  }

  #fork(key: string | undefined, base: number, catalog: Catalog | undefined): SeglogError {
    this.#remoteEnd = undefined
    const where = catalog ? ` (the remote log holds offsets ${catalog.firstOffset}…${catalog.endOffset - 1})` : ''
    return new SeglogError('ERR_CONFLICT',
      `the store under '${this.#prefix}' already holds different records at offset ${base}${key ? ` (${key})` : ''}${where}: another writer has extended this remote log. Stop appending here; this log has forked from the remote one`,
      { details: { file: key, offset: base } })
  }
}
