import { nodeFileSystem, type FileHandle, type FileSystem } from '../../src/testing/index.js'

/** Which call fails, and with which errno code. */
export interface Faults {
  /** Fail the nth datasync (1-based) and every one after it; the lock's temp file is not counted. */
  datasyncFailsFrom?: number
  /** Fail the nth segment write (1-based) and every one after it. */
  writeFailsFrom?: number
  code?: string
  /** Called before each handle open; throw to fail it. */
  onOpen?: (path: string, mode: string) => void
}

function errnoError(code: string, syscall: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: injected fault, ${syscall}`)
  err.code = code
  err.syscall = syscall
  return err
}

/** The real file system with injected failures, counting calls across all handles. */
export function faultyFileSystem(faults: Faults): FileSystem & { datasyncs: number; writes: number } {
  const state = { datasyncs: 0, writes: 0 }
  const code = faults.code ?? 'EIO'
  const wrap = (inner: FileHandle): FileHandle => ({
    path: inner.path,
    write(buf, offset, length, position) {
      if (inner.path.endsWith('.log')) {
        state.writes++
        if (faults.writeFailsFrom !== undefined && state.writes >= faults.writeFailsFrom) throw errnoError(code, 'write')
      }
      inner.write(buf, offset, length, position)
    },
    read: (buf, offset, length, position) => inner.read(buf, offset, length, position),
    async datasync() {
      // The lock's temp file (fdatasynced through a handle while Log.open looks ahead) is not the log's data: not counted.
      if (/^LOCK\./.test(inner.path.slice(inner.path.lastIndexOf('/') + 1))) return inner.datasync()
      state.datasyncs++
      if (faults.datasyncFailsFrom !== undefined && state.datasyncs >= faults.datasyncFailsFrom) throw errnoError(code, 'fdatasync')
      await inner.datasync()
    },
    size: () => inner.size(),
    truncate: (size) => inner.truncate(size),
    close: () => inner.close(),
  })
  const fsys: FileSystem = {
    ...nodeFileSystem,
    open(path, mode) {
      faults.onOpen?.(path, mode)
      return wrap(nodeFileSystem.open(path, mode))
    },
  }
  return Object.assign(fsys, {
    get datasyncs() { return state.datasyncs },
    get writes() { return state.writes },
  })
}
