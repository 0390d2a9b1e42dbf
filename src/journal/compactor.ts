/**
 * The compactor: merges runs of objects into compacted objects (`compact`), deletes what a
 * compacted object or retention marker has covered for the grace period (the sweep), and retention
 * (`deleteBefore`, `retain`). Each run works from **one** listing of the journal.
 *
 * Nothing is deleted on the strength of a name: a compacted object is read whole and compared
 * with what it claims to cover first. Damaged, foreign or misnamed objects are kept, never
 * trusted, and reported once the run's other work is done.
 */
import { randomBytes } from 'node:crypto'
import { channels } from '../diagnostics.js'
import { SeglogError, isSeglogError } from '../errors.js'
import type { ObjectStore } from '../objects/types.js'
import type { Catalog, JournalListing } from './catalog.js'
import type { JournalClock } from './clock.js'
import type { JournalKeys } from './keys.js'
import { planReads, type JournalObject, type Step } from './plan.js'
import type { CompactMessage, CompactResult } from './types.js'

type Obj = JournalObject

/** Object timestamps from S3 and Azure have one-second resolution. */
const STORE_TIME_RESOLUTION_MS = 1000

/** What a compactor needs from its journal. */
export interface CompactorConfig {
  store: ObjectStore
  keys: JournalKeys
  catalog: Catalog
  clock: JournalClock
  graceMs: number
  compactTargetBytes: number
  readAhead: number
  /** Aborted when the journal closes: the run stops at its next store call. */
  closeSignal: AbortSignal
}

/**
 * Groups contiguous steps into runs of ≥ 2 objects within `targetBytes`. A large compacted object
 * is not rewritten to append a little: it stays out of the run until what follows is at least a
 * quarter of its size (bounds write amplification).
 */
export function planRuns(steps: readonly Step[], targetBytes: number): Step[][] {
  const runs: Step[][] = []
  let run: Step[] = []
  let runBytes = 0
  const stepBytes = (st: Step): number => st.obj.size * ((st.to - st.from + 1) / (st.obj.last - st.obj.first + 1))
  const close = (): void => {
    while (run.length >= 2 && run[0].obj.kind === 'c' && stepBytes(run[0]) > 4 * (runBytes - stepBytes(run[0]))) {
      runBytes -= stepBytes(run[0])
      run.shift()
    }
    if (run.length >= 2) runs.push(run)
    run = []
    runBytes = 0
  }
  for (const st of steps) {
    const bytes = stepBytes(st)
    const prev = run[run.length - 1]
    if (prev !== undefined && (prev.to + 1 !== st.from || runBytes + bytes > targetBytes)) close()
    if (bytes >= targetBytes) { close(); continue }
    run.push(st)
    runBytes += bytes
  }
  close()
  return runs
}

/** Drops `keys` from a listing (objects this run deleted). */
function without(listing: JournalListing, keys: readonly string[]): JournalListing {
  if (keys.length === 0) return listing
  const gone = new Set(keys)
  const keep = (o: Obj): boolean => !gone.has(o.key)
  return { ...listing, batches: listing.batches.filter(keep), compacted: listing.compacted.filter(keep), markers: listing.markers.filter(keep) }
}

/** Compaction, sweep and retention of one journal handle. */
export class Compactor {
  readonly #c: CompactorConfig
  constructor(config: CompactorConfig) { this.#c = config }

  get #signal(): { signal: AbortSignal } { return { signal: this.#c.closeSignal } }

  /** See {@link Journal.compact}. */
  async compact(grace: number): Promise<CompactResult> {
    const { catalog } = this.#c
    const t0 = this.#c.clock.monotonic()
    const result: CompactResult = { merged: [], deleted: [] }
    const problems = new Map<string, SeglogError>()
    // The run's one listing: batches, then compacted objects, then markers (key order).
    let listing = await catalog.listing(this.#c.closeSignal)
    result.deleted.push(...await this.#sweep(grace, problems, listing))
    listing = without(listing, result.deleted)
    const good = (o: Obj): boolean => {
      const e = catalog.badError(o)
      if (e !== undefined) problems.set(o.key, e)
      return e === undefined
    }
    const compacted = listing.compacted.filter(good)
    const covered = (o: Obj): boolean => compacted.some((c) => c.first <= o.first && o.last <= c.last)
    const steps = planReads(listing.batches.filter(good).filter((b) => !covered(b)), compacted, 0, listing.marker)
    const made: Obj[] = []
    for (const r of planRuns(steps, this.#c.compactTargetBytes)) {
      const merged = await this.#merge(r, problems, listing.batches)
      if (merged === undefined) continue
      result.merged.push(merged)
      made.push({ key: merged.key, kind: 'c', first: r[0].from, last: r[r.length - 1].to, size: merged.bytes, modifiedMs: Number.POSITIVE_INFINITY })
    }
    catalog.invalidate()
    if (grace === 0 && made.length > 0) {
      // No grace: what the new merges cover can go now (the sweep still compares bytes first).
      result.deleted.push(...await this.#sweep(0, problems, { ...listing, compacted: [...listing.compacted, ...made] }))
    }
    if (channels.journalCompact.hasSubscribers) {
      channels.journalCompact.publish({ journal: this.#c.keys.prefix, merged: result.merged, deleted: result.deleted.length, durationMs: this.#c.clock.monotonic() - t0 } satisfies CompactMessage)
    }
    if (problems.size > 0) throw this.#problemsError('compaction', problems, result)
    return result
  }

  /**
   * Writes retention marker `r/<seq>` and sweeps (see {@link Journal.deleteBefore}). `listing`, when
   * given, is the run's listing (taken before the marker); else one is taken now.
   */
  async deleteBefore(seq: number, grace: number, cursor: string, known?: JournalListing): Promise<string[]> {
    const { catalog, keys, store } = this.#c
    let listing = known ?? await catalog.listing(this.#c.closeSignal)
    if (known === undefined) {
      let max = listing.marker - 1
      for (const o of [...listing.batches, ...listing.compacted]) max = Math.max(max, o.last)
      if (seq > max + 1) {
        throw new SeglogError('ERR_INVALID_ARGUMENT',
          `deleteBefore(${JSON.stringify(cursor)}): batch ${seq} is beyond the journal's end (the last batch is ${max < 0 ? 'none' : max}); pass a cursor that read() returned`)
      }
    }
    const key = keys.marker(seq)
    await store.put(key, Buffer.alloc(0), { mode: 'create', ...this.#signal }).catch((err: unknown) => {
      // Another retention run wrote the same marker: it is there, which is all we need.
      if (!isSeglogError(err, 'ERR_CONFLICT')) throw err
    })
    catalog.invalidate()
    if (!listing.markers.some((m) => m.key === key)) {
      // Just written: as young as can be, so it deletes nothing below it unless grace is 0.
      const marker: Obj = { key, kind: 'r', first: seq, last: seq, size: 0, modifiedMs: Number.POSITIVE_INFINITY }
      listing = { ...listing, markers: [...listing.markers, marker], marker: Math.max(listing.marker, seq) }
    }
    const problems = new Map<string, SeglogError>()
    const deleted = await this.#sweep(grace, problems, listing)
    if (problems.size > 0) throw this.#problemsError('retention', problems, { deleted })
    return deleted
  }

  /** See {@link Journal.retain}: the first batch to keep, from one listing, then deleteBefore. */
  async retain(maxAgeMs: number, grace: number): Promise<string[]> {
    const listing = await this.#c.catalog.listing(this.#c.closeSignal)
    const steps = planReads(listing.batches, listing.compacted, 0, listing.marker)
    if (steps.length === 0) return []
    const now = await this.#storeNow()
    let cut = -1
    for (const st of steps) {
      if (now - st.obj.modifiedMs < maxAgeMs) break
      cut = st.to + 1
    }
    if (cut <= 0) return []
    return this.deleteBefore(cut, grace, `${cut}:0`, listing)
  }

  /** Writes one run as a compacted object; undefined when it could not (moved, or a bad part). */
  async #merge(r: Step[], problems: Map<string, SeglogError>, batches: Obj[]): Promise<CompactResult['merged'][number] | undefined> {
    const { catalog, keys, store } = this.#c
    // A compacted object is only carried into a larger one once it matches the originals that
    // are still there: a foreign one must not spread into objects that look like our own merges.
    for (const st of r) {
      if (st.obj.kind === 'c' && !(await this.#matchesOriginals(st.obj, batches, problems))) return undefined
    }
    const parts: Buffer[] = []
    for (let i = 0; i < r.length; i += this.#c.readAhead) {
      const got = await Promise.all(r.slice(i, i + this.#c.readAhead).map((st) => catalog.fetch(st, false, this.#c.closeSignal).catch((err: unknown) => {
        if (!isSeglogError(err, 'ERR_CORRUPT')) throw err
        problems.set(st.obj.key, err)
        return null
      })))
      for (const sections of got) {
        // undefined: another compactor moved it (next run); null: a bad object (reported).
        if (sections === undefined || sections === null) return undefined
        for (const s of sections) parts.push(s.raw)
      }
    }
    const first = r[0].from
    const last = r[r.length - 1].to
    const key = keys.compacted(first, last)
    const data = Buffer.concat(parts)
    const written = await store.put(key, data, { mode: 'create', ...this.#signal }).then(() => true, (err: unknown) => {
      if (isSeglogError(err, 'ERR_CONFLICT')) return false
      throw err
    })
    if (!written) {
      // The key exists: another compactor wrote these bytes already, or it is something else,
      // which must not be counted as the merge (its originals stay; the sweep reports it).
      const there = await store.get(key, this.#signal)
      if (there === undefined || !there.data.equals(data)) {
        if (there !== undefined) {
          const obj = catalog.toObj(there.meta) as Obj
          problems.set(key, catalog.markBad(obj, new SeglogError('ERR_CORRUPT', `${key}: holds other bytes than the batches ${first}..${last} it names (a damaged or foreign object); it is not used`, { details: { file: key } })))
        }
        return undefined
      }
    }
    return { key, objects: r.length, bytes: data.length }
  }

  /**
   * Whether compacted object `c` holds exactly the bytes of the original batches of its range that
   * are still listed (true when none are). A mismatch or a damaged `c` is recorded as bad.
   */
  async #matchesOriginals(c: Obj, batches: Obj[], problems: Map<string, SeglogError>): Promise<boolean> {
    const inside = batches.filter((b) => c.first <= b.first && b.last <= c.last)
    if (inside.length === 0) return true
    const sections = await this.#checkedSections(c, new Map(), problems)
    if (sections === undefined) return false
    for (const b of inside) {
      const verdict = await this.#sameBytes(b, sections)
      if (verdict instanceof SeglogError) { problems.set(b.key, verdict); continue }
      if (verdict === 'different') {
        problems.set(c.key, this.#c.catalog.markBad(c, new SeglogError('ERR_CORRUPT',
          `${c.key}: holds other bytes for batch ${b.first} than ${b.key}, which it claims to cover; it is not used and nothing it covers is deleted. It is damaged or foreign (a compacted object made here holds its originals' exact bytes): delete it by hand`,
          { details: { file: c.key, other: b.key } })))
        return false
      }
    }
    return true
  }

  /** The store's clock now: the `lastModified` of an object written for the purpose. */
  async #storeNow(): Promise<number> {
    const { keys, store } = this.#c
    const key = keys.probe(`clock-${randomBytes(8).toString('hex')}`)
    // A lost reply is settled by the RetryStore (same bytes: ours). Its time is then older, which
    // only makes ages look younger.
    await store.put(key, Buffer.alloc(0), { mode: 'create', ...this.#signal })
    const meta = await store.head(key, this.#signal)
    await store.delete(key, this.#signal).catch(() => undefined)
    if (meta === undefined) throw new SeglogError('ERR_STORE', `${store.name}: the object ${key} just written is not there; the store is not consistent for read-after-write, which the journal needs`)
    return meta.lastModified.getTime()
  }

  /**
   * Deletes objects of `listing` that are covered by a compacted object (or a retention marker)
   * that has existed for at least `grace` ms: batches inside a compacted range, compacted objects
   * inside a larger one, anything wholly below the highest marker, and lower markers.
   *
   * Age is measured on the store's clock alone: `lastModified` of a reference object written now
   * minus `lastModified` of the covering object, which must reach grace plus the stores'
   * one-second timestamp resolution (S3 and Azure report whole seconds, so the two readings can
   * each be up to a second early: the true age then exceeds grace). No local clock enters, so
   * skew between this process and the store or the writers does not matter (see the writer's
   * trust window).
   *
   * Before deleting anything a compacted object covers, that object is read whole and checked
   * (every section's checksum; sequence numbers exactly those its key names) and the covered
   * object's bytes are compared with its sections: a damaged, foreign or misnamed object never
   * causes a deletion. Such objects are added to `problems`.
   */
  async #sweep(grace: number, problems: Map<string, SeglogError>, snap: JournalListing): Promise<string[]> {
    const { catalog } = this.#c
    const doomed: string[] = []
    for (const m of snap.markers) if (m.first < snap.marker) doomed.push(m.key)
    const compacted = snap.compacted.filter((c) => catalog.badError(c) === undefined)
    const below = (o: Obj): boolean => o.last < snap.marker
    const inside = (o: Obj, c: Obj): boolean => o !== c && c.first <= o.first && o.last <= c.last && (o.kind === 'b' || o.first !== c.first || o.last !== c.last)
    const candidates = [...snap.batches, ...snap.compacted].filter((o) => below(o) || compacted.some((c) => inside(o, c)))
    if (candidates.length > 0) {
      const ref = grace === 0 ? undefined : await this.#storeNow()
      const old = (o: Obj): boolean => ref === undefined || ref - o.modifiedMs >= grace + STORE_TIME_RESOLUTION_MS
      const newest = snap.markers.find((m) => m.first === snap.marker)
      const markerOld = newest !== undefined && old(newest)
      const checked = new Map<string, Map<number, Buffer> | undefined>()
      for (const o of candidates) {
        if (markerOld && below(o) && old(o)) { doomed.push(o.key); continue }
        // The covering object readers use first: the one reaching furthest.
        const covers = compacted.filter((c) => inside(o, c) && old(c)).sort((a, b) => b.last - a.last || a.first - b.first)
        for (const c of covers) {
          const sections = await this.#checkedSections(c, checked, problems)
          if (sections === undefined) continue
          const verdict = await this.#sameBytes(o, sections)
          if (verdict === 'same') doomed.push(o.key)
          else if (verdict instanceof SeglogError) problems.set(o.key, verdict) // kept: deleting damage is for a person to decide
          else if (verdict === 'different') {
            // An original batch is the journal's own record, so a compacted object that differs
            // from it is the suspect; of two compacted objects, the smaller one (the larger one
            // has just passed its checks).
            const suspect = o.kind === 'b' ? c : o
            const other = suspect === c ? o : c
            if (!problems.has(suspect.key)) {
              problems.set(suspect.key, new SeglogError('ERR_CORRUPT',
                `${suspect.key}: holds other bytes for batches ${o.first}..${o.last} than ${other.key}; neither is deleted. One of them is damaged or foreign (a compacted object made here holds its originals' exact bytes): compare them, and delete the wrong one by hand`,
                { details: { file: suspect.key, other: other.key } }))
            }
          }
          break
        }
      }
    }
    if (doomed.length > 0) {
      await this.#c.store.deleteMany(doomed, this.#signal)
      catalog.invalidate()
    }
    return doomed
  }

  /** The checked sections of compacted object `c` by sequence number (cached per sweep). */
  async #checkedSections(c: Obj, cache: Map<string, Map<number, Buffer> | undefined>, problems: Map<string, SeglogError>): Promise<Map<number, Buffer> | undefined> {
    if (cache.has(c.key)) return cache.get(c.key)
    let out: Map<number, Buffer> | undefined
    try {
      const got = await this.#c.catalog.fetchChecked(c, false, this.#c.closeSignal)
      if (got !== undefined) out = new Map(got.sections.map((s) => [s.seq, s.raw]))
    } catch (err) {
      if (!isSeglogError(err, 'ERR_CORRUPT')) throw err
      problems.set(c.key, this.#c.catalog.markBad(c, err))
    }
    cache.set(c.key, out)
    return out
  }

  /** Whether object `o` holds exactly the sections `c` holds for its range ('gone': deleted since). */
  async #sameBytes(o: Obj, sections: Map<number, Buffer>): Promise<'same' | 'different' | 'gone' | SeglogError> {
    const got = await this.#c.store.get(o.key, this.#signal)
    if (got === undefined) return 'gone'
    const parts: Buffer[] = []
    for (let s = o.first; s <= o.last; s++) {
      const raw = sections.get(s)
      if (raw === undefined) return 'different' // cannot happen for a checked c covering o
      parts.push(raw)
    }
    if (got.data.equals(Buffer.concat(parts))) return 'same'
    // Different: is the covered object itself damaged (then it, not the cover, is the suspect)?
    try {
      await this.#c.catalog.fetchChecked({ ...o, size: got.data.length }, false, this.#c.closeSignal)
    } catch (err) {
      if (isSeglogError(err, 'ERR_CORRUPT')) return this.#c.catalog.markBad(o, err)
      throw err
    }
    return 'different'
  }

  /** The `ERR_CORRUPT` that compaction and retention end with when they met bad objects. */
  #problemsError(what: string, problems: Map<string, SeglogError>, result: unknown): SeglogError {
    const keys = [...problems.keys()]
    const first = problems.get(keys[0]) as SeglogError
    return new SeglogError('ERR_CORRUPT',
      `journal ${this.#c.keys.prefix}: ${what} found ${keys.length} damaged, foreign or misnamed object(s), kept and not trusted (nothing they claim to cover was deleted): ${first.message}${keys.length > 1 ? ` (and ${keys.slice(1, 4).join(', ')}${keys.length > 4 ? ', …' : ''})` : ''}`,
      { cause: first, details: { file: keys[0], keys, result } })
  }
}
