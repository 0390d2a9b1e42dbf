import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Log } from '../../index.js'
import type { CommandContext } from '../context.js'
import { ExitCode, type ExitCodeValue } from '../errors.js'
import { formatCount, messages } from '../ui.js'

/** Options of `seglog bench`. */
export interface BenchOptions {
  records: number
  size: number
  dir?: string
  json?: boolean
}

interface Row {
  workload: string
  records: number
  ms: number
  recordsPerSec: number
  mbPerSec: number
}

/**
 * A quick look at this machine's speed with seglog alone: a few seconds, one process. The full
 * comparison with other libraries (separate processes, medians of runs) is `npm run bench`.
 */
export async function bench(options: BenchOptions, ctx: CommandContext): Promise<ExitCodeValue> {
  const parent = options.dir ?? os.tmpdir()
  const root = fs.mkdtempSync(path.join(parent, 'seglog-bench-'))
  const n = options.records
  const size = options.size
  // Incompressible payloads, as in the benchmark suite; a pool avoids timing the RNG.
  const pool = Array.from({ length: 1024 }, () => randomBytes(size))
  const rows: Row[] = []
  const run = async (workload: string, records: number, body: () => Promise<void>): Promise<void> => {
    if (ctx.signal.aborted) return
    messages.info(`running ${workload} …`)
    const t0 = performance.now()
    await body()
    const ms = performance.now() - t0
    rows.push({ workload, records, ms, recordsPerSec: records / (ms / 1000), mbPerSec: (records * size) / (ms / 1000) / 1e6 })
  }
  try {
    const dirA = path.join(root, 'batch')
    await run(`append, batches of 1,000 (sync never, one sync at the end)`, n, async () => {
      const log = await Log.open(dirA, { sync: 'never' })
      for (let i = 0; i < n; i += 1000) {
        const batch: Buffer[] = []
        for (let k = i; k < Math.min(n, i + 1000); k++) batch.push(pool[k & 1023])
        await log.appendBatch(batch)
      }
      await log.sync()
      await log.close()
    })
    await run('append, one call per record (sync never)', n, async () => {
      const log = await Log.open(path.join(root, 'single'), { sync: 'never' })
      let last: Promise<number> | undefined
      for (let i = 0; i < n; i++) {
        last = log.append(pool[i & 1023])
        // Await now and then so the write buffer drains as a real producer's would.
        if ((i & 4095) === 4095) await last
      }
      await last
      await log.sync()
      await log.close()
    })
    const durable = Math.max(64, Math.min(Math.floor(n / 50), 20_000))
    await run('durable append, 64 concurrent callers (sync always)', durable, async () => {
      const log = await Log.open(path.join(root, 'durable'), { sync: 'always' })
      let next = 0
      const caller = async (): Promise<void> => {
        while (next < durable) {
          next++
          await log.append(pool[next & 1023])
        }
      }
      await Promise.all(Array.from({ length: 64 }, caller))
      await log.close()
    })
    await run('reopen and read every record in order', n, async () => {
      const log = await Log.open(dirA, { readOnly: true })
      let count = 0
      for await (const batch of log.iterateBatches()) count += batch.length
      await log.close()
      if (count !== n) throw new Error(`read ${count} records, expected ${n}`)
    })
    const reads = Math.min(n, 100_000)
    await run('random point reads', reads, async () => {
      const log = await Log.open(dirA, { readOnly: true })
      let x = 12345
      for (let i = 0; i < reads; i++) {
        x = (x * 1103515245 + 12345) & 0x7fffffff
        await log.read(x % n)
      }
      await log.close()
    })
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }
  if (ctx.signal.aborted) return ExitCode.Interrupted
  if (options.json) {
    await ctx.out.write(`${JSON.stringify({ recordBytes: size, node: process.version, platform: `${os.platform()} ${os.arch()}`, cpus: os.cpus().length, results: rows }, null, 2)}\n`)
  } else {
    const head = ['workload', 'records', 'time', 'records/s', 'MB/s']
    const body = rows.map((r) => [r.workload, formatCount(r.records), `${(r.ms / 1000).toFixed(2)} s`, formatCount(Math.round(r.recordsPerSec)), r.mbPerSec.toFixed(1)])
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)))
    const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd()
    let text = `${line(head)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`
    for (const b of body) text += `${line(b)}\n`
    text += `\n${size}-byte random records, ${os.cpus().length} CPUs, Node ${process.version}; a temporary directory under ${parent}. The full suite with peers: npm run bench\n`
    await ctx.out.write(text)
  }
  await ctx.out.flush()
  return ExitCode.Ok
}
