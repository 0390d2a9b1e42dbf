// T1, J1, J2, IMP: seglog-only workloads, run when the build exports what they need.
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { packageEntry } from './seglog-adapter.js'

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

// IMP: what `import('seglog')` costs a fresh process: the time of the import itself and the RSS it
// adds over a bare node, each the median of 5 fresh processes.
function importCost(entry) {
  const run = (code) => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' })
    if (r.status !== 0) throw new Error(r.stderr.trim().split('\n').slice(-3).join(' | '))
    return JSON.parse(r.stdout.trim().split('\n').pop())
  }
  const bare = []
  const loaded = []
  for (let i = 0; i < 5; i++) {
    bare.push(run('console.log(JSON.stringify({ rss: process.memoryUsage().rss }))'))
    loaded.push(run(`const t = performance.now(); await import(${JSON.stringify(pathToFileURL(entry).href)}); const ms = performance.now() - t; console.log(JSON.stringify({ ms, rss: process.memoryUsage().rss }))`))
  }
  const ms = median(loaded.map((x) => x.ms))
  const addedRssMB = (median(loaded.map((x) => x.rss)) - median(bare.map((x) => x.rss))) / 2 ** 20
  return { ok: true, count: 1, openMs: ms, elapsedMs: ms, addedRssMB }
}

export async function seglogOnly({ rep, workloads, sizes, exportsSeglog, runPhase, record, notes, dir, T, ROOT }) {
  const want = (w) => workloads.includes(w)
  if (want('IMP')) {
    // What `import 'seglog'` loads (the bundle when built); with --base, the other build's too.
    const builds = [['seglog', process.env.SEGLOG_BENCH_DIST ?? path.join(ROOT, 'dist')]]
    if (process.env.SEGLOG_BENCH_BASE_DIST) builds.push(['seglog-base', process.env.SEGLOG_BENCH_BASE_DIST])
    for (const [peer, dist] of builds) {
      let r
      try { r = importCost(packageEntry(dist)) } catch (err) { r = { ok: false, error: String(err.message ?? err) } }
      record(rep, peer, 'IMP', r, r.ok ? `  (+${r.addedRssMB.toFixed(1)} MB RSS over bare node)` : '')
    }
  }
  if (want('T1')) {
    if (typeof exportsSeglog.LogWriter?.connect !== 'function' || typeof exportsSeglog.Log?.open !== 'function') {
      if (rep === 0) { const m = 'T1 skipped: LogWriter (and Log) are not exported from dist/src/index.js yet'; notes.push(m); console.log(`bench: ${m}`) }
    } else {
      for (const threads of [1, 2, 4]) {
        const r = await runPhase({ peer: 'seglog', phase: 'threads', workload: 'T1', dir: dir('t1', threads, rep), count: sizes.t1, threads }, T)
        record(rep, 'seglog', `T1-${threads}`, r)
        if (rep === 0 && threads === 1 && r.api) notes.push(`T1 workers append with LogWriter.${r.api}()${r.api === 'appendNoWait' ? ' and await flush() every 1,000th record (what a caller that pipelines uses, as lmdb-js and Log.appendNoWait offer)' : ', awaiting every 1,000th promise'}; W1s is the main thread's append() awaiting every 1,000th promise`)
      }
    }
  }
  const hasJournal = typeof exportsSeglog.Journal?.open === 'function'
  if (want('J1')) {
    if (!hasJournal || typeof exportsSeglog.S3Store !== 'function') {
      if (rep === 0) { const m = 'J1 skipped: Journal / S3Store are not exported from dist/src/index.js yet'; notes.push(m); console.log(`bench: ${m}`) }
    } else {
      const r = await runPhase({ peer: 'seglog', phase: 'journal-s3', workload: 'J1', dir: dir('j1', rep), count: sizes.j1Events }, T)
      const f = (x) => (x == null ? '—' : x.toFixed(2))
      record(rep, 'seglog', 'J1', r, r.ok ? `  (flush p50 ${f(r.flushMsP50)} ms; paired rounds: flush ${f(r.pairedFlushMsP50)}, create-only PUT ${f(r.createPutMsP50)}, plain PUT ${f(r.putMsP50)} ms; straight to s3rver: flush ${f(r.directFlushMsP50)}, plain PUT ${f(r.directPutMsP50)} ms = ${r.directPutMsP50 ? (r.directFlushMsP50 / r.directPutMsP50).toFixed(2) : '—'} ×, CPU ${f(r.directFlushCpuMsP50)} vs ${f(r.directPutCpuMsP50)} ms)` : '')
    }
  }
  if (want('J2')) {
    for (const [store, cls, id] of [['s3', 'S3Store', 'J2'], ['fs', 'FsStore', 'J2fs']]) {
      if (!hasJournal || typeof exportsSeglog[cls] !== 'function') {
        if (rep === 0) { const m = `${id} skipped: Journal / ${cls} are not exported from dist/src/index.js yet`; notes.push(m); console.log(`bench: ${m}`) }
        continue
      }
      const r = await runPhase({ peer: 'seglog', phase: 'journal-compaction', workload: id, store, dir: dir(id, rep), count: sizes.j2Events, objects: sizes.j2Objects }, T)
      if (r.ok) {
        record(rep, 'seglog', `${id}-before`, { ...r, count: r.before?.count, opsPerSec: r.before?.opsPerSec, elapsedMs: r.before?.elapsedMs })
        record(rep, 'seglog', `${id}-after`, { ...r, count: r.after?.count, opsPerSec: r.after?.opsPerSec, elapsedMs: r.after?.elapsedMs }, `  ${r.speedup?.toFixed(1)}× faster after compaction`)
      } else {
        record(rep, 'seglog', `${id}-before`, r)
      }
    }
  }
}
