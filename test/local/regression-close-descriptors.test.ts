// Regression tests for issue 10 defects 9 (descriptor leak) and 11 (close).
//
// Iterators dropped without return() kept their descriptors even after log.close() (199 of 200
// leaked). close() now closes every open cursor's descriptor, and a cursor used after close fails
// with ERR_CLOSED. A failing close threw a raw EBADF and kept the lock; it now always releases
// every descriptor and the lock, and reports failures as SeglogError.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { test } from 'node:test'
import { isSeglogError, Log, SeglogError, type FileHandle, type FileSystem } from '../../src/index.js'
import { nodeFileSystem } from '../../src/testing/index.js'
import { payload, tmpDir } from '../helpers/tmp.js'

function openDescriptors(): number {
  return fs.readdirSync('/proc/self/fd').length
}

test('close() closes the descriptors of iterators dropped without return(); a cursor used after close fails with ERR_CLOSED', async (t) => {
  const dir = tmpDir(t)
  const before = openDescriptors()
  const log = await Log.open(dir, { sync: 'never', segmentBytes: 4096 })
  for (let i = 0; i < 300; i++) await log.append(payload(i, 100))
  const kept: AsyncIterableIterator<unknown>[] = []
  for (let i = 0; i < 200; i++) {
    const it = log.iterate({ from: (i * 7) % 300 })
    await it.next() // opens a segment file, then is dropped without return()
    if (i % 50 === 0) kept.push(it)
  }
  assert.ok(openDescriptors() >= before + 150, 'the iterators hold descriptors while the log is open')
  await log.close()
  assert.equal(openDescriptors(), before, 'every descriptor is closed with the log')
  for (const it of kept) await assert.rejects(it.next(), (err) => isSeglogError(err, 'ERR_CLOSED'))
  const again = await Log.open(dir)
  assert.equal(again.nextOffset, 300)
  await again.close()
})

/** The real file system; once armed, every handle's close() throws EBADF (after closing). */
function failingCloses(armed: { on: boolean }): FileSystem {
  const wrap = (inner: FileHandle): FileHandle => ({
    path: inner.path,
    write: (b, o, l, p) => inner.write(b, o, l, p),
    read: (b, o, l, p) => inner.read(b, o, l, p),
    datasync: () => inner.datasync(),
    size: () => inner.size(),
    truncate: (s) => inner.truncate(s),
    close() {
      inner.close()
      if (!armed.on) return
      const err: NodeJS.ErrnoException = new Error('EBADF: bad file descriptor, close')
      err.code = 'EBADF'
      throw err
    },
  })
  return { ...nodeFileSystem, open: (p, mode) => wrap(nodeFileSystem.open(p, mode)) }
}

test('close() releases the lock and every descriptor even when closing a file fails, and reports only SeglogErrors', async (t) => {
  const dir = tmpDir(t)
  const armed = { on: false }
  const log = await Log.open(dir, { sync: 'always', segmentBytes: 2048, fileSystem: failingCloses(armed) })
  for (let i = 0; i < 60; i++) await log.append(payload(i, 100))
  // Sealed segments with open read handles, plus a cursor's handle.
  for (let i = 0; i < 60; i += 10) assert.deepEqual((await log.read(i))?.data, payload(i, 100))
  const it = log.iterate()
  await it.next()
  armed.on = true
  try {
    await log.close()
  } catch (err) {
    assert.ok(err instanceof SeglogError, `close reports a SeglogError, not ${String(err)}`)
  }
  assert.equal(Log.lockHolder(dir), undefined, 'the lock is released')
  const again = await Log.open(dir)
  try {
    assert.equal(again.nextOffset, 60)
    for (let i = 0; i < 60; i++) assert.deepEqual((await again.read(i))?.data, payload(i, 100))
  } finally {
    await again.close()
  }
})

test('close() after an fsync failure rejects with ERR_IO and still releases the lock', async (t) => {
  const dir = tmpDir(t)
  let failSyncs = false
  const fsys: FileSystem = {
    ...nodeFileSystem,
    open(p, mode) {
      const inner = nodeFileSystem.open(p, mode)
      return {
        path: inner.path,
        write: (b, o, l, pos) => inner.write(b, o, l, pos),
        read: (b, o, l, pos) => inner.read(b, o, l, pos),
        async datasync() {
          if (failSyncs) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })
          await inner.datasync()
        },
        size: () => inner.size(),
        truncate: (s) => inner.truncate(s),
        close: () => inner.close(),
      }
    },
  }
  const log = await Log.open(dir, { sync: 'never', fileSystem: fsys })
  await log.append('kept')
  await log.sync()
  await log.append('not synced')
  failSyncs = true
  await assert.rejects(log.close(), (err) => isSeglogError(err, 'ERR_IO'))
  assert.equal(Log.lockHolder(dir), undefined)
  const again = await Log.open(dir)
  try {
    assert.equal((await again.read(0))?.data.toString(), 'kept')
  } finally {
    await again.close()
  }
})
