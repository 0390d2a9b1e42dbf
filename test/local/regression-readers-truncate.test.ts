// Regression tests for issue 10 defect 6: readers across truncate().
//
// An in-process iterate() went on yielding records that truncate() had removed, then failed with a
// false ERR_CORRUPT telling the user to repair a healthy log; a read-only follower never saw another
// record (it waited for the file to grow past its old size); a read-only read() returned bytes that
// were never written (a short read into an uninitialised buffer). Readers now check the log's
// truncate generation: they continue when nothing they handed out was removed, fail with
// ERR_TRUNCATED when something was, and never serve bytes from before the truncate.
// Also: the in-order iterator trusted each batch's base offset; a checksum-valid but misplaced
// batch now fails with ERR_CORRUPT instead of silently repeating or skipping offsets.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { isSeglogError, Log } from '../../src/index.js'
import { payload, tmpDir } from '../helpers/tmp.js'

function rec(i: number, generation: number): Buffer {
  return payload(i * 10 + generation, 64 + ((i * 37 + generation * 11) % 200))
}

test('an in-process iterator that handed out removed records fails with ERR_TRUNCATED; one that did not continues with the new content', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'never', segmentBytes: 4096 })
  for (let i = 0; i < 40; i++) await log.append(rec(i, 0))
  const ahead = log.iterate()
  const behind = log.iterate()
  for (let i = 0; i < 30; i++) assert.deepEqual((await ahead.next()).value?.data, rec(i, 0))
  for (let i = 0; i < 5; i++) assert.deepEqual((await behind.next()).value?.data, rec(i, 0))
  await log.truncate(20)
  for (let i = 20; i < 45; i++) assert.equal(await log.append(rec(i, 1)), i)
  await assert.rejects(ahead.next(), (err) => isSeglogError(err, 'ERR_TRUNCATED') && err.details.truncatedAt === 20)
  assert.deepEqual(await ahead.next(), { value: undefined, done: true }, 'a failed iterator is finished')
  const seen: Buffer[] = []
  for (let r = await behind.next(); !r.done; r = await behind.next()) {
    assert.equal(r.value.offset, 5 + seen.length, 'offsets stay contiguous')
    seen.push(Buffer.from(r.value.data))
  }
  assert.equal(seen.length, 40)
  for (let i = 5; i < 45; i++) assert.deepEqual(seen[i - 5], rec(i, i < 20 ? 0 : 1), `offset ${i}`)
  await log.close()
})

test('a following iterator waiting at the end learns of a truncate below it (ERR_TRUNCATED) instead of waiting forever', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'never' })
  for (let i = 0; i < 10; i++) await log.append(rec(i, 0))
  const follower = log.iterate({ follow: true, signal: AbortSignal.timeout(20_000) })
  for (let i = 0; i < 10; i++) await follower.next()
  const waiting = follower.next().then((r) => r, (err: unknown) => err)
  await log.truncate(4)
  await log.append(rec(4, 1))
  const outcome = await waiting
  assert.ok(isSeglogError(outcome, 'ERR_TRUNCATED'), `got ${String(outcome)}`)
  await log.close()
})

test('a read-only follower sees a truncate by the writer: it fails if it handed out removed records, else continues with the new content', async (t) => {
  const dir = tmpDir(t)
  const writer = await Log.open(dir, { sync: 'always', segmentBytes: 4096 })
  for (let i = 0; i < 60; i++) await writer.append(rec(i, 0))
  const reader = await Log.open(dir, { readOnly: true, followPollMs: 5 })
  try {
    // Safety net only: without the fix the follower waits forever; it must fail, not hang.
    const signal = AbortSignal.timeout(20_000)
    const ahead = reader.iterate({ follow: true, signal })
    for (let i = 0; i < 60; i++) assert.deepEqual((await ahead.next()).value?.data, rec(i, 0))
    const behind = reader.iterate({ follow: true, signal })
    for (let i = 0; i < 10; i++) assert.deepEqual((await behind.next()).value?.data, rec(i, 0))
    // Settled as soon as the follower notices, which may be before the appends below finish.
    const waiting = ahead.next().then((r) => r, (err: unknown) => err)
    await writer.truncate(25)
    for (let i = 25; i < 70; i++) assert.equal(await writer.append(rec(i, 1)), i)
    const outcome = await waiting
    assert.ok(isSeglogError(outcome, 'ERR_TRUNCATED') && outcome.details.truncatedAt === 25, `got ${String(outcome)}`)
    for (let i = 10; i < 70; i++) {
      const r = await behind.next()
      assert.equal(r.value?.offset, i)
      assert.deepEqual(r.value?.data, rec(i, i < 25 ? 0 : 1), `offset ${i}`)
    }
    await behind.return?.()
  } finally {
    await reader.close()
    await writer.close()
  }
})

test('read-only read() after the writer truncated returns exactly the current bytes, never bytes from before the cut or unread memory', async (t) => {
  const dir = tmpDir(t)
  const writer = await Log.open(dir, { sync: 'always', segmentBytes: 8192 })
  for (let i = 0; i < 80; i++) await writer.append(rec(i, 0))
  const reader = await Log.open(dir, { readOnly: true })
  try {
    for (let i = 0; i < 80; i += 7) assert.deepEqual((await reader.read(i))?.data, rec(i, 0))
    await writer.truncate(30)
    for (let i = 30; i < 50; i++) await writer.append(rec(i, 2))
    for (let i = 0; i < 80; i++) {
      const got = await reader.read(i)
      if (i >= 50) assert.equal(got, undefined, `offset ${i} is gone`)
      else assert.deepEqual(got?.data, rec(i, i < 30 ? 0 : 2), `offset ${i}`)
    }
    assert.equal(reader.nextOffset, 50)
  } finally {
    await reader.close()
    await writer.close()
  }
})

test('a checksum-valid batch with the wrong base offset makes iterate() fail with ERR_CORRUPT, never skip or repeat offsets', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'never' })
  for (let i = 0; i < 6; i++) await log.appendBatch([Buffer.alloc(50, i)])
  await log.close()
  // Every batch is 40 + 4 + 50 bytes: copy batch 1 over batch 3 (a duplicated, misdirected write).
  const file = path.join(dir, '00000000000000000000.log')
  const bytes = fs.readFileSync(file)
  const size = 94
  bytes.copy(bytes, 3 * size, 1 * size, 2 * size)
  fs.writeFileSync(file, bytes)
  const reopened = await Log.open(dir)
  try {
    const offsets: number[] = []
    await assert.rejects(async () => {
      for await (const r of reopened.iterate()) offsets.push(r.offset)
    }, (err) => isSeglogError(err, 'ERR_CORRUPT') && /offset 3 was expected/.test(err.message))
    assert.deepEqual(offsets, [0, 1, 2])
  } finally {
    await reopened.close()
  }
})

test('an iterator created while a truncate runs starts from the state after it, wherever it starts', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'never' })
  for (let i = 0; i < 20; i++) await log.append(rec(i, 0))
  const truncating = log.truncate(10)
  const late = log.iterate({ from: 15, follow: true, signal: AbortSignal.timeout(20_000) })
  const early = log.iterate({ from: 5 })
  await truncating
  for (let i = 10; i < 20; i++) await log.append(rec(i, 1))
  assert.deepEqual((await late.next()).value?.data, rec(15, 1))
  const offsets: number[] = []
  for await (const r of early) offsets.push(r.offset)
  assert.deepEqual(offsets, [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19])
  await late.return?.()
  await log.close()
})

test('a read-only follower in this process follows a writer in another process across its truncate', async (t) => {
  const dir = tmpDir(t)
  const { spawn } = await import('node:child_process')
  const { fileURLToPath } = await import('node:url')
  const index = fileURLToPath(new URL('../../src/index.js', import.meta.url))
  // The writer: 30 records, then (on a line from us) truncate(12) and 20 new records, then exit.
  const script = `
    import { Log } from ${JSON.stringify(index)}
    import readline from 'node:readline'
    const rec = (i, g) => Buffer.from(\`\${i}:\${g}:\` + 'x'.repeat((i * 13 + g * 7) % 90))
    const log = await Log.open(process.argv[1], { sync: 'always' })
    for (let i = 0; i < 30; i++) await log.append(rec(i, 0))
    console.log('appended')
    const lines = readline.createInterface({ input: process.stdin })
    for await (const _ of lines) break
    await log.truncate(12)
    for (let i = 12; i < 32; i++) await log.append(rec(i, 1))
    await log.close()
    console.log('done')
  `
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, dir], { stdio: ['pipe', 'pipe', 'inherit'] })
  const said = (word: string): Promise<void> => new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      if (chunk.toString().includes(word)) {
        child.stdout.off('data', onData)
        resolve()
      }
    }
    child.stdout.on('data', onData)
    child.once('exit', (code) => reject(new Error(`writer exited with ${code} before saying ${word}`)))
  })
  const expect = (i: number, g: number): string => `${i}:${g}:` + 'x'.repeat((i * 13 + g * 7) % 90)
  await said('appended')
  const reader = await Log.open(dir, { readOnly: true, followPollMs: 5 })
  try {
    const signal = AbortSignal.timeout(30_000) // safety net: the follower must not hang
    const ahead = reader.iterate({ follow: true, signal })
    const behind = reader.iterate({ follow: true, signal })
    for (let i = 0; i < 30; i++) assert.equal((await ahead.next()).value?.data.toString(), expect(i, 0))
    for (let i = 0; i < 8; i++) assert.equal((await behind.next()).value?.data.toString(), expect(i, 0))
    const waiting = ahead.next().then((r) => r, (err: unknown) => err)
    const finished = said('done')
    child.stdin.write('go\n')
    await finished
    const outcome = await waiting
    assert.ok(isSeglogError(outcome, 'ERR_TRUNCATED') && outcome.details.truncatedAt === 12, `got ${String(outcome)}`)
    for (let i = 8; i < 32; i++) assert.equal((await behind.next()).value?.data.toString(), expect(i, i < 12 ? 0 : 1), `offset ${i}`)
    await behind.return?.()
  } finally {
    child.kill()
    await reader.close()
  }
})
