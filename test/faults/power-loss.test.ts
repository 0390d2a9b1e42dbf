// Power loss through the I/O seam: a workload runs against the simulator; at many instants we
// build states a power cut could leave (unsynced writes dropped, reordered, torn at any byte;
// unsynced directory entries lost) and open each with the real file system. Segment rolls,
// retention by deleteBefore, truncates under every sync mode, reopens and power cuts during
// recovery included.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { SyncMode } from '../../src/index.js'
import { checkImage } from './lib/history.js'
import { runPowerWorkload } from './lib/power-workload.js'

const SOAK = Boolean(process.env.SOAK)
const BASE_SEED = Number(process.env.SEGLOG_SEED ?? Math.floor(Math.random() * 2 ** 31))
const RUNS = Number(process.env.SEGLOG_POWER_RUNS ?? (SOAK ? 90 : 12))

const configs: { sync: SyncMode; segmentBytes: number }[] = [
  { sync: 'always', segmentBytes: 2048 },
  { sync: 'always', segmentBytes: 8192 },
  { sync: 'never', segmentBytes: 4096 },
]

test(`power cuts at random instants never lose or invent acknowledged data (base seed ${BASE_SEED})`, async (t) => {
  const totals = { images: 0, recovered: 0, corruptRepaired: 0, torn: 0, cuts: 0, reopenedCorrupt: 0, appended: 0 }
  for (let run = 0; run < RUNS; run++) {
    // SEGLOG_SEED replays one seed under every configuration.
    const seed = process.env.SEGLOG_SEED ? BASE_SEED : (BASE_SEED + run * 7919) >>> 0
    const cfg = configs[run % configs.length]
    const result = await runPowerWorkload({
      seed, ...cfg, steps: SOAK ? 600 : 250, captureChance: 0.06, imagesPerCapture: 2, opsBetweenCuts: 150, maxImages: SOAK ? 600 : 200,
    })
    totals.cuts += result.cuts
    totals.reopenedCorrupt += result.reopenedCorrupt
    totals.appended += result.appended
    for (const img of result.images) {
      const out = await checkImage(result.history, img, result.options, img.reordered)
      totals.images++
      if (out.outcome === 'recovered') totals.recovered++
      else totals.corruptRepaired++
      if (out.truncated) totals.torn++
    }
    if (process.env.SEGLOG_SEED && run === configs.length - 1) break
  }
  t.diagnostic(JSON.stringify(totals))
  assert.ok(totals.images >= RUNS * 20, `checked ${totals.images} crash images`)
  assert.ok(totals.cuts > 0, 'the workload itself lived through power cuts')
})
