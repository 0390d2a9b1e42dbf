// What a store under the conformance suite can do, and the defaults that fill in what it does not say.
import type { ObjectStore } from '../../objects/types.js'

/**
 * What a store can do, for `storeConformance` (store-conformance.ts). Every flag is a documented
 * difference from the full contract: a check that a store cannot pass is replaced by one that
 * pins what it does instead, never dropped silently.
 */
export interface StoreCapabilities {
  /**
   * `put(…, { mode: 'create' })` fails with `ERR_CONFLICT` when the key exists, also when writers
   * race. Default: the store's own `enforcesCreateOnly`.
   */
  enforcesCreateOnly?: boolean
  /**
   * `put(…, { mode: { ifMatch } })` is supported: puts return a version and a stale or missing
   * version fails with `ERR_CONFLICT`. Default true.
   */
  ifMatch?: boolean
  /**
   * A key can name an object and, at the same time, be a folder of other keys (`a` and `a/b`), as
   * on S3 and Azure. Default true. When false (a filesystem), such a put must fail with a
   * non-transient `ERR_STORE` that leaves every object in place.
   */
  objectAndFolder?: boolean
  /**
   * Run the listing test with this many keys (more than 1,000 exercises continuation tokens).
   * Default: skipped.
   */
  manyKeys?: number
  /**
   * How the server orders keys in a listing: `'code-point'` (the contract: UTF-8 byte order, as
   * S3 does) or `'utf-16'` (UTF-16 code units, as Azurite 3.35 does; the two differ only between
   * characters above U+FFFF and U+E000–U+FFFF). With `'utf-16'` the order check pins that order
   * instead. `'unordered'` (s3rver 3.7, which walks its folders: `a/x` before `a a/y`, and whose
   * continuation tokens skip keys above U+FFFF): only which keys are listed is checked.
   * Default `'code-point'`.
   */
  keyOrder?: 'code-point' | 'utf-16' | 'unordered'
  /**
   * A ranged read of an empty object works (an empty result). Default true; s3rver 3.7 drops the
   * connection instead.
   */
  rangedReadOfEmptyObject?: boolean
  /**
   * A put and a delete racing in one folder both work. Default true; s3rver 3.7 answers 500 or
   * crashes (it removes emptied folders without guarding against a concurrent put).
   */
  racingPutAndDelete?: boolean
  /**
   * Retry `deleteMany` on transient failures inside the suite (s3rver answers 500 when one
   * multi-delete empties nested folders concurrently). Default false.
   */
  retryDeleteMany?: boolean
}

/** {@link StoreCapabilities} with every default filled in. */
export interface ResolvedCapabilities extends Required<Omit<StoreCapabilities, 'manyKeys'>> {
  manyKeys: number | undefined
}

export function resolveCapabilities(store: ObjectStore, capabilities: StoreCapabilities): ResolvedCapabilities {
  return {
    enforcesCreateOnly: capabilities.enforcesCreateOnly ?? store.enforcesCreateOnly,
    ifMatch: capabilities.ifMatch ?? true,
    objectAndFolder: capabilities.objectAndFolder ?? true,
    manyKeys: capabilities.manyKeys,
    retryDeleteMany: capabilities.retryDeleteMany ?? false,
    keyOrder: capabilities.keyOrder ?? 'code-point',
    rangedReadOfEmptyObject: capabilities.rangedReadOfEmptyObject ?? true,
    racingPutAndDelete: capabilities.racingPutAndDelete ?? true,
  }
}
