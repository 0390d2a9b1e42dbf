import type { ContainerClient } from '@azure/storage-blob'
import { SeglogError } from '../errors.js'
import { abortedError, conflictError, looksTransient, storeError, throwIfAborted } from './errors.js'
import { validateListOptions, validatePut } from './arguments.js'
import { compareKeys, joinKey, validateKey, validateListPrefix, validatePrefix } from './keys.js'
import { fitRangedAnswer, validateRange } from './ranges.js'
import type { GetOptions, GetResult, ListOptions, ObjectMeta, ObjectStore, PutOptions, PutResult } from './types.js'

type AzureModule = typeof import('@azure/storage-blob')

/** Options for {@link AzureBlobStore}. */
export interface AzureBlobStoreOptions {
  /** The container (created on first use when `createContainer` is true). */
  container: string
  /** A storage connection string (Azurite's works too); or give `client`. */
  connectionString?: string
  /** A ready container client; the store uses its pipeline (retries, credentials) as is. */
  client?: ContainerClient
  /** Every key is stored under `<prefix>/`. */
  prefix?: string
  /**
   * Create the container on first use if it does not exist. Default false: a missing container is
   * then a non-transient `ERR_STORE` (HTTP 404) that says so, since creating one usually needs
   * account-level rights a writer should not have.
   */
  createContainer?: boolean
  /** Per-try timeout for clients the store creates. Default 30,000 ms. */
  requestTimeoutMs?: number
}

let azModule: Promise<AzureModule> | undefined
function loadAzure(): Promise<AzureModule> {
  azModule ??= import('@azure/storage-blob').catch((err: unknown) => {
    azModule = undefined
    throw new SeglogError('ERR_INVALID_ARGUMENT', 'AzureBlobStore needs the optional peer dependency @azure/storage-blob: npm install @azure/storage-blob', { cause: err })
  })
  return azModule
}

interface RestErr { statusCode?: number; code?: string; details?: { errorCode?: string } }
function statusOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null ? (err as RestErr).statusCode : undefined
}

/**
 * An {@link ObjectStore} on Azure Blob Storage (block blobs) through the official SDK, loaded on
 * first use. Create-only puts use `ifNoneMatch: '*'` (409 `BlobAlreadyExists` → `ERR_CONFLICT`).
 * Clients it creates make a single try per call; the journal retries with backoff.
 *
 * Signals are passed to the SDK as `abortSignal`; an aborted call rejects with `ERR_CLOSED` (or
 * the signal's reason when that is a `SeglogError`). A signal already aborted sends nothing. An
 * abort while an upload is in flight leaves the blob either wholly committed or not at all
 * (single-shot `upload` commits atomically), but the rejection cannot say which: read it back.
 */
export class AzureBlobStore implements ObjectStore {
  readonly name: string
  readonly enforcesCreateOnly = true
  readonly container: string
  readonly prefix: string
  readonly #options: AzureBlobStoreOptions
  #client: Promise<ContainerClient> | undefined

  constructor(options: AzureBlobStoreOptions) {
    if (typeof options?.container !== 'string' || options.container === '') throw new SeglogError('ERR_INVALID_ARGUMENT', 'AzureBlobStore needs { container: "<name>" }')
    if (options.client === undefined && options.connectionString === undefined) {
      throw new SeglogError('ERR_INVALID_ARGUMENT', 'AzureBlobStore needs { connectionString } or { client }')
    }
    this.container = options.container
    this.prefix = validatePrefix(options.prefix ?? '')
    // The scheme the CLI accepts, so a name in a message can be pasted back into `seglog`.
    this.name = `az://${this.container}${this.prefix === '' ? '' : `/${this.prefix}`}`
    this.#options = options
    if (options.client !== undefined) this.#client = Promise.resolve(options.client)
  }

  #getClient(): Promise<ContainerClient> {
    this.#client ??= loadAzure().then(async (m) => {
      const svc = m.BlobServiceClient.fromConnectionString(this.#options.connectionString as string, {
        retryOptions: { maxTries: 1, tryTimeoutInMs: this.#options.requestTimeoutMs ?? 30_000 },
      })
      const cc = svc.getContainerClient(this.container)
      if (this.#options.createContainer === true) {
        try { await cc.createIfNotExists() } catch (err) { throw this.#fail('createContainer', '', err) }
      }
      return cc
    }).catch((err: unknown) => { this.#client = undefined; throw err })
    return this.#client
  }

  #full(key: string): string { return joinKey(this.prefix, validateKey(key)) }
  #rel(full: string): string { return this.prefix === '' ? full : full.slice(this.prefix.length + 1) }

  #fail(op: string, key: string, err: unknown, signal?: AbortSignal): SeglogError {
    // The SDK rejects an aborted request with its own AbortError: callers get the documented code.
    if (signal?.aborted === true) return abortedError(signal, this.name, op, key)
    if (err instanceof SeglogError) return err
    const status = statusOf(err)
    if (status === 404 && (err as { code?: unknown }).code === 'ContainerNotFound') {
      return new SeglogError('ERR_STORE', `${this.name}: ${op} ${JSON.stringify(key)} failed (HTTP 404): the container does not exist. ` +
        'Create it (az storage container create), or pass { createContainer: true } to AzureBlobStore to create it on first use',
      { cause: err, details: { file: key, op, transient: false, status } })
    }
    return storeError(this.name, op, key, err, looksTransient(err, status), status)
  }

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    const name = this.#full(key)
    validatePut(data, options)
    throwIfAborted(options.signal, this.name, 'put', key)
    const cc = await this.#getClient()
    const mode = options.mode ?? 'overwrite'
    try {
      const out = await cc.getBlockBlobClient(name).upload(data, data.byteLength, {
        abortSignal: options.signal,
        conditions: mode === 'create' ? { ifNoneMatch: '*' } : typeof mode === 'object' ? { ifMatch: mode.ifMatch } : {},
      })
      return { version: out.etag }
    } catch (err) {
      const status = statusOf(err)
      if (mode !== 'overwrite' && (status === 409 || status === 412)) throw conflictError(this.name, key, err)
      throw this.#fail('put', key, err, options.signal)
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult | undefined> {
    const name = this.#full(key)
    const r = options.range
    validateRange(r)
    const cc = await this.#getClient()
    try {
      const bc = cc.getBlobClient(name)
      if (r !== undefined && r.end === r.start) {
        const meta = await this.head(key, options)
        return meta === undefined ? undefined : { data: Buffer.alloc(0), meta }
      }
      const out = await bc.download(r?.start ?? 0, r?.end === undefined ? undefined : r.end - r.start, { abortSignal: options.signal })
      const body = await readAll(out.readableStreamBody)
      // The SDK sends no Range for a read from byte 0 to the end: the answer is the whole object.
      const ranged = r !== undefined && !(r.start === 0 && r.end === undefined)
      const { data, size } = ranged
        ? fitRangedAnswer(this.name, key, r, out._response.status, out.contentRange, body)
        : { data: body, size: body.length }
      return { data, meta: { key, size, lastModified: out.lastModified ?? new Date(0), version: out.etag } }
    } catch (err) {
      const status = statusOf(err)
      if (status === 404) return undefined
      if (status === 416) {
        // The range starts at or past the end: an empty read, like a clamped range elsewhere.
        const meta = await this.head(key, options)
        return meta === undefined ? undefined : { data: Buffer.alloc(0), meta }
      }
      throw this.#fail('get', key, err, options.signal)
    }
  }

  async head(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectMeta | undefined> {
    const name = this.#full(key)
    const cc = await this.#getClient()
    try {
      const p = await cc.getBlobClient(name).getProperties({ abortSignal: options.signal })
      return { key, size: p.contentLength ?? 0, lastModified: p.lastModified ?? new Date(0), version: p.etag }
    } catch (err) {
      if (statusOf(err) === 404) return undefined
      throw this.#fail('head', key, err, options.signal)
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectMeta> {
    validateListPrefix(prefix)
    validateListOptions(options)
    const cc = await this.#getClient()
    const full = this.prefix === '' ? prefix : `${this.prefix}/${prefix}`
    // An empty startAfter means "from the start"; sent as an empty `startFrom=`, Azurite signs it
    // differently from the SDK and answers 403.
    const after = options.startAfter === undefined || options.startAfter === '' ? undefined : joinKey(this.prefix, options.startAfter)
    // `startFrom` is inclusive and not honoured by every emulator: also filter here.
    const pages = cc.listBlobsFlat({ prefix: full, ...(after === undefined ? {} : { startFrom: after }) })
      .byPage({ maxPageSize: options.pageSize ?? 5000 })
    try {
      for await (const page of pages) {
        for (const b of page.segment.blobItems) {
          if (after !== undefined && compareKeys(b.name, after) <= 0) continue
          yield { key: this.#rel(b.name), size: b.properties.contentLength ?? 0, lastModified: b.properties.lastModified, version: b.properties.etag }
        }
        if (options.signal?.aborted) throw options.signal.reason
      }
    } catch (err) {
      throw this.#fail('list', prefix, err, options.signal)
    }
  }

  async delete(key: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const name = this.#full(key)
    const cc = await this.#getClient()
    try {
      await cc.getBlobClient(name).deleteIfExists({ abortSignal: options.signal })
    } catch (err) {
      if (statusOf(err) === 404) return
      throw this.#fail('delete', key, err, options.signal)
    }
  }

  async deleteMany(keys: readonly string[], options: { signal?: AbortSignal } = {}): Promise<void> {
    for (const k of keys) this.#full(k)
    for (let i = 0; i < keys.length; i += 16) await Promise.all(keys.slice(i, i + 16).map((k) => this.delete(k, options)))
  }
}

async function readAll(stream: NodeJS.ReadableStream | undefined): Promise<Buffer> {
  if (stream === undefined) return Buffer.alloc(0)
  const chunks: Buffer[] = []
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : c)
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
}
