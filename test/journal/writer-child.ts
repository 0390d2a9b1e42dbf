// A writer process for the multi-process race tests: appends `count` events {w, i} to one
// journal and closes. Config comes as JSON in argv[2]. Loaded but inert under `node --test`.
import { Journal } from '../../src/journal/index.js'
import { AzureBlobStore, FsStore, S3Store, type ObjectStore } from '../../src/objects/index.js'

/** What the parent passes. */
export interface WriterConfig {
  store: { kind: 'fs'; root: string } | { kind: 's3'; bucket: string; endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } } | { kind: 'azure'; container: string; connectionString: string }
  prefix: string
  writer: string
  count: number
  flushEvents: number
  graceMs: number
}

function open(c: WriterConfig['store']): ObjectStore {
  if (c.kind === 'fs') return new FsStore({ root: c.root })
  if (c.kind === 's3') return new S3Store({ ...c, forcePathStyle: true })
  return new AzureBlobStore({ container: c.container, connectionString: c.connectionString })
}

if (process.env.SEGLOG_TEST_CHILD === 'writer') {
  const cfg = JSON.parse(process.argv[2]) as WriterConfig
  const store = open(cfg.store)
  const j = await Journal.open<{ w: string; i: number }>(store, cfg.prefix, {
    flushEvents: cfg.flushEvents, lingerMs: 2, graceMs: cfg.graceMs, retry: { maxAttempts: 10, baseDelayMs: 20, maxDelayMs: 500 },
  })
  let conflicts = 0
  const dc = await import('node:diagnostics_channel')
  dc.subscribe('seglog:journal:flush', (m) => { conflicts += (m as { conflicts: number }).conflicts })
  for (let i = 0; i < cfg.count; i++) {
    await j.append({ w: cfg.writer, i })
    if (i % 17 === 0) await j.flush()
  }
  await j.close()
  await store.close?.()
  process.stdout.write(`${JSON.stringify({ done: true, conflicts })}\n`)
}
