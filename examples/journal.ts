// A small journal on a folder: append events, read them back, resume from a cursor, compact.
// Run: npx tsc -p tsconfig.json && node dist/examples/journal.js
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { FsStore } from '../src/objects/index.js'
import { Journal } from '../src/index.js'

interface OrderEvent { order: number; item: string }

const root = await mkdtemp(path.join(tmpdir(), 'seglog-journal-example-'))
try {
  const store = new FsStore({ root }) // or new MemoryStore(), new S3Store({...}) from seglog/s3, new AzureBlobStore({...}) from seglog/azure
  const journal = await Journal.open<OrderEvent>(store, 'journals/orders', { flushEvents: 4, lingerMs: 100 })

  for (let order = 1; order <= 10; order++) await journal.append({ order, item: `widget-${order}` })
  await journal.flush() // each flush writes exactly one new object

  let resumeAt: string | undefined
  for await (const { cursor, value } of journal.read()) {
    console.log(cursor, value)
    if (value.order === 5) resumeAt = cursor // persist this to resume later
  }

  console.log('after', resumeAt)
  for await (const { value } of journal.read({ after: resumeAt })) console.log('  resumed:', value.order)

  // Merge the small batch objects; graceMs 0 deletes the originals at once (single process here).
  const { merged, deleted } = await journal.compact({ graceMs: 0 })
  console.log('compacted into', merged.map((m) => m.key), 'deleted', deleted.length, 'objects')
  for await (const { value } of journal.read({ after: resumeAt })) console.log('  still resumes:', value.order)

  await journal.close() // flushes anything still buffered
} finally {
  await rm(root, { recursive: true, force: true })
}
