/**
 * Tiered logs for the read-only commands (`info`, `cat`, `tail`, `verify`): what a store URL
 * holds, and a view that reads a tiered log's offsets from its local directory and, below the
 * local first offset, from the store. Built on the public API only (`Log.open` read-only and
 * `Log.openRemote`), so the CLI never uploads, deletes or changes anything.
 */
import { Log, SeglogError, type LogRecord, type RemoteLog } from '../index.js'
import { CliError, ExitCode, usage } from './errors.js'
import type { JournalTarget, LocalTarget } from './target.js'

/**
 * The folder of a tiered log's segment objects under its prefix, and the journal's folders
 * (docs/FORMAT.md: "Remote layout (tiered storage)" and the journal's key layout).
 */
const TIER_FOLDER = 'segments/'
const JOURNAL_FOLDERS = ['b/', 'c/', 'r/']

/** What lives under a store URL's prefix. */
export type StoreContent = 'tiered' | 'journal' | 'empty'

/** `<prefix>/`, or '' for the store's root. */
export function listPrefix(target: JournalTarget): string {
  return target.prefix === '' ? '' : `${target.prefix}/`
}

/** The prefix as a message shows it. */
export function prefixName(target: JournalTarget): string {
  return target.prefix === '' ? `the root of ${target.display}` : `prefix ${target.prefix}/ of ${target.display}`
}

/**
 * Lists the prefix once, stopping at the first key that tells a tiered log (`segments/…`) from a
 * journal (`b/`, `c/`, `r/`…); foreign keys are passed over. Keys come in order and the journal's
 * folders sort before `segments/`, so a journal is told after its first key.
 */
export async function detectStoreContent(target: JournalTarget, signal?: AbortSignal): Promise<StoreContent> {
  const base = listPrefix(target)
  for await (const meta of target.store.list(base, { pageSize: 100, ...(signal === undefined ? {} : { signal }) })) {
    const rel = meta.key.slice(base.length)
    if (rel.startsWith(TIER_FOLDER)) return 'tiered'
    if (JOURNAL_FOLDERS.some((f) => rel.startsWith(f))) return 'journal'
  }
  return 'empty'
}

/** For the reading commands: a prefix holding neither is a usage error naming it. */
export async function requireStoreContent(target: JournalTarget, signal?: AbortSignal): Promise<'tiered' | 'journal'> {
  const content = await detectStoreContent(target, signal)
  if (content !== 'empty') return content
  throw usage(`${prefixName(target)} holds neither a tiered log (no ${TIER_FOLDER} objects) nor a journal (no b/, c/ or r/ objects)`,
    'check the bucket or container, the prefix and --endpoint; a journal appears after `seglog append URL`, a tiered log once its first segment is shipped')
}

/** For the writing commands: a prefix that holds a tiered log is not a journal to write to. */
export async function refuseTieredStore(target: JournalTarget, command: string): Promise<void> {
  if (await detectStoreContent(target) === 'tiered') {
    throw usage(`${prefixName(target)} holds a tiered log (${TIER_FOLDER} objects), not a journal; \`seglog ${command}\` would mix journal objects into it`,
      'a tiered log is written through its local directory (Log.open(dir, { tier })); give a journal URL or another prefix')
  }
}

/** Offsets `[from, to)`. */
export interface OffsetRange {
  from: number
  to: number
}

/** Options of {@link TieredView.batches}. */
export interface TieredReadOptions {
  from?: number
  to?: number
  follow?: boolean
  signal?: AbortSignal
}

/** Records per array when reading from the store (the local log's blocks set their own). */
const REMOTE_GROUP = 256

/**
 * A tiered log opened for reading only: its local directory read-only (when there is one) and
 * the store through `Log.openRemote`. Offsets below the local first offset come from the store.
 */
export class TieredView {
  private constructor(
    /** The local directory, read-only; undefined for a store URL alone. */
    readonly local: Log | undefined,
    readonly remote: RemoteLog,
    readonly store: JournalTarget,
    readonly localDisplay: string | undefined,
  ) {}

  /**
   * Opens the directory first, then lists the store. A running writer deletes a local segment
   * only once the store has confirmed it, so a listing taken after the directory was opened
   * reaches at least the local first offset seen: no offset falls between the two.
   */
  static async open(store: JournalTarget, local?: LocalTarget, options: { pollMs?: number } = {}): Promise<TieredView> {
    const log = local === undefined ? undefined : await Log.open(local.dir, { readOnly: true })
    try {
      const remote = await Log.openRemote(store.store, store.prefix, options.pollMs === undefined ? {} : { pollMs: options.pollMs })
      return new TieredView(log, remote, store, local?.display)
    } catch (err) {
      await log?.close().catch(() => undefined)
      throw err
    }
  }

  /** Whether the store holds any shipped segment (as of the last listing). */
  get shipped(): boolean {
    return this.remote.segments.length > 0
  }

  /** The first offset on the local disk; for a store alone, the store's end. */
  get localFirstOffset(): number {
    return this.local?.firstOffset ?? this.remote.nextOffset
  }

  /** The whole log's first offset, the store's included. */
  get firstOffset(): number {
    return this.shipped ? Math.min(this.remote.firstOffset, this.localFirstOffset) : this.localFirstOffset
  }

  /** The offset after the last record: the local log's end, or the store's for a store alone. */
  get nextOffset(): number {
    return this.local?.nextOffset ?? this.remote.nextOffset
  }

  /**
   * Offsets held neither in the store nor on the disk: the store ends before the directory's
   * first offset (a wrong URL or prefix, or a store emptied behind the log's back).
   */
  get missing(): OffsetRange | undefined {
    if (this.local === undefined || !this.shipped || this.remote.nextOffset >= this.localFirstOffset) return undefined
    return { from: this.remote.nextOffset, to: this.localFirstOffset }
  }

  /** Where the records are, for messages: the store URL, and the directory when there is one. */
  get where(): string {
    return this.localDisplay === undefined ? this.store.display : `${this.localDisplay} (tier ${this.store.display})`
  }

  /**
   * Records in offset order, in arrays: from the store below the local first offset, then from
   * the local directory (which `follow` keeps reading); for a store alone, `follow` polls it.
   */
  async *batches(options: TieredReadOptions = {}): AsyncGenerator<LogRecord[]> {
    const to = options.to ?? Number.POSITIVE_INFINITY
    let p = Math.max(options.from ?? this.firstOffset, this.firstOffset)
    if (this.local === undefined) {
      yield* this.remoteBatches(p, to, options.follow === true, options.signal)
      return
    }
    const localFirst = this.localFirstOffset
    if (p < localFirst && p < to) {
      const stop = Math.min(to, localFirst)
      if (this.shipped) {
        for await (const group of this.remoteBatches(p, stop, false, options.signal)) {
          yield group
          p = (group.at(-1)?.offset ?? p - 1) + 1
        }
      }
      if (options.signal?.aborted === true) return
      if (p < stop) throw this.missingError({ from: p, to: stop })
    }
    if (p >= to) return
    p = Math.max(p, localFirst)
    const local = this.local.iterateBatches({
      from: p,
      ...(options.to === undefined ? {} : { to: options.to }),
      ...(options.follow === true ? { follow: true } : {}),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    })
    for await (const batch of local) {
      const head = batch[0]
      if (head !== undefined && head.offset > p) {
        // A local iterator moves past segments deleted under it. A running writer's local
        // retention deletes only segments the store has confirmed, so those offsets are there:
        // read them from the store rather than skip them.
        await this.remote.refresh(options.signal)
        let q = p
        for await (const group of this.remoteBatches(p, head.offset, false, options.signal)) {
          yield group
          q = (group.at(-1)?.offset ?? q - 1) + 1
        }
        if (options.signal?.aborted === true) return
        if (q < head.offset) throw this.missingError({ from: q, to: head.offset })
      }
      yield batch
      p = (batch.at(-1)?.offset ?? p - 1) + 1
    }
  }

  /**
   * The store's records grouped into arrays; a group also ends where the last listing ends, so a
   * follower prints what it has before it waits for the next poll.
   */
  private async *remoteBatches(from: number, to: number, follow: boolean, signal: AbortSignal | undefined): AsyncGenerator<LogRecord[]> {
    let group: LogRecord[] = []
    try {
      for await (const r of this.remote.iterate({ from, ...(Number.isFinite(to) ? { to } : {}), follow, ...(signal === undefined ? {} : { signal }) })) {
        group.push(r)
        if (group.length >= REMOTE_GROUP || r.offset + 1 >= this.remote.nextOffset) {
          yield group
          group = []
        }
      }
    } catch (err) {
      // The records read before the damage are intact: hand them out, then the error.
      if (group.length > 0) yield group
      throw remoteFault(err, this.store)
    }
    if (group.length > 0) yield group
  }

  /** Offsets in neither place: a data fault naming both. */
  missingError(range: OffsetRange): CliError {
    return new CliError(ExitCode.DataFault,
      `offsets ${range.from}…${range.to - 1} are neither in the store (${prefixName(this.store)} ends at ${this.remote.nextOffset}) nor in ${this.localDisplay ?? 'the directory'} (it starts at ${this.localFirstOffset})`,
      'check that --tier names the store and prefix this log ships to')
  }

  async close(): Promise<void> {
    await this.remote.close()
    await this.local?.close()
  }
}

/** Damage in the store: a data fault whose hint fits objects (never repaired in place). */
function remoteFault(err: unknown, store: JournalTarget): unknown {
  if (!(err instanceof SeglogError) || err.code !== 'ERR_CORRUPT') return err
  return new CliError(ExitCode.DataFault, err.message,
    `run \`seglog verify ${store.display}\` for every fault; objects in the store are never repaired in place: restore the damaged object from a copy`)
}

/** The new first offset when `err` says remote retention deleted what an iterator was about to read. */
export function deletedUnderReader(err: unknown): number | undefined {
  if (!(err instanceof SeglogError) || err.code !== 'ERR_OFFSET_OUT_OF_RANGE') return undefined
  const first = err.details.firstOffset
  return typeof first === 'number' ? first : undefined
}

/**
 * Data objects under `segments/` without a seal: uploads in progress or interrupted (the writer
 * completes them on its next open), or leftovers of an interrupted retention pass.
 */
export async function unsealedObjects(view: TieredView, signal?: AbortSignal): Promise<string[]> {
  const sealed = new Set(view.remote.segments.map((s) => s.dataKey))
  const out: string[] = []
  for await (const meta of view.store.store.list(`${listPrefix(view.store)}${TIER_FOLDER}`, signal === undefined ? {} : { signal })) {
    if (meta.key.endsWith('.log') && !sealed.has(meta.key)) out.push(meta.key)
  }
  return out
}
