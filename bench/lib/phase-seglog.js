// Phases of the seglog-only workloads (T1, J1, J2), run by lib/phase.js.
import fs from 'node:fs'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { spawn } from 'node:child_process'
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import { Payloads, randomBytes } from './payload.js'
import { percentile } from './stats.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const ENTRY = process.env.SEGLOG_BENCH_DIST ? path.join(process.env.SEGLOG_BENCH_DIST, 'src', 'index.js') : path.join(ROOT, 'dist', 'src', 'index.js')
const now = () => performance.now()
// The package root; spec.extra (tests of this harness only) adds modules of the build that the
// root does not export yet.
async function seglog(spec = {}) {
  const mods = [await import(pathToFileURL(ENTRY).href)]
  // S3Store lives in its own entry point (seglog/s3) since the root stopped carrying SDK types.
  const s3 = path.join(path.dirname(ENTRY), 's3.js')
  if (fs.existsSync(s3)) mods.push(await import(pathToFileURL(s3).href))
  for (const e of spec.extra ?? []) mods.push(await import(pathToFileURL(path.resolve(ROOT, e)).href))
  return Object.assign({}, ...mods)
}

// order-insensitive fingerprint for records appended by several threads at once
function fp(d) {
  const len = d.length
  let h = Math.imul(len ^ 0x9e3779b1, 0x85ebca6b)
  h = Math.imul(h ^ (d[0] | (d[1] << 8) | (d[2] << 16) | (d[3] << 24)), 0xc2b2ae35)
  h = Math.imul(h ^ (d[len - 4] | (d[len - 3] << 8) | (d[len - 2] << 16) | (d[len - 1] << 24)), 0x27d4eb2f)
  return (h ^ (h >>> 16)) >>> 0
}

export async function threads(spec, r, timer) {
  const { Log } = await seglog(spec)
  // spec.entry (tests of this harness only): a module exporting LogWriter other than the package root
  const entry = spec.entry ?? ENTRY
  if (entry !== ENTRY) await import(pathToFileURL(entry).href)
  const { count, threads: nThreads, recordBytes = 128, seed = 1 } = spec
  const log = await Log.open(spec.dir, { sync: 'never' })
  const handle = log.workerHandle()
  const workers = []
  const per = Math.ceil(count / nThreads)
  for (let k = 0; k < nThreads; k++) {
    const from = k * per
    const to = Math.min(count, from + per)
    const w = new Worker(new URL('./t1-worker.js', import.meta.url), { workerData: { handle, from, to, count, recordBytes, seed, entry } })
    workers.push(w)
  }
  await Promise.all(workers.map((w) => new Promise((resolve, reject) => {
    w.once('error', reject)
    w.once('message', (m) => { if (m.ready) { r.api = m.api; resolve() } else reject(new Error(m.error ?? 'worker failed')) })
  })))
  timer.start()
  const done = Promise.all(workers.map((w) => new Promise((resolve, reject) => {
    w.once('error', reject)
    w.once('message', (m) => (m.done ? resolve() : reject(new Error(m.error ?? 'worker failed'))))
    w.postMessage('go')
  })))
  await done
  await log.sync()
  timer.stop()
  await Promise.all(workers.map((w) => w.terminate()))
  await log.close()
  // check: every record exactly once (order across threads is free)
  const payloads = new Payloads(count, recordBytes, seed)
  let want = 0
  for (let i = 0; i < count; i++) want = (want + fp(payloads.record(i))) >>> 0
  const log2 = await Log.open(spec.dir, { sync: 'never' })
  let got = 0
  let n = 0
  for await (const rec of log2.iterate({ from: log2.firstOffset })) { got = (got + fp(rec.data)) >>> 0; n++ }
  await log2.close()
  r.readBack = { count: n, checksum: got.toString(16) }
  r.expected = { count, checksum: want.toString(16) }
  r.ok = n === count && got === want
  r.opsPerSec = count / (r.elapsedMs / 1000)
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)) })
  })
}

// s3rver on loopback: through the test helper (s3rver + the enforcing conditional-write proxy)
// when the tests are built, else a plain s3rver child process.
async function startS3(dir) {
  const helper = path.join(ROOT, 'dist', 'test', 'helpers', 'servers.js')
  if (fs.existsSync(helper)) {
    const h = await import(pathToFileURL(helper).href)
    if (typeof h.startS3 === 'function') {
      const s = await h.startS3({ bucket: 'bench' })
      return { storeOptions: s.storeOptions, rawEndpoint: s.rawEndpoint, via: 's3rver behind the test proxy that enforces conditional writes (test/helpers/servers.ts)', stop: () => s.stop() }
    }
  }
  const port = await freePort()
  fs.mkdirSync(dir, { recursive: true })
  const bin = path.join(ROOT, 'node_modules', 's3rver', 'bin', 's3rver.js')
  const child = spawn(process.execPath, [bin, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--silent', '--configure-bucket', 'bench'], {
    env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --openssl-legacy-provider`.trim() }, stdio: 'ignore',
  })
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => { const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true) }); s.on('error', () => resolve(false)) })
    if (ok) break
    await new Promise((res) => setTimeout(res, 50))
  }
  return {
    storeOptions: { bucket: 'bench', endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
    via: 'plain s3rver (conditional writes not enforced)',
    stop: async () => { child.kill('SIGTERM') },
  }
}

// Rounds of `variants` ({ name: { prep, run } }): each round runs every variant once, in an order
// that rotates from round to round. prep (untimed) returns what run gets; run is timed, in wall
// and in this process's CPU. The first `warmup` rounds are not counted. Returns sorted samples.
async function pairedRounds(rounds, variants, warmup = 0) {
  const names = Object.keys(variants)
  const out = Object.fromEntries(names.map((n) => [n, { wall: [], cpu: [] }]))
  for (let k = 0; k < warmup + rounds; k++) {
    for (let v = 0; v < names.length; v++) {
      const name = names[(v + k) % names.length]
      const arg = await variants[name].prep()
      const c0 = process.cpuUsage()
      const t0 = now()
      await variants[name].run(k, arg)
      const t = now() - t0
      const c = process.cpuUsage(c0)
      if (k >= warmup) { out[name].wall.push(t); out[name].cpu.push((c.user + c.system) / 1000) }
    }
  }
  for (const n of names) { out[n].wall.sort((x, y) => x - y); out[n].cpu.sort((x, y) => x - y) }
  return out
}

function event(i, pad) {
  // ~1 KiB JSON event
  return { seq: i, type: 'bench.event', at: 1_700_000_000_000 + i, payload: pad }
}

export async function journalS3(spec, r, timer) {
  const { Journal, S3Store } = await seglog(spec)
  const s3 = await startS3(path.join(spec.dir, 's3'))
  r.via = s3.via
  try {
    const store = new S3Store({ ...s3.storeOptions, prefix: 'j1/' })
    const batch = 32
    // The bytes of one batch object: its events and a header line of about 64 bytes.
    const pad0 = 'x'.repeat(900)
    const batchBytes = batch * (Buffer.byteLength(JSON.stringify(event(0, pad0))) + 1) + 64
    const j = await Journal.open(store, 'journals/bench', { flushEvents: 1 << 30, flushBytes: 1 << 30, lingerMs: 1 << 30, codec: 'jsonl' })
    const pad = randomBytes(3, 450).toString('hex') // 900 chars: events of about 1 KiB
    const flushLat = []
    timer.start()
    for (let i = 0; i < spec.count; i++) {
      await j.append(event(i, pad))
      if ((i + 1) % batch === 0 || i + 1 === spec.count) {
        const f0 = now()
        await j.flush()
        flushLat.push(now() - f0)
      }
    }
    timer.stop()
    // References through the SDK, of the flush's size: one plain PUT, and one create-only PUT
    // (If-None-Match: *), which is what a flush sends. Each round does a flush and one of each, in
    // an order that rotates from round to round (no variant always runs right after another, or
    // on the socket that waited longest), so that all three see the same load on a shared
    // machine. The reference client is set up as S3Store sets up its own (one attempt, no CRC32
    // of the body on top of the signed SHA-256): the ratio then counts what the journal adds to
    // the store's PUT, not how two SDK configurations differ. Bodies are made before the timer.
    // The test proxy in front of s3rver enforces If-None-Match with a HEAD before the PUT, so
    // there a create-only PUT is one more round trip than a plain one; on S3 itself it is one
    // request.
    const { S3Client, PutObjectCommand, ListObjectsV2Command } = await import(pathToFileURL(path.join(ROOT, 'node_modules', '@aws-sdk', 'client-s3', 'dist-cjs', 'index.js')).href)
    const refClient = (endpoint) => new S3Client({ endpoint, region: s3.storeOptions.region, forcePathStyle: true, credentials: s3.storeOptions.credentials, maxAttempts: 1, requestChecksumCalculation: 'WHEN_REQUIRED' })
    const client = refClient(s3.storeOptions.endpoint)
    const rounds = 50
    let sent = spec.count
    const appendBatch = async (jj, from) => { for (let i = 0; i < batch; i++) await jj.append(event(from + i, pad)) }
    const paired = await pairedRounds(rounds, {
      flush: { prep: async () => { await appendBatch(j, sent); sent += batch }, run: () => j.flush() },
      put: { prep: () => Buffer.alloc(batchBytes, 97), run: (k, body) => client.send(new PutObjectCommand({ Bucket: s3.storeOptions.bucket, Key: `ref/put-${k}`, Body: body })) },
      create: { prep: () => Buffer.alloc(batchBytes, 97), run: (k, body) => client.send(new PutObjectCommand({ Bucket: s3.storeOptions.bucket, Key: `ref/create-${k}`, Body: body, IfNoneMatch: '*' })) },
    })
    await j.close()
    // The same rounds straight to s3rver, without the proxy's HEAD: a flush there is its one PUT
    // (s3rver ignores If-None-Match, so the journal runs with singleWriter) against one plain PUT.
    // More rounds than above (the target's ratio comes from these), after warm-up rounds that
    // are not counted (new clients: first connections, first runs of the code).
    if (s3.rawEndpoint) {
      const direct = { ...s3.storeOptions, endpoint: s3.rawEndpoint }
      const jd = await Journal.open(new S3Store({ ...direct, prefix: 'j1d/' }), 'journals/bench', { flushEvents: 1 << 30, flushBytes: 1 << 30, lingerMs: 1 << 30, codec: 'jsonl', singleWriter: true })
      const dc = refClient(s3.rawEndpoint)
      const d = await pairedRounds(200, {
        flush: { prep: () => appendBatch(jd, 0), run: () => jd.flush() },
        put: { prep: () => Buffer.alloc(batchBytes, 97), run: (k, body) => dc.send(new PutObjectCommand({ Bucket: s3.storeOptions.bucket, Key: `ref/direct-${k}`, Body: body })) },
      }, 20)
      await jd.close()
      dc.destroy?.()
      r.directFlushMsP50 = percentile(d.flush.wall, 50)
      r.directPutMsP50 = percentile(d.put.wall, 50)
      r.directFlushCpuMsP50 = percentile(d.flush.cpu, 50)
      r.directPutCpuMsP50 = percentile(d.put.cpu, 50)
      r.directRounds = d.flush.wall.length
    }
    let objects = 0
    let token
    do {
      const l = await client.send(new ListObjectsV2Command({ Bucket: s3.storeOptions.bucket, Prefix: 'j1/', ContinuationToken: token }))
      objects += l.KeyCount ?? 0
      token = l.IsTruncated ? l.NextContinuationToken : undefined
    } while (token)
    client.destroy?.()
    flushLat.sort((x, y) => x - y)
    r.flushMsP50 = percentile(flushLat, 50)
    r.flushMsP99 = percentile(flushLat, 99)
    r.putMsP50 = percentile(paired.put.wall, 50)
    r.createPutMsP50 = percentile(paired.create.wall, 50)
    r.pairedFlushMsP50 = percentile(paired.flush.wall, 50)
    r.objects = objects
    r.expectedObjects = Math.ceil(spec.count / batch) + rounds
    r.putsPerFlush = objects / (flushLat.length + rounds)
    r.opsPerSec = spec.count / (r.elapsedMs / 1000)
    // read everything back, checked
    const j2 = await Journal.open(store, 'journals/bench', { codec: 'jsonl' })
    let n = 0
    let inOrder = true
    for await (const { value } of j2.read({})) { if (value?.seq !== n) inOrder = false; n++ }
    await j2.close()
    r.readBack = { count: n, inOrder }
    r.ok = n === sent && inOrder
  } finally {
    await s3.stop()
  }
}

export async function journalCompaction(spec, r) {
  const { Journal, FsStore, S3Store } = await seglog(spec)
  let store
  let s3 = null
  if (spec.store === 's3') {
    s3 = await startS3(path.join(spec.dir, 's3'))
    store = new S3Store({ ...s3.storeOptions, prefix: 'j2/' })
    r.store = `S3Store, ${s3.via}`
  } else {
    store = new FsStore({ root: path.join(spec.dir, 'store') })
    r.store = 'FsStore (local folder)'
  }
  try {
    await compactionRun(Journal, store, spec, r)
  } finally {
    await s3?.stop()
  }
}

async function compactionRun(Journal, store, spec, r) {
  const per = Math.ceil(spec.count / spec.objects)
  const pad = randomBytes(4, 100).toString('hex')
  const j = await Journal.open(store, 'journals/j2', { flushEvents: 1 << 30, flushBytes: 1 << 30, lingerMs: 1 << 30, codec: 'jsonl' })
  for (let i = 0; i < spec.count; i++) {
    await j.append(event(i, pad))
    if ((i + 1) % per === 0) await j.flush()
  }
  await j.close()
  async function readAll() {
    const jr = await Journal.open(store, 'journals/j2', { codec: 'jsonl', readOnly: true })
    const t0 = now()
    let n = 0
    let inOrder = true
    for await (const { value } of jr.read({})) { if (value?.seq !== n) inOrder = false; n++ }
    const ms = now() - t0
    await jr.close()
    return { elapsedMs: ms, opsPerSec: n / (ms / 1000), count: n, inOrder }
  }
  r.before = await readAll()
  // graceMs 0: the first compact() merges, the second deletes the originals it covered
  const jc = await Journal.open(store, 'journals/j2', { codec: 'jsonl', graceMs: 0 })
  const c0 = now()
  const c1 = await jc.compact({ graceMs: 0 })
  const c2 = await jc.compact({ graceMs: 0 })
  r.compactMs = now() - c0
  r.compaction = { merged: (c1.merged?.length ?? 0) + (c2.merged?.length ?? 0), deleted: (c1.deleted?.length ?? 0) + (c2.deleted?.length ?? 0) }
  await jc.close()
  r.after = await readAll()
  r.speedup = r.after.opsPerSec / r.before.opsPerSec
  r.ok = r.before.count === spec.count && r.after.count === spec.count && r.before.inOrder && r.after.inOrder
  r.readBack = { before: r.before.count, after: r.after.count }
  r.objectsBefore = spec.objects
}
