// The machine a result was measured on, and reference figures for its disk: dd sequential
// write and fdatasync latency. Recorded into every result file.
import os from 'node:os'
import fs from 'node:fs'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { percentile } from './stats.js'

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : null
}

export function machineInfo(dataDir) {
  const cpus = os.cpus()
  const df = sh('df', ['-hT', dataDir])
  const dev = df?.split('\n')[1]?.split(/\s+/)[0]
  let disk = null
  if (dev?.startsWith('/dev/')) {
    const name = path.basename(dev).replace(/[0-9]+$/, '')
    const rotational = readTrim(`/sys/block/${name}/queue/rotational`)
    const sched = readTrim(`/sys/block/${name}/queue/scheduler`)
    const sizeSectors = readTrim(`/sys/block/${name}/size`)
    disk = {
      device: dev,
      rotational: rotational === null ? null : rotational === '1',
      scheduler: sched,
      sizeGB: sizeSectors ? +(Number(sizeSectors) * 512 / 1e9).toFixed(1) : null,
      model: readTrim(`/sys/block/${name}/device/model`),
    }
  }
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model ?? null,
    memoryGB: +(os.totalmem() / 2 ** 30).toFixed(1),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
    v8: process.versions.v8,
    loadavgAtStart: os.loadavg().map((x) => +x.toFixed(2)),
    dataDir,
    df,
    disk,
  }
}

function readTrim(f) {
  try {
    return fs.readFileSync(f, 'utf8').trim()
  } catch {
    return null
  }
}

function parseDd(stderr) {
  // "268435456 bytes (268 MB, 256 MiB) copied, 0.7 s, 383 MB/s"
  const m = /(\d+) bytes.*copied, ([\d.]+) s, ([\d.]+ [kMG]?B\/s)/.exec(stderr ?? '')
  if (!m) return null
  const bytes = Number(m[1])
  const s = Number(m[2])
  return { bytes, seconds: s, MBps: +(bytes / s / 1e6).toFixed(1), ddSays: m[3] }
}

export function ddReference(dataDir, mib) {
  const f = path.join(dataDir, 'dd.bin')
  const out = {}
  for (const [label, flags] of [
    [`bs=1M count=${mib} conv=fdatasync`, ['conv=fdatasync']],
    [`bs=1M count=${mib} oflag=direct`, ['oflag=direct']],
  ]) {
    const r = spawnSync('dd', ['if=/dev/zero', `of=${f}`, 'bs=1M', `count=${mib}`, ...flags], { encoding: 'utf8' })
    out[label] = parseDd(r.stderr) ?? { error: (r.stderr || String(r.error)).slice(0, 300) }
    fs.rmSync(f, { force: true })
  }
  return out
}

// fdatasync latency after a 128 B append that grows the file, and after a 128 B overwrite
// inside a preallocated region.
export function fdatasyncReference(dataDir, n = 200) {
  const f = path.join(dataDir, 'fsync.bin')
  const rec = Buffer.alloc(128, 7)
  const result = {}
  for (const mode of ['append', 'overwrite-preallocated']) {
    const fd = fs.openSync(f, 'w+')
    if (mode === 'overwrite-preallocated') {
      fs.writeSync(fd, Buffer.alloc(n * 128 + 4096), 0, n * 128 + 4096, 0)
      fs.fsyncSync(fd)
    }
    const lat = new Float64Array(n)
    for (let i = 0; i < n; i++) {
      fs.writeSync(fd, rec, 0, 128, i * 128)
      const t = performance.now()
      fs.fdatasyncSync(fd)
      lat[i] = performance.now() - t
    }
    fs.closeSync(fd)
    lat.sort()
    result[mode] = { n, p50Ms: +percentile(lat, 50).toFixed(4), p99Ms: +percentile(lat, 99).toFixed(4), maxMs: +lat[n - 1].toFixed(4) }
  }
  fs.rmSync(f, { force: true })
  return result
}
