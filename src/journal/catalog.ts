/**
 * The journal's catalog: what objects exist under a prefix and what each one is. One listing of
 * `<prefix>/` yields batches, compacted objects and markers in key order (`b/` < `c/` < `r/`), so a
 * batch missing from it was deleted because a compacted object covering it existed before the
 * listing reached `c/` — the property every reader and compactor relies on.
 *
 * The public part ({@link listJournalObjects}, {@link JournalCatalog.list}) reads no object's
 * contents. The journal's own instance also keeps the cached snapshot of compacted objects and
 * markers, and the register of objects found damaged, foreign or misnamed.
 */
import { SeglogError, isSeglogError } from '../errors.js'
import type { ObjectMeta, ObjectStore } from '../objects/types.js'
import { elapsedSince, readInstant, type Instant, type JournalClock } from './clock.js'
import { decodeSections, type Section } from './codec.js'
import { JournalKeys, parseKey } from './keys.js'
import { firstUncovered, planReads, type JournalObject, type Step } from './plan.js'
import { validateJournalPrefix } from './prefix.js'

/**
 * What a journal object's key says it is:
 * - `batch`: one flushed batch (`P/b/<seq>`);
 * - `compacted`: batches `first..last` merged by compaction (`P/c/<first>-<last>`);
 * - `marker`: a retention marker, batches below `first` are deleted (`P/r/<seq>`);
 * - `probe`: a short-lived create-only probe (`P/p/<id>`);
 * - `misnamed`: under `b/`, `c/` or `r/` but not a key the journal writes (readers ignore it);
 * - `other`: anything else under the prefix (readers ignore it).
 */
export type JournalObjectKind = 'batch' | 'compacted' | 'marker' | 'probe' | 'misnamed' | 'other'

/** One object under a journal's prefix, as listed, with what its key claims. */
export interface JournalObjectInfo {
  /** The full key in the store. */
  key: string
  kind: JournalObjectKind
  /** First batch the key names (`batch`, `compacted`, `marker`); -1 otherwise. */
  first: number
  /** Last batch the key names (`batch`, `compacted`, `marker`); -1 otherwise. */
  last: number
  size: number
  lastModified: Date
}

/** Options of {@link listJournalObjects} and {@link JournalCatalog.list}. */
export interface JournalListOptions {
  /** Aborts the listing; the promise then rejects. */
  signal?: AbortSignal
}

/** One listing of a journal, split by kind (each list in key order, so in sequence order). */
export interface JournalListing {
  /** Every object under the prefix, as listed. */
  objects: JournalObjectInfo[]
  /** Batches `b/<seq>`. */
  batches: JournalObject[]
  /** Compacted objects `c/<first>-<last>`. */
  compacted: JournalObject[]
  /** Retention markers `r/<seq>`. */
  markers: JournalObject[]
  /** The highest marker's sequence number: batches below it are retained away (0: none). */
  marker: number
}

const KIND = { b: 'batch', c: 'compacted', r: 'marker' } as const

function keysFor(store: ObjectStore, prefix: string): JournalKeys {
  const storePrefix = (store as { prefix?: unknown }).prefix
  return new JournalKeys(validateJournalPrefix(prefix, typeof storePrefix === 'string' ? storePrefix : ''))
}

async function listAll(store: ObjectStore, keys: JournalKeys, signal: AbortSignal | undefined): Promise<JournalListing> {
  const listPrefix = keys.prefix === '' ? '' : `${keys.prefix}/`
  const out: JournalListing = { objects: [], batches: [], compacted: [], markers: [], marker: 0 }
  for await (const m of store.list(listPrefix, signal === undefined ? {} : { signal })) {
    const rel = keys.rel(m.key)
    const p = parseKey(rel)
    const kind: JournalObjectKind = p !== undefined ? KIND[p.kind]
      : rel.startsWith('p/') ? 'probe'
        : /^[bcr]\//.test(rel) ? 'misnamed' : 'other'
    out.objects.push({ key: m.key, kind, first: p?.first ?? -1, last: p?.last ?? -1, size: m.size, lastModified: m.lastModified })
    if (p === undefined) continue
    const o: JournalObject = { key: m.key, kind: p.kind, first: p.first, last: p.last, size: m.size, modifiedMs: m.lastModified.getTime() }
    if (p.kind === 'b') out.batches.push(o)
    else if (p.kind === 'c') out.compacted.push(o)
    else { out.markers.push(o); out.marker = Math.max(out.marker, p.first) }
  }
  return out
}

/**
 * Lists every object under a journal's prefix, in key order (so batches in sequence order).
 * Validates the prefix as `Journal.open` does.
 */
export async function listJournalObjects(store: ObjectStore, prefix: string, options: JournalListOptions = {}): Promise<JournalObjectInfo[]> {
  return (await listAll(store, keysFor(store, prefix), options.signal)).objects
}

/** A listing of compacted objects and markers, and when it started (both local clocks). */
export interface Snapshot { compacted: JournalObject[]; markers: JournalObject[]; marker: number; takenAt: Instant }

/** An object found damaged, foreign or misnamed: kept, never trusted, reported. */
interface BadObject { size: number; modifiedMs: number; error: SeglogError }

/**
 * The public catalog: one listing of a journal, split by kind. Used by `Journal.verify`,
 * `Journal.listObjects` and the CLI; the journal's own handles keep a {@link Catalog}.
 */
export class JournalCatalog {
  private constructor() { /* static only */ }

  /**
   * Lists a journal once and splits the listing by kind. Read-only; reads no object's contents.
   * Validates the prefix as `Journal.open` does.
   */
  static async list(store: ObjectStore, prefix: string, options: JournalListOptions = {}): Promise<JournalListing> {
    return listAll(store, keysFor(store, prefix), options.signal)
  }
}

/**
 * One journal handle's catalog: listings through its store, the snapshot cache of compacted
 * objects and markers, checked reads, and the register of objects found damaged, foreign or
 * misnamed, shared by the writer, reader and compactor of that handle. Internal.
 */
export class Catalog {
  readonly #store: ObjectStore
  readonly #keys: JournalKeys
  readonly #clock: JournalClock
  readonly #graceMs: number
  #snapshot: Snapshot | undefined
  /** Objects found damaged, foreign or misnamed, by key (while their size and time are unchanged). */
  readonly #bad = new Map<string, BadObject>()

  constructor(store: ObjectStore, keys: JournalKeys, clock: JournalClock, graceMs: number) {
    this.#store = store
    this.#keys = keys
    this.#clock = clock
    this.#graceMs = graceMs
  }

  /** One listing of the whole journal (a compaction run's only one). */
  listing(signal?: AbortSignal): Promise<JournalListing> {
    return listAll(this.#store, this.#keys, signal)
  }

  /** Objects of one kind, after `startAfter` when given. */
  async listDir(kind: 'b' | 'c' | 'r', startAfter?: string, signal?: AbortSignal): Promise<JournalObject[]> {
    const out: JournalObject[] = []
    const options = { ...(startAfter === undefined ? {} : { startAfter }), ...(signal === undefined ? {} : { signal }) }
    for await (const m of this.#store.list(this.#keys.dir(kind), options)) {
      const o = this.toObj(m)
      if (o !== undefined && o.kind === kind) out.push(o)
    }
    return out
  }

  /** What a listed key names, or undefined for a key the journal does not write. */
  toObj(m: ObjectMeta): JournalObject | undefined {
    const p = parseKey(this.#keys.rel(m.key))
    if (p === undefined) return undefined
    return { key: m.key, kind: p.kind, first: p.first, last: p.last, size: m.size, modifiedMs: m.lastModified.getTime() }
  }

  /**
   * Compacted objects and retention markers (not batches), cached for a quarter of the
   * grace period: within it no object they would reveal can have had its originals deleted.
   */
  async snapshot(fresh: boolean, signal?: AbortSignal): Promise<Snapshot> {
    const now = readInstant(this.#clock)
    if (!fresh && this.#snapshot !== undefined && elapsedSince(this.#clock, this.#snapshot.takenAt) < this.#graceMs / 4) return this.#snapshot
    const compacted = await this.listDir('c', undefined, signal)
    const markers = await this.listDir('r', undefined, signal)
    const marker = markers.reduce((m, o) => Math.max(m, o.first), 0)
    this.#snapshot = { compacted, markers, marker, takenAt: now }
    return this.#snapshot
  }

  /** Forgets the cached snapshot (after this handle changed compacted objects or markers). */
  invalidate(): void { this.#snapshot = undefined }

  /** The highest sequence number any object (or the newest marker) takes, at least `from`. */
  async highestTaken(from: number, fresh: boolean): Promise<{ max: number; snap: Snapshot }> {
    const snap = await this.snapshot(fresh)
    let max = Math.max(from, snap.marker - 1)
    for (const c of snap.compacted) max = Math.max(max, c.last)
    const startAfter = max >= 0 ? this.#keys.batch(max) : undefined
    for (const o of await this.listDir('b', startAfter)) max = Math.max(max, o.last)
    return { max, snap }
  }

  // ---- damaged, foreign and misnamed objects ----

  /** The error recorded for `o` when it was found bad and has not changed since. */
  badError(o: JournalObject): SeglogError | undefined {
    const b = this.#bad.get(o.key)
    if (b === undefined) return undefined
    if (b.size === o.size && b.modifiedMs === o.modifiedMs) return b.error
    this.#bad.delete(o.key) // replaced since: judge it again
    return undefined
  }

  /** Records `o` as bad; returns the error naming it. */
  markBad(o: JournalObject, error: SeglogError): SeglogError {
    const e = error.details.file === o.key ? error : new SeglogError('ERR_CORRUPT', `${o.key}: ${error.message}`, { cause: error, details: { ...error.details, file: o.key } })
    this.#bad.set(o.key, { size: o.size, modifiedMs: o.modifiedMs, error: e })
    return e
  }

  /**
   * Plans a read from `from` without the objects known to be bad. Throws the bad
   * object's `ERR_CORRUPT` when some sequence number it claims is held by no other object: those
   * events may exist only there, so reading on would silently skip them.
   */
  planChecked(batches: JournalObject[], compacted: JournalObject[], from: number, marker: number): Step[] {
    const good = (o: JournalObject): boolean => this.badError(o) === undefined
    const steps = planReads(batches.filter(good), compacted.filter(good), from, marker)
    for (const o of [...compacted, ...batches]) {
      const error = this.badError(o)
      if (error === undefined) continue
      const gap = firstUncovered(steps, o.first, o.last, Math.max(from, marker))
      if (gap !== undefined) {
        throw new SeglogError('ERR_CORRUPT',
          `${error.message}; no other object holds batch ${gap}, so the journal cannot be read past it. Restore ${o.key} from a copy, or delete it by hand (reads then skip what only it held)`,
          { cause: error, details: { ...error.details, file: o.key, seq: gap } })
      }
    }
    return steps
  }

  /**
   * Reads an object whole and checks it: every section's checksum, and sequence numbers
   * that are exactly the ones its key names, in order. `ERR_CORRUPT` names the key; undefined when gone.
   */
  async fetchChecked(obj: JournalObject, decodeValues: boolean, signal?: AbortSignal): Promise<{ sections: Section[]; data: Buffer } | undefined> {
    const got = await this.#store.get(obj.key, signal === undefined ? {} : { signal })
    if (got === undefined) return undefined
    const sections = decodeSections(got.data, obj.key, decodeValues)
    const expected = obj.last - obj.first + 1
    if (sections.length !== expected || sections.some((s, k) => s.seq !== obj.first + k)) {
      const held = sections.length === 0 ? 'nothing' : `${sections.length} batch(es) ${sections[0].seq}..${sections[sections.length - 1].seq}${sections.some((s, k) => k > 0 && s.seq !== sections[k - 1].seq + 1) ? ' (not contiguous)' : ''}`
      throw new SeglogError('ERR_CORRUPT',
        `${obj.key}: holds ${held} but its key names batches ${obj.first}..${obj.last} (a misnamed or foreign object); it is not used`,
        { details: { file: obj.key } })
    }
    return { sections, data: got.data }
  }

  /** Reads one step's sections, recording the object as bad when its check fails. */
  async fetch(step: Step, decodeValues: boolean, signal?: AbortSignal): Promise<Section[] | undefined> {
    let got: { sections: Section[] } | undefined
    try {
      got = await this.fetchChecked(step.obj, decodeValues, signal)
    } catch (err) {
      if (isSeglogError(err, 'ERR_CORRUPT')) throw this.markBad(step.obj, err)
      throw err
    }
    return got?.sections.slice(step.from - step.obj.first, step.to - step.obj.first + 1)
  }

  /**
   * The bytes of batch `seq` in the compacted object readers use for it (the sound one
   * reaching furthest), or undefined when no sound compacted object covers it.
   */
  async compactedSection(seq: number, snap: Snapshot): Promise<Buffer | undefined> {
    const covering = snap.compacted
      .filter((c) => c.first <= seq && seq <= c.last && this.badError(c) === undefined)
      .sort((a, b) => b.last - a.last || a.first - b.first)
    for (const c of covering) {
      try {
        const got = await this.fetchChecked(c, false)
        if (got !== undefined) return got.sections[seq - c.first].raw
      } catch (err) {
        if (!isSeglogError(err, 'ERR_CORRUPT')) throw err
        this.markBad(c, err) // readers skip it too, so it hides nothing
      }
    }
    return undefined
  }
}
