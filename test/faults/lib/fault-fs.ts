/**
 * The real file system with scripted disk faults: the nth call of a kind fails with an errno
 * (optionally after writing part of the data, as a short write does), or a byte budget models a
 * disk that fills up and later frees space.
 */
import path from 'node:path'
import { nodeFileSystem, type FileHandle, type FileSystem } from '../../../src/testing/index.js'

export type FaultKind = 'write' | 'datasync' | 'syncDir' | 'writeFile' | 'open' | 'truncate' | 'unlink' | 'rename' | 'link'

export interface FaultRule {
  kind: FaultKind
  /** Fails the nth call of this kind (1-based) matching `file`, and (with `sticky`) every later one. */
  nth: number
  code: string
  sticky?: boolean
  /** For writes: bytes actually written before the error (a short write). */
  partialBytes?: number
  /** Only calls on files whose name passes this test. */
  file?: (name: string) => boolean
  /** For opens: only this open mode. */
  mode?: string
}

export function errnoError(code: string, syscall: string, file: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: injected disk fault, ${syscall} '${file}'`)
  err.code = code
  err.syscall = syscall
  err.path = file
  return err
}

export class FaultFs {
  readonly counts = new Map<FaultKind, number>()
  readonly injected: { kind: FaultKind; code: string; file: string }[] = []
  rules: FaultRule[] = []
  /** Bytes that may still be written to segment files; undefined for no limit. */
  budget: number | undefined

  private readonly seen = new Map<FaultRule, number>()

  /** Counts the call against every matching rule; returns the fault to inject, if any. */
  private check(kind: FaultKind, file: string, bytes = 0, mode?: string): { partial?: number; err: NodeJS.ErrnoException } | undefined {
    const name = path.basename(file)
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1)
    for (const rule of this.rules) {
      if (rule.kind !== kind || (rule.file && !rule.file(name)) || (rule.mode !== undefined && rule.mode !== mode)) continue
      const n = (this.seen.get(rule) ?? 0) + 1
      this.seen.set(rule, n)
      if (n === rule.nth || (rule.sticky && n > rule.nth)) {
        this.injected.push({ kind, code: rule.code, file: name })
        return { partial: rule.partialBytes === undefined ? undefined : Math.min(rule.partialBytes, bytes), err: errnoError(rule.code, kind, file) }
      }
    }
    if (kind === 'write' && this.budget !== undefined && name.endsWith('.log')) {
      if (bytes > this.budget) {
        const partial = this.budget
        this.budget = 0
        this.injected.push({ kind, code: 'ENOSPC', file: name })
        return { partial, err: errnoError('ENOSPC', 'write', file) }
      }
      this.budget -= bytes
    }
    return undefined
  }

  fileSystem(): FileSystem {
    const inner = nodeFileSystem
    // The handles and the file system below are object literals with their own `this`.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this
    const wrap = (h: FileHandle): FileHandle => ({
      path: h.path,
      write(buf, offset, length, position) {
        const fault = self.check('write', h.path, length)
        if (fault) {
          if (fault.partial) h.write(buf, offset, fault.partial, position)
          throw fault.err
        }
        h.write(buf, offset, length, position)
      },
      read: (buf, offset, length, position) => h.read(buf, offset, length, position),
      async datasync() {
        const fault = self.check('datasync', h.path)
        if (fault) throw fault.err
        await h.datasync()
      },
      size: () => h.size(),
      truncate(size) {
        const fault = self.check('truncate', h.path)
        if (fault) throw fault.err
        h.truncate(size)
      },
      close: () => h.close(),
    })
    return {
      ...inner,
      open(file, mode) {
        const fault = self.check('open', file, 0, mode)
        if (fault) throw fault.err
        return wrap(inner.open(file, mode))
      },
      writeFile(file, data, sync) {
        const fault = self.check('writeFile', file)
        if (fault) throw fault.err
        inner.writeFile(file, data, sync)
      },
      rename(from, to) {
        const fault = self.check('rename', to)
        if (fault) throw fault.err
        inner.rename(from, to)
      },
      link(from, to) {
        const fault = self.check('link', to)
        if (fault) throw fault.err
        inner.link(from, to)
      },
      unlink(file) {
        const fault = self.check('unlink', file)
        if (fault) throw fault.err
        inner.unlink(file)
      },
      async syncDir(dir) {
        const fault = self.check('syncDir', dir)
        if (fault) throw fault.err
        await inner.syncDir(dir)
      },
    }
  }
}
