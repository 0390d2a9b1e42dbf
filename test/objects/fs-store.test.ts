// FsStore behaviours that only a filesystem has: symbolic links inside the root, temporary files
// left by killed writers, folders created and removed around objects.
import assert from 'node:assert/strict'
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { promises as fsp } from 'node:fs'
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, test } from 'node:test'
import { isSeglogError } from '../../src/errors.js'
import { FS_TMP_DIR, FsStore, type ObjectMeta } from '../../src/objects/index.js'
import { tempName } from '../../src/objects/fs-temp.js'

const here = path.dirname(fileURLToPath(import.meta.url))

async function keys(it: AsyncIterable<ObjectMeta>): Promise<string[]> {
  const out: string[] = []
  for await (const m of it) out.push(m.key)
  return out
}

function isLinkRefusal(e: unknown): boolean {
  assert.ok(isSeglogError(e, 'ERR_STORE'), String(e))
  assert.equal(e.details.transient, false)
  assert.match(e.message, /symbolic link/)
  return true
}

let top: string
before(async () => { top = await mkdtemp(path.join(tmpdir(), 'seglog-fsstore2-')) })
after(async () => { await rm(top, { recursive: true, force: true }) })

describe('FsStore never follows a symbolic link inside its root', () => {
  test('get, head, put, delete and list never touch what a link points to', async () => {
    const root = path.join(top, 'links', 'root')
    const outside = path.join(top, 'links', 'outside')
    await mkdir(root, { recursive: true })
    await mkdir(outside, { recursive: true })
    await writeFile(path.join(outside, 'secret'), 'outside')
    await symlink(outside, path.join(root, 'dirlink'))
    await symlink(path.join(outside, 'secret'), path.join(root, 'filelink'))
    await mkdir(path.join(root, 'real'))
    await symlink(outside, path.join(root, 'real', 'deeplink'))
    const store = new FsStore({ root, fsync: false })
    await store.put('real/kept', Buffer.from('inside'))

    for (const key of ['dirlink/secret', 'filelink', 'real/deeplink/secret']) {
      await assert.rejects(store.get(key), isLinkRefusal, key)
      await assert.rejects(store.get(key, { range: { start: 0, end: 3 } }), isLinkRefusal, key)
      await assert.rejects(store.head(key), isLinkRefusal, key)
      await assert.rejects(store.put(key, Buffer.from('overwrite')), isLinkRefusal, key)
      await assert.rejects(store.put(key, Buffer.from('create'), { mode: 'create' }), isLinkRefusal, key)
      await assert.rejects(store.delete(key), isLinkRefusal, key)
      await assert.rejects(store.deleteMany([key]), isLinkRefusal, key)
    }
    await assert.rejects(store.put('dirlink/new', Buffer.from('x')), isLinkRefusal)
    await assert.rejects(store.put('real/deeplink/new/deeper', Buffer.from('x')), isLinkRefusal)

    // Listings skip links: they are not objects, and what is behind them is outside the root.
    assert.deepEqual(await keys(store.list('')), ['real/kept'])
    assert.deepEqual(await keys(store.list('dirlink/')), [])
    assert.deepEqual(await keys(store.list('real/deeplink/')), [])
    assert.deepEqual(await keys(store.list('filelink')), [])

    // Nothing outside changed, the links are still there, and the real object is intact.
    assert.deepEqual(await readdir(outside), ['secret'])
    assert.equal(await readFile(path.join(outside, 'secret'), 'utf8'), 'outside')
    assert.ok((await lstat(path.join(root, 'filelink'))).isSymbolicLink())
    assert.ok((await lstat(path.join(root, 'dirlink'))).isSymbolicLink())
    assert.equal((await store.get('real/kept'))?.data.toString(), 'inside')
    // Deleting the last object of real/ must not remove real/ through its link child either.
    await store.delete('real/kept')
    assert.ok((await lstat(path.join(root, 'real', 'deeplink'))).isSymbolicLink())
  })

  test('the root itself may be a symbolic link', async () => {
    const real = path.join(top, 'rootlink', 'real')
    await mkdir(real, { recursive: true })
    const link = path.join(top, 'rootlink', 'link')
    await symlink(real, link)
    const store = new FsStore({ root: link, fsync: false })
    await store.put('a/b', Buffer.from('through the root link'))
    assert.equal((await store.get('a/b'))?.data.toString(), 'through the root link')
    assert.deepEqual(await keys(store.list('')), ['a/b'])
    assert.equal(await readFile(path.join(real, 'a', 'b'), 'utf8'), 'through the root link')
    await store.delete('a/b')
    assert.deepEqual((await readdir(real)).sort(), [FS_TMP_DIR])
  })
})

describe('FsStore folders', () => {
  test('delete removes the folders it empties, up to the root and no further', async () => {
    const root = path.join(top, 'prune')
    const store = new FsStore({ root, fsync: false })
    await store.put('a/b/c/x', Buffer.from('1'))
    await store.put('a/keep', Buffer.from('2'))
    await store.delete('a/b/c/x')
    assert.deepEqual((await readdir(path.join(root, 'a'))).sort(), ['keep'])
    await store.delete('a/keep')
    assert.deepEqual((await readdir(root)).sort(), [FS_TMP_DIR])
    await store.put('top', Buffer.from('3'))
    await store.delete('top')
    assert.ok((await stat(root)).isDirectory(), 'the root is never removed')
  })

  test('a put whose folder a delete removes between mkdir and publishing tries again (all modes)', async () => {
    // Deterministic interleaving: FsStore calls fs.promises.mkdir at call time, so the test runs a
    // whole delete of the folder's last object right after the put has created the folder.
    const root = path.join(top, 'window')
    const store = new FsStore({ root, fsync: false })
    const realMkdir = fsp.mkdir
    try {
      for (const mode of ['overwrite', 'create', 'ifMatch'] as const) {
        const v = await store.put(`f/${mode}`, Buffer.from('before'))
        await store.put('f/old', Buffer.from('old'))
        let interleaved = 0
        fsp.mkdir = (async (dir: string, opts: object) => {
          const out = await realMkdir(dir, opts)
          if (dir === path.join(root, 'f') && interleaved === 0) {
            interleaved++
            await store.delete(`f/${mode}`)
            await store.delete('f/old') // the folder is now empty and removed
            assert.equal(await lstat(path.join(root, 'f')).catch(() => undefined), undefined)
          }
          return out
        }) as typeof fsp.mkdir
        const put = mode === 'overwrite' ? store.put('f/overwrite', Buffer.from('after'))
          : mode === 'create' ? store.put('f/create', Buffer.from('after'), { mode: 'create' })
            : store.put('f/ifMatch', Buffer.from('after'), { mode: { ifMatch: v.version ?? '' } })
        if (mode === 'ifMatch') {
          // The object it was to replace is gone: a conflict, and nothing is written.
          await assert.rejects(put, (e) => isSeglogError(e, 'ERR_CONFLICT'))
          assert.equal(await store.head('f/ifMatch'), undefined)
        } else {
          await put
          assert.equal((await store.get(`f/${mode}`))?.data.toString(), 'after', mode)
        }
        assert.equal(interleaved, 1, mode)
        fsp.mkdir = realMkdir
        await store.delete(`f/${mode}`)
      }
    } finally {
      fsp.mkdir = realMkdir
    }
    assert.deepEqual((await readdir(root)).sort(), [FS_TMP_DIR])
  })

  test('puts racing deletes in one folder: every acknowledged put that was not deleted is there', async () => {
    const root = path.join(top, 'race')
    const store = new FsStore({ root, fsync: false })
    for (let round = 0; round < 300; round++) {
      const dir = `d${round % 3}`
      await store.put(`${dir}/old`, Buffer.from('old'))
      const results = await Promise.allSettled([
        store.delete(`${dir}/old`),
        store.put(`${dir}/n${round}`, Buffer.from(`v${round}`)),
        store.put(`${dir}/m${round}`, Buffer.from(`w${round}`), { mode: 'create' }),
      ])
      for (const r of results) assert.equal(r.status, 'fulfilled', r.status === 'rejected' ? String(r.reason) : '')
      assert.equal((await store.get(`${dir}/n${round}`))?.data.toString(), `v${round}`)
      assert.equal((await store.get(`${dir}/m${round}`))?.data.toString(), `w${round}`)
      await Promise.all([store.delete(`${dir}/n${round}`), store.delete(`${dir}/m${round}`)])
    }
    assert.deepEqual((await readdir(root)).sort(), [FS_TMP_DIR])
  })
})

describe('FsStore temporary files', () => {
  const startWriter = async (root: string, key: string): Promise<ReturnType<typeof fork>> => {
    const child = fork(path.join(here, 'fs-writer-child.js'), [root, key, String(4 * 1024 * 1024)], {
      env: { ...process.env, SEGLOG_TEST_CHILD: 'fs-writer' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    const [msg] = await Promise.race([
      once(child, 'message'),
      once(child, 'exit').then(([code]) => { throw new Error(`writer exited with ${String(code)} before writing`) }),
    ]) as [unknown]
    assert.equal(msg, 'mid-write')
    return child
  }

  test('a live writer\'s temp file is kept; once it is SIGKILLed, the next sweep removes it', async () => {
    const root = path.join(top, 'killed')
    const tmp = path.join(root, FS_TMP_DIR)
    const writer = await startWriter(root, 'big/object')
    try {
      const [name] = await readdir(tmp)
      assert.ok(name !== undefined)
      assert.equal((await stat(path.join(tmp, name))).size, 2 * 1024 * 1024, 'the writer is mid-write')
      const store = new FsStore({ root, fsync: false, staleTempMs: 0 })
      // Even with no age bound, a running writer's file is never removed.
      assert.equal(await store.sweepTemp(), 0)
      assert.deepEqual(await readdir(tmp), [name])

      const exited = once(writer, 'exit')
      writer.kill('SIGKILL')
      const [, signal] = await exited as [number | null, string | null]
      assert.equal(signal, 'SIGKILL')
      assert.deepEqual(await readdir(tmp), [name], 'the killed writer left its temp file')
      assert.equal(await store.sweepTemp(), 1)
      assert.deepEqual(await readdir(tmp), [])
      assert.equal(await store.head('big/object'), undefined)
    } finally {
      writer.kill('SIGKILL')
    }
  })

  test('the first put of a new store sweeps in the background; close() waits for it', async () => {
    const root = path.join(top, 'lazy')
    const tmp = path.join(root, FS_TMP_DIR)
    const writer = await startWriter(root, 'x')
    const exited = once(writer, 'exit')
    writer.kill('SIGKILL')
    await exited
    assert.equal((await readdir(tmp)).length, 1)
    const store = new FsStore({ root, fsync: false })
    await store.put('y', Buffer.from('y'))
    await store.close()
    assert.deepEqual(await readdir(tmp), [])
    assert.equal((await store.get('y'))?.data.toString(), 'y')
  })

  test('files whose writer cannot be checked are removed only after staleTempMs, on the injected clock', async () => {
    const root = path.join(top, 'stale')
    const tmp = path.join(root, FS_TMP_DIR)
    await mkdir(tmp, { recursive: true })
    const foreign = ['0123456789ab-1-1-0123456789abcdef.tmp', '4242-0123456789abcdef', 'junk']
    const t0 = Date.parse('2026-01-01T00:00:00Z')
    for (const f of foreign) {
      await writeFile(path.join(tmp, f), 'partial')
      await utimes(path.join(tmp, f), t0 / 1000, t0 / 1000)
    }
    // One of this process's own names: its writer (us) is alive, so it stays whatever its age.
    const mine = tempName()
    await writeFile(path.join(tmp, mine), 'ours')
    await utimes(path.join(tmp, mine), t0 / 1000, t0 / 1000)
    let now = t0 + 60_000
    const store = new FsStore({ root, fsync: false, staleTempMs: 60_000, now: () => now })
    assert.equal(await store.sweepTemp(), 0)
    assert.deepEqual((await readdir(tmp)).sort(), [...foreign, mine].sort())
    now = t0 + 60_001
    assert.equal(await store.sweepTemp(), foreign.length)
    assert.deepEqual(await readdir(tmp), [mine])
  })

  test('a dead process on this host is recognised by pid and by start time (pid reuse)', async () => {
    const root = path.join(top, 'reuse')
    const tmp = path.join(root, FS_TMP_DIR)
    await mkdir(tmp, { recursive: true })
    const mine = tempName()
    const [host, pid, start, rest] = mine.split('-')
    // Our pid with another start time: an earlier process that had our pid. Only checkable with procfs.
    const reused = `${host}-${pid}-${start === '0' ? '0' : String(Number(start) + 1)}-${rest}`
    await writeFile(path.join(tmp, reused), 'x')
    await writeFile(path.join(tmp, mine), 'x')
    const store = new FsStore({ root, fsync: false })
    assert.equal(await store.sweepTemp(), start === '0' ? 0 : 1)
    assert.ok((await readdir(tmp)).includes(mine))
  })

  test('options are checked', () => {
    assert.throws(() => new FsStore({ root: top, staleTempMs: -1 }), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
    assert.throws(() => new FsStore({ root: '' }), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
  })
})
