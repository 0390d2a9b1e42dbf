// seglog's local log, from the package build (dist/src/index.js at the repository root).
import { fileURLToPath } from 'node:url'
import { packageEntry, seglogAdapter } from '../lib/seglog-adapter.js'

// run.js sets SEGLOG_BENCH_DIST to a snapshot of dist/ taken when the run starts, so a rebuild
// during a run cannot change (or break) what is measured.
// The package entry (the bundle when built, see packageEntry), as a user's import loads it.
const entry = packageEntry(process.env.SEGLOG_BENCH_DIST ?? fileURLToPath(new URL('../../dist', import.meta.url)))

export const { info, available, open } = await seglogAdapter(entry, 'seglog')
