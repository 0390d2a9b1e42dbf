// The catalog alone: one listing split by kind, and the public list/listObjects agreeing.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isSeglogError } from '../../src/errors.js'
import { JournalCatalog } from '../../src/journal/catalog.js'
import { Journal } from '../../src/journal/index.js'
import { MemoryStore } from '../../src/objects/index.js'

test('one listing: batches, compacted objects and markers by kind, in order; the highest marker; misnamed and foreign keys kept apart', async () => {
  const store = new MemoryStore({ pageSize: 2 })
  const put = (k: string): Promise<unknown> => store.put(k, Buffer.from('x'))
  for (const k of [
    'p/j/b/00000000000000000003', 'p/j/b/00000000000000000001', 'p/j/c/00000000000000000000-00000000000000000002',
    'p/j/r/00000000000000000001', 'p/j/r/00000000000000000002', 'p/j/b/notanumber', 'p/j/p/probe-1', 'p/j/README', 'p/other/b/00000000000000000000',
  ]) await put(k)
  const l = await JournalCatalog.list(store, 'p/j')
  assert.deepEqual(l.batches.map((o) => [o.first, o.last]), [[1, 1], [3, 3]])
  assert.deepEqual(l.compacted.map((o) => [o.kind, o.first, o.last]), [['c', 0, 2]])
  assert.deepEqual(l.markers.map((o) => o.first), [1, 2])
  assert.equal(l.marker, 2)
  assert.deepEqual(l.objects.map((o) => o.kind), ['other', 'batch', 'batch', 'misnamed', 'compacted', 'probe', 'marker', 'marker'])
  assert.deepEqual(await Journal.listObjects(store, 'p/j'), l.objects)
  assert.ok(l.objects.every((o) => o.key.startsWith('p/j/')), 'another journal under a longer prefix is not listed')
})

test('an empty journal lists as empty; a bad prefix is ERR_INVALID_ARGUMENT', async () => {
  const l = await JournalCatalog.list(new MemoryStore(), 'nothing')
  assert.deepEqual({ ...l }, { objects: [], batches: [], compacted: [], markers: [], marker: 0 })
  await assert.rejects(JournalCatalog.list(new MemoryStore(), '../x'), (e) => isSeglogError(e, 'ERR_INVALID_ARGUMENT'))
})
