import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3'
import { SeglogError } from '../errors.js'
import { abortedError, conflictError, looksTransient, storeError, throwIfAborted } from './errors.js'
import { validateListOptions, validatePut } from './arguments.js'
import { compareKeys, joinKey, portableStartAfter, validateKey, validateListPrefix, validatePrefix } from './keys.js'
import { fitRangedAnswer, rangeHeader, validateRange } from './ranges.js'
import type { GetOptions, GetResult, ListOptions, ObjectMeta, ObjectStore, PutOptions, PutResult } from './types.js'

type S3Module = typeof import('@aws-sdk/client-s3')

/** Options for {@link S3Store}. */
export interface S3StoreOptions {
  /** The bucket. */
  bucket: string
  /** Every key is stored under `<prefix>/`. */
  prefix?: string
  /** A custom endpoint for S3-compatible stores (MinIO, R2, s3rver …). */
  endpoint?: string
  /** Region; default `AWS_REGION` or `us-east-1`. */
  region?: string
  /** Path-style addressing (`endpoint/bucket/key`), needed by most S3-compatible stores. */
  forcePathStyle?: boolean
  /** Static credentials; default: the SDK's usual provider chain (env, profile, IMDS …). */
  credentials?: S3ClientConfig['credentials']
  /** A ready client (its own retry and timeout settings apply); the store will not close it. */
  client?: S3Client
  /**
   * Whether the endpoint enforces `If-None-Match: *` (AWS S3 does since 2024). Without a custom
   * `endpoint` the default is true. With a custom `endpoint` the default is unverified: the store
   * claims it, and `Journal.open` probes (writes one object twice) before writing, because some
   * S3-compatible servers silently ignore the header and overwrite. Set true to skip the probe for
   * an endpoint known to enforce it, false for one known not to.
   */
  conditionalWrites?: boolean
  /** Per-request timeout for clients the store creates. Default 30,000 ms. */
  requestTimeoutMs?: number
}

let s3Module: Promise<S3Module> | undefined
function loadS3(): Promise<S3Module> {
  s3Module ??= import('@aws-sdk/client-s3').catch((err: unknown) => {
    s3Module = undefined
    throw new SeglogError('ERR_INVALID_ARGUMENT', 'S3Store needs the optional peer dependency @aws-sdk/client-s3: npm install @aws-sdk/client-s3', { cause: err })
  })
  return s3Module
}

interface SdkError { name?: string; $metadata?: { httpStatusCode?: number }; Code?: string }
function statusOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null ? (err as SdkError).$metadata?.httpStatusCode : undefined
}

/**
 * An {@link ObjectStore} on AWS S3 or an S3-compatible endpoint, through the official AWS SDK v3
 * (loaded on first use). Create-only puts send `If-None-Match: *`; `{ ifMatch }` sends `If-Match`.
 * Clients it creates do not retry by themselves (`maxAttempts: 1`): seglog's journal retries
 * with backoff and checks the content of a retried create.
 *
 * Signals are passed to the SDK as `abortSignal`; an aborted call rejects with `ERR_CLOSED` (or
 * the signal's reason when that is a `SeglogError`). A signal already aborted sends nothing. An
 * abort while a PUT is in flight leaves the object either wholly written or not at all (S3 PUTs
 * are atomic), but the rejection cannot say which: read it back (a `RetryStore` does not retry
 * an aborted call).
 */
export class S3Store implements ObjectStore {
  readonly name: string
  readonly enforcesCreateOnly: boolean
  readonly createOnlyUnverified: boolean
  readonly bucket: string
  readonly prefix: string
  readonly #options: S3StoreOptions
  #client: Promise<S3Client> | undefined
  readonly #ownsClient: boolean

  constructor(options: S3StoreOptions) {
    if (typeof options?.bucket !== 'string' || options.bucket === '') throw new SeglogError('ERR_INVALID_ARGUMENT', 'S3Store needs { bucket: "<name>" }')
    this.bucket = options.bucket
    this.prefix = validatePrefix(options.prefix ?? '')
    this.name = `s3://${this.bucket}${this.prefix === '' ? '' : `/${this.prefix}`}`
    this.enforcesCreateOnly = options.conditionalWrites ?? true
    this.createOnlyUnverified = options.conditionalWrites === undefined && options.endpoint !== undefined
    this.#options = options
    this.#ownsClient = options.client === undefined
    if (options.client !== undefined) this.#client = Promise.resolve(options.client)
  }

  #getClient(): Promise<S3Client> {
    this.#client ??= loadS3().then((m) => new m.S3Client({
      region: this.#options.region ?? process.env.AWS_REGION ?? 'us-east-1',
      ...(this.#options.endpoint === undefined ? {} : { endpoint: this.#options.endpoint }),
      ...(this.#options.forcePathStyle === undefined ? {} : { forcePathStyle: this.#options.forcePathStyle }),
      ...(this.#options.credentials === undefined ? {} : { credentials: this.#options.credentials }),
      maxAttempts: 1,
      // No CRC32 of every body on top: SigV4 already signs the body's SHA-256
      // (x-amz-content-sha256), which S3 checks against what arrives and refuses on mismatch, so
      // a body damaged in transit never lands either way; journal objects also carry their own
      // CRC32C, checked on every read. The SDK's default adds a CRC32 pass and two headers per
      // PUT (and some S3-compatible servers refuse those headers). The SDK still sends a checksum
      // where an operation requires one (DeleteObjects' Content-MD5 or its successor).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      requestHandler: { requestTimeout: this.#options.requestTimeoutMs ?? 30_000, connectionTimeout: 5_000 },
    }))
    return this.#client
  }

  #full(key: string): string { return joinKey(this.prefix, validateKey(key)) }
  #rel(full: string): string { return this.prefix === '' ? full : full.slice(this.prefix.length + 1) }

  #fail(op: string, key: string, err: unknown, signal?: AbortSignal): SeglogError {
    // The SDK rejects an aborted request with its own AbortError: callers get the documented code.
    if (signal?.aborted === true) return abortedError(signal, this.name, op, key)
    if (err instanceof SeglogError) return err
    const status = statusOf(err)
    return storeError(this.name, op, key, err, looksTransient(err, status), status)
  }

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    const Key = this.#full(key)
    validatePut(data, options)
    throwIfAborted(options.signal, this.name, 'put', key)
    const [m, c] = [await loadS3(), await this.#getClient()]
    const mode = options.mode ?? 'overwrite'
    try {
      const out = await c.send(new m.PutObjectCommand({
        Bucket: this.bucket, Key, Body: data, ContentLength: data.byteLength,
        ...(mode === 'create' ? { IfNoneMatch: '*' } : {}),
        ...(typeof mode === 'object' ? { IfMatch: mode.ifMatch } : {}),
      }), { abortSignal: options.signal })
      return { version: out.ETag }
    } catch (err) {
      const status = statusOf(err)
      // 412 Precondition Failed: the object exists (or changed). A 409 ConditionalRequestConflict
      // only says another conditional write raced with ours and neither outcome is known yet:
      // AWS asks to retry, so it is transient (a retry then gets 201 or 412).
      if (mode !== 'overwrite' && status === 412) throw conflictError(this.name, key, err)
      // AWS answers If-Match on a missing key with 404 NoSuchKey, not 412: the precondition failed.
      if (typeof mode === 'object' && (status === 404 || (err as SdkError).name === 'NoSuchKey')) throw conflictError(this.name, key, err)
      if (status === 409 && mode !== 'overwrite') {
        throw storeError(this.name, 'put', key, err, true, status)
      }
      throw this.#fail('put', key, err, options.signal)
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult | undefined> {
    const Key = this.#full(key)
    const r = options.range
    validateRange(r)
    const [m, c] = [await loadS3(), await this.#getClient()]
    if (r !== undefined && r.end === r.start) {
      const meta = await this.head(key, options)
      return meta === undefined ? undefined : { data: Buffer.alloc(0), meta }
    }
    // A range from byte 0 to the end is the whole object: no Range header (s3rver drops the
    // connection on any ranged read of an empty object).
    const whole = r === undefined || (r.start === 0 && r.end === undefined)
    try {
      const out = await c.send(new m.GetObjectCommand({
        Bucket: this.bucket, Key, ...(whole ? {} : { Range: rangeHeader(r) }),
      }), { abortSignal: options.signal })
      const bytes = out.Body === undefined ? new Uint8Array(0) : await out.Body.transformToByteArray()
      const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      const { data, size } = whole
        ? { data: body, size: body.length }
        : fitRangedAnswer(this.name, key, r, out.$metadata.httpStatusCode, out.ContentRange, body)
      return { data, meta: { key, size, lastModified: out.LastModified ?? new Date(0), version: out.ETag } }
    } catch (err) {
      const status = statusOf(err)
      if (status === 404 || (err as SdkError).name === 'NoSuchKey') return undefined
      if (status === 416) {
        // The range starts at or past the end: an empty read, like a clamped range elsewhere.
        const meta = await this.head(key, options)
        return meta === undefined ? undefined : { data: Buffer.alloc(0), meta }
      }
      throw this.#fail('get', key, err, options.signal)
    }
  }

  async head(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectMeta | undefined> {
    const Key = this.#full(key)
    const [m, c] = [await loadS3(), await this.#getClient()]
    try {
      const out = await c.send(new m.HeadObjectCommand({ Bucket: this.bucket, Key }), { abortSignal: options.signal })
      return { key, size: out.ContentLength ?? 0, lastModified: out.LastModified ?? new Date(0), version: out.ETag }
    } catch (err) {
      const status = statusOf(err)
      if (status === 404 || (err as SdkError).name === 'NotFound') return undefined
      throw this.#fail('head', key, err, options.signal)
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectMeta> {
    validateListPrefix(prefix)
    validateListOptions(options)
    const [m, c] = [await loadS3(), await this.#getClient()]
    const full = this.prefix === '' ? prefix : `${this.prefix}/${prefix}`
    let token: string | undefined
    // An empty value would be sent as an empty query parameter: omit it (it means "from the start").
    const after = options.startAfter === undefined || options.startAfter === '' ? undefined : joinKey(this.prefix, options.startAfter)
    // Servers disagree on how StartAfter compares non-ASCII keys (s3rver by UTF-16 code units):
    // ask from a bound they all agree on, and drop what lies before `after` here.
    const bound = after === undefined ? undefined : portableStartAfter(after)
    const startAfter = bound === undefined || bound === '' ? undefined : bound
    for (;;) {
      let out
      try {
        out = await c.send(new m.ListObjectsV2Command({
          Bucket: this.bucket, Prefix: full,
          ...(token === undefined ? (startAfter === undefined ? {} : { StartAfter: startAfter }) : { ContinuationToken: token }),
          ...(options.pageSize === undefined ? {} : { MaxKeys: options.pageSize }),
        }), { abortSignal: options.signal })
      } catch (err) {
        throw this.#fail('list', prefix, err, options.signal)
      }
      for (const o of out.Contents ?? []) {
        if (o.Key === undefined || (after !== undefined && compareKeys(o.Key, after) <= 0)) continue
        yield { key: this.#rel(o.Key), size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0), version: o.ETag }
      }
      if (out.IsTruncated !== true || out.NextContinuationToken === undefined) return
      token = out.NextContinuationToken
    }
  }

  async delete(key: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const Key = this.#full(key)
    const [m, c] = [await loadS3(), await this.#getClient()]
    try {
      await c.send(new m.DeleteObjectCommand({ Bucket: this.bucket, Key }), { abortSignal: options.signal })
    } catch (err) {
      if (statusOf(err) === 404) return
      throw this.#fail('delete', key, err, options.signal)
    }
  }

  async deleteMany(keys: readonly string[], options: { signal?: AbortSignal } = {}): Promise<void> {
    const full = keys.map((k) => this.#full(k))
    if (full.length === 0) return
    const [m, c] = [await loadS3(), await this.#getClient()]
    for (let i = 0; i < full.length; i += 1000) {
      const chunk = full.slice(i, i + 1000)
      let out
      try {
        out = await c.send(new m.DeleteObjectsCommand({
          Bucket: this.bucket, Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true },
        }), { abortSignal: options.signal })
      } catch (err) {
        throw this.#fail('deleteMany', chunk[0], err, options.signal)
      }
      const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey')
      if (failed.length > 0) {
        const e = failed[0]
        const transient = e.Code === 'InternalError' || e.Code === 'SlowDown' || e.Code === 'ServiceUnavailable'
        throw storeError(this.name, 'deleteMany', this.#rel(e.Key ?? ''), new Error(`${e.Code}: ${e.Message}`), transient)
      }
    }
  }

  async close(): Promise<void> {
    if (this.#ownsClient && this.#client !== undefined) {
      const c = await this.#client.catch(() => undefined)
      c?.destroy()
      this.#client = undefined
    }
  }
}
