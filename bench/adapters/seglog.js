// seglog's local log, from the package build (dist/src/index.js at the repository root).
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { seglogAdapter } from '../lib/seglog-adapter.js'

// run.js sets SEGLOG_BENCH_DIST to a snapshot of dist/ taken when the run starts, so a rebuild
// during a run cannot change (or break) what is measured.
const entry = process.env.SEGLOG_BENCH_DIST
  ? path.join(process.env.SEGLOG_BENCH_DIST, 'src', 'index.js')
  : fileURLToPath(new URL('../../dist/src/index.js', import.meta.url))

export const { info, available, open } = await seglogAdapter(entry, 'seglog')
