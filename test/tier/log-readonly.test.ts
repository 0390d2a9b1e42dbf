// A read-only tiered open, Log.open(dir, { readOnly: true, tier }): the directory follows its
// writer, offsets the writer has shipped and deleted locally are read from the store, and nothing
// is ever uploaded, deleted or written, by the store calls it makes and the file calls it makes.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { Log, MemoryStore, isSeglogError, type LogRecord } from '../../src/index.js'
import { nodeFileSystem, type FileSystem, type OpenMode } from '../../src/io/file-system.js'
import type { ObjectStore } from '../../src/objects/types.js'
import { manualClock } from '../helpers/manual-clock.js'
import { tmpDir } from '../helpers/tmp.js'
import { assertSameRecords, collect, snapshot } from './helpers.js'
import { appendRecords } from './log-scenario.js'

/** The same store, with every call that would change it recorded (and still forwarded, so a test that fails shows why). */
function recordingStore(inner: MemoryStore, changes: string[]): ObjectStore {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown
      if (typeof value !== 'function') return value
      if (prop === 'put' || prop === 'delete' || prop === 'deleteMany') {
        return (...args: unknown[]) => {
          changes.push(`${String(prop)} ${String(args[0])}`)
          return (value as (...a: unknown[]) => unknown).apply(target, args)
        }
      }
      return (value as (...a: unknown[]) => unknown).bind(target)
    },
  })
}

/** The real file system, with every call that would write, rename or delete recorded. */
function recordingFileSystem(changes: string[]): FileSystem {
  const writes = new Set<OpenMode>(['write', 'create', 'create-new'])
  return {
    ...nodeFileSystem,
    open(p, mode) {
      if (writes.has(mode)) changes.push(`open ${mode} ${p}`)
      return nodeFileSystem.open(p, mode)
    },
    mkdir(d) { changes.push(`mkdir ${d}`); nodeFileSystem.mkdir(d) },
    writeFile(p, data, sync) { changes.push(`writeFile ${p}`); nodeFileSystem.writeFile(p, data, sync) },
    rename(a, b) { changes.push(`rename ${a}`); nodeFileSystem.rename(a, b) },
    unlink(p) { changes.push(`unlink ${p}`); nodeFileSystem.unlink(p) },
    link(a, b) { changes.push(`link ${a}`); nodeFileSystem.link(a, b) },
  }
}

function directory(dir: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const name of fs.readdirSync(dir).sort()) out.set(name, fs.readFileSync(path.join(dir, name)).toString('base64'))
  return out
}

test('a read-only tiered open reads through the store while its writer ships and trims, and changes nothing anywhere', async (t) => {
  const mem = new MemoryStore()
  const clock = manualClock(1_780_000_000_000)
  const dir = tmpDir(t, 'seglog-tierlog-ro')
  const writer = await Log.open(dir, { segmentBytes: 2048, sync: 'never', clock, tier: { store: mem, prefix: 'r', localRetention: { maxBytes: 4096 } } })
  const want = await appendRecords(writer, 0, 150, clock)
  await writer.syncTier({ all: true })
  await writer.sync()

  const storeChanges: string[] = []
  const fileChanges: string[] = []
  const reader = await Log.open(dir, {
    readOnly: true, followPollMs: 5, fileSystem: recordingFileSystem(fileChanges),
    // The writer's limits given to the reader too: a read-only open applies none of them.
    retention: { maxBytes: 1 }, tier: { store: recordingStore(mem, storeChanges), prefix: 'r', localRetention: { maxBytes: 1 } },
  })
  assert.equal(reader.firstOffset, 0, 'the whole log, the store included')
  await assert.rejects(reader.syncTier(), (err) => isSeglogError(err, 'ERR_READ_ONLY'))
  await assert.rejects(reader.append('no'), (err) => isSeglogError(err, 'ERR_READ_ONLY'))

  // Follows from 0 while the writer appends, ships and deletes its local copies.
  const following = collect(reader.iterate({ from: 0, to: 300, follow: true }))
  want.push(...await appendRecords(writer, 150, 150, clock))
  await writer.syncTier({ all: true })
  await writer.sync()
  assert.ok(writer.tierState.localFirstOffset > 100, `the writer trimmed its disk (local first ${writer.tierState.localFirstOffset})`)
  assertSameRecords(await following, want)
  for (const offset of [0, 1, 57, 149, 150, 233, 299]) {
    const r = await reader.read(offset)
    assert.ok(r && r.data.equals(want[offset].data), `read(${offset})`)
  }
  assert.equal(await reader.read(300), undefined)
  assert.equal(reader.tierState.pendingSegments, 0)
  await writer.close()

  // The writer gone: the store and the directory stay byte for byte as they are while the reader reads everything again.
  const storeBefore = await snapshot(mem)
  const dirBefore = directory(dir)
  const again: LogRecord[] = await collect(reader.iterate())
  assertSameRecords(again, want)
  for (let offset = 0; offset < 300; offset += 7) assert.ok((await reader.read(offset))?.data.equals(want[offset].data))
  await reader.close()
  assert.deepEqual(await snapshot(mem), storeBefore)
  assert.deepEqual(directory(dir), dirBefore)
  assert.deepEqual(storeChanges, [], 'no store call that changes anything')
  assert.deepEqual(fileChanges, [], 'no file call that writes, renames or deletes')
})

test('a read-only tiered open of a directory that does not exist is ERR_NOT_FOUND and creates nothing', async (t) => {
  const mem = new MemoryStore()
  const dir = path.join(tmpDir(t, 'seglog-tierlog-ro-missing'), 'log')
  await assert.rejects(Log.open(dir, { readOnly: true, tier: { store: mem, prefix: 'r' } }), (err) => isSeglogError(err, 'ERR_NOT_FOUND'))
  assert.equal(fs.existsSync(dir), false)
  assert.equal((await snapshot(mem)).size, 0)
})
