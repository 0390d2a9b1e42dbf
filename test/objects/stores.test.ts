import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import type { ContainerClient } from '@azure/storage-blob'
import { isSeglogError } from '../../src/errors.js'
import { AzureBlobStore, FaultStore, FsStore, MemoryStore, PrefixStore, S3Store, validateKey, withRetry } from '../../src/objects/index.js'
import { startAzurite, startS3, type AzuriteServer, type S3Server } from '../helpers/servers.js'
import { fitRangedAnswer } from '../../src/objects/ranges.js'
import { storeConformance } from '../../src/testing/store-conformance.js'

const run = `r${Date.now().toString(36)}`

test('MemoryStore conformance', async (t) => {
  await storeConformance(t, new MemoryStore({ pageSize: 7 }), run, { manyKeys: 1100 })
})

test('PrefixStore over MemoryStore conformance, and confinement', async (t) => {
  const inner = new MemoryStore()
  const store = new PrefixStore(inner, 'tenant/a')
  await storeConformance(t, store, run)
  await store.put('x/y', Buffer.from('1'))
  assert.ok(await inner.head('tenant/a/x/y'))
  assert.throws(() => new PrefixStore(inner, '../escape'), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
  assert.throws(() => new PrefixStore(inner, '/abs'), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
})

describe('FsStore', () => {
  let root: string
  before(async () => { root = await mkdtemp(path.join(tmpdir(), 'seglog-fsstore-')) })
  after(async () => { await rm(root, { recursive: true, force: true }) })

  test('conformance', async (t) => {
    await storeConformance(t, new FsStore({ root, fsync: false }), run, { manyKeys: 1100, objectAndFolder: false })
  })

  test('a reader sees each put whole or not at all', async () => {
    const store = new FsStore({ root, fsync: false })
    const versions = [Buffer.alloc(256 * 1024, 1), Buffer.alloc(512 * 1024, 2), Buffer.alloc(64 * 1024, 3)]
    let writing = true
    const writer = (async () => {
      for (let i = 0; i < 60; i++) await store.put('whole/x', versions[i % 3])
      writing = false
    })()
    let reads = 0
    while (writing) {
      const got = await store.get('whole/x')
      if (got !== undefined) {
        reads++
        assert.ok(versions.some((v) => v.equals(got.data)), `torn read of ${got.data.length} bytes`)
      }
    }
    await writer
    assert.ok(reads > 0)
  })

  test('never writes outside its root; leaves no temp files', async () => {
    const store = new FsStore({ root: path.join(root, 'inner') })
    await store.put('ok/file', Buffer.from('1'))
    await assert.rejects(store.put('../outside', Buffer.from('x')), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
    await assert.rejects(store.put('.seglog-tmp/x', Buffer.from('x')), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
    assert.ok(!(await readdir(root)).includes('outside'))
    assert.deepEqual((await readdir(path.join(root, 'inner'))).sort(), ['.seglog-tmp', 'ok'])
    assert.deepEqual(await readdir(path.join(root, 'inner', '.seglog-tmp')), [])
  })
})

test('validateKey', () => {
  assert.equal(validateKey('a/b.c'), 'a/b.c')
  for (const bad of ['..', 'a/..', '/', 'a//b']) assert.throws(() => validateKey(bad), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
})

test('withRetry retries transient faults, then gives ERR_STORE with the cause', async () => {
  const mem = new MemoryStore()
  let n = 0
  const faulty = new FaultStore(mem, (op) => (op === 'put' && n++ < 2 ? 'fail' : 'ok'))
  await withRetry(() => faulty.put('k', Buffer.from('v')), { baseDelayMs: 1 })
  assert.equal(faulty.calls.put, 3)
  const always = new FaultStore(mem, () => 'fail')
  await assert.rejects(withRetry(() => always.get('k'), { maxAttempts: 3, baseDelayMs: 1 }), (e) => {
    assert.ok(isSeglogError(e, 'ERR_STORE'))
    assert.match(e.message, /gave up after 3 attempts/)
    assert.ok(e.cause instanceof Error)
    return true
  })
  const fatal = new FaultStore(mem, () => 'fatal')
  await assert.rejects(withRetry(() => fatal.get('k'), { baseDelayMs: 1 }), (e) => isSeglogError(e, 'ERR_STORE'))
  assert.equal(fatal.calls.get, 1)
})

describe('S3Store against s3rver', () => {
  let s3: S3Server
  before(async () => { s3 = await startS3() })
  after(async () => { await s3.stop() })

  test('conformance through the enforcing proxy', async (t) => {
    const store = new S3Store({ ...s3.storeOptions })
    // s3rver's limitations, named: a ranged read of an empty object drops the connection; a put
    // racing a delete in one folder crashes it; one multi-delete that empties nested folders can
    // answer 500 (deletes are idempotent: retried); it lists folder by folder, not in key order.
    await storeConformance(t, store, run, {
      manyKeys: 1100, retryDeleteMany: true, rangedReadOfEmptyObject: false, racingPutAndDelete: false, keyOrder: 'unordered',
    })
    await store.close()
  })

  test('sends If-None-Match: * for create-only puts', async () => {
    const store = new S3Store({ ...s3.storeOptions, prefix: 'hdr' })
    const before = s3.proxy.requests.length
    await store.put('once', Buffer.from('x'), { mode: 'create' })
    const puts = s3.proxy.requests.slice(before).filter((r) => r.method === 'PUT')
    assert.equal(puts.length, 1)
    assert.equal(puts[0].headers['if-none-match'], '*')
    assert.match(puts[0].path, /^\/seglog-test\/hdr\/once(\?|$)/)
    await store.close()
  })

  test('a PUT carries the signed SHA-256 of its body and no second checksum', async () => {
    // S3 refuses a body that does not match the signed x-amz-content-sha256, so the SDK's default
    // CRC32 (a second pass over every body, two more headers) adds nothing; the store turns it off.
    const store = new S3Store({ ...s3.storeOptions, prefix: 'sum' })
    const body = randomBytes(40_000)
    const before = s3.proxy.requests.length
    await store.put('once', body, { mode: 'create' })
    await store.put('twice', body)
    const puts = s3.proxy.requests.slice(before).filter((r) => r.method === 'PUT')
    assert.equal(puts.length, 2)
    for (const p of puts) {
      assert.equal(p.headers['x-amz-content-sha256'], createHash('sha256').update(body).digest('hex'))
      assert.match(String(p.headers.authorization), /SignedHeaders=[^,]*x-amz-content-sha256/)
      assert.deepEqual(Object.keys(p.headers).filter((h) => h.startsWith('x-amz-checksum-') || h === 'x-amz-sdk-checksum-algorithm'), [])
    }
    assert.ok((await store.get('once'))?.data.equals(body))
    await store.close()
  })

  test('raw s3rver ignores create-only; the store maps 5xx to transient ERR_STORE', async () => {
    const raw = new S3Store({ ...s3.storeOptions, endpoint: s3.rawEndpoint, conditionalWrites: false })
    assert.equal(raw.enforcesCreateOnly, false)
    await raw.put(`${run}/raw`, Buffer.from('1'), { mode: 'create' })
    await raw.put(`${run}/raw`, Buffer.from('2'), { mode: 'create' }) // not enforced upstream
    await raw.close()
    const store = new S3Store({ ...s3.storeOptions })
    s3.proxy.inject({ method: 'GET', kind: 'status', status: 503 })
    await assert.rejects(store.get(`${run}/raw`), (e) => isSeglogError(e, 'ERR_STORE') && e.details.transient === true)
    assert.equal((await store.get(`${run}/raw`))?.data.toString(), '2')
    await store.close()
  })
})

describe('AzureBlobStore against Azurite', () => {
  let az: AzuriteServer
  before(async () => { az = await startAzurite() })
  after(async () => { await az.stop() })

  test('conformance', async (t) => {
    // No store prefix: startAfter reaches the service as given (an empty one once gave 403).
    const store = new AzureBlobStore({ container: az.container, connectionString: az.connectionString })
    // Azurite's limitation, named: it lists blob names in UTF-16 code-unit order.
    await storeConformance(t, store, run, { manyKeys: 1100, keyOrder: 'utf-16' })
  })

  test('unreachable endpoint is a transient ERR_STORE', async () => {
    const store = new AzureBlobStore({ container: az.container, connectionString: az.connectionString.replace(`:${az.port}/`, ':1/') })
    await assert.rejects(store.get('x'), (e) => isSeglogError(e, 'ERR_STORE') && e.details.transient === true)
  })
})

describe('ranged GET answers are checked against the range asked for', () => {
  let s3: S3Server
  before(async () => { s3 = await startS3() })
  after(async () => { await s3.stop() })

  test('a server that ignores Range (200, whole object) is sliced locally', async () => {
    const store = new S3Store({ ...s3.storeOptions, prefix: `${run}-range` })
    await store.put('r', Buffer.from('arbitrary data'))
    for (const [range, want] of [[{ start: 0, end: 2 }, 'ar'], [{ start: 3, end: 7 }, 'itra'], [{ start: 3 }, 'itrary data'], [{ start: 2, end: 100 }, 'bitrary data'], [{ start: 20 }, '']] as const) {
      const before = s3.proxy.requests.length
      s3.proxy.inject({ method: 'GET', pathIncludes: `${run}-range/r`, kind: 'ignore-range' })
      const got = await store.get('r', { range })
      assert.equal(got?.data.toString(), want, JSON.stringify(range))
      assert.equal(got?.meta.size, 14)
      // The fault was used: the answer really was the whole object with status 200.
      assert.equal(s3.proxy.requests.slice(before).filter((r) => r.method === 'GET').length, 1)
    }
    await store.close()
  })

  test('a 206 for another range than the one asked is an ERR_STORE, never the wrong bytes', async () => {
    const store = new S3Store({ ...s3.storeOptions, prefix: `${run}-range2` })
    await store.put('r', Buffer.from('arbitrary data'))
    for (const range of [{ start: 0, end: 2 }, { start: 3, end: 7 }, { start: 3 }]) {
      s3.proxy.inject({ method: 'GET', pathIncludes: `${run}-range2/r`, kind: 'shift-range' })
      await assert.rejects(store.get('r', { range }), (e) => {
        assert.ok(isSeglogError(e, 'ERR_STORE'), String(e))
        assert.equal(e.details.transient, false)
        assert.match(e.message, /not that range/)
        return true
      })
    }
    assert.equal((await store.get('r', { range: { start: 3, end: 7 } }))?.data.toString(), 'itra')
    await store.close()
  })

  test('fitRangedAnswer: only an exact Content-Range or a whole 200 body is accepted', () => {
    const body = Buffer.from('0123456789')
    assert.deepEqual(fitRangedAnswer('s', 'k', { start: 2, end: 5 }, 200, undefined, body), { data: Buffer.from('234'), size: 10 })
    assert.deepEqual(fitRangedAnswer('s', 'k', { start: 8, end: 50 }, 206, 'bytes 8-9/10', Buffer.from('89')), { data: Buffer.from('89'), size: 10 })
    const bad: [number, string | undefined, Buffer][] = [
      [206, 'bytes 0-9/10', body], // whole object as a 206
      [206, 'bytes 2-4/10', Buffer.from('2345')], // body longer than its Content-Range
      [206, undefined, Buffer.from('234')],
      [206, 'bytes 2-4/*', Buffer.from('234')],
      [204, undefined, Buffer.alloc(0)],
    ]
    for (const [status, cr, b] of bad) {
      assert.throws(() => fitRangedAnswer('s', 'k', { start: 2, end: 5 }, status, cr, b), (e) => isSeglogError(e, 'ERR_STORE'), `${status} ${cr}`)
    }
  })
})

describe('AzureBlobStore checks ranged answers too', () => {
  // A stand-in container client whose download answers as a server that ignores or shifts the
  // range would: Azurite always honours x-ms-range, and the header is signed, so no proxy can
  // drop it in front of Azurite.
  const body = Buffer.from('arbitrary data')
  const fakeClient = (answer: (offset: number, count: number | undefined) => { status: number; contentRange?: string; data: Buffer }): ContainerClient => ({
    getBlobClient: () => ({
      download: async (offset: number, count?: number) => {
        const a = answer(offset, count)
        return { _response: { status: a.status }, contentRange: a.contentRange, contentLength: a.data.length, readableStreamBody: Readable.from([a.data]), etag: '"e"', lastModified: new Date(0) }
      },
      getProperties: async () => ({ contentLength: body.length, etag: '"e"', lastModified: new Date(0) }),
    }),
  }) as unknown as ContainerClient

  test('a 200 with the whole object is sliced to the range', async () => {
    const store = new AzureBlobStore({ container: 'c', client: fakeClient(() => ({ status: 200, data: body })) })
    assert.equal((await store.get('k', { range: { start: 3, end: 7 } }))?.data.toString(), 'itra')
    assert.equal((await store.get('k', { range: { start: 3 } }))?.data.toString(), 'itrary data')
    const r = await store.get('k', { range: { start: 0, end: 2 } })
    assert.equal(r?.data.toString(), 'ar')
    assert.equal(r?.meta.size, 14)
  })

  test('a 206 for another range is a non-transient ERR_STORE', async () => {
    const store = new AzureBlobStore({
      container: 'c',
      client: fakeClient((offset, count) => {
        const first = offset + 1
        const last = count === undefined ? body.length - 1 : Math.min(offset + count, body.length - 1)
        return { status: 206, contentRange: `bytes ${first}-${last}/${body.length}`, data: body.subarray(first, last + 1) }
      }),
    })
    await assert.rejects(store.get('k', { range: { start: 3, end: 7 } }), (e) => isSeglogError(e, 'ERR_STORE') && e.details.transient === false)
  })
})
