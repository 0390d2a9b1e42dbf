// T1 A/B: one fresh process per run; worker-thread appends into a log (sync 'never'), reports
// elapsed time and the CPU of the main thread (the drainer) and of the whole process per 1 M records.
// usage: node bench/experiments/t1-ab.mjs <dist dir> <records> <workers> <awaitEvery> [append|nowait]
// nowait: appendNoWait() per record and `await flush()` every <awaitEvery>th (where the build has it).
// main: no worker; the log's own thread runs W1s's loop (append(), awaiting every <awaitEvery>th),
// so that T1 and W1s compare within one harness.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { pathToFileURL } from 'node:url'

const [dist, countArg = '1000000', threadsArg = '1', everyArg = '1000', mode = 'append'] = process.argv.slice(2)
const count = Number(countArg)
const nThreads = Number(threadsArg)
const every = Number(everyArg)
const entry = path.join(path.resolve(dist), 'src', 'index.js')
const { Log } = await import(pathToFileURL(entry).href)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 't1ab-'))
const threadCpuNs = () => Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0])
const workerSrc = `
const { parentPort, workerData } = require('node:worker_threads')
const { handle, n, entry, every, mode } = workerData
;(async () => {
  const { LogWriter } = await import(entry)
  const recs = []
  for (let i = 0; i < 4096; i++) { const b = new Uint8Array(128); b.fill(i & 255); b[0] = i; recs.push(b) }
  const w = await LogWriter.connect(handle)
  parentPort.postMessage('ready')
  parentPort.once('message', async () => {
    const cpu = () => Number(require('node:fs').readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0])
    const c0 = cpu()
    let p
    if (mode === 'nowait' && typeof w.appendNoWait === 'function') {
      for (let i = 0; i < n; i++) { w.appendNoWait(recs[i & 4095]); if ((i + 1) % every === 0) await w.flush() }
      await w.flush()
    } else {
      for (let i = 0; i < n; i++) { p = w.append(recs[i & 4095]); if ((i + 1) % every === 0) await p }
      await p
    }
    await w.close()
    parentPort.postMessage({ cpuNs: cpu() - c0 })
  })
})()`
const log = await Log.open(dir, { sync: 'never' })
const handle = log.workerHandle()
const per = Math.ceil(count / nThreads)
const workers = []
for (let k = 0; k < (mode === 'main' ? 0 : nThreads); k++) workers.push(new Worker(workerSrc, { eval: true, workerData: { handle, n: Math.min(per, count - k * per), entry: pathToFileURL(entry).href, every, mode } }))
await Promise.all(workers.map((w) => new Promise((res) => w.once('message', res))))
const c0 = threadCpuNs()
const p0 = process.cpuUsage()
const t0 = performance.now()
let results = []
if (mode === 'main') {
  const recs = []
  for (let i = 0; i < 4096; i++) { const b = new Uint8Array(128); b.fill(i & 255); b[0] = i; recs.push(b) }
  let p
  for (let i = 0; i < count; i++) { p = log.append(recs[i & 4095]); if ((i + 1) % every === 0) await p }
  await p
} else results = await Promise.all(workers.map((w) => { const d = new Promise((res) => w.once('message', res)); w.postMessage('go'); return d }))
await log.sync()
const ms = performance.now() - t0
const mainMs = (threadCpuNs() - c0) / 1e6
const pu = process.cpuUsage(p0)
await Promise.all(workers.map((w) => w.terminate()))
const n = log.nextOffset
await log.close()
fs.rmSync(dir, { recursive: true, force: true })
const per1M = 1e6 / count
console.log(JSON.stringify({ dist: path.basename(path.resolve(dist)), mode, n, Mps: +(count / ms / 1000).toFixed(3), mainCpuMsPer1M: +(mainMs * per1M).toFixed(1), procCpuMsPer1M: +((pu.user + pu.system) / 1000 * per1M).toFixed(1), workerCpuMsPer1M: +(results.reduce((a, r) => a + r.cpuNs, 0) / 1e6 * per1M).toFixed(1), drainerWakes: new Int32Array(handle.buffer)[48] }))
