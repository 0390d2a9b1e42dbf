/**
 * The descriptors of a log's open cursors. A cursor dropped without `return()` would otherwise
 * keep its descriptor until the process exits: the log closes every registered one when it
 * closes, and a finalizer closes a dropped cursor's descriptor once the cursor is collected.
 */
import type { FileHandle } from '../io/file-system.js'

/** One cursor's open segment file (at most one at a time). */
export class CursorFile {
  handle: FileHandle | undefined

  /** Closes the descriptor, if one is open; idempotent. */
  close(): void {
    const handle = this.handle
    this.handle = undefined
    if (!handle) return
    try {
      handle.close()
    } catch {
      // Already closed underneath us: the descriptor is gone either way.
    }
  }
}

export class CursorRegistry {
  private readonly files = new Set<CursorFile>()
  private readonly finalizer = new FinalizationRegistry<CursorFile>((file) => {
    file.close()
    this.files.delete(file)
  })

  /** Tracks `file`, owned by `owner`, until {@link remove} or {@link closeAll}. */
  add(owner: object, file: CursorFile): void {
    this.files.add(file)
    this.finalizer.register(owner, file, file)
  }

  remove(file: CursorFile): void {
    this.files.delete(file)
    this.finalizer.unregister(file)
  }

  /** Closes every tracked descriptor (the log is closing). */
  closeAll(): void {
    for (const file of this.files) {
      file.close()
      this.finalizer.unregister(file)
    }
    this.files.clear()
  }

  /** Cursors whose descriptors are tracked (for tests and diagnostics). */
  get size(): number {
    return this.files.size
  }
}
