// A tiered-log writer process for the SIGKILL test: opens Log with tier on an FsStore, appends
// 150 records (sync 'always', so every acknowledged one is durable), then syncTier({ all }), and
// stops dead at store call number `killAt` (before it runs, or just after it returned), telling the
// parent how many records were acknowledged; the parent then SIGKILLs it. With <mode> 'unlink' it
// keeps 4 KiB locally (localRetention) and stops at file deletion number `killAt` instead.
// argv: <store root> <log dir> <killAt> <before|after> [store|unlink].
import { Log } from '../../src/index.js'
import { nodeFileSystem, type FileSystem } from '../../src/io/file-system.js'
import { FsStore } from '../../src/objects/fs.js'
import type { GetOptions, GetResult, ListOptions, ObjectMeta, ObjectStore, PutOptions, PutResult } from '../../src/objects/types.js'
import { payload } from '../helpers/tmp.js'

// `node --test dist/test/` also loads this file: do nothing unless forked by the test.
if (process.env.SEGLOG_TEST_CHILD !== 'tier-log') process.exit(0)
const [root, dir, killAtArg, when, mode = 'store'] = process.argv.slice(2)
const killAt = Number(killAtArg)
const inner = new FsStore({ root })
let calls = 0
let acked = 0

async function stopHere(): Promise<never> {
  process.send?.(`stopped ${acked}`)
  setInterval(() => undefined, 1 << 30)
  return new Promise<never>(() => undefined)
}

async function step<T>(fn: () => Promise<T>): Promise<T> {
  if (mode !== 'store') return fn()
  const n = ++calls
  if (n === killAt && when === 'before') await stopHere()
  const out = await fn()
  if (n === killAt && when === 'after') await stopHere()
  return out
}

const store: ObjectStore = {
  name: inner.name,
  enforcesCreateOnly: inner.enforcesCreateOnly,
  put: (k: string, d: Uint8Array, o?: PutOptions): Promise<PutResult> => step(() => inner.put(k, d, o)),
  get: (k: string, o?: GetOptions): Promise<GetResult | undefined> => step(() => inner.get(k, o)),
  head: (k: string): Promise<ObjectMeta | undefined> => step(() => inner.head(k)),
  async *list(p: string, o?: ListOptions): AsyncIterable<ObjectMeta> {
    const items = await step(async () => { const out: ObjectMeta[] = []; for await (const m of inner.list(p, o)) out.push(m); return out })
    yield* items
  },
  delete: (k: string): Promise<void> => step(() => inner.delete(k)),
  deleteMany: (k: readonly string[]): Promise<void> => step(() => inner.deleteMany(k)),
}

// Local deletions by retention: stop dead at unlink number killAt (the process freezes there; a
// synchronous call cannot wait, so it blocks the thread until the SIGKILL).
let unlinks = 0
const fileSystem: FileSystem = {
  ...nodeFileSystem,
  unlink(file: string): void {
    const n = ++unlinks
    if (mode === 'unlink' && n === killAt && when === 'before') freeze()
    nodeFileSystem.unlink(file)
    if (mode === 'unlink' && n === killAt && when === 'after') freeze()
  },
}
function freeze(): never {
  process.send?.(`stopped ${acked}`)
  for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000)
}
const localRetention = mode === 'unlink' ? { maxBytes: 4096 } : undefined
const log = await Log.open(dir, { segmentBytes: 4096, sync: 'always', fileSystem, tier: { store, prefix: 'logs', localRetention } })
for (let i = 0; i < 150; i += 3) {
  await log.appendBatch([payload(i, 100), payload(i + 1, 100), payload(i + 2, 100)])
  acked = i + 3
}
await log.syncTier({ all: true })
await log.close()
process.send?.('done')
