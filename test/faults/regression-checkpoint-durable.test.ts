// Regression test for a defect found with the power-loss simulator (fixed in 26b3d59, log.ts).
//
// Rule 4: recovery reads only what could be unfinished, in time that does not grow with the log.
// Since 583dfe8 recovery checks every segment sealed after the checkpoint's segment, and all of
// them when there is no valid checkpoint. The periodic checkpoint was written without an fsync
// before its rename, so a power cut could keep the rename but not the bytes: an empty or torn
// checkpoint, and the next open read the whole log. Written durably (fdatasync of 40 bytes
// before the rename, once per roll or 8 MiB), a cut leaves either the old or the new checkpoint.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Log, type FileSystem } from '../../src/index.js'
import { nodeFileSystem } from '../../src/testing/index.js'
import { materialize, scratchDir, simOptions, simWithTrigger } from './lib/sim-log.js'

const SEGMENT = 4096

/** The real file system, counting bytes read. */
function counting(): { fsys: FileSystem; bytes: () => number } {
  let bytes = 0
  const fsys: FileSystem = {
    ...nodeFileSystem,
    open(path, mode) {
      const h = nodeFileSystem.open(path, mode)
      return { ...h, path: h.path, read: (buf, offset, length, position) => { const n = h.read(buf, offset, length, position); bytes += n; return n }, write: h.write.bind(h), datasync: h.datasync.bind(h), size: h.size.bind(h), truncate: h.truncate.bind(h), close: h.close.bind(h) }
    },
    readFile(path) {
      const b = nodeFileSystem.readFile(path)
      bytes += b?.length ?? 0
      return b
    },
  }
  return { fsys, bytes: () => bytes }
}

test('a power cut that keeps the checkpoint rename but not its bytes does not make recovery read the whole log', async (t) => {
  const dir = scratchDir(t, 'seglog-cp')
  let armed = false
  // The instant after a periodic checkpoint's rename, before the directory is synced; the crash
  // image keeps the rename and drops every unsynced write.
  const { sim, taken } = simWithTrigger((s) => armed && (s.dirs.get(dir)?.pending.some((op) => op.kind === 'rename' && op.to === 'checkpoint') ?? false))
  const log = await Log.open(dir, simOptions(sim, { sync: 'always', segmentBytes: SEGMENT }))
  for (let i = 0; i < 600; i++) {
    if (i === 560) armed = true
    await log.append(Buffer.alloc(200, i))
  }
  await log.close()
  const snap = taken()
  assert.ok(snap, 'a periodic checkpoint was written after many rolls')
  const image = materialize(t, snap, dir, { mode: 'none', dirOps: 'all' })
  const { fsys, bytes } = counting()
  const reopened = await Log.open(image, { segmentBytes: SEGMENT, fileSystem: fsys })
  const read = bytes()
  const segments = reopened.segmentsInfo().length
  await reopened.close()
  assert.ok(segments > 20, `the log has ${segments} segments`)
  assert.ok(read <= 3 * SEGMENT, `recovery read ${read} bytes of a ${segments}-segment log`)
})
