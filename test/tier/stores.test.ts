// Tiered storage end to end against every store: MemoryStore, FsStore (a real folder), s3rver
// behind the enforcing conditional-write proxy (a real lost reply) and Azurite.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { AzureBlobStore, FsStore, MemoryStore, S3Store } from '../../src/objects/index.js'
import { startAzurite, startS3, type AzuriteServer, type S3Server } from '../helpers/servers.js'
import { tierScenario } from './scenario.js'

describe('tiered storage on MemoryStore', () => {
  test('ship, follow, in-doubt, read, fence, retention under readers, damage', async (t) => {
    t.diagnostic(JSON.stringify(await tierScenario(t, new MemoryStore({ pageSize: 7 }), 'logs/orders')))
  })
})

describe('tiered storage on FsStore (real folder)', () => {
  let root: string
  before(async () => { root = await mkdtemp(path.join(tmpdir(), 'seglog-tier-fs-')) })
  after(async () => { await rm(root, { recursive: true, force: true }) })
  test('ship, follow, in-doubt, read, fence, retention under readers, damage', async (t) => {
    t.diagnostic(JSON.stringify(await tierScenario(t, new FsStore({ root, fsync: false }), 'logs/orders')))
  })
})

describe('tiered storage on S3 (s3rver + enforcing proxy)', () => {
  let s3: S3Server
  before(async () => { s3 = await startS3() })
  after(async () => { await s3.stop() })
  test('ship, follow, a PUT whose reply the proxy drops, read, fence, retention under readers, damage', async (t) => {
    const store = new S3Store({ ...s3.storeOptions })
    t.after(() => store.close())
    t.diagnostic(JSON.stringify(await tierScenario(t, store, 'logs/orders', (key) => {
      // The proxy forwards the PUT to s3rver and then cuts the connection: landed, reply lost.
      s3.proxy.inject({ method: 'PUT', pathIncludes: key, kind: 'drop-response' })
      return store
    })))
  })
})

describe('tiered storage on Azure Blob (Azurite)', () => {
  let az: AzuriteServer
  before(async () => { az = await startAzurite() })
  after(async () => { await az.stop() })
  test('ship, follow, in-doubt, read, fence, retention under readers, damage', async (t) => {
    const store = new AzureBlobStore({ container: az.container, connectionString: az.connectionString })
    t.diagnostic(JSON.stringify(await tierScenario(t, store, 'logs/orders')))
  })
})
