// How FsStore publishes a put: the bytes go to a fresh temp file under the store's temp folder
// and are fsynced there, the key's folders are created (and made durable), and only then does the
// temp get the key's name, whole: by link() for a create-only put (atomic, fails when the name
// exists), by rename() otherwise (FsStore.put picks). A reader never sees a partial object.
import fsp from 'node:fs/promises'
import * as path from 'node:path'
import type { SeglogError } from '../errors.js'
import { conflictError, storeError } from './errors.js'
import { tempName } from './fs-temp.js'

/** The error code of a failed file-system call, if it has one. */
export function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code
}

/** The publish steps of one FsStore: its name (for errors), its temp folder and whether it fsyncs. */
export class FsPublisher {
  readonly #store: string
  readonly #tmpDir: string
  readonly #fsync: boolean

  constructor(store: string, tmpDir: string, fsync: boolean) {
    this.#store = store
    this.#tmpDir = tmpDir
    this.#fsync = fsync
  }

  /** Writes `data` to a new temp file (fsynced when the store fsyncs); returns its path. */
  async writeTemp(data: Uint8Array): Promise<string> {
    await fsp.mkdir(this.#tmpDir, { recursive: true })
    const tmp = path.join(this.#tmpDir, tempName())
    const h = await fsp.open(tmp, 'wx')
    try {
      await h.writeFile(data)
      if (this.#fsync) await h.sync()
    } finally {
      await h.close()
    }
    return tmp
  }

  /** Creates the folders of `file` and, with fsync on, makes the new entries durable. */
  async makeParents(key: string, file: string): Promise<void> {
    let first: string | undefined
    try {
      first = await fsp.mkdir(path.dirname(file), { recursive: true })
    } catch (err) {
      const code = errno(err)
      if (code === 'ENOTDIR' || code === 'EEXIST') {
        throw storeError(this.#store, 'put', key, new Error('a part of its path is an object, and FsStore cannot hold an object and a folder of the same name; use another key'), false)
      }
      throw err
    }
    if (first === undefined || !this.#fsync) return
    // Each new folder's entry lives in its parent; the file's own folder is synced after publishing.
    const parents = [path.dirname(first)]
    for (let d = path.dirname(file); d !== first && d.length > first.length; d = path.dirname(d)) parents.push(path.dirname(d))
    for (const dir of parents) await this.syncDir(dir)
  }

  /** With fsync on, makes the entries of `dir` durable; a folder already removed needs nothing. */
  async syncDir(dir: string): Promise<void> {
    if (!this.#fsync) return
    let h
    try {
      h = await fsp.open(dir, 'r')
    } catch (err) {
      // A concurrent delete of the object just published emptied and removed its folder.
      if (errno(err) === 'ENOENT') return
      throw err
    }
    try { await h.sync() } finally { await h.close() }
  }

  /** Publishes `tmp` as `file` only if the name is free: ERR_CONFLICT when an object holds it. */
  async create(tmp: string, file: string, key: string): Promise<void> {
    try {
      await fsp.link(tmp, file)
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw err
      // Only an object there is a conflict: a folder of that name cannot be read back as one.
      throw (await this.folderError(file, key)) ?? conflictError(this.#store, key)
    }
  }

  /** The non-transient ERR_STORE for a put onto a key that is a folder of other keys, if it is one. */
  async folderError(file: string, key: string): Promise<SeglogError | undefined> {
    const st = await fsp.lstat(file).catch(() => undefined)
    if (st?.isDirectory() !== true) return undefined
    return storeError(this.#store, 'put', key, new Error(`there is a folder of other keys named ${JSON.stringify(key)}, and FsStore cannot hold an object and a folder of the same name; use another key`), false)
  }
}
