// Conformance: key prefixes as folders: not objects, emptied by deletes, raced by puts, and a key
// that is both an object and a folder.
import assert from 'node:assert/strict'
import { isFatalStoreError, keysOf, type ConformanceRun } from './run.js'

export async function folderCases({ t, store, caps, k, listed, deleteMany }: ConformanceRun): Promise<void> {
  await t.test('folders are not objects; a deleted folder leaves nothing behind', async () => {
    await store.put(k('dir/test_file.json'), Buffer.from('x'))
    // object_store: a "directory" is not found by get or head.
    assert.equal(await store.get(k('dir')), undefined)
    assert.equal(await store.head(k('dir')), undefined)
    assert.equal(await store.get(k('dir'), { range: { start: 0, end: 1 } }), undefined)
    await store.delete(k('dir')) // deleting a "folder" key deletes nothing
    assert.equal((await store.get(k('dir/test_file.json')))?.data.toString(), 'x')

    await store.put(k('gone/deep/x'), Buffer.from('x'))
    await store.delete(k('gone/deep/x'))
    assert.equal(await store.head(k('gone')), undefined)
    assert.deepEqual(await keysOf(store.list(k('gone'))), [])
    // With nothing left under it, the name is free for an object, whether created or overwritten.
    await store.put(k('gone'), Buffer.from('file'), { mode: 'create' })
    assert.equal((await store.get(k('gone')))?.data.toString(), 'file')
    await store.put(k('gone'), Buffer.from('file2'))
    assert.equal((await store.get(k('gone')))?.data.toString(), 'file2')
    await store.delete(k('gone'))
    await store.put(k('gone/deep'), Buffer.from('again'))
    assert.equal((await store.get(k('gone/deep')))?.data.toString(), 'again')
    await deleteMany([k('gone/deep'), k('dir/test_file.json')])
    assert.deepEqual(await keysOf(store.list(k('gone'))), [])
    assert.deepEqual(await keysOf(store.list(k('dir'))), [])
  })

  await t.test('concurrent puts and deletes in one folder lose no object', async () => {
    if (!caps.racingPutAndDelete) return
    // A delete that empties a folder races puts into the same folder: every put that resolved
    // and was not deleted afterwards must be readable.
    for (let round = 0; round < 20; round++) {
      await store.put(k(`churn/${round}/old`), Buffer.from('old'))
      const [, put] = await Promise.all([
        store.delete(k(`churn/${round}/old`)),
        store.put(k(`churn/${round}/new`), Buffer.from(`new${round}`)),
      ])
      assert.ok(put)
      assert.equal((await store.get(k(`churn/${round}/new`)))?.data.toString(), `new${round}`, `round ${round}`)
      assert.equal(await store.get(k(`churn/${round}/old`)), undefined)
    }
    await deleteMany(Array.from({ length: 20 }, (_, r) => k(`churn/${r}/new`)))
    assert.deepEqual(await keysOf(store.list(k('churn/'))), [])
  })

  await t.test(caps.objectAndFolder ? 'a key can be an object and a folder of other keys' : 'an object and a folder of one name are refused without loss', async () => {
    await store.put(k('both/x'), Buffer.from('child'))
    if (caps.objectAndFolder) {
      await store.put(k('both'), Buffer.from('parent'))
      assert.equal((await store.get(k('both')))?.data.toString(), 'parent')
      assert.deepEqual(await listed(store.list(k('both'))), [k('both'), k('both/x')])
      await store.put(k('both/x/y'), Buffer.from('grandchild'))
      assert.equal((await store.get(k('both/x/y')))?.data.toString(), 'grandchild')
    } else {
      await assert.rejects(store.put(k('both'), Buffer.from('parent')), isFatalStoreError)
      await assert.rejects(store.put(k('both'), Buffer.from('parent'), { mode: 'create' }), isFatalStoreError)
      await assert.rejects(store.put(k('both/x/y'), Buffer.from('grandchild')), isFatalStoreError)
      assert.equal(await store.head(k('both')), undefined)
      assert.equal(await store.head(k('both/x/y')), undefined)
    }
    assert.equal((await store.get(k('both/x')))?.data.toString(), 'child')
    await deleteMany([k('both/x/y'), k('both/x'), k('both')])
    assert.deepEqual(await keysOf(store.list(k('both'))), [])
  })
}
