// Log.open fdatasyncs its lock's temp file on the thread pool while recovery's first reads run
// once as a look ahead (src/local/open-log.ts). Those reads happen before the lock is held, so
// another writer may change everything they saw before the link(): these tests hold the fdatasync
// open (through the FileSystem seam) while another writer appends, rolls, truncates, takes the
// lock or closes, and check that the open uses only what it reads under the lock.
import assert from 'node:assert/strict'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import readline from 'node:readline'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { Log, SeglogError, type FileSystem } from '../../src/index.js'
import { nodeFileSystem } from '../../src/testing/index.js'
import { tmpDir } from '../helpers/tmp.js'

const stepWriter = fileURLToPath(new URL('../fixtures/step-writer.js', import.meta.url))

/** A file system whose fdatasync of a lock temp file waits for `release()`; records what was read meanwhile. */
function gatedLockSync(): { fsys: FileSystem; syncing: Promise<void>; release: () => void; readWhileSyncing: string[] } {
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  let entered!: () => void
  const syncing = new Promise<void>((resolve) => { entered = resolve })
  const readWhileSyncing: string[] = []
  let inWindow = false
  const fsys: FileSystem = {
    ...nodeFileSystem,
    open(file, mode) {
      const handle = nodeFileSystem.open(file, mode)
      if (!/^LOCK\..*\.tmp$/.test(path.basename(file))) return handle
      return {
        path: handle.path,
        write: (...a) => handle.write(...a),
        read: (...a) => handle.read(...a),
        size: () => handle.size(),
        truncate: (n) => handle.truncate(n),
        close: () => handle.close(),
        async datasync() {
          inWindow = true
          entered()
          await gate
          inWindow = false
          await handle.datasync()
        },
      }
    },
    readdir(dir) {
      if (inWindow) readWhileSyncing.push('readdir')
      return nodeFileSystem.readdir(dir)
    },
    readFile(file) {
      if (inWindow) readWhileSyncing.push(path.basename(file))
      return nodeFileSystem.readFile(file)
    },
  }
  return { fsys, syncing, release, readWhileSyncing }
}

async function contents(log: Log): Promise<string[]> {
  const out: string[] = []
  for await (const r of log.iterate({ from: log.firstOffset })) out.push(`${r.offset}:${r.data.toString()}`)
  return out
}

type Step = { op: 'append'; n: number } | { op: 'truncate'; keep: number } | { op: 'sync' }

test('a writer that appends, rolls and truncates between the look ahead and the link: the open sees only the final log (property)', async (t) => {
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ op: fc.constant('append' as const), n: fc.integer({ min: 1, max: 60 }) }),
    fc.record({ op: fc.constant('truncate' as const), keep: fc.integer({ min: 0, max: 1000 }) }),
    fc.record({ op: fc.constant('sync' as const) }))
  let run = 0
  await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 40 }), fc.array(step, { minLength: 1, maxLength: 6 }), async (seeded, steps) => {
    const dir = tmpDir(t, `overlap-${run++}`)
    const writer = await Log.open(dir, { segmentBytes: 1024 })
    await writer.appendBatch(Array.from({ length: seeded }, (_, i) => `w-${i}-${'x'.repeat(40)}`))
    await writer.sync()
    const gated = gatedLockSync()
    const opening = Log.open(dir, { fileSystem: gated.fsys })
    const outcome = opening.then(() => 'open', (err: unknown) => err)
    await gated.syncing
    // The look ahead ran: it listed the directory and read the checkpoint the writer holds now.
    assert.ok(gated.readWhileSyncing.includes('readdir') && gated.readWhileSyncing.includes('checkpoint'), gated.readWhileSyncing.join(','))
    for (const s of steps) {
      if (s.op === 'append') await writer.appendBatch(Array.from({ length: s.n }, (_, i) => `a-${writer.nextOffset + i}-${'y'.repeat(30)}`))
      else if (s.op === 'truncate') await writer.truncate(Math.max(writer.firstOffset, Math.min(s.keep, writer.nextOffset)))
      else await writer.sync()
    }
    const want = await contents(writer)
    const wantNext = writer.nextOffset
    await writer.close()
    gated.release()
    assert.equal(await outcome, 'open')
    const opened = await opening
    try {
      assert.equal(opened.nextOffset, wantNext)
      assert.deepEqual(await contents(opened), want)
      // And it goes on from there: an append lands right after the writer's last record.
      assert.equal(await opened.append('after'), wantNext)
    } finally {
      await opened.close()
    }
  }), { numRuns: 25, seed: Number(process.env.SEGLOG_SEED ?? 1327) })
})

test('a writer still open at the link: ERR_LOCKED, its log unchanged, no temp file left', async (t) => {
  const dir = tmpDir(t)
  const writer = await Log.open(dir)
  await writer.appendBatch(['one', 'two'])
  const gated = gatedLockSync()
  const opening = Log.open(dir, { fileSystem: gated.fsys })
  const outcome = opening.then(() => undefined, (err: unknown) => err)
  await gated.syncing
  await writer.append('three')
  gated.release()
  const err = await outcome
  assert.ok(err instanceof SeglogError && err.code === 'ERR_LOCKED', String(err))
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('LOCK')), ['LOCK'])
  assert.deepEqual(await contents(writer), ['0:one', '1:two', '2:three'])
  await writer.close()
})

test('a failed fdatasync of the lock file: ERR_IO, no lock and no temp file, every record intact', async (t) => {
  const dir = tmpDir(t)
  const seed = await Log.open(dir)
  await seed.appendBatch(['a', 'b', 'c'])
  await seed.close()
  const failing: FileSystem = {
    ...nodeFileSystem,
    open(file, mode) {
      const handle = nodeFileSystem.open(file, mode)
      if (!path.basename(file).startsWith('LOCK.')) return handle
      return { ...handle, path: handle.path, write: (...a) => handle.write(...a), read: (...a) => handle.read(...a), size: () => handle.size(),
        truncate: (n) => handle.truncate(n), close: () => handle.close(),
        datasync: () => Promise.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })) }
    },
  }
  await assert.rejects(Log.open(dir, { fileSystem: failing }), (err: unknown) => err instanceof SeglogError && err.code === 'ERR_IO' && /lock file/.test(err.message))
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('LOCK')), [])
  const again = await Log.open(dir)
  assert.deepEqual(await contents(again), ['0:a', '1:b', '2:c'])
  await again.close()
})

/** A writer in another process, driven step by step (test/fixtures/step-writer.ts). */
class Child {
  private readonly lines: AsyncIterator<string>
  constructor(readonly proc: ChildProcessWithoutNullStreams) {
    this.lines = readline.createInterface({ input: proc.stdout })[Symbol.asyncIterator]()
  }

  static start(dir: string): Child {
    return new Child(spawn(process.execPath, [stepWriter, dir, '1024']))
  }

  async next(): Promise<string> {
    const { value, done } = await this.lines.next()
    if (done) throw new Error('the child exited early')
    return value
  }

  async say(line: string): Promise<string> {
    this.proc.stdin.write(`${line}\n`)
    return this.next()
  }
}

test('another process takes the lock after the look ahead, appends (rolling segments) and closes before the link: the open sees all it wrote', async (t) => {
  const dir = tmpDir(t)
  const seed = await Log.open(dir, { segmentBytes: 1024 })
  await seed.appendBatch(Array.from({ length: 30 }, (_, i) => `s-${i}`))
  await seed.close()
  const gated = gatedLockSync()
  const opening = Log.open(dir, { fileSystem: gated.fsys })
  const outcome = opening.then(() => 'open', (err: unknown) => err)
  await gated.syncing
  const child = Child.start(dir)
  assert.equal(await child.next(), 'open 30')
  for (let i = 1; i <= 4; i++) assert.equal(await child.say('append 50'), `ok ${30 + 50 * i}`)
  assert.equal(await child.say('close'), 'closed')
  gated.release()
  assert.equal(await outcome, 'open')
  const opened = await opening
  try {
    assert.equal(opened.nextOffset, 230)
    const got = await contents(opened)
    assert.equal(got.length, 230)
    const c = (o: number): string => `${o}:${`c-${o}-`.padEnd(40, 'z')}`
    assert.deepEqual(got.slice(28, 32), ['28:s-28', '29:s-29', c(30), c(31)])
    assert.equal(got[229], c(229))
    assert.ok(opened.segmentsInfo().length > 4, 'the child rolled segments the look ahead never saw')
  } finally {
    await opened.close()
  }
})

test('another process takes the lock after the look ahead and still holds it at the link: ERR_LOCKED, and it keeps writing', async (t) => {
  const dir = tmpDir(t)
  const gated = gatedLockSync()
  fs.mkdirSync(dir, { recursive: true })
  const opening = Log.open(dir, { fileSystem: gated.fsys })
  const outcome = opening.then(() => undefined, (err: unknown) => err)
  await gated.syncing
  const child = Child.start(dir)
  assert.equal(await child.next(), 'open 0')
  assert.equal(await child.say('append 5'), 'ok 5')
  gated.release()
  const err = await outcome
  assert.ok(err instanceof SeglogError && err.code === 'ERR_LOCKED', String(err))
  assert.equal(await child.say('append 5'), 'ok 10')
  assert.equal(await child.say('close'), 'closed')
  const again = await Log.open(dir)
  assert.equal((await contents(again)).length, 10)
  await again.close()
})
