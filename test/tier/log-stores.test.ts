// The tiered Log (Log.open with tier) end to end on MemoryStore, FsStore (a real folder) and
// s3rver behind the enforcing conditional-write proxy, and Azurite.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { AzureBlobStore, FsStore, MemoryStore, S3Store } from '../../src/objects/index.js'
import { startAzurite, startS3, type AzuriteServer, type S3Server } from '../helpers/servers.js'
import { tieredLogScenario } from './log-scenario.js'

describe('tiered Log on MemoryStore', () => {
  test('ship, syncTier, tierState, openRemote, restore, fencing, trim and read-through, fork', async (t) => {
    t.diagnostic(JSON.stringify(await tieredLogScenario(t, new MemoryStore({ pageSize: 7 }), 'logs/orders')))
  })
})

describe('tiered Log on FsStore (real folder)', () => {
  let root: string
  before(async () => { root = await mkdtemp(path.join(tmpdir(), 'seglog-tierlog-fs-')) })
  after(async () => { await rm(root, { recursive: true, force: true }) })
  test('ship, syncTier, tierState, openRemote, restore, fencing, trim and read-through, fork', async (t) => {
    t.diagnostic(JSON.stringify(await tieredLogScenario(t, new FsStore({ root, fsync: false }), 'logs/orders')))
  })
})

describe('tiered Log on S3 (s3rver + enforcing proxy)', () => {
  let s3: S3Server
  before(async () => { s3 = await startS3() })
  after(async () => { await s3.stop() })
  test('ship, syncTier, tierState, openRemote, restore, fencing, trim and read-through, fork', async (t) => {
    const store = new S3Store({ ...s3.storeOptions })
    t.after(() => store.close())
    t.diagnostic(JSON.stringify(await tieredLogScenario(t, store, 'logs/orders')))
  })
})

describe('tiered Log on Azure Blob (Azurite)', () => {
  let az: AzuriteServer
  before(async () => { az = await startAzurite() })
  after(async () => { await az.stop() })
  test('ship, syncTier, tierState, openRemote, restore, fencing, trim and read-through, fork', async (t) => {
    const store = new AzureBlobStore({ container: az.container, connectionString: az.connectionString })
    t.diagnostic(JSON.stringify(await tieredLogScenario(t, store, 'logs/orders')))
  })
})
