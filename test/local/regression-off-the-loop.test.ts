// Issue 11 (local/): no synchronous fsync on the event loop and no file deletion inside append.
// The recovery checkpoint used to be written with a synchronous fdatasync every 8 MiB and at
// every roll, blocking every caller for the length of a disk flush; and retention stat()ed and
// unlinked segment files synchronously inside the append that filled a segment. The checkpoint
// is now fsynced asynchronously inside the committer's round, and retention runs on its own turn.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Log, type FileSystem } from '../../src/index.js'
import { nodeFileSystem } from '../../src/testing/index.js'
import { tmpDir } from '../helpers/tmp.js'

function watched(): { fsys: FileSystem; syncWrites: string[]; inAppend: string[]; setAppending: (on: boolean) => void } {
  const syncWrites: string[] = []
  const inAppend: string[] = []
  let appending = false
  const fsys: FileSystem = {
    ...nodeFileSystem,
    writeFile(path, data, sync) {
      // Opening writes the lock and the identity this way, before any append; the checkpoint must not.
      if (sync && path.includes('checkpoint')) syncWrites.push(path)
      nodeFileSystem.writeFile(path, data, sync)
    },
    unlink(path) {
      if (appending) inAppend.push(`unlink ${path}`)
      nodeFileSystem.unlink(path)
    },
    stat(path) {
      if (appending) inAppend.push(`stat ${path}`)
      return nodeFileSystem.stat(path)
    },
  }
  return { fsys, syncWrites, inAppend, setAppending: (on) => { appending = on } }
}

test('checkpoints across many rolls and at close are never written with a synchronous fsync', async (t) => {
  const dir = tmpDir(t)
  const w = watched()
  const log = await Log.open(dir, { sync: 'always', segmentBytes: 4096, fileSystem: w.fsys })
  for (let i = 0; i < 300; i++) await log.append(Buffer.alloc(200, i))
  await log.close()
  assert.deepEqual(w.syncWrites, [], 'no checkpoint written with writeFile(…, sync)')
  const reopened = await Log.open(dir)
  try {
    assert.equal(reopened.recovery.clean, true, 'the clean-close checkpoint is in place')
    assert.equal(reopened.nextOffset, 300)
  } finally {
    await reopened.close()
  }
})

test('retention never stats or deletes files inside append: it runs on its own turn, and still bounds the log', async (t) => {
  const dir = tmpDir(t)
  const w = watched()
  const log = await Log.open(dir, { sync: 'never', segmentBytes: 2048, retention: { maxBytes: 8192 }, fileSystem: w.fsys })
  for (let i = 0; i < 400; i++) {
    w.setAppending(true)
    const appended = log.append(Buffer.alloc(64, i))
    w.setAppending(false)
    await appended
  }
  await log.sync()
  assert.deepEqual(w.inAppend, [], 'no stat or unlink while append() ran')
  const kept = log.segmentsInfo().reduce((a, s) => a + s.bytes, 0)
  assert.ok(kept <= 8192 + 2048 + 1024, `retention still applies: ${kept} bytes kept`)
  assert.ok(log.firstOffset > 0)
  await log.close()
})
