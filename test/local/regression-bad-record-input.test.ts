// Regression tests for issue 10 defect 5 (a detached buffer poisons the log) and lone surrogates.
//
// append()/appendBatch() of a view whose ArrayBuffer had been transferred threw a synchronous
// TypeError after the batch header or index entries were already reserved; records acknowledged
// later then read as ERR_CORRUPT or as wrong bytes. Every input is now checked before any state
// changes, and a bad one is a rejected promise. Strings with lone UTF-16 surrogates were stored
// changed (U+FFFD); they are now rejected.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isSeglogError, Log, type SeglogErrorCode } from '../../src/index.js'
import { tmpDir } from '../helpers/tmp.js'

function detachedView(): Uint8Array {
  const buffer = new ArrayBuffer(16)
  const view = new Uint8Array(buffer)
  view.fill(7)
  structuredClone(buffer, { transfer: [buffer] })
  assert.equal(view.byteLength, 0, 'the view is detached')
  return view
}

/** Calls `op` expecting a rejected promise (never a synchronous throw) with `code`. */
async function rejectsWith(op: () => Promise<unknown>, code: SeglogErrorCode): Promise<void> {
  let promise: Promise<unknown>
  try {
    promise = op()
  } catch (err) {
    return assert.fail(`threw synchronously instead of rejecting: ${String(err)}`)
  }
  await assert.rejects(promise, (err) => isSeglogError(err, code))
}

async function contents(log: Log): Promise<string[]> {
  const out: string[] = []
  for await (const r of log.iterate()) out.push(r.data.toString())
  return out
}

for (const sync of ['always', 'never'] as const) {
  test(`sync ${sync}: a detached buffer is rejected with ERR_INVALID_ARGUMENT before anything changes; records before and after stay intact`, async (t) => {
    const dir = tmpDir(t)
    const log = await Log.open(dir, { sync })
    await log.append('a')
    const pendingBefore = log.append('b') // in the open batch when the bad record arrives
    await rejectsWith(() => log.append(detachedView()), 'ERR_INVALID_ARGUMENT')
    await rejectsWith(() => log.appendBatch([Buffer.from('x'), detachedView()]), 'ERR_INVALID_ARGUMENT')
    await rejectsWith(() => log.appendBatch([detachedView()]), 'ERR_INVALID_ARGUMENT')
    assert.equal(await pendingBefore, 1)
    assert.equal(await log.append('c'), 2)
    assert.deepEqual(await log.appendBatch(['d', 'e']), { first: 3, last: 4 })
    assert.equal(await log.append(new Uint8Array(0)), 5, 'an empty record (not detached) is fine')
    assert.deepEqual(await contents(log), ['a', 'b', 'c', 'd', 'e', ''])
    await log.close()
    const reopened = await Log.open(dir)
    try {
      assert.deepEqual(await contents(reopened), ['a', 'b', 'c', 'd', 'e', ''])
      assert.equal((await reopened.read(4))?.data.toString(), 'e')
    } finally {
      await reopened.close()
    }
  })
}

test('a buffer transferred while its appendBatch waits for a truncate is rejected, and nothing is written', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'never' })
  await log.appendBatch(['a', 'b', 'c'])
  const buffer = new ArrayBuffer(4)
  const view = new Uint8Array(buffer)
  const truncating = log.truncate(2)
  const appending = log.appendBatch([Buffer.from('y'), view]) // waits for the truncate
  structuredClone(buffer, { transfer: [buffer] })
  await truncating
  await assert.rejects(appending, (err) => isSeglogError(err, 'ERR_INVALID_ARGUMENT'))
  assert.equal(await log.append('z'), 2)
  assert.deepEqual(await contents(log), ['a', 'b', 'z'])
  await log.close()
})

test('strings with lone UTF-16 surrogates are rejected (they cannot be stored unchanged); surrogate pairs are fine', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir, { sync: 'never' })
  await log.append('before')
  await rejectsWith(() => log.append('x\uD800y'), 'ERR_INVALID_ARGUMENT')
  await rejectsWith(() => log.append('\uDC00'), 'ERR_INVALID_ARGUMENT')
  await rejectsWith(() => log.append('tail\uD83D'), 'ERR_INVALID_ARGUMENT')
  await rejectsWith(() => log.appendBatch(['fine', 'bad\uDFFF']), 'ERR_INVALID_ARGUMENT')
  await rejectsWith(() => log.append('x'.repeat(1 << 20) + '\uD800'), 'ERR_INVALID_ARGUMENT')
  assert.equal(await log.append('pair \uD83D\uDE00'), 1)
  assert.equal(await log.append('after'), 2)
  assert.deepEqual(await contents(log), ['before', 'pair 😀', 'after'])
  await log.close()
  const reopened = await Log.open(dir)
  try {
    assert.deepEqual(await contents(reopened), ['before', 'pair 😀', 'after'])
  } finally {
    await reopened.close()
  }
})

test('a bad clock or retention option fails open with ERR_INVALID_ARGUMENT and leaves the log as it was', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir)
  await log.appendBatch(['a', 'b'])
  await log.close()
  const bad: unknown[] = [{ clock: {} }, { clock: { now: () => 0 } }, { clock: 'now' }, { retention: 5 }, { retention: 'old' }]
  for (const options of bad) {
    await assert.rejects(Log.open(dir, options as Parameters<typeof Log.open>[1]), (err) => isSeglogError(err, 'ERR_INVALID_ARGUMENT'), JSON.stringify(options))
  }
  const reopened = await Log.open(dir)
  try {
    assert.deepEqual(await contents(reopened), ['a', 'b'])
  } finally {
    await reopened.close()
  }
})
