/**
 * The remote log as one listing sees it: its segments in offset order, checked to be contiguous.
 *
 * A listing is not a snapshot: an uploader or a retention pass working while it runs can make it
 * show a seal without its data object, or a hole where a segment was being created or deleted.
 * Such a picture is listed again; only an anomaly that survives {@link CATALOG_ATTEMPTS} listings
 * is damage (ERR_CORRUPT naming the keys). Segments come and go only at the ends (uploads at the
 * end, retention at the start), so a stable store never shows one.
 */
import { SeglogError } from '../errors.js'
import { withRetry, type RetryPolicy } from '../objects/retry.js'
import type { ObjectStore } from '../objects/types.js'
import { parseSegmentKey, segmentsPrefix } from './layout.js'

/** One shipped, sealed segment. */
export interface RemoteSegment {
  /** First offset. */
  base: number
  /** Offset after its last record. */
  end: number
  /** Bytes of its data object. */
  size: number
  /** Newest batch timestamp (ms since the epoch), from the seal key. */
  maxTimestamp: number
  /** Key of the data object. */
  dataKey: string
  /** Key of the seal object. */
  sealKey: string
}

/** What {@link readCatalog} returns. */
export interface Catalog {
  /** Sealed segments, contiguous, oldest first. */
  segments: RemoteSegment[]
  /** The first offset held (0 when the store holds no segment). */
  firstOffset: number
  /** The offset after the last one held (0 when the store holds no segment). */
  endOffset: number
  /** Bytes of all data objects of {@link segments}. */
  bytes: number
  /** Data objects without a seal at or past the end: uploads in progress (or interrupted). */
  pending: { key: string; base: number; size: number }[]
  /** Data objects without a seal before the first segment: left by an interrupted retention pass. */
  leftovers: string[]
}

/** Listings tried before an anomaly counts as damage. */
export const CATALOG_ATTEMPTS = 3

/** Options of {@link readCatalog}. */
export interface CatalogOptions {
  retry?: RetryPolicy
  signal?: AbortSignal
}

interface Listed { data?: { key: string; size: number }; seal?: { key: string; end: number; maxTimestamp: number } }

async function listOnce(store: ObjectStore, prefix: string, signal: AbortSignal | undefined): Promise<Map<number, Listed>> {
  const root = segmentsPrefix(prefix)
  const byBase = new Map<number, Listed>()
  for await (const meta of store.list(root, { signal })) {
    const parsed = parseSegmentKey(meta.key.slice(root.length))
    if (parsed === undefined) continue
    const entry = byBase.get(parsed.base) ?? {}
    if (parsed.kind === 'data') entry.data = { key: meta.key, size: meta.size }
    else entry.seal = { key: meta.key, end: parsed.end, maxTimestamp: parsed.maxTimestamp }
    byBase.set(parsed.base, entry)
  }
  return byBase
}

/** Builds the catalog from one listing, or names the anomaly it shows. */
function build(byBase: Map<number, Listed>): Catalog | { anomaly: string; keys: string[] } {
  const bases = [...byBase.keys()].sort((a, b) => a - b)
  const segments: RemoteSegment[] = []
  const orphans: { key: string; base: number; size: number }[] = []
  for (const base of bases) {
    const e = byBase.get(base) as Listed
    if (e.seal && !e.data) return { anomaly: `seal object without its data object ${e.seal.key}`, keys: [e.seal.key] }
    if (e.data && !e.seal) { orphans.push({ key: e.data.key, base, size: e.data.size }); continue }
    if (e.data && e.seal) {
      const seg: RemoteSegment = { base, end: e.seal.end, size: e.data.size, maxTimestamp: e.seal.maxTimestamp, dataKey: e.data.key, sealKey: e.seal.key }
      const prev = segments.at(-1)
      if (prev && prev.end !== base) {
        const unsealed = byBase.get(prev.end)?.data
        if (unsealed && prev.end < base) return { anomaly: `data object ${unsealed.key} has no seal but lies inside the remote log`, keys: [unsealed.key] }
        const what = prev.end > base ? 'overlaps' : 'leaves a gap after'
        return { anomaly: `segment ${seg.sealKey} (offsets ${base}…${seg.end - 1}) ${what} ${prev.sealKey} (offsets ${prev.base}…${prev.end - 1})`, keys: [prev.sealKey, seg.sealKey] }
      }
      segments.push(seg)
    }
  }
  const firstOffset = segments[0]?.base ?? 0
  const endOffset = segments.at(-1)?.end ?? 0
  const pending: Catalog['pending'] = []
  const leftovers: string[] = []
  for (const o of orphans) {
    if (segments.length === 0 || o.base >= endOffset) pending.push(o)
    else if (o.base < firstOffset) leftovers.push(o.key)
    else return { anomaly: `data object ${o.key} has no seal but lies inside the remote log (offsets ${firstOffset}…${endOffset - 1})`, keys: [o.key] }
  }
  return { segments, firstOffset, endOffset, bytes: segments.reduce((n, s) => n + s.size, 0), pending, leftovers }
}

/**
 * Lists the remote log under `prefix`. A gap, an overlap, a seal without data or an unsealed data
 * object inside the log that persists over several listings is ERR_CORRUPT naming the keys (in
 * `details.keys`); store failures are ERR_STORE after retries.
 */
export async function readCatalog(store: ObjectStore, prefix: string, options: CatalogOptions = {}): Promise<Catalog> {
  for (let attempt = 1; ; attempt++) {
    const listed = await withRetry(() => listOnce(store, prefix, options.signal), options.retry, undefined, options.signal)
    const built = build(listed)
    if (!('anomaly' in built)) return built
    if (attempt >= CATALOG_ATTEMPTS) {
      throw new SeglogError('ERR_CORRUPT',
        `${store.name}: the remote log under '${prefix}' is damaged: ${built.anomaly} (seen in ${attempt} listings). Objects were deleted or written by something other than seglog; restore them from a copy, or delete the segments after the damage`,
        { details: { file: built.keys[0], position: 0, kind: 'remote catalog', keys: built.keys } })
    }
  }
}

/** The segment holding `offset`, by binary search; undefined outside the catalog. */
export function segmentFor(catalog: Catalog, offset: number): RemoteSegment | undefined {
  const segs = catalog.segments
  let lo = 0
  let hi = segs.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const s = segs[mid]
    if (offset < s.base) hi = mid - 1
    else if (offset >= s.end) lo = mid + 1
    else return s
  }
  return undefined
}
