/**
 * The object-store seam, modelled on the Rust `object_store` crate: one small interface that
 * every backend implements, with behaviour (prefixing, fault injection) added by wrapping.
 */

/**
 * How {@link ObjectStore.put} treats an existing object.
 * - `'overwrite'`: replace whatever is there.
 * - `'create'`: create-only; fails with `ERR_CONFLICT` when the key exists (S3 `If-None-Match: *`,
 *   Azure `ifNoneMatch: '*'`, a hard link on a filesystem).
 * - `{ ifMatch }`: replace only when the current version equals `ifMatch`, else `ERR_CONFLICT`.
 */
export type PutMode = 'overwrite' | 'create' | { ifMatch: string }

/** Options for {@link ObjectStore.put}. */
export interface PutOptions {
  /** Default `'overwrite'`. */
  mode?: PutMode
  /** Abort the request. */
  signal?: AbortSignal
}

/** What a successful put returns. */
export interface PutResult {
  /** The new object's version (ETag or equivalent), usable with `{ ifMatch }`. */
  version: string | undefined
}

/** Metadata of one stored object. */
export interface ObjectMeta {
  /** The key, relative to the store's root (never includes a store-level prefix). */
  key: string
  /** Size in bytes. */
  size: number
  /** Last modification time, by the store's clock. */
  lastModified: Date
  /** Version (ETag or equivalent) when the store has one. */
  version: string | undefined
}

/**
 * A byte range: `start` inclusive, `end` exclusive (omit `end` for "to the end"). Both are
 * non-negative safe integers with `end ≥ start`; anything else is `ERR_INVALID_ARGUMENT` on every
 * store, before any request. The range is clamped to the object: one that starts at or past the end
 * reads as empty.
 */
export interface ByteRange {
  /** First byte, inclusive. */
  start: number
  /** One past the last byte; omit to read to the end. */
  end?: number
}

/** Options for {@link ObjectStore.get}. */
export interface GetOptions {
  /** Read only part of the object. */
  range?: ByteRange
  /** Abort the request. */
  signal?: AbortSignal
}

/** An object's bytes and metadata. */
export interface GetResult {
  /** The bytes: exactly the requested range (clamped to the object), when a range was given. */
  data: Buffer
  /** Metadata of the whole object. */
  meta: ObjectMeta
}

/** Options for {@link ObjectStore.list}. */
export interface ListOptions {
  /**
   * Only keys strictly greater than this one, by UTF-8 byte order (must itself start with the
   * prefix to be useful). `''` is the same as leaving it out.
   */
  startAfter?: string
  /** Page size asked of the backend (it may return fewer); a positive whole number. */
  pageSize?: number
  /** Abort the listing. */
  signal?: AbortSignal
}

/**
 * A key-value object store. Keys are `/`-separated relative paths (see {@link validateKey}).
 *
 * Errors: `ERR_CONFLICT` when a put precondition fails (the object exists for `'create'`; it is
 * missing or has another version for `{ ifMatch }`); `ERR_STORE` for any other store failure,
 * with `details.transient === true` when retrying may help (5xx, throttling, timeouts, resets)
 * and the original error as `cause`; `ERR_INVALID_ARGUMENT` for a bad key, range, put mode or list
 * option, before anything is sent or changed. A missing object is not an error: `get` and `head`
 * resolve `undefined`, `delete` succeeds. A "folder" (a prefix of other keys) is not an object.
 *
 * Cancellation: every method takes an optional `signal`. An aborted call rejects with a
 * `SeglogError` — the signal's reason when it is one (the journal aborts with `ERR_CLOSED` when it
 * closes), else `ERR_CLOSED` with `details.aborted` — and a create-only put it interrupts has
 * either fully happened or not at all, never in part. Each store's TSDoc says whether the
 * rejection also means "not at all" (memory, folder) or only "one of the two" (S3, Azure).
 *
 * `seglog/testing` exports `storeConformance`, the suite every store here passes, for checking a
 * store of your own.
 */
export interface ObjectStore {
  /** Short description for messages, e.g. `s3://bucket/prefix`. */
  readonly name: string
  /**
   * True when `put(..., { mode: 'create' })` is enforced atomically by the backend, so that two
   * writers racing on one key cannot both succeed.
   */
  readonly enforcesCreateOnly: boolean
  /**
   * True when {@link enforcesCreateOnly} is a claim nobody has checked (an S3-compatible endpoint
   * whose support for `If-None-Match` was not declared): `Journal.open` then probes before
   * writing, unless opened with `probe: false`.
   */
  readonly createOnlyUnverified?: boolean
  /** Stores `data` under `key`. */
  put(key: string, data: Uint8Array, options?: PutOptions): Promise<PutResult>
  /** Reads an object (or a range of it); `undefined` when it does not exist. */
  get(key: string, options?: GetOptions): Promise<GetResult | undefined>
  /** Metadata of an object; `undefined` when it does not exist. */
  head(key: string, options?: { signal?: AbortSignal }): Promise<ObjectMeta | undefined>
  /**
   * Every object whose key starts with `prefix` (a plain string prefix, `''` for all), in
   * ascending order of the keys' UTF-8 bytes (= code point order; not JavaScript's UTF-16 `<`),
   * following continuation tokens. `startAfter` compares the same way; `''` means from the start.
   */
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectMeta>
  /** Deletes an object; succeeds when it does not exist. */
  delete(key: string, options?: { signal?: AbortSignal }): Promise<void>
  /** Deletes many objects (in batches where the backend supports it). */
  deleteMany(keys: readonly string[], options?: { signal?: AbortSignal }): Promise<void>
  /** Releases resources (HTTP agents, clients the store created). */
  close?(): Promise<void>
}
