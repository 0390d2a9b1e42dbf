// Floor of a plain `for await` scan (issue 13, W3i): raw's W3 loop, bare async iterators, and
// seglog's iterate()/iterateBatches(), each in fresh processes, alternating.
// Usage: node bench/experiments/scan-floor.mjs [--records N] [--rounds R] [--entry path] [--only a,b] [--consumer sum|check]
// --consumer check hands each record to the bench's own per-record check (bench/lib/payload.js,
// what W3 and W3i run) instead of a two-field sum: the ratios the bench reports.
// Variants: raw (raw's W3 loop), bare-pre / bare-view / bare-fast / bare-chunk (an async iterator
// over records already in memory: prebuilt; a fresh object and view each, the view by Buffer.from
// or by Buffer's own class; made 1,024 at a time), sync-view (the
// same records in a plain loop), iterate, reuse (iterate({ reuseBuffer: true })), batches.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt }
const N = Number(opt('--records', '1000000'))
const ROUNDS = Number(opt('--rounds', '4'))
const DIR = opt('--dir', '/tmp/scanh')
const ENTRY = path.resolve(opt('--entry', path.join(here, '../../dist/pkg/index.js')))
const SCANS = Number(opt('--scans', '3'))
const variants = opt('--only', 'raw,bare-pre,bare-view,bare-fast,bare-chunk,sync-view,iterate,reuse,batches').split(',')
const CONSUMER = opt('--consumer', 'sum')
// bare-fast: bare-view with the view made as seglog's cursor makes it (Node's Buffer class, no checks)
const View = Buffer[Symbol.species]

async function child(variant) {
  const cpu0 = process.cpuUsage()
  const times = []
  let sink = 0
  const check = CONSUMER === 'check' ? new (await import(pathToFileURL(path.join(here, '../lib/payload.js')).href)).Check() : null
  const cb = check ? (d) => check.add(d) : (d) => { sink = (sink + d.length + d[0]) | 0 }
  if (variant === 'raw') {
    const { open } = await import(pathToFileURL(path.join(here, '../adapters/raw.js')).href)
    const h = await open(path.join(DIR, 'raw'), { existing: true })
    for (let s = 0; s < SCANS; s++) { const t = process.hrtime.bigint(); h.scan(cb); times.push(Number(process.hrtime.bigint() - t)) }
    h.close()
  } else if (variant === 'bare-pre' || variant === 'bare-view' || variant === 'bare-fast') {
    const block = Buffer.alloc(N * 132)
    for (let i = 0; i < N; i++) block.writeUInt32LE(128, i * 132)
    const pre = []
    if (variant === 'bare-pre') for (let i = 0; i < N; i++) pre.push({ offset: i, timestamp: 0, data: block.subarray(i * 132 + 4, i * 132 + 132) })
    for (let s = 0; s < SCANS; s++) {
      let i = 0
      const it = variant === 'bare-pre'
        ? { next() { return Promise.resolve(i < N ? { value: pre[i++], done: false } : { value: undefined, done: true }) }, [Symbol.asyncIterator]() { return this } }
        : { next() {
          if (i >= N) return Promise.resolve({ value: undefined, done: true })
          const rp = i * 132
          const len = (block[rp] | block[rp + 1] << 8 | block[rp + 2] << 16 | block[rp + 3] << 24) >>> 0
          const data = variant === 'bare-fast' ? new View(block.buffer, block.byteOffset + rp + 4, len) : Buffer.from(block.buffer, block.byteOffset + rp + 4, len)
          const r = { offset: i++, timestamp: 0, data }
          return Promise.resolve({ value: r, done: false })
        }, [Symbol.asyncIterator]() { return this } }
      const t = process.hrtime.bigint()
      for await (const r of it) cb(r.data)
      times.push(Number(process.hrtime.bigint() - t))
    }
  } else if (variant === 'bare-chunk') {
    // bare-view's records, made 1,024 at a time in a plain loop and handed out from an array.
    const block = Buffer.alloc(N * 132)
    for (let i = 0; i < N; i++) block.writeUInt32LE(128, i * 132)
    for (let s = 0; s < SCANS; s++) {
      let i = 0
      let chunk = []
      let k = 0
      const fill = () => {
        chunk = []
        k = 0
        for (let n = 0; n < 1024 && i < N; n++, i++) {
          const rp = i * 132
          const len = (block[rp] | block[rp + 1] << 8 | block[rp + 2] << 16 | block[rp + 3] << 24) >>> 0
          chunk.push({ offset: i, timestamp: 0, data: Buffer.from(block.buffer, block.byteOffset + rp + 4, len) })
        }
      }
      const it = { next() {
        if (k >= chunk.length) {
          if (i >= N) return Promise.resolve({ value: undefined, done: true })
          fill()
        }
        return Promise.resolve({ value: chunk[k++], done: false })
      }, [Symbol.asyncIterator]() { return this } }
      const t = process.hrtime.bigint()
      for await (const r of it) cb(r.data)
      times.push(Number(process.hrtime.bigint() - t))
    }
  } else if (variant === 'sync-view') {
    // The same object and view per record as bare-view, in a plain loop: no promise, no microtask.
    const block = Buffer.alloc(N * 132)
    for (let i = 0; i < N; i++) block.writeUInt32LE(128, i * 132)
    for (let s = 0; s < SCANS; s++) {
      const t = process.hrtime.bigint()
      for (let i = 0; i < N; i++) {
        const rp = i * 132
        const len = (block[rp] | block[rp + 1] << 8 | block[rp + 2] << 16 | block[rp + 3] << 24) >>> 0
        const r = { offset: i, timestamp: 0, data: Buffer.from(block.buffer, block.byteOffset + rp + 4, len) }
        cb(r.data)
      }
      times.push(Number(process.hrtime.bigint() - t))
    }
  } else {
    const { Log } = await import(pathToFileURL(ENTRY).href)
    const log = await Log.open(path.join(DIR, 'seglog'), { sync: 'never' })
    for (let s = 0; s < SCANS; s++) {
      const t = process.hrtime.bigint()
      if (variant === 'iterate') { for await (const r of log.iterate()) cb(r.data) }
      else if (variant === 'reuse') { for await (const r of log.iterate({ reuseBuffer: true })) cb(r.data) }
      else { for await (const rs of log.iterateBatches()) for (let k = 0; k < rs.length; k++) cb(rs[k].data) }
      times.push(Number(process.hrtime.bigint() - t))
    }
    await log.close()
  }
  const cpu = process.cpuUsage(cpu0)  // the whole child, setup included: compare like with like
  process.stdout.write(JSON.stringify({ variant, nsPerRec: times.map((t) => t / N), cpuUsTotal: (cpu.user + cpu.system), rss: process.memoryUsage().rss, sink }) + '\n')
}

async function setup() {
  if (fs.existsSync(path.join(DIR, 'done-' + N))) return
  fs.rmSync(DIR, { recursive: true, force: true })
  fs.mkdirSync(DIR, { recursive: true })
  const payload = []
  for (let i = 0; i < 1000; i++) payload.push(Buffer.from(Array.from({ length: 128 }, (_, k) => (i * 31 + k * 7) & 255)))
  const { open } = await import(pathToFileURL(path.join(here, '../adapters/raw.js')).href)
  const raw = await open(path.join(DIR, 'raw'))
  const { Log } = await import(pathToFileURL(ENTRY).href)
  const log = await Log.open(path.join(DIR, 'seglog'), { sync: 'never' })
  for (let i = 0; i < N; i += 1000) { raw.appendBatch(payload); await log.appendBatch(payload) }
  raw.sync(); raw.close(); await log.sync(); await log.close()
  fs.writeFileSync(path.join(DIR, 'done-' + N), '')
}

if (process.env.SCAN_FLOOR_CHILD) await child(process.env.SCAN_FLOOR_CHILD)
else {
  await setup()
  const res = Object.fromEntries(variants.map((v) => [v, []]))
  for (let r = 0; r < ROUNDS; r++) {
    for (const v of variants) {
      const out = spawnSync(process.execPath, [...(process.env.NODE_EXTRA ? process.env.NODE_EXTRA.split(' ') : []), fileURLToPath(import.meta.url), ...args], { env: { ...process.env, SCAN_FLOOR_CHILD: v }, encoding: 'utf8' })
      if (out.status !== 0) { console.error(v, out.stderr); process.exit(1) }
      const j = JSON.parse(out.stdout.trim().split('\n').pop())
      res[v].push(j)
    }
  }
  const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1] }
  const rawBest = med(res.raw?.map((j) => Math.min(...j.nsPerRec)) ?? [NaN])
  for (const v of variants) {
    const best = res[v].map((j) => Math.min(...j.nsPerRec))
    const last = res[v].map((j) => j.nsPerRec[j.nsPerRec.length - 1])
    console.log(`${v.padEnd(10)} best-of-process median ${med(best).toFixed(1)} ns/rec  (runs ${best.map((x) => x.toFixed(0)).join(' ')}), last-scan median ${med(last).toFixed(1)}, raw/this ${(rawBest / med(best)).toFixed(2)}, rss ${(med(res[v].map((j) => j.rss)) / 1e6).toFixed(0)} MB`)
  }
}
