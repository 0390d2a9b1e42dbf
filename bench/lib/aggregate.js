// Medians over repetitions, ratios to raw, and the console summary.
import { median, fmtRate, fmtMs } from './stats.js'

export const THROUGHPUT = ['W1', 'W1s', 'W2', 'W3', 'W3i', 'W4', 'T1-1', 'T1-2', 'T1-4', 'J1', 'J2-before', 'J2-after', 'J2fs-before', 'J2fs-after']
export const TITLES = {
  W1: 'W1 bulk append, batches of 1,000, then one sync',
  W1s: 'W1s one append() call per record, then one sync',
  W2: 'W2 64 concurrent callers, durable append each',
  W3: 'W3 reopen, read every record in order',
  W3i: 'W3i reopen, read every record with a plain for await … iterate() (× raw\'s W3)',
  W4: 'W4 random reads',
  IMP: 'IMP import(\'seglog\') in a fresh process: time of the import, RSS added over bare node',
  W5: 'W5 open the W1 log',
  W5L: 'W5 open a large log',
  W5F: 'W5F a fresh process: load the library, then open the W1 log (load + open)',
  'T1-1': 'T1 1 worker thread', 'T1-2': 'T1 2 worker threads', 'T1-4': 'T1 4 worker threads',
  J1: 'J1 journal append to S3 (s3rver)',
  'J2-before': 'J2 journal read (S3, s3rver), before compaction', 'J2-after': 'J2 journal read (S3, s3rver), after compaction',
  'J2fs-before': 'J2 journal read (FsStore), before compaction', 'J2fs-after': 'J2 journal read (FsStore), after compaction',
}

export function aggregate(runs, infos) {
  const by = {}
  for (const r of runs) {
    const w = r.workloadId
    by[w] ??= {}
    by[w][r.peer] ??= []
    by[w][r.peer].push(r)
  }
  const summary = {}
  for (const [w, peers] of Object.entries(by)) {
    summary[w] = {}
    for (const [p, rs] of Object.entries(peers)) {
      const good = rs.filter((r) => r.ok)
      const m = (f) => median(good.map(f))
      const s = {
        reps: rs.length,
        ok: good.length === rs.length,
        failures: rs.filter((r) => !r.ok).map((r) => r.error ?? `check failed: read ${JSON.stringify(r.readBack)}, expected ${JSON.stringify(r.expected)}`),
        count: m((r) => r.count),
        opsPerSec: m((r) => r.opsPerSec),
        opsPerSecRange: good.some((r) => r.opsPerSec != null) ? [Math.min(...good.map((r) => r.opsPerSec ?? Infinity)), Math.max(...good.map((r) => r.opsPerSec ?? -Infinity))] : null,
        openMsRange: good.some((r) => r.openMs != null) ? [Math.min(...good.map((r) => r.openMs ?? Infinity)), Math.max(...good.map((r) => r.openMs ?? -Infinity))] : null,
        elapsedMs: m((r) => r.elapsedMs),
        cpuMs: m((r) => r.cpuMs),
        cpuUsPerOp: m((r) => (r.count ? (r.cpuMs * 1000) / r.count : null)),
        peakRssMB: m((r) => r.peakRssMB),
        // What the timed part added to the RSS at most (the payload arrays are made before it).
        addedPeakRssMB: m((r) => (r.peakRssMB != null && r.baseRssMB != null ? r.peakRssMB - r.baseRssMB : null)),
        runQueueMs: m((r) => r.runQueueMs),
        openMs: m((r) => r.openMs),
        firstReadMs: m((r) => r.firstReadMs),
        indexMs: m((r) => r.indexMs),
        powerLossDurable: infos[p]?.powerLossDurable ?? null,
        syncDurable: infos[p]?.syncDurable ?? true,
      }
      if (good.some((r) => r.latencyMs)) {
        s.latencyMs = {}
        for (const k of ['p50', 'p90', 'p99', 'p999', 'max']) s.latencyMs[k] = m((r) => r.latencyMs?.[k])
      }
      for (const k of ['addedRssMB', 'putsPerFlush', 'flushMsP50', 'flushMsP99', 'putMsP50', 'createPutMsP50', 'pairedFlushMsP50', 'directFlushMsP50', 'directPutMsP50', 'directFlushCpuMsP50', 'directPutCpuMsP50', 'directRounds', 'objects', 'expectedObjects', 'speedup', 'compactMs']) {
        if (good.some((r) => r[k] != null)) s[k] = m((r) => r[k])
      }
      summary[w][p] = s
    }
    // W3i has no raw row of its own: a plain iterate() is measured against raw's sequential read
    const raw = w === 'W3i' ? summary.W3?.raw : summary[w].raw
    for (const s of Object.values(summary[w])) {
      if (THROUGHPUT.includes(w) && raw?.opsPerSec && s.opsPerSec) s.ratioToRaw = s.opsPerSec / raw.opsPerSec
      if ((w === 'W5' || w === 'W5L') && raw?.openMs && s.openMs) s.ratioToRaw = s.openMs / raw.openMs
    }
  }
  return summary
}

export function printSummary(result) {
  const { summary } = result
  console.log('\nmedians (× raw):')
  for (const [w, peers] of Object.entries(summary)) {
    console.log(`  ${TITLES[w] ?? w}`)
    const inMs = w.startsWith('W5') || w === 'IMP' || w.startsWith('TR')
    const rows = Object.entries(peers).sort((a, b) => (inMs ? (a[1].openMs ?? 1e9) - (b[1].openMs ?? 1e9) : (b[1].opsPerSec ?? -1) - (a[1].opsPerSec ?? -1)))
    for (const [p, s] of rows) {
      const v = inMs ? fmtMs(s.openMs) : fmtRate(s.opsPerSec)
      const ratio = s.ratioToRaw != null ? `${s.ratioToRaw.toFixed(2)}×` : ''
      const lat = s.latencyMs ? `  p50 ${fmtMs(s.latencyMs.p50)}  p99 ${fmtMs(s.latencyMs.p99)}` : ''
      const rss = s.addedRssMB != null ? `  +${s.addedRssMB.toFixed(1)} MB RSS` : ''
      const bad = s.ok ? '' : `  FAILED ${s.failures.length}/${s.reps}`
      const dur = w === 'W2' && s.powerLossDurable === false ? '  (not power-loss durable)' : ''
      const cost = !inMs && s.cpuUsPerOp != null ? `  ${s.cpuUsPerOp.toFixed(3)} µs CPU/op` : ''
      const peak = !inMs && s.peakRssMB != null ? `  peak RSS ${s.peakRssMB.toFixed(0)} MB (+${(s.addedPeakRssMB ?? 0).toFixed(0)} timed)` : ''
      const runq = s.runQueueMs != null && s.runQueueMs >= 1 ? `  waited ${s.runQueueMs.toFixed(0)} ms for a CPU` : ''
      console.log(`    ${p.padEnd(14)} ${v.padStart(11)} ${ratio.padStart(7)}${lat}${rss}${cost}${peak}${runq}${dur}${bad}`)
    }
  }
}
