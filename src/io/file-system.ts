/**
 * The file-I/O seam: every byte the local log reads or writes goes through these few calls, so
 * tests can record, drop, tear and fail writes (power loss, EIO, ENOSPC) without touching the
 * log's code. Reads and writes are synchronous (page-cache hits cost ~1 µs, while the libuv pool
 * costs 10–20 µs a call); only fsync is asynchronous, so appends keep arriving while it runs.
 */
import fs from 'node:fs'

/** An open file. Positions are absolute byte offsets. */
export interface FileHandle {
  readonly path: string
  /** Writes all of `buf[offset, offset + length)` at `position`; throws on any error. */
  write(buf: Uint8Array, offset: number, length: number, position: number): void
  /** Reads up to `length` bytes at `position`; returns how many were read (0 at end of file). */
  read(buf: Uint8Array, offset: number, length: number, position: number): number
  /** fdatasync: resolves once the written data is on stable storage. */
  datasync(): Promise<void>
  /** Current size in bytes. */
  size(): number
  truncate(size: number): void
  close(): void
}

/** How to open a file. */
export type OpenMode =
  /** Read only; the file must exist. */
  | 'read'
  /** Read and write; the file must exist. */
  | 'write'
  /** Read and write; created when missing. */
  | 'create'
  /** Read and write; fails with EEXIST when the file exists (atomic create). */
  | 'create-new'

/** File metadata the log needs. */
export interface FileStat {
  size: number
  mtimeMs: number
}

/** What kind of directory entry a name is, without following a symbolic link. */
export type EntryType = 'file' | 'directory' | 'symlink' | 'other'

/** Metadata of a directory entry itself ({@link FileSystem.lstat}). */
export interface EntryStat extends FileStat {
  type: EntryType
}

/** The directory-level calls. */
export interface FileSystem {
  open(path: string, mode: OpenMode): FileHandle
  /** Names (not paths) in `dir`. */
  readdir(dir: string): string[]
  mkdir(dir: string): void
  stat(path: string): FileStat | undefined
  /** Whole file, or undefined when it does not exist. */
  readFile(path: string): Buffer | undefined
  /** Writes `data` to `path` (replacing it), optionally fsyncing the file before returning. */
  writeFile(path: string, data: Uint8Array, sync: boolean): void
  rename(from: string, to: string): void
  unlink(path: string): void
  /**
   * Gives the existing file `from` the second name `to` (a hard link). Fails with `EEXIST` when
   * `to` exists, atomically: of several processes linking to one name, exactly one succeeds. The
   * writer lock is built on this.
   */
  link(from: string, to: string): void
  /** Metadata of the entry at `path` itself (a symbolic link is not followed), or undefined when there is none. */
  lstat(path: string): EntryStat | undefined
  /** fsync of the directory, so created, renamed and deleted entries survive power loss. */
  syncDir(dir: string): Promise<void>
  /**
   * Calls `onChange` when entries of `dir` change (best effort: events may be coalesced or
   * missing, so callers also poll). Optional: without it a read-only follower polls only.
   * The watch does not keep the process alive.
   */
  watch?(dir: string, onChange: () => void): DirectoryWatch | undefined
}

/** A directory watch from {@link FileSystem.watch}. */
export interface DirectoryWatch {
  close(): void
}

const OPEN_FLAGS: Record<OpenMode, string | number> = {
  read: 'r',
  write: 'r+',
  create: fs.constants.O_RDWR | fs.constants.O_CREAT,
  'create-new': 'wx+',
}

class NodeFileHandle implements FileHandle {
  constructor(readonly path: string, private readonly fd: number) {}

  write(buf: Uint8Array, offset: number, length: number, position: number): void {
    // writeSync may write less than asked (ENOSPC part-way, signals); loop until done or throw.
    while (length > 0) {
      const n = fs.writeSync(this.fd, buf, offset, length, position)
      offset += n
      position += n
      length -= n
    }
  }

  read(buf: Uint8Array, offset: number, length: number, position: number): number {
    let total = 0
    while (length > 0) {
      const n = fs.readSync(this.fd, buf, offset, length, position)
      if (n === 0) break
      total += n
      offset += n
      position += n
      length -= n
    }
    return total
  }

  datasync(): Promise<void> {
    return new Promise((resolve, reject) => {
      fs.fdatasync(this.fd, (err) => (err ? reject(err) : resolve()))
    })
  }

  size(): number {
    return fs.fstatSync(this.fd).size
  }

  truncate(size: number): void {
    fs.ftruncateSync(this.fd, size)
  }

  close(): void {
    fs.closeSync(this.fd)
  }
}

/** The real file system. */
export const nodeFileSystem: FileSystem = {
  open(path, mode) {
    return new NodeFileHandle(path, fs.openSync(path, OPEN_FLAGS[mode], 0o644))
  },
  readdir(dir) {
    return fs.readdirSync(dir)
  },
  mkdir(dir) {
    fs.mkdirSync(dir, { recursive: true })
  },
  stat(path) {
    try {
      const s = fs.statSync(path)
      return { size: s.size, mtimeMs: s.mtimeMs }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  },
  readFile(path) {
    try {
      return fs.readFileSync(path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  },
  writeFile(path, data, sync) {
    const fd = fs.openSync(path, 'w', 0o644)
    try {
      fs.writeSync(fd, data)
      if (sync) fs.fdatasyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
  },
  rename(from, to) {
    fs.renameSync(from, to)
  },
  unlink(path) {
    fs.unlinkSync(path)
  },
  link(from, to) {
    fs.linkSync(from, to)
  },
  lstat(path) {
    let s: fs.Stats
    try {
      s = fs.lstatSync(path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    const type = s.isFile() ? 'file' : s.isDirectory() ? 'directory' : s.isSymbolicLink() ? 'symlink' : 'other'
    return { type, size: s.size, mtimeMs: s.mtimeMs }
  },
  watch(dir, onChange) {
    try {
      const watcher = fs.watch(dir, { persistent: false }, () => onChange())
      watcher.on('error', () => undefined)
      return watcher
    } catch {
      // No change events here (some network file systems): the caller's poll alone will do.
      return undefined
    }
  },
  syncDir(dir) {
    return new Promise((resolve, reject) => {
      fs.open(dir, 'r', (err, fd) => {
        if (err) return reject(err)
        fs.fsync(fd, (syncErr) => {
          fs.close(fd, () => (syncErr ? reject(syncErr) : resolve()))
        })
      })
    })
  },
}
