/**
 * Iteration that reads through: the start offset an iterator's options name (checked), and a
 * tiered log's iteration, which takes offsets below the local first offset from the store.
 */
import { invalidArgument } from '../errors.js'
import { checkOffset, describeType } from '../record-input.js'
import { RecordCursor } from './cursor.js'
import type { LogCore } from './log-core.js'
import type { IterateOptions, ReadBelow } from './log-types.js'
import type { LogRecord } from './segment.js'

/** The offset `options` start at (`firstOffset` by default), after checking `from`, `to` and `gaps`. */
export function iterateStart(options: IterateOptions, firstOffset: number): number {
  const from = options.from ?? firstOffset
  checkOffset(from, 'iterate from')
  if (options.to !== undefined) checkOffset(options.to, 'iterate to')
  if (options.gaps !== undefined && options.gaps !== 'stop' && options.gaps !== 'skip') throw invalidArgument(`iterate gaps must be 'stop' or 'skip'; got ${describeType(options.gaps)}`)
  if (options.reuseBuffer !== undefined && typeof options.reuseBuffer !== 'boolean') throw invalidArgument(`iterate reuseBuffer must be a boolean; got ${describeType(options.reuseBuffer)}`)
  return from
}

/**
 * A tiered log's iteration: offsets below the local first offset come from `below` (the store),
 * then the local cursor takes over. Local retention may delete segments under the local cursor:
 * whenever it would skip offsets, they are read from below first, so the iteration never has a
 * silent gap. Yields arrays of consecutive records (a read block locally, up to 256 from below).
 */
export async function* batchesThroughBelow(core: LogCore, below: ReadBelow, from: number, options: IterateOptions): AsyncGenerator<LogRecord[]> {
  const to = options.to ?? Number.POSITIVE_INFINITY
  let p = from
  while (p < to && options.signal?.aborted !== true) {
    // Offsets whole-log retention removed are skipped, as the local log's iterators skip what its retention deleted.
    if (p < below.retainedFrom()) p = below.retainedFrom()
    const localFirst = core.firstOffset
    if (p < localFirst) {
      let group: LogRecord[] = []
      for await (const r of below.iterate(p, Math.min(to, localFirst), options.signal)) {
        group.push(r)
        p = r.offset + 1
        if (group.length >= 256) {
          yield group
          group = []
        }
      }
      if (group.length > 0) yield group
      // Nothing more below (deleted by remote retention, or never shipped): go on locally.
      if (p < localFirst) p = localFirst
      continue
    }
    const cursor = new RecordCursor(core.cursorSource, p, to, options.follow ?? false, options.signal, options.gaps ?? 'stop', options.reuseBuffer === true)
    let restart = false
    try {
      for (;;) {
        const next = await cursor.nextMany()
        if (next.done === true) break
        const batch = next.value
        if (batch.length === 0) continue
        if (batch[0].offset > p && p < core.firstOffset && p >= below.retainedFrom()) {
          // The local segment holding p was deleted (it is in the store): read those from below.
          restart = true
          break
        }
        yield batch
        p = batch[batch.length - 1].offset + 1
      }
    } finally {
      await cursor.return()
    }
    if (!restart) return
  }
}

/** The records of consecutive arrays, one by one. */
export async function* flattenBatches(batches: AsyncGenerator<LogRecord[]>): AsyncGenerator<LogRecord> {
  for await (const batch of batches) yield* batch
}
