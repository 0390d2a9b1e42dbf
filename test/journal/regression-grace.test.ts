// Regression: S3 and Azure report Last-Modified in whole seconds, so a merged object could look up
// to a second older than it was and a short grace period then deleted originals that a writer's
// fresh listing still relied on; the writer reused a sequence number the merged object already
// covered and its events were lost (found by the object-store fault suite).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Journal, MemoryStore, type ObjectMeta, type ObjectStore } from '../../src/index.js'

/** A MemoryStore whose listings report times as a store with one-second resolution can, in the worst case. */
function secondResolution(inner: MemoryStore): ObjectStore {
  return {
    name: inner.name,
    enforcesCreateOnly: inner.enforcesCreateOnly,
    put: (k, d, o) => inner.put(k, d, o),
    get: (k, o) => inner.get(k, o),
    head: (k) => inner.head(k),
    async *list(prefix, options) {
      for await (const m of inner.list(prefix, options)) {
        yield { ...m, lastModified: new Date(m.lastModified.getTime() - 999) } satisfies ObjectMeta
      }
    },
    delete: (k) => inner.delete(k),
    deleteMany: (k) => inner.deleteMany(k),
  }
}

test('originals stay for the whole grace period even when the store reports times up to a second early', async () => {
  const store = secondResolution(new MemoryStore())
  const j = await Journal.open<number>(store, 'g', { flushEvents: 1, graceMs: 200 })
  for (let i = 0; i < 4; i++) {
    await j.append(i)
    await j.flush()
  }
  const merged = await j.compact()
  assert.equal(merged.merged.length, 1)
  // Well within grace + one second of timestamp resolution: nothing covered may go yet.
  const again = await j.compact()
  assert.deepEqual(again.deleted, [])
  const keys: string[] = []
  for await (const m of store.list('g/b/')) keys.push(m.key)
  assert.equal(keys.length, 4, 'every original batch is still there')
  const values: number[] = []
  for await (const e of j.read({ pending: false })) values.push(e.value)
  assert.deepEqual(values, [0, 1, 2, 3])
  await j.close()
})
