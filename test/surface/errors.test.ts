import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MessageChannel } from 'node:worker_threads'
import { once } from 'node:events'
import { Log, SeglogError, isSeglogError, type SeglogErrorData } from '../../src/index.js'
import { tmpDir } from '../helpers/tmp.js'

test('details are typed per code: ERR_LOCKED carries the holder pid and host', async (t) => {
  const dir = tmpDir(t)
  const log = await Log.open(dir)
  await log.append('kept')
  const err: unknown = await Log.open(dir).then(() => undefined, (e: unknown) => e)
  assert.ok(isSeglogError(err, 'ERR_LOCKED'), String(err))
  // Typed access: these assignments only compile because the code narrowed the details.
  const pid: number | undefined = err.details.pid
  const host: string | undefined = err.details.host
  assert.equal(pid, process.pid)
  assert.equal(typeof host, 'string')
  assert.equal((await log.read(0))?.data.toString(), 'kept')
  await log.close()
})

test('details are typed per code: ERR_STORE, ERR_CORRUPT, ERR_OFFSET_LOST, ERR_TRUNCATED', () => {
  const store = new SeglogError('ERR_STORE', 'boom', { details: { status: 503, transient: true, op: 'put' } })
  const status: number | undefined = store.details.status
  const transient: boolean | undefined = store.details.transient
  assert.deepEqual([status, transient], [503, true])
  const corrupt = new SeglogError('ERR_CORRUPT', 'bad', { details: { file: 'a.log', position: 7 } })
  const where: [string | undefined, number | undefined] = [corrupt.details.file, corrupt.details.position]
  assert.deepEqual(where, ['a.log', 7])
  const lost = new SeglogError('ERR_OFFSET_LOST', 'gone', { details: { from: 3, to: 9, offset: 4 } })
  const range: [number | undefined, number | undefined] = [lost.details.from, lost.details.to]
  assert.deepEqual(range, [3, 9])
  const cut = new SeglogError('ERR_TRUNCATED', 'cut', { details: { truncatedAt: 5 } })
  const at: number | undefined = cut.details.truncatedAt
  assert.equal(at, 5)
  // A wrongly typed detail does not compile.
  // @ts-expect-error status is a number
  assert.ok(new SeglogError('ERR_STORE', 'x', { details: { status: 'nope' } }))
  // An un-narrowed error keeps the common details (and any other key as unknown).
  const any: SeglogError = store
  const file: string | undefined = any.details.file
  assert.equal(file, undefined)
  assert.equal(any.details.status, 503)
})

test('isSeglogError recognises an error from a second installed copy of the module', async () => {
  // A different URL is a different module instance: another SeglogError class, as with two copies.
  const other = await import(new URL('../../src/errors.js?second-copy', import.meta.url).href) as typeof import('../../src/errors.js')
  assert.notEqual(other.SeglogError, SeglogError)
  const foreign = new other.SeglogError('ERR_LOCKED', 'held', { details: { pid: 42, host: 'h' } })
  assert.equal(foreign instanceof SeglogError, false, 'instanceof cannot see it')
  assert.ok(isSeglogError(foreign, 'ERR_LOCKED'))
  assert.equal(isSeglogError(foreign, 'ERR_IO'), false)
  assert.ok(other.isSeglogError(new SeglogError('ERR_IO', 'mine')), 'and the other way round')
  assert.equal(SeglogError.from(foreign), foreign)
})

test('isSeglogError rejects look-alikes that are not errors, and errors with other names or codes', () => {
  assert.equal(isSeglogError({ name: 'SeglogError', code: 'ERR_IO', message: 'm' }), false, 'plain data is not an error')
  assert.equal(isSeglogError(Object.assign(new Error('m'), { code: 'ERR_IO' })), false, 'a Node errno-style error is not ours')
  assert.equal(isSeglogError(Object.assign(new Error('m'), { name: 'SeglogError', code: 'ENOENT' })), false)
  assert.ok(isSeglogError(Object.assign(new Error('m'), { name: 'SeglogError', code: 'ERR_IO' })), 'an older copy without the brand')
  const branded = Object.assign(new Error('m'), { name: 'RenamedByAFramework', code: 'ERR_IO', [Symbol.for('seglog.SeglogError')]: true })
  assert.ok(isSeglogError(branded, 'ERR_IO'), 'the brand alone is enough, whatever the name')
  assert.equal(Object.getOwnPropertySymbols(new SeglogError('ERR_IO', 'm')).length, 0, 'the brand is on the prototype')
  assert.equal(isSeglogError(null), false)
  assert.equal(isSeglogError('ERR_IO'), false)
})

test('postMessage: a raw clone keeps only the message; toJSON() survives and SeglogError.from rebuilds it', async () => {
  const original = new SeglogError('ERR_CORRUPT', 'segment 0 is damaged', { details: { file: '00.log', position: 12 }, cause: new Error('inner') })
  const { port1, port2 } = new MessageChannel()
  try {
    port1.postMessage({ raw: original, data: original.toJSON() })
    const [msg] = await once(port2, 'message') as [{ raw: unknown; data: SeglogErrorData }]
    // Structured cloning drops an Error's name, own properties and symbols: documented, not recognisable.
    assert.ok(msg.raw instanceof Error)
    assert.equal(msg.raw.message, 'segment 0 is damaged')
    assert.equal(isSeglogError(msg.raw), false)
    const revived = SeglogError.from(msg.data)
    assert.ok(revived && isSeglogError(revived, 'ERR_CORRUPT'))
    assert.equal(revived.message, original.message)
    assert.deepEqual(revived.details, { file: '00.log', position: 12 })
  } finally {
    port1.close()
  }
  assert.deepEqual(JSON.parse(JSON.stringify(original)), { name: 'SeglogError', code: 'ERR_CORRUPT', message: 'segment 0 is damaged', details: { file: '00.log', position: 12 } })
  assert.equal(SeglogError.from({ name: 'SeglogError', code: 'nope', message: 'm' }), undefined)
  assert.equal(SeglogError.from({ name: 'Error', code: 'ERR_IO', message: 'm' }), undefined)
  assert.equal(SeglogError.from(undefined), undefined)
})
