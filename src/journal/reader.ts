/**
 * The reader: yields a journal's events in order from a cursor, fetching objects ahead (bounded by
 * count and bytes), re-planning when compaction or retention moved objects under it, following
 * new batches on a poll, and finally yielding this handle's buffered events as pending.
 */
import { setMaxListeners } from 'node:events'
import { SeglogError, isSeglogError } from '../errors.js'
import type { Catalog } from './catalog.js'
import { sleep, type JournalClock } from './clock.js'
import type { Section } from './codec.js'
import { JOURNAL_START, formatCursor, parseCursor, type JournalCursor } from './cursor.js'
import type { JournalKeys } from './keys.js'
import type { BatchWriter } from './writer.js'
import type { JournalEntry, ReadOptions } from './types.js'

/** Most bytes of objects fetched ahead of the reader (one object is always allowed). */
const READ_AHEAD_BYTES = 32 << 20

/** Objects that vanish between listing and fetch this many times in a row end a read. */
const MAX_MISSING = 20

/** What a reader needs from its journal. */
export interface ReaderConfig {
  catalog: Catalog
  keys: JournalKeys
  clock: JournalClock
  followPollMs: number
  readAhead: number
  /** This handle's writer (its buffered events are read as pending), if writable. */
  writer: BatchWriter | undefined
  /** Aborted when the journal closes: ends follows and aborts their store calls. */
  closeSignal: AbortSignal
}

/** Reads of one journal handle. */
export class JournalReader {
  readonly #c: ReaderConfig
  constructor(config: ReaderConfig) { this.#c = config }

  /** See {@link Journal.read}. */
  async *read<T>(options: ReadOptions = {}): AsyncGenerator<JournalEntry<T>, void, undefined> {
    const { catalog, keys, writer } = this.#c
    const after = options.after === undefined ? undefined : parseCursor(options.after)
    const follow = options.follow === true
    const pending = !follow && options.pending !== false
    const signal = options.signal
    // Store calls stop when the caller aborts or the journal closes.
    const storeSignal = signal === undefined ? this.#c.closeSignal : AbortSignal.any([signal, this.#c.closeSignal])
    if (storeSignal !== this.#c.closeSignal) setMaxListeners(0, storeSignal)
    const stopped = (): boolean => signal?.aborted === true || this.#c.closeSignal.aborted
    let cursorSeq = after?.seq ?? -1
    let cursorIndex = after?.index ?? -1
    let next = Math.max(0, cursorSeq)
    let missing = 0
    let waits = 0
    let first = true
    for (;;) {
      if (stopped()) return
      const generation = writer?.flushGeneration ?? 0
      let batches, snap
      try {
        // Batches first, then compacted objects: a batch missing from the first listing was
        // deleted because a compacted object covered it, which the second listing then shows.
        // The first listing of compacted objects in a read is fresh; follow polls reuse it for graceMs / 4.
        batches = await catalog.listDir('b', next > 0 ? keys.batch(next - 1) : undefined, storeSignal)
        snap = await catalog.snapshot(first || missing > 0, storeSignal)
      } catch (err) {
        if (stopped()) return
        throw err
      }
      first = false
      const steps = catalog.planChecked(batches, snap.compacted, next, snap.marker)
      let broke = false
      const inflight: { p: Promise<Section[] | undefined>; size: number }[] = []
      let inflightBytes = 0
      let k = 0
      const fill = (): void => {
        while (k < steps.length && inflight.length < this.#c.readAhead && (inflight.length === 0 || inflightBytes + steps[k].obj.size <= READ_AHEAD_BYTES)) {
          const p = catalog.fetch(steps[k], true, storeSignal)
          p.catch(() => undefined)
          inflight.push({ p, size: steps[k].obj.size })
          inflightBytes += steps[k].obj.size
          k++
        }
      }
      fill()
      for (let i = 0; i < steps.length; i++) {
        const head = inflight.shift() as { p: Promise<Section[] | undefined>; size: number }
        inflightBytes -= head.size
        let sections: Section[] | undefined
        try {
          sections = await head.p
        } catch (err) {
          if (stopped()) return
          // A damaged, foreign or misnamed object (now recorded as bad): plan again without it;
          // the plan throws if nothing else holds what it claims.
          if (!isSeglogError(err, 'ERR_CORRUPT')) throw err
          broke = true
          break
        }
        fill()
        if (sections === undefined) {
          // Deleted since we listed (compaction or retention): list again from here.
          if (++missing > MAX_MISSING) throw new SeglogError('ERR_STORE', `journal ${keys.prefix}: objects keep disappearing while reading; is graceMs the same for every process?`)
          broke = true
          break
        }
        missing = 0
        for (const s of sections) {
          for (let idx = 0; idx < s.values.length; idx++) {
            if (s.seq < cursorSeq || (s.seq === cursorSeq && idx <= cursorIndex)) continue
            cursorSeq = s.seq
            cursorIndex = idx
            yield { cursor: formatCursor(s.seq, idx), value: s.values[idx] as T, timestamp: s.timestamp, durable: true }
          }
          next = s.seq + 1
        }
      }
      if (broke) continue
      if (!follow) {
        // Our own flushes may have landed while we read: read them as durable, not as pending.
        if (writer !== undefined && generation !== writer.flushGeneration) continue
        if (writer === undefined || !pending) return
        let skip = 0
        const active = writer.active
        if (active !== undefined) {
          // A write under way may or may not be in the listing we just read: wait for it and
          // look again (a few times), else leave its events out rather than risk showing them twice.
          if (waits++ < 5) { await active.done; continue }
          skip = active.count
        }
        const cursor = cursorSeq < 0 ? JOURNAL_START : formatCursor(cursorSeq, cursorIndex)
        for (const e of writer.pending(skip)) {
          const value = (typeof e.data === 'string' ? JSON.parse(e.data) : Buffer.from(e.data)) as T
          yield { cursor, value, timestamp: Math.floor(this.#c.clock.now()), durable: false }
        }
        return
      }
      try {
        await sleep(this.#c.clock, this.#c.followPollMs, storeSignal)
      } catch {
        return
      }
    }
  }

  /** See {@link Journal.endCursor}. */
  async endCursor(): Promise<JournalCursor> {
    const { catalog, keys } = this.#c
    for (let attempt = 0; attempt < MAX_MISSING; attempt++) {
      // Batches first, then compacted objects (see read()).
      const batches = await catalog.listDir('b')
      const snap = await catalog.snapshot(true)
      const steps = catalog.planChecked(batches, snap.compacted, 0, snap.marker)
      const last = steps[steps.length - 1]
      if (last === undefined) return JOURNAL_START
      try {
        const sections = await catalog.fetch({ obj: last.obj, from: last.to, to: last.to }, true)
        if (sections === undefined) continue // moved by compaction since the listing
        const s = sections[sections.length - 1]
        return formatCursor(s.seq, s.values.length - 1)
      } catch (err) {
        if (!isSeglogError(err, 'ERR_CORRUPT')) throw err // now recorded as bad: plan again without it
      }
    }
    throw new SeglogError('ERR_STORE', `journal ${keys.prefix}: objects keep disappearing while looking for the end; is graceMs the same for every process?`)
  }
}
