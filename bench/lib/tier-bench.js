// TU, TS, TR: the tiered-storage benchmarks of issue 14, on FsStore and on s3rver (loopback).
//   TU  upload throughput: a tiered Log ships every sealed segment (Log.open with tier +
//       syncTier(): list, verify each batch, create-only PUT of data and seal) against plain PUTs
//       of the same segment files to the same store; MB/s and the ratio.
//   TS  remote scan: Log.openRemote(...).iterate() over every shipped record in a fresh process
//       (cold read cache) against the same records from the local log; records/s and the ratio.
//   TR  restore: Log.open(emptyDir, { tier }) and the first read (cold), then a read in another
//       segment; ms.
// Every measurement runs in a fresh process (tier-phase.js) and is checked (what was shipped is
// counted; what was scanned is fingerprinted against the payloads written; restored reads are
// compared byte for byte). Results: bench/results/tier-<mode>.json; docs via tierDocsSection().
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { median } from './stats.js'

const LIB = path.dirname(fileURLToPath(import.meta.url))
const BENCH = path.resolve(LIB, '..')
const MiB = 2 ** 20

/** quick: 64 MiB in 8 MiB segments; full: 1 GiB in 64 MiB segments (the default segment size). */
export const TIER_SIZES = {
  quick: { bytes: 64 * MiB, segmentBytes: 8 * MiB },
  full: { bytes: 1024 * MiB, segmentBytes: 64 * MiB },
}

const STORES = ['fs', 's3']
const state = { runs: [], loadavg: [], built: null, s3: null, started: null }

function runTierPhase(spec, timeoutMs) {
  return new Promise((resolve) => {
    const t0 = performance.now()
    const child = spawn(process.execPath, [path.join(LIB, 'tier-phase.js'), JSON.stringify(spec)], {
      cwd: BENCH, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { err += d; if (err.length > 1e5) err = err.slice(-2e4) })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      const line = out.split('\n').reverse().find((l) => l.startsWith('@@RESULT '))
      const r = line ? JSON.parse(line.slice(9)) : { ok: false, error: `exit ${code}: ${err.trim().split('\n').slice(-4).join(' | ')}` }
      r.wallMs = performance.now() - t0
      resolve(r)
    })
  })
}

// s3rver behind the test helper's enforcing proxy when the tests are built (as J1/J2 do), else
// a plain s3rver child from the repository's node_modules.
async function startS3(ROOT, dir) {
  const helper = path.join(ROOT, 'dist', 'test', 'helpers', 'servers.js')
  if (fs.existsSync(helper)) {
    const h = await import(pathToFileURL(helper).href)
    const s = await h.startS3({ bucket: 'bench' })
    return { options: s.storeOptions, via: 's3rver behind the conditional-write proxy of test/helpers/servers.ts', stop: () => s.stop() }
  }
  const net = await import('node:net')
  const port = await new Promise((resolve, reject) => {
    const srv = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => { const p = srv.address().port; srv.close(() => resolve(p)) })
  })
  fs.mkdirSync(dir, { recursive: true })
  const child = spawn(process.execPath, [path.join(ROOT, 'node_modules', 's3rver', 'bin', 's3rver.js'), '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--silent', '--configure-bucket', 'bench'], {
    env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --openssl-legacy-provider`.trim() }, stdio: 'ignore',
  })
  for (let i = 0; i < 200; i++) {
    const up = await new Promise((resolve) => { const c = net.connect(port, '127.0.0.1', () => { c.end(); resolve(true) }); c.on('error', () => resolve(false)) })
    if (up) break
    await new Promise((res) => setTimeout(res, 50))
  }
  return {
    options: { bucket: 'bench', endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
    via: 'plain s3rver (conditional writes not enforced)',
    stop: async () => { child.kill('SIGTERM') },
  }
}

const mbps = (r) => (r.ok && r.MBps != null ? `  ${r.MBps.toFixed(1)} MB/s` : '')

/** One repetition of the tier workloads; run.js calls it once per repetition. */
export async function tierBench({ rep, reps, mode, workloads, record, notes, dir, T, ROOT }) {
  const want = (w) => workloads.includes(w)
  const sizes = TIER_SIZES[mode] ?? TIER_SIZES.quick
  const dist = process.env.SEGLOG_BENCH_DIST ?? path.join(ROOT, 'dist')
  state.started ??= new Date().toISOString()
  state.loadavg.push(os.loadavg().map((x) => +x.toFixed(2)))
  if (state.built === null) {
    const logDir = dir('tier-log')
    process.stdout.write(`bench: building the ${sizes.bytes / MiB} MiB log for TU/TS/TR (${sizes.segmentBytes / MiB} MiB segments) ... `)
    const r = await runTierPhase({ phase: 'build', dist, dir: logDir, bytes: sizes.bytes, segmentBytes: sizes.segmentBytes }, T)
    console.log(r.ok ? `${r.sealedSegments} sealed segments, ${(r.sealedBytes / MiB).toFixed(1)} MiB, offsets 0…${r.sealedEnd - 1}` : `FAILED: ${r.error}`)
    if (!r.ok) { notes.push(`TU/TS/TR: building the log failed: ${r.error}`); state.built = false; return }
    state.built = { dir: logDir, ...r }
    try {
      state.s3 = await startS3(ROOT, dir('tier-s3rver'))
    } catch (err) {
      notes.push(`TU/TS/TR on s3rver not run: ${String(err.message ?? err).split('\n')[0]}`)
    }
  }
  if (!state.built) return
  const b = state.built
  const base = { dist, dir: b.dir, bytes: sizes.bytes, segmentBytes: sizes.segmentBytes, sealedEnd: b.sealedEnd }
  const keep = (id, r, extra) => {
    state.runs.push({ ...r, rep, workloadId: id })
    record(rep, 'seglog', id, r, extra)
  }
  for (const kind of STORES) {
    if (kind === 's3' && !state.s3) continue
    const store = kind === 'fs' ? { kind, root: dir('tier-fs-store') } : { kind, options: state.s3.options }
    const shipPrefix = `tier/ship-${rep}`
    const phase = (p, extra = {}) => runTierPhase({ ...base, store, phase: p, ...extra }, T)
    // Alternate which goes first, so that neither always meets a warmer page cache.
    const shipFirst = rep % 2 === 0
    let ship
    let put
    if (shipFirst) ship = await phase('tu-ship', { prefix: shipPrefix })
    if (want('TU')) put = await phase('tu-put', { prefix: `tier/put-${rep}` })
    if (!shipFirst) ship = await phase('tu-ship', { prefix: shipPrefix })
    if (want('TU')) {
      keep(`TU-${kind}-ship`, ship, mbps(ship))
      keep(`TU-${kind}-put`, put, mbps(put))
    }
    if (!ship.ok) { if (!want('TU')) keep(`TU-${kind}-ship`, ship); continue }
    if (want('TS')) {
      const order = shipFirst ? ['ts-remote', 'ts-local'] : ['ts-local', 'ts-remote']
      const res = {}
      for (const p of order) res[p] = await phase(p, { prefix: shipPrefix })
      keep(`TS-${kind}-remote`, res['ts-remote'], mbps(res['ts-remote']))
      keep(`TS-${kind}-local`, res['ts-local'], mbps(res['ts-local']))
    }
    if (want('TR')) {
      const r = await phase('tr-restore', { prefix: shipPrefix, restoreDir: dir('tier-restore', kind, rep) })
      keep(`TR-${kind}`, { ...r, opsPerSec: undefined }, r.ok ? `  open ${r.openMs.toFixed(1)} ms, first read ${r.firstReadMs.toFixed(1)} ms, read in another segment ${r.otherSegmentReadMs.toFixed(1)} ms` : '')
    }
    if (kind === 'fs' && rep === reps - 1) fs.rmSync(store.root, { recursive: true, force: true })
  }
  if (rep === reps - 1) {
    writeTierResult(mode, sizes)
    await state.s3?.stop().catch(() => undefined)
    fs.rmSync(b.dir, { recursive: true, force: true })
  }
}

/**
 * Per-repetition ratios (ship ÷ PUT, remote ÷ local scan): the two phases of a ratio ran back to
 * back under the same load, so their quotient is steadier than a quotient of medians.
 */
function ratios(runs) {
  const out = {}
  const pairs = { 'TU-fs': ['TU-fs-ship', 'TU-fs-put', 'MBps'], 'TU-s3': ['TU-s3-ship', 'TU-s3-put', 'MBps'], 'TS-fs': ['TS-fs-remote', 'TS-fs-local', 'opsPerSec'], 'TS-s3': ['TS-s3-remote', 'TS-s3-local', 'opsPerSec'] }
  for (const [id, [a, b, k]] of Object.entries(pairs)) {
    const per = []
    for (const rep of new Set(runs.map((r) => r.rep))) {
      const x = runs.find((r) => r.rep === rep && r.workloadId === a)
      const y = runs.find((r) => r.rep === rep && r.workloadId === b)
      if (x?.ok && y?.ok && y[k]) per.push(x[k] / y[k])
    }
    if (per.length) out[id] = { median: median(per), range: [Math.min(...per), Math.max(...per)], perRep: per }
  }
  return out
}

function summarize(runs) {
  const by = {}
  for (const r of runs) (by[r.workloadId] ??= []).push(r)
  const out = {}
  for (const [id, rs] of Object.entries(by)) {
    const good = rs.filter((r) => r.ok)
    const m = (f) => (good.some((r) => f(r) != null) ? median(good.map(f).filter((x) => x != null)) : null)
    const range = (f) => (good.length ? [Math.min(...good.map(f)), Math.max(...good.map(f))] : null)
    out[id] = {
      reps: rs.length, ok: good.length === rs.length, failures: rs.filter((r) => !r.ok).map((r) => r.error ?? 'check failed'),
      MBps: m((r) => r.MBps), MBpsRange: good.some((r) => r.MBps != null) ? range((r) => r.MBps) : null,
      opsPerSec: m((r) => r.opsPerSec), elapsedMs: m((r) => r.elapsedMs), cpuMs: m((r) => r.cpuMs), bytes: m((r) => r.bytes), segments: m((r) => r.segments),
      count: m((r) => r.count), openMs: m((r) => r.openMs), firstReadMs: m((r) => r.firstReadMs), otherSegmentReadMs: m((r) => r.otherSegmentReadMs),
      openMsRange: good.some((r) => r.openMs != null) ? range((r) => r.openMs) : null,
    }
  }
  return out
}

function writeTierResult(mode, sizes) {
  const result = {
    kind: 'seglog-tier-bench', mode, started: state.started, finished: new Date().toISOString(),
    command: `node bench/run.js ${process.argv.slice(2).join(' ')}`.trim(),
    sizes: { ...sizes, recordBytes: 1024, sealedBytes: state.built.sealedBytes, sealedSegments: state.built.sealedSegments, records: state.built.sealedEnd },
    s3: state.s3?.via ?? null,
    machine: { cores: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGB: Math.round(os.totalmem() / 2 ** 30), node: process.versions.node },
    loadavgPerRep: state.loadavg,
    summary: summarize(state.runs),
    ratios: ratios(state.runs),
    runs: state.runs,
  }
  const out = path.join(BENCH, 'results', `tier-${mode}.json`)
  fs.mkdirSync(path.dirname(out), { recursive: true })
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n')
  console.log(`bench: tier results in ${path.relative(process.cwd(), out)}`)
}

const f1 = (x) => (x == null ? '—' : x >= 100 ? x.toFixed(0) : x.toFixed(1))
const fRate = (x) => (x == null ? '—' : x >= 1e6 ? `${(x / 1e6).toFixed(2)} M/s` : `${(x / 1e3).toFixed(0)} k/s`)
const ratioOf = (q) => (q ? `${q.median.toFixed(2)}× [${q.range[0].toFixed(2)}–${q.range[1].toFixed(2)}]` : '—')
const okMark = (...ss) => (ss.every((s) => s?.ok) ? 'ok' : '**failed**')

/** The "Tiered storage" section of docs/benchmarks.md, from bench/results/tier-*.json. */
export function tierDocsSection(load) {
  const L = []
  for (const mode of ['full', 'quick']) {
    const res = load(`tier-${mode}`)
    if (!res) continue
    const S = res.summary
    const z = res.sizes
    L.push(`## Tiered storage (issue 14), ${mode === 'full' ? 'full run' : 'quick run'}`)
    L.push('')
    L.push(`Measured ${res.started.slice(0, 16).replace('T', ' ')} UTC with \`${res.command}\`, ${Math.max(...Object.values(S).map((s) => s.reps))} repetitions, medians shown (min–max in brackets; a ratio is the median of the per-repetition ratios, whose two phases ran back to back). Raw data: [bench/results/tier-${mode}.json](../bench/results/tier-${mode}.json). A log of ${n(z.records)} records of ${z.recordBytes} B of random bytes in ${z.segmentBytes / MiB} MiB segments: ${z.sealedSegments} sealed segments, ${(z.sealedBytes / MiB).toFixed(1)} MiB. Stores: FsStore on the same disk, and ${res.s3 ?? 's3rver'} on loopback. Machine: ${res.machine.cores} × ${res.machine.cpuModel}, Node ${res.machine.node}; load average (1 min) at each repetition: ${res.loadavgPerRep.map((l) => l[0]).join(', ')}${res.loadavgPerRep.some((l) => l[0] > res.machine.cores) ? ' — **busy**: other processes shared the CPUs and the disk, so absolute figures are low and noisy; the ratios compare phases run back to back under the same load' : ''}.`)
    L.push('')
    L.push('| store | TU ship (tiered Log) | TU plain PUTs | ship ÷ PUT | TS remote scan | TS local scan | remote ÷ local | TR restore open | TR first read | TR read, other segment | checked |')
    L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|')
    for (const kind of STORES) {
      const g = (id) => S[`${id}`]
      const ship = g(`TU-${kind}-ship`)
      const put = g(`TU-${kind}-put`)
      const rs = g(`TS-${kind}-remote`)
      const ls = g(`TS-${kind}-local`)
      const tr = g(`TR-${kind}`)
      if (!ship && !rs && !tr) continue
      const range = (s) => (s?.MBpsRange ? ` [${f1(s.MBpsRange[0])}–${f1(s.MBpsRange[1])}]` : '')
      L.push(`| ${kind === 'fs' ? 'FsStore' : 's3rver'} | ${ship ? `${f1(ship.MBps)} MB/s${range(ship)}` : '—'} | ${put ? `${f1(put.MBps)} MB/s${range(put)}` : '—'} | ${ratioOf(res.ratios?.[`TU-${kind}`])} | ` +
        `${rs ? `${fRate(rs.opsPerSec)} (${f1(rs.MBps)} MB/s)` : '—'} | ${ls ? `${fRate(ls.opsPerSec)} (${f1(ls.MBps)} MB/s)` : '—'} | ${ratioOf(res.ratios?.[`TS-${kind}`])} | ` +
        `${tr ? `${f1(tr.openMs)} ms` : '—'} | ${tr ? `${f1(tr.firstReadMs)} ms` : '—'} | ${tr ? `${f1(tr.otherSegmentReadMs)} ms` : '—'} | ${okMark(...[ship, put, rs, ls, tr].filter(Boolean))} |`)
    }
    L.push('')
    L.push('- **TU**: `Log.open(dir, { tier })` on the log (created without `tier`, so every sealed segment is shipped at open) and `syncTier()`, timed together: one listing, each segment read and every batch verified, a create-only PUT of the data object, then of the seal object, one segment after the other. Against it: the same segment files read and PUT one after the other to another prefix of the same store (no verification, no seal). Each in a fresh process; which one runs first alternates per repetition.')
    L.push('- **TS**: every shipped record read in offset order in a fresh process: `Log.openRemote(store, prefix).iterate()` (cold read cache: a new process; ranged GETs of about 256 KiB, each batch\'s CRC32C checked) against `Log.open(dir, { readOnly: true }).iterate()` over the same offsets (the local files are in the page cache: the OS cache is not dropped). Both fingerprint every record against the payloads written.')
    L.push('- **TR**: `Log.open(emptyDir, { tier })` (lists the store, creates the local log at the store\'s end), then `read(firstOffset)` (the seal object and one block, cold), then `read()` of an offset in the middle segment (another seal and block). The data read is compared with what was written.')
    L.push('')
  }
  return L.join('\n')
}

const n = (x) => (x == null ? '—' : Number(x).toLocaleString('en'))
