// Interleavings of the local log's own asynchronous jobs (issue 10): appends, appendBatch, group
// commit rounds, rolls, checkpoints, the retention and interval-sync timers, truncate,
// deleteBefore, read, iterate, follow and close, run concurrently with fast-check's scheduler
// choosing the order of every asynchronous step, and checked against a model (lib/interleavings.ts).
//
// CI runs RUNS scenarios from a fixed seed (about 20 s on the 2-core CI machine) plus every seed
// that ever failed. Set SEGLOG_SEED to explore another seed, SOAK=1 for many more runs. A failure
// prints the seed and path: add them to REGRESSIONS so the ordering is replayed forever.
import { test } from 'node:test'
import fc from 'fast-check'
import { runScenario, scenarioArb, stats } from './lib/interleavings.js'
import { scratchDir } from './lib/sim-log.js'

const SOAK = Boolean(process.env.SOAK)
const SEED = Number(process.env.SEGLOG_SEED ?? 20261201)
const RUNS = SOAK ? 5000 : 400

/** Seeds (and shrunk paths) that failed before a fix; each replays its exact interleaving. */
const REGRESSIONS: { seed: number; path: string; what: string }[] = []

function property(dirFor: () => string): fc.IAsyncPropertyWithHooks<[fc.Scheduler, Parameters<typeof runScenario>[2]]> {
  return fc.asyncProperty(fc.scheduler(), scenarioArb, (s, scenario) => runScenario(s, dirFor(), scenario))
}

test(`interleavings of appends, syncs, rolls, retention, truncate, deleteBefore, readers and close agree with the model (seed ${SEED}, ${RUNS} runs)`, async (t) => {
  let n = 0
  const base = scratchDir(t, 'seglog-inter')
  await fc.assert(property(() => `${base}/${n++}`), { seed: SEED, numRuns: RUNS, endOnFailure: true })
  t.diagnostic(JSON.stringify(stats))
})

for (const r of REGRESSIONS) {
  test(`interleaving regression: ${r.what} (seed ${r.seed})`, async (t) => {
    let n = 0
    const base = scratchDir(t, 'seglog-inter')
    await fc.assert(property(() => `${base}/${n++}`), { seed: r.seed, path: r.path, numRuns: 1, endOnFailure: true })
  })
}
