#!/usr/bin/env node
/**
 * Experiment: memory-mapping vs positioned synchronous reads (fs.readSync) for seglog's read
 * paths. Results and conclusions: docs/mmap-evaluation.md. Nothing in seglog imports this file.
 *
 * Node has no built-in mmap, so this needs a native addon installed OUTSIDE the repo (seglog and
 * bench/package.json do not depend on it):
 *
 *   mkdir -p /tmp/mmap-eval && cd /tmp/mmap-eval && npm init -y && npm i @riaskov/mmap-io@1.4.3
 *
 * (mmap-io@1.1.7, the original package, does not compile against Node 20 headers: its
 * binding.gyp forces -std=c++11 and node.h needs C++17.) Then, from the repo root:
 *
 *   node --expose-gc bench/experiments/mmap-vs-pread.mjs                      # everything, 256 MiB
 *   node --expose-gc bench/experiments/mmap-vs-pread.mjs --size-mib 1024 --only warm
 *
 * Options: --size-mib N (file size, default 256)  --runs N (default 5)  --cold-runs N (default 3)
 *          --only warm,cold,accounting,sigbus  --dir D (scratch dir, default /tmp/mmap-eval)
 *          --addon PATH (default $MMAP_ADDON or /tmp/mmap-eval/node_modules/@riaskov/mmap-io)
 *          --json FILE (also write raw figures)  --keep (keep the data file)
 *
 * Cold runs evict only the data file from the page cache (posix_fadvise DONTNEED via python3),
 * not the whole machine's cache, and check with mincore() that it is gone.
 */
import fs from 'node:fs'
import path from 'node:path'
import os from 'node:os'
import crypto from 'node:crypto'
import { createRequire } from 'node:module'
import { spawnSync, execFileSync } from 'node:child_process'

const require = createRequire(import.meta.url)

// ---------- options ----------
const argv = process.argv.slice(2)
function opt(name, dflt) {
  const i = argv.indexOf(`--${name}`)
  if (i < 0) return dflt
  return argv[i + 1]
}
const SIZE_MIB = Number(opt('size-mib', '256'))
const RUNS = Number(opt('runs', '5'))
const COLD_RUNS = Number(opt('cold-runs', '3'))
const DIR = opt('dir', '/tmp/mmap-eval')
const ADDON = opt('addon', process.env.MMAP_ADDON ?? '/tmp/mmap-eval/node_modules/@riaskov/mmap-io')
const ONLY = new Set(opt('only', 'warm,cold,accounting,sigbus').split(','))
const JSON_OUT = opt('json', undefined)
const KEEP = argv.includes('--keep')

const mmap = require(ADDON)
const gc = globalThis.gc ?? (() => { throw new Error('run with node --expose-gc') })

const MiB = 1 << 20
const SIZE = SIZE_MIB * MiB
const RECORD = 128
const BLOCK = MiB
const RANDOM_READS = 1_000_000
const COLD_RANDOM_READS = 20_000
const READ_AHEAD = 8192 // seglog's Segment READ_AHEAD_BYTES

// ---------- sub-process entry points (SIGBUS scenarios) ----------
if (argv[0] === 'sigbus-child') {
  sigbusChild(argv[1], argv[2])
  process.exit(0)
}

// ---------- helpers ----------
function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const now = () => Number(process.hrtime.bigint()) / 1e9

/** Deterministic positions (xorshift32), the same for every method. */
function positions(n, max, seed) {
  const out = new Float64Array(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    // two draws for files > 4 GiB would be needed; 32 bits cover up to 4 GiB
    out[i] = Math.floor((x / 4294967296) * max)
  }
  return out
}

function makeFile(file, size) {
  if (fs.existsSync(file) && fs.statSync(file).size === size) return false
  const fd = fs.openSync(file, 'w')
  const chunk = Buffer.allocUnsafe(4 * MiB)
  for (let pos = 0; pos < size; pos += chunk.length) {
    crypto.randomFillSync(chunk)
    fs.writeSync(fd, chunk, 0, Math.min(chunk.length, size - pos), pos)
  }
  fs.fsyncSync(fd)
  fs.closeSync(fd)
  return true
}

function warmCache(file) {
  const fd = fs.openSync(file, 'r')
  const b = Buffer.allocUnsafe(4 * MiB)
  let pos = 0
  for (;;) { const n = fs.readSync(fd, b, 0, b.length, pos); if (n <= 0) break; pos += n }
  fs.closeSync(fd)
}

/** Evicts one file from the page cache (not the whole machine's). */
function evict(file) {
  execFileSync('python3', ['-c',
    'import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)', file])
}

/** Fraction of the file resident in the page cache (util-linux fincore: no mapping of ours involved). */
function residentFraction(file) {
  const res = Number(execFileSync('fincore', ['-b', '-n', '-o', 'RES', file], { encoding: 'utf8' }).trim())
  return res / fs.statSync(file).size
}

/**
 * The addon unmaps in the Buffer's free callback, which Node runs from setImmediate after the GC
 * has collected the Buffer: a mapping survives gc() until the event loop turns. So: gc, turn, twice.
 */
async function settle() {
  for (let i = 0; i < 2; i++) { gc(); await new Promise((resolve) => setImmediate(resolve)) }
}

function mapFile(fd, size, advice = 0) {
  return mmap.map(size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0, advice)
}

function statusKb(field) {
  const m = fs.readFileSync('/proc/self/status', 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'))
  return m ? Number(m[1]) : NaN
}
function mappingsOf(file) {
  return fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.endsWith(file)).length
}

// ---------- random 128-byte reads ----------
function randomPread(fd, pos) {
  const scratch = Buffer.allocUnsafe(RECORD)
  let acc = 0
  for (let i = 0; i < pos.length; i++) {
    const p = pos[i]
    fs.readSync(fd, scratch, 0, RECORD, p)
    const out = Buffer.allocUnsafe(RECORD)
    scratch.copy(out, 0, 0, RECORD)
    acc += out[0] + out[RECORD - 1]
  }
  return acc
}
function randomPreadAhead(fd, pos) {
  // seglog's actual point-read shape: read up to 8 KiB ahead, copy the record out
  const scratch = Buffer.allocUnsafe(READ_AHEAD)
  let acc = 0
  for (let i = 0; i < pos.length; i++) {
    const p = pos[i]
    fs.readSync(fd, scratch, 0, READ_AHEAD, p)
    const out = Buffer.allocUnsafe(RECORD)
    scratch.copy(out, 0, 0, RECORD)
    acc += out[0] + out[RECORD - 1]
  }
  return acc
}
function randomMmapView(map, pos) {
  let acc = 0
  for (let i = 0; i < pos.length; i++) {
    const p = pos[i]
    const v = map.subarray(p, p + RECORD)
    acc += v[0] + v[RECORD - 1]
  }
  return acc
}
function randomMmapCopy(map, pos) {
  let acc = 0
  for (let i = 0; i < pos.length; i++) {
    const p = pos[i]
    const out = Buffer.allocUnsafe(RECORD)
    map.copy(out, 0, p, p + RECORD)
    acc += out[0] + out[RECORD - 1]
  }
  return acc
}

// ---------- sequential scans ----------
/** Stand-in for walking record headers: one u32 per KiB (records of ~1 KiB). */
function walk(block, n) {
  let acc = 0
  for (let p = 0; p + 4 <= n; p += 1024) acc += block.readUInt32LE(p)
  return acc
}
function seqPreadFresh(fd, size) {
  let acc = 0
  for (let pos = 0; pos < size; pos += BLOCK) {
    const b = Buffer.allocUnsafe(BLOCK) // seglog's cursor: fresh block, records are views into it
    const n = fs.readSync(fd, b, 0, BLOCK, pos)
    acc += walk(b, n)
  }
  return acc
}
function seqPreadReused(fd, size) {
  let acc = 0
  const b = Buffer.allocUnsafe(BLOCK)
  for (let pos = 0; pos < size; pos += BLOCK) {
    const n = fs.readSync(fd, b, 0, BLOCK, pos)
    acc += walk(b, n)
  }
  return acc
}
function seqMmap(map, size) {
  let acc = 0
  for (let pos = 0; pos < size; pos += BLOCK) {
    const v = map.subarray(pos, Math.min(pos + BLOCK, size))
    acc += walk(v, v.length)
  }
  return acc
}

// ---------- runners ----------
const results = { machine: {}, warm: {}, cold: {}, accounting: {}, sigbus: {} }
let sink = 0

async function measure(label, runs, fn) {
  const xs = []
  for (let r = 0; r < runs; r++) {
    await settle()
    xs.push(fn(r))
  }
  return { label, runs: xs, median: median(xs) }
}

function printTable(title, unit, rows) {
  console.log(`\n### ${title}\n`)
  console.log(`| method | median ${unit} | runs |`)
  console.log('| --- | ---: | --- |')
  for (const r of rows) {
    const f = (x) => unit === 'GB/s' ? x.toFixed(2) : Math.round(x).toLocaleString('en-US')
    console.log(`| ${r.label} | ${f(r.median)} | ${r.runs.map(f).join(', ')} |`)
  }
}

async function warm(file) {
  warmCache(file)
  const fd = fs.openSync(file, 'r')
  const pos = positions(RANDOM_READS, SIZE - RECORD, 0x5eed)
  const rate = (t) => RANDOM_READS / t
  const rows = []
  rows.push(await measure('pread 128 B + copy out (reused scratch)', RUNS, () => {
    const t = now(); sink += randomPread(fd, pos); return rate(now() - t)
  }))
  rows.push(await measure('pread 8 KiB read-ahead + copy 128 B (seglog point-read shape)', RUNS, () => {
    const t = now(); sink += randomPreadAhead(fd, pos); return rate(now() - t)
  }))
  rows.push(await measure('mmap view, fresh mapping each run (map + page faults included)', RUNS, () => {
    const t = now(); let m = mapFile(fd, SIZE); sink += randomMmapView(m, pos); const dt = now() - t; m = undefined; return rate(dt)
  }))
  rows.push(await measure('mmap + copy, fresh mapping each run', RUNS, () => {
    const t = now(); let m = mapFile(fd, SIZE); sink += randomMmapCopy(m, pos); const dt = now() - t; m = undefined; return rate(dt)
  }))
  let shared = mapFile(fd, SIZE)
  sink += seqMmap(shared, SIZE) // populate page tables once
  rows.push(await measure('mmap view (subarray, zero-copy), mapping kept', RUNS, () => {
    const t = now(); sink += randomMmapView(shared, pos); return rate(now() - t)
  }))
  rows.push(await measure('mmap + copy out, mapping kept', RUNS, () => {
    const t = now(); sink += randomMmapCopy(shared, pos); return rate(now() - t)
  }))
  results.warm.random = rows
  printTable(`Warm page cache: random 128-byte reads, ${SIZE_MIB} MiB file, ${RANDOM_READS.toLocaleString('en-US')} reads per run`, 'reads/s', rows)

  const gbs = (t) => SIZE / t / 1e9
  const seq = []
  seq.push(await measure('pread into fresh 1 MiB buffers (seglog cursor shape)', RUNS, () => {
    const t = now(); sink += seqPreadFresh(fd, SIZE); return gbs(now() - t)
  }))
  seq.push(await measure('pread into one reused 1 MiB buffer', RUNS, () => {
    const t = now(); sink += seqPreadReused(fd, SIZE); return gbs(now() - t)
  }))
  seq.push(await measure('mmap walk, fresh mapping each run (map + page faults included)', RUNS, () => {
    const t = now(); let m = mapFile(fd, SIZE); sink += seqMmap(m, SIZE); const dt = now() - t; m = undefined; return gbs(dt)
  }))
  seq.push(await measure('mmap walk, fresh mapping + MADV_SEQUENTIAL', RUNS, () => {
    const t = now(); let m = mapFile(fd, SIZE, mmap.MADV_SEQUENTIAL); sink += seqMmap(m, SIZE); const dt = now() - t; m = undefined; return gbs(dt)
  }))
  seq.push(await measure('mmap walk, mapping kept (page tables already populated)', RUNS, () => {
    const t = now(); sink += seqMmap(shared, SIZE); return gbs(now() - t)
  }))
  shared = undefined
  await settle()
  results.warm.sequential = seq
  printTable(`Warm page cache: sequential scan of ${SIZE_MIB} MiB in 1 MiB steps (one u32 read per KiB)`, 'GB/s', seq)
  fs.closeSync(fd)
  await settle()
}

async function cold(file) {
  const fd = fs.openSync(file, 'r')
  const pos = positions(COLD_RANDOM_READS, SIZE - RECORD, 0xc01d)
  const rate = (t) => COLD_RANDOM_READS / t
  const rows = []
  const coldCheck = []
  async function run(label, body) {
    return measure(label, COLD_RUNS, () => {
      evict(file)
      const before = residentFraction(file)
      coldCheck.push(before)
      const t = now(); body(); const dt = now() - t
      const after = residentFraction(file)
      run.cachedAfter[label] = (run.cachedAfter[label] ?? []).concat(after)
      return dt
    })
  }
  run.cachedAfter = {}
  const asRate = (m) => ({ ...m, runs: m.runs.map(rate), median: rate(m.median) })
  rows.push(asRate(await run('pread 128 B + copy out', () => { sink += randomPread(fd, pos) })))
  rows.push(asRate(await run('pread 8 KiB + copy 128 B', () => { sink += randomPreadAhead(fd, pos) })))
  rows.push(asRate(await run('mmap view, default advice', () => { let m = mapFile(fd, SIZE); sink += randomMmapView(m, pos); m = undefined })))
  rows.push(asRate(await run('mmap view, MADV_RANDOM', () => { let m = mapFile(fd, SIZE, mmap.MADV_RANDOM); sink += randomMmapView(m, pos); m = undefined })))
  for (const r of rows) r.label += ` (file cached afterwards: ${(median(run.cachedAfter[r.label.split(' (')[0]] ?? [0]) * 100).toFixed(0)}%)`
  results.cold.random = rows
  printTable(`Cold (file evicted): random 128-byte reads, ${COLD_RANDOM_READS.toLocaleString('en-US')} reads per run`, 'reads/s', rows)

  const gbs = (t) => SIZE / t / 1e9
  const asGbs = (m) => ({ ...m, runs: m.runs.map(gbs), median: gbs(m.median) })
  const seq = []
  seq.push(asGbs(await run('pread into fresh 1 MiB buffers', () => { sink += seqPreadFresh(fd, SIZE) })))
  seq.push(asGbs(await run('mmap walk, default advice', () => { let m = mapFile(fd, SIZE); sink += seqMmap(m, SIZE); m = undefined })))
  seq.push(asGbs(await run('mmap walk, MADV_SEQUENTIAL', () => { let m = mapFile(fd, SIZE, mmap.MADV_SEQUENTIAL); sink += seqMmap(m, SIZE); m = undefined })))
  results.cold.sequential = seq
  results.cold.residentBeforeEachRun = coldCheck
  printTable(`Cold (file evicted): sequential scan of ${SIZE_MIB} MiB`, 'GB/s', seq)
  console.log(`\n(resident fraction just before each cold run: max ${(Math.max(...coldCheck) * 100).toFixed(2)}%)`)
  fs.closeSync(fd)
  await settle()
}

async function accounting(file) {
  warmCache(file)
  gc()
  const snap = (what) => {
    const mu = process.memoryUsage()
    return {
      what,
      VmSize_MiB: Math.round(statusKb('VmSize') / 1024),
      VmRSS_MiB: Math.round(statusKb('VmRSS') / 1024),
      RssAnon_MiB: Math.round(statusKb('RssAnon') / 1024),
      RssFile_MiB: Math.round(statusKb('RssFile') / 1024),
      external_MiB: Math.round(mu.external / MiB),
      arrayBuffers_MiB: Math.round(mu.arrayBuffers / MiB),
      mappings: mappingsOf(file),
    }
  }
  const rows = [snap('before')]
  const fd = fs.openSync(file, 'r')
  let m = mapFile(fd, SIZE)
  fs.closeSync(fd) // the mapping outlives the descriptor
  rows.push(snap('mapped, fd closed, untouched'))
  sink += seqMmap(m, SIZE)
  rows.push(snap('every page touched'))
  let view = m.subarray(0, 16) // a 16-byte "record view"
  m = undefined
  rows.push(snap('mapping Buffer dropped, no GC yet'))
  gc()
  rows.push(snap('gc() run, event loop not yet turned'))
  await settle()
  rows.push(snap('gc() + event-loop turn, a 16-byte view still referenced'))
  sink += view[0]
  view = undefined
  await settle()
  rows.push(snap('gc() + turn, view dropped too'))
  results.accounting = rows
  console.log('\n### Address space / RSS accounting (one mapping of the whole file)\n')
  const keys = Object.keys(rows[0])
  console.log(`| ${keys.join(' | ')} |`)
  console.log(`| ${keys.map(() => '---').join(' | ')} |`)
  for (const r of rows) console.log(`| ${keys.map((k) => r[k]).join(' | ')} |`)
  console.log(`\nExplicit unmap in the addon's API: ${typeof mmap.unmap === 'function' ? 'yes' : 'no'} (exports: ${Object.keys(mmap).filter((k) => !/^[A-Z_]+$/.test(k)).join(', ')})`)
}

// ---------- SIGBUS scenarios ----------
function sigbusChild(scenario, file) {
  const page = mmap.PAGESIZE
  const fill = (size, byte) => { const fd = fs.openSync(file, 'w'); fs.writeSync(fd, Buffer.alloc(size, byte)); fs.closeSync(fd) }
  const say = (s) => fs.writeSync(1, s + '\n')
  if (scenario === 'truncate-then-read') {
    fill(16 * page, 0x61)
    const fd = fs.openSync(file, 'r')
    const m = mapFile(fd, 16 * page)
    const view = m.subarray(8 * page, 8 * page + 128) // a record view handed to the application
    say(`before truncate: view[0]=${view[0]}`)
    fs.truncateSync(file, 4 * page) // what repair / Log.truncate() do to a segment
    say(`truncated; reading the view inside try/catch...`)
    try {
      say(`after truncate: view[0]=${view[0]}`)
    } catch (err) {
      say(`caught: ${err}`)
    }
    say('still alive')
  } else if (scenario === 'truncate-then-readSync') {
    fill(16 * page, 0x61)
    const fd = fs.openSync(file, 'r')
    const b = Buffer.alloc(128)
    fs.truncateSync(file, 4 * page)
    const n = fs.readSync(fd, b, 0, 128, 8 * page)
    say(`readSync past the new end returned ${n} bytes (no signal; seglog sees a short read)`)
    say('still alive')
  } else if (scenario === 'truncate-regrow') {
    fill(16 * page, 0x61)
    const fd = fs.openSync(file, 'r')
    const m = mapFile(fd, 16 * page)
    const view = m.subarray(8 * page, 8 * page + 4)
    say(`before: view=${view.toString('latin1')}`)
    fs.truncateSync(file, 4 * page)
    const w = fs.openSync(file, 'r+')
    fs.writeSync(w, Buffer.alloc(12 * page, 0x7a), 0, 12 * page, 4 * page) // the writer appends new batches
    fs.closeSync(w)
    say(`after truncate + re-append: view=${view.toString('latin1')} (same Buffer, different bytes)`)
    say('still alive')
  } else if (scenario === 'map-past-eof') {
    fill(page, 0x61)
    const fd = fs.openSync(file, 'r')
    const m = mapFile(fd, 4 * page) // e.g. mapping an active segment to its 64 MiB cap ahead of the data
    say(`page 0 ok: ${m[0]}`)
    try { say(`page 2: ${m[2 * page]}`) } catch (err) { say(`caught: ${err}`) }
    say('still alive')
  }
}

function sigbus() {
  const self = new URL(import.meta.url).pathname
  const out = []
  for (const scenario of ['truncate-then-read', 'truncate-then-readSync', 'truncate-regrow', 'map-past-eof']) {
    const file = path.join(DIR, `sigbus-${scenario}.bin`)
    const r = spawnSync(process.execPath, ['--expose-gc', self, 'sigbus-child', scenario, file, '--addon', ADDON], { encoding: 'utf8' })
    fs.rmSync(file, { force: true })
    out.push({ scenario, status: r.status, signal: r.signal, stdout: r.stdout.trim(), stderr: r.stderr.trim().slice(0, 300) })
  }
  results.sigbus = out
  console.log('\n### Truncation under a live mapping\n')
  console.log('| scenario | exit status | signal | child said |')
  console.log('| --- | --- | --- | --- |')
  for (const o of out) console.log(`| ${o.scenario} | ${o.status} | ${o.signal ?? '-'} | ${o.stdout.replace(/\n/g, ' / ')} |`)
}

// ---------- main ----------
fs.mkdirSync(DIR, { recursive: true })
const addonPkg = JSON.parse(fs.readFileSync(path.join(ADDON, 'package.json'), 'utf8'))
results.machine = {
  node: process.version, nproc: os.availableParallelism?.() ?? os.cpus().length, cpu: os.cpus()[0]?.model,
  memGiB: +(os.totalmem() / 2 ** 30).toFixed(1), kernel: os.release(), addon: `${addonPkg.name}@${addonPkg.version}`,
  pageSize: mmap.PAGESIZE, sizeMiB: SIZE_MIB, runs: RUNS, coldRuns: COLD_RUNS,
}
console.log(`# mmap vs pread — ${JSON.stringify(results.machine)}`)
const file = path.join(DIR, `data-${SIZE_MIB}MiB.bin`)
if (ONLY.has('warm') || ONLY.has('cold') || ONLY.has('accounting')) {
  const t = now()
  if (makeFile(file, SIZE)) console.log(`wrote ${file} in ${(now() - t).toFixed(1)} s`)
}
if (ONLY.has('warm')) await warm(file)
if (ONLY.has('cold')) await cold(file)
if (ONLY.has('accounting')) await accounting(file)
if (ONLY.has('sigbus')) sigbus()
if (JSON_OUT) fs.writeFileSync(JSON_OUT, JSON.stringify(results, null, 2))
if (!KEEP) fs.rmSync(file, { force: true })
console.log(`\n(sink ${sink % 997})`)
