// Benchmark T1 (DESIGN.md §5): 1, 2 and 4 worker threads appending 128-byte records through the
// shared-memory ring, against the single-thread `log.append()` path. Prints records/s and
// per-record latency (p50/p99, from the append call to its resolution), median of interleaved runs.
//
//   npx tsc -p tsconfig.json && node dist/examples/threads-t1.js [--records 200000] [--runs 3] [--sync never,always]
//
// Every phase runs in its own process on a fresh directory. Payloads are random bytes.
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { subscribe } from 'node:diagnostics_channel'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { Log, LogWriter, type SyncMode, type WorkerHandle } from '../src/index.js'

const RECORD_BYTES = 128
/** Appends each producer (thread or single-thread baseline) keeps in flight. */
const IN_FLIGHT = 512

interface PhaseResult { phase: string; records: number; seconds: number; perSecond: number; p50Ms: number; p99Ms: number; batches: number; cpuUsPerRecord: number }
interface LaneResult { latencies: Float64Array; count: number }

/** Runs `count` appends through `append`, `IN_FLIGHT` at a time; returns per-record latencies. */
async function drive(count: number, append: (data: Uint8Array) => Promise<number>): Promise<LaneResult> {
  const pool = Array.from({ length: 64 }, () => randomBytes(RECORD_BYTES))
  const latencies = new Float64Array(count)
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < count) {
      const k = next++
      const t0 = performance.now()
      await append(pool[k & 63])
      latencies[k] = performance.now() - t0
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane))
  return { latencies, count }
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}

let drainedBatches = 0
subscribe('seglog:threads:batch', () => { drainedBatches++ })

let cpuAtStart = process.cpuUsage()

function summarize(phase: string, records: number, seconds: number, all: Float64Array): PhaseResult {
  const cpu = process.cpuUsage(cpuAtStart) // user + system of every thread of this process
  all.sort()
  return {
    phase, records, seconds, perSecond: records / seconds, p50Ms: percentile(all, 0.5), p99Ms: percentile(all, 0.99),
    batches: drainedBatches, cpuUsPerRecord: (cpu.user + cpu.system) / records,
  }
}

async function runPhase(kind: string, threads: number, sync: SyncMode, records: number): Promise<PhaseResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-t1-'))
  const log = await Log.open(dir, { sync })
  try {
    const label = `${kind === 'single' ? 'single-thread append()' : `${threads} worker thread${threads > 1 ? 's' : ''}`} sync=${String(sync)}`
    if (kind === 'single') {
      cpuAtStart = process.cpuUsage()
      const started = performance.now()
      const r = await drive(records, (d) => log.append(d))
      return summarize(label, records, (performance.now() - started) / 1000, r.latencies)
    }
    const handle = log.workerHandle() as WorkerHandle
    const per = Math.ceil(records / threads)
    const workers = Array.from({ length: threads }, () => new Worker(new URL(import.meta.url), { workerData: { handle, count: per } }))
    await Promise.all(workers.map((w) => new Promise((resolve) => w.once('message', resolve))))
    cpuAtStart = process.cpuUsage()
    const started = performance.now()
    const results = await Promise.all(workers.map((w) => new Promise<LaneResult>((resolve, reject) => {
      w.once('message', resolve)
      w.once('error', reject)
      w.postMessage('go')
    })))
    const seconds = (performance.now() - started) / 1000
    await Promise.all(workers.map((w) => w.terminate()))
    const all = new Float64Array(per * threads)
    results.forEach((r, k) => all.set(r.latencies, k * per))
    return summarize(label, per * threads, seconds, all)
  } finally {
    await log.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

async function workerMain(): Promise<void> {
  const { handle, count } = workerData as { handle: WorkerHandle; count: number }
  const w = await LogWriter.connect(handle)
  const port = parentPort!
  port.postMessage('ready')
  await new Promise((resolve) => port.once('message', resolve))
  const r = await drive(count, (d) => w.append(d))
  port.postMessage(r, [r.latencies.buffer as ArrayBuffer])
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback
}

async function main(): Promise<void> {
  const phaseArg = arg('phase', '')
  const records = Number(arg('records', '200000'))
  if (phaseArg !== '') {
    // Child: run one phase and print its result as JSON.
    const [kind, threads, syncName] = phaseArg.split(':')
    const sync: SyncMode = syncName === 'always' ? 'always' : 'never'
    const r = await runPhase(kind, Number(threads), sync, records)
    process.stdout.write(JSON.stringify(r) + '\n')
    return
  }
  const runs = Number(arg('runs', '3'))
  const syncs = arg('sync', 'never,always').split(',')
  const phases: string[] = []
  for (const s of syncs) phases.push(`single:1:${s}`, `workers:1:${s}`, `workers:2:${s}`, `workers:4:${s}`)
  const byPhase = new Map<string, PhaseResult[]>()
  const self = fileURLToPath(import.meta.url)
  console.log(`load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} at start`)
  console.log(`T1: ${records} records (sync=always: ${Math.min(records, Number(arg('always-records', '100000')))}) of ${RECORD_BYTES} B per run, ${IN_FLIGHT} appends in flight per producer, ${runs} interleaved runs, ${os.cpus().length} CPUs, Node ${process.version}`)
  for (let run = 0; run < runs; run++) {
    for (const phase of phases) {
      const n = phase.endsWith('always') ? Math.min(records, Number(arg('always-records', '100000'))) : records
      const out = spawnSync(process.execPath, [self, '--phase', phase, '--records', String(n)], { encoding: 'utf8' })
      if (out.status !== 0) throw new Error(`phase ${phase} failed: ${out.stderr}`)
      const r = JSON.parse(out.stdout.trim().split('\n').pop()!) as PhaseResult
      byPhase.set(phase, [...(byPhase.get(phase) ?? []), r])
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  console.log('| phase | records/s (median) | p50 ms | p99 ms | CPU µs / record (all threads) | records per drained batch | runs (records/s) |')
  console.log('|---|---:|---:|---:|---:|---:|---|')
  for (const phase of phases) {
    const rs = byPhase.get(phase)!
    const m = median(rs.map((r) => r.perSecond))
    console.log(`| ${rs[0].phase} | ${Math.round(m).toLocaleString('en-US')} | ${median(rs.map((r) => r.p50Ms)).toFixed(2)} | ${median(rs.map((r) => r.p99Ms)).toFixed(2)} | ${median(rs.map((r) => r.cpuUsPerRecord)).toFixed(2)} | ${rs[0].batches === 0 ? '–' : Math.round(median(rs.map((r) => r.records / Math.max(1, r.batches))))} | ${rs.map((r) => Math.round(r.perSecond).toLocaleString('en-US')).join(', ')} |`)
  }
  console.log(`load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} at end`)
}

if (isMainThread) await main()
else await workerMain()
