// T1, J1, J2: seglog-only workloads, run when the build exports what they need.
export async function seglogOnly({ rep, workloads, sizes, exportsSeglog, runPhase, record, notes, dir, T }) {
  const want = (w) => workloads.includes(w)
  if (want('T1')) {
    if (typeof exportsSeglog.LogWriter?.connect !== 'function' || typeof exportsSeglog.Log?.open !== 'function') {
      if (rep === 0) { const m = 'T1 skipped: LogWriter (and Log) are not exported from dist/src/index.js yet'; notes.push(m); console.log(`bench: ${m}`) }
    } else {
      for (const threads of [1, 2, 4]) {
        const r = await runPhase({ peer: 'seglog', phase: 'threads', workload: 'T1', dir: dir('t1', threads, rep), count: sizes.t1, threads }, T)
        record(rep, 'seglog', `T1-${threads}`, r)
      }
    }
  }
  const hasJournal = typeof exportsSeglog.Journal?.open === 'function'
  if (want('J1')) {
    if (!hasJournal || typeof exportsSeglog.S3Store !== 'function') {
      if (rep === 0) { const m = 'J1 skipped: Journal / S3Store are not exported from dist/src/index.js yet'; notes.push(m); console.log(`bench: ${m}`) }
    } else {
      record(rep, 'seglog', 'J1', await runPhase({ peer: 'seglog', phase: 'journal-s3', workload: 'J1', dir: dir('j1', rep), count: sizes.j1Events }, T))
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
