/**
 * The byte check a tiered open makes of every segment both the local log and the store hold: a
 * fork (another writer extended the remote log, or the local log was rewritten) can lie in any
 * of them, not only the newest. Cost: one small GET per held segment (its seal, whose trailer
 * names the CRC32C of the data object) and one local read of the segment file; never a read of
 * the data objects. Seals shipped before the trailer existed carry no CRC: those segments are
 * matched by base, end and size only (the newest of them is still compared byte for byte by
 * shipping it again, see tiered-log.ts).
 */
import { SeglogError } from '../errors.js'
import { crc32c } from '../format/index.js'
import type { FileSystem } from '../io/file-system.js'
import { withRetry, type RetryPolicy } from '../objects/retry.js'
import type { ObjectStore } from '../objects/types.js'
import type { Catalog, RemoteSegment } from './catalog.js'
import { decodeSeal } from './seal.js'

/** A sealed local segment as the log's hooks describe it. */
export interface HeldSegment { base: number; end: number; path: string; bytes: number }

/** Seal GETs in flight at once. */
const PARALLEL = 8
const CHUNK = 1 << 20

/**
 * ERR_CONFLICT (the first fork found, oldest first) when a local sealed segment inside the remote
 * log's range differs from what the store holds at its offsets; undefined when all agree. A seal
 * that is missing or damaged is left to readers (it is reported when read), not taken for a fork.
 */
export async function checkHeldSegments(store: ObjectStore, prefix: string, catalog: Catalog, local: readonly HeldSegment[],
  options: { fileSystem: FileSystem; retry?: RetryPolicy; signal?: AbortSignal }): Promise<SeglogError | undefined> {
  if (catalog.segments.length === 0) return undefined
  const byBase = new Map(catalog.segments.map((s) => [s.base, s]))
  const held = local.filter((s) => s.end > catalog.firstOffset && s.base < catalog.endOffset)
  const forks: (SeglogError | undefined)[] = new Array(held.length)
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < held.length; i = next++) forks[i] = await checkOne(store, prefix, byBase.get(held[i].base), held[i], options)
  }
  await Promise.all(Array.from({ length: Math.min(PARALLEL, held.length) }, worker))
  return forks.find((f) => f !== undefined)
}

async function checkOne(store: ObjectStore, prefix: string, remote: RemoteSegment | undefined, local: HeldSegment,
  options: { fileSystem: FileSystem; retry?: RetryPolicy; signal?: AbortSignal }): Promise<SeglogError | undefined> {
  if (remote === undefined || remote.end !== local.end || remote.size !== local.bytes) {
    return fork(prefix, local, remote, remote === undefined ? 'no shipped segment starts there' : `the store's segment holds offsets ${remote.base}…${remote.end - 1} in ${remote.size} bytes`)
  }
  const got = await withRetry(() => store.get(remote.sealKey, { signal: options.signal }), options.retry, undefined, options.signal)
  const seal = got && decodeSeal(got.data, remote.base, remote.size)
  if (seal?.dataCrc === undefined) return undefined
  const crc = fileCrc(options.fileSystem, local)
  if (crc === seal.dataCrc) return undefined
  return fork(prefix, local, remote, `its bytes differ (CRC32C 0x${crc.toString(16)} locally, 0x${seal.dataCrc.toString(16)} in ${remote.sealKey})`)
}

function fileCrc(fsys: FileSystem, segment: HeldSegment): number {
  const handle = fsys.open(segment.path, 'read')
  try {
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, segment.bytes))
    let crc = 0
    for (let pos = 0; pos < segment.bytes;) {
      const n = handle.read(buf, 0, Math.min(buf.length, segment.bytes - pos), pos)
      if (n <= 0) break
      crc = crc32c(buf.subarray(0, n), crc)
      pos += n
    }
    return crc
  } finally {
    handle.close()
  }
}

function fork(prefix: string, local: HeldSegment, remote: RemoteSegment | undefined, why: string): SeglogError {
  return new SeglogError('ERR_CONFLICT',
    `the local segment ${local.path} (offsets ${local.base}…${local.end - 1}) and the store under '${prefix}' disagree: ${why}. ` +
    'The local log has forked from the remote one (another writer extended it, or the local log was rewritten). Nothing was changed; ' +
    'restore into an empty directory to continue from the store, or use another prefix',
    { details: { file: remote?.dataKey ?? local.path, offset: local.base } })
}
