import { constants as fsc } from 'node:fs'
// The promise API by its own module: reading `promises` off node:fs at load runs its getter, which
// (on Node 24) loads fs/promises, readline and os for a program that never uses a folder store.
import fsp, { type FileHandle } from 'node:fs/promises'
import * as path from 'node:path'
import { SeglogError } from '../errors.js'
import { validateListOptions, validatePut } from './arguments.js'
import { conflictError, storeError, throwIfAborted } from './errors.js'
import { errno, FsPublisher } from './fs-publish.js'
import { sweepTempDir } from './fs-temp.js'
import { keysUnder } from './fs-walk.js'
import { compareKeys, validateKey, validateListPrefix } from './keys.js'
import { clampRange, validateRange } from './ranges.js'
import type { GetOptions, GetResult, ListOptions, ObjectMeta, ObjectStore, PutOptions, PutResult } from './types.js'

/** Name of the folder (under the root) that holds files being written. Never listed. */
export const FS_TMP_DIR = '.seglog-tmp'

/** Default for {@link FsStoreOptions.staleTempMs}: one day. */
export const DEFAULT_STALE_TEMP_MS = 24 * 60 * 60 * 1000

// A put whose folder is removed by a concurrent delete between mkdir and publishing tries again;
// each round needs a delete to land in a window of a few syscalls, so this is never reached in
// practice, and bounds the loop if something keeps removing the folder.
const PUBLISH_ATTEMPTS = 64

/** Options for {@link FsStore}. */
export interface FsStoreOptions {
  /** The folder that holds the objects; created when missing. It may itself be a symbolic link. */
  root: string
  /** fsync files and folders so a put survives power loss (default true). */
  fsync?: boolean
  /**
   * Age after which a leftover temporary file is removed when its writer cannot be checked
   * (written from another host, or by an older seglog). Files of writers on this host are removed
   * as soon as their process is gone, and never while it runs. Default one day.
   */
  staleTempMs?: number
  /** The clock (ms since the epoch) that ages temporary files; default `Date.now`. */
  now?: () => number
}

type Meta = { version: string; size: number; mtime: Date }

/**
 * An {@link ObjectStore} on a local folder: key `a/b/c` is the file `<root>/a/b/c`.
 *
 * Every put writes a temporary file under `<root>/.seglog-tmp/`, fsyncs it, then publishes it
 * whole: create-only by `link()` (atomic; fails when the name exists, also between processes and
 * on NFS), overwrite by `rename()`. A reader never sees a partial object. `{ ifMatch }` is checked
 * under an in-process lock only: it is not atomic between processes.
 *
 * Folders are an artefact of the layout: `delete` removes the folders it empties (up to the root),
 * and a put into a folder that a concurrent delete removes tries again. A key cannot be both an
 * object and a "folder" of other keys here (S3 allows it): such a put fails with a non-transient
 * `ERR_STORE` saying so.
 *
 * Symbolic links inside the root are never followed (they could lead outside it): an operation on
 * a key whose path has a link in it fails with a non-transient `ERR_STORE`, and listings skip
 * links. Each operation checks the path when it starts; a link swapped in by another process
 * while the operation runs is not detected (Node has no `openat`).
 *
 * Temporary files left by a killed writer are removed in the background after the first put (and
 * by {@link FsStore.sweepTemp}): those of a process on this host once it has exited, others after
 * {@link FsStoreOptions.staleTempMs}.
 *
 * Signals: checked when a call starts, between the steps of a put and between listed keys. An
 * aborted put (`ERR_CLOSED`, or the signal's reason when that is a `SeglogError`) rejects only
 * before the object is published, so it has left nothing (its temporary file is removed); once
 * published by `link`/`rename` it resolves. `get`, `head` and `delete` check once, at the start.
 * `deleteMany` checks per key: an aborted one may have deleted some of the keys, each fully.
 */
export class FsStore implements ObjectStore {
  readonly name: string
  readonly enforcesCreateOnly = true
  readonly root: string
  readonly #tmp: string
  readonly #publisher: FsPublisher
  readonly #staleTempMs: number
  readonly #now: () => number
  readonly #locks = new Map<string, Promise<void>>()
  #sweep: Promise<number> | undefined

  constructor(options: FsStoreOptions) {
    if (typeof options?.root !== 'string' || options.root === '') throw new SeglogError('ERR_INVALID_ARGUMENT', 'FsStore needs { root: "<folder>" }')
    const stale = options.staleTempMs ?? DEFAULT_STALE_TEMP_MS
    if (!(Number.isSafeInteger(stale) && stale >= 0)) throw new SeglogError('ERR_INVALID_ARGUMENT', `FsStore staleTempMs ${String(stale)}: use a whole number of milliseconds ≥ 0`)
    this.root = path.resolve(options.root)
    this.name = `file://${this.root}`
    this.#tmp = path.join(this.root, FS_TMP_DIR)
    this.#publisher = new FsPublisher(this.name, this.#tmp, options.fsync ?? true)
    this.#staleTempMs = stale
    this.#now = options.now ?? Date.now
  }

  #path(key: string): string {
    validateKey(key)
    if (key === FS_TMP_DIR || key.startsWith(`${FS_TMP_DIR}/`)) {
      throw new SeglogError('ERR_INVALID_ARGUMENT', `invalid object key ${JSON.stringify(key)}: ${FS_TMP_DIR} is reserved by FsStore`)
    }
    return path.join(this.root, ...key.split('/'))
  }

  #fail(op: string, key: string, err: unknown): SeglogError {
    if (err instanceof SeglogError) return err
    const code = errno(err)
    const transient = code === 'EMFILE' || code === 'ENFILE' || code === 'EAGAIN' || code === 'EBUSY'
    return storeError(this.name, op, key, err, transient)
  }

  #linkError(op: string, key: string, at: string): SeglogError {
    return storeError(this.name, op, key, new Error(`${JSON.stringify(at)} is a symbolic link; FsStore does not follow links inside its root (they can lead outside it): replace the link with a folder or file`), false)
  }

  /**
   * Refuses a key whose path (below the root) passes through a symbolic link. Stops at the first
   * component that does not exist or is not a folder: nothing below it can be reached anyway.
   */
  async #noLinks(op: string, key: string): Promise<void> {
    const parts = key.split('/')
    let at = this.root
    for (let i = 0; i < parts.length; i++) {
      at = path.join(at, parts[i])
      let st
      try {
        st = await fsp.lstat(at)
      } catch (err) {
        const code = errno(err)
        if (code === 'ENOENT' || code === 'ENOTDIR') return
        throw this.#fail(op, key, err)
      }
      if (st.isSymbolicLink()) throw this.#linkError(op, key, parts.slice(0, i + 1).join('/'))
      if (!st.isDirectory()) return
    }
  }

  async #meta(file: string, op: string, key: string): Promise<Meta | undefined> {
    let st
    try {
      st = await fsp.lstat(file, { bigint: true })
    } catch (err) {
      const code = errno(err)
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
      throw err
    }
    if (st.isSymbolicLink()) throw this.#linkError(op, key, key)
    if (!st.isFile()) return undefined
    return { version: `${st.ino.toString(16)}-${st.mtimeNs.toString(16)}`, size: Number(st.size), mtime: st.mtime }
  }

  async put(key: string, data: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    const file = this.#path(key)
    validatePut(data, options)
    const mode = options.mode ?? 'overwrite'
    throwIfAborted(options.signal, this.name, 'put', key)
    this.#sweep ??= this.sweepTemp().catch(() => 0)
    let tmp: string | undefined
    try {
      await this.#noLinks('put', key)
      const written = await this.#publisher.writeTemp(data)
      tmp = written
      // The last point where an abort leaves nothing behind: the object is not published yet.
      // Once it is (link or rename), the put has happened and resolves whatever the signal says.
      throwIfAborted(options.signal, this.name, 'put', key)
      for (let attempt = 1; ; attempt++) {
        try {
          await this.#publisher.makeParents(key, file)
          if (mode === 'create') {
            await this.#publisher.create(written, file, key)
          } else if (mode === 'overwrite') {
            await fsp.rename(written, file)
            tmp = undefined
          } else {
            await this.#locked(key, async () => {
              const cur = await this.#meta(file, 'put', key)
              if (cur === undefined || cur.version !== mode.ifMatch) throw conflictError(this.name, key)
              await fsp.rename(written, file)
            })
            tmp = undefined
          }
          break
        } catch (err) {
          if (errno(err) === 'ENOENT' && attempt < PUBLISH_ATTEMPTS) continue
          throw (await this.#publisher.folderError(file, key)) ?? err
        }
      }
      await this.#publisher.syncDir(path.dirname(file))
      const v = await this.#meta(file, 'put', key).catch(() => undefined)
      return { version: v?.version }
    } catch (err) {
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
    validateRange(options.range)
    throwIfAborted(options.signal, this.name, 'get', key)
    await this.#noLinks('get', key)
    let h: FileHandle
    try {
      h = await fsp.open(file, fsc.O_RDONLY | fsc.O_NOFOLLOW)
    } catch (err) {
      const code = errno(err)
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined
      if (code === 'ELOOP') throw this.#linkError('get', key, key)
      throw this.#fail('get', key, err)
    }
    try {
      const st = await h.stat({ bigint: true })
      if (!st.isFile()) return undefined
      const size = Number(st.size)
      const { start, end } = clampRange(options.range, size)
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
      if (errno(err) === 'EISDIR') return undefined
      throw this.#fail('get', key, err)
    } finally {
      await h.close()
    }
  }

  async head(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectMeta | undefined> {
    const file = this.#path(key)
    throwIfAborted(options.signal, this.name, 'head', key)
    try {
      await this.#noLinks('head', key)
      const v = await this.#meta(file, 'head', key)
      return v === undefined ? undefined : { key, size: v.size, lastModified: v.mtime, version: v.version }
    } catch (err) {
      throw this.#fail('head', key, err)
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectMeta> {
    validateListPrefix(prefix)
    validateListOptions(options)
    throwIfAborted(options.signal, this.name, 'list', prefix)
    const slash = prefix.lastIndexOf('/')
    const baseKey = slash < 0 ? '' : prefix.slice(0, slash)
    if (baseKey !== '') {
      try {
        await this.#noLinks('list', baseKey)
      } catch (err) {
        if (err instanceof SeglogError && err.code === 'ERR_STORE' && err.details.transient !== true) return
        throw err
      }
    }
    let keys: string[]
    try {
      keys = await keysUnder(this.root, baseKey, prefix, FS_TMP_DIR)
    } catch (err) {
      throw this.#fail('list', prefix, err)
    }
    keys.sort(compareKeys)
    const after = options.startAfter
    for (const k of keys) {
      if (after !== undefined && compareKeys(k, after) <= 0) continue
      throwIfAborted(options.signal, this.name, 'list', prefix)
      let m
      try {
        m = await this.#meta(path.join(this.root, ...k.split('/')), 'list', k)
      } catch (err) {
        throw this.#fail('list', prefix, err)
      }
      if (m !== undefined) yield { key: k, size: m.size, lastModified: m.mtime, version: m.version }
    }
  }

  async delete(key: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const file = this.#path(key)
    throwIfAborted(options.signal, this.name, 'delete', key)
    try {
      await this.#noLinks('delete', key)
      await fsp.unlink(file)
    } catch (err) {
      const code = errno(err)
      if (code === 'ENOENT' || code === 'ENOTDIR') return
      // A folder of other keys is not an object: there is nothing to delete (EPERM on macOS). A
      // concurrent delete of its last key may have removed the folder since: nothing there either.
      if (code === 'EISDIR' || code === 'EPERM') {
        const st = await fsp.lstat(file).catch((e: unknown) => (errno(e) === 'ENOENT' ? null : undefined))
        if (st === null || st?.isDirectory() === true) return
      }
      throw this.#fail('delete', key, err)
    }
    await this.#pruneFolders(path.dirname(file))
  }

  /**
   * Removes `dir` and its parents up to the root while they are empty. `rmdir` refuses a folder
   * that is not empty, so an object published into it concurrently is never lost: the put that
   * loses its folder before publishing tries again.
   */
  async #pruneFolders(dir: string): Promise<void> {
    for (let d = dir; d !== this.root && d.startsWith(this.root + path.sep); d = path.dirname(d)) {
      try {
        await fsp.rmdir(d)
      } catch {
        // Not empty, already gone, or not ours to remove: the delete itself has succeeded.
        return
      }
    }
  }

  async deleteMany(keys: readonly string[], options: { signal?: AbortSignal } = {}): Promise<void> {
    for (const k of keys) this.#path(k)
    for (let i = 0; i < keys.length; i += 32) await Promise.all(keys.slice(i, i + 32).map((k) => this.delete(k, options)))
  }

  /**
   * Removes temporary files left by writers that were killed mid-put: those written by a process
   * on this host that has exited, and others older than {@link FsStoreOptions.staleTempMs}. A
   * file of a running writer is never removed. Returns how many were removed. Runs by itself in
   * the background after the first put; call it to sweep at a time of your choosing.
   */
  async sweepTemp(): Promise<number> {
    try {
      return await sweepTempDir(this.#tmp, this.#now(), this.#staleTempMs)
    } catch (err) {
      throw this.#fail('sweepTemp', FS_TMP_DIR, err)
    }
  }

  /** Waits for a background sweep of temporary files to finish. */
  async close(): Promise<void> {
    await this.#sweep
  }
}
