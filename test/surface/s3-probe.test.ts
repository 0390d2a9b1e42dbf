import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { isSeglogError } from '../../src/errors.js'
import { Journal } from '../../src/journal/index.js'
import { S3Store } from '../../src/objects/index.js'
import { startS3, type S3Server } from '../helpers/servers.js'

async function values(j: Journal<number>): Promise<number[]> {
  const out: number[] = []
  for await (const e of j.iterate()) out.push(e.value)
  return out
}

describe('S3Store on a custom endpoint: create-only writes are probed, not trusted', () => {
  let s3: S3Server
  before(async () => { s3 = await startS3() })
  after(async () => { await s3.stop() })

  test('raw s3rver overwrites a write-once object, so Journal.open refuses it by default; the data stays', async () => {
    const raw = new S3Store({ ...s3.storeOptions, endpoint: s3.rawEndpoint })
    try {
      assert.equal(raw.createOnlyUnverified, true)
      // The hazard itself: raw s3rver accepts a second create-only put of one key.
      await raw.put('hazard', Buffer.from('1'), { mode: 'create' })
      await raw.put('hazard', Buffer.from('2'), { mode: 'create' })
      assert.equal((await raw.get('hazard'))?.data.toString(), '2')
      const single = await Journal.open<number>(raw, 'raw', { singleWriter: true })
      await single.appendDurable(1)
      await single.close()
      const err: unknown = await Journal.open(raw, 'raw').then(() => undefined, (e: unknown) => e)
      assert.ok(isSeglogError(err, 'ERR_INVALID_ARGUMENT'), String(err))
      assert.match(err.message, /does not enforce create-only writes \(the probe/)
      const reader = await Journal.open<number>(raw, 'raw', { readOnly: true })
      assert.deepEqual(await values(reader), [1])
      await reader.close()
    } finally {
      await raw.close()
    }
  })

  test('behind the enforcing proxy the default probe passes and the journal writes', async () => {
    const store = new S3Store({ ...s3.storeOptions })
    try {
      const before = s3.proxy.requests.length
      const j = await Journal.open<number>(store, 'enforced')
      const probes = s3.proxy.requests.slice(before).filter((r) => r.method === 'PUT' && r.path.includes('/enforced/p/'))
      assert.equal(probes.length, 2, 'the open wrote the probe object twice')
      assert.ok(probes.every((r) => r.headers['if-none-match'] === '*'))
      await j.appendDurable(7)
      await j.close()
      const reader = await Journal.open<number>(store, 'enforced', { readOnly: true })
      assert.deepEqual(await values(reader), [7])
      await reader.close()
    } finally {
      await store.close()
    }
  })

  test('conditionalWrites: true skips the probe; probe: false trusts the flag', async () => {
    for (const [options, open] of [[{ conditionalWrites: true }, {}], [{}, { probe: false }]] as const) {
      const store = new S3Store({ ...s3.storeOptions, ...options })
      try {
        assert.equal(store.createOnlyUnverified, !('conditionalWrites' in options))
        const before = s3.proxy.requests.length
        const j = await Journal.open<number>(store, 'trusted', open)
        assert.equal(s3.proxy.requests.length, before, `no request at open with ${JSON.stringify({ options, open })}`)
        await j.close()
      } finally {
        await store.close()
      }
    }
  })
})
