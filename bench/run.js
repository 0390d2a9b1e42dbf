#!/usr/bin/env node
// seglog benchmarks, side by side with the peers (issue #6).
//
//   npm run bench                      quick run (2-3 minutes here; sizes scaled down)
//   npm run bench -- --full            the sizes of DESIGN.md §5
//   npm run bench -- --only W1,W2      some workloads (W1 W1s W2 W3 W3i W4 W5 IMP T1 J1 J2 TU TS TR)
//   npm run bench -- --peers seglog,raw,lmdb
//   npm run bench -- --reps 5          repetitions (default 3, interleaved)
//   npm run bench -- --base ../old     also bench another build (its dist/) as peer seglog-base
//   npm run bench -- --long [--long-gb 4] [--peers seglog,raw]   long-run append mode
//   npm run bench -- --full --records 10000000 --only W1,W3 --peers seglog,raw   other log sizes
//                                      (W1/W1s/W3/W3i/W4 on N records; e.g. peak RSS at 10 M)
//   node bench/report.js               redraw docs/benchmarks.md and charts from bench/results
//
// Every phase runs in a fresh child process (lib/phase.js); results are checked (count and
// checksum of what was read back); medians of the repetitions go to bench/results/<mode>.json,
// docs/benchmarks.md and docs/bench/*.svg.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'

const BENCH = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(BENCH, '..')

export const ALL_PEERS = ['seglog', 'seglog-base', 'raw', 'raw-nogc', 'aaol', 'lmdb', 'sqlite-full', 'sqlite-normal', 'classic-level', 'sonic-boom', 'hypercore']
export const ALL_WORKLOADS = ['W1', 'W1s', 'W2', 'W3', 'W3i', 'W4', 'W5', 'IMP', 'T1', 'J1', 'J2', 'TU', 'TS', 'TR']

const SIZES = {
  quick: { records: 100_000, w2: 2_000, reads: 20_000, w5Large: 500_000, t1: 400_000, j1Events: 1_000, j2Events: 10_000, j2Objects: 300, timeoutMs: 180_000 },
  full: { records: 1_000_000, w2: 20_000, reads: 100_000, w5Large: 10_000_000, t1: 2_000_000, j1Events: 10_000, j2Events: 100_000, j2Objects: 3_000, timeoutMs: 1_800_000 },
}

function parseArgs(argv) {
  const a = { mode: 'quick', reps: 3, only: null, peers: null, long: false, longGb: 4, dir: null, docs: null, keep: false }
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]
    const next = () => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${k} needs a value`)
      return v
    }
    if (k === '--full') a.mode = 'full'
    else if (k === '--quick') a.mode = 'quick'
    else if (k === '--only') a.only = next().split(',').map((s) => s.trim()).filter(Boolean)
    else if (k === '--peers') a.peers = next().split(',').map((s) => s.trim()).filter(Boolean)
    else if (k === '--base') a.base = next()
    else if (k === '--reps') a.reps = Math.max(1, Number(next()))
    else if (k === '--long') a.long = true
    else if (k === '--long-gb') { a.longGb = Number(next()); a.long = true }
    else if (k === '--dir') a.dir = path.resolve(next())
    else if (k === '--docs') a.docs = true
    else if (k === '--no-docs') a.docs = false
    else if (k === '--keep') a.keep = true
    else if (k === '--records') {
      a.records = Number(next())
      if (!Number.isSafeInteger(a.records) || a.records < 1000 || a.records % 1000 !== 0) throw new Error(`--records needs a whole number of thousands ≥ 1000; got ${argv[i]}`)
    }
    else if (k === '--help' || k === '-h') a.help = true
    else throw new Error(`unknown argument ${k} (try --help)`)
  }
  for (const w of a.only ?? []) if (!ALL_WORKLOADS.includes(w)) throw new Error(`unknown workload ${w}; known: ${ALL_WORKLOADS.join(' ')}`)
  for (const p of a.peers ?? []) if (!ALL_PEERS.includes(p)) throw new Error(`unknown peer ${p}; known: ${ALL_PEERS.join(' ')}`)
  return a
}

function ensureDeps() {
  const nm = path.join(BENCH, 'node_modules')
  if (fs.existsSync(nm)) return
  console.log('bench: installing the peers into bench/node_modules (npm --prefix bench ci; better-sqlite3 compiles, about a minute) ...')
  let r = spawnSync('npm', ['--prefix', BENCH, 'ci', '--no-audit', '--no-fund'], { stdio: 'inherit' })
  if (r.status !== 0) {
    // `npm ci` refuses a lockfile without entries for optional packages the registry does not
    // have (msgpackr-extract's non-Linux builds, here); `npm install` uses the same lockfile.
    console.log('bench: npm ci failed; trying npm --prefix bench install ...')
    r = spawnSync('npm', ['--prefix', BENCH, 'install', '--no-audit', '--no-fund'], { stdio: 'inherit' })
  }
  if (r.status !== 0) {
    console.error('bench: could not install the peers. Run `npm --prefix bench ci` (or `npm --prefix bench install`) from the repository root and try again.')
    process.exit(1)
  }
}

function fmtRateShort(x) {
  if (x == null) return '—'
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M/s`
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k/s`
  return `${x.toFixed(0)}/s`
}

function runPhase(spec, timeoutMs) {
  return new Promise((resolve) => {
    const t0 = performance.now()
    const child = spawn(process.execPath, [path.join(BENCH, 'lib', 'phase.js'), JSON.stringify(spec)], {
      cwd: BENCH, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(spec.env ?? {}) },
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += d; if (out.length > 1e6) out = out.slice(-1e5) })
    child.stderr.on('data', (d) => { err += d; if (err.length > 1e5) err = err.slice(-2e4) })
    let timedOut = false
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL') }, timeoutMs)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const line = out.split('\n').reverse().find((l) => l.startsWith('@@RESULT '))
      let r
      if (line) r = JSON.parse(line.slice(9))
      else r = { ok: false, error: timedOut ? `timed out after ${timeoutMs / 1000} s` : `exit ${code}${signal ? ` (${signal})` : ''}: ${err.trim().split('\n').slice(-6).join(' | ')}` }
      if (!r.ok && !r.error && err.trim()) r.stderr = err.trim().slice(-600)
      r.wallMs = performance.now() - t0
      resolve(r)
    })
  })
}

async function loadInfos(peers) {
  const infos = {}
  for (const p of peers) {
    try {
      const m = await import(pathToFileURL(path.join(BENCH, 'adapters', `${p}.js`)).href)
      const info = { ...m.info }
      if (typeof m.available === 'function') {
        const av = await m.available()
        if (av !== true) info.unavailable = av
      }
      infos[p] = info
    } catch (e) {
      infos[p] = { name: p, unavailable: `failed to load: ${String(e.message ?? e).split('\n')[0]}` }
    }
  }
  return infos
}

async function seglogExports() {
  const entry = path.join(process.env.SEGLOG_BENCH_DIST ?? path.join(ROOT, 'dist'), 'src', 'index.js')
  if (!fs.existsSync(entry)) return {}
  try {
    // S3Store moved to its own entry point (seglog/s3, dist/src/s3.js); older builds had it in the root.
    const s3 = path.join(path.dirname(entry), 's3.js')
    return { ...(fs.existsSync(s3) ? await import(pathToFileURL(s3).href) : {}), ...(await import(pathToFileURL(entry).href)) }
  } catch (e) {
    return { loadError: String(e.message ?? e) }
  }
}

function applies(info, w) {
  if (info.only && !info.only.includes(w)) return false
  if (info.writeOnly && ['W3', 'W4', 'W5'].includes(w)) return false
  return true
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  if (args.base) {
    // --base: a repository (with dist/) or a dist/ directory of another build, benched as the
    // peer seglog-base interleaved with this build, so a before/after shares the machine's load.
    const b = path.resolve(args.base)
    process.env.SEGLOG_BENCH_BASE_DIST = fs.existsSync(path.join(b, 'dist', 'src', 'index.js')) ? path.join(b, 'dist') : b
    if (args.peers && !args.peers.includes('seglog-base')) args.peers.push('seglog-base')
  }
  if (args.help) {
    console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 14).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'))
    return
  }
  ensureDeps()
  const { machineInfo, ddReference, fdatasyncReference } = await import('./lib/machine.js')
  const { aggregate } = await import('./lib/aggregate.js')
  const { writeDocs } = await import('./report.js')

  const baseDir = args.dir ?? path.join(os.tmpdir(), `seglog-bench-${process.pid}`)
  fs.mkdirSync(baseDir, { recursive: true })
  const cleanup = () => { if (!args.keep) fs.rmSync(baseDir, { recursive: true, force: true }) }
  process.on('exit', cleanup)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => process.exit(130))

  // Snapshot the seglog build (dist/src) inside bench/ (so that its imports still resolve to the
  // repository's node_modules): a rebuild during the run cannot change what is measured.
  const seglogBuild = snapshotSeglog()
  if (seglogBuild.snapshot) {
    process.env.SEGLOG_BENCH_DIST = seglogBuild.snapshot
    process.on('exit', () => fs.rmSync(seglogBuild.snapshot, { recursive: true, force: true }))
  }
  const started = new Date()
  const machine = machineInfo(baseDir)
  console.log(`bench: ${machine.cores} cores, ${machine.memoryGB} GiB, Node ${machine.node}, data in ${baseDir} (${machine.disk?.device ?? '?'})`)
  console.log('bench: disk reference (dd, fdatasync) ...')
  const reference = { dd: ddReference(baseDir, args.mode === 'full' || args.long ? 1024 : 256), fdatasync: fdatasyncReference(baseDir) }
  for (const [k, v] of Object.entries(reference.dd)) console.log(`  dd ${k}: ${v.MBps ?? '?'} MB/s`)
  for (const [k, v] of Object.entries(reference.fdatasync)) console.log(`  fdatasync after ${k}: p50 ${v.p50Ms} ms, p99 ${v.p99Ms} ms`)

  if (args.long) {
    const { runLong } = await import('./lib/long.js')
    const peers = args.peers ?? ['seglog', 'raw']
    const infos = await loadInfos(peers)
    const long = await runLong({ peers, infos, gb: args.longGb, baseDir, bench: BENCH })
    const result = { kind: 'seglog-bench', mode: 'long', started: started.toISOString(), finished: new Date().toISOString(), seglog: seglogInfo(seglogBuild), machine, reference, long, peers: infos }
    writeResult('long', result)
    if (args.docs !== false) writeDocs(ROOT)
    cleanup()
    return
  }

  const sizes = args.records ? { ...SIZES[args.mode], records: args.records } : SIZES[args.mode]
  const workloads = args.only ?? ALL_WORKLOADS
  const peers = args.peers ?? ALL_PEERS.filter((p) => p !== 'seglog-base' || args.base)
  const infos = await loadInfos(peers)
  const exportsSeglog = await seglogExports()
  const notes = []
  const busy = () => {
    const l = os.loadavg()[0]
    return l > machine.cores * 0.75 ? l : null
  }
  if (seglogBuild.staleBundle) {
    // It happened: a run after `tsc` alone measured IMP and W5F at 89 and 84 ms (the ~90 module files) instead of 27 and 26.
    const m = 'dist/pkg (the bundle users import) is older than dist/src (tsc ran after it), so seglog ran from dist/src\'s module files: IMP and W5F measure the unbundled load. Run `npm run build` first.'
    notes.push(m)
    console.log(`bench: warning: ${m}`)
  }
  if (busy()) {
    const m = `The machine was busy when the run started (load average ${machine.loadavgAtStart.join(' / ')} on ${machine.cores} cores): other processes share the CPU and the disk, so figures are noisier and lower than on an idle machine; the ratios within one run stay comparable (every peer ran interleaved under the same load).`
    notes.push(m)
    console.log(`bench: warning: ${m}`)
  }
  if (args.records) notes.push(`--records ${args.records}: W1, W1s, W3, W3i, W4 and W5 ran on ${args.records.toLocaleString('en')} records instead of ${SIZES[args.mode].records.toLocaleString('en')}.`)
  if (args.mode === 'quick') {
    notes.push(`Quick mode: ${sizes.records.toLocaleString('en')} records for W1/W1s/W3 (DESIGN: 1,000,000), ${sizes.w2.toLocaleString('en')} durable appends for W2 (20,000), ${sizes.reads.toLocaleString('en')} random reads for W4 (100,000), W5 on ${sizes.records.toLocaleString('en')}- and ${sizes.w5Large.toLocaleString('en')}-record logs (1 M and 10 M). Run with --full for the DESIGN sizes.`)
  }
  // A --base that does not load would leave the run without the comparison it was asked for.
  if (args.base && infos['seglog-base']?.unavailable) {
    throw new Error(`--base ${args.base}: the build does not load (${infos['seglog-base'].unavailable}). ` +
      'Its bundle resolves its dependencies from a node_modules above it: link one next to it (ln -s <repo>/node_modules <base>/node_modules) or pass a repository that has one')
  }
  for (const [p, info] of Object.entries(infos)) {
    if (info.unavailable) {
      const n = `${p}: not run — ${info.unavailable}`
      notes.push(n)
      console.log(`bench: ${n}`)
    }
  }
  console.log(`bench: ${args.mode} mode, ${args.reps} repetitions, workloads ${workloads.join(' ')}, peers ${peers.join(' ')}`)
  if (args.mode === 'quick') console.log(`bench: ${notes.find((x) => x.startsWith('Quick mode'))}`)

  const runs = [] // every phase result
  const T = sizes.timeoutMs
  const live = peers.filter((p) => !infos[p].unavailable)
  const dir = (...parts) => path.join(baseDir, parts.join('-'))
  const needW1Log = (info) => ['W1', 'W3', 'W3i', 'W4', 'W5'].some((w) => workloads.includes(w) && applies(info, w))
  const log = (rep, peer, w, r, extra = '') => {
    const what = w === 'W5' || w === 'W5L' || w === 'W5F' || w === 'IMP' ? `${r.openMs?.toFixed(2) ?? '—'} ms${w === 'IMP' ? '' : ' open'}` : fmtRateShort(r.opsPerSec)
    const cost = r.ok && r.cpuMs != null && r.count ? ` ${((r.cpuMs * 1000) / r.count).toFixed(3)} µs CPU/op${r.runQueueMs != null ? `, ${r.runQueueMs.toFixed(0)} ms waiting for a CPU` : ''}${r.cpuSysMs != null ? ` (${r.cpuUserMs.toFixed(0)} user + ${r.cpuSysMs.toFixed(0)} sys ms${r.mainSysMs != null ? `, main thread ${r.mainUserMs} + ${r.mainSysMs}` : ''}, ${r.minorFaults ?? '—'} faults${r.machineStealMs ? `, ${r.machineStealMs} ms stolen` : ''})` : ''}, peak RSS ${r.peakRssMB?.toFixed(0)} MB` : ''
    console.log(`  [${rep + 1}/${args.reps}] ${peer.padEnd(14)} ${w.padEnd(11)} ${what.padStart(12)}${cost} ${r.ok ? 'ok' : `FAILED: ${(r.error ?? JSON.stringify({ got: r.readBack, want: r.expected })).split('\n')[0].slice(0, 200)}`}${extra}`)
  }
  const record = (rep, peer, w, r, extra) => {
    r.rep = rep
    r.workloadId = w
    r.peer = peer
    runs.push(r)
    log(rep, peer, w, r, extra)
  }
  const limitFor = (info, w, n) => Math.min(n, info.maxRecords?.[w] ?? Infinity)

  // W5's large logs: built once per peer (untimed setup), opened in every repetition
  const large = {}
  if (workloads.includes('W5')) {
    for (const p of live) {
      if (!applies(infos[p], 'W5')) continue
      const d = dir('w5large', p)
      process.stdout.write(`bench: building the ${sizes.w5Large.toLocaleString('en')}-record log for W5 (${p}) ... `)
      const r = await runPhase({ peer: p, phase: 'write-bulk', workload: 'W5-build', dir: d, count: sizes.w5Large }, T)
      console.log(r.ok ? `${(r.elapsedMs / 1000).toFixed(1)} s` : `FAILED: ${r.error}`)
      if (r.ok) large[p] = d
      else notes.push(`${p}: building the W5 large log failed: ${r.error?.split('\n')[0]}`)
    }
  }

  for (let rep = 0; rep < args.reps; rep++) {
    console.log(`bench: repetition ${rep + 1} of ${args.reps}`)
    const order = live.slice(rep % live.length).concat(live.slice(0, rep % live.length))
    for (const p of order) {
      const info = infos[p]
      if (needW1Log(info)) {
        const d = dir('w1', p, rep)
        const r = await runPhase({ peer: p, phase: 'write-bulk', workload: 'W1', dir: d, count: sizes.records, batch: 1000 }, T)
        if (workloads.includes('W1') && applies(info, 'W1')) record(rep, p, 'W1', r)
        if (r.ok) {
          if ((workloads.includes('W3') || (workloads.includes('W3i') && p === 'raw')) && applies(info, 'W3')) record(rep, p, 'W3', await runPhase({ peer: p, phase: 'scan', workload: 'W3', dir: d, count: sizes.records }, T))
          if (workloads.includes('W3i') && info.plainScan) record(rep, p, 'W3i', await runPhase({ peer: p, phase: 'scan', workload: 'W3i', dir: d, count: sizes.records, plain: true }, T))
          if (workloads.includes('W4') && applies(info, 'W4')) record(rep, p, 'W4', await runPhase({ peer: p, phase: 'random', workload: 'W4', dir: d, count: sizes.records, reads: sizes.reads }, T))
          if (workloads.includes('W5') && applies(info, 'W5')) {
            const w5 = await runPhase({ peer: p, phase: 'open', workload: 'W5', dir: d, count: sizes.records }, T)
            record(rep, p, 'W5', w5)
            // W5F: the same fresh process from the start: loading the library, then its first open
            if (w5.ok && w5.loadMs != null) record(rep, p, 'W5F', { ...w5, openMs: w5.loadMs + w5.openMs }, `  (load ${w5.loadMs.toFixed(2)} + open ${w5.openMs.toFixed(2)} ms)`)
            if (large[p]) {
              readEveryFile(large[p])
              record(rep, p, 'W5L', await runPhase({ peer: p, phase: 'open', workload: 'W5L', dir: large[p], count: sizes.w5Large }, T))
            }
          }
        } else if (!workloads.includes('W1')) {
          record(rep, p, 'W1', r)
        }
        fs.rmSync(d, { recursive: true, force: true })
      }
      if (workloads.includes('W1s') && applies(info, 'W1s')) {
        const d = dir('w1s', p, rep)
        const n = limitFor(info, 'W1s', sizes.records)
        record(rep, p, 'W1s', await runPhase({ peer: p, phase: 'write-each', workload: 'W1s', dir: d, count: n }, T), n < sizes.records ? ` (${n.toLocaleString('en')} records)` : '')
        fs.rmSync(d, { recursive: true, force: true })
      }
      if (workloads.includes('W2') && applies(info, 'W2')) {
        const d = dir('w2', p, rep)
        const r = await runPhase({ peer: p, phase: 'write-durable', workload: 'W2', dir: d, count: limitFor(info, 'W2', sizes.w2), concurrency: 64 }, T)
        record(rep, p, 'W2', r, r.latencyMs ? `  p50 ${r.latencyMs.p50.toFixed(2)} ms p99 ${r.latencyMs.p99.toFixed(2)} ms` : '')
        fs.rmSync(d, { recursive: true, force: true })
      }
    }
    // seglog-only workloads
    if (live.includes('seglog')) {
      const { seglogOnly } = await import('./lib/seglog-only.js')
      await seglogOnly({ rep, workloads, sizes, exportsSeglog, runPhase, record, notes, dir, T, ROOT })
      // TU, TS, TR: tiered storage (bench/lib/tier-bench.js)
      if (['TU', 'TS', 'TR'].some((w) => workloads.includes(w))) await (await import('./lib/tier-bench.js')).tierBench({ rep, reps: args.reps, mode: args.mode, workloads, record, notes, dir, T, ROOT })
    }
  }
  for (const d of Object.values(large)) fs.rmSync(d, { recursive: true, force: true })

  const result = {
    kind: 'seglog-bench',
    mode: args.mode,
    started: started.toISOString(),
    finished: new Date().toISOString(),
    loadavgAtEnd: os.loadavg().map((x) => +x.toFixed(2)),
    command: `node bench/run.js ${process.argv.slice(2).join(' ')}`.trim(),
    partial: !!(args.only || args.peers || args.records),
    seglog: seglogInfo(seglogBuild),
    reps: args.reps,
    sizes,
    machine,
    reference,
    peers: infos,
    notes: [...new Set(notes)],
    summary: aggregate(runs, infos),
    runs,
  }
  const file = writeResult(args.mode + (result.partial ? '-partial' : ''), result)
  console.log(`bench: results in ${path.relative(process.cwd(), file)}`)
  const docs = args.docs ?? !result.partial
  if (docs) {
    const written = writeDocs(ROOT)
    console.log(`bench: wrote ${written.map((f) => path.relative(process.cwd(), f)).join(', ')}`)
  } else {
    console.log('bench: partial run (--only/--peers): docs not rewritten (pass --docs to rewrite them anyway)')
  }
  const { printSummary } = await import('./lib/aggregate.js')
  printSummary(result)
  cleanup()
  const failed = runs.filter((r) => !r.ok)
  if (failed.length) console.log(`bench: ${failed.length} phase(s) failed (see above); the run went on and reports them`)
}

function seglogInfo(b) {
  return { commit: b.commit, uncommittedChangesInSrc: b.dirty, builtAt: b.builtAt }
}

/**
 * Reads every file under `dir` once (untimed), so that an open timed next finds the files in the
 * page cache. W5L's large logs are built at the start of the run and opened minutes later; this
 * VM's kernel pages out page cache idle for a minute (a DAMON pageout scheme), so without this an
 * open read its files from the disk or not by luck of timing, and W5L swung 6–23 ms.
 */
function readEveryFile(dir) {
  const buf = Buffer.allocUnsafe(1 << 20)
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name)
    if (entry.isDirectory()) readEveryFile(file)
    else if (entry.isFile()) {
      const fd = fs.openSync(file, 'r')
      try {
        while (fs.readSync(fd, buf, 0, buf.length, null) > 0);
      } finally {
        fs.closeSync(fd)
      }
    }
  }
}

function snapshotSeglog() {
  const dist = path.join(ROOT, 'dist', 'src')
  const git = (...a) => {
    const r = spawnSync('git', ['-C', ROOT, ...a], { encoding: 'utf8' })
    return r.status === 0 ? r.stdout.trim() : null
  }
  const info = {
    commit: git('rev-parse', '--short', 'HEAD'),
    dirty: (git('status', '--porcelain', '--', 'src') ?? '') !== '',
    builtAt: fs.existsSync(path.join(dist, 'index.js')) ? fs.statSync(path.join(dist, 'index.js')).mtime.toISOString() : null,
  }
  if (!info.builtAt) return info
  const snapshot = path.join(BENCH, '.data', `dist-${process.pid}`)
  fs.mkdirSync(snapshot, { recursive: true })
  fs.cpSync(dist, path.join(snapshot, 'src'), { recursive: true, filter: (f) => !f.endsWith('.map') })
  // The published entry points (the bundle, dist/pkg) when built with or after dist/src: a bundle
  // older than dist/src (tsc run alone) would measure other code, so then the adapters use dist/src.
  const pkg = path.join(ROOT, 'dist', 'pkg')
  if (fs.existsSync(path.join(pkg, 'index.js')) && fs.statSync(path.join(pkg, 'index.js')).mtimeMs >= fs.statSync(path.join(dist, 'index.js')).mtimeMs) {
    fs.cpSync(pkg, path.join(snapshot, 'pkg'), { recursive: true })
  } else if (fs.existsSync(path.join(pkg, 'index.js'))) {
    info.staleBundle = true
  }
  info.snapshot = snapshot
  return info
}

function writeResult(name, result) {
  const dirOut = path.join(BENCH, 'results')
  fs.mkdirSync(dirOut, { recursive: true })
  const file = path.join(dirOut, `${name}.json`)
  fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n')
  return file
}

main().catch((e) => {
  console.error(e?.stack ?? e)
  process.exit(1)
})
