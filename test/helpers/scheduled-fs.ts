// The real file system, except that every fdatasync and directory fsync completes when a
// scheduler says: for tests that explore orderings (fast-check's fc.scheduler), not power loss
// (power-loss-fs.ts does that), so no real fsync runs.
import path from 'node:path'
import { nodeFileSystem, type FileHandle, type FileSystem } from '../../src/io/file-system.js'

/** `step(label)` resolves when the scheduler lets that fdatasync or directory fsync complete. */
export function scheduledFileSystem(step: (label: string) => Promise<void>): FileSystem {
  const wrap = (inner: FileHandle): FileHandle => ({
    path: inner.path,
    write: (b, o, l, p) => inner.write(b, o, l, p),
    read: (b, o, l, p) => inner.read(b, o, l, p),
    datasync: () => step(`fdatasync ${path.basename(inner.path)}`),
    size: () => inner.size(),
    truncate: (n) => inner.truncate(n),
    close: () => inner.close(),
  })
  return {
    ...nodeFileSystem,
    open: (p, mode) => wrap(nodeFileSystem.open(p, mode)),
    writeFile: (p, data) => nodeFileSystem.writeFile(p, data, false),
    syncDir: () => step('syncDir'),
  }
}
