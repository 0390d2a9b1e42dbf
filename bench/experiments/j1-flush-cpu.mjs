// The journal's own CPU per flush (32 events of ~1 KiB, jsonl), on a store whose put resolves at
// once: what a flush costs beyond the PUT itself.
//
//   node bench/experiments/j1-flush-cpu.mjs [dist=dist] [flushes=20000]
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { performance } from 'node:perf_hooks'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const dist = path.resolve(ROOT, process.argv[2] ?? 'dist')
const flushes = Number(process.argv[3] ?? 20000)
const { Journal, MemoryStore } = await import(pathToFileURL(path.join(dist, 'src', 'index.js')).href)
// A store that keeps nothing: put answers at once (a MemoryStore would copy the bytes).
const mem = new MemoryStore()
const store = {
  name: 'null', enforcesCreateOnly: true,
  put: async () => ({ version: '1' }),
  get: (k, o) => mem.get(k, o), head: (k, o) => mem.head(k, o), list: (p, o) => mem.list(p, o),
  delete: (k, o) => mem.delete(k, o), deleteMany: (k, o) => mem.deleteMany(k, o), close: async () => {},
}
const j = await Journal.open(store, 'journals/cpu', { flushEvents: 1 << 30, flushBytes: 1 << 30, lingerMs: 1 << 30, codec: 'jsonl' })
const pad = 'x'.repeat(900)
let seq = 0
let cpu = 0
let wall = 0
for (let k = -2000; k < flushes; k++) {
  for (let i = 0; i < 32; i++) await j.append({ seq: seq++, type: 'bench.event', at: 1_700_000_000_000 + seq, payload: pad })
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  await j.flush()
  const t = performance.now() - t0
  const c = process.cpuUsage(c0)
  if (k >= 0) { wall += t; cpu += c.user + c.system }
}
console.log(JSON.stringify({ flushes, wallUsPerFlush: +(wall * 1000 / flushes).toFixed(1), cpuUsPerFlush: +(cpu / flushes).toFixed(1) }))
await j.close()
