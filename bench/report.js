#!/usr/bin/env node
// Writes docs/benchmarks.md and docs/bench/*.svg from bench/results/{full,quick,long}.json.
// run.js calls it after a complete run; `node bench/report.js` redraws from the stored results.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { barChart, lineChart } from './lib/svg.js'
import { fmtRate, fmtMs } from './lib/stats.js'
import { TITLES } from './lib/aggregate.js'
import { tierDocsSection } from './lib/tier-bench.js'

const BENCH = path.dirname(fileURLToPath(import.meta.url))

const MAIN = ['W1', 'W1s', 'W2', 'W3', 'W4', 'W5', 'W5L', 'W5F']
const PEER_ORDER = ['seglog', 'raw', 'raw-nogc', 'lmdb', 'sqlite-full', 'sqlite-normal', 'classic-level', 'aaol', 'sonic-boom', 'hypercore']

function load(name) {
  const f = path.join(BENCH, 'results', `${name}.json`)
  return fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8')) : null
}

const n = (x) => (x == null ? '—' : Number(x).toLocaleString('en'))
const ratio = (r) => (r == null ? '' : ` (${r >= 10 ? r.toFixed(0) : r >= 0.01 ? r.toFixed(2) : r.toFixed(3)}×)`)

function cell(res, w, p) {
  const s = res.summary[w]?.[p]
  if (!s) return '—'
  if (!s.ok && s.opsPerSec == null && s.openMs == null) return '**failed**'
  const warn = s.ok ? '' : ' ⚠'
  const nd = (w === 'W2' && s.powerLossDurable === false) || ((w === 'W1' || w === 'W1s') && s.syncDurable === false) ? ' †' : ''
  if (w === 'W5' || w === 'W5L' || w === 'W5F') return `${fmtMs(s.openMs)}${warn}`
  const full = { W1s: res.sizes?.records, W2: res.sizes?.w2 }[w]
  const capped = full != null && s.count != null && s.count < full ? ' ‡' : ''
  return `${fmtRate(s.opsPerSec)}${ratio(s.ratioToRaw)}${nd}${capped}${warn}`
}

function sizeOf(res, w) {
  const z = res.sizes
  if (!z) return ''
  return {
    W1: `${n(z.records)} × 128 B`, W1s: `${n(z.records)} × 128 B`, W2: `${n(z.w2)} × 128 B`, W3: `${n(z.records)} records`,
    W4: `${n(z.reads)} reads of ${n(z.records)}`, W5: `${n(z.records)} records`, W5L: `${n(z.w5Large)} records`, W5F: `${n(z.records)} records`,
  }[w] ?? ''
}

function charts(res, mode, docsDir) {
  const out = []
  const peers = PEER_ORDER.filter((p) => Object.values(res.summary).some((w) => w[p]))
  const file = (name) => path.join(docsDir, 'bench', `${mode}-${name}.svg`)
  for (const w of ['W1', 'W1s', 'W2', 'W3', 'W4']) {
    const s = res.summary[w]
    if (w === 'W3') latencyChart()
    if (!s) continue
    const rows = peers.filter((p) => s[p]).map((p) => ({
      label: p,
      values: [s[p].opsPerSec],
      note: (s[p].ratioToRaw != null ? `${s[p].ratioToRaw.toFixed(2)}× raw` : '') + (w === 'W2' && s[p].powerLossDurable === false ? '  † not power-loss durable' : '') + (s[p].ok ? '' : '  ⚠ check failed'),
      hatched: w === 'W2' && s[p].powerLossDurable === false,
      missing: 'failed',
    })).sort((a, b) => (b.values[0] ?? -1) - (a.values[0] ?? -1))
    const f = file(w)
    fs.writeFileSync(f, barChart({
      title: `${TITLES[w]} — records/s (higher is better)`,
      subtitle: `${sizeOf(res, w)}; median of ${res.reps} runs; ${res.mode} mode; ${res.machine.cores} cores, Node ${res.machine.node}`,
      rows, format: (v) => fmtRate(v).replace(' ', ''), unit: 'records/s',
      footnote: w === 'W2' ? 'Hatched: the ack does not survive power loss (see docs/benchmarks.md).' : undefined,
    }))
    out.push({ w, f })
  }
  if (!res.summary.W3) latencyChart()
  function latencyChart() {
  const w2 = res.summary.W2
  if (w2) {
    const rows = peers.filter((p) => w2[p]?.latencyMs).map((p) => ({ label: p + (w2[p].powerLossDurable === false ? ' †' : ''), values: [w2[p].latencyMs.p50, w2[p].latencyMs.p99] }))
      .sort((a, b) => a.values[1] - b.values[1])
    const f = file('W2-latency')
    fs.writeFileSync(f, barChart({
      title: 'W2 latency of a durable append, 64 concurrent callers (lower is better)',
      subtitle: `p50 and p99 in ms; median of ${res.reps} runs; † not power-loss durable`,
      rows, series: ['p50', 'p99'], log: true, format: (v) => (v >= 1 ? `${+v.toFixed(1)} ms` : `${+v.toFixed(3)} ms`), unit: 'ms',
    }))
    out.push({ w: 'W2-latency', f })
  }
  }
  for (const w of ['W5', 'W5L', 'W5F']) {
    const s = res.summary[w]
    if (!s) continue
    const rows = peers.filter((p) => s[p]).map((p) => ({ label: p, values: [s[p].openMs], missing: 'failed' })).sort((a, b) => (a.values[0] ?? 1e9) - (b.values[0] ?? 1e9))
    const f = file(w)
    fs.writeFileSync(f, barChart({
      title: `${TITLES[w]} — ms to open (lower is better)`,
      subtitle: `${sizeOf(res, w)}; median of ${res.reps} runs`,
      rows, format: (v) => fmtMs(v), unit: 'ms', log: true,
    }))
    out.push({ w, f })
  }
  const t1 = ['T1-1', 'T1-2', 'T1-4'].filter((w) => res.summary[w]?.seglog)
  if (t1.length) {
    const f = file('T1')
    fs.writeFileSync(f, barChart({
      title: 'T1 worker threads appending 128 B through shared memory — records/s',
      subtitle: `seglog only; median of ${res.reps} runs`,
      rows: t1.map((w) => ({ label: w.replace('T1-', '') + (w === 'T1-1' ? ' thread' : ' threads'), values: [res.summary[w].seglog.opsPerSec], color: '#d9480f' })),
      format: (v) => fmtRate(v).replace(' ', ''), unit: 'records/s',
    }))
    out.push({ w: 'T1', f })
  }
  return out
}

// seglog against its performance targets (the project's design brief, not shipped in this repository)
function targets(res) {
  const S = res.summary
  const sg = (w) => S[w]?.seglog
  const rows = []
  const yes = (c) => (c == null ? '—' : c ? 'met' : '**not met**')
  const x = (v) => (v == null || !Number.isFinite(v) ? '—' : `${v.toFixed(2)} ×`)
  // The targets of DESIGN.md §5 (issue 13's table). seglog-base is our own earlier build, never a peer.
  if (sg('W1')) {
    const rates = (res.runs ?? []).filter((r) => r.peer === 'seglog' && r.workloadId === 'W1' && r.ok && r.opsPerSec).map((r) => r.opsPerSec)
    const med = sg('W1').opsPerSec
    const spread = rates.length ? Math.max(...rates.map((v) => Math.max(v / med, med / v))) : null
    rows.push(['W1', '≥ 0.8 × raw; every run within 1.3 × of the median', `${x(sg('W1').ratioToRaw)} raw; runs ${rates.map((v) => fmtRate(v)).join(', ') || '—'} (furthest ${x(spread)} from the median)`,
      yes(sg('W1').ratioToRaw >= 0.8 && spread != null && spread <= 1.3)])
  }
  if (sg('W1s') && S.W1?.raw?.opsPerSec) {
    const r = sg('W1s').opsPerSec / S.W1.raw.opsPerSec
    rows.push(['W1s', '≥ 0.7 × raw’s bulk W1', `${x(r)} raw’s W1 (${fmtRate(sg('W1s').opsPerSec)})`, yes(r >= 0.7)])
  }
  if (sg('W2') && S.W2.raw) {
    const l = sg('W2').latencyMs
    const rl = S.W2.raw.latencyMs
    rows.push(['W2', '≥ 1.0 × raw group commit; p99 ≤ raw', `${x(sg('W2').ratioToRaw)} raw; p99 ${fmtMs(l?.p99)} vs raw ${fmtMs(rl?.p99)}`, yes(sg('W2').ratioToRaw >= 1 && l?.p99 <= rl?.p99)])
  }
  if (sg('W3')) rows.push(['W3', '≥ 0.8 × raw', `${x(sg('W3').ratioToRaw)} raw (${fmtRate(sg('W3').opsPerSec)})`, yes(sg('W3').ratioToRaw >= 0.8)])
  if (sg('W3i')) rows.push(['W3i', '≥ 0.6 × raw (plain `for await … iterate()`)', `${x(sg('W3i').ratioToRaw)} raw (${fmtRate(sg('W3i').opsPerSec)})`, yes(sg('W3i').ratioToRaw >= 0.6)])
  if (sg('W4')) {
    const l = S.W4?.lmdb?.ok ? S.W4.lmdb.opsPerSec : null
    const vsLmdb = l ? sg('W4').opsPerSec / l : null
    rows.push(['W4', '≥ 1.2 × lmdb and ≥ 0.6 × raw', `${x(vsLmdb)} lmdb, ${x(sg('W4').ratioToRaw)} raw (${fmtRate(sg('W4').opsPerSec)})`, yes(vsLmdb == null ? null : vsLmdb >= 1.2 && sg('W4').ratioToRaw >= 0.6)])
  }
  if (sg('W5')) {
    const a = sg('W5').openMs
    const b = sg('W5L')?.openMs
    const la = S.W5?.lmdb?.openMs
    const lb = S.W5L?.lmdb?.openMs
    rows.push(['W5', '≤ lmdb’s open in the same run, not growing with size', `${fmtMs(a)} vs lmdb ${fmtMs(la)} (${n(res.sizes?.records)}); ${fmtMs(b)} vs lmdb ${fmtMs(lb)} (${n(res.sizes?.w5Large)})`,
      yes(la == null ? null : a <= la && (b == null || lb == null || b <= lb))])
  }
  const lmdbF = res.summary.W5F?.lmdb?.openMs
  if (sg('W5F')) rows.push(['W5F', "≤ lmdb's load + first open, fresh process", `${fmtMs(sg('W5F').openMs)} vs lmdb ${fmtMs(lmdbF)}`, yes(lmdbF == null ? null : sg('W5F').openMs <= lmdbF)])
  if (sg('IMP')) rows.push(['IMP', "≤ 30 ms for `import('seglog')`", `${fmtMs(sg('IMP').openMs)}, +${sg('IMP').addedRssMB?.toFixed(1) ?? '—'} MB RSS`, yes(sg('IMP').openMs <= 30)])
  if (S['T1-1']?.seglog && sg('W1s')) {
    const r = S['T1-1'].seglog.opsPerSec / sg('W1s').opsPerSec
    rows.push(['T1', '1 worker ≥ 0.8 × main-thread `append()` (W1s)', `${x(r)} (${fmtRate(S['T1-1'].seglog.opsPerSec)} vs ${fmtRate(sg('W1s').opsPerSec)}); ${res.machine?.cores ?? '?'} cores`, yes(r >= 0.8)])
  }
  if (sg('J1')?.directPutMsP50) {
    const j = sg('J1')
    const r = j.directFlushMsP50 / j.directPutMsP50
    rows.push(['J1', 'flush p50 ≤ 1.2 × one PUT', `${x(r)} straight to s3rver (${fmtMs(j.directFlushMsP50)} vs ${fmtMs(j.directPutMsP50)}); through the test proxy ${x(j.pairedFlushMsP50 / j.putMsP50)}`, yes(r <= 1.2)])
  }
  if (!rows.length) return ''
  const L = ['seglog against its performance targets (the project’s design brief, not shipped in this repository)' + (res.mode === 'quick' ? ' (quick sizes: indicative only)' : '') + ':', '', '| workload | target | seglog | |', '|---|---|---|---|']
  for (const r of rows) L.push(`| ${r.join(' | ')} |`)
  L.push('')
  return L.join('\n')
}

function seglogOnlySection(res) {
  const S = res.summary
  const g = (w) => S[w]?.seglog
  const L = []
  const t1 = ['T1-1', 'T1-2', 'T1-4'].filter(g)
  if (t1.length) {
    L.push(`**T1** worker threads appending 128 B records through shared memory (\`log.workerHandle()\` + \`LogWriter.connect()\`; each worker calls \`appendNoWait()\` per record and awaits \`flush()\` every 1,000th, where the build has them), ${n(res.sizes?.t1)} records in all, then one sync:`)
    L.push('')
    L.push('| threads | records/s | × 1 thread | CPU ms | checked |')
    L.push('|---:|---:|---:|---:|---|')
    const one = g('T1-1')?.opsPerSec
    for (const w of t1) L.push(`| ${w.slice(3)} | ${fmtRate(g(w).opsPerSec)} | ${one && g(w).opsPerSec ? (g(w).opsPerSec / one).toFixed(2) : '—'} | ${g(w).cpuMs?.toFixed(0) ?? '—'} | ${g(w).ok ? 'ok' : '**failed**'} |`)
    L.push('')
  }
  if (g('J1')) {
    const j = g('J1')
    L.push(`**J1** journal appends of ~1 KiB JSON events to S3 (s3rver on loopback), a flush every 32 events: events appended at ${fmtRate(j.opsPerSec)}; flush latency p50 ${fmtMs(j.flushMsP50)}, p99 ${fmtMs(j.flushMsP99)}, against ${fmtMs(j.putMsP50)} for one plain PUT of the same size through the SDK and ${fmtMs(j.createPutMsP50)} for one create-only PUT (If-None-Match, what a flush sends), measured in rounds with a flush of ${fmtMs(j.pairedFlushMsP50)} (${j.createPutMsP50 ? (j.pairedFlushMsP50 / j.createPutMsP50).toFixed(2) : '—'} × the create-only PUT, ${j.putMsP50 ? (j.pairedFlushMsP50 / j.putMsP50).toFixed(2) : '—'} × the plain one; the test proxy in front of s3rver answers a create-only PUT with a HEAD and a PUT upstream); straight to s3rver (no proxy), a flush p50 ${fmtMs(j.directFlushMsP50)} against ${fmtMs(j.directPutMsP50)} for a plain PUT (${j.directPutMsP50 ? (j.directFlushMsP50 / j.directPutMsP50).toFixed(2) : '—'} ×${j.directFlushCpuMsP50 ? `; client CPU ${fmtMs(j.directFlushCpuMsP50)} per flush against ${fmtMs(j.directPutCpuMsP50)} per PUT` : ''}, ${j.directRounds ?? 50} rounds); every round runs each variant once in an order that rotates from round to round, bodies are made before the timer, and the reference PUTs use S3Store's client settings (one attempt, no CRC32 on top of the signed SHA-256); ${n(j.objects)} objects written for ${n(res.sizes?.j1Events)} events (expected ${n(j.expectedObjects)}: events / 32). ${j.ok ? 'Read back in order: ok.' : '**Check failed.**'}`)
    L.push('')
  }
  for (const [id, label] of [['J2', 'S3 (s3rver on loopback)'], ['J2fs', 'FsStore (local folder)']]) {
    const b = g(`${id}-before`)
    const a = g(`${id}-after`)
    if (!b) continue
    L.push(`**J2, ${label}**: read ${n(res.sizes?.j2Events)} events spread over ${n(res.sizes?.j2Objects)} batch objects: ${fmtRate(b.opsPerSec)} before compaction, ${fmtRate(a?.opsPerSec)} after (${a?.speedup != null ? a.speedup.toFixed(1) + '×' : '—'}; target ≥ 10×); compaction took ${fmtMs(a?.compactMs)}. ${b.ok && a?.ok ? 'Checked: ok.' : '**Check failed.**'}`)
    L.push('')
  }
  return L.join('\n')
}

function modeSection(res, mode, docsDir) {
  const L = []
  const peers = PEER_ORDER.filter((p) => Object.values(res.summary).some((w) => w[p]))
  const m = res.machine
  L.push(`## ${mode === 'full' ? 'Full run (design sizes)' : 'Quick run (scaled down)'}`)
  L.push('')
  const sg = res.seglog
  L.push(`Measured ${res.started.slice(0, 16).replace('T', ' ')} UTC with \`${res.command}\`, ${res.reps} interleaved repetitions, medians shown${sg?.commit ? `; seglog at commit ${sg.commit}${sg.uncommittedChangesInSrc ? ' plus uncommitted changes in src/' : ''}, built ${sg.builtAt?.slice(11, 16)} UTC` : ''}. Raw data: [bench/results/${mode}.json](../bench/results/${mode}.json).`)
  L.push('')
  L.push(`Machine: ${m.cores} × ${m.cpuModel}, ${m.memoryGB} GiB, ${m.platform}, Node ${m.node}; data on ${m.disk?.device ?? '?'} (the kernel reports it ${m.disk?.rotational === false ? 'non-rotational' : m.disk?.rotational ? 'rotational' : '?'}, ${m.disk?.sizeGB ?? '?'} GB; ${m.df?.split('\n')[1]?.split(/\s+/).slice(1, 2).join('') ?? ''}); load average at start ${m.loadavgAtStart.join(' / ')}.`)
  const dd = Object.entries(res.reference.dd).map(([k, v]) => `\`dd ${k}\` ${v.MBps ?? '?'} MB/s`).join('; ')
  const fd = Object.entries(res.reference.fdatasync).map(([k, v]) => `after ${k} p50 ${v.p50Ms} ms, p99 ${v.p99Ms} ms`).join('; ')
  L.push(`Disk reference: ${dd}. \`fdatasync\` of 128 B: ${fd}.`)
  L.push('')
  for (const note of res.notes ?? []) L.push(`- ${note}`)
  if (res.notes?.length) L.push('')
  const cols = MAIN.filter((w) => res.summary[w])
  L.push(`| peer | ${cols.map((w) => `${w === 'W5L' ? 'W5 large' : w} (${sizeOf(res, w)})`).join(' | ')} |`)
  L.push(`|---|${cols.map(() => '---:').join('|')}|`)
  for (const p of peers) {
    if (!cols.some((w) => res.summary[w][p])) continue
    L.push(`| ${p === 'seglog' ? '**seglog**' : p} | ${cols.map((w) => cell(res, w, p)).join(' | ')} |`)
  }
  L.push('')
  L.push('Records/s (ratio to `raw`); W5 is time to open (ms). † = not power-loss durable (the W2 ack; for W1/W1s, the final sync). ‡ = run on fewer records (W1s, W2) for a peer that pays one fsync or one signature per append, to keep the run short (the rate is comparable; the count is in the details). ⚠ = at least one repetition failed or its check did not match (details below).')
  L.push('')
  L.push(targets(res))
  L.push('')
  for (const c of charts(res, mode, docsDir)) L.push(`![${c.w}](bench/${path.basename(c.f)})`)
  L.push('')
  L.push(seglogOnlySection(res))
  L.push('<details><summary>Per-workload details: CPU time, peak memory, latency, checks</summary>')
  L.push('')
  for (const [w, s] of Object.entries(res.summary)) {
    L.push(`**${TITLES[w] ?? w}** ${sizeOf(res, w) ? `(${sizeOf(res, w)})` : ''}`)
    L.push('')
    const isOpen = w.startsWith('W5')
    L.push(`| peer | ${isOpen ? 'open' : 'median'} | range of the runs | × raw | wall ms | CPU ms | CPU µs/record | peak RSS MB | extra | checked |`)
    L.push('|---|---:|---:|---:|---:|---:|---:|---:|---|---|')
    const rows = Object.entries(s).sort((a, b) => PEER_ORDER.indexOf(a[0]) - PEER_ORDER.indexOf(b[0]))
    for (const [p, x] of rows) {
      const extra = []
      if (x.latencyMs) extra.push(`p50 ${fmtMs(x.latencyMs.p50)}, p90 ${fmtMs(x.latencyMs.p90)}, p99 ${fmtMs(x.latencyMs.p99)}, max ${fmtMs(x.latencyMs.max)}`)
      if (x.indexMs != null) extra.push(`offsets index built in ${fmtMs(x.indexMs)} (not in the rate)`)
      if (x.firstReadMs != null) extra.push(`last record read in ${fmtMs(x.firstReadMs)}`)
      if (isOpen && x.firstReadMs == null && x.ok) extra.push('open only (no index to find the last record)')
      if (x.count && ((w === 'W1s' && x.count < res.sizes?.records) || (w === 'W2' && x.count < res.sizes?.w2))) extra.push(`capped at ${n(x.count)} records`)
      for (const k of ['flushMsP50', 'flushMsP99', 'puts', 'objects', 'putsPerFlush', 'speedup']) if (x[k] != null) extra.push(`${k} ${+Number(x[k]).toFixed(3)}`)
      if (w === 'W2' && x.powerLossDurable === false) extra.push('† not power-loss durable')
      const checked = x.ok ? `ok ×${x.reps}` : `**${x.failures.length}/${x.reps} failed**: ${String(x.failures[0]).split('\n')[0].slice(0, 160).replace(/\|/g, '/')}`
      const range = isOpen ? (x.openMsRange ? `${fmtMs(x.openMsRange[0])} – ${fmtMs(x.openMsRange[1])}` : '') : (x.opsPerSecRange ? `${fmtRate(x.opsPerSecRange[0])} – ${fmtRate(x.opsPerSecRange[1])}` : '')
      L.push(`| ${p} | ${isOpen ? fmtMs(x.openMs) : fmtRate(x.opsPerSec)} | ${range} | ${x.ratioToRaw != null ? x.ratioToRaw.toFixed(2) : ''} | ${x.elapsedMs != null ? x.elapsedMs.toFixed(1) : '—'} | ${x.cpuMs != null ? x.cpuMs.toFixed(1) : '—'} | ${x.cpuUsPerOp != null && !isOpen ? x.cpuUsPerOp.toFixed(3) : ''} | ${x.peakRssMB != null ? x.peakRssMB.toFixed(0) : '—'} | ${extra.join('; ')} | ${checked} |`)
    }
    L.push('')
  }
  L.push('</details>')
  L.push('')
  return L.join('\n')
}

function longSection(res, docsDir) {
  const L = []
  L.push('## Long run: appending past the page cache')
  L.push('')
  L.push(`Measured ${res.started.slice(0, 16).replace('T', ' ')} UTC${res.seglog?.commit ? ` (seglog at commit ${res.seglog.commit}${res.seglog.uncommittedChangesInSrc ? ' plus uncommitted changes in src/' : ''})` : ''}: ${res.long.gb} GB of ${res.long.recordBytes} B records per peer, batches of ${n(res.long.batch)}, a sync every ${res.long.syncEveryMB} MB (the interval is timed with its sync), on a machine with ${res.machine.memoryGB} GiB of memory. Raw data: [bench/results/long.json](../bench/results/long.json).`)
  L.push('')
  L.push('| peer | records | GB | append MB/s overall | first 1 GB | last 1 GB | slowest 256 MB interval | read back MB/s | checked |')
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|---|')
  const lines = []
  for (const [p, r] of Object.entries(res.long.peers)) {
    if (!r.ok && !r.intervals?.length) {
      L.push(`| ${p} | — | — | — | — | — | — | — | failed: ${String(r.error).split('\n')[0].slice(0, 120)} |`)
      continue
    }
    const iv = r.intervals
    const mbps = iv.map((x) => x.MBps)
    const span = (a) => { const x = a[a.length - 1]; const y0 = a[0]; const prev = iv[iv.indexOf(y0) - 1]; return ((x.GB - (prev?.GB ?? 0)) * 1000) / (x.seconds - (prev?.seconds ?? 0)) }
    L.push(`| ${p} | ${n(r.records)} | ${(r.bytes / 1e9).toFixed(2)} | ${r.MBps.toFixed(0)} | ${span(iv.slice(0, 4)).toFixed(0)} | ${span(iv.slice(-4)).toFixed(0)} | ${Math.min(...mbps).toFixed(0)} | ${r.readMBps?.toFixed(0) ?? '—'} | ${r.ok ? 'ok' : 'failed: ' + String(r.error).slice(0, 100)} |`)
    // the virtual disk absorbs bursts: plot a moving average over 1 GB (4 intervals of 256 MB)
    const pts = iv.map((x, i) => {
      const w = iv.slice(Math.max(0, i - 3), i + 1)
      const mb = (w[w.length - 1].GB - (i - w.length >= 0 ? iv[i - w.length].GB : 0)) * 1000
      const s = w[w.length - 1].seconds - (i - w.length >= 0 ? iv[i - w.length].seconds : 0)
      return [x.GB, mb / s]
    })
    lines.push({ label: p, points: pts })
  }
  const f = path.join(docsDir, 'bench', 'long-throughput.svg')
  fs.writeFileSync(f, lineChart({
    title: 'Long run: append throughput over the run (1 KiB records, higher is better)',
    subtitle: `${res.long.gb} GB per peer; a sync every ${res.long.syncEveryMB} MB; moving average over 1 GB; ${res.machine.memoryGB} GiB memory`,
    lines, xLabel: 'GB written', yLabel: 'MB/s per interval', formatX: (v) => `${v}`, formatY: (v) => `${v}`,
  }))
  L.push('')
  L.push(`![long run](bench/${path.basename(f)})`)
  L.push('')
  L.push(`The dd reference for this run: ${Object.entries(res.reference.dd).map(([k, v]) => `\`dd ${k}\` ${v.MBps ?? '?'} MB/s`).join('; ')}. The read back is one sequential pass over everything written, checked like W3; with ${res.long.gb} GB against ${res.machine.memoryGB} GiB of memory, most of it comes from the disk, not the page cache.`)
  L.push('')
  return L.join('\n')
}

function durabilityTable(results) {
  const infos = {}
  // the most recent run's description of each peer first
  results = [...results].sort((a, b) => String(b.started).localeCompare(String(a.started)))
  for (const r of results) for (const [p, i] of Object.entries(r.peers ?? {})) infos[p] ??= i
  const L = []
  L.push('| peer | what a W2 "durable" ack means | survives power loss | notes |')
  L.push('|---|---|---|---|')
  for (const p of PEER_ORDER) {
    const i = infos[p]
    if (!i) continue
    L.push(`| ${p} | ${i.durable ?? ''} | ${i.powerLossDurable ? 'yes' : '**no** †'} | ${(i.notes ?? '') + (i.unavailable ? ` Not run: ${i.unavailable}` : '')} |`)
  }
  return L.join('\n')
}

export function writeDocs(root) {
  const docsDir = path.join(root, 'docs')
  fs.mkdirSync(path.join(docsDir, 'bench'), { recursive: true })
  const full = load('full')
  const quick = load('quick')
  const long = load('long')
  const L = []
  L.push('# Benchmarks')
  L.push('')
  L.push('<!-- Generated by bench/report.js from bench/results/*.json. Do not edit by hand: run `npm run bench` (or `node bench/report.js`). -->')
  L.push('')
  L.push('seglog measured side by side with its peers, every peer in the same run, on the same machine and the same random payload bytes. The workloads and their targets come from the project’s design brief; the targets are repeated in the table below. Where seglog stands against each target across runs, and the measurement behind every target it misses: [performance.md](performance.md).')
  L.push('')
  L.push('## How to run')
  L.push('')
  L.push('```sh')
  L.push('npm run bench                        # quick run: sizes scaled down, 2-3 minutes here')
  L.push('npm run bench -- --full              # the design sizes (1 M records, 20,000 durable appends, 10 M-record W5)')
  L.push('npm run bench -- --only W1,W2        # some workloads: W1 W1s W2 W3 W3i W4 W5 IMP T1 J1 J2 TU TS TR')
  L.push('npm run bench -- --peers seglog,raw,lmdb')
  L.push('npm run bench -- --long --long-gb 20 # append 20 GB of 1 KiB records (seglog and raw), MB/s over time')
  L.push('node bench/report.js                 # redraw this page and the charts from bench/results/*.json')
  L.push('```')
  L.push('')
  L.push('`bench/` is its own package: the peers are installed into `bench/node_modules` (`npm --prefix bench ci`, done by `bench/run.js` when missing; better-sqlite3 compiles from source here, about a minute) and are never dependencies of seglog. Each peer sits behind one adapter file in `bench/adapters/`.')
  L.push('')
  L.push('## Method')
  L.push('')
  L.push('- Every phase runs in a **fresh child process** (`bench/lib/phase.js`): the write phase, then each read phase reopens the log the write phase left. A fresh data directory per write phase, under the OS temp dir, removed after.')
  L.push('- Payloads are **incompressible random bytes** from a seeded AES-CTR stream (`bench/lib/payload.js`): record *i* is the same bytes for every peer.')
  L.push('- **Checked results**: every read phase computes an order-sensitive fingerprint of what it read (count; length and first/last 8 bytes of each record; a full CRC-32 of every 64th record) and compares it with the fingerprint of what was written. W1s and W2 read their log back after writing (untimed). A phase whose check fails is reported as failed, never as a rate. The fingerprint costs about 50 ns a record and is inside every peer\'s timed read loop alike (it caps any W3 rate near 15–20 M records/s here).')
  L.push('- **Medians of ≥ 3 interleaved repetitions**: each repetition runs every peer once, in a rotated order.')
  L.push('- **CPU time** is user + system time of the child process over the timed part (all its threads, so the work lmdb, LevelDB and RocksDB do on their own threads counts). **Peak RSS** is the child process maximum (it includes the payload array made before timing, the same for every peer).')
  L.push('- **W1**: batches of 1,000 records (`appendBatch`, a transaction, `batch()`, `append([...])`; peers without a batch call append record by record), then one sync. Rate = records / (appends + sync).')
  L.push('- **W1s**: one `append()` call per record; the promise of every 1,000th append is awaited, the others are not awaited one by one (a synchronous API just returns); then one sync. The same loop for every peer.')
  L.push('- **W2**: 64 async callers, each `await`s a durable append of 128 B before its next one, until the total is reached. The latency of an append is the time from its caller being free (its previous append resolved) to this one resolving, so a blocking peer (better-sqlite3, sonic-boom with `sync: true`) is charged for the time its callers wait behind each other.')
  L.push('- **W3**: reopen the W1 log, read every record in order through the fastest sequential read each peer offers. **W3i**: the same read with the plain `for await (const r of log.iterate())` most users write (seglog only; the ratio is to raw\'s W3). **IMP**: `import(\'seglog\')` in a fresh process, the median of 5 processes: the time of the import and the RSS it adds over a bare `node`. It loads what the package exports (the bundle in `dist/pkg` once built; older builds: `dist/src/index.js`), as the seglog adapters do. **W4**: seeded random record numbers, one read at a time. Peers addressed by byte offset (raw, async-append-only-log) need an offsets array built by a full scan first: it is timed apart (`indexMs`) and kept in memory. **W5**: time for `open()` (with `ready()` where opening is lazy); reading the last record is timed apart and checked. **W5L** (W5 on the 10 M-record log): that log is built once at the start of the run; right before each of its opens every one of its files is read once, untimed, for every peer (this VM pages out page cache idle for about a minute, so the open would otherwise read from the disk or not by luck of timing). **W5F**: the same fresh process counted from the start: the time to load the peer\'s library (its adapter module) plus that first open.')
  L.push('- **T1, J1, J2** are seglog-only (worker threads, object-store journal); they run when `LogWriter` / `Journal` are exported from the build and are skipped with a note otherwise.')
  L.push('- `raw` is the ceiling reference: one file of `[u32 length][bytes]` records written with `fs.writeSync` from a 1 MiB staging buffer, `fdatasync` group commit for W2 (`raw-nogc`: one `fdatasync` per append). No checksums, index or recovery.')
  L.push('')
  L.push('## What "durable" means for each peer')
  L.push('')
  L.push(durabilityTable([full, quick, long].filter(Boolean)))
  L.push('')
  L.push('Rows marked † are measured as configured, but their W2 ack does not survive a power loss (or, for async-append-only-log, may precede the write it acknowledges); compare them with that in mind.')
  L.push('')
  if (full) L.push(modeSection(full, 'full', docsDir))
  if (quick) L.push(modeSection(quick, 'quick', docsDir))
  if (long) L.push(longSection(long, docsDir))
  L.push(tierDocsSection(load))
  if (!full && !quick && !long) L.push('_No results yet: run `npm run bench`._\n')
  const md = path.join(docsDir, 'benchmarks.md')
  fs.writeFileSync(md, L.join('\n').replace(/\n{3,}/g, '\n\n'))
  return [md, path.join(docsDir, 'bench')]
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(BENCH, '..')
  for (const f of writeDocs(root)) console.log(`wrote ${path.relative(process.cwd(), f)}`)
}
