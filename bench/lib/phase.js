// One phase of one workload for one peer, in its own process. Prints one line
// `@@RESULT <json>` on stdout. Run by run.js as: node lib/phase.js '<json spec>'
import fs from 'node:fs'
import { performance } from 'node:perf_hooks'
import { Payloads, Check, expectedFor, range, randomIndexes } from './payload.js'
import { percentile } from './stats.js'

const spec = JSON.parse(process.argv[2])
const now = () => performance.now()

function isThenable(x) {
  return x != null && typeof x.then === 'function'
}

// The main thread's time on a CPU and waiting for one, in ms (Linux; null elsewhere). On a shared
// machine the wait explains wall-clock swings the CPU time does not show (issue 13's bimodality).
function schedMs() {
  try {
    const [onCpu, waiting] = fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number)
    return { onCpu: onCpu / 1e6, waiting: waiting / 1e6 }
  } catch {
    return null
  }
}

// The kernel's side of a phase: page faults and context switches of this process, and the
// machine's steal time (a virtual CPU the hypervisor ran something else on). Issue 13's W1
// spread was system time, not ours; these say which kernel work it was.
function kernelCounters() {
  const u = process.resourceUsage()
  let stealMs = null
  try {
    const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number)
    stealMs = (cpu[7] ?? 0) * 10 // USER_HZ = 100 on Linux
  } catch {
    // not Linux
  }
  return { minor: u.minorPageFault, major: u.majorPageFault, vol: u.voluntaryContextSwitches, invol: u.involuntaryContextSwitches, stealMs }
}

// The main thread's own user and system time, in ms (Linux, 10 ms ticks; null elsewhere): what the
// process spent beyond it ran on other threads (libuv's pool: fdatasync, the file system's async work).
function mainThreadMs() {
  try {
    const stat = fs.readFileSync('/proc/thread-self/stat', 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return { user: Number(fields[11]) * 10, system: Number(fields[12]) * 10 }
  } catch {
    return null
  }
}

function usage() {
  const c = process.cpuUsage()
  return { user: c.user / 1000, system: c.system / 1000 }
}

async function loadAdapter(name) {
  const m = await import(`../adapters/${name}.js`)
  return m
}

function finish(result) {
  process.stdout.write(`\n@@RESULT ${JSON.stringify(result)}\n`)
}

async function main() {
  const l0 = now()
  const adapter = ['threads', 'journal-s3', 'journal-compaction'].includes(spec.phase) ? null : await loadAdapter(spec.peer)
  const loadMs = now() - l0
  const { count, recordBytes = 128, seed = 1 } = spec
  const payloads = new Payloads(count, recordBytes, seed)
  const r = { peer: spec.peer, workload: spec.workload, phase: spec.phase, count }
  let t0, t1, cpu0, rss0, sched0, k0, main0

  const startTimer = () => {
    rss0 = process.memoryUsage().rss
    k0 = kernelCounters()
    cpu0 = usage()
    sched0 = schedMs()
    main0 = mainThreadMs()
    t0 = now()
  }
  const stopTimer = () => {
    t1 = now()
    const cpu1 = usage()
    r.elapsedMs = t1 - t0
    r.cpuMs = cpu1.user - cpu0.user + (cpu1.system - cpu0.system)
    r.cpuUserMs = cpu1.user - cpu0.user
    r.cpuSysMs = cpu1.system - cpu0.system
    r.peakRssMB = process.resourceUsage().maxRSS / 1024
    r.baseRssMB = rss0 / 2 ** 20
    const sched1 = schedMs()
    const main1 = mainThreadMs()
    if (main0 && main1) {
      r.mainUserMs = main1.user - main0.user
      r.mainSysMs = main1.system - main0.system
    }
    if (sched0 && sched1) r.runQueueMs = sched1.waiting - sched0.waiting
    const k1 = kernelCounters()
    r.minorFaults = k1.minor - k0.minor
    r.majorFaults = k1.major - k0.major
    r.voluntarySwitches = k1.vol - k0.vol
    r.involuntarySwitches = k1.invol - k0.invol
    if (k0.stealMs !== null && k1.stealMs !== null) r.machineStealMs = k1.stealMs - k0.stealMs
  }

  // read back everything (untimed) and compare with what was written
  async function verifyAll(n) {
    const h = await adapter.open(spec.dir, { existing: true })
    const c = new Check()
    await h.scan((d) => c.add(d))
    await h.close()
    const got = c.result()
    const want = expectedFor(payloads, range(0, n))
    r.readBack = got
    r.expected = want
    r.ok = got.count === want.count && got.checksum === want.checksum
  }

  switch (spec.phase) {
    case 'write-bulk': {
      // W1 (and the setup of W5's large logs): batches of `batch` records, then one sync.
      const batch = spec.batch ?? 1000
      const batches = []
      for (let i = 0; i < count; i += batch) batches.push(payloads.array(i, Math.min(count, i + batch)))
      const h = await adapter.open(spec.dir, { durable: false })
      startTimer()
      for (let b = 0; b < batches.length; b++) {
        const p = h.appendBatch(batches[b])
        if (isThenable(p)) await p
      }
      const s = h.sync()
      if (isThenable(s)) await s
      stopTimer()
      const c0 = now()
      await h.close()
      r.closeMs = now() - c0
      r.ok = true // checked by the W3 phase that reads this log back (or by verify below)
      if (spec.verify) await verifyAll(count)
      break
    }
    case 'write-each': {
      // W1s: one append() call per record. The promise (where the API returns one) of every
      // 1,000th append is awaited, the others are not awaited individually; then one sync.
      const recs = payloads.array(0, count)
      const h = await adapter.open(spec.dir, { durable: false })
      const every = spec.awaitEvery ?? 1000
      startTimer()
      for (let i = 0; i < count; i++) {
        const p = h.append(recs[i])
        if ((i + 1) % every === 0 && isThenable(p)) await p
      }
      const s = h.sync()
      if (isThenable(s)) await s
      stopTimer()
      await h.close()
      await verifyAll(count)
      break
    }
    case 'write-durable': {
      // W2: `concurrency` async callers, each awaiting a durable append, `count` in all.
      // Latency of an append = time from the moment its caller could go on (its previous
      // append resolved) to this append resolving; a synchronous (blocking) peer is thus
      // charged for the time its callers waited behind other callers' blocking calls.
      const recs = payloads.array(0, count)
      const h = await adapter.open(spec.dir, { durable: true })
      const lat = new Float64Array(count)
      let next = 0
      async function caller() {
        let last = now()
        for (;;) {
          const i = next++
          if (i >= count) return
          // always await, even a synchronous peer's undefined: the callers take turns
          await h.append(recs[i])
          const t = now()
          lat[i] = t - last
          last = t
        }
      }
      startTimer()
      const callers = []
      for (let k = 0; k < (spec.concurrency ?? 64); k++) callers.push(caller())
      await Promise.all(callers)
      stopTimer()
      await h.close()
      lat.sort()
      r.latencyMs = {
        p50: percentile(lat, 50), p90: percentile(lat, 90), p99: percentile(lat, 99),
        p999: percentile(lat, 99.9), max: lat[lat.length - 1],
      }
      await verifyAll(count)
      break
    }
    case 'scan': {
      // W3: reopen, read every record in order.
      const want = expectedFor(payloads, range(0, count))
      const o0 = now()
      const h = await adapter.open(spec.dir, { existing: true })
      r.openMs = now() - o0
      const c = new Check()
      startTimer()
      const p = spec.plain ? h.scanPlain((d) => c.add(d)) : h.scan((d) => c.add(d))
      if (isThenable(p)) await p
      stopTimer()
      await h.close()
      r.readBack = c.result()
      r.expected = want
      r.ok = r.readBack.count === want.count && r.readBack.checksum === want.checksum
      break
    }
    case 'random': {
      // W4: `reads` reads of seeded random record indexes (each resolved before the next).
      const n = spec.reads
      const idx = randomIndexes(seed + 7, n, count)
      const want = expectedFor(payloads, idx)
      const o0 = now()
      const h = await adapter.open(spec.dir, { existing: true, randomReads: true })
      r.openMs = now() - o0
      if (h.prepareRandom) {
        const i0 = now()
        const p = h.prepareRandom()
        if (isThenable(p)) await p
        r.indexMs = now() - i0
      }
      const c = new Check()
      startTimer()
      for (let k = 0; k < n; k++) {
        let d = h.get(idx[k])
        if (isThenable(d)) d = await d
        c.add(d)
      }
      stopTimer()
      await h.close()
      r.count = n
      r.readBack = c.result()
      r.expected = want
      r.ok = r.readBack.count === want.count && r.readBack.checksum === want.checksum
      break
    }
    case 'open': {
      // W5: time for open() (with ready() where the API is lazy) of a log of `count` records;
      // then, timed apart, reading its last record (checked).
      startTimer()
      const h = await adapter.open(spec.dir, { existing: true })
      stopTimer()
      r.openMs = r.elapsedMs
      // W5F: this process is fresh, so loading the peer's library (its adapter) came first
      r.loadMs = loadMs
      if (h.readLast) {
        const f0 = now()
        let d = h.readLast()
        if (isThenable(d)) d = await d
        r.firstReadMs = now() - f0
        const want = new Check()
        want.add(payloads.recordAlone(count - 1))
        const c = new Check()
        if (d) c.add(d)
        r.readBack = c.result()
        r.expected = want.result()
        r.ok = r.readBack.count === 1 && r.readBack.checksum === r.expected.checksum
      } else {
        r.ok = true
        r.note = 'no way to find the last record without a full scan; open only'
      }
      await h.close()
      break
    }
    case 'long': {
      // long-run mode: see lib/long.js
      const batch = spec.batch
      const h = await adapter.open(spec.dir, { durable: false })
      const t0 = now()
      let lastT = t0
      let lastBytes = 0
      let bytes = 0
      let sinceSync = 0
      const intervals = []
      const cpu0 = usage()
      for (let i = 0; i < count; i += batch) {
        const p = h.appendBatch(payloads.array(i, Math.min(count, i + batch)))
        if (isThenable(p)) await p
        bytes += batch * recordBytes
        sinceSync += batch * recordBytes
        if (sinceSync >= spec.syncEveryBytes || i + batch >= count) {
          const s = h.sync()
          if (isThenable(s)) await s
          sinceSync = 0
          const t = now()
          const x = { GB: +(bytes / 1e9).toFixed(3), seconds: (t - t0) / 1000, MBps: (bytes - lastBytes) / 1e6 / ((t - lastT) / 1000) }
          intervals.push(x)
          process.stdout.write(`@@PROGRESS ${JSON.stringify(x)}\n`)
          lastT = t
          lastBytes = bytes
        }
      }
      const t1 = now()
      const cpu1 = usage()
      await h.close()
      r.elapsedMs = t1 - t0
      r.records = count
      r.bytes = bytes
      r.MBps = bytes / 1e6 / (r.elapsedMs / 1000)
      r.cpuMs = cpu1.user - cpu0.user + cpu1.system - cpu0.system
      r.intervals = intervals
      r.peakRssMB = process.resourceUsage().maxRSS / 1024
      // read it all back, checked; the read rate is past the page cache too
      const h2 = await adapter.open(spec.dir, { existing: true })
      const c = new Check()
      const r0 = now()
      const p = h2.scan((d) => c.add(d))
      if (isThenable(p)) await p
      r.readMs = now() - r0
      r.readMBps = bytes / 1e6 / (r.readMs / 1000)
      await h2.close()
      r.readBack = c.result()
      r.expected = expectedFor(payloads, range(0, count))
      r.ok = r.readBack.count === r.expected.count && r.readBack.checksum === r.expected.checksum
      break
    }
    case 'threads':
    case 'journal-s3':
    case 'journal-compaction': {
      const m = await import('./phase-seglog.js')
      const timer = { start: startTimer, stop: stopTimer }
      const fn = { threads: m.threads, 'journal-s3': m.journalS3, 'journal-compaction': m.journalCompaction }[spec.phase]
      await fn(spec, r, timer)
      break
    }
    default:
      throw new Error(`unknown phase ${spec.phase}`)
  }
  if (r.elapsedMs != null && r.opsPerSec == null && spec.phase !== 'open') r.opsPerSec = r.count / (r.elapsedMs / 1000)
  finish(r)
}

main().then(
  () => process.exit(0),
  (err) => {
    finish({ peer: spec.peer, workload: spec.workload, phase: spec.phase, ok: false, error: String(err?.stack ?? err).slice(0, 2000) })
    process.exit(1)
  },
)
