import assert from 'node:assert/strict'
import { execFile, spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import os from 'node:os'
import { Log, SeglogError, type FileSystem } from '../../src/index.js'
import { nodeFileSystem } from '../../src/testing/index.js'
import { crashImage, PowerLossFs, prng } from '../helpers/power-loss-fs.js'
import { tmpDir } from '../helpers/tmp.js'

const tryOpen = fileURLToPath(new URL('../fixtures/try-open.js', import.meta.url))
const run = promisify(execFile)

test('a second writer, in this process or another, gets ERR_LOCKED and changes nothing', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir)
  await log.append('mine')
  await assert.rejects(Log.open(dir), { code: 'ERR_LOCKED' })
  const { stdout } = await run(process.execPath, [tryOpen, dir])
  assert.deepEqual(JSON.parse(stdout), { ok: false, code: 'ERR_LOCKED' })
  assert.equal(await log.append('still mine'), 1)
  await log.close()
  const again = await Log.open(dir)
  assert.equal(again.nextOffset, 2)
  assert.equal((await again.read(1))?.data.toString(), 'still mine')
  await again.close()
})

test('a lock left by a killed process is reclaimed', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir)
  await log.append('before')
  await log.close()
  const dead = spawnSync(process.execPath, ['-e', '0'])
  fs.writeFileSync(path.join(dir, 'LOCK'), JSON.stringify({ pid: dead.pid, start: '1', host: (await import('node:os')).hostname() }))
  const { stdout } = await run(process.execPath, [tryOpen, dir])
  assert.deepEqual(JSON.parse(stdout), { ok: true, off: 1 })
  const again = await Log.open(dir)
  assert.equal((await again.read(0))?.data.toString(), 'before')
  await again.close()
})

test('readOnly opens take no lock and follow a writer in another process', async (t) => {
  const dir = tmpDir(t)
  const writer = await Log.open(dir, { sync: 'never', segmentBytes: 2048 })
  for (let i = 0; i < 10; i++) await writer.append(`w${i}`.padEnd(60, '.'))
  await writer.sync()
  const reader = await Log.open(dir, { readOnly: true, followPollMs: 5 })
  assert.equal(reader.nextOffset, 10)
  const ac = new AbortController()
  const seen: string[] = []
  const following = (async () => {
    for await (const rec of reader.iterate({ follow: true, signal: ac.signal })) {
      seen.push(rec.data.toString())
      if (seen.length === 200) ac.abort()
    }
  })()
  for (let i = 10; i < 200; i++) await writer.append(`w${i}`.padEnd(60, '.'))
  await writer.sync()
  await following
  assert.deepEqual(seen, Array.from({ length: 200 }, (_, i) => `w${i}`.padEnd(60, '.')))
  assert.ok(writer.segmentsInfo().length > 1, 'the follower crossed segment rolls')
  await assert.rejects(reader.append('nope'), { code: 'ERR_READ_ONLY' })
  await assert.rejects(reader.truncate(0), { code: 'ERR_READ_ONLY' })
  await reader.close()
  await writer.close()
})

/** A log in `dir` holding records "r0".."r{n-1}", closed. */
async function seed(dir: string, n = 3): Promise<void> {
  const log = await Log.open(dir)
  for (let i = 0; i < n; i++) await log.append(`r${i}`)
  await log.close()
}

/** Every record is still there (read without taking the lock). */
async function assertIntact(dir: string, n = 3): Promise<void> {
  const log = await Log.open(dir, { readOnly: true })
  assert.equal(log.nextOffset, n)
  for (let i = 0; i < n; i++) assert.equal((await log.read(i))?.data.toString(), `r${i}`)
  await log.close()
}

function lockFileOf(owner: Record<string, unknown>): string {
  return JSON.stringify(owner)
}

/** The start time /proc gives for `pid` (field 22 of /proc/<pid>/stat). */
function startOf(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
}

for (const [name, bytes] of [['empty', ''], ['torn', '{"pid":12'], ['foreign', 'not a lock'], ['oversized', ' '.repeat(100_000)]] as const) {
  test(`a LOCK file that is ${name} is held, never stale: ERR_LOCKED that says how to clear it, and nothing changes`, async (t) => {
    const dir = tmpDir(t)
    await seed(dir)
    const lock = path.join(dir, 'LOCK')
    fs.writeFileSync(lock, bytes)
    const err = await Log.open(dir).then(() => undefined, (e: unknown) => e)
    assert.ok(err instanceof SeglogError && err.code === 'ERR_LOCKED', String(err))
    assert.match(err.message, /delete .*LOCK and open again/)
    assert.equal(fs.readFileSync(lock, 'utf8'), bytes, 'the lock file is untouched')
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('LOCK')), ['LOCK'], 'no temp file is left behind')
    await assertIntact(dir)
    fs.unlinkSync(lock)
    const log = await Log.open(dir)
    assert.equal(await log.append('r3'), 3)
    await log.close()
  })
}

for (const kind of ['directory', 'symlink', 'dangling symlink'] as const) {
  test(`a LOCK that is a ${kind} gives ERR_IO saying what to do, and nothing changes`, async (t) => {
    const dir = tmpDir(t)
    await seed(dir)
    const lock = path.join(dir, 'LOCK')
    const target = path.join(dir, 'elsewhere')
    if (kind === 'directory') {
      fs.mkdirSync(lock)
    } else {
      if (kind === 'symlink') fs.writeFileSync(target, lockFileOf({ pid: process.pid, host: os.hostname() }))
      fs.symlinkSync(target, lock)
    }
    const err = await Log.open(dir).then(() => undefined, (e: unknown) => e)
    assert.ok(err instanceof SeglogError && err.code === 'ERR_IO', String(err))
    assert.match(err.message, /not a lock file .*remove .*LOCK and open again/)
    assert.equal(fs.lstatSync(lock).isDirectory(), kind === 'directory')
    await assertIntact(dir)
  })
}

test('a lock file that cannot be read or written gives ERR_IO, never a raw errno, and nothing changes', async (t) => {
  const dir = tmpDir(t)
  await seed(dir)
  const eacces = (file: string): NodeJS.ErrnoException => Object.assign(new Error(`EACCES: permission denied, '${file}'`), { code: 'EACCES' })
  fs.writeFileSync(path.join(dir, 'LOCK'), lockFileOf({ pid: process.pid, host: os.hostname() }))
  const unreadable: FileSystem = { ...nodeFileSystem, readFile(file) { if (file.endsWith('LOCK')) throw eacces(file); return nodeFileSystem.readFile(file) } }
  await assert.rejects(Log.open(dir, { fileSystem: unreadable }), (err: unknown) => err instanceof SeglogError && err.code === 'ERR_IO' && /permissions/.test(err.message))
  fs.unlinkSync(path.join(dir, 'LOCK'))
  // Log.open writes the lock's temp file through a handle (its fdatasync overlaps recovery's look ahead), Log.repair through writeFile.
  const readOnlyDir: FileSystem = {
    ...nodeFileSystem,
    writeFile(file, data, sync) { if (path.basename(file).startsWith('LOCK')) throw eacces(file); nodeFileSystem.writeFile(file, data, sync) },
    open(file, mode) { if (path.basename(file).startsWith('LOCK') && mode !== 'read') throw eacces(file); return nodeFileSystem.open(file, mode) },
  }
  await assert.rejects(Log.open(dir, { fileSystem: readOnlyDir }), (err: unknown) => err instanceof SeglogError && err.code === 'ERR_IO')
  await assert.rejects(Log.repair(dir, { fileSystem: readOnlyDir }), (err: unknown) => err instanceof SeglogError && err.code === 'ERR_IO')
  const failingLink: FileSystem = { ...nodeFileSystem, link(from, to) { throw Object.assign(new Error(`EIO: i/o error, link '${from}' -> '${to}'`), { code: 'EIO' }) } }
  await assert.rejects(Log.open(dir, { fileSystem: failingLink }), (err: unknown) => err instanceof SeglogError && err.code === 'ERR_IO')
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('LOCK')), [], 'no lock and no temp file is left behind')
  await assertIntact(dir)
})

test('a lock whose pid is not a real process id (0, negative, fractional) is held: kill() is never aimed at a process group', async (t) => {
  const dir = tmpDir(t)
  await seed(dir)
  for (const pid of [0, -1, 1.5]) {
    fs.writeFileSync(path.join(dir, 'LOCK'), lockFileOf({ pid, start: '', host: os.hostname() }))
    await assert.rejects(Log.open(dir), { code: 'ERR_LOCKED' })
  }
  await assertIntact(dir)
})

test('a lock from another host is held; one from an earlier boot of this host is stale even if its pid runs now', async (t) => {
  const dir = tmpDir(t)
  await seed(dir)
  const dead = spawnSync(process.execPath, ['-e', '0']).pid as number
  fs.writeFileSync(path.join(dir, 'LOCK'), lockFileOf({ pid: dead, start: '1', host: `not-${os.hostname()}` }))
  await assert.rejects(Log.open(dir), (err: unknown) => err instanceof SeglogError && err.code === 'ERR_LOCKED' && err.details.pid === dead)
  // Our own pid and start time, but another boot: the process that wrote it died at the reboot.
  fs.writeFileSync(path.join(dir, 'LOCK'), lockFileOf({ pid: process.pid, start: startOf(process.pid), host: os.hostname(), boot: 'an-earlier-boot' }))
  const log = await Log.open(dir)
  assert.equal(Log.lockHolder(dir)?.pid, process.pid)
  assert.equal(await log.append('r3'), 3)
  await log.close()
})

test('a lock whose owner is a zombie (exited, not yet reaped) is reclaimed', async (t) => {
  const dir = tmpDir(t)
  await seed(dir)
  // The inner shell prints its pid and exits; its parent has exec'd sleep, which never reaps it.
  const parent = spawn('sh', ['-c', 'sh -c \'echo $$\' & exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] })
  t.after(() => { parent.kill('SIGKILL') })
  const [line] = (await once(parent.stdout, 'data')) as [Buffer]
  const zombie = Number(line.toString().trim())
  let state = ''
  while (state !== 'Z') {
    await new Promise<void>((resolve) => setImmediate(resolve))
    const stat = fs.readFileSync(`/proc/${zombie}/stat`, 'utf8')
    state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]
  }
  fs.writeFileSync(path.join(dir, 'LOCK'), lockFileOf({ pid: zombie, start: startOf(zombie), host: os.hostname() }))
  assert.equal(Log.lockHolder(dir)?.alive, false)
  const log = await Log.open(dir)
  assert.equal(await log.append('r3'), 3)
  await log.close()
})

test('the lock goes through the FileSystem seam: it lives in the simulated file system, never on disk', async (t) => {
  const dir = tmpDir(t)
  const sim = new PowerLossFs()
  const log = await Log.open(dir, { fileSystem: sim.view() })
  const lock = sim.liveFiles(dir).get('LOCK')
  assert.equal(lock && JSON.parse(lock.toString()).pid, process.pid)
  assert.deepEqual(fs.readdirSync(dir), [], 'nothing on the real disk')
  await assert.rejects(Log.open(dir, { fileSystem: sim.view() }), { code: 'ERR_LOCKED' })
  await log.close()
  assert.deepEqual([...sim.liveFiles(dir).keys()].filter((n) => n.startsWith('LOCK')), [], 'close released the lock and no temp is left')
})

test('a power cut at any instant of taking the lock leaves no LOCK or a complete one, never an empty or torn one', async (t) => {
  const dir = tmpDir(t)
  const snaps: ReturnType<PowerLossFs['snapshot']>[] = []
  const sim: PowerLossFs = new PowerLossFs({ onOp: (label) => { snaps.push(sim.snapshot(label)) } })
  const log = await Log.open(dir, { fileSystem: sim.view() })
  await log.close()
  const rng = prng(17)
  let withLock = 0
  for (const snap of snaps) {
    for (let i = 0; i < 8; i++) {
      const lock = crashImage(snap, dir, rng, { keepLock: true }).files.get('LOCK')
      if (lock === undefined) continue
      withLock++
      const owner = JSON.parse(lock.toString()) as { pid: number }
      assert.equal(owner.pid, process.pid, `at ${snap.label}`)
    }
  }
  assert.ok(withLock > 0, 'some images kept the lock')
})

test('an open that fails after taking the lock releases it and leaves no lock file behind', async (t) => {
  const dir = tmpDir(t)
  await seed(dir)
  const failingRecovery: FileSystem = {
    ...nodeFileSystem,
    readdir(d) {
      throw Object.assign(new Error(`EIO: i/o error, scandir '${d}'`), { code: 'EIO' })
    },
  }
  await assert.rejects(Log.open(dir, { fileSystem: failingRecovery }), { code: 'ERR_IO' })
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('LOCK')), [])
  const log = await Log.open(dir)
  assert.equal(await log.append('r3'), 3)
  await log.close()
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('LOCK')), [], 'close released it too')
})

test('on a file system without hard links the lock still works: created exclusively, held while written, released on close', async (t) => {
  const dir = tmpDir(t)
  await seed(dir)
  const noLinks: FileSystem = {
    ...nodeFileSystem,
    link(from, to) {
      throw Object.assign(new Error(`EPERM: operation not permitted, link '${from}' -> '${to}'`), { code: 'EPERM' })
    },
  }
  const log = await Log.open(dir, { fileSystem: noLinks })
  assert.equal(Log.lockHolder(dir)?.pid, process.pid)
  await assert.rejects(Log.open(dir, { fileSystem: noLinks }), { code: 'ERR_LOCKED' })
  await assert.rejects(Log.open(dir), { code: 'ERR_LOCKED' })
  assert.equal(await log.append('r3'), 3)
  await log.close()
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('LOCK')), [])
  // A stale lock is reclaimed there too (its claim is created the same way).
  const dead = spawnSync(process.execPath, ['-e', '0']).pid as number
  fs.writeFileSync(path.join(dir, 'LOCK'), lockFileOf({ pid: dead, start: '1', host: os.hostname() }))
  const again = await Log.open(dir, { fileSystem: noLinks })
  assert.equal(Log.lockHolder(dir)?.pid, process.pid)
  await again.close()
  await assertIntact(dir, 4)
})
