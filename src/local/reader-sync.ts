/**
 * Keeps a log handle's in-memory state in step with truncates (see truncations.ts): the truncate
 * generation this handle's state reflects, and for a read-only handle the reload of the
 * directory after the writer (another process) truncated, once its truncate is done.
 */
import { SeglogError } from '../errors.js'
import type { FileSystem } from '../io/file-system.js'
import { lockHolder } from './lock.js'
import type { ResolvedOptions } from './options.js'
import { recover, type RecoveredLog } from './recovery.js'
import { closeSegmentQuietly } from './segment-set.js'
import { endTruncate, NO_TRUNCATIONS, readTruncations, type Truncations, writeTruncations } from './truncations.js'

/** What the reader sync needs of its log. */
export interface ReaderSyncHost {
  readonly fsys: FileSystem
  readonly dir: string
  readonly options: ResolvedOptions
  isOpen(): boolean
  /** Takes a fresh recovery's segments and end in place of the handle's own. */
  install(recovered: RecoveredLog): void
}

export class ReaderSync {
  /** The truncate generation this handle's state reflects. */
  truncations: Truncations = NO_TRUNCATIONS
  private reloading: Promise<void> | undefined

  constructor(private readonly host: ReaderSyncHost) {}

  /** Read-only open: the generation on disk (damaged or mid-truncate: an impossible one, so the first read reloads and waits). */
  startReadOnly(): void {
    const disk = readTruncations(this.host.fsys, this.host.dir)
    this.truncations = disk === 'damaged' ? { generation: -1, cuts: [] } : disk
  }

  /**
   * Writable open: the generation on disk, made even and readable (a crash mid-truncate leaves it
   * odd; recovery finished the cut). `listed` false: the file is not in the directory.
   */
  async startWritable(listed = true): Promise<void> {
    const { fsys, dir } = this.host
    // Not in the listing recovery took under the lock: nothing else creates it, so no read is needed.
    const disk = listed ? readTruncations(fsys, dir) : NO_TRUNCATIONS
    if (disk === 'damaged') {
      // The remembered cuts are lost: a fresh generation no reader holds makes every reader reload,
      // and lowestCutSince() answers 0 (fail) for cursors that cannot be checked.
      this.truncations = { generation: 2 * (1 + Math.floor(Math.random() * 2 ** 30)), cuts: [] }
      await writeTruncations(fsys, dir, this.truncations)
    } else if (disk.generation % 2 === 1) {
      this.truncations = endTruncate(disk)
      await writeTruncations(fsys, dir, this.truncations)
    } else {
      this.truncations = disk
    }
  }

  /** Read-only: true when the writer's truncate generation differs from `generation` (or is unreadable). */
  changedSince(generation: number): boolean {
    if (!this.host.options.readOnly) return false
    const disk = readTruncations(this.host.fsys, this.host.dir)
    return disk === 'damaged' || disk.generation !== generation
  }

  /** Read-only: a reload in progress or needed now (the writer truncated); undefined when the state is current. */
  settle(): Promise<void> | undefined {
    if (!this.host.options.readOnly || !this.host.isOpen()) return undefined
    if (this.reloading) return this.reloading
    const disk = readTruncations(this.host.fsys, this.host.dir)
    if (disk !== 'damaged' && disk.generation === this.truncations.generation && disk.generation % 2 === 0) return undefined
    this.reloading = this.reload().finally(() => {
      this.reloading = undefined
    })
    return this.reloading
  }

  /**
   * Read-only: reads the directory again after the writer truncated, once its truncate is done
   * (an odd generation means it is still changing files). A writer that died mid-truncate leaves
   * the generation odd: that is reported rather than waited on forever.
   */
  private async reload(): Promise<void> {
    const { fsys, dir, options } = this.host
    for (;;) {
      const disk = readTruncations(fsys, dir)
      if (disk === 'damaged' || disk.generation % 2 === 1) {
        const holder = lockHolder(dir)
        if (!holder?.alive) {
          throw new SeglogError('ERR_IO', `a truncate of the log in ${dir} was interrupted (its writer is gone), so its files may be half-changed; ` +
            'open the log for writing once (that completes the truncate), then read again', { details: { file: dir } })
        }
        // The writer's truncate takes a few fsyncs; there is no event to wait on across processes.
        await new Promise<void>((resolve) => setTimeout(resolve, options.followPollMs))
        continue
      }
      if (!this.host.isOpen()) return
      const recovered = await recover(fsys, dir, options)
      if (this.changedSince(disk.generation) || !this.host.isOpen()) {
        for (const s of recovered.segments) closeSegmentQuietly(s)
        if (!this.host.isOpen()) return
        continue
      }
      this.host.install(recovered)
      this.truncations = disk
      return
    }
  }
}
