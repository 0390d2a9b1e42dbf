// An uploader process for the SIGKILL test: ships the segments given in argv to an FsStore and
// stops dead at store call number `killAt` (before it runs, or just after it returned), telling
// the parent, which then SIGKILLs it. argv: <root> <prefix> <killAt> <before|after> <segments JSON>.
import { FsStore } from '../../src/objects/fs.js'
import type { GetOptions, GetResult, ListOptions, ObjectMeta, ObjectStore, PutOptions, PutResult } from '../../src/objects/types.js'
import { SegmentUploader, type SealedSegment } from '../../src/tier/index.js'

// `node --test dist/test/` also loads this file: do nothing unless forked by the test.
if (process.env.SEGLOG_TEST_CHILD !== 'tier-uploader') process.exit(0)
const [root, prefix, killAtArg, when, segmentsJson] = process.argv.slice(2)
const killAt = Number(killAtArg)
const inner = new FsStore({ root })
let calls = 0

async function stopHere(): Promise<never> {
  process.send?.('stopped')
  setInterval(() => undefined, 1 << 30)
  return new Promise<never>(() => undefined)
}

async function step<T>(fn: () => Promise<T>): Promise<T> {
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

const up = new SegmentUploader(store, prefix, { indexIntervalBytes: 1024 })
for (const seg of JSON.parse(segmentsJson) as SealedSegment[]) await up.upload(seg)
process.send?.('done')
