// J1 breakdown: what a journal flush to s3rver costs beyond one PUT of the same bytes.
// Straight to s3rver (no test proxy), one process, rounds in rotating order so that no variant
// always runs on the warmer socket or right after the 32 appends. Per round and variant: wall
// time and this process's CPU time.
//
//   node bench/experiments/j1-ab.mjs [rounds=200] [dist=dist] [order=rotate|fixed]
//
// order=fixed runs flush, store, sdk in that order every round (as the bench did before it
// alternated), to show what a fixed order does to the ratio.
//
// Variants:
//   flush      32 appends (untimed), then Journal.flush() (singleWriter: s3rver ignores If-None-Match)
//   store      S3Store.put(create) of a batch-sized body, through the store's own client
//   fresh      as store, with a new body (encoded before the timer) every round
//   jstore     the journal's own S3Store, called directly (not through a flush)
//   sdk        PutObjectCommand through an S3Client with the SDK's defaults (the bench's "plain PUT")
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { performance, PerformanceObserver } from 'node:perf_hooks'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const rounds = Number(process.argv[2] ?? 200)
const dist = path.resolve(ROOT, process.argv[3] ?? 'dist')
const fixed = process.argv[4] === 'fixed'
const { Journal } = await import(pathToFileURL(path.join(dist, 'src', 'index.js')).href)
const { S3Store } = await import(pathToFileURL(path.join(dist, 'src', 's3.js')).href)
const { startS3 } = await import(pathToFileURL(path.join(ROOT, 'dist', 'test', 'helpers', 'servers.js')).href)
const { S3Client, PutObjectCommand } = await import('@aws-sdk/client-s3')

const s3 = await startS3({ bucket: 'ab' })
const opts = { ...s3.storeOptions, endpoint: s3.rawEndpoint }
const jstore = new S3Store({ ...opts, prefix: 'j' })
// Split a flush's time: before its store put starts, the put itself, after the put resolves.
const split = { pre: [], put: [], post: [] }
let mark
const origPut = jstore.put
jstore.put = async function (...args) {
  const c1 = process.cpuUsage()
  split.pre.push((c1.user + c1.system - mark) / 1000)
  try { return await origPut.apply(this, args) } finally { const c2 = process.cpuUsage(); split.put.push((c2.user + c2.system - c1.user - c1.system) / 1000); mark = c2.user + c2.system }
}
const j = await Journal.open(jstore, 'journals/ab', { flushEvents: 1 << 30, flushBytes: 1 << 30, lingerMs: 1 << 30, codec: 'jsonl', singleWriter: true })
const store = new S3Store({ ...opts, prefix: 's', conditionalWrites: true })
// Set up as S3Store sets up its clients (as the bench's references are).
const sdk = new S3Client({ endpoint: opts.endpoint, region: opts.region, forcePathStyle: true, credentials: opts.credentials, maxAttempts: 1, requestChecksumCalculation: 'WHEN_REQUIRED' })
const pad = 'x'.repeat(900)
let seq = 0
const ev = () => ({ seq: seq++, type: 'bench.event', at: 1_700_000_000_000 + seq, payload: pad })
const batchBytes = 32 * (Buffer.byteLength(JSON.stringify(ev())) + 1) + 64
const body = Buffer.alloc(batchBytes, 97)

let freshBody
const variants = {
  flush: { prep: async () => { for (let i = 0; i < 32; i++) await j.append(ev()) }, run: async () => { const c = process.cpuUsage(); mark = c.user + c.system; await j.flush(); const d = process.cpuUsage(); split.post.push((d.user + d.system - mark) / 1000) } },
  store: { prep: async () => {}, run: (k) => store.put(`o/${k}`, body, { mode: 'create' }) },
  // A fresh body per put, encoded before the timer as a flush would: isolates what a new buffer
  // (rather than the same one every round) costs the SDK.
  fresh: { prep: async () => { const l = []; for (let i = 0; i < 32; i++) l.push(JSON.stringify(ev())); freshBody = Buffer.concat([Buffer.from('{"h":1}\n'), Buffer.from(l.join('\n') + '\n')]) }, run: (k) => store.put(`f/${k}`, freshBody, { mode: 'create' }) },
  // The journal's own S3Store instance (its client, its socket), called directly with a body
  // like the flush's: shows whether the put inside a flush costs more than the same put outside.
  jstore: { prep: async () => { const l = []; for (let i = 0; i < 32; i++) l.push(JSON.stringify(ev())); freshBody = Buffer.from(l.join('\n') + '\n') }, run: (k) => origPut.call(jstore, `journals/ab/x/${String(k).padStart(20, '0')}`, freshBody, { mode: 'create' }) },
  sdk: { prep: async () => {}, run: (k) => sdk.send(new PutObjectCommand({ Bucket: opts.bucket, Key: `sdk/${k}`, Body: body })) },
}
const names = Object.keys(variants)
// Garbage collections, to be attributed to the variant whose timed call they fell in.
const gcs = []
const gcObserver = new PerformanceObserver((list) => { for (const e of list.getEntries()) gcs.push([e.startTime, e.duration]) })
gcObserver.observe({ entryTypes: ['gc'] })
const spans = []
const wall = Object.fromEntries(names.map((n) => [n, []]))
const cpu = Object.fromEntries(names.map((n) => [n, []]))
for (let k = -20; k < rounds; k++) { // 20 warm-up rounds, not recorded
  for (let v = 0; v < names.length; v++) {
    const name = names[fixed ? v : (v + Math.max(k, 0)) % names.length]
    await variants[name].prep()
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    await variants[name].run(k + 100)
    const t = performance.now() - t0
    const c = process.cpuUsage(c0)
    if (k >= 0) { wall[name].push(t); cpu[name].push((c.user + c.system) / 1000); spans.push([t0, t0 + t, name]) }
  }
}
const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] }
const out = {}
for (const n of names) out[n] = { p50: +pct(wall[n], 50).toFixed(3), p90: +pct(wall[n], 90).toFixed(3), cpuP50: +pct(cpu[n], 50).toFixed(3) }
await new Promise((resolve) => setTimeout(resolve, 50))
gcObserver.disconnect()
// GC time per timed call of each variant (ms), and how many calls had a GC in them.
out.gcMsPerCall = Object.fromEntries(names.map((n) => [n, 0]))
for (const [at, d] of gcs) { const sp = spans.find(([a, b]) => at >= a && at < b); if (sp) out.gcMsPerCall[sp[2]] += d / rounds }
for (const n of names) out.gcMsPerCall[n] = +out.gcMsPerCall[n].toFixed(3)
out.flushCpuSplitP50 = Object.fromEntries(Object.entries(split).map(([k, a]) => [k, +pct(a.slice(-rounds), 50).toFixed(3)]))
out.ratioFlushSdk = +(out.flush.p50 / out.sdk.p50).toFixed(3)
out.ratioStoreSdk = +(out.store.p50 / out.sdk.p50).toFixed(3)
console.log(JSON.stringify({ rounds, order: fixed ? 'fixed' : 'rotate', batchBytes, ...out }))
await j.close(); await store.close(); sdk.destroy(); await s3.stop()
