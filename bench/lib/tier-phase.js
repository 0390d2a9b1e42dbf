// One measured phase of the tier benchmarks (TU, TS, TR), in a fresh process:
//   node bench/lib/tier-phase.js '<spec JSON>'   → prints `@@RESULT {...}`
// Phases: build (untimed setup: a local log of spec.bytes in 1 KiB records), tu-ship (a tiered
// Log ships every sealed segment: open + syncTier), tu-put (plain PUTs of the same segment files),
// ts-remote (openRemote + iterate everything, cold cache), ts-local (the same records from the
// local log), tr-restore (Log.open of an empty directory with tier, then the first read).
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { Check, Payloads } from './payload.js'

const RECORD_BYTES = 1024
const spec = JSON.parse(process.argv[2])

async function seglog() {
  const dist = spec.dist
  const root = await import(pathToFileURL(path.join(dist, 'src', 'index.js')).href)
  const s3 = fs.existsSync(path.join(dist, 'src', 's3.js')) ? await import(pathToFileURL(path.join(dist, 'src', 's3.js')).href) : {}
  return { ...s3, ...root }
}

function openStore(m) {
  if (spec.store.kind === 'fs') return new m.FsStore({ root: spec.store.root })
  return new m.S3Store(spec.store.options)
}

/** The sealed segment files of the log in `dir` (every one but the newest, the active one). */
function sealedSegments(dir) {
  const names = fs.readdirSync(dir).filter((n) => /^\d{20}\.log$/.test(n)).sort()
  return names.slice(0, -1).map((n) => ({ name: n, file: path.join(dir, n), size: fs.statSync(path.join(dir, n)).size, base: Number(n.slice(0, 20)) }))
}

function cpuMs(start) {
  const u = process.cpuUsage(start)
  return (u.user + u.system) / 1000
}

async function main() {
  const m = await seglog()
  const r = { ok: true }
  const records = Math.floor(spec.bytes / RECORD_BYTES)
  const payloads = new Payloads(records, RECORD_BYTES)
  switch (spec.phase) {
    case 'build': {
      const log = await m.Log.open(spec.dir, { segmentBytes: spec.segmentBytes, sync: 'never' })
      for (let i = 0; i < records; i += 1000) await log.appendBatch(payloads.array(i, Math.min(records, i + 1000)))
      await log.close()
      const sealed = sealedSegments(spec.dir)
      r.count = records
      r.sealedBytes = sealed.reduce((n, s) => n + s.size, 0)
      r.sealedSegments = sealed.length
      r.sealedEnd = sealed.length === 0 ? 0 : Number(fs.readdirSync(spec.dir).filter((n) => /^\d{20}\.log$/.test(n)).sort().at(-1).slice(0, 20))
      break
    }
    case 'tu-ship': {
      const store = openStore(m)
      const sealed = sealedSegments(spec.dir)
      const cpu = process.cpuUsage()
      const t0 = performance.now()
      const log = await m.Log.open(spec.dir, { segmentBytes: spec.segmentBytes, sync: 'never', tier: { store, prefix: spec.prefix } })
      await log.syncTier()
      const elapsed = performance.now() - t0
      r.cpuMs = cpuMs(cpu)
      const state = log.tierState
      await log.close()
      await store.close?.()
      r.elapsedMs = elapsed
      r.bytes = sealed.reduce((n, s) => n + s.size, 0)
      r.segments = sealed.length
      r.MBps = r.bytes / 2 ** 20 / (elapsed / 1000)
      r.count = state.uploadedOffset
      r.opsPerSec = r.count / (elapsed / 1000)
      if (state.uploadedOffset !== spec.sealedEnd) { r.ok = false; r.error = `shipped up to ${state.uploadedOffset}, expected ${spec.sealedEnd}` }
      break
    }
    case 'tu-put': {
      const store = openStore(m)
      const sealed = sealedSegments(spec.dir)
      const cpu = process.cpuUsage()
      const t0 = performance.now()
      // Sequential, as the shipper ships in offset order: read the file, PUT its bytes.
      for (const s of sealed) await store.put(`${spec.prefix}/${s.name}`, await fs.promises.readFile(s.file))
      const elapsed = performance.now() - t0
      r.cpuMs = cpuMs(cpu)
      await store.close?.()
      r.elapsedMs = elapsed
      r.bytes = sealed.reduce((n, s) => n + s.size, 0)
      r.segments = sealed.length
      r.MBps = r.bytes / 2 ** 20 / (elapsed / 1000)
      r.count = spec.sealedEnd
      r.opsPerSec = r.count / (elapsed / 1000)
      break
    }
    case 'ts-remote':
    case 'ts-local': {
      const check = new Check()
      const cpu = process.cpuUsage()
      const t0 = performance.now()
      let source
      let store
      if (spec.phase === 'ts-remote') {
        store = openStore(m)
        source = await m.Log.openRemote(store, spec.prefix)
      } else {
        source = await m.Log.open(spec.dir, { readOnly: true })
      }
      for await (const rec of source.iterate({ from: 0, to: spec.sealedEnd })) check.add(rec.data)
      const elapsed = performance.now() - t0
      r.cpuMs = cpuMs(cpu)
      await source.close()
      await store?.close?.()
      const want = new Check()
      for (let i = 0; i < spec.sealedEnd; i++) want.add(payloads.record(i))
      r.readBack = check.result()
      r.expected = want.result()
      r.ok = r.readBack.count === r.expected.count && r.readBack.checksum === r.expected.checksum
      r.elapsedMs = elapsed
      r.count = r.readBack.count
      r.opsPerSec = r.count / (elapsed / 1000)
      r.MBps = (r.count * RECORD_BYTES) / 2 ** 20 / (elapsed / 1000)
      break
    }
    case 'tr-restore': {
      const store = openStore(m)
      fs.rmSync(spec.restoreDir, { recursive: true, force: true })
      const t0 = performance.now()
      const log = await m.Log.open(spec.restoreDir, { tier: { store, prefix: spec.prefix } })
      const t1 = performance.now()
      const first = await log.read(log.firstOffset)
      const t2 = performance.now()
      // A second read in another segment: the first read of a segment not cached yet.
      const mid = Math.floor(spec.sealedEnd / 2)
      const second = await log.read(mid)
      const t3 = performance.now()
      r.openMs = t1 - t0
      r.firstReadMs = t2 - t1
      r.otherSegmentReadMs = t3 - t2
      r.elapsedMs = t1 - t0
      r.nextOffset = log.nextOffset
      r.ok = log.firstOffset === 0 && log.nextOffset === spec.sealedEnd &&
        first !== undefined && Buffer.compare(first.data, payloads.record(0)) === 0 &&
        second !== undefined && Buffer.compare(second.data, payloads.record(mid)) === 0
      if (!r.ok) r.error = `restore read wrong data or range: first ${log.firstOffset}, next ${log.nextOffset}, expected 0…${spec.sealedEnd}`
      r.count = 1
      await log.close()
      await store.close?.()
      fs.rmSync(spec.restoreDir, { recursive: true, force: true })
      break
    }
    default:
      throw new Error(`unknown tier phase ${spec.phase}`)
  }
  r.peakRssMB = process.resourceUsage().maxRSS / 1024
  console.log(`@@RESULT ${JSON.stringify(r)}`)
}

main().then(() => process.exit(0), (err) => {
  console.log(`@@RESULT ${JSON.stringify({ ok: false, error: String(err?.stack ?? err).split('\n').slice(0, 4).join(' | ') })}`)
  process.exit(1)
})
