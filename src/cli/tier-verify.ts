/**
 * `seglog verify` for the store side of a tiered log: every record of every shipped segment is
 * read through `RemoteLog.iterate`, which checks each batch's CRC32C and structure as local reads
 * do. A damaged segment is reported and the check goes on with the next one.
 */
import { isSeglogError } from '../index.js'
import { deletedUnderReader, unsealedObjects, type TieredView } from './tiered.js'

/** One fault found in the store. */
export interface RemoteFault {
  /** `corrupt`: a batch failed its checks; `gap`: offsets missing inside the shipped range. */
  kind: 'corrupt' | 'gap'
  /** The object (as the store names it) and the byte where the damage starts. */
  key: string
  position: number
  message: string
  /** First offset that cannot be read because of this fault. */
  offset: number
}

/** What {@link verifyRemote} found. */
export interface RemoteVerifyReport {
  ok: boolean
  segments: number
  records: number
  bytes: number
  firstOffset: number
  nextOffset: number
  faults: RemoteFault[]
  /** Data objects without a seal (uploads in progress or interrupted): not faults. */
  unsealed: string[]
  /** Offsets remote retention deleted while the check ran (not faults). */
  deletedWhileChecking: number
  durationMs: number
}

/** Checks every shipped segment; `onProgress` gets the segment bytes checked so far and the total. */
export async function verifyRemote(view: TieredView, options: { onProgress?: (done: number, total: number) => void; signal?: AbortSignal } = {}): Promise<RemoteVerifyReport> {
  const started = performance.now()
  const { signal } = options
  const segments = view.remote.segments
  const total = segments.reduce((n, s) => n + s.size, 0)
  const first = view.remote.firstOffset
  const end = view.remote.nextOffset
  const faults: RemoteFault[] = []
  let records = 0
  let deleted = 0
  let done = 0
  let nextSegment = 0
  /** Counts the bytes of every segment wholly below `offset` as checked. */
  const progressTo = (offset: number): void => {
    let moved = false
    while (nextSegment < segments.length && segments[nextSegment].end <= offset) {
      done += segments[nextSegment++].size
      moved = true
    }
    if (moved) options.onProgress?.(done, total)
  }
  const segmentAt = (offset: number) => segments.find((s) => s.base <= offset && offset < s.end)

  // One iteration over the whole log (one listing); a fault restarts it after the damaged segment.
  let p = first
  while (p < end && signal?.aborted !== true) {
    try {
      for await (const r of view.remote.iterate({ from: p, to: end, ...(signal === undefined ? {} : { signal }) })) {
        if (r.offset !== p) {
          const seg = segmentAt(p)
          faults.push({ kind: 'gap', key: seg?.dataKey ?? view.store.display, position: 0, offset: p,
            message: `offsets ${p}…${r.offset - 1} are missing: the store's segments are not contiguous` })
        }
        records++
        p = r.offset + 1
        progressTo(p)
      }
      break
    } catch (err) {
      const newFirst = deletedUnderReader(err)
      if (newFirst !== undefined) {
        // Remote retention (a writer's) deleted segments under the check: not damage.
        deleted += Math.max(0, newFirst - p)
        p = Math.max(p, newFirst)
        continue
      }
      if (!isSeglogError(err, 'ERR_CORRUPT')) throw err
      const seg = segmentAt(p)
      const file = err.details.file
      const key = typeof file === 'string' ? file : seg?.dataKey ?? view.store.display
      const position = typeof err.details.position === 'number' ? err.details.position : 0
      // The report prints key and byte itself; the message repeats them first.
      const where = `${key} byte ${position}: `
      faults.push({ kind: 'corrupt', key, position, message: err.message.startsWith(where) ? err.message.slice(where.length) : err.message, offset: p })
      // Nothing after the damage in this segment can be trusted to be located; go on with the next.
      p = seg === undefined ? end : seg.end
      progressTo(p)
    }
  }
  const unsealed = signal?.aborted === true ? [] : await unsealedObjects(view, signal)
  return {
    ok: faults.length === 0,
    segments: segments.length,
    records,
    bytes: total,
    firstOffset: first,
    nextOffset: end,
    faults,
    unsealed,
    deletedWhileChecking: deleted,
    durationMs: performance.now() - started,
  }
}
