import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { isSeglogError } from '../../src/errors.js'
import { AzureBlobStore } from '../../src/objects/index.js'
import { startAzurite, type AzuriteServer } from '../helpers/servers.js'

describe('AzureBlobStore and a missing container', () => {
  let az: AzuriteServer
  before(async () => { az = await startAzurite() })
  after(async () => { await az.stop() })

  test('without createContainer (the default) a missing container is ERR_STORE that suggests it; with it, it is created', async () => {
    const missing = new AzureBlobStore({ container: 'not-created-yet', connectionString: az.connectionString })
    const err: unknown = await missing.put('k', Buffer.from('v'), { mode: 'create' }).then(() => undefined, (e: unknown) => e)
    assert.ok(isSeglogError(err, 'ERR_STORE'), String(err))
    assert.equal(err.details.status, 404)
    assert.equal(err.details.transient, false)
    assert.match(err.message, /container does not exist.*createContainer: true/)
    const creating = new AzureBlobStore({ container: 'not-created-yet', connectionString: az.connectionString, createContainer: true })
    await creating.put('k', Buffer.from('v'), { mode: 'create' })
    assert.equal((await creating.get('k'))?.data.toString(), 'v')
  })
})
