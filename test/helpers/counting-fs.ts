/**
 * The node file system, counting what is read through file handles: `reads` (one `pread` each)
 * and `bytes`. Index and checkpoint files read whole (`readFile`) are not counted. For tests that
 * assert how much I/O a path makes, without timing.
 */
import { nodeFileSystem, type FileHandle, type FileSystem } from '../../src/io/file-system.js'

export type CountingFileSystem = FileSystem & { reads: number; bytes: number }

export function countingFs(): CountingFileSystem {
  const counter: CountingFileSystem = Object.assign(Object.create(nodeFileSystem) as FileSystem, {
    reads: 0,
    bytes: 0,
    open(file: string, mode: Parameters<FileSystem['open']>[1]): FileHandle {
      const inner = nodeFileSystem.open(file, mode)
      return {
        path: inner.path,
        write: (buf, offset, length, position) => inner.write(buf, offset, length, position),
        read: (buf, offset, length, position) => {
          counter.reads++
          const got = inner.read(buf, offset, length, position)
          counter.bytes += got
          return got
        },
        datasync: () => inner.datasync(),
        size: () => inner.size(),
        truncate: (size) => inner.truncate(size),
        close: () => inner.close(),
      }
    },
  })
  return counter
}
