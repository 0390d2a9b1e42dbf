// The seglog adapter over one build's dist/src/index.js: `seglog` (this checkout, snapshotted by
// run.js) and `seglog-base` (another build, --base <dist>, to compare two builds in one run).
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

/**
 * The module a user's `import 'seglog'` loads from one build's dist directory: the bundle
 * (dist/pkg/index.js, package.json `exports`) when the build has one at least as new as
 * dist/src, else dist/src/index.js (older builds, or tsc run alone).
 */
export function packageEntry(distDir) {
  const src = path.join(distDir, 'src', 'index.js')
  const pkg = path.join(distDir, 'pkg', 'index.js')
  if (fs.existsSync(pkg) && (!fs.existsSync(src) || fs.statSync(pkg).mtimeMs >= fs.statSync(src).mtimeMs)) return pkg
  return src
}

export async function seglogAdapter(entry, name) {
  const info = {
    name,
    durable: "sync: 'always' — append resolves after the fdatasync that covers it (group commit)",
    powerLossDurable: true,
    plainScan: true,
    notes: "W1/W1s/W3/W4/W5 open with sync: 'never' and call log.sync() once at the end of a write phase. W3 reads with iterateBatches({ reuseBuffer: true }) when the build has it (one read buffer for the scan, each array valid until the next; older builds ignore the option and read fresh blocks). W3i is the plain for await over iterate() with no options. " +
      'W4 reopens the log with readCacheBytes sized to hold its segment files (1.25 × their bytes + 1 MiB), as lmdb\'s map holds its file; W3 and W5 open with the defaults; ' +
      'SEGLOG_BENCH_READ_CACHE=default keeps the default budget (8 MiB), a number sets one. Builds without the option open without it. ' +
      'W4 reads with readSync() (synchronous, no promise) when the build has it, else await read(), as W3 uses iterateBatches.',
  }

  // Loaded with the adapter, before any timing starts (as every peer's module is).
  const mod = fs.existsSync(entry) ? await import(pathToFileURL(entry).href) : null

  async function available() {
    if (!mod) return 'dist/src/index.js missing: run npm run build at the repository root'
    return typeof mod.Log?.open === 'function' ? true : 'Log is not exported from dist/src/index.js yet'
  }

  /** The point-read cache budget for reopening the log in `dir` for W4: enough for its segment files unless the environment says otherwise. */
  function readCacheBytes(dir) {
    const chosen = process.env.SEGLOG_BENCH_READ_CACHE
    if (chosen === 'default') return undefined
    if (chosen !== undefined && chosen !== '') return Number(chosen)
    let bytes = 0
    for (const name of fs.readdirSync(dir)) if (/^\d{20}\.log$/.test(name)) bytes += fs.statSync(path.join(dir, name)).size
    return Math.ceil(bytes * 1.25) + (1 << 20)
  }

  async function openLog(dir, opts) {
    const { Log } = mod
    const options = { sync: opts.durable ? 'always' : 'never' }
    const cache = opts.randomReads ? readCacheBytes(dir) : undefined
    if (cache === undefined) return Log.open(dir, options)
    try {
      return await Log.open(dir, { ...options, readCacheBytes: cache })
    } catch (err) {
      // An older build (seglog-base) refuses the option before touching any file: open without it.
      if (err?.code !== 'ERR_INVALID_ARGUMENT' || err?.details?.option !== 'readCacheBytes') throw err
      return Log.open(dir, options)
    }
  }

  async function open(dir, opts = {}) {
    const log = await openLog(dir, opts)
    const first = log.firstOffset ?? 0
    return {
      appendBatch: (bufs) => log.appendBatch(bufs),
      append: (buf) => log.append(buf),
      sync: () => log.sync(),
      close: () => log.close(),
      // the fastest sequential read the build offers: iterateBatches (arrays of zero-copy
      // records, one read block each) reading into one reused buffer (the callback consumes each
      // record at once, as raw's W3 does with its one buffer) when present, else iterate()
      async scan(cb) {
        if (typeof log.iterateBatches === 'function') {
          for await (const recs of log.iterateBatches({ from: first, reuseBuffer: true })) {
            for (let i = 0; i < recs.length; i++) cb(recs[i].data)
          }
        } else {
          for await (const rec of log.iterate({ from: first })) cb(rec.data)
        }
      },
      // what most users write: one record per step of a plain for await (W3i)
      async scanPlain(cb) {
        for await (const rec of log.iterate({ from: first })) cb(rec.data)
      },
      // the fastest point read the build offers: readSync (no promise) when present, else read()
      get: typeof log.readSync === 'function' ? (i) => log.readSync(first + i)?.data : async (i) => (await log.read(first + i))?.data,
      readLast: async () => {
        const next = log.nextOffset
        return next > first ? (await log.read(next - 1))?.data : undefined
      },
      log,
    }
  }

  return { info, available, open }
}
