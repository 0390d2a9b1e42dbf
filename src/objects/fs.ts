import { randomBytes } from 'node:crypto'
import { promises as fsp, type Dirent } from 'node:fs'
import * as path from 'node:path'
import { SeglogError } from '../errors.js'
import { conflictError, storeError } from './errors.js'
import { validateKey, validateListPrefix } from './keys.js'
import { compareKeys } from './memory.js'
import type { GetOptions, GetResult, ListOptions, ObjectMeta, ObjectStore, PutOptions, PutResult } from './types.js'

/** Name of the folder (under the root) that holds files being written. Never listed. */
export const FS_TMP_DIR = '.seglog-tmp'

/** Options for {@link FsStore}. */
export interface FsStoreOptions {
  /** The folder that holds the objects; created when missing. */
  root: string
  /** fsync files and folders so a put survives power loss (default true). */
  fsync?: boolean
}

/**
 * An {@link ObjectStore} on a local folder: key `a/b/c` is the file `<root>/a/b/c`.
 *
 * Every put writes a temporary file under `<root>/.seglog-tmp/`, fsyncs it, then publishes it
 * whole: create-only by `link()` (atomic; fails when the name exists, also between processes and
 * on NFS), overwrite by `rename()`. A reader never sees a partial object. `{ ifMatch }` is checked
 * under an in-process lock only: it is not atomic between processes.
 * A key cannot be both an object and a "folder" of other keys here (S3 allows it).
 */
export class FsStore implements ObjectStore {
  readonly name: string
  readonly enforcesCreateOnly = true
  readonly root: string
  readonly #fsync: boolean
  readonly #tmp: string
  readonly #locks = new Map<string, Promise<void>>()

  constructor(options: FsStoreOptions) {
    if (typeof options?.root !== 'string' || options.root === '') throw new SeglogError('ERR_INVALID_ARGUMENT', 'FsStore needs { root: "<folder>" }')
    this.root = path.resolve(options.root)
    this.name = `file://${this.root}`
    this.#fsync = options.fsync ?? true
    this.#tmp = path.join(this.root, FS_TMP_DIR)
  }

  #path(key: string): string {
    validateKey(key)
    if (key === FS_TMP_DIR || key.startsWith(`${FS_TMP_DIR}/`)) {
      throw new SeglogError('ERR_INVALID_ARGUMENT', `invalid object key ${JSON.stringify(key)}: ${FS_TMP_DIR} is reserved by FsStore`)
    }
    return path.join(this.root, ...key.split('/'))
  }

  #fail(op: string, key: string, err: unknown): SeglogError {
    const code = (err as NodeJS.ErrnoException).code
    const transient = code === 'EMFILE' || code === 'ENFILE' || code === 'EAGAIN' || code === 'EBUSY'
    return storeError(this.name, op, key, err, transient)
  }

  async #syncDir(dir: string): Promise<void> {
    if (!this.#fsync) return
    const h = await fsp.open(dir, 'r')
    try { await h.sync() } finally { await h.close() }
  }

  async #writeTemp(data: Uint8Array): Promise<string> {
    await fsp.mkdir(this.#tmp, { recursive: true })
    const tmp = path.join(this.#tmp, `${process.pid}-${randomBytes(8).toString('hex')}`)
    const h = await fsp.open(tmp, 'wx')
    try {
      await h.writeFile(data)
      if (this.#fsync) await h.sync()
    } finally {
      await h.close()
    }
    return tmp
  }

  async #version(file: string): Promise<{ version: string; size: number; mtime: Date } | undefined> {
    try {
      const st = await fsp.stat(file, { bigint: true })
      if (!st.isFile()) return undefined
      return { version: `${st.ino.toString(16)}-${st.mtimeNs.toString(16)}`, size: Number(st.size), mtime: st.mtime }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined
      throw err
    }
  }

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    const file = this.#path(key)
    const mode = options.mode ?? 'overwrite'
    let tmp: string | undefined
    try {
      tmp = await this.#writeTemp(data)
      await fsp.mkdir(path.dirname(file), { recursive: true })
      if (mode === 'create') {
        try {
          await fsp.link(tmp, file)
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw conflictError(this.name, key)
          throw err
        }
      } else if (mode === 'overwrite') {
        await fsp.rename(tmp, file)
        tmp = undefined
      } else {
        await this.#locked(key, async () => {
          const cur = await this.#version(file)
          if (cur === undefined || cur.version !== mode.ifMatch) throw conflictError(this.name, key)
          await fsp.rename(tmp as string, file)
          tmp = undefined
        })
      }
      await this.#syncDir(path.dirname(file))
      const v = await this.#version(file)
      return { version: v?.version }
    } catch (err) {
      if (err instanceof SeglogError) throw err
      throw this.#fail('put', key, err)
    } finally {
      if (tmp !== undefined) await fsp.unlink(tmp).catch(() => undefined)
    }
  }

  async #locked(key: string, fn: () => Promise<void>): Promise<void> {
    const prev = this.#locks.get(key) ?? Promise.resolve()
    const run = prev.then(fn, fn)
    const tail = run.catch(() => undefined)
    this.#locks.set(key, tail)
    try { await run } finally { if (this.#locks.get(key) === tail) this.#locks.delete(key) }
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult | undefined> {
    const file = this.#path(key)
    let h: fsp.FileHandle
    try {
      h = await fsp.open(file, 'r')
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined
      throw this.#fail('get', key, err)
    }
    try {
      const st = await h.stat({ bigint: true })
      if (!st.isFile()) return undefined
      const size = Number(st.size)
      const start = Math.min(options.range?.start ?? 0, size)
      const end = Math.max(start, Math.min(options.range?.end ?? size, size))
      const data = Buffer.allocUnsafe(end - start)
      let off = 0
      while (off < data.length) {
        const { bytesRead } = await h.read(data, off, data.length - off, start + off)
        if (bytesRead === 0) break
        off += bytesRead
      }
      return {
        data: off === data.length ? data : data.subarray(0, off),
        meta: { key, size, lastModified: st.mtime, version: `${st.ino.toString(16)}-${st.mtimeNs.toString(16)}` },
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EISDIR') return undefined
      throw this.#fail('get', key, err)
    } finally {
      await h.close()
    }
  }

  async head(key: string): Promise<ObjectMeta | undefined> {
    const file = this.#path(key)
    try {
      const v = await this.#version(file)
      return v === undefined ? undefined : { key, size: v.size, lastModified: v.mtime, version: v.version }
    } catch (err) {
      throw this.#fail('head', key, err)
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectMeta> {
    validateListPrefix(prefix)
    const slash = prefix.lastIndexOf('/')
    const baseKey = slash < 0 ? '' : prefix.slice(0, slash)
    const keys: string[] = []
    const walk = async (dirKey: string): Promise<void> => {
      let entries: Dirent[]
      try {
        entries = await fsp.readdir(dirKey === '' ? this.root : path.join(this.root, ...dirKey.split('/')), { withFileTypes: true })
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (code === 'ENOENT' || code === 'ENOTDIR') return
        throw this.#fail('list', prefix, err)
      }
      for (const e of entries) {
        if (dirKey === '' && e.name === FS_TMP_DIR) continue
        const k = dirKey === '' ? e.name : `${dirKey}/${e.name}`
        if (e.isDirectory()) {
          // Descend only where keys below could still match the prefix.
          if (prefix.startsWith(`${k}/`) || `${k}/`.startsWith(prefix)) await walk(k)
        } else if (e.isFile() && k.startsWith(prefix)) {
          keys.push(k)
        }
      }
    }
    await walk(baseKey)
    keys.sort(compareKeys)
    const after = options.startAfter
    for (const k of keys) {
      if (after !== undefined && k <= after) continue
      const m = await this.head(k)
      if (m !== undefined) yield m
    }
  }

  async delete(key: string): Promise<void> {
    const file = this.#path(key)
    try {
      await fsp.unlink(file)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'ENOTDIR') return
      throw this.#fail('delete', key, err)
    }
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    for (const k of keys) this.#path(k)
    for (let i = 0; i < keys.length; i += 32) await Promise.all(keys.slice(i, i + 32).map((k) => this.delete(k)))
  }
}
